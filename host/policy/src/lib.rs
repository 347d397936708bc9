//! The access policy: which requests a guest may send, decided request by request with
//! Kubernetes RBAC rules.
//!
//! Every request goes through three pure steps:
//! 1. [`sanity::check`] refuses targets the policy and the API server could read differently
//!    (dot and empty segments, `%2F`, double or broken encoding, CR/LF/NUL, duplicate
//!    selector parameters, absolute URLs) with a [`Refusal`];
//! 2. [`RequestInfo::parse`] reads the request as kube-apiserver does (verb, group, version,
//!    namespace, resource, subresource, name, or a non-resource URL);
//! 3. [`Policy::decide`] matches it against [`PolicyRule`]s with RBAC's exact semantics and
//!    returns a [`Decision`]: the rule that allowed it, or the reason and the rule that
//!    would.
//!
//! A policy comes from a file of Role and ClusterRole documents ([`Policy::load`]), or is
//! [`Policy::default_read_only`] (no `--policy`) or [`Policy::unrestricted`].
//!
//! ```
//! use kubewasm_policy::{Decision, Policy, RequestInfo};
//!
//! let policy = Policy::from_yaml_str(
//!     r#"
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: Role
//! metadata: {name: pod-reader, namespace: demo}
//! rules:
//! - apiGroups: [""]
//!   resources: ["pods"]
//!   verbs: ["get", "list", "watch"]
//! "#,
//!     "policy.yaml",
//! )?;
//! let request = RequestInfo::parse("GET", "/api/v1/namespaces/demo/pods/web-0/log")?;
//! match policy.decide(&request) {
//!     Decision::Allow { rule_text, .. } => println!("allowed by {rule_text}"),
//!     Decision::Deny { reason, suggestion } => {
//!         assert_eq!(
//!             reason,
//!             r#"denied: get pods/log "web-0" in namespace "demo": no rule allows it"#
//!         );
//!         println!("{reason}\n{suggestion}");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

#[doc(hidden)]
pub mod fuzzing;
pub mod load;
pub mod rbac;
pub mod request_info;
pub mod sanity;

pub use load::LoadError;
pub use rbac::{Decision, Effect, Grant, Policy, PolicyKind, PolicyRule, Scope, Suggestion};
pub use request_info::RequestInfo;
pub use sanity::Refusal;
