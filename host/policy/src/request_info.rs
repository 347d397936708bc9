//! What a request asks for, read the way kube-apiserver reads it.
//!
//! A port of `RequestInfoFactory.NewRequestInfo`
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`) with the standard
//! prefixes (`api` is groupless, `apis` carries a group). RBAC decisions are made on this
//! structure, so any difference from upstream is a difference between what the policy
//! allowed and what the server does.

use crate::sanity::{self, Refusal, Target};

/// The parsed form of one request, with the fields and semantics of kube-apiserver's
/// `RequestInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Whether this is a request for an API resource (`/api/...`, `/apis/...` with enough
    /// segments) rather than a non-resource URL such as `/version` or `/apis/apps`.
    pub is_resource_request: bool,
    /// The decoded URL path.
    pub path: String,
    /// The Kubernetes verb (get, list, watch, create, update, patch, delete,
    /// deletecollection, proxy) for resource requests; the lowercase HTTP method otherwise.
    pub verb: String,
    /// `api` or `apis`; empty for non-resource requests.
    pub api_prefix: String,
    /// The API group; empty for the core group.
    pub api_group: String,
    /// The API version, e.g. `v1`.
    pub api_version: String,
    /// The namespace; empty for cluster-scoped and all-namespaces requests.
    pub namespace: String,
    /// The resource, e.g. `pods` (not the kind).
    pub resource: String,
    /// The subresource, e.g. `log` in `pods/log`.
    pub subresource: String,
    /// The object's name, from the path or from an exact `metadata.name` field selector on a
    /// list or watch.
    pub name: String,
    /// The path segments from the resource on: `[resource, name, subresource, ...]`.
    pub parts: Vec<String>,
}

/// Path segments that are verbs in the deprecated `/api/v1/{verb}/...` form.
const SPECIAL_VERBS: &[&str] = &["proxy", "watch"];
/// Special verbs after which every segment belongs to the proxied path, not a subresource.
const SPECIAL_VERBS_NO_SUBRESOURCES: &[&str] = &["proxy"];
/// Subresources of a namespace, so `/namespaces/x/status` is not a resource named `status`.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl RequestInfo {
    /// Checks a request (see [`sanity::check`]) and parses it as kube-apiserver would.
    pub fn parse(method: &str, path_and_query: &str) -> Result<RequestInfo, Refusal> {
        let target = sanity::check(method, path_and_query)?;
        resolve(method, &target)
    }

    /// The resource with its subresource, as RBAC rules spell it: `pods` or `pods/log`.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// A short description for messages: `get pods/log "web-0" in namespace "demo"`,
    /// `list deployments.apps cluster-wide`, `get /version`.
    pub fn describe(&self) -> String {
        if !self.is_resource_request {
            return format!("{} {}", self.verb, self.path);
        }
        let mut out = format!("{} {}", self.verb, self.resource);
        if !self.api_group.is_empty() {
            out.push('.');
            out.push_str(&self.api_group);
        }
        if !self.subresource.is_empty() {
            out.push('/');
            out.push_str(&self.subresource);
        }
        if !self.name.is_empty() {
            out.push_str(&format!(" {:?}", self.name));
        }
        if self.namespace.is_empty() {
            out.push_str(" cluster-wide");
        } else {
            out.push_str(&format!(" in namespace {:?}", self.namespace));
        }
        out
    }
}

/// `NewRequestInfo` on an already checked and decoded target.
pub(crate) fn resolve(method: &str, target: &Target) -> Result<RequestInfo, Refusal> {
    let mut info = RequestInfo {
        path: target.path.clone(),
        verb: method.to_ascii_lowercase(),
        ..RequestInfo::default()
    };

    let mut parts = split_path(&target.path);
    if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
        return Ok(info);
    }
    info.api_prefix = parts[0].to_string();
    parts.remove(0);
    if info.api_prefix == "apis" {
        // `/apis/{group}/{version}` is discovery: a resource needs one more segment.
        if parts.len() < 3 {
            return Ok(info);
        }
        info.api_group = parts.remove(0).to_string();
    }
    info.is_resource_request = true;
    info.api_version = parts.remove(0).to_string();

    let verb_via_path = SPECIAL_VERBS.contains(&parts[0]);
    if verb_via_path {
        if parts.len() < 2 {
            return Err(Refusal::MissingResource(
                target.path.clone(),
                parts[0].to_string(),
            ));
        }
        info.verb = parts.remove(0).to_string();
    } else {
        info.verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
        .to_string();
    }

    if parts[0] == "namespaces" && parts.len() > 1 {
        info.namespace = parts[1].to_string();
        // `/namespaces/{ns}/{resource}/...` is a resource inside the namespace, unless the
        // third segment is one of the namespace's own subresources.
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts.drain(..2);
        }
    }
    info.parts = parts.iter().map(|s| s.to_string()).collect();

    if info.parts.len() >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.contains(&info.verb.as_str()) {
        info.subresource = info.parts[2].clone();
    }
    if info.parts.len() >= 2 {
        info.name = info.parts[1].clone();
    }
    info.resource = info.parts[0].clone();

    if info.name.is_empty() && info.verb == "get" {
        let opts = decode_list_options(target);
        info.verb = if opts.watch { "watch" } else { "list" }.to_string();
        if let Some(name) = opts.field_selector_name
            && is_valid_path_segment_name(&name)
        {
            info.name = name;
        }
    }
    if info.name.is_empty() && info.verb == "delete" {
        info.verb = "deletecollection".to_string();
    }
    Ok(info)
}

/// Go's `splitPath`: trims slashes at both ends, then splits.
fn split_path(path: &str) -> Vec<&str> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// The parts of `metav1.ListOptions` that matter to authorization.
struct ListOptions {
    watch: bool,
    field_selector_name: Option<String>,
}

/// Mirrors `ParameterCodec.DecodeParameters` into `ListOptions`, as far as authorization
/// sees it: on any decoding failure upstream keeps only `watch` (read from the raw value) and
/// drops the field selector, so the request gets no name.
///
/// `labelSelector` is not validated here. If it is invalid, upstream would not take the name
/// from the field selector, but the server then refuses the whole request (400), so reading
/// the name anyway cannot grant access to anything.
fn decode_list_options(target: &Target) -> ListOptions {
    // Convert_Slice_string_To_bool: only "0" and "false" (any case) are false. The sanity
    // checks have already refused other spellings.
    let watch = target
        .first("watch")
        .is_some_and(|v| !(v == "0" || v.eq_ignore_ascii_case("false")));
    let integers_ok = ["limit", "timeoutSeconds"]
        .iter()
        .all(|k| target.first(k).is_none_or(|v| parse_go_int64(v).is_some()));
    let field_selector_name = match target.first("fieldSelector") {
        Some(selector) if integers_ok => {
            parse_field_selector(selector).and_then(|terms| requires_exact_match(&terms))
        }
        _ => None,
    };
    ListOptions {
        watch,
        field_selector_name,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, fits in i64.
fn parse_go_int64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// One `field op value` term of a field selector.
#[derive(Debug, PartialEq, Eq)]
struct Term {
    field: String,
    equal: bool,
    value: String,
}

/// `fields.ParseSelector`: terms split on unescaped `,`, sorted, each `field(=|==|!=)value`
/// with `\`-escaped values. `None` where upstream returns an error.
fn parse_field_selector(selector: &str) -> Option<Vec<Term>> {
    let mut raw_terms = split_terms(selector);
    raw_terms.sort_unstable();
    let mut terms = Vec::new();
    for raw in raw_terms.into_iter().filter(|t| !t.is_empty()) {
        let (field, op, value) = split_term(raw)?;
        terms.push(Term {
            field: field.to_string(),
            equal: op != "!=",
            value: unescape_value(value)?,
        });
    }
    Some(terms)
}

/// `fields.splitTerms`: splits on commas not preceded by a backslash escape.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// `fields.splitTerm`: the first operator found scanning left to right, trying `!=`, `==`,
/// `=` at each position.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for i in 0..term.len() {
        if !term.is_char_boundary(i) {
            continue;
        }
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`: `\\`, `\,`, `\=` are escapes; a bare `,` or `=`, another escape
/// or a trailing `\` is an error.
fn unescape_value(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut in_slash = false;
    for c in value.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return None;
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return None,
            c => out.push(c),
        }
    }
    (!in_slash).then_some(out)
}

/// `Selector.RequiresExactMatch("metadata.name")` on the sorted terms.
fn requires_exact_match(terms: &[Term]) -> Option<String> {
    terms
        .iter()
        .find(|t| t.equal && t.field == "metadata.name")
        .map(|t| t.value.clone())
}

/// `path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`.
fn is_valid_path_segment_name(name: &str) -> bool {
    name != "." && name != ".." && !name.contains(['/', '%'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `NewRequestInfo` without the sanity checks, on a raw URL split the way Go's
    /// `http.NewRequest` would for these ASCII test URLs.
    fn upstream(method: &str, url: &str) -> Result<RequestInfo, Refusal> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        resolve(
            method,
            &Target {
                path: path.to_string(),
                query,
            },
        )
    }

    /// method, url, verb, prefix, group, version, namespace, resource, subresource, name, parts.
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    );

    /// Ported from `TestGetAPIRequestInfo` success cases.
    #[rustfmt::skip]
    const SUCCESS_CASES: &[Case] = &[
        // resource paths
        ("GET", "/api/v1/namespaces", "list", "api", "", "v1", "", "namespaces", "", "", &["namespaces"]),
        ("GET", "/api/v1/namespaces/other", "get", "api", "", "v1", "other", "namespaces", "", "other", &["namespaces", "other"]),
        ("GET", "/api/v1/namespaces/other/pods", "list", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("HEAD", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("GET", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("HEAD", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("GET", "/api/v1/namespaces/other/pods", "list", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("PATCH", "/api/v1/namespaces/new-namespace", "patch", "api", "", "v1", "new-namespace", "namespaces", "", "new-namespace", &["namespaces", "new-namespace"]),
        // special verbs
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo", "subpath", "not", "a", "subresource"]),
        ("GET", "/api/v1/watch/pods", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=true", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=false", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/watch/namespaces/other/pods", "watch", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=0", "list", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        // subresource identification
        ("GET", "/api/v1/namespaces/other/pods/foo/status", "get", "api", "", "v1", "other", "pods", "status", "foo", &["pods", "foo", "status"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "api", "", "v1", "other", "pods", "proxy", "foo", &["pods", "foo", "proxy", "subpath"]),
        ("PUT", "/api/v1/namespaces/other/finalize", "update", "api", "", "v1", "other", "namespaces", "finalize", "other", &["namespaces", "other", "finalize"]),
        ("PUT", "/api/v1/namespaces/other/status", "update", "api", "", "v1", "other", "namespaces", "status", "other", &["namespaces", "other", "status"]),
        // verb identification
        ("PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("POST", "/api/v1/namespaces/other/pods", "create", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        // deletecollection verb identification
        ("DELETE", "/api/v1/nodes", "deletecollection", "api", "", "v1", "", "nodes", "", "", &["nodes"]),
        ("DELETE", "/api/v1/namespaces", "deletecollection", "api", "", "v1", "", "namespaces", "", "", &["namespaces"]),
        ("DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "apis", "extensions", "v1", "other", "pods", "", "", &["pods"]),
        // api group identification
        ("POST", "/apis/extensions/v1/namespaces/other/pods", "create", "apis", "extensions", "v1", "other", "pods", "", "", &["pods"]),
        // api version identification
        ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "apis", "extensions", "v1beta3", "other", "pods", "", "", &["pods"]),
    ];

    #[test]
    fn parses_upstream_request_info_cases() {
        for &(method, url, verb, prefix, group, version, ns, resource, sub, name, parts) in
            SUCCESS_CASES
        {
            let got = upstream(method, url).unwrap_or_else(|e| panic!("{url}: {e}"));
            let want = RequestInfo {
                is_resource_request: true,
                path: url.split('?').next().unwrap().to_string(),
                verb: verb.to_string(),
                api_prefix: prefix.to_string(),
                api_group: group.to_string(),
                api_version: version.to_string(),
                namespace: ns.to_string(),
                resource: resource.to_string(),
                subresource: sub.to_string(),
                name: name.to_string(),
                parts: parts.iter().map(|s| s.to_string()).collect(),
            };
            assert_eq!(got, want, "{method} {url}");
            // The same cases pass the sanity checks unchanged.
            assert_eq!(
                RequestInfo::parse(method, url).unwrap(),
                want,
                "{method} {url}"
            );
        }
    }

    #[test]
    fn parses_upstream_non_resource_cases() {
        // From TestGetAPIRequestInfo's error cases and TestGetNonAPIRequestInfo.
        let cases = [
            ("/", false),
            ("/api/version/", false),
            ("/apis/group/version/", false),
            ("/badprefix/version/resource", false),
            ("/apis/version/resource", false),
            ("/api/version/resource", true),
            ("/apis/group/version/resource/name/subresource", true),
            ("/api/version/resource/name/subresource", true),
            ("/apis/batch/v1/job", true),
            ("/apis/batch/v1/job/foo", true),
            ("/apis/batch/v1/job/foo/scale", true),
            ("/not-api/version/resource", false),
            ("/apis/extensions/v1beta1", false),
            ("/apis/extensions/v1beta1/", false),
            ("/api/version", false),
            ("/api", false),
            ("", false),
        ];
        for (url, resource) in cases {
            let info = upstream("GET", url).unwrap();
            assert_eq!(info.is_resource_request, resource, "{url:?}");
            if !resource {
                assert_eq!(info.verb, "get", "{url:?}");
            }
        }
    }

    #[test]
    fn parses_upstream_field_selector_cases() {
        // From TestFieldSelectorParsing: (url, name, verb).
        let cases = [
            ("/apis/group/version/resource", "", "list"),
            (
                "/apis/group/version/resource?fieldSelector=metadata.name=name1",
                "name1",
                "list",
            ),
            (
                "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1",
                "name1",
                "watch",
            ),
            (
                "/apis/group/version/resource?fieldSelector=foo=bar",
                "",
                "list",
            ),
            (
                "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo",
                "",
                "list",
            ),
            (
                "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true",
                "",
                "watch",
            ),
            (
                "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false",
                "",
                "list",
            ),
        ];
        for (url, name, verb) in cases {
            let info = upstream("GET", url).unwrap();
            assert_eq!(
                (info.name.as_str(), info.verb.as_str()),
                (name, verb),
                "{url}"
            );
        }
    }

    #[test]
    fn field_selector_name_follows_fields_parse_selector() {
        let name = |selector: &str| {
            let url = format!("/api/v1/namespaces/demo/pods?fieldSelector={selector}");
            RequestInfo::parse("GET", &url).unwrap().name
        };
        assert_eq!(name("metadata.name%3D%3Dweb-0"), "web-0");
        assert_eq!(name("spec.nodeName=n1,metadata.name=web-0"), "web-0");
        assert_eq!(name("metadata.name!=web-0"), "");
        assert_eq!(name("metadata.name=a%5C,b"), "a,b");
        assert_eq!(name("metadata.name=a%5Cx"), "");
        assert_eq!(name("metadata.name=a%5C"), "");
        // Sorted terms: the first exact match after sorting wins, as upstream.
        assert_eq!(name("metadata.name=b,metadata.name=a"), "a");
        // Names that are not valid path segments are not taken.
        assert_eq!(name("metadata.name=.."), "");
        assert_eq!(name("metadata.name=a%2Fb"), "");
        assert_eq!(name("metadata.name=a%25b"), "");
    }

    #[test]
    fn field_selector_name_is_dropped_when_list_options_fail_to_decode() {
        let info = RequestInfo::parse(
            "GET",
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name=web-0&limit=x&watch=1",
        )
        .unwrap();
        assert_eq!((info.name.as_str(), info.verb.as_str()), ("", "watch"));
        let info = RequestInfo::parse(
            "GET",
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name=web-0&limit=%2B5&timeoutSeconds=-1",
        )
        .unwrap();
        assert_eq!(info.name, "web-0");
    }

    #[test]
    fn field_selector_does_not_name_deprecated_watch_or_deletecollection() {
        let watch = RequestInfo::parse(
            "GET",
            "/api/v1/watch/namespaces/demo/pods?fieldSelector=metadata.name=web-0",
        )
        .unwrap();
        assert_eq!((watch.verb.as_str(), watch.name.as_str()), ("watch", ""));
        let delete = RequestInfo::parse(
            "DELETE",
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name=web-0",
        )
        .unwrap();
        assert_eq!(
            (delete.verb.as_str(), delete.name.as_str()),
            ("deletecollection", "")
        );
    }

    #[test]
    fn watch_query_does_not_turn_named_get_into_watch() {
        let info =
            RequestInfo::parse("GET", "/api/v1/namespaces/demo/pods/web-0?watch=true").unwrap();
        assert_eq!((info.verb.as_str(), info.name.as_str()), ("get", "web-0"));
    }

    #[test]
    fn discovery_paths_are_non_resource_requests() {
        for path in [
            "/version",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/openapi/v3",
            "/healthz",
        ] {
            let info = RequestInfo::parse("GET", path).unwrap();
            assert!(!info.is_resource_request, "{path}");
            assert_eq!((info.verb.as_str(), info.path.as_str()), ("get", path));
        }
        let head = RequestInfo::parse("HEAD", "/version").unwrap();
        assert_eq!(head.verb, "head");
    }

    #[test]
    fn rejects_special_verb_without_resource() {
        assert!(matches!(
            RequestInfo::parse("GET", "/api/v1/watch"),
            Err(Refusal::MissingResource(_, verb)) if verb == "watch"
        ));
        assert!(matches!(
            RequestInfo::parse("GET", "/apis/apps/v1/proxy"),
            Err(Refusal::MissingResource(_, verb)) if verb == "proxy"
        ));
    }

    #[test]
    fn parses_subresources_in_groups() {
        let info = RequestInfo::parse(
            "PATCH",
            "/apis/apps/v1/namespaces/demo/deployments/web/scale",
        )
        .unwrap();
        assert_eq!(info.combined_resource(), "deployments/scale");
        assert_eq!(info.api_group, "apps");
        assert_eq!(
            info.describe(),
            "patch deployments.apps/scale \"web\" in namespace \"demo\""
        );
    }

    #[test]
    fn describes_requests_for_messages() {
        let d = |m, p| RequestInfo::parse(m, p).unwrap().describe();
        assert_eq!(
            d("GET", "/api/v1/namespaces/demo/pods/web-0/log"),
            "get pods/log \"web-0\" in namespace \"demo\""
        );
        assert_eq!(d("GET", "/api/v1/pods"), "list pods cluster-wide");
        assert_eq!(d("GET", "/version"), "get /version");
    }
}
