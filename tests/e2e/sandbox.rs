//! The sandbox: the policy decides every request, forbidden tricks are refused before
//! matching, the guest has no filesystem, environment or sockets unless granted, limits
//! stop a guest that misbehaves, and every request is audited.

use std::path::PathBuf;

use crate::harness::{ADVERSARY_GUEST, Cluster, GUEST, Output, run};

const POD_READER_ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: demo
rules:
- apiGroups: [\"\"]
  resources: [\"pods\"]
  verbs: [\"get\", \"list\", \"watch\"]
";

fn write_policy(cluster: &Cluster, yaml: &str) -> PathBuf {
    let path = cluster.home.path().join("policy.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `host run [HOST-ARGS] ADVERSARY ARGS...` against `cluster`, printing one line.
fn adversary(cluster: &Cluster, host_args: &[&str], args: &[&str]) -> Output {
    cluster.run_with(host_args, ADVERSARY_GUEST, args)
}

fn adversary_line(cluster: &Cluster, host_args: &[&str], args: &[&str]) -> String {
    let out = adversary(cluster, host_args, args);
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout.trim_end().to_string()
}

#[test]
fn denies_secrets_by_default_and_prints_the_rule_that_would_allow_it() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "secrets", "-n", "demo"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("denied"), "{out:?}");
    assert!(out.stderr.contains("list secrets"), "{out:?}");
    assert!(out.stderr.contains("secrets"), "{out:?}");
    assert!(out.stderr.contains("verbs:"), "{out:?}");
    assert!(
        !cluster.paths().iter().any(|p| p.contains("secrets")),
        "a secrets request reached the server: {:?}",
        cluster.paths()
    );
}

#[test]
fn default_policy_allows_reading_pods_and_their_logs() {
    let cluster = Cluster::admin();
    assert_eq!(cluster.kubectl(&["get", "pods"]).code(), 0);
    let logs = cluster.kubectl(&["logs", "demo-00001"]);
    assert_eq!(logs.code(), 0, "{logs:?}");
}

#[test]
fn role_policy_confines_the_guest_to_its_namespace_and_resources() {
    let cluster = Cluster::admin();
    let policy = write_policy(&cluster, POD_READER_ROLE);
    let policy = policy.to_str().unwrap();
    let run_with = |args: &[&str]| cluster.run_with(&["--policy", policy], GUEST, args);
    let allowed = run_with(&["get", "pods", "-n", "demo"]);
    assert_eq!(allowed.code(), 0, "{allowed:?}");

    let other_ns = run_with(&["get", "pods", "-n", "kube-system"]);
    assert_eq!(other_ns.code(), 1, "{other_ns:?}");
    assert!(other_ns.stderr.contains("denied"), "{other_ns:?}");

    let nodes = run_with(&["get", "nodes"]);
    assert_eq!(nodes.code(), 1, "{nodes:?}");
    assert!(nodes.stderr.contains("denied"), "{nodes:?}");

    let logs = run_with(&["logs", "demo-00001"]);
    assert_eq!(logs.code(), 1, "pods does not grant pods/log: {logs:?}");
    assert!(logs.stderr.contains("pods/log"), "{logs:?}");
}

#[test]
fn unrestricted_policy_is_announced_on_stderr() {
    let cluster = Cluster::admin();
    let out = adversary(
        &cluster,
        &["--policy", "unrestricted"],
        &["request", "GET", "/api/v1/namespaces/demo/secrets"],
    );
    assert_eq!(out.stdout.trim_end(), "status 200", "{out:?}");
    assert!(out.stderr.contains("unrestricted"), "{out:?}");
}

#[test]
fn rejects_path_tricks_before_matching() {
    let cluster = Cluster::admin();
    for path in [
        "/api/v1/namespaces/demo/pods/../../../api/v1/namespaces/demo/secrets",
        "/api/v1/namespaces/demo/pods/./x",
        "/api/v1//namespaces/demo/pods",
        "/api/v1/namespaces/demo/pods%2F..%2Fsecrets",
        "/api/v1/namespaces/demo/pods/%252e%252e",
        "/api/v1/namespaces/demo/pods/%zz",
        "/api/v1/namespaces/demo/pods?watch=true&watch=false",
        "/api/v1/namespaces/demo/pods?fieldSelector=a%3Db&fieldSelector=c%3Dd",
        "/api/v1/pods\\r\\nHost: evil",
        "https://evil.example/api/v1/pods",
        "//evil.example/api/v1/pods",
    ] {
        let line = adversary_line(&cluster, &[], &["request", "GET", path]);
        assert!(line.starts_with("error invalid-request:"), "{path}: {line}");
    }
    assert!(
        cluster.server.requests().is_empty(),
        "{:?}",
        cluster.paths()
    );
}

#[test]
fn rejects_headers_the_host_owns() {
    let cluster = Cluster::admin();
    for header in [
        "Authorization=Bearer stolen",
        "Impersonate-User=system:admin",
        "Impersonate-Group=system:masters",
        "Cookie=a=b",
        "Host=evil.example",
        "Proxy-Authorization=x",
        "Connection=upgrade",
        "Upgrade=websocket",
        "Transfer-Encoding=chunked",
        "Accept=application/json\\r\\nImpersonate-User: admin",
    ] {
        let line = adversary_line(
            &cluster,
            &[],
            &["request", "GET", "/api/v1/namespaces/demo/pods", header],
        );
        assert!(
            line.starts_with("error invalid-request:"),
            "{header}: {line}"
        );
    }
    assert!(cluster.server.requests().is_empty());
}

#[test]
fn denies_pod_exec_and_port_forward_by_default() {
    let cluster = Cluster::admin();
    for (method, path) in [
        (
            "POST",
            "/api/v1/namespaces/demo/pods/demo-00001/exec?command=sh",
        ),
        (
            "POST",
            "/api/v1/namespaces/demo/pods/demo-00001/portforward",
        ),
        ("GET", "/api/v1/namespaces/demo/pods/demo-00001/proxy"),
        ("POST", "/api/v1/namespaces/demo/configmaps"),
    ] {
        let line = adversary_line(&cluster, &[], &["request", method, path]);
        assert!(line.starts_with("error denied:"), "{path}: {line}");
    }
    assert!(cluster.server.requests().is_empty());
}

#[test]
fn guest_cannot_read_the_service_account_token_through_wasi() {
    let cluster = Cluster::admin();
    let sa_dir = cluster.home.path().join("sa");
    cluster
        .server
        .write_service_account_dir(&sa_dir, "secret-sa-token", "demo")
        .unwrap();
    for path in [
        sa_dir.join("token").to_str().unwrap().to_string(),
        "/var/run/secrets/kubernetes.io/serviceaccount/token".to_string(),
        "/etc/passwd".to_string(),
    ] {
        let line = adversary_line(&cluster, &[], &["read-file", &path]);
        assert!(line.starts_with("error:"), "{path}: {line}");
    }
}

#[test]
fn granted_directory_is_readable_but_not_writable() {
    let cluster = Cluster::admin();
    let dir = cluster.home.path().join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello").unwrap();
    let grant = format!("{}::/data", dir.display());
    let line = adversary_line(
        &cluster,
        &["--dir", &grant],
        &["read-file", "/data/hello.txt"],
    );
    assert_eq!(line, "read 5 bytes");
}

#[test]
fn guest_cannot_open_sockets() {
    let cluster = Cluster::admin();
    let addr = cluster
        .server
        .url()
        .trim_start_matches("https://")
        .to_string();
    let line = adversary_line(&cluster, &[], &["connect", &addr]);
    assert!(line.starts_with("error:"), "{line}");
    assert!(cluster.server.requests().is_empty());
}

#[test]
fn guest_sees_only_the_environment_it_is_given() {
    let cluster = Cluster::admin();
    assert_eq!(adversary_line(&cluster, &[], &["env"]), "");
    assert_eq!(
        adversary_line(&cluster, &["--env", "GREETING=hi"], &["env"]),
        "GREETING=hi"
    );
}

#[test]
fn memory_bomb_is_stopped_with_the_limit_named() {
    let cluster = Cluster::admin();
    let out = adversary(&cluster, &["--max-memory", "64Mi"], &["memory-bomb"]);
    assert_eq!(out.code(), 134, "{out:?}");
    assert!(out.stderr.contains("--max-memory"), "{out:?}");
}

#[test]
fn infinite_loop_is_stopped_by_the_cpu_limit() {
    let cluster = Cluster::admin();
    let out = adversary(&cluster, &["--cpu-limit", "1s"], &["spin"]);
    assert_eq!(out.code(), 134, "{out:?}");
    assert!(out.stderr.contains("--cpu-limit"), "{out:?}");
}

#[test]
fn huge_response_is_cut_off_with_the_limit_named() {
    let cluster = Cluster::admin();
    let line = adversary_line(
        &cluster,
        &["--max-response-bytes", "16Ki"],
        &["read-body", "/api/v1/namespaces/demo/pods"],
    );
    assert!(line.starts_with("body-error limit-exceeded:"), "{line}");
    assert!(line.contains("--max-response-bytes"), "{line}");
    let full = adversary_line(
        &cluster,
        &[],
        &["read-body", "/api/v1/namespaces/demo/pods"],
    );
    assert!(full.starts_with("read "), "{full}");
}

#[test]
fn concurrent_streams_beyond_the_limit_are_refused() {
    let cluster = Cluster::admin();
    let line = adversary_line(
        &cluster,
        &["--max-streams", "2"],
        &[
            "hold-streams",
            "3",
            "/api/v1/namespaces/demo/pods?watch=true&resourceVersion=8384",
        ],
    );
    assert!(line.starts_with("error after 2 limit-exceeded:"), "{line}");
    assert!(line.contains("--max-streams"), "{line}");
}

#[test]
fn audit_log_has_one_json_line_per_request_with_the_decision() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    let audit_arg = audit.to_str().unwrap();
    let listed = cluster.run_with(&["--audit", audit_arg], GUEST, &["get", "pods"]);
    assert_eq!(listed.code(), 0);
    let _ = adversary(
        &cluster,
        &["--audit", audit_arg],
        &["request", "GET", "/api/v1/namespaces/demo/secrets"],
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect();
    let list = lines
        .iter()
        .find(|l| l["resource"] == "pods" && l["verb"] == "list")
        .unwrap_or_else(|| panic!("no pods list in {text}"));
    assert_eq!(list["decision"], "allow");
    assert_eq!(list["namespace"], "demo");
    // The server offers h2 by ALPN, and the host takes it (kube's own client would not).
    assert_eq!(list["http_version"], "HTTP/2.0");
    assert_eq!(list["status"], 200);
    assert!(list["bytes"].as_u64().unwrap() > 0);
    let denied = lines
        .iter()
        .find(|l| l["resource"] == "secrets")
        .unwrap_or_else(|| panic!("no secrets line in {text}"));
    assert_eq!(denied["decision"], "deny");
    assert!(!text.contains(crate::harness::ADMIN_TOKEN));
}

#[test]
fn redirects_are_not_followed() {
    let cluster = Cluster::admin();
    let line = adversary_line(
        &cluster,
        &["--policy", "unrestricted"],
        &["request", "GET", "/redirect-test"],
    );
    assert_eq!(line, "status 302");
    assert_eq!(cluster.paths(), vec!["/redirect-test".to_string()]);
}

#[test]
fn policy_check_answers_allow_or_deny_with_the_rule() {
    let cluster = Cluster::admin();
    let policy = write_policy(&cluster, POD_READER_ROLE);
    let check = |verb: &str, path: &str| {
        let mut cmd = crate::harness::host(cluster.home.path());
        cmd.args(["policy", "check", "--policy"])
            .arg(&policy)
            .args(["--method", verb, "--path", path]);
        run(cmd)
    };
    let allowed = check("GET", "/api/v1/namespaces/demo/pods");
    assert_eq!(allowed.code(), 0, "{allowed:?}");
    assert!(allowed.stdout.starts_with("allow"), "{allowed:?}");
    let denied = check("GET", "/api/v1/namespaces/demo/secrets");
    assert_eq!(denied.code(), 1, "{denied:?}");
    assert!(denied.stdout.starts_with("deny"), "{denied:?}");
    assert!(denied.stdout.contains("secrets"), "{denied:?}");
}
