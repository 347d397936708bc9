//! Discovery: which resource types the server serves, so that `po`, `deploy` or a CRD's
//! short name mean what they mean on this cluster.
//!
//! The guest asks for aggregated discovery v2 (`GET /api` and `GET /apis` with
//! [`ACCEPT_DISCOVERY_V2`]): two documents that list every group, version and resource.
//! A server that does not serve v2 answers with the v1 documents instead (`APIVersions`,
//! `APIGroupList`, told apart by their `kind`); the guest then fetches one
//! `APIResourceList` per group version, as client-go does.
//!
//! The guest keeps no cache: the host caches discovery responses between runs (kubectl
//! keeps them 6 h under `~/.kube/cache/discovery`), so a guest gets the cache without a
//! filesystem capability and an operator controls it in one place.
//!
//! [`Discovery`] holds what was found, in kubectl's priority order (the core group first,
//! then the groups in the server's order, each group's preferred version first) and
//! implements [`ResourceResolver`] the way kubectl's RESTMapper and short-name expander
//! resolve names. [`Discoverer`] fetches lazily: a plural or singular name of a core type
//! (`pods`, `node`) is decided by `/api` alone, since the core group has the highest
//! priority; anything else also fetches `/apis`.

use std::io::Write;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::Transport;
use crate::error::Error;
use crate::meta::nullable;
pub use crate::request::ACCEPT_DISCOVERY_V2;
use crate::request::{self, Request};
use crate::resource::{
    BuiltinResources, ResolveError, ResourceResolver, ResourceType, TypeName, qualify_version,
};
use crate::retry;
use crate::status::RequestContext;

/// One discovered resource type with the facts `api-resources` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredResource {
    /// The type, as the rest of the crate uses it.
    pub resource: ResourceType,
    /// The verbs the server supports on it (`get`, `list`, `watch`, ...).
    pub verbs: Vec<String>,
    /// Categories such as `all`.
    pub categories: Vec<String>,
}

/// The resources of one group version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersion {
    /// The group, empty for the core group.
    pub group: String,
    /// The version.
    pub version: String,
    /// Whether this is the group's preferred version.
    pub preferred: bool,
    /// Its resources (no subresources).
    pub resources: Vec<DiscoveredResource>,
}

impl GroupVersion {
    /// `v1` or `apps/v1`.
    pub fn group_version(&self) -> String {
        qualify_version(&self.group, &self.version)
    }
}

/// What discovery found, in priority order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Group versions: core first, then the groups in the server's order; within a
    /// group the preferred version first.
    pub group_versions: Vec<GroupVersion>,
    /// Group versions that could not be read (an aggregated API that is down, a stale
    /// entry), with why: the rest is still usable, as in kubectl.
    pub failed: Vec<(String, String)>,
}

impl Discovery {
    /// Parses an aggregated discovery v2 document (`APIGroupDiscoveryList`).
    pub fn from_aggregated(body: &[u8]) -> Result<Discovery, String> {
        let list: AggregatedList = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut discovery = Discovery::default();
        for group in list.items {
            for (i, version) in group.versions.into_iter().enumerate() {
                let gv = qualify_version(&group.metadata.name, &version.version);
                // client-go skips stale versions (an aggregated API server that stopped
                // answering) and reports them as failed.
                if version.freshness == "Stale" {
                    discovery
                        .failed
                        .push((gv, "the discovery information is stale".to_string()));
                    continue;
                }
                let resources = version
                    .resources
                    .into_iter()
                    .map(|r| DiscoveredResource {
                        resource: ResourceType {
                            group: group.metadata.name.clone(),
                            version: version.version.clone(),
                            singular: if r.singular_resource.is_empty() {
                                r.response_kind.kind.to_lowercase()
                            } else {
                                r.singular_resource
                            },
                            plural: r.resource,
                            kind: r.response_kind.kind,
                            short_names: r.short_names,
                            namespaced: r.scope == "Namespaced",
                        },
                        verbs: r.verbs,
                        categories: r.categories,
                    })
                    .collect();
                discovery.group_versions.push(GroupVersion {
                    group: group.metadata.name.clone(),
                    version: version.version,
                    preferred: i == 0,
                    resources,
                });
            }
        }
        Ok(discovery)
    }

    /// Adds the resources of a v1 `APIResourceList` for `group`/`version`.
    pub fn add_resource_list(
        &mut self,
        group: &str,
        version: &str,
        preferred: bool,
        body: &[u8],
    ) -> Result<(), String> {
        let list: ResourceList = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let resources = list
            .resources
            .into_iter()
            // `pods/log`, `deployments/scale`: subresources are not types.
            .filter(|r| !r.name.contains('/'))
            .map(|r| DiscoveredResource {
                resource: ResourceType {
                    group: group.to_string(),
                    version: version.to_string(),
                    singular: if r.singular_name.is_empty() {
                        r.kind.to_lowercase()
                    } else {
                        r.singular_name
                    },
                    plural: r.name,
                    kind: r.kind,
                    short_names: r.short_names,
                    namespaced: r.namespaced,
                },
                verbs: r.verbs,
                categories: r.categories,
            })
            .collect();
        self.group_versions.push(GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
            preferred,
            resources,
        });
        Ok(())
    }

    /// Appends another discovery's group versions (the named groups after the core).
    pub fn extend(&mut self, other: Discovery) {
        self.group_versions.extend(other.group_versions);
        self.failed.extend(other.failed);
    }

    fn all(&self) -> impl Iterator<Item = &DiscoveredResource> {
        self.group_versions
            .iter()
            .flat_map(|gv| gv.resources.iter())
    }

    /// client-go's `ServerPreferredResources`: each resource once, from its group's
    /// preferred version, or from the first other version that has it.
    pub fn preferred_resources(&self) -> Vec<&DiscoveredResource> {
        let mut seen: std::collections::HashSet<(&str, &str)> = Default::default();
        let mut out = Vec::new();
        // Preferred versions first, whatever their position, so they win.
        let preferred_first = self
            .group_versions
            .iter()
            .filter(|gv| gv.preferred)
            .chain(self.group_versions.iter().filter(|gv| !gv.preferred));
        for gv in preferred_first {
            for r in &gv.resources {
                if seen.insert((&r.resource.group, &r.resource.plural)) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Whether `name` is the plural or singular of a core-group type, which no other
    /// group can outrank: resolving it needs no more discovery.
    fn is_core_full_name(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        self.all().any(|r| {
            r.resource.group.is_empty()
                && (r.resource.plural == lower || r.resource.singular == lower)
        })
    }
}

impl ResourceResolver for Discovery {
    fn resolve(&self, name: &str) -> Result<ResourceType, ResolveError> {
        let not_found = || ResolveError::UnknownType {
            name: name.to_string(),
        };
        let lower = name.to_lowercase();
        let name = TypeName::parse(&lower).ok_or_else(not_found)?;
        let resource = name.resource;
        let in_scope = |r: &ResourceType| name.in_scope(&r.group, &r.version);
        let candidates = || self.all().map(|r| &r.resource).filter(|r| in_scope(r));
        // kubectl's order: an exact plural or singular anywhere beats a short name,
        // which beats a kind; within each, the highest-priority group wins.
        candidates()
            .find(|r| r.plural == resource || r.singular == resource)
            .or_else(|| candidates().find(|r| r.short_names.iter().any(|s| s == resource)))
            .or_else(|| candidates().find(|r| r.kind.to_lowercase() == resource))
            .cloned()
            .ok_or_else(not_found)
    }

    fn resolve_kind(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<ResourceType, ResolveError> {
        self.all()
            .map(|r| &r.resource)
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .cloned()
            .ok_or_else(|| ResolveError::UnknownKind {
                kind: kind.to_string(),
                api_version: qualify_version(group, version),
            })
    }
}

/// Fetches discovery when a command first needs it, and falls back to the built-in
/// types when the server will not tell (discovery forbidden or broken), with a warning.
#[derive(Debug, Default)]
pub struct Discoverer {
    core: Option<Discovery>,
    all: Option<Discovery>,
    /// Discovery failed; [`BuiltinResources`] answers instead.
    unavailable: bool,
}

impl Discoverer {
    /// A discoverer that has fetched nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves a type name the user typed, fetching what discovery it needs.
    pub fn resolve(
        &mut self,
        transport: &mut dyn Transport,
        warn: &mut dyn Write,
        name: &str,
    ) -> Result<ResourceType, Error> {
        if !name.contains('.') {
            match self.core(transport, warn)? {
                Some(core) if core.is_core_full_name(name) => return Ok(core.resolve(name)?),
                Some(_) => {}
                None => return Ok(BuiltinResources.resolve(name)?),
            }
        }
        match self.everything(transport, warn)? {
            Some(all) => Ok(all.resolve(name)?),
            None => Ok(BuiltinResources.resolve(name)?),
        }
    }

    /// Resolves the `apiVersion` and `kind` of a manifest.
    pub fn resolve_kind(
        &mut self,
        transport: &mut dyn Transport,
        warn: &mut dyn Write,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<ResourceType, Error> {
        let found = if group.is_empty() {
            self.core(transport, warn)?
        } else {
            self.everything(transport, warn)?
        };
        match found {
            Some(discovery) => Ok(discovery.resolve_kind(group, version, kind)?),
            None => Ok(BuiltinResources.resolve_kind(group, version, kind)?),
        }
    }

    /// Everything the server serves (`api-resources`); `None` if discovery failed and
    /// only the built-in types are known.
    pub fn everything(
        &mut self,
        transport: &mut dyn Transport,
        warn: &mut dyn Write,
    ) -> Result<Option<&Discovery>, Error> {
        if self.all.is_none() && !self.unavailable {
            let Some(core) = self.core(transport, warn)?.cloned() else {
                return Ok(None);
            };
            match fetch_groups(transport) {
                Ok(groups) => {
                    report_failed(&groups, warn)?;
                    let mut all = core;
                    all.extend(groups);
                    self.all = Some(all);
                }
                Err(e) => self.fall_back(e, warn)?,
            }
        }
        Ok(self.all.as_ref())
    }

    fn core(
        &mut self,
        transport: &mut dyn Transport,
        warn: &mut dyn Write,
    ) -> Result<Option<&Discovery>, Error> {
        if self.core.is_none() && !self.unavailable {
            match fetch_core(transport) {
                Ok(core) => {
                    report_failed(&core, warn)?;
                    self.core = Some(core);
                }
                Err(e) => self.fall_back(e, warn)?,
            }
        }
        Ok(self.core.as_ref())
    }

    /// Decides what a discovery failure means: an unreachable server fails the command
    /// (its own request would fail the same way); anything else (forbidden, not found,
    /// a broken document) falls back to the built-in types with a warning.
    fn fall_back(&mut self, error: Error, warn: &mut dyn Write) -> Result<(), Error> {
        match &error {
            Error::Client(e) if e.is_connection_problem() => Err(error),
            _ => {
                self.unavailable = true;
                let reason = error.to_string();
                let reason = reason.strip_prefix("error: ").unwrap_or(&reason);
                writeln!(
                    warn,
                    "Warning: resource discovery failed ({reason}); using the built-in resource types of Kubernetes v1.36"
                )?;
                Ok(())
            }
        }
    }
}

fn report_failed(discovery: &Discovery, warn: &mut dyn Write) -> Result<(), Error> {
    for (gv, reason) in &discovery.failed {
        // kubectl logs the same through klog (`memcache.go`); one plain line is enough.
        writeln!(
            warn,
            "Warning: couldn't get resource list for {gv}: {reason}"
        )?;
    }
    Ok(())
}

/// `GET /api`: aggregated if the server serves it, else `APIVersions` and one
/// `APIResourceList` per version.
pub fn fetch_core(transport: &mut dyn Transport) -> Result<Discovery, Error> {
    fetch_root(
        transport,
        request::discovery_core(),
        "APIVersions",
        |transport, request, body| {
            let versions: ApiVersions = decode(request, body)?;
            let mut discovery = Discovery::default();
            for (i, version) in versions.versions.iter().enumerate() {
                fetch_resource_list(transport, &mut discovery, "", version, i == 0)?;
            }
            Ok(discovery)
        },
    )
}

/// `GET /apis`: aggregated if the server serves it, else `APIGroupList` and one
/// `APIResourceList` per group version.
pub fn fetch_groups(transport: &mut dyn Transport) -> Result<Discovery, Error> {
    fetch_root(
        transport,
        request::discovery_groups(),
        "APIGroupList",
        |transport, request, body| {
            let groups: ApiGroupList = decode(request, body)?;
            let mut discovery = Discovery::default();
            for group in groups.groups {
                let preferred = group.preferred_version.version.clone();
                // The preferred version first: it has priority when resolving.
                let mut versions: Vec<String> =
                    group.versions.into_iter().map(|v| v.version).collect();
                versions.sort_by_key(|v| *v != preferred);
                for version in versions {
                    let is_preferred = version == preferred;
                    fetch_resource_list(
                        transport,
                        &mut discovery,
                        &group.name,
                        &version,
                        is_preferred,
                    )?;
                }
            }
            Ok(discovery)
        },
    )
}

/// Gets a discovery root (`/api`, `/apis`): an aggregated `APIGroupDiscoveryList` when
/// the server serves one, else the older `legacy_kind`, which `legacy` reads (it
/// fetches each version's resources).
fn fetch_root(
    transport: &mut dyn Transport,
    request: Request,
    legacy_kind: &str,
    legacy: impl FnOnce(&mut dyn Transport, &Request, &[u8]) -> Result<Discovery, Error>,
) -> Result<Discovery, Error> {
    let body = get_body(transport, &request)?;
    let head: Kind = decode(&request, &body)?;
    match head.kind.as_str() {
        "APIGroupDiscoveryList" => {
            Discovery::from_aggregated(&body).map_err(|reason| decode_error(&request, reason))
        }
        kind if kind == legacy_kind => legacy(transport, &request, &body),
        other => Err(decode_error(
            &request,
            format!("expected APIGroupDiscoveryList or {legacy_kind}, got kind {other:?}"),
        )),
    }
}

/// Fetches one group version's `APIResourceList`. A server error is recorded as a
/// failed group version (kubectl goes on without it); a transport error stops.
fn fetch_resource_list(
    transport: &mut dyn Transport,
    discovery: &mut Discovery,
    group: &str,
    version: &str,
    preferred: bool,
) -> Result<(), Error> {
    let request = request::discovery_group_version(group, version)?;
    let gv = qualify_version(group, version);
    match get_body(transport, &request) {
        Ok(body) => discovery
            .add_resource_list(group, version, preferred, &body)
            .map_err(|reason| decode_error(&request, reason)),
        Err(Error::Server(status)) => {
            discovery.failed.push((gv, status.message.clone()));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn get_body(transport: &mut dyn Transport, request: &Request) -> Result<Vec<u8>, Error> {
    let mut response = retry::send(transport, request, &RequestContext::NONE)?;
    Ok(response.read_body()?)
}

fn decode<T: DeserializeOwned>(request: &Request, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| decode_error(request, e.to_string()))
}

fn decode_error(request: &Request, reason: String) -> Error {
    Error::Decode {
        request: format!("{} {}", request.method.as_str(), request.path_and_query),
        reason,
    }
}

#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
struct Kind {
    kind: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AggregatedList {
    #[serde(deserialize_with = "nullable")]
    items: Vec<AggregatedGroup>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AggregatedGroup {
    metadata: Name,
    #[serde(deserialize_with = "nullable")]
    versions: Vec<AggregatedVersion>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Name {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AggregatedVersion {
    version: String,
    #[serde(deserialize_with = "nullable")]
    resources: Vec<AggregatedResource>,
    freshness: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AggregatedResource {
    resource: String,
    response_kind: ResponseKind,
    scope: String,
    singular_resource: String,
    #[serde(deserialize_with = "nullable")]
    verbs: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    short_names: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    categories: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResponseKind {
    kind: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiVersions {
    #[serde(deserialize_with = "nullable")]
    versions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ApiGroupList {
    #[serde(deserialize_with = "nullable")]
    groups: Vec<ApiGroup>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ApiGroup {
    name: String,
    #[serde(deserialize_with = "nullable")]
    versions: Vec<VersionRef>,
    preferred_version: VersionRef,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VersionRef {
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResourceList {
    #[serde(deserialize_with = "nullable")]
    resources: Vec<ApiResource>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ApiResource {
    name: String,
    singular_name: String,
    namespaced: bool,
    kind: String,
    #[serde(deserialize_with = "nullable")]
    verbs: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    short_names: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    categories: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientError;
    use crate::testutil::{FakeTransport, fixture_body};

    const AGG_API: &str = include_str!("../../tests/fixtures/discovery-aggregated-api.http");
    const AGG_APIS: &str = include_str!("../../tests/fixtures/discovery-aggregated-apis.http");

    fn aggregated() -> Discovery {
        let mut d = Discovery::from_aggregated(fixture_body(AGG_API)).unwrap();
        d.extend(Discovery::from_aggregated(fixture_body(AGG_APIS)).unwrap());
        d
    }

    const CRD_GROUP: &str = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
        {"metadata":{"name":"example.com"},"versions":[
            {"version":"v2","resources":[{"resource":"widgets","responseKind":{"group":"","version":"","kind":"Widget"},"scope":"Namespaced","singularResource":"widget","verbs":["get","list","watch"],"shortNames":["wd"],"categories":["all"]}],"freshness":"Current"},
            {"version":"v1","resources":[{"resource":"widgets","responseKind":{"group":"","version":"","kind":"Widget"},"scope":"Namespaced","singularResource":"widget","verbs":["get","list"],"shortNames":["wd"]},{"resource":"gadgets","responseKind":{"group":"","version":"","kind":"Gadget"},"scope":"Cluster","singularResource":"gadget","verbs":["get"]}],"freshness":"Current"}]},
        {"metadata":{"name":"metrics.k8s.io"},"versions":[{"version":"v1beta1","resources":[],"freshness":"Stale"}]},
        {"metadata":{"name":"other.io"},"versions":[{"version":"v1","resources":[{"resource":"pods","responseKind":{"group":"","version":"","kind":"Pod"},"scope":"Namespaced","singularResource":"pod","verbs":["get"],"shortNames":["po"]},{"resource":"wd","responseKind":{"group":"","version":"","kind":"Wd"},"scope":"Namespaced","singularResource":"wd","verbs":["get"]}],"freshness":"Current"}]}]}"#;

    #[test]
    fn resolves_short_names_from_aggregated_discovery() {
        let d = aggregated();
        for (name, group, plural) in [
            ("po", "", "pods"),
            ("no", "", "nodes"),
            ("deploy", "apps", "deployments"),
            ("cm", "", "configmaps"),
            ("svc", "", "services"),
            ("ns", "", "namespaces"),
            ("crd", "apiextensions.k8s.io", "customresourcedefinitions"),
            ("Deployment", "apps", "deployments"),
            ("deployments.apps", "apps", "deployments"),
            ("deploy.v1.apps", "apps", "deployments"),
            ("ev", "", "events"),
            ("events.events.k8s.io", "events.k8s.io", "events"),
        ] {
            let rt = d.resolve(name).unwrap();
            assert_eq!(
                (rt.group.as_str(), rt.plural.as_str()),
                (group, plural),
                "{name}"
            );
        }
        let pods = d.resolve("pods").unwrap();
        assert_eq!((pods.kind.as_str(), pods.namespaced), ("Pod", true));
        assert!(!d.resolve("nodes").unwrap().namespaced);
        assert_eq!(d.resolve("hpa").unwrap().version, "v2");
        assert!(matches!(
            d.resolve("deployments.batch"),
            Err(ResolveError::UnknownType { .. })
        ));
    }

    #[test]
    fn aggregated_discovery_agrees_with_the_builtin_table() {
        // The built-in fallback was taken from this server; keep them in step.
        let d = aggregated();
        for builtin in BuiltinResources::all() {
            let found = d
                .resolve(&format!(
                    "{}.{}.{}",
                    builtin.plural, builtin.version, builtin.group
                ))
                .or_else(|_| d.resolve(&builtin.plural));
            assert_eq!(found.as_ref(), Ok(&builtin), "{}", builtin.plural);
        }
    }

    #[test]
    fn resolves_crds_preferring_the_preferred_version_and_full_names_over_short_names() {
        let mut d = Discovery::from_aggregated(fixture_body(AGG_API)).unwrap();
        d.extend(Discovery::from_aggregated(CRD_GROUP.as_bytes()).unwrap());
        let widgets = d.resolve("widget").unwrap();
        assert_eq!(
            (
                widgets.group.as_str(),
                widgets.version.as_str(),
                widgets.kind.as_str()
            ),
            ("example.com", "v2", "Widget")
        );
        assert_eq!(d.resolve("widgets.v1.example.com").unwrap().version, "v1");
        // Only in the non-preferred version: still found.
        assert_eq!(d.resolve("gadget").unwrap().version, "v1");
        // The core group outranks a later group with the same names.
        assert_eq!(d.resolve("po").unwrap().group, "");
        assert_eq!(d.resolve("pods.other.io").unwrap().group, "other.io");
        // A full name beats a short name, even one of an earlier group.
        assert_eq!(d.resolve("wd").unwrap().group, "other.io");
        assert_eq!(
            d.failed,
            [(
                "metrics.k8s.io/v1beta1".to_string(),
                "the discovery information is stale".to_string()
            )]
        );
    }

    #[test]
    fn resolves_kinds_of_manifests_exactly() {
        let d = aggregated();
        let cm = d.resolve_kind("", "v1", "ConfigMap").unwrap();
        assert_eq!(cm.plural, "configmaps");
        assert_eq!(
            d.resolve_kind("apps", "v1", "Deployment").unwrap().plural,
            "deployments"
        );
        let err = d.resolve_kind("apps", "v1beta1", "Deployment").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no matches for kind \"Deployment\" in version \"apps/v1beta1\""
        );
    }

    #[test]
    fn preferred_resources_list_each_resource_once() {
        let mut d = Discovery::default();
        d.extend(Discovery::from_aggregated(CRD_GROUP.as_bytes()).unwrap());
        let names: Vec<(String, String)> = d
            .preferred_resources()
            .iter()
            .map(|r| (r.resource.plural.clone(), r.resource.version.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("widgets".into(), "v2".into()),
                ("pods".into(), "v1".into()),
                ("wd".into(), "v1".into()),
                ("gadgets".into(), "v1".into()),
            ]
        );
    }

    fn v1_transport() -> FakeTransport {
        FakeTransport::new()
            .fixture("/api", include_str!("../../tests/fixtures/api.http"))
            .fixture("/api/v1", include_str!("../../tests/fixtures/api-v1.http"))
            .json(
                "/apis",
                200,
                r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},{"name":"metrics.k8s.io","versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],"preferredVersion":{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}}]}"#,
            )
            .fixture(
                "/apis/apps/v1",
                include_str!("../../tests/fixtures/apis-apps-v1.http"),
            )
            .json(
                "/apis/metrics.k8s.io/v1beta1",
                503,
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}"#,
            )
    }

    #[test]
    fn discovery_falls_back_to_v1_when_v2_not_served() {
        let mut t = v1_transport();
        let mut warn = Vec::new();
        let mut d = Discoverer::new();
        let deploy = d.resolve(&mut t, &mut warn, "deploy").unwrap();
        assert_eq!(
            (deploy.group.as_str(), deploy.plural.as_str()),
            ("apps", "deployments")
        );
        let paths: Vec<&str> = t
            .discovery
            .iter()
            .map(|r| r.path_and_query.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "/api",
                "/api/v1",
                "/apis",
                "/apis/apps/v1",
                "/apis/metrics.k8s.io/v1beta1"
            ]
        );
        assert_eq!(t.discovery[0].header("accept"), Some(ACCEPT_DISCOVERY_V2));
        assert_eq!(
            String::from_utf8(warn).unwrap(),
            "Warning: couldn't get resource list for metrics.k8s.io/v1beta1: the server is currently unable to handle the request\n"
        );
        // Subresources are not types.
        assert!(d.resolve(&mut t, &mut Vec::new(), "pods/log").is_err());
        assert_eq!(
            d.resolve(&mut t, &mut Vec::new(), "po").unwrap().plural,
            "pods"
        );
    }

    #[test]
    fn core_full_names_need_only_the_core_document() {
        let mut t = FakeTransport::new();
        let mut d = Discoverer::new();
        let mut warn = Vec::new();
        assert_eq!(d.resolve(&mut t, &mut warn, "pods").unwrap().plural, "pods");
        assert_eq!(
            d.resolve(&mut t, &mut warn, "Node").unwrap().plural,
            "nodes"
        );
        assert_eq!(t.discovery.len(), 1);
        assert_eq!(
            d.resolve(&mut t, &mut warn, "deploy").unwrap().group,
            "apps"
        );
        assert_eq!(d.resolve(&mut t, &mut warn, "po").unwrap().group, "");
        assert_eq!(t.discovery.len(), 2, "each document is fetched once");
        assert!(warn.is_empty());
    }

    #[test]
    fn forbidden_discovery_falls_back_to_builtin_types_with_a_warning() {
        let mut t = FakeTransport::new().json(
            "/api",
            403,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/api\"","reason":"Forbidden","details":{},"code":403}"#,
        );
        let mut warn = Vec::new();
        let mut d = Discoverer::new();
        assert_eq!(
            d.resolve(&mut t, &mut warn, "deploy").unwrap().group,
            "apps"
        );
        assert_eq!(d.resolve(&mut t, &mut warn, "po").unwrap().group, "");
        assert_eq!(t.discovery.len(), 1);
        assert_eq!(
            String::from_utf8(warn).unwrap(),
            "Warning: resource discovery failed (Error from server (Forbidden): forbidden: User \"system:anonymous\" cannot get path \"/api\"); using the built-in resource types of Kubernetes v1.36\n"
        );
    }

    #[test]
    fn unreachable_server_fails_discovery_without_fallback() {
        let mut t = FakeTransport::new().fail(
            "/api",
            ClientError::Connect("dial tcp 127.0.0.1:6443: connect: connection refused".into()),
        );
        let err = Discoverer::new()
            .resolve(&mut t, &mut Vec::new(), "pods")
            .unwrap_err();
        assert!(matches!(err, Error::Client(ClientError::Connect(_))));
    }
}
