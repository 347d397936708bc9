//! The three ways to reach an API server, the search order, TLS verification, and
//! credentials refreshed when the server stops accepting them.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kubewasm_tests::{FakeApiServer, Faults, KubeconfigAuth, RecordedRequest, ServerConfig};

use crate::harness::{
    ADMIN_TOKEN, Cluster, GUEST, host, host_run, in_cluster_env, lines_in_background, run,
    wait_with_limit,
};

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

/// Writes `HOME/config` for `server` with `auth` (default namespace `demo`) and returns
/// `host run --kubeconfig HOME/config GUEST ARGS...`.
fn guest_with_auth(
    server: &FakeApiServer,
    home: &Path,
    auth: KubeconfigAuth,
    args: &[&str],
) -> Command {
    let kubeconfig = home.join("config");
    server
        .write_kubeconfig(&kubeconfig, auth, Some("demo"))
        .unwrap();
    host_run(home, &kubeconfig, &[], GUEST, args)
}

/// Writes `HOME/.kube/config` for `server` with the admin token (namespace `demo`): the
/// kubeconfig the host finds when nothing else is configured.
fn write_home_kubeconfig(server: &FakeApiServer, home: &Path) {
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    server
        .write_kubeconfig(
            &home.join(".kube/config"),
            KubeconfigAuth::Token(ADMIN_TOKEN.into()),
            Some("demo"),
        )
        .unwrap();
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
fn requests_go_over_http2_unless_disable_http2_is_set_as_client_go_reads_it() {
    let cluster = Cluster::admin();
    // client-go turns HTTP/2 off for any non-empty value, and only then.
    for (value, version) in [
        (None, http::Version::HTTP_2),
        (Some(""), http::Version::HTTP_2),
        (Some("1"), http::Version::HTTP_11),
        (Some("true"), http::Version::HTTP_11),
    ] {
        let before = cluster.server.requests().len();
        let mut cmd = cluster.guest(GUEST, &["get", "pods"]);
        if let Some(value) = value {
            cmd.env("DISABLE_HTTP2", value);
        }
        assert_lists_demo_pods(&run(cmd));
        let versions: Vec<_> = cluster.server.requests()[before..]
            .iter()
            .map(|r| (r.path_and_query.clone(), r.http_version))
            .collect();
        assert!(!versions.is_empty(), "DISABLE_HTTP2={value:?}: no request");
        assert!(
            versions.iter().all(|(_, v)| *v == version),
            "DISABLE_HTTP2={value:?}: {versions:?}"
        );
    }
}

#[test]
fn kubeconfig_token_file_is_read_by_the_host() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    let auth = KubeconfigAuth::TokenFile(token_file);
    assert_lists_demo_pods(&run(guest_with_auth(
        &server,
        home.path(),
        auth,
        &["get", "pods"],
    )));
    assert_only_bearer(&server, ADMIN_TOKEN);
}

#[test]
fn token_file_with_a_trailing_newline_is_refused_with_the_fix() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let auth = KubeconfigAuth::TokenFile(token_file.clone());
    let out = run(guest_with_auth(&server, home.path(), auth, &["version"]));
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains(token_file.to_str().unwrap()), "{out:?}");
    assert!(out.stderr.contains("newline"), "{out:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn kubeconfig_client_certificate_authenticates_without_a_token() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let auth = KubeconfigAuth::ClientCertificateData;
    assert_lists_demo_pods(&run(guest_with_auth(
        &server,
        home.path(),
        auth,
        &["get", "pods"],
    )));
    assert!(bearer_headers(&server).is_empty());
}

#[test]
fn kubeconfig_client_certificate_files_are_read_by_the_host() {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    let auth = KubeconfigAuth::ClientCertificateFiles {
        cert: home.path().join("admin.crt"),
        key: home.path().join("admin.key"),
    };
    let out = run(guest_with_auth(
        &server,
        home.path(),
        auth,
        &["get", "nodes"],
    ));
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
    write_home_kubeconfig(&server, home.path());
    let mut cmd = host(home.path());
    cmd.args(["run", GUEST, "get", "pods"]);
    assert_lists_demo_pods(&run(cmd));
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
    write_home_kubeconfig(&server, home.path());
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
    let missing = Path::new("/nonexistent/kubeconfig");
    let out = run(host_run(home.path(), missing, &[], GUEST, &["version"]));
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("/nonexistent/kubeconfig"), "{out:?}");
}

fn authorization(r: &RecordedRequest) -> &str {
    r.header("authorization").unwrap_or_default()
}

/// Waits up to `limit` for a line starting with `prefix`; every line read so far is in
/// `lines`.
fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    lines: &mut Vec<String>,
    prefix: &str,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    if lines.iter().any(|l| l.starts_with(prefix)) {
        return true;
    }
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let found = line.starts_with(prefix);
        lines.push(line);
        if found {
            return true;
        }
    }
    false
}

fn pod(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{"containers":[{{"name":"c","image":"registry.k8s.io/pause:3.10"}}]}}}}"#
    )
}

/// Runs `cmd` (a `host run ... GUEST get pods -n demo -w`) until its watch is open, then
/// calls `rotate`, which must make the server refuse the old token (and put the new one
/// where the host can get it), and has the server end the open watch, as it does at its
/// timeout. Checks the guest's next watch still prints events, and returns the requests
/// the server received from the rotation on, and what the host printed.
fn watch_across_rotation(
    server: &FakeApiServer,
    mut cmd: Command,
    rotate: impl FnOnce(),
) -> (Vec<RecordedRequest>, String) {
    /// Ends the host; returns what it printed.
    fn stop(child: &mut Child, lines: &[String]) -> String {
        let _ = child.kill();
        let _ = wait_with_limit(child, Duration::from_secs(10));
        let mut stderr = String::new();
        let _ = child.stderr.as_mut().unwrap().read_to_string(&mut stderr);
        format!("stdout: {lines:#?}\nstderr: {stderr}")
    }

    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn host");
    let rx = lines_in_background(child.stdout.take().unwrap(), |line| line);
    let mut lines = Vec::new();

    // The list is printed and the watch is open (it replays the recorded events).
    let watching = wait_for_line(&rx, &mut lines, "watch-demo", Duration::from_secs(30));
    assert!(watching, "{}", stop(&mut child, &lines));

    rotate();
    let rotated_at = server.requests().len();
    server.set_faults(Faults {
        close_watch_after_events: Some(1),
        ..Faults::default()
    });
    // The open watch prints this, then the server ends it.
    server
        .create("/api/v1/namespaces/demo/pods", &pod("before-rewatch"))
        .unwrap();
    let closed = wait_for_line(&rx, &mut lines, "before-rewatch", Duration::from_secs(10));
    assert!(
        closed,
        "the watch did not survive the rotation\n{}",
        stop(&mut child, &lines)
    );
    // Once the guest has watched again (two requests: the refused one and its replay),
    // make an event only that watch can see.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.requests().len() < rotated_at + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    server
        .create("/api/v1/namespaces/demo/pods", &pod("after-rewatch"))
        .unwrap();
    let resumed = wait_for_line(&rx, &mut lines, "after-rewatch", Duration::from_secs(10));
    // The server ends that watch too; once the guest has watched again, the host has
    // finished (and audited) the replayed one.
    let seen = server.requests().len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while resumed && server.requests().len() == seen && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let printed = stop(&mut child, &lines);
    assert!(resumed, "the watch did not survive the rotation\n{printed}");
    (server.requests()[rotated_at..].to_vec(), printed)
}

/// The first request after the rotation carried the `old` token (and so was refused with
/// 401); the host sent the same request again with the `new` one, and kept using it.
fn assert_refused_then_replayed(after: &[RecordedRequest], old: &str, new: &str) {
    assert!(after.len() >= 2, "{after:#?}");
    assert_eq!(
        authorization(&after[0]),
        format!("Bearer {old}"),
        "{after:#?}"
    );
    assert!(after[0].path_and_query.contains("watch="), "{after:#?}");
    assert_eq!(after[1].path_and_query, after[0].path_and_query);
    assert!(
        after[1..]
            .iter()
            .all(|r| authorization(r) == format!("Bearer {new}")),
        "{after:#?}"
    );
}

fn server_with_token(token: &str) -> FakeApiServer {
    FakeApiServer::start(ServerConfig {
        token: Some(token.to_string()),
        watch_event_interval: Duration::from_millis(20),
        watch_timeout: Duration::from_secs(60),
        ..ServerConfig::default()
    })
    .expect("start fake API server")
}

/// The kubelet rotates the projected ServiceAccount token long before kube-client's
/// one-minute re-read, and the old token stops working. When the server ends the watch,
/// the re-watch gets 401 with the cached old token; the host re-reads the token file and
/// sends the request again (client-go refreshes on 401), so the watch goes on.
#[test]
fn watch_outlives_a_service_account_token_rotation() {
    const OLD: &str = "sa-token-before-rotation";
    const NEW: &str = "sa-token-after-rotation";
    let server = server_with_token(OLD);
    let home = tempfile::tempdir().unwrap();
    let sa_dir = home.path().join("serviceaccount");
    server
        .write_service_account_dir(&sa_dir, OLD, "demo")
        .unwrap();
    let audit = home.path().join("audit.jsonl");
    let mut cmd = host(home.path());
    in_cluster_env(&mut cmd, &server, &sa_dir);
    cmd.arg("--audit")
        .arg(&audit)
        .args([GUEST, "get", "pods", "-n", "demo", "-w"]);
    let (after, printed) = watch_across_rotation(&server, cmd, || {
        server
            .write_service_account_dir(&sa_dir, NEW, "demo")
            .unwrap();
        server.set_admin_token(NEW);
    });
    assert_refused_then_replayed(&after, OLD, NEW);
    assert!(
        !printed.contains(OLD) && !printed.contains(NEW),
        "{printed}"
    );

    // The refused request and its replay are one guest request: one audit record, with
    // the final status and a note of the replay.
    let audit = std::fs::read_to_string(&audit).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.iter().all(|r| r["status"] != 401), "{audit}");
    let replayed: Vec<_> = records
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("after 401")
        })
        .collect();
    assert_eq!(replayed.len(), 1, "{audit}");
    assert_eq!(replayed[0]["status"], 200, "{audit}");
    assert_eq!(replayed[0]["verb"], "watch", "{audit}");
    assert!(!audit.contains(OLD) && !audit.contains(NEW));
}

/// An exec plugin's token stops working. It printed no expiry, so kube-client would keep
/// it for the whole run; the host runs the plugin again on the 401 and replays the
/// request with the token it prints then.
#[cfg(unix)]
#[test]
fn exec_plugin_runs_again_when_the_server_refuses_its_token() {
    const OLD: &str = "exec-token-before-rotation";
    const NEW: &str = "exec-token-after-rotation";
    let server = server_with_token(OLD);
    let home = tempfile::tempdir().unwrap();
    let token = home.path().join("token");
    let runs = home.path().join("runs");
    std::fs::write(&token, OLD).unwrap();
    let script = format!(
        "echo run >> '{runs}'; printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$(cat '{token}')\"",
        runs = runs.display(),
        token = token.display(),
    );
    let auth = KubeconfigAuth::Exec {
        command: "sh".into(),
        args: vec!["-c".into(), script],
    };
    let count_runs = || std::fs::read_to_string(&runs).unwrap().lines().count();
    let cmd = guest_with_auth(
        &server,
        home.path(),
        auth,
        &["get", "pods", "-n", "demo", "-w"],
    );
    let mut runs_before = 0;
    let (after, printed) = watch_across_rotation(&server, cmd, || {
        runs_before = count_runs();
        std::fs::write(&token, NEW).unwrap();
        server.set_admin_token(NEW);
    });
    assert_refused_then_replayed(&after, OLD, NEW);
    assert_eq!(count_runs(), runs_before + 1, "{printed}");
    assert!(
        !printed.contains(OLD) && !printed.contains(NEW),
        "{printed}"
    );
}
