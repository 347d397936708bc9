//! RBAC rules and the decision they lead to.
//!
//! Matching is Kubernetes' own (`pkg/apis/rbac/v1/evaluation_helpers.go` and `RuleAllows` in
//! `plugin/pkg/auth/authorizer/rbac/rbac.go`): `*` matches any verb, group, resource (with
//! any subresource) or non-resource URL; `*/scale` matches the `scale` subresource of any
//! resource; `pods` does not match `pods/log`; an empty `resourceNames` matches every name
//! and a non-empty one never matches a request without a name; a non-resource URL ending in
//! `*` matches by prefix.
//!
//! Each rule carries the scope of the document it came from, as if each Role were bound by a
//! RoleBinding in its namespace and each ClusterRole by a ClusterRoleBinding: a rule from a
//! Role only allows resource requests in that namespace, never cluster-scoped or
//! all-namespaces requests and never non-resource URLs.

use std::fmt;

use crate::request_info::RequestInfo;

/// One RBAC rule, as in `rbac.authorization.k8s.io/v1` `PolicyRule`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRule {
    /// Verbs (`get`, `list`, ...) or `*`.
    pub verbs: Vec<String>,
    /// API groups (`""` is the core group) or `*`.
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/log`), `*`, or `*/subresource`.
    pub resources: Vec<String>,
    /// Object names the rule is limited to; empty means every name.
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/version`), `*`, or a prefix ending in `*` (`/healthz/*`).
    pub non_resource_urls: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl PolicyRule {
    /// A resource rule: `apiGroups`, `resources`, `verbs`.
    pub fn resource(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            api_groups: strings(api_groups),
            resources: strings(resources),
            ..PolicyRule::default()
        }
    }

    /// A non-resource rule: `nonResourceURLs`, `verbs`.
    pub fn non_resource(urls: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            non_resource_urls: strings(urls),
            ..PolicyRule::default()
        }
    }

    /// This rule limited to the given object names.
    pub fn with_resource_names(mut self, names: &[&str]) -> PolicyRule {
        self.resource_names = strings(names);
        self
    }

    /// RBAC's `VerbMatches`.
    pub fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    /// RBAC's `APIGroupMatches`.
    pub fn api_group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    /// RBAC's `ResourceMatches`: `combined` is `resource` or `resource/subresource`.
    pub fn resource_matches(&self, combined: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            r == "*"
                || r == combined
                || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
        })
    }

    /// RBAC's `ResourceNameMatches`: an empty list matches every name, including none.
    pub fn resource_name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name)
    }

    /// RBAC's `NonResourceURLMatches`: `*`, exact, or prefix when the rule ends in `*`.
    pub fn non_resource_url_matches(&self, url: &str) -> bool {
        self.non_resource_urls.iter().any(|u| {
            u == "*" || u == url || (u.ends_with('*') && url.starts_with(u.trim_end_matches('*')))
        })
    }

    /// RBAC's `RuleAllows`: whether this rule, by itself, allows the request.
    pub fn allows(&self, info: &RequestInfo) -> bool {
        if info.is_resource_request {
            self.verb_matches(&info.verb)
                && self.api_group_matches(&info.api_group)
                && self.resource_matches(&info.combined_resource(), &info.subresource)
                && self.resource_name_matches(&info.name)
        } else {
            self.verb_matches(&info.verb) && self.non_resource_url_matches(&info.path)
        }
    }

    /// The rule as an item of a Role's `rules:` list, block style:
    ///
    /// ```text
    /// - apiGroups: [""]
    ///   resources: ["pods/log"]
    ///   verbs: ["get"]
    /// ```
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for (i, (key, values)) in self.fields().into_iter().enumerate() {
            out.push_str(if i == 0 { "- " } else { "  " });
            out.push_str(&format!("{key}: {}\n", flow_list(values)));
        }
        out.pop();
        out
    }

    /// The non-empty fields in the order Kubernetes documentation writes them; `verbs`
    /// always, since a rule without verbs is invalid and should show it.
    fn fields(&self) -> Vec<(&'static str, &[String])> {
        let mut fields: Vec<(&'static str, &[String])> = vec![
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ];
        fields.retain(|(_, v)| !v.is_empty());
        fields.push(("verbs", &self.verbs));
        fields
    }
}

/// One line, as a YAML flow mapping: `{apiGroups: [""], resources: ["pods"], verbs: ["get"]}`.
impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{k}: {}", flow_list(v)))
            .collect();
        write!(f, "{{{}}}", fields.join(", "))
    }
}

/// `["a", "b"]`: JSON string syntax is valid YAML and escapes anything odd.
fn flow_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("[{}]", items.join(", "))
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Where a rule applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere, as a ClusterRole bound by a ClusterRoleBinding.
    Cluster,
    /// Only to resource requests in this namespace, as a Role bound in its namespace.
    Namespace(String),
}

/// A rule, where it applies, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The rule.
    pub rule: PolicyRule,
    /// Where it applies.
    pub scope: Scope,
    /// Where it came from, for messages and the audit log: `Role "demo/reader" rules[0]`.
    pub source: String,
}

impl Grant {
    /// Whether this grant allows the request: the rule matches and the request is in scope.
    pub fn allows(&self, info: &RequestInfo) -> bool {
        self.in_scope(info) && self.rule.allows(info)
    }

    fn in_scope(&self, info: &RequestInfo) -> bool {
        match &self.scope {
            Scope::Cluster => true,
            Scope::Namespace(ns) => info.is_resource_request && info.namespace == *ns,
        }
    }

    /// `source: rule`, the text recorded for an allowed request.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.source, self.rule)
    }
}

/// What kind of policy this is, for messages and for the caller's warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// [`Policy::default_read_only`].
    DefaultReadOnly,
    /// [`Policy::unrestricted`].
    Unrestricted,
    /// Rules given by the operator (a policy file or [`Policy::new`]).
    Rules,
}

/// A request the default read-only policy refuses whatever the rules say. RBAC has no
/// negation, so "everything but secrets" cannot be written as rules; these are checked first.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Exclusion {
    /// A resource, with or without a subresource, in every API group.
    Resource(&'static str),
    /// A subresource of any resource in every API group.
    Subresource(&'static str),
}

impl Exclusion {
    fn matches(&self, info: &RequestInfo) -> bool {
        info.is_resource_request
            && match self {
                Exclusion::Resource(r) => info.resource == *r,
                Exclusion::Subresource(s) => info.subresource == *s,
            }
    }

    fn reason(&self) -> String {
        match self {
            Exclusion::Resource(r) => format!("the default read-only policy never allows {r}"),
            Exclusion::Subresource(s) => format!(
                "the default read-only policy never allows the {s:?} subresource (it runs code \
                 in, or opens a connection to, the workload)"
            ),
        }
    }
}

/// Secrets in any group: a custom resource named `secrets` most likely holds secrets too.
/// Subresources in any group that execute code or open a stream or proxy into a workload;
/// with WebSockets they are reached with GET, so a `get` on `*` would otherwise include them
/// (`pods/exec`, `nodes/proxy` — the kubelet API —, `services/proxy`, and KubeVirt's
/// `virtualmachineinstances/console`, `vnc`, `usbredir`, `portforward`).
const DEFAULT_EXCLUSIONS: &[Exclusion] = &[
    Exclusion::Resource("secrets"),
    Exclusion::Subresource("exec"),
    Exclusion::Subresource("attach"),
    Exclusion::Subresource("portforward"),
    Exclusion::Subresource("proxy"),
    Exclusion::Subresource("console"),
    Exclusion::Subresource("vnc"),
    Exclusion::Subresource("usbredir"),
];

/// How to get past the default policy; a policy file replaces it entirely.
const DEFAULT_HINT: &str = "pass --policy FILE with Role or ClusterRole rules that grant it";

/// Non-resource URLs the default read-only policy allows with GET: discovery, OpenAPI,
/// version and health. This is [`IMPLICIT_DISCOVERY_URLS`] (what Kubernetes grants every
/// user) plus the individual health checks (`/healthz/*`, `/readyz/*`, `/livez/*`), which
/// are read-only and which `system:monitoring` grants upstream.
pub const DISCOVERY_URLS: &[&str] = &[
    "/version",
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
    "/healthz",
    "/healthz/*",
    "/readyz",
    "/readyz/*",
    "/livez",
    "/livez/*",
];

/// The non-resource URLs kube-apiserver's bootstrap ClusterRoles `system:discovery` and
/// `system:public-info-viewer` grant every authenticated user (GET only), exactly as
/// `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go` lists them in v1.36.
/// [`Policy::with_implicit_discovery`] adds them to operator rules, so that a Role written
/// as RBAC behaves as it does under RBAC.
pub const IMPLICIT_DISCOVERY_URLS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
    "/version",
    "/version/",
    "/healthz",
    "/livez",
    "/readyz",
];

/// Where the implicit discovery grant says it came from, in decisions and the audit log.
pub const IMPLICIT_DISCOVERY_SOURCE: &str = "implicit ClusterRoles system:discovery and \
     system:public-info-viewer (every authenticated user has them; \
     --no-implicit-discovery turns this off)";

/// The rules a guest runs under, and the decision for each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    grants: Vec<Grant>,
    /// Grants the operator did not write but RBAC gives everyone (discovery): checked
    /// after [`Policy::grants`], and never confining or widening the guest's namespace.
    implicit: Vec<Grant>,
    /// [`Grant::describe`] of each grant, then of each implicit one, rendered once: every
    /// allowed request carries its grant's text, and rendering a rule for each one took
    /// about 2% of an embedder's CPU per guest call (BENCHMARKS.md (e)).
    described: Vec<String>,
    exclusions: &'static [Exclusion],
    kind: PolicyKind,
}

impl Policy {
    /// A policy of the given grants and nothing else: a request no grant allows is denied.
    pub fn new(grants: Vec<Grant>) -> Policy {
        Policy::assemble(grants, &[], PolicyKind::Rules)
    }

    /// The policy of `grants`, with their texts rendered, and no implicit grants yet.
    fn assemble(grants: Vec<Grant>, exclusions: &'static [Exclusion], kind: PolicyKind) -> Policy {
        Policy {
            described: grants.iter().map(Grant::describe).collect(),
            grants,
            implicit: Vec::new(),
            exclusions,
            kind,
        }
    }

    /// Adds GET on [`IMPLICIT_DISCOVERY_URLS`], which kube-apiserver grants every
    /// authenticated user through `system:discovery` and `system:public-info-viewer`,
    /// to a policy of operator rules (the default and unrestricted policies already allow
    /// them). Without it a Role that allows `deployments` could not resolve `deploy`.
    pub fn with_implicit_discovery(mut self) -> Policy {
        if self.kind == PolicyKind::Rules && self.implicit.is_empty() {
            let grant = Grant {
                rule: PolicyRule::non_resource(IMPLICIT_DISCOVERY_URLS, &["get"]),
                scope: Scope::Cluster,
                source: IMPLICIT_DISCOVERY_SOURCE.to_string(),
            };
            self.described.push(grant.describe());
            self.implicit.push(grant);
        }
        self
    }

    /// The grants added by [`Policy::with_implicit_discovery`] (none otherwise); in a
    /// [`Decision::Allow`] they are numbered after [`Policy::grants`].
    pub fn implicit_grants(&self) -> &[Grant] {
        &self.implicit
    }

    /// Allows every request, like the `cluster-admin` ClusterRole; the credential's own
    /// rights still apply at the server. The explicit escape hatch (`--policy unrestricted`).
    pub fn unrestricted() -> Policy {
        let source = |i| format!("unrestricted policy rules[{i}]");
        Policy::assemble(
            vec![
                Grant {
                    rule: PolicyRule::resource(&["*"], &["*"], &["*"]),
                    scope: Scope::Cluster,
                    source: source(0),
                },
                Grant {
                    rule: PolicyRule::non_resource(&["*"], &["*"]),
                    scope: Scope::Cluster,
                    source: source(1),
                },
            ],
            &[],
            PolicyKind::Unrestricted,
        )
    }

    /// The policy when none is given: `get`, `list`, `watch` on every resource in every
    /// group, except `secrets` and the `exec`, `attach`, `portforward`, `proxy`, `console`,
    /// `vnc` and `usbredir` subresources (checked before the rules, since RBAC cannot say
    /// "except"); plus GET on [`DISCOVERY_URLS`]. `pods/log` is allowed: logs are read-only.
    pub fn default_read_only() -> Policy {
        Policy::assemble(
            vec![
                Grant {
                    rule: PolicyRule::resource(&["*"], &["*"], &["get", "list", "watch"]),
                    scope: Scope::Cluster,
                    source: "default read-only policy rules[0] (except secrets, exec, attach, \
                             portforward, proxy, console, vnc, usbredir)"
                        .to_string(),
                },
                Grant {
                    rule: PolicyRule::non_resource(DISCOVERY_URLS, &["get"]),
                    scope: Scope::Cluster,
                    source: "default read-only policy rules[1]".to_string(),
                },
            ],
            DEFAULT_EXCLUSIONS,
            PolicyKind::DefaultReadOnly,
        )
    }

    /// The grants, in the order [`Decision::Allow::rule`] indexes them.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Which kind of policy this is.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The namespaces the guest is confined to, if every grant comes from a Role (empty if
    /// there are no grants); `None` if any grant applies cluster-wide. A caller can default
    /// the guest's namespace from it.
    pub fn confined_namespaces(&self) -> Option<Vec<&str>> {
        let mut namespaces = Vec::new();
        for grant in &self.grants {
            match &grant.scope {
                Scope::Cluster => return None,
                Scope::Namespace(ns) if !namespaces.contains(&ns.as_str()) => {
                    namespaces.push(ns.as_str())
                }
                Scope::Namespace(_) => {}
            }
        }
        Some(namespaces)
    }

    /// Decides one request: allowed by the first grant that allows it, else denied with the
    /// reason and the rule that would allow it.
    pub fn decide(&self, info: &RequestInfo) -> Decision {
        let denied = |why: String| Decision::Deny {
            reason: format!("denied: {}: {why}", info.describe()),
            suggestion: Suggestion::for_request(info),
        };
        if let Some(exclusion) = self.exclusions.iter().find(|e| e.matches(info)) {
            return denied(format!("{}; {DEFAULT_HINT}", exclusion.reason()));
        }
        if let Some((rule, _)) = self
            .grants
            .iter()
            .chain(&self.implicit)
            .enumerate()
            .find(|(_, g)| g.allows(info))
        {
            return Decision::Allow {
                rule,
                rule_text: self.described[rule].clone(),
            };
        }
        let mut why = "no rule allows it".to_string();
        let hints = self.near_misses(info);
        if !hints.is_empty() {
            why.push_str(&format!(" ({})", hints.join("; ")));
        }
        if self.kind == PolicyKind::DefaultReadOnly {
            why.push_str("; the default policy is read-only: ");
            why.push_str(DEFAULT_HINT);
        }
        denied(why)
    }

    /// Grants that would have allowed the request but for its namespace or name, to say
    /// why a rule the operator wrote did not apply.
    fn near_misses(&self, info: &RequestInfo) -> Vec<String> {
        let mut hints = Vec::new();
        for grant in &self.grants {
            let rule = &grant.rule;
            if !info.is_resource_request
                || !rule.verb_matches(&info.verb)
                || !rule.api_group_matches(&info.api_group)
                || !rule.resource_matches(&info.combined_resource(), &info.subresource)
            {
                continue;
            }
            let name_ok = rule.resource_name_matches(&info.name);
            let hint = match (&grant.scope, name_ok) {
                (Scope::Namespace(ns), true) if info.namespace != *ns => {
                    format!("{} allows it only in namespace {ns:?}", grant.source)
                }
                (_, false) if info.name.is_empty() => format!(
                    "{} names resourceNames, which match a {} only with \
                     fieldSelector=metadata.name=NAME",
                    grant.source, info.verb
                ),
                (_, false) => format!(
                    "{} allows it only for resourceNames {}",
                    grant.source,
                    flow_list(&rule.resource_names)
                ),
                _ => continue,
            };
            hints.push(hint);
            if hints.len() == 3 {
                break;
            }
        }
        hints
    }
}

/// What a policy lets a guest do to the cluster, at most: the truth behind an MCP tool's
/// `readOnlyHint` and `destructiveHint` (see [`Policy::effect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Only `get`, `list` and `watch` (and GET/HEAD on non-resource URLs), and none of the
    /// subresources that run code in, or open a connection to, a workload.
    ReadOnly,
    /// Also `create`, and nothing that changes or removes what exists.
    Additive,
    /// Anything more: `update`, `patch`, `delete`, `deletecollection`, `*`, the privilege
    /// verbs (`bind`, `escalate`, `impersonate`, ...), non-resource writes, or any verb on
    /// `exec`, `attach`, `portforward`, `proxy` and the other workload subresources.
    Destructive,
}

/// Verbs that read. Anything else a rule names is a write.
const READ_VERBS: &[&str] = &["get", "list", "watch"];

/// The write verb that only adds: everything else may change or remove what exists.
const ADDITIVE_VERBS: &[&str] = &["create"];

/// Subresources that hand over a workload, whatever the verb: with WebSockets they are
/// reached with GET (`pods/exec`, `nodes/proxy` — the kubelet's API, which can exec —,
/// `services/proxy` — any HTTP call into the service —, KubeVirt's consoles).
const WORKLOAD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "portforward",
    "proxy",
    "console",
    "vnc",
    "usbredir",
];

impl Policy {
    /// The most this policy lets a guest do to the cluster, read from its rules (implicit
    /// grants included) without looking at a request: a rule's verbs, and whether its
    /// `resources` reach a workload subresource that the policy does not exclude. A
    /// `resourceNames` or a namespace does not lower it: one object written is a write.
    ///
    /// This is what MCP tool annotations are derived from, so it errs towards more: `*`
    /// in `resources` reaches `pods/exec`, hence a `get` on `*` is not read-only unless
    /// the policy excludes those subresources (as the default policy does).
    pub fn effect(&self) -> Effect {
        self.grants
            .iter()
            .chain(&self.implicit)
            .map(|grant| self.rule_effect(&grant.rule))
            .max()
            .unwrap_or(Effect::ReadOnly)
    }

    fn rule_effect(&self, rule: &PolicyRule) -> Effect {
        let is_resource_rule = !rule.resources.is_empty();
        let writes = rule.verbs.iter().filter(|verb| {
            if is_resource_rule {
                !READ_VERBS.contains(&verb.as_str())
            } else {
                // Non-resource rules name HTTP methods in lowercase.
                !matches!(verb.as_str(), "get" | "head")
            }
        });
        let mut effect = Effect::ReadOnly;
        for verb in writes {
            if is_resource_rule && ADDITIVE_VERBS.contains(&verb.as_str()) {
                effect = effect.max(Effect::Additive);
            } else {
                return Effect::Destructive;
            }
        }
        let reaches_workload = WORKLOAD_SUBRESOURCES.iter().any(|sub| {
            !self.exclusions.contains(&Exclusion::Subresource(sub))
                && rule
                    .resources
                    .iter()
                    .any(|r| r == "*" || r.rsplit_once('/').is_some_and(|(_, s)| s == *sub))
        });
        if reaches_workload && !rule.verbs.is_empty() {
            return Effect::Destructive;
        }
        effect
    }
}

/// The outcome of [`Policy::decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The request may go to the server.
    Allow {
        /// Index of the grant that allowed it in [`Policy::grants`].
        rule: usize,
        /// That grant, rendered for the audit log: `Role "demo/reader" rules[0]: {...}`.
        rule_text: String,
    },
    /// The request must not be sent.
    Deny {
        /// `denied: get pods/log "web-0" in namespace "demo": no rule allows it`.
        reason: String,
        /// The rule that would allow it.
        suggestion: Suggestion,
    },
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// The smallest general rule that would allow a denied request, and where it must go.
///
/// It never carries `resourceNames`: an operator granting access to one object can add them,
/// but a suggestion limited to the object the guest happened to ask for would be denied
/// again on the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    /// A Role in the request's namespace, or a ClusterRole for cluster-wide requests and
    /// non-resource URLs.
    pub scope: Scope,
    /// The rule.
    pub rule: PolicyRule,
}

impl Suggestion {
    /// The rule that would allow `info`.
    pub fn for_request(info: &RequestInfo) -> Suggestion {
        let verbs = vec![info.verb.clone()];
        if !info.is_resource_request {
            return Suggestion {
                scope: Scope::Cluster,
                rule: PolicyRule {
                    verbs,
                    non_resource_urls: vec![info.path.clone()],
                    ..PolicyRule::default()
                },
            };
        }
        Suggestion {
            scope: if info.namespace.is_empty() {
                Scope::Cluster
            } else {
                Scope::Namespace(info.namespace.clone())
            },
            rule: PolicyRule {
                verbs,
                api_groups: vec![info.api_group.clone()],
                resources: vec![info.combined_resource()],
                ..PolicyRule::default()
            },
        }
    }

    /// The rule as an item of `rules:` (see [`PolicyRule::to_yaml`]).
    pub fn rule_yaml(&self) -> String {
        self.rule.to_yaml()
    }

    /// A complete Role or ClusterRole document holding the rule, ready for `--policy`.
    pub fn manifest(&self) -> String {
        let (kind, namespace) = match &self.scope {
            Scope::Cluster => ("ClusterRole", String::new()),
            Scope::Namespace(ns) => ("Role", format!("\n  namespace: {}", quote(ns))),
        };
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  \
             name: kubewasm-guest{namespace}\nrules:\n{}\n",
            self.rule_yaml()
        )
    }
}

/// `to allow it, add this rule to a Role in namespace "demo":` and the rule's YAML.
impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Scope::Cluster => writeln!(f, "to allow it, add this rule to a ClusterRole:")?,
            Scope::Namespace(ns) => writeln!(
                f,
                "to allow it, add this rule to a Role in namespace {ns:?} (kind: Role):"
            )?,
        }
        f.write_str(&self.rule_yaml())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_of(grants: Vec<Grant>) -> Policy {
        Policy::new(grants).with_implicit_discovery()
    }

    #[test]
    fn default_policy_is_read_only() {
        assert_eq!(Policy::default_read_only().effect(), Effect::ReadOnly);
    }

    #[test]
    fn unrestricted_policy_is_destructive() {
        assert_eq!(Policy::unrestricted().effect(), Effect::Destructive);
    }

    #[test]
    fn reader_role_is_read_only() {
        let policy = policy_of(vec![role(
            "demo",
            PolicyRule::resource(&[""], &["pods", "pods/log"], &["get", "list", "watch"]),
        )]);
        assert_eq!(policy.effect(), Effect::ReadOnly);
    }

    #[test]
    fn create_only_is_additive_and_delete_is_destructive() {
        let create = policy_of(vec![role(
            "demo",
            PolicyRule::resource(&[""], &["configmaps"], &["get", "create"]),
        )]);
        assert_eq!(create.effect(), Effect::Additive);
        for verb in [
            "delete",
            "patch",
            "update",
            "deletecollection",
            "*",
            "bind",
            "escalate",
        ] {
            let policy = policy_of(vec![role(
                "demo",
                PolicyRule::resource(&[""], &["configmaps"], &[verb]),
            )]);
            assert_eq!(policy.effect(), Effect::Destructive, "{verb}");
        }
    }

    #[test]
    fn a_write_limited_to_one_name_is_still_a_write() {
        let policy = policy_of(vec![role(
            "demo",
            PolicyRule::resource(&[""], &["configmaps"], &["update"]).with_resource_names(&["x"]),
        )]);
        assert_eq!(policy.effect(), Effect::Destructive);
    }

    #[test]
    fn get_on_exec_or_proxy_is_not_read_only() {
        for resource in [
            "pods/exec",
            "nodes/proxy",
            "services/proxy",
            "*/attach",
            "*",
        ] {
            let policy = policy_of(vec![cluster(PolicyRule::resource(
                &["*"],
                &[resource],
                &["get"],
            ))]);
            assert_eq!(policy.effect(), Effect::Destructive, "{resource}");
        }
    }

    #[test]
    fn non_resource_post_is_a_write() {
        let policy = policy_of(vec![cluster(PolicyRule::non_resource(
            &["/logs/*"],
            &["post"],
        ))]);
        assert_eq!(policy.effect(), Effect::Destructive);
        let policy = policy_of(vec![cluster(PolicyRule::non_resource(
            &["/metrics"],
            &["get"],
        ))]);
        assert_eq!(policy.effect(), Effect::ReadOnly);
    }

    fn req(method: &str, path: &str) -> RequestInfo {
        RequestInfo::parse(method, path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn allowed(policy: &Policy, method: &str, path: &str) -> bool {
        policy.decide(&req(method, path)).is_allowed()
    }

    fn deny_reason(policy: &Policy, method: &str, path: &str) -> String {
        match policy.decide(&req(method, path)) {
            Decision::Deny { reason, .. } => reason,
            allow => panic!("{method} {path} was allowed: {allow:?}"),
        }
    }

    fn cluster(rule: PolicyRule) -> Grant {
        Grant {
            rule,
            scope: Scope::Cluster,
            source: "ClusterRole \"test\" rules[0]".to_string(),
        }
    }

    fn role(ns: &str, rule: PolicyRule) -> Grant {
        Grant {
            rule,
            scope: Scope::Namespace(ns.to_string()),
            source: format!("Role \"{ns}/test\" rules[0]"),
        }
    }

    /// A resource request with the given attributes, as RBAC's own tests build them.
    fn attrs(verb: &str, group: &str, resource: &str, sub: &str) -> RequestInfo {
        RequestInfo {
            is_resource_request: true,
            verb: verb.to_string(),
            api_group: group.to_string(),
            resource: resource.to_string(),
            subresource: sub.to_string(),
            ..RequestInfo::default()
        }
    }

    fn url(verb: &str, path: &str) -> RequestInfo {
        RequestInfo {
            verb: verb.to_string(),
            path: path.to_string(),
            ..RequestInfo::default()
        }
    }

    #[test]
    fn matches_upstream_rule_cases() {
        // Ported from TestRuleMatches in plugin/pkg/auth/authorizer/rbac/rbac_test.go.
        let star_verb = PolicyRule::resource(&["group1"], &["resource1"], &["*"]);
        let star_group = PolicyRule::resource(&["*"], &["resource1"], &["verb1"]);
        let star_resource = PolicyRule::resource(&["group1"], &["*"], &["verb1"]);
        let tuples = PolicyRule::resource(
            &["group1", "group2"],
            &["resource1", "resource2"],
            &["verb1", "verb2"],
        );
        let sub = PolicyRule::resource(&["*"], &["resource1/subresource1"], &["*"]);
        for verb in ["verb1", "verb2"] {
            for group in ["group1", "group2"] {
                for resource in ["resource1", "resource2"] {
                    let a = attrs(verb, group, resource, "");
                    assert_eq!(
                        star_verb.allows(&a),
                        group == "group1" && resource == "resource1"
                    );
                    assert_eq!(
                        star_group.allows(&a),
                        verb == "verb1" && resource == "resource1"
                    );
                    assert_eq!(
                        star_resource.allows(&a),
                        verb == "verb1" && group == "group1"
                    );
                    assert!(tuples.allows(&a));
                }
            }
        }
        assert!(sub.allows(&attrs("verb1", "group1", "resource1", "subresource1")));
        assert!(!sub.allows(&attrs("verb1", "group2", "resource1", "subresource2")));
        assert!(!sub.allows(&attrs("verb1", "group1", "resource2", "subresource1")));

        let star_url = PolicyRule::non_resource(&["*"], &["verb1"]);
        let sub_path = PolicyRule::non_resource(&["/foo/*"], &["verb1"]);
        let exact = PolicyRule::non_resource(&["/foo", "/foo/bar/one"], &["*"]);
        for (path, in_foo) in [
            ("/foo", false),
            ("/foo/bar", true),
            ("/foo/baz", true),
            ("/foo/bar/one", true),
            ("/foo/baz/one", true),
            ("/notfoo", false),
            ("/notfoo/bar", false),
        ] {
            assert!(star_url.allows(&url("verb1", path)));
            assert!(!star_url.allows(&url("verb2", path)));
            assert_eq!(sub_path.allows(&url("verb1", path)), in_foo, "{path}");
            assert_eq!(
                exact.allows(&url("verb2", path)),
                path == "/foo" || path == "/foo/bar/one"
            );
        }
    }

    #[test]
    fn pods_rule_does_not_match_pods_log() {
        let rule = PolicyRule::resource(&[""], &["pods"], &["get"]);
        assert!(rule.allows(&attrs("get", "", "pods", "")));
        assert!(!rule.allows(&attrs("get", "", "pods", "log")));
        // And the other way round.
        let log = PolicyRule::resource(&[""], &["pods/log"], &["get"]);
        assert!(!log.allows(&attrs("get", "", "pods", "")));
        assert!(log.allows(&attrs("get", "", "pods", "log")));
    }

    #[test]
    fn star_scale_matches_deployments_scale() {
        let rule = PolicyRule::resource(&["apps"], &["*/scale"], &["get", "patch"]);
        let info = req(
            "PATCH",
            "/apis/apps/v1/namespaces/demo/deployments/web/scale",
        );
        assert!(rule.allows(&info));
        assert!(!rule.allows(&req(
            "PATCH",
            "/apis/apps/v1/namespaces/demo/deployments/web"
        )));
        assert!(!rule.allows(&req(
            "GET",
            "/apis/apps/v1/namespaces/demo/deployments/web/status"
        )));
        // `*/scale` needs a subresource: a resource literally named "scale" does not match.
        assert!(!rule.allows(&attrs("get", "apps", "scale", "")));
    }

    #[test]
    fn star_resource_matches_every_subresource() {
        let rule = PolicyRule::resource(&["*"], &["*"], &["get"]);
        assert!(rule.allows(&attrs("get", "", "pods", "exec")));
    }

    #[test]
    fn resource_names_limit_named_requests_and_never_match_unnamed() {
        let rule = PolicyRule::resource(&[""], &["configmaps"], &["get", "list"])
            .with_resource_names(&["app-config"]);
        assert!(rule.allows(&req("GET", "/api/v1/namespaces/demo/configmaps/app-config")));
        assert!(!rule.allows(&req("GET", "/api/v1/namespaces/demo/configmaps/other")));
        assert!(!rule.allows(&req("GET", "/api/v1/namespaces/demo/configmaps")));
    }

    #[test]
    fn field_selector_name_scopes_list_to_resource_names() {
        let policy = Policy::new(vec![role(
            "demo",
            PolicyRule::resource(&[""], &["pods"], &["list", "watch"])
                .with_resource_names(&["web-0"]),
        )]);
        assert!(allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Dweb-0"
        ));
        assert!(allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/demo/pods?watch=1&fieldSelector=metadata.name=web-0"
        ));
        assert!(!allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name=web-1"
        ));
        let reason = deny_reason(&policy, "GET", "/api/v1/namespaces/demo/pods");
        assert!(
            reason.contains("fieldSelector=metadata.name=NAME"),
            "{reason}"
        );
    }

    #[test]
    fn non_resource_star_suffix_is_a_prefix_match() {
        let rule = PolicyRule::non_resource(&["/healthz*"], &["get"]);
        assert!(rule.allows(&url("get", "/healthz")));
        assert!(rule.allows(&url("get", "/healthz/etcd")));
        assert!(rule.allows(&url("get", "/healthzzz")));
        assert!(!rule.allows(&url("get", "/livez")));
    }

    #[test]
    fn non_resource_rules_never_match_resource_requests() {
        let policy = Policy::new(vec![cluster(PolicyRule::non_resource(&["*"], &["*"]))]);
        assert!(!allowed(&policy, "GET", "/api/v1/pods"));
        assert!(allowed(&policy, "GET", "/api/v1"));
    }

    #[test]
    fn denies_pod_exec_by_default() {
        let policy = Policy::default_read_only();
        // WebSocket exec is a GET; SPDY exec is a POST. Both are refused.
        for method in ["GET", "POST"] {
            let reason = deny_reason(
                &policy,
                method,
                "/api/v1/namespaces/demo/pods/web-0/exec?command=sh&stdin=true",
            );
            assert!(reason.contains("\"exec\" subresource"), "{reason}");
        }
    }

    #[test]
    fn denies_attach_portforward_and_proxies_by_default() {
        let policy = Policy::default_read_only();
        for path in [
            "/api/v1/namespaces/demo/pods/web-0/attach",
            "/api/v1/namespaces/demo/pods/web-0/portforward",
            "/api/v1/namespaces/demo/pods/web-0/proxy",
            "/api/v1/namespaces/demo/pods/web-0/proxy/metrics",
            "/api/v1/namespaces/demo/services/web/proxy",
            "/api/v1/nodes/node-1/proxy/configz",
            "/api/v1/proxy/namespaces/demo/pods/web-0",
            "/apis/subresources.kubevirt.io/v1/namespaces/demo/virtualmachineinstances/vm/console",
        ] {
            assert!(!allowed(&policy, "GET", path), "{path}");
        }
    }

    #[test]
    fn denies_secrets_by_default() {
        let policy = Policy::default_read_only();
        for path in [
            "/api/v1/secrets",
            "/api/v1/namespaces/demo/secrets",
            "/api/v1/namespaces/demo/secrets/db?watch=1",
            "/api/v1/namespaces/demo/secrets/db",
        ] {
            let reason = deny_reason(&policy, "GET", path);
            assert!(reason.contains("never allows secrets"), "{reason}");
        }
        assert!(!allowed(
            &policy,
            "GET",
            "/api/v1/watch/namespaces/demo/secrets"
        ));
    }

    #[test]
    fn allows_pod_logs_by_default() {
        let policy = Policy::default_read_only();
        assert!(allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/demo/pods/web-0/log?follow=true&tailLines=10"
        ));
    }

    #[test]
    fn allows_reads_of_everything_else_by_default() {
        let policy = Policy::default_read_only();
        for path in [
            "/api/v1/pods",
            "/api/v1/namespaces/demo/pods?watch=true&resourceVersion=10",
            "/api/v1/namespaces/demo/configmaps/app",
            "/apis/apps/v1/namespaces/demo/deployments/web/scale",
            "/apis/apps/v1/namespaces/demo/deployments/web/status",
            "/api/v1/nodes",
            "/apis/example.com/v1/widgets",
        ] {
            assert!(allowed(&policy, "GET", path), "{path}");
        }
        assert!(allowed(
            &policy,
            "HEAD",
            "/api/v1/namespaces/demo/pods/web-0"
        ));
    }

    #[test]
    fn allows_discovery_by_default() {
        let policy = Policy::default_read_only();
        for path in [
            "/version",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/openapi/v2",
            "/openapi/v3",
            "/openapi/v3/apis/apps/v1",
            "/healthz",
            "/healthz/etcd",
            "/readyz",
            "/livez/ping",
        ] {
            assert!(allowed(&policy, "GET", path), "{path}");
        }
    }

    #[test]
    fn denies_other_non_resource_urls_by_default() {
        let policy = Policy::default_read_only();
        assert!(!allowed(&policy, "GET", "/metrics"));
        assert!(!allowed(&policy, "GET", "/debug/pprof/heap"));
        assert!(!allowed(&policy, "GET", "/logs/kube-apiserver.log"));
        assert!(!allowed(&policy, "POST", "/version"));
    }

    #[test]
    fn denies_writes_by_default() {
        let policy = Policy::default_read_only();
        for (method, path) in [
            ("POST", "/api/v1/namespaces/demo/pods"),
            ("PUT", "/api/v1/namespaces/demo/pods/web-0"),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/demo/deployments/web/scale",
            ),
            ("DELETE", "/api/v1/namespaces/demo/pods/web-0"),
            ("DELETE", "/api/v1/namespaces/demo/pods"),
            (
                "POST",
                "/api/v1/namespaces/demo/serviceaccounts/default/token",
            ),
            ("POST", "/api/v1/namespaces/demo/pods/web-0/eviction"),
        ] {
            let reason = deny_reason(&policy, method, path);
            assert!(
                reason.contains("the default policy is read-only"),
                "{reason}"
            );
        }
    }

    #[test]
    fn role_confines_requests_to_its_namespace() {
        let policy = Policy::new(vec![role(
            "demo",
            PolicyRule::resource(&[""], &["pods", "namespaces"], &["get", "list", "watch"]),
        )]);
        assert!(allowed(&policy, "GET", "/api/v1/namespaces/demo/pods"));
        assert!(allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/demo/pods/web-0"
        ));
        // A namespace is itself in its namespace, as in Kubernetes.
        assert!(allowed(&policy, "GET", "/api/v1/namespaces/demo"));
        let reason = deny_reason(&policy, "GET", "/api/v1/namespaces/prod/pods");
        assert_eq!(
            reason,
            "denied: list pods in namespace \"prod\": no rule allows it \
             (Role \"demo/test\" rules[0] allows it only in namespace \"demo\")"
        );
        // All namespaces, cluster-scoped lists and non-resource URLs are outside any Role.
        assert!(!allowed(&policy, "GET", "/api/v1/pods"));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces"));
        assert!(!allowed(&policy, "GET", "/api/v1/watch/pods"));
        assert!(!allowed(&policy, "GET", "/version"));
        assert_eq!(policy.confined_namespaces(), Some(vec!["demo"]));
    }

    #[test]
    fn roles_in_several_namespaces_each_apply_in_their_own() {
        let policy = Policy::new(vec![
            role("a", PolicyRule::resource(&[""], &["pods"], &["get"])),
            role("b", PolicyRule::resource(&[""], &["services"], &["get"])),
        ]);
        assert!(allowed(&policy, "GET", "/api/v1/namespaces/a/pods/x"));
        assert!(allowed(&policy, "GET", "/api/v1/namespaces/b/services/x"));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces/a/services/x"));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces/b/pods/x"));
        assert_eq!(policy.confined_namespaces(), Some(vec!["a", "b"]));
    }

    #[test]
    fn allows_with_the_first_matching_rule() {
        let policy = Policy::new(vec![
            cluster(PolicyRule::resource(&[""], &["services"], &["get"])),
            cluster(PolicyRule::resource(&[""], &["pods", "pods/log"], &["get"])),
        ]);
        assert_eq!(
            policy.decide(&req("GET", "/api/v1/namespaces/demo/pods/web-0/log")),
            Decision::Allow {
                rule: 1,
                rule_text: "ClusterRole \"test\" rules[0]: \
                            {apiGroups: [\"\"], resources: [\"pods\", \"pods/log\"], verbs: [\"get\"]}"
                    .to_string()
            }
        );
        assert_eq!(policy.confined_namespaces(), None);
    }

    #[test]
    fn implicit_discovery_allows_what_rbac_gives_every_user_and_no_more() {
        let policy = Policy::new(vec![role(
            "demo",
            PolicyRule::resource(&["apps"], &["deployments"], &["get", "list"]),
        )])
        .with_implicit_discovery();
        for path in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps/v1",
            "/apis/stable.example.com/v1",
            "/openapi/v3",
            "/openapi/v3/apis/apps/v1",
            "/version",
            "/healthz",
            "/livez",
            "/readyz",
        ] {
            // ("/version/" is in the list as upstream has it; the host refuses trailing
            // slashes before any rule is consulted.)
            let decision = policy.decide(&req("GET", path));
            let Decision::Allow { rule, rule_text } = decision else {
                panic!("{path} denied: {decision:?}");
            };
            assert_eq!(rule, 1, "{path}");
            assert!(rule_text.contains("system:discovery"), "{rule_text}");
        }
        // Only GET, only these URLs: not the verbose health checks, metrics or logs.
        for (method, path) in [
            ("POST", "/api"),
            ("GET", "/healthz/etcd"),
            ("GET", "/readyz/ping"),
            ("GET", "/metrics"),
            ("GET", "/logs"),
            ("GET", "/debug/pprof"),
        ] {
            assert!(!allowed(&policy, method, path), "{method} {path}");
        }
        // The implicit grant neither confines nor widens the Role's namespace.
        assert_eq!(policy.confined_namespaces(), Some(vec!["demo"]));
        assert!(!allowed(
            &policy,
            "GET",
            "/apis/apps/v1/namespaces/prod/deployments"
        ));
        assert!(allowed(
            &policy,
            "GET",
            "/apis/apps/v1/namespaces/demo/deployments"
        ));
    }

    #[test]
    fn without_implicit_discovery_a_role_denies_discovery() {
        let policy = Policy::new(vec![role(
            "demo",
            PolicyRule::resource(&["apps"], &["deployments"], &["get"]),
        )]);
        assert!(!allowed(&policy, "GET", "/apis"));
        assert!(policy.implicit_grants().is_empty());
        // The built-in policies have discovery already and get no second grant.
        assert!(
            Policy::default_read_only()
                .with_implicit_discovery()
                .implicit_grants()
                .is_empty()
        );
    }

    #[test]
    fn allows_everything_when_unrestricted() {
        let policy = Policy::unrestricted();
        assert_eq!(policy.kind(), PolicyKind::Unrestricted);
        assert!(allowed(
            &policy,
            "POST",
            "/api/v1/namespaces/demo/pods/web-0/exec"
        ));
        assert!(allowed(&policy, "GET", "/api/v1/namespaces/demo/secrets"));
        assert!(allowed(
            &policy,
            "DELETE",
            "/apis/apps/v1/namespaces/demo/deployments"
        ));
        assert!(allowed(&policy, "GET", "/metrics"));
    }

    #[test]
    fn denies_everything_with_no_rules() {
        let policy = Policy::new(Vec::new());
        assert!(!allowed(&policy, "GET", "/version"));
        assert!(!allowed(&policy, "GET", "/api/v1/pods"));
    }

    #[test]
    fn denial_reason_names_the_request() {
        let policy = Policy::new(Vec::new());
        assert_eq!(
            deny_reason(&policy, "GET", "/api/v1/namespaces/demo/pods/web-0/log"),
            "denied: get pods/log \"web-0\" in namespace \"demo\": no rule allows it"
        );
        assert_eq!(
            deny_reason(&policy, "GET", "/api/v1/nodes"),
            "denied: list nodes cluster-wide: no rule allows it"
        );
        assert_eq!(
            deny_reason(&policy, "GET", "/metrics"),
            "denied: get /metrics: no rule allows it"
        );
    }

    #[test]
    fn denial_reason_names_resource_names_that_did_not_match() {
        let policy = Policy::new(vec![cluster(
            PolicyRule::resource(&[""], &["configmaps"], &["get"]).with_resource_names(&["a", "b"]),
        )]);
        let reason = deny_reason(&policy, "GET", "/api/v1/namespaces/demo/configmaps/c");
        assert!(
            reason.ends_with("allows it only for resourceNames [\"a\", \"b\"])"),
            "{reason}"
        );
    }

    #[test]
    fn suggests_role_rule_for_denied_namespaced_request() {
        let policy = Policy::new(Vec::new());
        let Decision::Deny { suggestion, .. } =
            policy.decide(&req("GET", "/api/v1/namespaces/demo/pods/web-0/log"))
        else {
            panic!("allowed")
        };
        assert_eq!(suggestion.scope, Scope::Namespace("demo".to_string()));
        assert_eq!(
            suggestion.rule_yaml(),
            "- apiGroups: [\"\"]\n  resources: [\"pods/log\"]\n  verbs: [\"get\"]"
        );
        assert_eq!(
            suggestion.to_string(),
            "to allow it, add this rule to a Role in namespace \"demo\" (kind: Role):\n\
             - apiGroups: [\"\"]\n  resources: [\"pods/log\"]\n  verbs: [\"get\"]"
        );
        assert_eq!(
            suggestion.manifest(),
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  \
             name: kubewasm-guest\n  namespace: \"demo\"\nrules:\n\
             - apiGroups: [\"\"]\n  resources: [\"pods/log\"]\n  verbs: [\"get\"]\n"
        );
    }

    #[test]
    fn suggests_cluster_role_rule_for_cluster_wide_requests() {
        let s = Suggestion::for_request(&req("PATCH", "/apis/apps/v1/deployments"));
        assert_eq!(s.scope, Scope::Cluster);
        assert!(
            s.to_string()
                .starts_with("to allow it, add this rule to a ClusterRole:\n")
        );
        assert_eq!(
            s.rule_yaml(),
            "- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n  verbs: [\"patch\"]"
        );
        let s = Suggestion::for_request(&req("GET", "/metrics"));
        assert_eq!(
            s.rule_yaml(),
            "- nonResourceURLs: [\"/metrics\"]\n  verbs: [\"get\"]"
        );
        assert!(s.manifest().contains("kind: ClusterRole\n"));
    }

    #[test]
    fn suggestion_omits_resource_names() {
        let s = Suggestion::for_request(&req("DELETE", "/api/v1/namespaces/demo/pods/web-0"));
        assert!(s.rule.resource_names.is_empty());
        assert_eq!(s.rule.verbs, ["delete"]);
    }

    #[test]
    fn suggested_rule_allows_the_denied_request() {
        for (method, path) in [
            ("GET", "/api/v1/namespaces/demo/pods/web-0/log"),
            ("POST", "/api/v1/namespaces/demo/pods/web-0/exec"),
            ("GET", "/api/v1/watch/namespaces/demo/pods"),
            ("DELETE", "/apis/apps/v1/namespaces/demo/deployments"),
            ("GET", "/api/v1/nodes/n1/proxy/stats"),
            ("GET", "/metrics"),
        ] {
            let info = req(method, path);
            let s = Suggestion::for_request(&info);
            let grant = Grant {
                rule: s.rule,
                scope: s.scope,
                source: "suggested".to_string(),
            };
            assert!(
                Policy::new(vec![grant]).decide(&info).is_allowed(),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn rule_yaml_escapes_odd_strings() {
        let rule = PolicyRule::resource(&[""], &["a\"b"], &["get"]);
        assert_eq!(
            rule.to_yaml(),
            "- apiGroups: [\"\"]\n  resources: [\"a\\\"b\"]\n  verbs: [\"get\"]"
        );
    }
}
