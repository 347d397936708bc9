//! Request building: turns an intent ("list pods in demo as a table") into the method,
//! path, query and headers kube-apiserver expects. Pure: no IO happens here.
//!
//! Modelled on kube-core's `Request`: a [`ResourceUrl`] holds the collection path of one
//! resource type in one scope and builds `list`, `get` and `watch` requests from it;
//! free functions build the requests that are not about a resource collection.

use std::fmt;

use crate::resource::ResourceType;

/// The HTTP methods the Kubernetes API uses (the WIT `method` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET: get, list, watch, logs.
    Get,
    /// HEAD.
    Head,
    /// POST: create.
    Post,
    /// PUT: update.
    Put,
    /// PATCH: patch and server-side apply.
    Patch,
    /// DELETE: delete.
    Delete,
}

impl Method {
    /// The method as it appears on the wire (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request to the API server, relative to its base URL: what the guest hands to the
/// host's `api.send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Absolute path and query, e.g. `/api/v1/namespaces/demo/pods?watch=true`.
    pub path_and_query: String,
    /// Headers, names in lowercase (only content negotiation; the host owns the rest).
    pub headers: Vec<(String, String)>,
    /// The body, for writes.
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A GET of `path_and_query` that accepts `accept`.
    fn get(path_and_query: String, accept: &str) -> Request {
        Request {
            method: Method::Get,
            path_and_query,
            headers: vec![("accept".to_string(), accept.to_string())],
            body: None,
        }
    }

    /// The value of header `name` (lowercase), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What representation to ask the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The objects themselves, as JSON (`-o json`, `-o yaml`).
    Json,
    /// The server's own `meta.k8s.io/v1` Table rendering, the way kubectl asks for it.
    Table,
    /// Only metadata (`PartialObjectMetadata`): all `-o name` needs, a fraction of the bytes.
    Metadata,
}

/// The `Accept` header kubectl sends for human-readable output.
pub const ACCEPT_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
/// The `Accept` header for plain JSON objects.
pub const ACCEPT_JSON: &str = "application/json";
/// The `Accept` header for a list of metadata only; a server that cannot convert falls
/// back to full objects, which carry the same metadata.
pub const ACCEPT_METADATA_LIST: &str =
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json";
/// The `Accept` header for one object's metadata only.
pub const ACCEPT_METADATA: &str =
    "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json";
/// client-go's default `Accept` header, for endpoints that are not resources (`/version`,
/// logs, `--raw`).
pub const ACCEPT_ANY: &str = "application/json, */*";

impl Format {
    fn accept(self, collection: bool) -> &'static str {
        match (self, collection) {
            (Format::Json, _) => ACCEPT_JSON,
            (Format::Table, _) => ACCEPT_TABLE,
            (Format::Metadata, true) => ACCEPT_METADATA_LIST,
            (Format::Metadata, false) => ACCEPT_METADATA,
        }
    }
}

/// Parameters of a list (kube-rs `ListParams`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `labelSelector`, e.g. `app=web,tier in (a,b)`.
    pub label_selector: Option<String>,
    /// `fieldSelector`, e.g. `status.phase=Pending`.
    pub field_selector: Option<String>,
    /// `limit`: page size.
    pub limit: Option<u32>,
    /// `continue`: the token of the next page.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u32>,
}

/// Parameters of a watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `resourceVersion` to start from, usually a list's `metadata.resourceVersion`.
    pub resource_version: Option<String>,
    /// `allowWatchBookmarks=true`: the server sends BOOKMARK events carrying a newer
    /// resourceVersion, so a watch can resume without replaying history.
    pub allow_bookmarks: bool,
    /// `timeoutSeconds`: ask the server to end the watch after this long.
    pub timeout_seconds: Option<u32>,
}

/// Parameters of `pods/log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogParams {
    /// `container`: required by the server when the pod has more than one.
    pub container: Option<String>,
    /// `follow=true`: keep the stream open and send new lines as they are written.
    pub follow: bool,
    /// `tailLines`.
    pub tail_lines: Option<i64>,
    /// `sinceSeconds`.
    pub since_seconds: Option<i64>,
    /// `sinceTime`: an RFC 3339 time; only lines written at or after it.
    pub since_time: Option<String>,
    /// `limitBytes`: stop after this many bytes.
    pub limit_bytes: Option<i64>,
    /// `timestamps=true`: prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// `previous=true`: the logs of the previous, terminated container.
    pub previous: bool,
}

/// A request that cannot be built: an invalid name, namespace or path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError(pub String);

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RequestError {}

/// Checks that `name` can be an object name in a path, as client-go does: an empty name
/// would turn a get into a list, and `.`, `..`, `/` or `%` would make it another path.
pub fn validate_name(name: &str) -> Result<(), RequestError> {
    if name.is_empty() {
        return Err(RequestError("resource name may not be empty".into()));
    }
    path_segment_problems(name)
        .map(|problems| {
            Err(RequestError(format!(
                "invalid resource name {name:?}: {problems}"
            )))
        })
        .unwrap_or(Ok(()))
}

/// Appends `/namespaces/NS` to a collection path, checking `namespace` first.
fn push_namespace(collection: &mut String, namespace: &str) -> Result<(), RequestError> {
    validate_namespace(namespace)?;
    collection.push_str("/namespaces/");
    collection.push_str(&encode_path_segment(namespace));
    Ok(())
}

/// Checks a namespace the same way (client-go's `Namespace()`).
pub fn validate_namespace(namespace: &str) -> Result<(), RequestError> {
    if namespace.is_empty() {
        return Err(RequestError("namespace may not be empty".into()));
    }
    path_segment_problems(namespace)
        .map(|problems| {
            Err(RequestError(format!(
                "invalid namespace {namespace:?}: {problems}"
            )))
        })
        .unwrap_or(Ok(()))
}

/// apimachinery's `IsValidPathSegmentName`, formatted like Go prints a `[]string`.
fn path_segment_problems(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("[may not be '{name}']"));
    }
    let problems: Vec<&str> = [("/", "may not contain '/'"), ("%", "may not contain '%'")]
        .iter()
        .filter(|(needle, _)| name.contains(needle))
        .map(|(_, problem)| *problem)
        .collect();
    (!problems.is_empty()).then(|| format!("[{}]", problems.join(" ")))
}

/// The collection path of one resource type in one scope, from which list, get and watch
/// requests are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUrl {
    /// `/api/v1/namespaces/demo/pods`, `/apis/apps/v1/deployments`, `/api/v1/nodes`.
    collection: String,
}

impl ResourceUrl {
    /// The collection of `resource` in `namespace`. `None` means all namespaces for a
    /// namespaced type (`-A`); a cluster-scoped type ignores the namespace, as kubectl does.
    pub fn new(resource: &ResourceType, namespace: Option<&str>) -> Result<Self, RequestError> {
        let mut collection = resource.group_version_path();
        if let (true, Some(ns)) = (resource.namespaced, namespace) {
            push_namespace(&mut collection, ns)?;
        }
        collection.push('/');
        collection.push_str(&resource.plural);
        Ok(ResourceUrl { collection })
    }

    /// The collection of the resource `plural` of `api_version` (`v1`, `apps/v1`) in
    /// `namespace`, or cluster-wide (all namespaces, or a cluster-scoped type) with
    /// `None`: for a guest that knows its types, CRDs included, without discovery.
    ///
    /// ```
    /// use kubewasm_guest::request::ResourceUrl;
    /// let pods = ResourceUrl::from_parts("v1", "pods", Some("demo")).unwrap();
    /// assert_eq!(pods.path(), "/api/v1/namespaces/demo/pods");
    /// let deployments = ResourceUrl::from_parts("apps/v1", "deployments", None).unwrap();
    /// assert_eq!(deployments.path(), "/apis/apps/v1/deployments");
    /// ```
    pub fn from_parts(
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Self, RequestError> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let bad = |segment: &str| segment.is_empty() || path_segment_problems(segment).is_some();
        if bad(version) || (api_version.contains('/') && bad(group)) {
            return Err(RequestError(format!(
                "invalid apiVersion {api_version:?}: expected VERSION or GROUP/VERSION, as in \"v1\" or \"apps/v1\""
            )));
        }
        validate_name(plural)?;
        let mut collection = group_version_path(group, version);
        if let Some(ns) = namespace {
            push_namespace(&mut collection, ns)?;
        }
        collection.push('/');
        collection.push_str(&encode_path_segment(plural));
        Ok(ResourceUrl { collection })
    }

    /// The group-qualified resource (`pods`, `deployments.apps`), as the server names it
    /// in its messages.
    pub fn group_resource(&self) -> String {
        let plural = self.collection.rsplit('/').next().unwrap_or_default();
        match self.collection.strip_prefix("/apis/") {
            Some(rest) => format!("{plural}.{}", rest.split('/').next().unwrap_or_default()),
            None => plural.to_string(),
        }
    }

    /// The collection path (no query).
    pub fn path(&self) -> &str {
        &self.collection
    }

    /// Lists the collection.
    pub fn list(&self, params: &ListParams, format: Format) -> Request {
        let mut query = Query::default();
        query.opt("labelSelector", params.label_selector.as_deref());
        query.opt("fieldSelector", params.field_selector.as_deref());
        query.opt("limit", params.limit.map(|l| l.to_string()).as_deref());
        query.opt("continue", params.continue_token.as_deref());
        query.opt("resourceVersion", params.resource_version.as_deref());
        query.opt(
            "timeoutSeconds",
            params.timeout_seconds.map(|t| t.to_string()).as_deref(),
        );
        Request::get(query.append_to(&self.collection), format.accept(true))
    }

    /// Gets the object `name`.
    pub fn get(&self, name: &str, format: Format) -> Result<Request, RequestError> {
        validate_name(name)?;
        let path = format!("{}/{}", self.collection, encode_path_segment(name));
        Ok(Request::get(path, format.accept(false)))
    }

    /// Watches the collection. To watch one object, pass
    /// `fieldSelector=metadata.name=NAME`, as kubectl does.
    pub fn watch(&self, params: &WatchParams, format: Format) -> Request {
        let mut query = Query::default();
        query.opt("labelSelector", params.label_selector.as_deref());
        query.opt("fieldSelector", params.field_selector.as_deref());
        query.opt("resourceVersion", params.resource_version.as_deref());
        query.flag("allowWatchBookmarks", params.allow_bookmarks);
        query.opt(
            "timeoutSeconds",
            params.timeout_seconds.map(|t| t.to_string()).as_deref(),
        );
        query.flag("watch", true);
        // Each event carries one object, so a metadata watch asks for
        // `PartialObjectMetadata`, not the list form.
        Request::get(query.append_to(&self.collection), format.accept(false))
    }
}

/// `Content-Type` of a created or replaced object.
pub const CONTENT_JSON: &str = "application/json";
/// `Content-Type` of a server-side apply (the body may be YAML or JSON).
pub const CONTENT_APPLY: &str = "application/apply-patch+yaml";
/// `Content-Type` of a JSON merge patch (RFC 7386).
pub const CONTENT_MERGE_PATCH: &str = "application/merge-patch+json";
/// `Content-Type` of a JSON patch (RFC 6902).
pub const CONTENT_JSON_PATCH: &str = "application/json-patch+json";
/// `Content-Type` of a strategic merge patch.
pub const CONTENT_STRATEGIC_PATCH: &str = "application/strategic-merge-patch+json";

/// The field manager the guest's writes are recorded under (`metadata.managedFields`).
pub const FIELD_MANAGER: &str = "kubewasm";

/// How a patch body is to be read (`kubectl patch --type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `--type merge`: JSON merge patch.
    Merge,
    /// `--type json`: a list of RFC 6902 operations.
    Json,
    /// `--type strategic` (kubectl's default): merges lists by their merge key.
    Strategic,
    /// Server-side apply (`kubectl apply --server-side`).
    Apply,
}

impl PatchType {
    /// The `Content-Type` that selects this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Merge => CONTENT_MERGE_PATCH,
            PatchType::Json => CONTENT_JSON_PATCH,
            PatchType::Strategic => CONTENT_STRATEGIC_PATCH,
            PatchType::Apply => CONTENT_APPLY,
        }
    }
}

/// Options of a write (create, patch, apply, delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteParams {
    /// `dryRun=All` (`--dry-run=server`): the server validates and answers as if it
    /// wrote, but persists nothing.
    pub dry_run: bool,
    /// `force=true` for server-side apply (`--force-conflicts`): take over fields other
    /// managers own.
    pub force: bool,
}

impl WriteParams {
    /// The query of a create, patch or apply: the field manager, the server's strict
    /// field validation (kubectl's default `--validate=strict`: an unknown or
    /// duplicated field is an error, not silently dropped) and the options.
    fn write_query(&self, apply: bool) -> Query {
        let mut query = Query::default();
        query.flag_value("dryRun", self.dry_run, "All");
        query.opt("fieldManager", Some(FIELD_MANAGER));
        query.opt("fieldValidation", Some("Strict"));
        query.flag("force", apply && self.force);
        query
    }
}

impl ResourceUrl {
    /// Creates an object in the collection (`POST`); `body` is its JSON.
    pub fn create(&self, body: Vec<u8>, params: &WriteParams) -> Request {
        Request {
            method: Method::Post,
            path_and_query: params.write_query(false).append_to(&self.collection),
            headers: vec![
                ("accept".to_string(), ACCEPT_JSON.to_string()),
                ("content-type".to_string(), CONTENT_JSON.to_string()),
            ],
            body: Some(body),
        }
    }

    /// Patches the object `name` with `body`, read as `patch_type`; with
    /// [`PatchType::Apply`] this is server-side apply and `body` the whole intent.
    pub fn patch(
        &self,
        name: &str,
        patch_type: PatchType,
        body: Vec<u8>,
        params: &WriteParams,
    ) -> Result<Request, RequestError> {
        validate_name(name)?;
        let path = format!("{}/{}", self.collection, encode_path_segment(name));
        Ok(Request {
            method: Method::Patch,
            path_and_query: params
                .write_query(patch_type == PatchType::Apply)
                .append_to(&path),
            headers: vec![
                ("accept".to_string(), ACCEPT_JSON.to_string()),
                (
                    "content-type".to_string(),
                    patch_type.content_type().to_string(),
                ),
            ],
            body: Some(body),
        })
    }

    /// Deletes the object `name`, its dependents in the background as kubectl asks
    /// (`propagationPolicy: Background`).
    pub fn delete(&self, name: &str, params: &WriteParams) -> Result<Request, RequestError> {
        validate_name(name)?;
        let mut query = Query::default();
        query.flag_value("dryRun", params.dry_run, "All");
        let path = format!("{}/{}", self.collection, encode_path_segment(name));
        Ok(Request {
            method: Method::Delete,
            path_and_query: query.append_to(&path),
            headers: vec![
                ("accept".to_string(), ACCEPT_JSON.to_string()),
                ("content-type".to_string(), CONTENT_JSON.to_string()),
            ],
            body: Some(br#"{"propagationPolicy":"Background"}"#.to_vec()),
        })
    }
}

/// Reads the logs of `pod` in `namespace` (`pods/log`).
pub fn logs(namespace: &str, pod: &str, params: &LogParams) -> Result<Request, RequestError> {
    validate_namespace(namespace)?;
    validate_name(pod)?;
    if let Some(container) = &params.container {
        validate_name(container)?;
    }
    let mut query = Query::default();
    query.opt("container", params.container.as_deref());
    query.flag("follow", params.follow);
    query.flag("previous", params.previous);
    query.opt(
        "limitBytes",
        params.limit_bytes.map(|b| b.to_string()).as_deref(),
    );
    query.opt(
        "sinceSeconds",
        params.since_seconds.map(|s| s.to_string()).as_deref(),
    );
    query.opt("sinceTime", params.since_time.as_deref());
    query.opt(
        "tailLines",
        params.tail_lines.map(|t| t.to_string()).as_deref(),
    );
    query.flag("timestamps", params.timestamps);
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/log",
        encode_path_segment(namespace),
        encode_path_segment(pod)
    );
    Ok(Request::get(query.append_to(&path), ACCEPT_ANY))
}

/// The `Accept` header for aggregated discovery v2, with plain JSON as the fallback an
/// older server answers with (its v1 documents).
pub const ACCEPT_DISCOVERY_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

/// Discovers the core group (`GET /api`), aggregated if the server can.
pub fn discovery_core() -> Request {
    Request::get("/api".to_string(), ACCEPT_DISCOVERY_V2)
}

/// Discovers the named groups (`GET /apis`), aggregated if the server can.
pub fn discovery_groups() -> Request {
    Request::get("/apis".to_string(), ACCEPT_DISCOVERY_V2)
}

/// Gets one group version's v1 `APIResourceList` (`/api/v1`, `/apis/apps/v1`), for
/// servers without aggregated discovery.
pub fn discovery_group_version(group: &str, version: &str) -> Result<Request, RequestError> {
    validate_name(version)?;
    if !group.is_empty() {
        validate_name(group)?;
    }
    Ok(Request::get(
        group_version_path(group, version),
        ACCEPT_JSON,
    ))
}

/// `/api/VERSION` for the core group, else `/apis/GROUP/VERSION`, each segment encoded
/// (the caller has checked them).
fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{}", encode_path_segment(version))
    } else {
        format!(
            "/apis/{}/{}",
            encode_path_segment(group),
            encode_path_segment(version)
        )
    }
}

/// Gets the server's version (`/version`).
pub fn version() -> Request {
    Request::get("/version".to_string(), ACCEPT_ANY)
}

/// A GET of a path the user typed (`get --raw /path?query`), sent as given: the host
/// checks it like any other request.
pub fn raw(path_and_query: &str) -> Result<Request, RequestError> {
    if !path_and_query.starts_with('/') {
        return Err(RequestError(format!(
            "--raw must be an absolute path starting with \"/\", got {path_and_query:?}"
        )));
    }
    // A space or control character would break the request line; say so here rather
    // than letting it reach the wire.
    if path_and_query
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(RequestError(format!(
            "--raw path {path_and_query:?} contains spaces or control characters; percent-encode them"
        )));
    }
    Ok(Request::get(path_and_query.to_string(), ACCEPT_ANY))
}

/// Query parameters, encoded in key order like client-go's `url.Values.Encode()`.
#[derive(Debug, Default)]
struct Query {
    pairs: Vec<(&'static str, String)>,
}

impl Query {
    fn opt(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.pairs.push((key, value.to_string()));
        }
    }

    fn flag(&mut self, key: &'static str, on: bool) {
        self.flag_value(key, on, "true");
    }

    fn flag_value(&mut self, key: &'static str, on: bool, value: &str) {
        if on {
            self.pairs.push((key, value.to_string()));
        }
    }

    fn append_to(mut self, path: &str) -> String {
        if self.pairs.is_empty() {
            return path.to_string();
        }
        self.pairs.sort_by_key(|(k, _)| *k);
        let mut out = String::from(path);
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(key);
            out.push('=');
            out.push_str(&percent_encode(value));
        }
        out
    }
}

/// Percent-encodes a query value: everything but RFC 3986 unreserved characters, so a
/// space is `%20` (never `+`, which servers decode differently in paths and queries)
/// and `=`, `,`, `(`, `)` in selectors are escaped.
pub fn percent_encode(value: &str) -> String {
    encode(value, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Percent-encodes a path segment. Names never contain `/` or `%` (validated first), so
/// this only escapes what a URL path cannot carry raw.
fn encode_path_segment(segment: &str) -> String {
    encode(segment, |b| {
        b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
    })
}

fn encode(value: &str, keep: impl Fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{BuiltinResources, ResourceResolver};

    fn rt(name: &str) -> ResourceType {
        BuiltinResources.resolve(name).unwrap()
    }

    fn url(name: &str, ns: Option<&str>) -> ResourceUrl {
        ResourceUrl::new(&rt(name), ns).unwrap()
    }

    #[test]
    fn list_path_for_namespaced_core_resource() {
        let req = url("pods", Some("demo")).list(&ListParams::default(), Format::Json);
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.path_and_query, "/api/v1/namespaces/demo/pods");
        assert_eq!(req.header("accept"), Some("application/json"));
        assert_eq!(req.body, None);
    }

    #[test]
    fn list_path_for_namespaced_grouped_resource() {
        let req = url("deploy", Some("demo")).list(&ListParams::default(), Format::Json);
        assert_eq!(
            req.path_and_query,
            "/apis/apps/v1/namespaces/demo/deployments"
        );
    }

    #[test]
    fn list_path_across_all_namespaces_has_no_namespace_segment() {
        let req = url("pods", None).list(&ListParams::default(), Format::Json);
        assert_eq!(req.path_and_query, "/api/v1/pods");
        let req = url("cj", None).list(&ListParams::default(), Format::Json);
        assert_eq!(req.path_and_query, "/apis/batch/v1/cronjobs");
    }

    #[test]
    fn cluster_scoped_resource_ignores_the_namespace() {
        let req = url("nodes", Some("demo")).list(&ListParams::default(), Format::Json);
        assert_eq!(req.path_and_query, "/api/v1/nodes");
        let req = url("crd", Some("demo")).get("widgets.example.com", Format::Json);
        assert_eq!(
            req.unwrap().path_and_query,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
        );
    }

    #[test]
    fn from_parts_builds_the_same_paths_as_a_resolved_type() {
        for (name, api_version, plural, ns) in [
            ("pods", "v1", "pods", Some("demo")),
            ("deploy", "apps/v1", "deployments", Some("demo")),
            ("pods", "v1", "pods", None),
            (
                "crd",
                "apiextensions.k8s.io/v1",
                "customresourcedefinitions",
                None,
            ),
        ] {
            let parts = ResourceUrl::from_parts(api_version, plural, ns).unwrap();
            assert_eq!(parts, url(name, ns), "{api_version} {plural}");
        }
        assert_eq!(
            ResourceUrl::from_parts("apps/v1", "deployments", None)
                .unwrap()
                .group_resource(),
            "deployments.apps"
        );
    }

    #[test]
    fn from_parts_rejects_segments_that_would_change_the_path() {
        let cases = [
            ("v1", "pods", Some("../kube-system"), "invalid namespace"),
            ("v1", "pods/log", None, "invalid resource name"),
            (
                "apps/v1/x",
                "deployments",
                None,
                "invalid apiVersion \"apps/v1/x\"",
            ),
            ("/v1", "deployments", None, "invalid apiVersion \"/v1\""),
            ("", "pods", None, "invalid apiVersion \"\""),
            ("v1", "", None, "resource name may not be empty"),
        ];
        for (api_version, plural, ns, expected) in cases {
            let e = ResourceUrl::from_parts(api_version, plural, ns).unwrap_err();
            assert!(e.0.starts_with(expected), "{api_version} {plural}: {e}");
        }
    }

    #[test]
    fn table_requests_send_kubectls_accept_header() {
        let req = url("pods", Some("demo")).list(&ListParams::default(), Format::Table);
        assert_eq!(
            req.header("accept"),
            Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
        );
        // No includeObject: kubectl relies on the default (metadata), which carries the
        // namespace and labels its printer needs.
        assert!(!req.path_and_query.contains("includeObject"));
    }

    #[test]
    fn metadata_requests_ask_for_partial_object_metadata() {
        let pods = url("pods", Some("demo"));
        let list = pods.list(&ListParams::default(), Format::Metadata);
        assert_eq!(list.header("accept"), Some(ACCEPT_METADATA_LIST));
        let get = pods.get("demo-00001", Format::Metadata).unwrap();
        assert_eq!(get.header("accept"), Some(ACCEPT_METADATA));
        let watch = pods.watch(&WatchParams::default(), Format::Metadata);
        assert_eq!(watch.header("accept"), Some(ACCEPT_METADATA));
    }

    #[test]
    fn selectors_are_percent_encoded_like_the_fixture_requests() {
        let params = ListParams {
            label_selector: Some("tier=web,index in (0,3,6)".into()),
            ..Default::default()
        };
        let req = url("pods", Some("demo")).list(&params, Format::Json);
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods?labelSelector=tier%3Dweb%2Cindex%20in%20%280%2C3%2C6%29"
        );
        let params = ListParams {
            field_selector: Some("status.phase=Pending".into()),
            limit: Some(3),
            ..Default::default()
        };
        let req = url("pods", Some("demo")).list(&params, Format::Json);
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods?fieldSelector=status.phase%3DPending&limit=3"
        );
    }

    #[test]
    fn list_query_is_sorted_by_key_like_client_go() {
        let params = ListParams {
            label_selector: Some("app=x".into()),
            field_selector: Some("a!=b".into()),
            limit: Some(500),
            continue_token: Some("eyJ2Ijoi+/=".into()),
            resource_version: Some("0".into()),
            timeout_seconds: Some(30),
        };
        let req = url("pods", Some("demo")).list(&params, Format::Json);
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods?continue=eyJ2Ijoi%2B%2F%3D&fieldSelector=a%21%3Db\
             &labelSelector=app%3Dx&limit=500&resourceVersion=0&timeoutSeconds=30"
        );
    }

    #[test]
    fn watch_query_starts_from_resource_version_with_bookmarks() {
        let params = WatchParams {
            resource_version: Some("8393".into()),
            allow_bookmarks: true,
            ..Default::default()
        };
        let req = url("pods", Some("demo")).watch(&params, Format::Table);
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&resourceVersion=8393&watch=true"
        );
        assert_eq!(req.header("accept"), Some(ACCEPT_TABLE));
    }

    #[test]
    fn watch_of_one_object_uses_a_name_field_selector() {
        let params = WatchParams {
            field_selector: Some("metadata.name=demo-00001".into()),
            resource_version: Some("1".into()),
            timeout_seconds: Some(15),
            ..Default::default()
        };
        let req = url("pods", Some("demo")).watch(&params, Format::Json);
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Ddemo-00001\
             &resourceVersion=1&timeoutSeconds=15&watch=true"
        );
    }

    #[test]
    fn get_path_names_the_object() {
        let req = url("pods", Some("demo"))
            .get("demo-00001", Format::Json)
            .unwrap();
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods/demo-00001"
        );
        let req = url("no", None).get("node-1", Format::Table).unwrap();
        assert_eq!(req.path_and_query, "/api/v1/nodes/node-1");
    }

    #[test]
    fn get_rejects_an_empty_name_instead_of_listing() {
        let err = url("pods", Some("demo")).get("", Format::Json).unwrap_err();
        assert_eq!(err.to_string(), "resource name may not be empty");
    }

    #[test]
    fn get_rejects_names_that_would_change_the_path() {
        let pods = url("pods", Some("demo"));
        for (name, message) in [
            ("..", r#"invalid resource name "..": [may not be '..']"#),
            (".", r#"invalid resource name ".": [may not be '.']"#),
            (
                "a/b",
                r#"invalid resource name "a/b": [may not contain '/']"#,
            ),
            (
                "a%2F",
                r#"invalid resource name "a%2F": [may not contain '%']"#,
            ),
            (
                "../%",
                r#"invalid resource name "../%": [may not contain '/' may not contain '%']"#,
            ),
        ] {
            assert_eq!(
                pods.get(name, Format::Json).unwrap_err().to_string(),
                message
            );
        }
    }

    #[test]
    fn namespace_is_validated_and_encoded() {
        assert!(ResourceUrl::new(&rt("pods"), Some("..")).is_err());
        assert!(ResourceUrl::new(&rt("pods"), Some("a/b")).is_err());
        assert!(ResourceUrl::new(&rt("pods"), Some("")).is_err());
        // A cluster-scoped type never uses the namespace, so it is not checked either.
        assert!(ResourceUrl::new(&rt("nodes"), Some("..")).is_ok());
    }

    #[test]
    fn names_with_unusual_characters_are_percent_encoded() {
        let req = url("cm", Some("demo"))
            .get("a b?c#d", Format::Json)
            .unwrap();
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/configmaps/a%20b%3Fc%23d"
        );
    }

    #[test]
    fn logs_path_and_every_parameter() {
        let req = logs("demo", "demo-00001", &LogParams::default()).unwrap();
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods/demo-00001/log"
        );
        let params = LogParams {
            container: Some("main".into()),
            follow: true,
            tail_lines: Some(10),
            since_seconds: Some(300),
            since_time: Some("2026-11-28T15:27:03Z".into()),
            limit_bytes: Some(1024),
            timestamps: true,
            previous: true,
        };
        let req = logs("demo", "demo-00001", &params).unwrap();
        assert_eq!(
            req.path_and_query,
            "/api/v1/namespaces/demo/pods/demo-00001/log?container=main&follow=true\
             &limitBytes=1024&previous=true&sinceSeconds=300\
             &sinceTime=2026-11-28T15%3A27%3A03Z&tailLines=10&timestamps=true"
        );
    }

    #[test]
    fn write_requests_carry_field_manager_validation_and_dry_run() {
        let cms = url("cm", Some("demo"));
        let dry = WriteParams {
            dry_run: true,
            force: true,
        };
        let create = cms.create(b"{}".to_vec(), &WriteParams::default());
        assert_eq!(create.method, Method::Post);
        assert_eq!(
            create.path_and_query,
            "/api/v1/namespaces/demo/configmaps?fieldManager=kubewasm&fieldValidation=Strict"
        );
        assert_eq!(create.header("content-type"), Some("application/json"));
        let apply = cms
            .patch("fixture-cm", PatchType::Apply, b"{}".to_vec(), &dry)
            .unwrap();
        assert_eq!(
            apply.path_and_query,
            "/api/v1/namespaces/demo/configmaps/fixture-cm?dryRun=All&fieldManager=kubewasm&fieldValidation=Strict&force=true"
        );
        assert_eq!(
            apply.header("content-type"),
            Some("application/apply-patch+yaml")
        );
        // `force` only means something to server-side apply.
        let merge = cms
            .patch("fixture-cm", PatchType::Merge, b"{}".to_vec(), &dry)
            .unwrap();
        assert_eq!(
            merge.path_and_query,
            "/api/v1/namespaces/demo/configmaps/fixture-cm?dryRun=All&fieldManager=kubewasm&fieldValidation=Strict"
        );
        let delete = url("deploy", Some("demo")).delete("web", &dry).unwrap();
        assert_eq!(delete.method, Method::Delete);
        assert_eq!(
            delete.path_and_query,
            "/apis/apps/v1/namespaces/demo/deployments/web?dryRun=All"
        );
        assert!(cms.delete("", &dry).is_err());
        assert!(cms.patch("a/b", PatchType::Json, Vec::new(), &dry).is_err());
    }

    #[test]
    fn discovery_requests_ask_for_aggregated_documents() {
        assert_eq!(discovery_core().path_and_query, "/api");
        assert_eq!(
            discovery_groups().header("accept"),
            Some(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
            )
        );
        assert_eq!(
            discovery_group_version("", "v1").unwrap().path_and_query,
            "/api/v1"
        );
        assert_eq!(
            discovery_group_version("apps", "v1")
                .unwrap()
                .path_and_query,
            "/apis/apps/v1"
        );
        assert!(discovery_group_version("a/b", "v1").is_err());
    }

    #[test]
    fn logs_reject_empty_pod_names() {
        assert!(logs("demo", "", &LogParams::default()).is_err());
        assert!(logs("demo", "..", &LogParams::default()).is_err());
    }

    #[test]
    fn version_and_raw_paths() {
        assert_eq!(version().path_and_query, "/version");
        let req = raw("/api/v1/namespaces/demo/pods?limit=1").unwrap();
        assert_eq!(req.path_and_query, "/api/v1/namespaces/demo/pods?limit=1");
        assert_eq!(req.method, Method::Get);
    }

    #[test]
    fn raw_requires_an_absolute_path_without_spaces() {
        assert!(raw("api/v1").is_err());
        assert!(raw("").is_err());
        assert!(raw("/api/v1 HTTP/1.1").is_err());
        assert!(raw("/healthz\r\nX-Evil: 1").is_err());
    }

    #[test]
    fn percent_encoding_escapes_all_but_unreserved() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a b+c/d?e&f=g"), "a%20b%2Bc%2Fd%3Fe%26f%3Dg");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
