//! The three ways to reach an API server, the search order, and TLS verification.

use std::path::Path;

use kubewasm_tests::{FakeApiServer, KubeconfigAuth, ServerConfig};

use crate::harness::{ADMIN_TOKEN, Cluster, GUEST, host, run};

fn server() -> FakeApiServer {
    FakeApiServer::start(ServerConfig {
        token: Some(ADMIN_TOKEN.to_string()),
        ..ServerConfig::default()
    })
    .expect("start fake API server")
}

fn bearer_headers(server: &FakeApiServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .flat_map(|r| r.headers.iter())
        .filter(|(name, _)| name == "authorization")
        .map(|(_, value)| value.clone())
        .collect()
}

/// Every request carried exactly `token` (the guest may make several: discovery first).
fn assert_only_bearer(server: &FakeApiServer, token: &str) {
    let headers = bearer_headers(server);
    assert!(!headers.is_empty(), "no request carried a token");
    assert!(
        headers.iter().all(|h| *h == format!("Bearer {token}")),
        "{headers:?}"
    );
    assert_eq!(
        headers.len(),
        server.requests().len(),
        "a request went without the token"
    );
}

fn assert_lists_demo_pods(out: &crate::harness::Output) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.starts_with("NAME"), "{out:?}");
    assert!(out.stdout.contains("demo-00001"), "{out:?}");
}

#[test]
fn kubeconfig_bearer_token_reaches_server_and_token_stays_in_host() {
    let cluster = Cluster::admin();
    let server = &cluster.server;
    let out = cluster.kubectl(&["version"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Server Version: v1.36.2"), "{out:?}");
    assert_only_bearer(server, ADMIN_TOKEN);
    assert!(!out.stdout.contains(ADMIN_TOKEN) && !out.stderr.contains(ADMIN_TOKEN));
}

#[test]
fn kubeconfig_token_file_is_read_by_the_host() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    let kubeconfig = home.path().join("config");
    server
        .write_kubeconfig(
            &kubeconfig,
            KubeconfigAuth::TokenFile(token_file),
            Some("demo"),
        )
        .unwrap();
    let mut cmd = host(home.path());
    cmd.arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([GUEST, "get", "pods"]);
    assert_lists_demo_pods(&run(cmd));
    assert_only_bearer(&server, ADMIN_TOKEN);
}

#[test]
fn token_file_with_a_trailing_newline_is_refused_with_the_fix() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let kubeconfig = home.path().join("config");
    server
        .write_kubeconfig(
            &kubeconfig,
            KubeconfigAuth::TokenFile(token_file.clone()),
            Some("demo"),
        )
        .unwrap();
    let mut cmd = host(home.path());
    cmd.arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([GUEST, "version"]);
    let out = run(cmd);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains(token_file.to_str().unwrap()), "{out:?}");
    assert!(out.stderr.contains("newline"), "{out:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn kubeconfig_client_certificate_authenticates_without_a_token() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("config");
    server
        .write_kubeconfig(
            &kubeconfig,
            KubeconfigAuth::ClientCertificateData,
            Some("demo"),
        )
        .unwrap();
    let mut cmd = host(home.path());
    cmd.arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([GUEST, "get", "pods"]);
    assert_lists_demo_pods(&run(cmd));
    assert!(bearer_headers(&server).is_empty());
}

#[test]
fn kubeconfig_client_certificate_files_are_read_by_the_host() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("config");
    let auth = KubeconfigAuth::ClientCertificateFiles {
        cert: home.path().join("admin.crt"),
        key: home.path().join("admin.key"),
    };
    server
        .write_kubeconfig(&kubeconfig, auth, Some("demo"))
        .unwrap();
    let mut cmd = host(home.path());
    cmd.arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([GUEST, "get", "nodes"]);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("node-1"), "{out:?}");
}

#[test]
fn kubeconfig_context_namespace_is_the_default_namespace() {
    let cluster = Cluster::admin();
    let server = &cluster.server;
    assert_lists_demo_pods(&cluster.kubectl(&["get", "pods"]));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path_and_query.starts_with("/api/v1/namespaces/demo/pods")),
        "{:?}",
        server
            .requests()
            .iter()
            .map(|r| &r.path_and_query)
            .collect::<Vec<_>>()
    );
}

#[test]
fn kubeconfig_env_path_list_skips_missing_files_and_wins_over_home_config() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    // ~/.kube/config points at a server that does not exist: it must not be used.
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::write(
        home.path().join(".kube/config"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: wrong\n  cluster:\n    server: https://127.0.0.1:9\ncontexts:\n- name: wrong\n  context:\n    cluster: wrong\ncurrent-context: wrong\n",
    )
    .unwrap();
    let real = home.path().join("real.yaml");
    server
        .write_kubeconfig(
            &real,
            KubeconfigAuth::Token(ADMIN_TOKEN.into()),
            Some("demo"),
        )
        .unwrap();
    let list = std::env::join_paths([home.path().join("missing.yaml"), real]).unwrap();
    let mut cmd = host(home.path());
    cmd.env("KUBECONFIG", list)
        .args(["run", GUEST, "get", "pods"]);
    assert_lists_demo_pods(&run(cmd));
}

#[test]
fn home_kubeconfig_is_used_when_kubeconfig_env_is_unset() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    server
        .write_kubeconfig(
            &home.path().join(".kube/config"),
            KubeconfigAuth::Token(ADMIN_TOKEN.into()),
            Some("demo"),
        )
        .unwrap();
    let mut cmd = host(home.path());
    cmd.args(["run", GUEST, "get", "pods"]);
    assert_lists_demo_pods(&run(cmd));
}

fn in_cluster_env(cmd: &mut std::process::Command, server: &FakeApiServer, sa_dir: &Path) {
    let port = server.url().rsplit(':').next().unwrap().to_string();
    cmd.env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", port)
        .arg("run")
        .arg("--service-account-dir")
        .arg(sa_dir);
}

#[test]
fn in_cluster_service_account_with_data_symlinks_is_used_without_kubeconfig() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let sa_dir = home.path().join("serviceaccount");
    server
        .write_service_account_dir(&sa_dir, ADMIN_TOKEN, "demo")
        .unwrap();
    assert!(
        std::fs::symlink_metadata(sa_dir.join("token"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mut cmd = host(home.path());
    in_cluster_env(&mut cmd, &server, &sa_dir);
    // No -n: the namespace comes from the ServiceAccount's namespace file.
    cmd.args([GUEST, "get", "pods"]);
    assert_lists_demo_pods(&run(cmd));
    assert_only_bearer(&server, ADMIN_TOKEN);
}

#[test]
fn kubeconfig_wins_over_in_cluster_credentials() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let sa_dir = home.path().join("serviceaccount");
    server
        .write_service_account_dir(&sa_dir, "sa-token-not-used", "demo")
        .unwrap();
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    server
        .write_kubeconfig(
            &home.path().join(".kube/config"),
            KubeconfigAuth::Token(ADMIN_TOKEN.into()),
            Some("demo"),
        )
        .unwrap();
    let mut cmd = host(home.path());
    in_cluster_env(&mut cmd, &server, &sa_dir);
    cmd.args([GUEST, "version"]);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_only_bearer(&server, ADMIN_TOKEN);
}

#[test]
fn nothing_configured_falls_back_to_localhost_8080() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = host(home.path());
    cmd.args(["run", GUEST, "version"]);
    let out = run(cmd);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("localhost:8080"), "{out:?}");
}

#[test]
fn proxy_url_is_reached_over_plain_http_without_credentials() {
    let server = FakeApiServer::start(ServerConfig {
        tls: false,
        ..ServerConfig::default()
    })
    .unwrap();
    assert!(server.url().starts_with("http://"));
    let home = tempfile::tempdir().unwrap();
    let mut cmd = host(home.path());
    cmd.args([
        "run",
        "--server",
        &server.url(),
        GUEST,
        "get",
        "pods",
        "-n",
        "demo",
    ]);
    assert_lists_demo_pods(&run(cmd));
    assert!(bearer_headers(&server).is_empty());
}

#[test]
fn unknown_ca_fails_in_plain_words_and_never_sends_the_token() {
    let cluster = Cluster::start_with(
        ServerConfig {
            untrusted_serving_cert: true,
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let server = &cluster.server;
    let out = cluster.kubectl(&["get", "pods"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("not signed by the cluster CA"),
        "{out:?}"
    );
    assert!(out.stderr.contains(&server.url()), "{out:?}");
    assert!(out.stderr.contains("certificate-authority-data"), "{out:?}");
    assert!(server.requests().is_empty(), "a request reached the server");
    assert!(!out.stderr.contains(ADMIN_TOKEN));
}

#[test]
fn explicit_kubeconfig_that_does_not_exist_is_an_error_naming_the_file() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = host(home.path());
    cmd.args([
        "run",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        GUEST,
        "version",
    ]);
    let out = run(cmd);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("/nonexistent/kubeconfig"), "{out:?}");
}
