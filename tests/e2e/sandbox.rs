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
        // Identity headers an authenticating front proxy would trust.
        "X-Remote-User=system:admin",
        "X-Remote-Group=system:masters",
        "X-Remote-Extra-Scopes=all",
        // Method overrides and forwarding headers proxies act on.
        "X-HTTP-Method-Override=DELETE",
        "X-HTTP-Method=DELETE",
        "X-Method-Override=DELETE",
        "Forwarded=for=10.0.0.1",
        "X-Forwarded-For=10.0.0.1",
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
fn a_guest_running_past_the_timeout_is_stopped_with_the_limit_named() {
    let cluster = Cluster::admin();
    // No CPU limit, so only the wall-clock limit can stop it.
    let out = adversary(
        &cluster,
        &["--cpu-limit", "0", "--timeout", "1s"],
        &["spin"],
    );
    assert_eq!(out.code(), 134, "{out:?}");
    assert!(out.stderr.contains("--timeout"), "{out:?}");
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

#[test]
fn grants_that_reach_trusted_state_are_refused_before_the_guest_runs() {
    let cluster = Cluster::admin();
    let home = cluster.home.path();
    let policies = home.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let policy = policies.join("role.yaml");
    std::fs::write(&policy, POD_READER_ROLE).unwrap();
    let logs = home.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let audit = logs.join("audit.jsonl");
    let cache = crate::harness::cache_dir();
    let sa_dir = home.join("sa");
    std::fs::create_dir_all(&sa_dir).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        // HOME holds the kubeconfig in use.
        (
            vec!["--dir-rw".into(), home.display().to_string()],
            "the kubeconfig file",
        ),
        // `..` is resolved first.
        (
            vec!["--dir".into(), format!("{}/logs/..", home.display())],
            "the kubeconfig file",
        ),
        // The compile cache, and a directory inside it.
        (
            vec!["--dir-rw".into(), cache.display().to_string()],
            "cache",
        ),
        (
            vec![
                "--dir-rw".into(),
                format!("{}::/c", cache.join("components").display()),
            ],
            "cache",
        ),
        // The policy file and the audit log.
        (
            vec![
                "--policy".into(),
                policy.display().to_string(),
                "--dir".into(),
                policies.display().to_string(),
            ],
            "the policy file",
        ),
        (
            vec![
                "--audit".into(),
                audit.display().to_string(),
                "--dir-rw".into(),
                logs.display().to_string(),
            ],
            "the audit log",
        ),
        // The ServiceAccount directory, even when the credential is a kubeconfig.
        (
            vec![
                "--service-account-dir".into(),
                sa_dir.display().to_string(),
                "--dir".into(),
                sa_dir.display().to_string(),
            ],
            "the ServiceAccount directory",
        ),
    ];
    for (flags, what) in cases {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let out = cluster.run_with(&flags, GUEST, &["version"]);
        assert_eq!(out.code(), 1, "{flags:?}: {out:?}");
        assert!(out.stderr.contains("refused"), "{flags:?}: {out:?}");
        assert!(out.stderr.contains(what), "{flags:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{flags:?}: the guest ran: {out:?}");
    }
    assert!(
        cluster.server.requests().is_empty(),
        "a guest ran: {:?}",
        cluster.paths()
    );
    // A directory beside the trusted files is still granted.
    let work = home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("hello.txt"), "hello").unwrap();
    let grant = format!("{}::/data", work.display());
    let line = adversary_line(
        &cluster,
        &["--dir-rw", &grant],
        &["read-file", "/data/hello.txt"],
    );
    assert_eq!(line, "read 5 bytes");
}

#[test]
fn a_compiled_guest_planted_under_another_guests_cache_key_is_never_run() {
    // Issue 10's plant: guest A's compiled code written into the cache under the key of
    // guest B, with its seal. Each entry is sealed with its own name, so B is recompiled,
    // not A run.
    let cluster = Cluster::admin();
    let cache = tempfile::tempdir().unwrap();
    let run_in_cache = |wasm: &str, args: &[&str]| {
        let mut cmd = cluster.guest(wasm, args);
        cmd.env("KUBEWASM_CACHE_DIR", cache.path());
        crate::harness::run(cmd)
    };
    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(cache.path().join("components"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    };
    assert_eq!(run_in_cache(GUEST, &["version"]).code(), 0);
    let [kubectl_entry] = entries().try_into().unwrap();
    let out = run_in_cache(ADVERSARY_GUEST, &["request", "GET", "/version"]);
    assert_eq!(out.stdout.trim_end(), "status 200", "{out:?}");
    let adversary_entry = entries().into_iter().find(|e| *e != kubectl_entry).unwrap();
    std::fs::copy(&kubectl_entry, &adversary_entry).unwrap();
    // Its seal beside it too: the seal is over the entry's name as well as its bytes.
    let seal = |entry: &PathBuf| {
        let mut path = entry.clone().into_os_string();
        path.push(".seal");
        PathBuf::from(path)
    };
    std::fs::copy(seal(&kubectl_entry), seal(&adversary_entry)).unwrap();
    // Run as the adversary: its own code answers, not the planted kubectl guest.
    let out = run_in_cache(ADVERSARY_GUEST, &["request", "GET", "/version"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.trim_end(), "status 200", "{out:?}");
}

#[test]
fn apply_of_a_file_without_a_granted_directory_says_how_to_grant_it() {
    let cluster = Cluster::admin();
    let work = cluster.home.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-from-file\n",
    )
    .unwrap();
    let mut cmd = cluster.guest(GUEST, &["apply", "-f", "cm.yaml"]);
    cmd.current_dir(&work);
    let out = run(cmd);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("the guest has no filesystem")
            && out.stderr.contains("--dir")
            && out.stderr.contains("-f -"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("os error"), "{out:?}");
    // With the directory granted, the same file applies.
    let grant = format!("{}::/work", work.display());
    let out = cluster.run_with(
        &["--dir", &grant, "--policy", "unrestricted"],
        GUEST,
        &["apply", "-f", "/work/cm.yaml"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
}

const DEPLOYMENT_READER_ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: deployment-reader
  namespace: demo
rules:
- apiGroups: [\"apps\"]
  resources: [\"deployments\"]
  verbs: [\"get\", \"list\"]
";

const CRONTAB_READER_ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: crontab-reader
  namespace: demo
rules:
- apiGroups: [\"stable.example.com\"]
  resources: [\"crontabs\"]
  verbs: [\"get\", \"list\", \"watch\"]
";

fn audit_records(path: &std::path::Path) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let records = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect();
    (text, records)
}

#[test]
fn role_policy_gets_discovery_from_the_implicit_system_discovery_grant() {
    let cluster = Cluster::admin();
    let policy = write_policy(&cluster, DEPLOYMENT_READER_ROLE);
    let audit = cluster.home.path().join("audit.jsonl");
    let out = cluster.run_with(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
        ],
        GUEST,
        &["get", "deploy", "-n", "demo"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!out.stderr.contains("Warning"), "{out:?}");
    assert!(
        cluster
            .paths()
            .iter()
            .any(|p| p.starts_with("/apis/apps/v1/namespaces/demo/deployments")),
        "{:?}",
        cluster.paths()
    );
    let (text, records) = audit_records(&audit);
    let discovery: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p == "/api" || p == "/apis" || p.starts_with("/apis?"))
        })
        .collect();
    assert!(
        !discovery.is_empty(),
        "no discovery request audited: {text}"
    );
    for r in discovery {
        assert_eq!(r["decision"], "allow", "{text}");
        assert!(
            r.to_string().contains("system:discovery"),
            "discovery not attributed to the implicit grant: {r}"
        );
    }
}

#[test]
fn role_policy_lists_custom_resources_by_short_name() {
    let cluster = Cluster::admin();
    let policy = write_policy(&cluster, CRONTAB_READER_ROLE);
    let out = cluster.run_with(
        &["--policy", policy.to_str().unwrap()],
        GUEST,
        &["get", "ct", "-n", "demo"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!out.stderr.contains("Warning"), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(lines[0].starts_with("NAME"), "{out:?}");
    assert!(lines[0].contains("AGE"), "{out:?}");
    for (line, name) in lines[1..].iter().zip(["backup", "cache-warmer", "report"]) {
        assert!(line.starts_with(name), "{out:?}");
    }
}

#[test]
fn without_implicit_discovery_a_role_falls_back_to_built_in_types_with_a_warning() {
    let cluster = Cluster::admin();
    let policy = write_policy(&cluster, DEPLOYMENT_READER_ROLE);
    let policy = policy.to_str().unwrap();
    let audit = cluster.home.path().join("audit.jsonl");
    let out = cluster.run_with(
        &[
            "--policy",
            policy,
            "--no-implicit-discovery",
            "--audit",
            audit.to_str().unwrap(),
        ],
        GUEST,
        &["get", "deploy", "-n", "demo"],
    );
    // Discovery is denied before it reaches the server; `deploy` is still resolved from the
    // built-in types, so the list itself goes out and succeeds.
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .starts_with("Warning: resource discovery failed (denied: get /api"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("using the built-in resource types of Kubernetes v1.36"),
        "{out:?}"
    );
    assert_eq!(
        cluster.paths(),
        ["/apis/apps/v1/namespaces/demo/deployments?limit=500"]
    );
    let (text, records) = audit_records(&audit);
    let api = records
        .iter()
        .find(|r| r["path"] == "/api")
        .unwrap_or_else(|| panic!("no /api record in {text}"));
    assert_eq!(api["decision"], "deny", "{text}");
    assert!(!text.contains("system:discovery"), "{text}");

    // A custom resource is only known through discovery.
    let crontabs = write_policy(&cluster, CRONTAB_READER_ROLE);
    let ct = cluster.run_with(
        &[
            "--policy",
            crontabs.to_str().unwrap(),
            "--no-implicit-discovery",
        ],
        GUEST,
        &["get", "ct", "-n", "demo"],
    );
    assert_ne!(ct.code(), 0, "{ct:?}");
    assert!(
        ct.stderr.contains("Warning: resource discovery failed"),
        "{ct:?}"
    );
}

#[test]
fn policy_check_names_the_implicit_discovery_grant_unless_turned_off() {
    let cluster = Cluster::admin();
    let policy = write_policy(&cluster, DEPLOYMENT_READER_ROLE);
    let check = |extra: &[&str]| {
        let mut cmd = crate::harness::host(cluster.home.path());
        cmd.args(["policy", "check", "--policy"])
            .arg(&policy)
            .args(["--method", "GET", "--path", "/apis"])
            .args(extra);
        run(cmd)
    };
    let allowed = check(&[]);
    assert_eq!(allowed.code(), 0, "{allowed:?}");
    assert!(
        allowed.stdout.starts_with("allow: get /apis\n"),
        "{allowed:?}"
    );
    assert!(
        allowed
            .stdout
            .contains("by implicit ClusterRoles system:discovery and system:public-info-viewer"),
        "{allowed:?}"
    );
    assert!(
        allowed.stdout.contains("implicit grant in this policy:"),
        "{allowed:?}"
    );
    let denied = check(&["--no-implicit-discovery"]);
    assert_eq!(denied.code(), 1, "{denied:?}");
    assert!(
        denied
            .stdout
            .starts_with("deny: denied: get /apis: no rule allows it"),
        "{denied:?}"
    );
    assert!(!denied.stdout.contains("system:discovery"), "{denied:?}");
}

#[test]
fn request_side_limits_refuse_one_byte_over_and_name_the_flag() {
    let cluster = Cluster::admin();
    let path = "/api/v1/namespaces/demo/configmaps";
    let big = |count: &str, size: &str, body: &str| {
        adversary_line(
            &cluster,
            &["--policy", "unrestricted"],
            &["big-request", count, size, body, path],
        )
    };
    for (args, flag) in [
        (["0", "0", "3145729"], "--max-request-body-bytes"),
        (["65", "1", "0"], "--max-request-headers"),
        (["20", "60000", "0"], "--max-request-header-bytes"),
    ] {
        let line = big(args[0], args[1], args[2]);
        assert!(
            line.starts_with("error limit-exceeded:") && line.contains(flag),
            "{args:?}: {line}"
        );
    }
    let long_path = format!(
        "/api/v1/namespaces/demo/pods?labelSelector={}",
        "a".repeat(70_000)
    );
    let line = adversary_line(&cluster, &[], &["request", "GET", &long_path]);
    assert!(line.contains("--max-path-bytes"), "{line}");
    assert!(
        cluster.server.requests().is_empty(),
        "an oversized request reached the server: {:?}",
        cluster.paths()
    );
    // At the limits the request goes through (the server answers it).
    let line = big("64", "1", "3145728");
    assert!(line.starts_with("status "), "{line}");
}

#[test]
fn refused_requests_take_their_turn_at_the_rate_limit() {
    let cluster = Cluster::admin();
    let started = std::time::Instant::now();
    let line = adversary_line(
        &cluster,
        &["--qps", "20", "--burst", "1"],
        &["flood", "21", "GET", "/api/v1/namespaces/demo/secrets"],
    );
    assert_eq!(line, "refused 21 of 21");
    // 20 refusals past the burst at 20 per second: at least a second, as for requests
    // that are sent (a lower bound on the pacing, not a speed measurement).
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert!(cluster.server.requests().is_empty());
}

#[test]
fn a_flood_of_identical_refusals_is_one_audit_record_with_a_count() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    let audit_arg = audit.to_str().unwrap();
    let line = adversary_line(
        &cluster,
        &["--audit", audit_arg, "--qps", "0"],
        &["flood", "500", "GET", "/api/v1/namespaces/demo/secrets"],
    );
    assert_eq!(line, "refused 500 of 500");
    // A distinct request is still recorded on its own.
    let line = adversary_line(
        &cluster,
        &["--audit", audit_arg, "--qps", "0"],
        &[
            "flood",
            "1",
            "GET",
            "/api/v1/namespaces/kube-system/secrets",
        ],
    );
    assert_eq!(line, "refused 1 of 1");
    let text = std::fs::read_to_string(&audit).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3, "{text}");
    assert_eq!(records[0]["decision"], "deny");
    assert!(records[0].get("count").is_none(), "{text}");
    assert_eq!(records[1]["count"], 499, "{text}");
    assert_eq!(records[1]["path"], "/api/v1/namespaces/demo/secrets");
    assert_eq!(records[2]["path"], "/api/v1/namespaces/kube-system/secrets");
}

#[test]
fn a_guest_refused_past_max_refusals_is_stopped_and_told_why() {
    let cluster = Cluster::admin();
    let out = adversary(
        &cluster,
        &["--qps", "0", "--max-refusals", "10"],
        &["flood", "50", "GET", "/api/v1/namespaces/demo/secrets"],
    );
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("refused more than 10 of its requests")
            && out.stderr.contains("--max-refusals"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("refused 50"), "{out:?}");
    assert!(cluster.server.requests().is_empty());
    // Under the limit the guest carries on.
    let line = adversary_line(
        &cluster,
        &["--qps", "0", "--max-refusals", "10"],
        &["flood", "10", "GET", "/api/v1/namespaces/demo/secrets"],
    );
    assert_eq!(line, "refused 10 of 10");
}

#[test]
fn unread_bodies_do_not_stall_the_connection_other_requests_share() {
    // Watches that each send ~8 MB of events; three of them left unread are more than
    // the 5 MiB HTTP/2 connection window hyper starts with, which is shared by every
    // request of the host (and every guest of an embedder).
    let cluster = Cluster::start_with(
        kubewasm_tests::ServerConfig {
            bulk_pods: Some(kubewasm_tests::BulkPods::new(10)),
            watch_churn: Some(2_000),
            watch_timeout: std::time::Duration::from_secs(30),
            ..kubewasm_tests::ServerConfig::default()
        },
        crate::harness::ADMIN_TOKEN,
    );
    let line = adversary_line(
        &cluster,
        &["--timeout", "20s"],
        &[
            "starve",
            "3",
            "/api/v1/namespaces/bulk/pods?watch=true",
            "/api/v1/namespaces/demo/pods",
        ],
    );
    assert!(
        line.starts_with("read ") && line.ends_with(" bytes"),
        "{line}"
    );
}

#[test]
fn host_memory_held_for_a_guest_is_bounded_by_max_host_memory() {
    let cluster = Cluster::admin();
    // Each open body is charged one HTTP/2 stream window (2 MiB) and its buffers: two
    // fit in 5 MiB, the third does not.
    let line = adversary_line(
        &cluster,
        &["--max-host-memory", "5Mi"],
        &[
            "hold-streams",
            "16",
            "/api/v1/namespaces/demo/pods?watch=true&resourceVersion=8384",
        ],
    );
    assert!(line.starts_with("error after 2 limit-exceeded:"), "{line}");
    assert!(
        line.contains("--max-host-memory") && line.contains("already holds 4.1Mi"),
        "{line}"
    );
    // A 3 MiB body (kube-apiserver's limit) is refused when the host may hold less...
    let path = "/api/v1/namespaces/demo/configmaps";
    let big = |max: &str| {
        adversary_line(
            &cluster,
            &["--policy", "unrestricted", "--max-host-memory", max],
            &["big-request", "0", "0", "3145728", path],
        )
    };
    let line = big("3Mi");
    assert!(
        line.starts_with("error limit-exceeded: the request being sent needs")
            && line.contains("--max-host-memory"),
        "{line}"
    );
    assert!(
        !cluster.paths().iter().any(|p| p.contains("configmaps")),
        "{:?}",
        cluster.paths()
    );
    // ...and sent when it may hold it and a buffer for the answer.
    let line = big("6Mi");
    assert!(line.starts_with("status "), "{line}");
}
