//! Resource types: what `pods`, `deploy` or `crd` mean.
//!
//! [`ResourceResolver`] is the seam: [`crate::discovery::Discovery`] implements it from
//! what the server says it serves (CRDs and aggregated APIs included), and
//! [`BuiltinResources`] from the built-in types of a v1.36 API server, known without
//! asking (the fallback when discovery is forbidden). Nothing else in the crate depends
//! on where a [`ResourceType`] came from.

use std::fmt;

/// A Kubernetes resource type: the names a user may type for it and where its objects
/// live in the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// The API group, empty for the core group (`""`, `apps`, `batch`, ...).
    pub group: String,
    /// The API version within the group (`v1`).
    pub version: String,
    /// The plural resource name used in paths (`pods`).
    pub plural: String,
    /// The singular name (`pod`).
    pub singular: String,
    /// The object kind (`Pod`).
    pub kind: String,
    /// Short names (`po`).
    pub short_names: Vec<String>,
    /// Whether objects live in a namespace (`pods`) or in the cluster (`nodes`).
    pub namespaced: bool,
}

impl ResourceType {
    /// The `apiVersion` of objects of this type: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        qualify_version(&self.group, &self.version)
    }

    /// The path prefix of the group version: `/api/v1` or `/apis/apps/v1`.
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The group-qualified resource as the API server names it in messages: `pods`,
    /// `deployments.apps` (apimachinery's `GroupResource.String()`).
    pub fn group_resource(&self) -> String {
        qualify(&self.plural, &self.group)
    }

    /// The group-qualified lowercase kind kubectl prints before names: `pod`,
    /// `deployment.apps` (as in `-o name` output `pod/demo-00001`).
    pub fn kind_prefix(&self) -> String {
        qualify(&self.kind.to_lowercase(), &self.group)
    }

    /// Whether `name` (already lowercase, without a group) names this type: its plural,
    /// singular, a short name or its kind.
    fn is_named(&self, name: &str) -> bool {
        self.plural == name
            || self.singular == name
            || self.short_names.iter().any(|s| s == name)
            || self.kind.to_lowercase() == name
    }
}

fn qualify(name: &str, group: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

/// A resource type that no known type matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// A name the user typed (`widgets`).
    UnknownType {
        /// What the user typed.
        name: String,
    },
    /// A manifest's `apiVersion` and `kind` (a CRD that is not installed).
    UnknownKind {
        /// The kind.
        kind: String,
        /// The `apiVersion`: `v1`, `example.com/v1`.
        api_version: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // kubectl's wording, so scripts that match on it keep working.
        match self {
            ResolveError::UnknownType { name } => {
                write!(f, "the server doesn't have a resource type \"{name}\"")
            }
            ResolveError::UnknownKind { kind, api_version } => write!(
                f,
                "no matches for kind \"{kind}\" in version \"{api_version}\""
            ),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Turns what a user typed (`po`, `Deployment`, `deployments.apps`,
/// `deployments.v1.apps`) into a [`ResourceType`].
///
/// This is the seam for discovery: a resolver backed by the server's aggregated
/// discovery document implements the same trait.
pub trait ResourceResolver {
    /// Resolves `name`: a plural, singular, short name or kind (case-insensitive),
    /// optionally followed by `.GROUP` or `.VERSION.GROUP`.
    fn resolve(&self, name: &str) -> Result<ResourceType, ResolveError>;

    /// Finds the type of objects with `apiVersion` `group/version` and `kind` (a
    /// manifest's), exactly: kinds are case-sensitive.
    fn resolve_kind(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<ResourceType, ResolveError>;
}

/// The resource types built into a v1.36 API server, known without discovery.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinResources;

impl ResourceResolver for BuiltinResources {
    fn resolve(&self, name: &str) -> Result<ResourceType, ResolveError> {
        let not_found = || ResolveError::UnknownType {
            name: name.to_string(),
        };
        let lower = name.to_lowercase();
        let name = TypeName::parse(&lower).ok_or_else(not_found)?;
        BUILTIN
            .iter()
            .find(|b| name.in_scope(b.group, b.version) && b.to_type().is_named(name.resource))
            .map(Builtin::to_type)
            .ok_or_else(not_found)
    }

    fn resolve_kind(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<ResourceType, ResolveError> {
        BUILTIN
            .iter()
            .find(|b| b.group == group && b.version == version && b.kind == kind)
            .map(Builtin::to_type)
            .ok_or_else(|| ResolveError::UnknownKind {
                kind: kind.to_string(),
                api_version: qualify_version(group, version),
            })
    }
}

/// A type as a user names it, lowercased: `pods`, `deploy.apps` (TYPE.GROUP) or
/// `deployments.v1.apps` (TYPE.VERSION.GROUP).
pub(crate) struct TypeName<'a> {
    /// The plural, singular, short name or kind.
    pub resource: &'a str,
    /// What follows the first dot, if anything.
    qualifier: Option<&'a str>,
}

impl<'a> TypeName<'a> {
    /// Splits a lowercased name; `None` when there is no type before the dot.
    pub fn parse(lower: &'a str) -> Option<Self> {
        let (resource, qualifier) = match lower.split_once('.') {
            Some((resource, qualifier)) => (resource, Some(qualifier)),
            None => (lower, None),
        };
        (!resource.is_empty()).then_some(TypeName {
            resource,
            qualifier,
        })
    }

    /// Whether a type of `group`/`version` is one this name may mean: any without a
    /// qualifier; with one, kubectl tries TYPE.GROUP before TYPE.VERSION.GROUP.
    pub fn in_scope(&self, group: &str, version: &str) -> bool {
        match self.qualifier {
            None => true,
            Some(q) => {
                q == group
                    || q.split_once('.')
                        .is_some_and(|(v, g)| v == version && g == group)
            }
        }
    }
}

/// `group/version`, or just `version` for the core group (an `apiVersion`).
pub(crate) fn qualify_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

impl BuiltinResources {
    /// Every built-in type, core group first, in the order resolution tries them.
    pub fn all() -> impl Iterator<Item = ResourceType> {
        BUILTIN.iter().map(Builtin::to_type)
    }
}

/// One row of the built-in table, in static form.
struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
}

impl Builtin {
    fn to_type(&self) -> ResourceType {
        ResourceType {
            group: self.group.to_string(),
            version: self.version.to_string(),
            plural: self.plural.to_string(),
            singular: self.singular.to_string(),
            kind: self.kind.to_string(),
            short_names: self.short_names.iter().map(|s| s.to_string()).collect(),
            namespaced: self.namespaced,
        }
    }
}

const fn ns(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    short_names: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        singular,
        kind,
        short_names,
        namespaced: true,
    }
}

const fn cluster(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    short_names: &'static [&'static str],
) -> Builtin {
    let mut builtin = ns(group, version, plural, singular, kind, short_names);
    builtin.namespaced = false;
    builtin
}

/// The listable resources of kube-apiserver v1.36 (from its aggregated discovery,
/// preferred versions). The core group comes first so that `events`/`ev` mean the core
/// type, as in kubectl.
#[rustfmt::skip]
const BUILTIN: &[Builtin] = &[
    cluster("", "v1", "componentstatuses", "componentstatus", "ComponentStatus", &["cs"]),
    ns("", "v1", "configmaps", "configmap", "ConfigMap", &["cm"]),
    ns("", "v1", "endpoints", "endpoints", "Endpoints", &["ep"]),
    ns("", "v1", "events", "event", "Event", &["ev"]),
    ns("", "v1", "limitranges", "limitrange", "LimitRange", &["limits"]),
    cluster("", "v1", "namespaces", "namespace", "Namespace", &["ns"]),
    cluster("", "v1", "nodes", "node", "Node", &["no"]),
    ns("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", &["pvc"]),
    cluster("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", &["pv"]),
    ns("", "v1", "pods", "pod", "Pod", &["po"]),
    ns("", "v1", "podtemplates", "podtemplate", "PodTemplate", &[]),
    ns("", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", &["rc"]),
    ns("", "v1", "resourcequotas", "resourcequota", "ResourceQuota", &["quota"]),
    ns("", "v1", "secrets", "secret", "Secret", &[]),
    ns("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", &["sa"]),
    ns("", "v1", "services", "service", "Service", &["svc"]),
    cluster("apiregistration.k8s.io", "v1", "apiservices", "apiservice", "APIService", &[]),
    ns("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", &[]),
    ns("apps", "v1", "daemonsets", "daemonset", "DaemonSet", &["ds"]),
    ns("apps", "v1", "deployments", "deployment", "Deployment", &["deploy"]),
    ns("apps", "v1", "replicasets", "replicaset", "ReplicaSet", &["rs"]),
    ns("apps", "v1", "statefulsets", "statefulset", "StatefulSet", &["sts"]),
    ns("events.k8s.io", "v1", "events", "event", "Event", &["ev"]),
    ns("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", &["hpa"]),
    ns("batch", "v1", "cronjobs", "cronjob", "CronJob", &["cj"]),
    ns("batch", "v1", "jobs", "job", "Job", &[]),
    cluster("certificates.k8s.io", "v1", "certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", &["csr"]),
    cluster("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", &[]),
    ns("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", &["ing"]),
    cluster("networking.k8s.io", "v1", "ipaddresses", "ipaddress", "IPAddress", &["ip"]),
    ns("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", &["netpol"]),
    cluster("networking.k8s.io", "v1", "servicecidrs", "servicecidr", "ServiceCIDR", &[]),
    ns("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", &["pdb"]),
    cluster("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", &[]),
    cluster("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", &[]),
    ns("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", &[]),
    ns("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", &[]),
    cluster("storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", &[]),
    cluster("storage.k8s.io", "v1", "csinodes", "csinode", "CSINode", &[]),
    ns("storage.k8s.io", "v1", "csistoragecapacities", "csistoragecapacity", "CSIStorageCapacity", &[]),
    cluster("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", &["sc"]),
    cluster("storage.k8s.io", "v1", "volumeattachments", "volumeattachment", "VolumeAttachment", &[]),
    cluster("storage.k8s.io", "v1", "volumeattributesclasses", "volumeattributesclass", "VolumeAttributesClass", &["vac"]),
    cluster("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicies", "mutatingadmissionpolicy", "MutatingAdmissionPolicy", &[]),
    cluster("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicybindings", "mutatingadmissionpolicybinding", "MutatingAdmissionPolicyBinding", &[]),
    cluster("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", &[]),
    cluster("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "validatingadmissionpolicy", "ValidatingAdmissionPolicy", &[]),
    cluster("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding", "ValidatingAdmissionPolicyBinding", &[]),
    cluster("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", &[]),
    cluster("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", &["crd", "crds"]),
    cluster("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", &["pc"]),
    ns("coordination.k8s.io", "v1", "leases", "lease", "Lease", &[]),
    cluster("node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", &[]),
    ns("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", &[]),
    cluster("resource.k8s.io", "v1", "deviceclasses", "deviceclass", "DeviceClass", &[]),
    ns("resource.k8s.io", "v1", "resourceclaims", "resourceclaim", "ResourceClaim", &[]),
    ns("resource.k8s.io", "v1", "resourceclaimtemplates", "resourceclaimtemplate", "ResourceClaimTemplate", &[]),
    cluster("resource.k8s.io", "v1", "resourceslices", "resourceslice", "ResourceSlice", &[]),
    cluster("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "flowschema", "FlowSchema", &[]),
    cluster("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "prioritylevelconfiguration", "PriorityLevelConfiguration", &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str) -> Result<ResourceType, ResolveError> {
        BuiltinResources.resolve(name)
    }

    #[test]
    fn resolves_plural_singular_short_name_and_kind_to_the_same_type() {
        for name in ["pods", "pod", "po", "Pod", "PODS"] {
            let rt = resolve(name).unwrap();
            assert_eq!(
                (rt.group.as_str(), rt.plural.as_str()),
                ("", "pods"),
                "{name}"
            );
        }
    }

    #[test]
    fn resolves_short_names_of_grouped_types() {
        let rt = resolve("deploy").unwrap();
        assert_eq!(rt.group, "apps");
        assert_eq!(rt.plural, "deployments");
        assert_eq!(resolve("cj").unwrap().group, "batch");
        assert_eq!(resolve("crd").unwrap().plural, "customresourcedefinitions");
        assert_eq!(resolve("ing").unwrap().group, "networking.k8s.io");
    }

    #[test]
    fn resolves_type_dot_group_and_type_dot_version_dot_group() {
        assert_eq!(resolve("deployments.apps").unwrap().kind, "Deployment");
        assert_eq!(resolve("deploy.apps").unwrap().kind, "Deployment");
        assert_eq!(resolve("deployments.v1.apps").unwrap().kind, "Deployment");
        assert_eq!(
            resolve("events.events.k8s.io").unwrap().group,
            "events.k8s.io"
        );
        assert!(resolve("deployments.batch").is_err());
        assert!(resolve("deployments.v2.apps").is_err());
    }

    #[test]
    fn events_prefer_the_core_group_like_kubectl() {
        assert_eq!(resolve("ev").unwrap().group, "");
        assert_eq!(resolve("events").unwrap().group, "");
    }

    #[test]
    fn unknown_type_errors_like_kubectl() {
        let err = resolve("widgets").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"the server doesn't have a resource type "widgets""#
        );
        assert!(resolve("").is_err());
        assert!(resolve(".apps").is_err());
    }

    #[test]
    fn scope_and_names_of_cluster_and_namespaced_types() {
        let nodes = resolve("no").unwrap();
        assert!(!nodes.namespaced);
        assert_eq!(nodes.group_version_path(), "/api/v1");
        let deploy = resolve("deploy").unwrap();
        assert!(deploy.namespaced);
        assert_eq!(deploy.group_version_path(), "/apis/apps/v1");
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(deploy.group_resource(), "deployments.apps");
        assert_eq!(deploy.kind_prefix(), "deployment.apps");
        assert_eq!(resolve("po").unwrap().kind_prefix(), "pod");
    }

    #[test]
    fn every_builtin_type_resolves_to_itself_by_plural_and_group() {
        for rt in BuiltinResources::all() {
            let name = if rt.group.is_empty() {
                rt.plural.clone()
            } else {
                format!("{}.{}", rt.plural, rt.group)
            };
            assert_eq!(resolve(&name).unwrap(), rt);
        }
    }
}
