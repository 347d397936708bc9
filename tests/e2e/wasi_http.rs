//! `wasi:http` as a second door to the cluster: a guest written with the Rust
//! ecosystem's WASI HTTP client (`wstd`), which knows nothing of kubewasm's WIT, reaches
//! the API server as `https://kubernetes.default.svc` through the same policy, credential,
//! audit and limits as `api.send`, and reaches nothing else.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kubewasm_tests::{FakeApiServer, ServerConfig};

use crate::harness::{ADMIN_TOKEN, Cluster, HTTP_GUEST, Output, host, lines_in_background, run};

const PODS: &str = "https://kubernetes.default.svc/api/v1/namespaces/demo/pods";

fn http_guest(cluster: &Cluster, host_flags: &[&str], args: &[&str]) -> Output {
    let out = cluster.run_with(host_flags, HTTP_GUEST, args);
    assert_eq!(out.code(), 0, "{out:?}");
    out
}

fn first_line(out: &Output) -> &str {
    out.stdout.lines().next().unwrap_or_default()
}

fn audit_records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect()
}

#[test]
fn wasi_http_guest_lists_pods_through_kubernetes_default_svc_with_the_hosts_credential() {
    let cluster = Cluster::admin();
    let out = http_guest(&cluster, &[], &["get", PODS]);
    assert_eq!(first_line(&out), "status 200", "{out:?}");
    assert!(out.stdout.contains("demo-00001"), "{out:?}");
    let requests = cluster.server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path_and_query, "/api/v1/namespaces/demo/pods");
    // The host added the credential; the guest never saw it.
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {ADMIN_TOKEN}").as_str())
    );
    assert!(!out.stdout.contains(ADMIN_TOKEN), "{out:?}");
    assert!(!out.stdout.to_ascii_lowercase().contains("authorization"));
}

#[test]
fn wasi_http_guest_may_name_the_in_pod_variants_and_the_configured_server_url() {
    let cluster = Cluster::admin();
    let server = cluster.server.url();
    for url in [
        "https://kubernetes.default.svc.cluster.local/version".to_string(),
        "https://kubernetes.default:443/version".to_string(),
        format!("{server}/version"),
    ] {
        let out = http_guest(&cluster, &[], &["get", &url]);
        assert_eq!(first_line(&out), "status 200", "{url}: {out:?}");
    }
    assert_eq!(cluster.paths(), vec!["/version"; 3]);
}

#[test]
fn wasi_http_foreign_host_is_denied_audited_and_never_contacted() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    // A name that cannot resolve: had the host looked it up or tried to connect, the
    // guest would get a DNS or connection error, not a denial.
    let url = "https://no-such-host.kubewasm.invalid/api/v1/namespaces/demo/pods";
    let started = Instant::now();
    let out = http_guest(
        &cluster,
        &["--audit", audit.to_str().unwrap()],
        &["get", url],
    );
    assert_eq!(
        first_line(&out),
        "error ErrorCode::HttpRequestDenied",
        "{out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(out.stderr.contains("not the cluster"), "{out:?}");
    assert!(
        out.stderr.contains("no-such-host.kubewasm.invalid"),
        "{out:?}"
    );
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
    let records = audit_records(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["decision"], "deny");
    assert_eq!(records[0]["path"], url);
}

#[test]
fn wasi_http_refuses_host_owned_headers_as_api_send_does() {
    let cluster = Cluster::admin();
    for header in [
        "authorization=Bearer stolen",
        "impersonate-user=system:admin",
        "impersonate-group=system:masters",
        "x-remote-user=admin",
        "x-http-method-override=DELETE",
        "host=kubernetes.default.svc",
        "connection=close",
    ] {
        let out = http_guest(&cluster, &[], &["get", PODS, header]);
        assert_eq!(
            first_line(&out),
            "error ErrorCode::HttpRequestDenied",
            "{header}: {out:?}"
        );
        let name = header.split('=').next().unwrap();
        assert!(
            out.stderr
                .contains(&format!("may not set the {name:?} header")),
            "{header}: {out:?}"
        );
    }
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
}

#[test]
fn wasi_http_policy_denial_prints_the_rule_on_stderr_and_is_audited() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    let url = "https://kubernetes.default.svc/api/v1/namespaces/demo/secrets";
    let out = http_guest(
        &cluster,
        &["--audit", audit.to_str().unwrap()],
        &["get", url],
    );
    assert_eq!(
        first_line(&out),
        "error ErrorCode::HttpRequestDenied",
        "{out:?}"
    );
    // Once, with the request and the rule that would allow it, as api.send's `denied`.
    assert_eq!(
        out.stderr.matches("kubewasm: wasi:http").count(),
        1,
        "{out:?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "kubewasm: wasi:http GET {url}: denied: list secrets"
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("resources: [\"secrets\"]"), "{out:?}");
    assert!(out.stderr.contains("verbs: [\"list\"]"), "{out:?}");
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
    let records = audit_records(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["decision"], "deny");
    assert_eq!(records[0]["resource"], "secrets");
    assert_eq!(records[0]["verb"], "list");
}

#[test]
fn wasi_http_redirect_is_returned_to_the_guest_not_followed() {
    let cluster = Cluster::admin();
    let out = http_guest(
        &cluster,
        &["--policy", "unrestricted"],
        &["get", "https://kubernetes.default.svc/redirect-test"],
    );
    assert_eq!(first_line(&out), "status 302", "{out:?}");
    assert!(
        out.stdout
            .contains("header location: https://127.0.0.2:1/steal-the-token"),
        "{out:?}"
    );
    assert_eq!(cluster.paths(), vec!["/redirect-test".to_string()]);
}

#[test]
fn wasi_http_watch_and_followed_log_stream_event_by_event() {
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(300),
            log_lines: 3,
            log_follow_lines: 100,
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    // The guest stops after three lines; a watch never ends by itself, so the three
    // lines can only have come through a body that streams.
    let mut child = cluster
        .command_with(
            &[],
            HTTP_GUEST,
            &["stream", &format!("{PODS}?watch=true"), "3"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_in_background(child.stdout.take().unwrap(), |l| (Instant::now(), l));
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < 4 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let status = crate::harness::wait_with_limit(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{lines:?}");
    assert_eq!(lines[0].1, "status 200", "{lines:?}");
    let events: Vec<_> = lines[1..]
        .iter()
        .filter(|(_, l)| l.starts_with("line {\"type\":"))
        .collect();
    assert_eq!(events.len(), 3, "{lines:?}");

    let log = format!("{PODS}/demo-00001/log?follow=true");
    let out = http_guest(&cluster, &[], &["stream", &log, "5"]);
    assert_eq!(first_line(&out), "status 200", "{out:?}");
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.starts_with("line "))
            .count(),
        5
    );
}

#[test]
fn wasi_http_request_body_over_the_limit_is_refused_naming_the_flag() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    let url = "https://kubernetes.default.svc/api/v1/namespaces/demo/configmaps";
    let flags = [
        "--policy",
        "unrestricted",
        "--max-request-body-bytes",
        "1Ki",
        "--audit",
        audit.to_str().unwrap(),
    ];
    let out = http_guest(&cluster, &flags, &["post", url, "4096"]);
    assert!(
        first_line(&out).starts_with("error ErrorCode::HttpRequestBodySize"),
        "{out:?}"
    );
    assert!(out.stderr.contains("--max-request-body-bytes"), "{out:?}");
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
    let records = audit_records(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("--max-request-body-bytes")),
        "{records:?}"
    );

    // Under the limit, the streamed body reaches the server whole.
    let out = http_guest(&cluster, &flags, &["post", url, "1000"]);
    assert!(first_line(&out).starts_with("status "), "{out:?}");
    let requests = cluster.server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].body.len(), 1000);
}

#[test]
fn wasi_http_reaches_a_kubectl_proxy_over_plain_http() {
    let server = FakeApiServer::start(ServerConfig {
        tls: false,
        ..ServerConfig::default()
    })
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let proxy = server.url();
    for url in [
        PODS.to_string(),
        format!("{proxy}/api/v1/namespaces/demo/pods"),
    ] {
        let mut cmd = host(home.path());
        cmd.args(["run", "--server", &proxy, HTTP_GUEST, "get", &url]);
        let out = run(cmd);
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(first_line(&out), "status 200", "{url}: {out:?}");
        assert!(out.stdout.contains("demo-00001"), "{out:?}");
    }
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[test]
fn wasi_http_response_over_max_response_bytes_fails_the_body_and_is_audited() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    let out = http_guest(
        &cluster,
        &[
            "--max-response-bytes",
            "1Ki",
            "--audit",
            audit.to_str().unwrap(),
        ],
        &["get", PODS],
    );
    assert_eq!(first_line(&out), "status 200", "{out:?}");
    assert!(
        out.stdout.contains(
            "error other: reading incoming body stream: HTTP response body size exceeds limit"
        ),
        "{out:?}"
    );
    let records = audit_records(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["status"], 200);
    assert!(
        records[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("--max-response-bytes")),
        "{records:?}"
    );
}
