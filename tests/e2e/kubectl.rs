//! The guest as a kubectl users can rely on: writes with kubectl's messages and errors,
//! discovery, watches and followed logs that survive the server closing or dropping
//! them, and retries on 429.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use kubewasm_tests::{Faults, ServerConfig, Throttle};

use crate::harness::{ADMIN_TOKEN, Cluster, GUEST, Output, lines_in_background, wait_with_limit};

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: e2e-cm
  namespace: demo
data:
  a: \"1\"
";

/// Runs the guest with writes allowed (`--policy unrestricted`) and `stdin` piped in.
fn kubectl_writes(cluster: &Cluster, args: &[&str], stdin: &str) -> Output {
    let mut cmd = cluster.command_with(&["--policy", "unrestricted"], GUEST, args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn host");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("host output");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn create_apply_patch_delete_print_like_kubectl() {
    let cluster = Cluster::admin();
    let created = kubectl_writes(&cluster, &["create", "-f", "-"], CONFIGMAP);
    assert_eq!(created.code(), 0, "{created:?}");
    assert_eq!(created.stdout.trim_end(), "configmap/e2e-cm created");

    let again = kubectl_writes(&cluster, &["create", "-f", "-"], CONFIGMAP);
    assert_eq!(again.code(), 1, "{again:?}");
    assert!(
        again.stderr.contains(
            r#"Error from server (AlreadyExists): error when creating "STDIN": configmaps "e2e-cm" already exists"#
        ),
        "{again:?}"
    );

    let applied = kubectl_writes(
        &cluster,
        &["apply", "-f", "-"],
        &CONFIGMAP.replace("a: \"1\"", "a: \"1\"\n  c: \"3\""),
    );
    assert_eq!(applied.code(), 0, "{applied:?}");
    assert_eq!(
        applied.stdout.trim_end(),
        "configmap/e2e-cm serverside-applied"
    );

    let patched = kubectl_writes(
        &cluster,
        &[
            "patch",
            "configmap",
            "e2e-cm",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"b":"2"}}"#,
        ],
        "",
    );
    assert_eq!(patched.code(), 0, "{patched:?}");
    assert_eq!(patched.stdout.trim_end(), "configmap/e2e-cm patched");

    let shown = cluster.kubectl(&["get", "configmap", "e2e-cm", "-o", "json"]);
    let value: serde_json::Value = serde_json::from_str(&shown.stdout).expect("JSON");
    assert_eq!(value["data"]["a"], "1");
    assert_eq!(value["data"]["b"], "2");
    assert_eq!(value["data"]["c"], "3");
    let apply = cluster
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path_and_query.contains("fieldManager=kubewasm"))
        .expect("a server-side apply request");
    assert_eq!(
        apply.header("content-type"),
        Some("application/apply-patch+yaml"),
        "{apply:?}"
    );

    let deleted = kubectl_writes(&cluster, &["delete", "configmap", "e2e-cm"], "");
    assert_eq!(deleted.code(), 0, "{deleted:?}");
    assert_eq!(deleted.stdout.trim_end(), r#"configmap "e2e-cm" deleted"#);
    let gone = cluster.kubectl(&["get", "configmap", "e2e-cm"]);
    assert_eq!(gone.code(), 1, "{gone:?}");
}

#[test]
fn writes_are_denied_by_the_default_policy() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["delete", "pod", "demo-00001"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("denied: delete pods"), "{out:?}");
    assert!(cluster.server.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn invalid_object_prints_the_causes_like_kubectl() {
    let cluster = Cluster::admin();
    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Invalid_Name"}, "spec": {"containers": []}}"#;
    let out = kubectl_writes(&cluster, &["create", "-f", "-"], pod);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains(r#"The Pod "Invalid_Name" is invalid: "#),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("* metadata.name: Invalid value"),
        "{out:?}"
    );
}

#[test]
fn short_names_and_api_resources_come_from_discovery() {
    let cluster = Cluster::admin();
    let pods = cluster.kubectl(&["get", "po"]);
    assert_eq!(pods.code(), 0, "{pods:?}");
    assert!(pods.stdout.contains("demo-00001"), "{pods:?}");
    let deployments = cluster.kubectl(&["get", "deploy"]);
    assert_eq!(deployments.code(), 0, "{deployments:?}");
    assert!(
        deployments
            .stderr
            .contains("No resources found in demo namespace."),
        "{deployments:?}"
    );
    let resources = cluster.kubectl(&["api-resources"]);
    assert_eq!(resources.code(), 0, "{resources:?}");
    let header: Vec<&str> = resources
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    assert!(
        resources.stdout.lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["pods", "po", "v1", "true", "Pod"]
        ),
        "{resources:?}"
    );
    assert!(cluster.paths().iter().any(|p| p == "/apis" || p == "/api"));
}

#[test]
fn throttled_requests_are_retried_after_retry_after() {
    let cluster = Cluster::start_with(
        ServerConfig {
            faults: Faults {
                throttle: vec![Throttle::new("/api/v1/namespaces/demo/pods", 2, 1)],
                ..Faults::default()
            },
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let start = Instant::now();
    let out = cluster.kubectl(&["get", "pods"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("demo-00001"), "{out:?}");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "did not wait for Retry-After"
    );
    let lists = cluster
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("/api/v1/namespaces/demo/pods"))
        .count();
    assert_eq!(lists, 3, "{:?}", cluster.paths());
}

/// Spawns `get pods -w` and returns the lines printed within `wait`, then stops it.
fn watch_lines(cluster: &Cluster, wait: Duration) -> Vec<String> {
    let mut child = cluster.spawn_guest(&["get", "pods", "-w"], Stdio::inherit());
    let rx = lines_in_background(child.stdout.take().unwrap(), |line| line);
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        lines.push(line);
    }
    let _ = child.kill();
    let _ = wait_with_limit(&mut child, Duration::from_secs(10));
    lines
}

fn watch_events(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("watch-demo"))
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect()
}

fn watch_requests(cluster: &Cluster) -> Vec<String> {
    cluster
        .paths()
        .into_iter()
        .filter(|p| p.contains("watch=true") || p.contains("watch=1"))
        .collect()
}

/// The five recorded events, as `NAME READY STATUS`.
fn recorded_events() -> Vec<String> {
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(50),
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    watch_events(&watch_lines(&cluster, Duration::from_secs(4)))
}

#[test]
fn watch_resumes_after_the_connection_drops_without_duplicates() {
    let expected = recorded_events();
    assert_eq!(expected.len(), 5, "{expected:?}");
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(50),
            faults: Faults {
                drop_watch_after_events: Some(2),
                ..Faults::default()
            },
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let lines = watch_lines(&cluster, Duration::from_secs(5));
    assert_eq!(watch_events(&lines), expected, "{lines:?}");
    let watches = watch_requests(&cluster);
    assert!(watches.len() >= 2, "no reconnect: {watches:?}");
    assert!(
        !watches[1].contains("resourceVersion=8384"),
        "resumed from the start instead of the last event: {watches:?}"
    );
}

#[test]
fn watch_resumes_after_the_server_closes_it() {
    let expected = recorded_events();
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(50),
            faults: Faults {
                close_watch_after_events: Some(3),
                ..Faults::default()
            },
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let lines = watch_lines(&cluster, Duration::from_secs(5));
    assert_eq!(watch_events(&lines), expected, "{lines:?}");
    assert!(watch_requests(&cluster).len() >= 2);
}

#[test]
fn watch_relists_on_410_without_reprinting_unchanged_objects() {
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(50),
            faults: Faults {
                // Everything up to the list's version is compacted: every watch from it
                // gets 410 Gone, so the guest must relist (again and again).
                expire_watch_rv_below: Some(8400),
                ..Faults::default()
            },
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let lines = watch_lines(&cluster, Duration::from_secs(4));
    let lists = cluster
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("/api/v1/namespaces/demo/pods") && !p.contains("watch"))
        .count();
    assert!(lists >= 2, "no relist after 410: {:?}", cluster.paths());
    for n in 0..50 {
        let name = format!("demo-{n:05}");
        let printed = lines.iter().filter(|l| l.starts_with(&name)).count();
        assert_eq!(printed, 1, "{name} printed {printed} times: {lines:?}");
    }
}

#[test]
fn followed_log_resumes_after_a_drop_without_repeating_lines() {
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(50),
            log_lines: 5,
            faults: Faults {
                drop_log_follow_after_lines: Some(2),
                ..Faults::default()
            },
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let out = crate::harness::run_with_limit(
        cluster.guest(GUEST, &["logs", "-f", "demo-00001"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let expected: Vec<String> = (1..=5)
        .map(|n| format!("line {n} from demo/demo-00001/main"))
        .collect();
    assert_eq!(lines, expected, "{out:?}");
    let logs: Vec<String> = cluster
        .paths()
        .into_iter()
        .filter(|p| p.contains("/log"))
        .collect();
    assert!(logs.len() >= 2, "{logs:?}");
    assert!(logs[1].contains("sinceTime="), "{logs:?}");
}

#[test]
fn jsonpath_output_and_chunked_lists() {
    let cluster = Cluster::admin();
    let names = cluster.kubectl(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert_eq!(names.code(), 0, "{names:?}");
    let listed: Vec<&str> = names.stdout.split_whitespace().collect();
    assert_eq!(listed.len(), 50, "{names:?}");
    assert_eq!(listed[1], "demo-00001");

    let paged = cluster.kubectl(&["get", "pods", "--chunk-size", "20"]);
    assert_eq!(paged.code(), 0, "{paged:?}");
    assert_eq!(paged.stdout.lines().count(), 51, "{paged:?}");
    let pages: Vec<String> = cluster
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("/api/v1/namespaces/demo/pods") && p.contains("limit=20"))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[1].contains("continue="), "{pages:?}");
}
