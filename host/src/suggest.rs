//! `host policy suggest`: the Role and ClusterRole rules that would allow exactly what an
//! audit log shows a guest doing.
//!
//! Requests are grouped like an operator writes RBAC: per namespace (a Role each) and
//! cluster-wide (one ClusterRole), one rule per API group and resource with the verbs the
//! guest used, and non-resource URLs (discovery, `/version`) in the ClusterRole. Denied
//! requests are included: the point is to see what the guest needs. Names are left out
//! (no `resourceNames`), so the rules are general; narrow them by hand if you want.
//! An agent's log from `host mcp` works the same: its request lines carry the MCP call
//! they belong to (`mcp`), and the line that ends each call (`event`) is skipped.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde::Deserialize;

use crate::policy::PolicyRule;

/// The audit fields the suggestion needs (see [`crate::audit::AuditRecord`]).
#[derive(Debug, Deserialize)]
struct Line {
    verb: String,
    #[serde(rename = "apiGroup", default)]
    api_group: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    namespace: String,
    path: String,
}

/// Builds the YAML documents (Roles first, then a ClusterRole) for the audit lines in
/// `audit` (one JSON object a line). Lines that are not audit records are an error
/// naming the line.
pub fn suggest(audit: &str) -> anyhow::Result<String> {
    // scope ("" = cluster) -> (group, resource) -> verbs
    let mut resources: BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>> =
        BTreeMap::new();
    let mut urls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (number, text) in audit.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let not_a_record = || format!("line {} is not a kubewasm audit record", number + 1);
        let value: serde_json::Value = serde_json::from_str(text).with_context(not_a_record)?;
        // The line that ends an MCP tool call (`"event": "mcp-call"`) is not a request:
        // the requests it made have lines of their own.
        if value.get("event").is_some() {
            continue;
        }
        let line: Line = serde_json::from_value(value).with_context(not_a_record)?;
        if line.resource.is_empty() {
            let path = line.path.split('?').next().unwrap_or_default().to_string();
            urls.entry(path).or_default().insert(line.verb);
            continue;
        }
        let resource = if line.subresource.is_empty() {
            line.resource
        } else {
            format!("{}/{}", line.resource, line.subresource)
        };
        resources
            .entry(line.namespace)
            .or_default()
            .entry((line.api_group, resource))
            .or_default()
            .insert(line.verb);
    }

    let rules_yaml = |rules: &BTreeMap<(String, String), BTreeSet<String>>| {
        rules
            .iter()
            .map(|((group, resource), verbs)| {
                PolicyRule {
                    api_groups: vec![group.clone()],
                    resources: vec![resource.clone()],
                    verbs: verbs.iter().cloned().collect(),
                    ..PolicyRule::default()
                }
                .to_yaml()
            })
            .collect::<Vec<_>>()
    };
    let mut documents = Vec::new();
    for (namespace, rules) in resources.iter().filter(|(ns, _)| !ns.is_empty()) {
        documents.push(format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: kubewasm-guest\n  namespace: {namespace:?}\nrules:\n{}\n",
            rules_yaml(rules).join("\n")
        ));
    }
    let mut cluster_rules = resources.get("").map(rules_yaml).unwrap_or_default();
    for (path, verbs) in &urls {
        cluster_rules.push(
            PolicyRule {
                non_resource_urls: vec![path.clone()],
                verbs: verbs.iter().cloned().collect(),
                ..PolicyRule::default()
            }
            .to_yaml(),
        );
    }
    if !cluster_rules.is_empty() {
        documents.push(format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: kubewasm-guest\nrules:\n{}\n",
            cluster_rules.join("\n")
        ));
    }
    if documents.is_empty() {
        anyhow::bail!("the audit log has no requests");
    }
    Ok(documents.join("---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, RequestInfo};

    const AUDIT: &str = r#"{"time":"t","verb":"list","apiGroup":"","resource":"pods","subresource":"","namespace":"demo","name":"","path":"/api/v1/namespaces/demo/pods","decision":"allow","reason":"","bytes":1,"duration_ms":1}
{"time":"t","verb":"watch","apiGroup":"","resource":"pods","subresource":"","namespace":"demo","name":"","path":"/api/v1/namespaces/demo/pods?watch=true","decision":"allow","reason":"","bytes":1,"duration_ms":1}
{"time":"t","verb":"get","apiGroup":"","resource":"pods","subresource":"log","namespace":"demo","name":"web-0","path":"/api/v1/namespaces/demo/pods/web-0/log","decision":"deny","reason":"","bytes":0,"duration_ms":1}
{"time":"t","verb":"list","apiGroup":"","resource":"nodes","subresource":"","namespace":"","name":"","path":"/api/v1/nodes","decision":"allow","reason":"","bytes":1,"duration_ms":1}
{"time":"t","verb":"get","apiGroup":"","resource":"","subresource":"","namespace":"","name":"","path":"/apis","decision":"allow","reason":"","bytes":1,"duration_ms":1}
"#;

    #[test]
    fn suggested_policy_allows_every_audited_request() {
        let yaml = suggest(AUDIT).unwrap();
        let policy = Policy::from_yaml_str(&yaml, "suggested.yaml").unwrap();
        for (method, path) in [
            ("GET", "/api/v1/namespaces/demo/pods"),
            ("GET", "/api/v1/namespaces/demo/pods?watch=true"),
            ("GET", "/api/v1/namespaces/demo/pods/web-0/log"),
            ("GET", "/api/v1/nodes"),
            ("GET", "/apis"),
        ] {
            let info = RequestInfo::parse(method, path).unwrap();
            assert!(policy.decide(&info).is_allowed(), "{path}\n{yaml}");
        }
        // Nothing more: not secrets, not other namespaces.
        let info = RequestInfo::parse("GET", "/api/v1/namespaces/other/pods").unwrap();
        assert!(!policy.decide(&info).is_allowed());
        assert!(
            yaml.contains("kind: Role") && yaml.contains("kind: ClusterRole"),
            "{yaml}"
        );
    }

    #[test]
    fn an_mcp_agents_log_gives_the_role_it_needed() {
        let log = r#"{"time":"t","verb":"list","apiGroup":"","resource":"pods","subresource":"","namespace":"demo","name":"","path":"/api/v1/namespaces/demo/pods","decision":"allow","reason":"","bytes":1,"duration_ms":1,"mcp":{"tool":"get","request_id":3}}
{"time":"t","verb":"list","apiGroup":"","resource":"secrets","subresource":"","namespace":"demo","name":"","path":"/api/v1/namespaces/demo/secrets","decision":"deny","reason":"","bytes":0,"duration_ms":0,"mcp":{"tool":"kubectl","request_id":"a"}}
{"time":"t","event":"mcp-call","mcp":{"tool":"kubectl","request_id":"a"},"arguments":"{}","exit_code":1,"duration_ms":2}
"#;
        let yaml = suggest(log).unwrap();
        let policy = Policy::from_yaml_str(&yaml, "suggested.yaml").unwrap();
        for path in [
            "/api/v1/namespaces/demo/pods",
            "/api/v1/namespaces/demo/secrets",
        ] {
            let info = RequestInfo::parse("GET", path).unwrap();
            assert!(policy.decide(&info).is_allowed(), "{path}\n{yaml}");
        }
        assert!(!yaml.contains("ClusterRole"), "{yaml}");
    }

    #[test]
    fn names_the_line_that_is_not_an_audit_record() {
        let err = suggest("{\"verb\":\"get\"}\nnot json\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    }
}
