//! `examples/rust-guest`: a custom Rust guest written on the `kubewasm-guest` library,
//! run under its own Role against the fake API server.

use std::path::{Path, PathBuf};

use crate::harness::{Cluster, Output, PODS_NOT_READY_GUEST, READER_TOKEN};

fn role() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .join("examples/rust-guest/pods-not-ready.role.yaml")
}

/// `host run --policy pods-not-ready.role.yaml [HOST-FLAGS...] pods-not-ready.wasm ARGS...`.
fn run_under_role(cluster: &Cluster, host_flags: &[&str], args: &[&str]) -> Output {
    let role = role();
    let mut flags = vec!["--policy", role.to_str().unwrap()];
    flags.extend_from_slice(host_flags);
    cluster.run_with(&flags, PODS_NOT_READY_GUEST, args)
}

#[test]
fn rust_guest_example_lists_pods_not_ready_with_restarts_under_its_role() {
    let cluster = Cluster::admin();
    cluster.add_demo_pod(
        "web-crashing",
        r#"{"nodeName":"node-1","containers":[{"name":"app","image":"nginx"},{"name":"sidecar","image":"envoy"}]}"#,
        r#"{"phase":"Running","conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[{"name":"app","ready":false,"restartCount":4,"image":"nginx","imageID":"","started":false,"state":{}},{"name":"sidecar","ready":true,"restartCount":1,"image":"envoy","imageID":"","started":true,"state":{}}]}"#,
    );
    let before = cluster.paths().len();
    let audit = cluster.home.path().join("audit.jsonl");
    let out = run_under_role(&cluster, &["--audit", audit.to_str().unwrap()], &[]);

    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    // The recorded `demo` namespace has every fifth pod Pending (never started, so no
    // restarts), the others Running and Ready.
    let mut expected: String = (0..50)
        .step_by(5)
        .map(|i| format!("demo-{i:05}: Pending, 0 restarts\n"))
        .collect();
    expected.push_str("web-crashing: Running, 5 restarts\n11 of 51 pods not Ready\n");
    assert_eq!(out.stdout, expected, "{out:?}");
    assert_eq!(
        cluster.paths()[before..],
        ["/api/v1/namespaces/demo/pods?limit=500"]
    );
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(audit.lines().count(), 1, "{audit}");
    assert!(audit.contains(r#""decision":"allow""#), "{audit}");
}

#[test]
fn rust_guest_example_denied_by_its_role_exits_3_with_the_rule_that_would_allow_it() {
    let cluster = Cluster::admin();
    let out = run_under_role(&cluster, &[], &["-n", "kube-system"]);

    assert_eq!(out.code(), 3, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    // What was being done, then the host's text: the request and the rule to add.
    assert!(
        out.stderr.starts_with(
            r#"cannot list pods in kube-system: denied: list pods in namespace "kube-system": "#
        ),
        "{out:?}"
    );
    assert!(
        out.stderr
            .ends_with("- apiGroups: [\"\"]\n  resources: [\"pods\"]\n  verbs: [\"list\"]\n"),
        "{out:?}"
    );
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
}

#[test]
fn rust_guest_example_reports_a_server_refusal_with_its_status_and_exits_4() {
    // The reader ServiceAccount may list pods in `demo` only: the host's default policy
    // lets the request through and the API server's RBAC refuses it.
    let cluster = Cluster::start_with(kubewasm_tests::ServerConfig::default(), READER_TOKEN);
    let out = cluster.run_with(&[], PODS_NOT_READY_GUEST, &["-n", "kube-system"]);

    assert_eq!(out.code(), 4, "{out:?}");
    assert_eq!(
        out.stderr,
        "cannot list pods in kube-system: 403 Forbidden: pods is forbidden: User \"system:serviceaccount:demo:reader\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"\n",
        "{out:?}"
    );
}

#[test]
fn rust_guest_example_usage_error_is_one_line_and_exits_1() {
    let cluster = Cluster::admin();
    let out = run_under_role(&cluster, &[], &["--bogus"]);

    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(
        out.stderr, "error: usage: pods-not-ready [-n NAMESPACE]\n",
        "{out:?}"
    );
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
}
