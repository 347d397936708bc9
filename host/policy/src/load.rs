//! Reads a policy file: Role and ClusterRole documents, as operators already write them.
//!
//! A file holds one or more YAML documents separated by `---`, each a `Role` or
//! `ClusterRole` (`rbac.authorization.k8s.io/v1`), or a `List`, `RoleList` or
//! `ClusterRoleList` of them (what `kubectl get roles -o yaml` prints). The policy is the
//! union of every rule, each applying where its document would if bound: a Role's rules in
//! its own namespace, a ClusterRole's everywhere.
//!
//! Fields Kubernetes adds or tools carry (`metadata.labels`, `annotations`, `uid`,
//! `managedFields`, `aggregationRule` next to aggregated `rules`) are ignored. Anything
//! that would make a rule mean something other than what the operator expects is an error
//! that names the file, document, line and field and says how to fix it: an unknown rule
//! field (a typo such as `resourceName` would otherwise silently widen the rule), a binding
//! instead of a role, a Role without a namespace, a ClusterRole with one, or a rule Kubernetes
//! itself would reject.

use std::path::Path;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::rbac::{Grant, Policy, PolicyRule, Scope};

const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";
const ROLE_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "rules", "aggregationRule"];
const LIST_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "items"];
/// YAML 1.1, which Kubernetes' own YAML reader follows, reads these as booleans or numbers;
/// Kubernetes then rejects them where a string belongs, and so do we.
const QUOTE_FIX: &str = "quote the value: YAML reads unquoted yes, no, on, off, y, n, true, \
                         false and numbers as something other than a string";
const RULE_FIELDS: &[&str] = &[
    "verbs",
    "apiGroups",
    "resources",
    "resourceNames",
    "nonResourceURLs",
];

/// Why a policy file could not be used.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("failed to read policy file {path:?}")]
    Read {
        /// The path as given.
        path: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("policy file {file:?} is not valid YAML: {message}")]
    Yaml {
        /// The file name.
        file: String,
        /// The YAML parser's message, with its location.
        message: String,
    },
    /// The file holds no documents.
    #[error(
        "policy file {file:?} is empty: it must hold at least one Role or ClusterRole \
         (or pass --policy unrestricted to allow everything)"
    )]
    Empty {
        /// The file name.
        file: String,
    },
    /// A document is not a usable Role or ClusterRole.
    #[error(
        "policy file {file:?}, document {document}{}, field {field}: {problem}; {fix}",
        line.map(|l| format!(" (line {l})")).unwrap_or_default()
    )]
    Invalid {
        /// The file name.
        file: String,
        /// The document, counting from 1 (empty documents are not counted).
        document: usize,
        /// The line the document starts on, when known.
        line: Option<u64>,
        /// The field path inside the document: `kind`, `rules[1].resourceName`.
        field: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

impl Policy {
    /// Reads a policy file (see the module documentation for its format).
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses policy YAML; `file` names it in errors.
    pub fn from_yaml_str(yaml: &str, file: &str) -> Result<Policy, LoadError> {
        let documents: Vec<serde_saphyr::Spanned<Value>> = serde_saphyr::from_multiple(yaml)
            .map_err(|e| LoadError::Yaml {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        if documents.is_empty() {
            return Err(LoadError::Empty {
                file: file.to_string(),
            });
        }
        let mut grants = Vec::new();
        for (i, doc) in documents.iter().enumerate() {
            let ctx = Ctx {
                file,
                document: i + 1,
                line: Some(doc.referenced.line()).filter(|l| *l > 0),
            };
            object(&ctx, &doc.value, "", &mut grants)?;
        }
        Ok(Policy::new(grants))
    }
}

/// Where in the file we are, for errors.
struct Ctx<'a> {
    file: &'a str,
    document: usize,
    line: Option<u64>,
}

impl Ctx<'_> {
    fn err(&self, field: &str, problem: impl Into<String>, fix: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            file: self.file.to_string(),
            document: self.document,
            line: self.line,
            field: if field.is_empty() {
                "(document)".to_string()
            } else {
                field.to_string()
            },
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// One top-level object or list item; `at` is the field path prefix (`""`, `items[2].`).
fn object(ctx: &Ctx, value: &Value, at: &str, grants: &mut Vec<Grant>) -> Result<(), LoadError> {
    let Value::Object(map) = value else {
        return Err(ctx.err(
            at.trim_end_matches('.'),
            format!(
                "expected a Role or ClusterRole mapping, found {}",
                type_name(value)
            ),
            "each document must be a Role or ClusterRole with apiVersion, kind, metadata and rules",
        ));
    };
    let kind = match map.get("kind") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(ctx.err(
                &format!("{at}kind"),
                format!("expected a string, found {}", type_name(other)),
                "set kind: Role or kind: ClusterRole",
            ));
        }
        None => {
            return Err(ctx.err(
                &format!("{at}kind"),
                "missing",
                "set kind: Role (confined to its namespace) or kind: ClusterRole",
            ));
        }
    };
    match kind {
        "Role" | "ClusterRole" => role(ctx, map, at, kind == "Role", grants),
        "List" | "RoleList" | "ClusterRoleList" if at.is_empty() => {
            let version = if kind == "List" { "v1" } else { RBAC_V1 };
            api_version(ctx, map, at, version)?;
            known_fields(ctx, map, at, LIST_FIELDS, "a list")?;
            let items = string_or_seq(map.get("items"));
            let Some(items) = items else {
                return Err(ctx.err(
                    &format!("{at}items"),
                    "expected a list of Role or ClusterRole objects",
                    "write items: as a YAML list",
                ));
            };
            for (i, item) in items.iter().enumerate() {
                object(ctx, item, &format!("items[{i}]."), grants)?;
            }
            Ok(())
        }
        "RoleBinding" | "ClusterRoleBinding" => Err(ctx.err(
            &format!("{at}kind"),
            format!("a {kind} grants a role to someone; kubewasm takes the roles themselves"),
            "pass only Role and ClusterRole documents: the guest acts as if bound to every one \
             of them",
        )),
        other => Err(ctx.err(
            &format!("{at}kind"),
            format!("{other:?} is not a Role or ClusterRole"),
            "pass only Role and ClusterRole documents (rbac.authorization.k8s.io/v1)",
        )),
    }
}

/// `None` for anything but a sequence; an absent or null field is an empty sequence.
fn string_or_seq(value: Option<&Value>) -> Option<&[Value]> {
    match value {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Array(items)) => Some(items),
        Some(_) => None,
    }
}

fn api_version(ctx: &Ctx, map: &Map<String, Value>, at: &str, want: &str) -> Result<(), LoadError> {
    match map.get("apiVersion") {
        Some(Value::String(v)) if v == want => Ok(()),
        Some(Value::String(v)) if v.starts_with("rbac.authorization.k8s.io/") => Err(ctx.err(
            &format!("{at}apiVersion"),
            format!("{v:?} is no longer served by Kubernetes"),
            format!("use apiVersion: {want} (the rules are written the same way)"),
        )),
        Some(other) => Err(ctx.err(
            &format!("{at}apiVersion"),
            format!("expected {want:?}, found {other}"),
            format!("set apiVersion: {want}"),
        )),
        None => Err(ctx.err(
            &format!("{at}apiVersion"),
            "missing",
            format!("set apiVersion: {want}"),
        )),
    }
}

fn known_fields(
    ctx: &Ctx,
    map: &Map<String, Value>,
    at: &str,
    known: &[&str],
    what: &str,
) -> Result<(), LoadError> {
    if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
        let hint = closest(key, known)
            .map(|k| format!("did you mean {k:?}? "))
            .unwrap_or_default();
        return Err(ctx.err(
            &format!("{at}{key}"),
            format!("unknown field in {what}"),
            format!("{hint}the fields of {what} are {}", known.join(", ")),
        ));
    }
    Ok(())
}

/// The known field a typo most likely meant: same letters ignoring case, or at most two
/// edits away.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| {
            (
                edit_distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur.push(substitute.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn role(
    ctx: &Ctx,
    map: &Map<String, Value>,
    at: &str,
    namespaced: bool,
    grants: &mut Vec<Grant>,
) -> Result<(), LoadError> {
    let kind = if namespaced { "Role" } else { "ClusterRole" };
    api_version(ctx, map, at, RBAC_V1)?;
    known_fields(ctx, map, at, ROLE_FIELDS, &format!("a {kind}"))?;

    let metadata = match map.get("metadata") {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ctx.err(
                &format!("{at}metadata"),
                format!("expected a mapping, found {}", type_name(other)),
                "write metadata: with name (and namespace for a Role)",
            ));
        }
        None => {
            return Err(ctx.err(
                &format!("{at}metadata"),
                "missing",
                format!(
                    "add metadata.name{}",
                    if namespaced {
                        " and metadata.namespace"
                    } else {
                        ""
                    }
                ),
            ));
        }
    };
    let text = |key: &str| -> Result<Option<&str>, LoadError> {
        match metadata.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ctx.err(
                &format!("{at}metadata.{key}"),
                format!("expected a string, found {}", type_name(other)),
                QUOTE_FIX,
            )),
        }
    };
    let name = text("name")?.ok_or_else(|| {
        ctx.err(
            &format!("{at}metadata.name"),
            "missing",
            "add metadata.name: it names the rule in denials and the audit log",
        )
    })?;
    let namespace = text("namespace")?;
    let (scope, label) = match (namespaced, namespace) {
        (true, Some(ns)) => (
            Scope::Namespace(ns.to_string()),
            format!("Role \"{ns}/{name}\""),
        ),
        (true, None) => {
            return Err(ctx.err(
                &format!("{at}metadata.namespace"),
                format!("Role {name:?} has no namespace"),
                "add metadata.namespace: a Role confines the guest to its namespace (use a \
                 ClusterRole to grant across namespaces)",
            ));
        }
        (false, Some(ns)) => {
            return Err(ctx.err(
                &format!("{at}metadata.namespace"),
                format!(
                    "ClusterRole {name:?} has a namespace ({ns:?}), which would not confine it"
                ),
                format!(
                    "use kind: Role to confine the guest to {ns:?}, or remove metadata.namespace"
                ),
            ));
        }
        (false, None) => (Scope::Cluster, format!("ClusterRole {name:?}")),
    };

    let Some(rules) = string_or_seq(map.get("rules")) else {
        return Err(ctx.err(
            &format!("{at}rules"),
            "expected a list of rules",
            "write rules: as a YAML list of rules (- apiGroups: ...)",
        ));
    };
    if rules.is_empty() && map.contains_key("aggregationRule") {
        return Err(ctx.err(
            &format!("{at}aggregationRule"),
            format!(
                "{kind} {name:?} only aggregates other ClusterRoles, which kubewasm cannot see"
            ),
            format!(
                "paste the aggregated rules instead (kubectl get clusterrole {name} -o yaml \
                 prints them under rules:)"
            ),
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        let field = format!("{at}rules[{i}]");
        let rule = policy_rule(ctx, rule, &field, namespaced)?;
        grants.push(Grant {
            rule,
            scope: scope.clone(),
            source: format!("{label} rules[{i}]"),
        });
    }
    Ok(())
}

fn policy_rule(
    ctx: &Ctx,
    value: &Value,
    at: &str,
    namespaced: bool,
) -> Result<PolicyRule, LoadError> {
    let Value::Object(map) = value else {
        return Err(ctx.err(
            at,
            format!("expected a rule mapping, found {}", type_name(value)),
            "write each rule as - apiGroups: [...] / resources: [...] / verbs: [...]",
        ));
    };
    known_fields(ctx, map, &format!("{at}."), RULE_FIELDS, "a rule")?;
    let list = |key: &str| -> Result<Vec<String>, LoadError> {
        let field = format!("{at}.{key}");
        let Some(items) = string_or_seq(map.get(key)) else {
            return Err(ctx.err(
                &field,
                "expected a list of strings",
                format!("write {key}: [\"...\"], even for a single value"),
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(ctx.err(
                    &format!("{field}[{i}]"),
                    format!("expected a string, found {}", type_name(other)),
                    QUOTE_FIX,
                )),
            })
            .collect()
    };
    let rule = PolicyRule {
        verbs: list("verbs")?,
        api_groups: list("apiGroups")?,
        resources: list("resources")?,
        resource_names: list("resourceNames")?,
        non_resource_urls: list("nonResourceURLs")?,
    };

    // The checks of Kubernetes' ValidatePolicyRule, so a file the API server would reject is
    // not accepted here with a different meaning.
    if rule.verbs.is_empty() {
        return Err(ctx.err(
            &format!("{at}.verbs"),
            "a rule needs at least one verb",
            "list the verbs it allows, e.g. verbs: [\"get\", \"list\", \"watch\"]",
        ));
    }
    if !rule.non_resource_urls.is_empty() {
        if namespaced {
            return Err(ctx.err(
                &format!("{at}.nonResourceURLs"),
                "a Role cannot grant non-resource URLs",
                "move this rule to a ClusterRole document",
            ));
        }
        if !rule.api_groups.is_empty()
            || !rule.resources.is_empty()
            || !rule.resource_names.is_empty()
        {
            return Err(ctx.err(
                &format!("{at}.nonResourceURLs"),
                "a rule cannot apply to both resources and non-resource URLs",
                "split it into two rules",
            ));
        }
        return Ok(rule);
    }
    if rule.api_groups.is_empty() {
        return Err(ctx.err(
            &format!("{at}.apiGroups"),
            "a resource rule needs at least one API group",
            "add apiGroups: [\"\"] for the core group (pods, services, ...) or the resource's \
             group, e.g. [\"apps\"]",
        ));
    }
    if let Some(i) = rule.api_groups.iter().position(|g| g == "core") {
        return Err(ctx.err(
            &format!("{at}.apiGroups[{i}]"),
            "there is no API group named \"core\"",
            "write the core group (pods, services, ...) as \"\"",
        ));
    }
    if rule.resources.is_empty() {
        return Err(ctx.err(
            &format!("{at}.resources"),
            "a resource rule needs at least one resource",
            "add resources: [\"pods\"] (or \"*\" for every resource)",
        ));
    }
    Ok(rule)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, RequestInfo};

    const POD_READER: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  namespace: demo
  name: pod-reader
  annotations:
    note: ignored
rules:
- apiGroups: [""]
  resources: ["pods", "pods/log"]
  verbs: ["get", "watch", "list"]
"#;

    const CLUSTER_VIEWER: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: node-viewer
  labels: {team: ops}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {aggregate: "true"}
rules:
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["get", "list"]
- nonResourceURLs: ["/version", "/apis/*"]
  verbs: ["get"]
"#;

    fn allowed(policy: &Policy, method: &str, path: &str) -> bool {
        policy
            .decide(&RequestInfo::parse(method, path).unwrap())
            .is_allowed()
    }

    fn load_err(yaml: &str) -> String {
        Policy::from_yaml_str(yaml, "policy.yaml")
            .expect_err("should not load")
            .to_string()
    }

    #[test]
    fn loads_a_role() {
        let policy = Policy::from_yaml_str(POD_READER, "policy.yaml").unwrap();
        assert_eq!(policy.grants().len(), 1);
        assert_eq!(
            policy.grants()[0].source,
            "Role \"demo/pod-reader\" rules[0]"
        );
        assert!(allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/demo/pods/web-0/log"
        ));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces/other/pods"));
        assert!(!allowed(&policy, "GET", "/api/v1/pods"));
        assert_eq!(policy.confined_namespaces(), Some(vec!["demo"]));
    }

    #[test]
    fn loads_a_cluster_role() {
        let policy = Policy::from_yaml_str(CLUSTER_VIEWER, "policy.yaml").unwrap();
        assert!(allowed(&policy, "GET", "/api/v1/nodes"));
        assert!(allowed(&policy, "GET", "/apis/apps/v1"));
        assert!(allowed(&policy, "GET", "/version"));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces/demo/pods"));
        match policy.decide(&RequestInfo::parse("GET", "/api/v1/nodes/n1").unwrap()) {
            Decision::Allow { rule, rule_text } => {
                assert_eq!(rule, 0);
                assert_eq!(
                    rule_text,
                    "ClusterRole \"node-viewer\" rules[0]: \
                     {apiGroups: [\"\"], resources: [\"nodes\"], verbs: [\"get\", \"list\"]}"
                );
            }
            deny => panic!("{deny:?}"),
        }
    }

    #[test]
    fn loads_multiple_documents_as_a_union() {
        let yaml = format!(
            "{POD_READER}---\n{CLUSTER_VIEWER}---\n{}",
            POD_READER
                .replace("namespace: demo", "namespace: staging")
                .replace("\"pods\", \"pods/log\"", "\"services\"")
        );
        let policy = Policy::from_yaml_str(&yaml, "policy.yaml").unwrap();
        assert_eq!(policy.grants().len(), 4);
        assert!(allowed(&policy, "GET", "/api/v1/namespaces/demo/pods"));
        assert!(allowed(
            &policy,
            "GET",
            "/api/v1/namespaces/staging/services"
        ));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces/staging/pods"));
        assert!(!allowed(&policy, "GET", "/api/v1/namespaces/demo/services"));
        assert!(allowed(&policy, "GET", "/api/v1/nodes"));
        assert_eq!(policy.confined_namespaces(), None);
    }

    #[test]
    fn loads_a_kubectl_list() {
        let yaml = r#"
apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: r, namespace: demo, uid: 1234, managedFields: []}
  rules:
  - apiGroups: ["apps"]
    resources: ["deployments/scale"]
    verbs: ["patch"]
"#;
        let policy = Policy::from_yaml_str(yaml, "policy.yaml").unwrap();
        assert!(allowed(
            &policy,
            "PATCH",
            "/apis/apps/v1/namespaces/demo/deployments/web/scale"
        ));
    }

    #[test]
    fn allows_a_role_with_no_rules() {
        let policy = Policy::from_yaml_str(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: d}\n",
            "p",
        )
        .unwrap();
        assert!(policy.grants().is_empty());
    }

    #[test]
    fn rejects_a_role_binding() {
        let err = load_err(&format!(
            "{POD_READER}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
             metadata: {{name: b, namespace: demo}}\nroleRef: {{kind: Role, name: pod-reader}}\n"
        ));
        assert!(
            err.starts_with("policy file \"policy.yaml\", document 2"),
            "{err}"
        );
        assert!(
            err.contains("field kind: a RoleBinding grants a role"),
            "{err}"
        );
        assert!(
            err.contains("pass only Role and ClusterRole documents"),
            "{err}"
        );
    }

    #[test]
    fn rejects_other_kinds() {
        let err = load_err("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        assert!(
            err.contains("\"ConfigMap\" is not a Role or ClusterRole"),
            "{err}"
        );
        let err = load_err("apiVersion: v1\nmetadata: {name: x}\n");
        assert!(err.contains("field kind: missing"), "{err}");
    }

    #[test]
    fn rejects_a_typo_in_a_rule_field() {
        let err = load_err(&POD_READER.replace("  verbs:", "  resourceName: [\"x\"]\n  verbs:"));
        assert_eq!(
            err,
            "policy file \"policy.yaml\", document 1 (line 2), field rules[0].resourceName: \
             unknown field in a rule; did you mean \"resourceNames\"? the fields of a rule are \
             verbs, apiGroups, resources, resourceNames, nonResourceURLs"
        );
    }

    #[test]
    fn rejects_a_typo_in_a_top_level_field() {
        let err = load_err(&POD_READER.replace("rules:", "rule:"));
        assert!(
            err.contains("field rule: unknown field in a Role; did you mean \"rules\"?"),
            "{err}"
        );
    }

    #[test]
    fn rejects_a_role_without_namespace() {
        let err = load_err(&POD_READER.replace("  namespace: demo\n", ""));
        assert!(
            err.contains("field metadata.namespace: Role \"pod-reader\" has no namespace"),
            "{err}"
        );
    }

    #[test]
    fn rejects_a_cluster_role_with_namespace() {
        let err = load_err(&CLUSTER_VIEWER.replace(
            "  name: node-viewer",
            "  name: node-viewer\n  namespace: demo",
        ));
        assert!(err.contains("use kind: Role to confine the guest"), "{err}");
    }

    #[test]
    fn rejects_non_resource_urls_in_a_role() {
        let err = load_err(&POD_READER.replace(
            "- apiGroups",
            "- nonResourceURLs: [\"/version\"]\n  verbs: [\"get\"]\n- apiGroups",
        ));
        assert!(
            err.contains("field rules[0].nonResourceURLs: a Role cannot grant non-resource URLs"),
            "{err}"
        );
    }

    #[test]
    fn rejects_rules_kubernetes_would_reject() {
        let base = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: c}\nrules:\n";
        for (rule, expect) in [
            (
                "- apiGroups: [\"\"]\n  resources: [pods]\n",
                "rules[0].verbs: a rule needs at least one verb",
            ),
            (
                "- resources: [pods]\n  verbs: [get]\n",
                "rules[0].apiGroups: a resource rule needs at least one API group",
            ),
            (
                "- apiGroups: [\"\"]\n  verbs: [get]\n",
                "rules[0].resources: a resource rule needs at least one resource",
            ),
            (
                "- apiGroups: [\"\"]\n  resources: [pods]\n  nonResourceURLs: [/x]\n  verbs: [get]\n",
                "both resources and non-resource URLs",
            ),
            (
                "- apiGroups: [core]\n  resources: [pods]\n  verbs: [get]\n",
                "there is no API group named \"core\"",
            ),
            (
                "- apiGroups: \"\"\n  resources: [pods]\n  verbs: [get]\n",
                "rules[0].apiGroups: expected a list of strings",
            ),
            (
                "- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, 7]\n",
                "rules[0].verbs[1]: expected a string",
            ),
        ] {
            let err = load_err(&format!("{base}{rule}"));
            assert!(err.contains(expect), "{rule}: {err}");
        }
    }

    #[test]
    fn rejects_unquoted_yaml_booleans_where_strings_belong() {
        let err = load_err(&POD_READER.replace("namespace: demo", "namespace: no"));
        assert!(
            err.contains(
                "field metadata.namespace: expected a string, found a boolean; quote the value"
            ),
            "{err}"
        );
        let err = load_err(&POD_READER.replace("\"list\"]", "\"list\", on]"));
        assert!(
            err.contains("field rules[0].verbs[3]: expected a string, found a boolean"),
            "{err}"
        );
    }

    #[test]
    fn rejects_an_old_api_version() {
        let err = load_err(&POD_READER.replace(
            "rbac.authorization.k8s.io/v1",
            "rbac.authorization.k8s.io/v1beta1",
        ));
        assert!(
            err.contains("use apiVersion: rbac.authorization.k8s.io/v1"),
            "{err}"
        );
    }

    #[test]
    fn rejects_an_aggregation_only_cluster_role() {
        let err = load_err(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\n\
             aggregationRule: {clusterRoleSelectors: []}\n",
        );
        assert!(err.contains("kubectl get clusterrole agg -o yaml"), "{err}");
    }

    #[test]
    fn rejects_empty_and_invalid_yaml() {
        assert!(matches!(
            Policy::from_yaml_str("# nothing\n", "p.yaml"),
            Err(LoadError::Empty { .. })
        ));
        assert!(matches!(
            Policy::from_yaml_str("kind: [unclosed\n", "p.yaml"),
            Err(LoadError::Yaml { .. })
        ));
        // Duplicate keys would make a rule ambiguous.
        assert!(matches!(
            Policy::from_yaml_str(
                &POD_READER.replace("  verbs:", "  verbs: [\"*\"]\n  verbs:"),
                "p.yaml"
            ),
            Err(LoadError::Yaml { .. })
        ));
    }

    #[test]
    fn names_the_document_and_line_of_an_error() {
        let yaml = format!("{POD_READER}---\n{}", POD_READER.replace("verbs:", "verb:"));
        let err = load_err(&yaml);
        assert!(
            err.starts_with(
                "policy file \"policy.yaml\", document 2 (line 15), field rules[0].verb:"
            ),
            "{err}"
        );
    }

    #[test]
    fn reads_a_policy_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, POD_READER).unwrap();
        let policy = Policy::load(&path).unwrap();
        assert_eq!(policy.grants().len(), 1);
        let missing = dir.path().join("missing.yaml");
        let err = Policy::load(&missing).unwrap_err().to_string();
        assert!(err.starts_with("failed to read policy file"), "{err}");
    }
}
