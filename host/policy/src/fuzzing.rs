//! The entry point shared by the `cargo fuzz` targets (`fuzz/`) and the bounded smoke run
//! in the unit tests: parse arbitrary input as a request and decide it under several
//! policies. It must never panic, and a request the parser accepts must be one the
//! sanity checks accept.

use std::sync::LazyLock;

use crate::{Policy, RequestInfo, sanity};

/// A Role and a ClusterRole with wildcards, `resourceNames`, subresources and
/// non-resource URLs, so every branch of the matcher is reachable.
const FUZZ_POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: demo}
rules:
- apiGroups: [""]
  resources: ["pods", "pods/log", "configmaps"]
  resourceNames: ["a", "b"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps", "*"]
  resources: ["*/scale", "deployments"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- nonResourceURLs: ["/healthz", "/apis/*"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["list"]
"#;

/// Splits `data` into a method (first byte picks one, sometimes a bogus one) and a
/// path-and-query (the rest, lossily as UTF-8), then parses and decides it.
pub fn request(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let methods = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "get", "TRACE",
    ];
    let method = methods[usize::from(selector) % methods.len()];
    let path = String::from_utf8_lossy(rest);
    let sane = sanity::check(method, &path).is_ok();
    let Ok(info) = RequestInfo::parse(method, &path) else {
        return;
    };
    assert!(
        sane,
        "RequestInfo accepted {path:?}, which the sanity checks refuse"
    );
    let _ = info.describe();
    static POLICIES: LazyLock<[Policy; 3]> = LazyLock::new(|| {
        [
            Policy::default_read_only(),
            Policy::unrestricted(),
            Policy::from_yaml_str(FUZZ_POLICY, "fuzz.yaml").expect("the fuzz policy loads"),
        ]
    });
    for policy in POLICIES.iter() {
        match policy.decide(&info) {
            crate::Decision::Allow { rule_text, .. } => assert!(!rule_text.is_empty()),
            crate::Decision::Deny { reason, suggestion } => {
                assert!(reason.starts_with("denied: "), "{reason}");
                // The suggested rule must itself load and allow the request. The one
                // exception: a request under `/apis/core/...` gets a rule for the group
                // "core", which the loader rejects on purpose (people who write `core`
                // mean the core group, `""`) and which no server serves anyway.
                if info.api_group == "core" {
                    continue;
                }
                let fixed = Policy::from_yaml_str(&suggestion.manifest(), "suggestion.yaml")
                    .expect("a suggested manifest loads");
                assert!(
                    fixed.decide(&info).is_allowed(),
                    "the suggestion for {path:?} does not allow it:\n{}",
                    suggestion.manifest()
                );
            }
        }
    }
}

/// Parses arbitrary text as a policy file: errors are fine, panics are not.
pub fn policy_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(policy) = Policy::from_yaml_str(&text, "fuzz.yaml")
        && let Ok(info) = RequestInfo::parse("GET", "/api/v1/namespaces/demo/pods")
    {
        let _ = policy.decide(&info);
    }
}

#[cfg(test)]
mod tests {
    /// A bounded, deterministic stand-in for the fuzzer that runs with the unit tests:
    /// mutations of real request paths from a fixed seed.
    #[test]
    fn parser_and_matcher_survive_mutated_requests() {
        let seeds: &[&str] = &[
            "/api/v1/namespaces/demo/pods?watch=true&resourceVersion=8384",
            "/api/v1/namespaces/demo/pods/web-0/log?follow=true&container=main",
            "/apis/apps/v1/namespaces/demo/deployments/web/scale",
            "/api/v1/watch/namespaces/demo/pods/a",
            "/api/v1/pods?fieldSelector=metadata.name%3Da&limit=5",
            "/api/v1/nodes",
            "/apis/apps",
            "/healthz/etcd",
            "/api/v1/namespaces/demo",
            "/api/v1/namespaces/demo/pods/%2e%2e/x",
        ];
        let alphabet = b"/?&=%.2fFeE:;#\\ abc0\r\n\0*";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..10_000u64 {
            let seed = seeds[(next() % seeds.len() as u64) as usize];
            let mut bytes = vec![(round % 8) as u8];
            bytes.extend_from_slice(seed.as_bytes());
            for _ in 0..(next() % 4) {
                let at = (next() % (bytes.len() as u64)) as usize;
                let c = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    0 => bytes[at.max(1)] = c,
                    1 => bytes.insert(at.max(1), c),
                    _ => {
                        if bytes.len() > 2 {
                            bytes.remove(at.max(1).min(bytes.len() - 1));
                        }
                    }
                }
            }
            super::request(&bytes);
        }
    }
}
