//! What `get`, `version` and `get --raw` print, and how server errors are shown.

use crate::harness::{Cluster, READER_TOKEN};
use kubewasm_tests::ServerConfig;

#[test]
fn get_pods_prints_the_server_table_with_kubectl_columns() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "pods", "-n", "demo"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out:?}"
    );
    assert_eq!(lines.count(), 50, "{out:?}");
    let request = cluster
        .server
        .requests()
        .into_iter()
        .find(|r| r.path_and_query.starts_with("/api/v1/namespaces/demo/pods"))
        .expect("a pods request");
    let accept = request
        .headers
        .iter()
        .find(|(n, _)| n == "accept")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    assert!(accept.contains("as=Table"), "accept: {accept}");
}

#[test]
fn get_nodes_lists_a_cluster_scoped_resource() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "nodes"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.starts_with("NAME"), "{out:?}");
    for node in ["node-1", "node-2", "node-3"] {
        assert!(out.stdout.contains(node), "{out:?}");
    }
    assert!(
        cluster
            .paths()
            .iter()
            .any(|p| p.starts_with("/api/v1/nodes"))
    );
}

#[test]
fn get_pods_wide_adds_priority_columns() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "pods", "-o", "wide"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let header = out.stdout.lines().next().unwrap();
    assert!(header.contains("IP") && header.contains("NODE"), "{out:?}");
}

#[test]
fn get_pod_output_json_yaml_and_name() {
    let cluster = Cluster::admin();
    let json = cluster.kubectl(&["get", "pod", "demo-00001", "-o", "json"]);
    assert_eq!(json.code(), 0, "{json:?}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    assert_eq!(value["metadata"]["name"], "demo-00001");
    assert_eq!(value["kind"], "Pod");

    let yaml = cluster.kubectl(&["get", "pod/demo-00001", "-o", "yaml"]);
    assert_eq!(yaml.code(), 0, "{yaml:?}");
    assert!(yaml.stdout.contains("kind: Pod"), "{yaml:?}");
    assert!(yaml.stdout.contains("name: demo-00001"), "{yaml:?}");

    let name = cluster.kubectl(&["get", "pods", "-o", "name"]);
    assert_eq!(name.code(), 0, "{name:?}");
    assert_eq!(
        name.stdout.lines().next(),
        Some("pod/demo-00000"),
        "{name:?}"
    );
    assert_eq!(name.stdout.lines().count(), 50);
}

#[test]
fn version_prints_server_git_version() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["version"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Client Version:"), "{out:?}");
    assert!(out.stdout.contains("Server Version: v1.36.2"), "{out:?}");
}

#[test]
fn get_raw_prints_the_body_as_received() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "--raw", "/api/v1/namespaces/demo/pods"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    assert_eq!(value["kind"], "PodList");
    assert_eq!(value["items"].as_array().unwrap().len(), 50);
}

#[test]
fn missing_pod_prints_not_found_like_kubectl_and_exits_1() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "pod", "does-not-exist"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        r#"Error from server (NotFound): pods "does-not-exist" not found"#,
        "{out:?}"
    );
}

#[test]
fn forbidden_prints_the_servers_reason_like_kubectl() {
    // The host's policy allows listing pods anywhere; the reader's RBAC does not.
    let cluster = Cluster::start_with(ServerConfig::default(), READER_TOKEN);
    let out = cluster.kubectl(&["get", "pods", "-n", "kube-system"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:demo:reader" cannot list resource "pods" in API group "" in the namespace "kube-system""#,
        "{out:?}"
    );
}

#[test]
fn bad_token_is_reported_as_unauthorized() {
    let cluster = Cluster::start_with(ServerConfig::default(), "not-a-valid-token");
    let out = cluster.kubectl(&["get", "pods"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("Unauthorized"), "{out:?}");
}

#[test]
fn empty_namespace_says_no_resources_found() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "pods", "-n", "kube-system"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(
        out.stderr
            .contains("No resources found in kube-system namespace."),
        "{out:?}"
    );
}

#[test]
fn unknown_resource_type_is_a_client_error() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["get", "widgets"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("widgets"), "{out:?}");
}

/// A cluster with `pods` generated pods in namespace `bulk`.
fn bulk_cluster(pods: usize, watch_churn: Option<usize>) -> Cluster {
    Cluster::start_with(
        ServerConfig {
            bulk_pods: Some(kubewasm_tests::BulkPods {
                namespace: "bulk".into(),
                count: pods,
            }),
            watch_churn,
            ..ServerConfig::default()
        },
        crate::harness::ADMIN_TOKEN,
    )
}

#[test]
fn a_large_list_arrives_gzipped_and_prints_every_item_as_json() {
    let cluster = bulk_cluster(1000, None);
    let out = cluster.kubectl(&[
        "get",
        "pods",
        "-n",
        "bulk",
        "-o",
        "json",
        "--chunk-size",
        "0",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1000);
    assert_eq!(items[999]["kind"], "Pod");
    assert_eq!(list["kind"], "List");
    let request = cluster
        .server
        .requests()
        .into_iter()
        .find(|r| r.path_and_query == "/api/v1/namespaces/bulk/pods")
        .expect("one list request");
    assert_eq!(request.header("accept-encoding"), Some("gzip"));
    assert!(request.response_gzipped, "the 4 MB list came compressed");
}

#[test]
fn watches_ask_for_no_compression_and_name_each_event() {
    let cluster = bulk_cluster(20, Some(300));
    // The server ends each watch after its burst of events and the guest watches again;
    // read 300 lines and close the pipe, as `| head -n 300` does.
    let mut child = cluster.spawn_guest(
        &[
            "get",
            "pods",
            "-n",
            "bulk",
            "-w",
            "--watch-only",
            "-o",
            "name",
        ],
        std::process::Stdio::piped(),
    );
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let lines: Vec<String> = std::io::BufRead::lines(stdout)
        .take(300)
        .map(Result::unwrap)
        .collect();
    let status = crate::harness::wait_with_limit(&mut child, std::time::Duration::from_secs(30));
    assert_eq!(
        status.code(),
        Some(0),
        "a closed stdout ends the watch quietly"
    );
    assert_eq!(lines.len(), 300);
    assert_eq!(lines[0], "pod/bulk-00001");
    assert!(
        lines.iter().all(|l| l.starts_with("pod/bulk-")),
        "{lines:?}"
    );
    let watch = cluster
        .server
        .requests()
        .into_iter()
        .find(|r| r.path_and_query.contains("watch=true"))
        .expect("a watch request");
    assert_eq!(watch.header("accept-encoding"), Some("identity"));
    assert!(!watch.response_gzipped);
}
