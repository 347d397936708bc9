//! Behaviour tests of the write verbs over HTTP: each recorded write is replayed against a
//! fresh server and the answer compared with the recording byte for byte, after replacing
//! what differs by nature (uid, resourceVersions, timestamps, the random volume suffix).

use std::time::Duration;

use serde_json::Value;

use crate::fixtures;
use crate::server::{FakeApiServer, ServerConfig};
use crate::testclient::{self, Auth, Resp};

const ADMIN: Auth<'static> = Auth::Bearer("kubewasm-demo-admin-token");
/// The recordings were made with this User-Agent, which names their field manager.
const UA: (&str, &str) = ("User-Agent", "realapi-fixture-capture/1.0");
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn server() -> FakeApiServer {
    FakeApiServer::start(ServerConfig {
        watch_event_interval: Duration::from_millis(10),
        watch_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    })
    .expect("server starts")
}

fn send(s: &FakeApiServer, method: &str, path: &str, ct: Option<&str>, body: &str) -> Resp {
    let mut headers = vec![UA];
    if let Some(ct) = ct {
        headers.push(("Content-Type", ct));
    }
    testclient::send(s, method, path, ADMIN, &headers, body.as_bytes()).expect("request")
}

fn recorded(name: &str) -> String {
    fixtures::get(name).unwrap().body_str().unwrap().to_string()
}

/// Rewrites what a replay cannot reproduce (uid, resourceVersion, timestamps, generated
/// names) in `ours` to the values of `theirs`, keeping everything else byte for byte.
fn like(ours: &str, theirs: &str) -> String {
    let a: Value = serde_json::from_str(ours).unwrap();
    let b: Value = serde_json::from_str(theirs).unwrap();
    let mut out = ours.to_string();
    let mut swap = |x: Option<&str>, y: Option<&str>| {
        if let (Some(x), Some(y)) = (x, y)
            && !x.is_empty()
        {
            out = out.replace(&format!("\"{x}\""), &format!("\"{y}\""));
        }
    };
    for p in [
        "/metadata/uid",
        "/metadata/resourceVersion",
        "/metadata/creationTimestamp",
        "/metadata/deletionTimestamp",
        "/metadata/managedFields/0/time",
        "/metadata/managedFields/1/time",
        "/spec/volumes/0/name",
        "/details/uid",
    ] {
        swap(
            a.pointer(p).and_then(Value::as_str),
            b.pointer(p).and_then(Value::as_str),
        );
    }
    out
}

#[test]
fn create_then_get_returns_the_object() {
    let s = server();
    let body = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fixture-cm", "labels": {"fixture": "yes"}}, "data": {"a": "1"}}"#;
    let r = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/configmaps",
        Some("application/json"),
        body,
    );
    assert_eq!(r.status, 201);
    let expected = recorded("create-configmap-201.http");
    assert_eq!(like(r.text(), &expected), expected);
    assert_eq!(r.json()["metadata"]["resourceVersion"], "8400");
    let got = testclient::get(
        &s,
        "/api/v1/namespaces/demo/configmaps/fixture-cm",
        ADMIN,
        &[],
    )
    .unwrap();
    assert_eq!(got.text(), r.text());
    let list = testclient::get(&s, "/api/v1/namespaces/demo/configmaps", ADMIN, &[]).unwrap();
    let list = list.json();
    assert_eq!(list["metadata"]["resourceVersion"], "8400");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["metadata"]["name"] == "fixture-cm")
    );
    assert_eq!(s.resource_version(), 8400);
}

#[test]
fn create_existing_returns_409_like_the_fixture() {
    let s = server();
    let body = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo-00001"}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}"#;
    let r = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/pods",
        Some("application/json"),
        body,
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.text(), recorded("error-409-create-existing-pod.http"));
}

#[test]
fn invalid_pod_returns_422_with_causes_like_the_fixture() {
    let s = server();
    let body = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Invalid_Name"}, "spec": {"containers": []}}"#;
    let r = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/pods",
        Some("application/json"),
        body,
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.text(), recorded("error-422-invalid-pod.http"));
}

#[test]
fn unsupported_media_type_returns_415_like_the_fixture() {
    let s = server();
    let r = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/configmaps",
        Some("text/plain"),
        "hello",
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.text(), recorded("error-415-unsupported-media-type.http"));
    let p = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/kube-root-ca.crt",
        Some("application/json"),
        "{}",
    );
    assert_eq!(p.status, 415);
    assert_eq!(
        p.json()["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    );
}

#[test]
fn created_pod_is_defaulted_and_admitted_like_the_fixture() {
    let s = server();
    let body = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fixture-pod"}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}"#;
    let r = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/pods",
        Some("application/json"),
        body,
    );
    assert_eq!(r.status, 201);
    let expected = recorded("create-pod-201.http");
    let volume = r.json()["spec"]["volumes"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let ours = like(r.text(), &expected);
    // The mount refers to the generated volume too.
    let theirs: Value = serde_json::from_str(&expected).unwrap();
    let ours = ours.replace(
        &format!("\"{volume}\""),
        &format!(
            "\"{}\"",
            theirs["spec"]["volumes"][0]["name"].as_str().unwrap()
        ),
    );
    assert_eq!(ours, expected);
    assert!(volume.starts_with("kube-api-access-") && volume.len() == 21);
}

#[test]
fn recorded_configmap_write_sequence_replays_byte_for_byte() {
    let s = server();
    let steps: [(&str, &str, &str, Option<&str>, &str); 6] = [
        (
            "POST",
            "/api/v1/namespaces/demo/configmaps",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fixture-cm", "labels": {"fixture": "yes"}}, "data": {"a": "1"}}"#,
            Some("application/json"),
            "create-configmap-201.http",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/demo/configmaps/fixture-cm",
            r#"{"data": {"b": "2"}}"#,
            Some("application/merge-patch+json"),
            "patch-merge-configmap.http",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/demo/configmaps/fixture-cm",
            r#"{"metadata": {"labels": {"patched": "strategic"}}}"#,
            Some("application/strategic-merge-patch+json"),
            "patch-strategic-configmap.http",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/demo/configmaps/fixture-cm",
            r#"[{"op": "replace", "path": "/data/a", "value": "10"}]"#,
            Some("application/json-patch+json"),
            "patch-json-configmap.http",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/demo/configmaps/fixture-cm?fieldManager=realapi-fixture&force=true",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fixture-cm\ndata:\n  c: \"3\"\n",
            Some("application/apply-patch+yaml"),
            "patch-apply-configmap.http",
        ),
        (
            "PUT",
            "/api/v1/namespaces/demo/configmaps/fixture-cm",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fixture-cm", "resourceVersion": "1"}, "data": {}}"#,
            Some("application/json"),
            "error-409-update-conflict.http",
        ),
    ];
    let mut rv = 8399;
    for (method, path, body, ct, fixture) in steps {
        let r = send(&s, method, path, ct, body);
        let expected = recorded(fixture);
        assert_eq!(like(r.text(), &expected), expected, "{fixture}");
        if r.status < 300 {
            rv += 1;
            assert_eq!(r.json()["metadata"]["resourceVersion"], rv.to_string());
        }
    }
    let del = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/configmaps/fixture-cm",
        None,
        "",
    );
    let expected = recorded("delete-configmap-200-status.http");
    assert_eq!(del.status, 200);
    assert_eq!(like(del.text(), &expected), expected);
    let gone = testclient::get(
        &s,
        "/api/v1/namespaces/demo/configmaps/fixture-cm",
        ADMIN,
        &[],
    )
    .unwrap();
    assert_eq!(gone.status, 404);
}

#[test]
fn deleting_an_unscheduled_pod_returns_it_and_a_second_delete_404s_like_the_fixtures() {
    let s = server();
    let body = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fixture-pod"}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}"#;
    let created = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/pods",
        Some("application/json"),
        body,
    );
    assert_eq!(created.json()["metadata"]["resourceVersion"], "8400");
    let del = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/fixture-pod",
        None,
        "",
    );
    assert_eq!(del.status, 200);
    // Marked (8401), then removed (8402), as the recording's 8392/8393.
    assert_eq!(del.json()["metadata"]["resourceVersion"], "8402");
    let expected = recorded("delete-pod-200-object.http");
    let volume = del.json()["spec"]["volumes"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs: Value = serde_json::from_str(&expected).unwrap();
    let ours = like(del.text(), &expected).replace(
        &format!("\"{volume}\""),
        &format!(
            "\"{}\"",
            theirs["spec"]["volumes"][0]["name"].as_str().unwrap()
        ),
    );
    assert_eq!(ours, expected);
    let again = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/fixture-pod",
        None,
        "",
    );
    assert_eq!(again.status, 404);
    assert_eq!(again.text(), recorded("error-404-delete-missing.http"));
}

#[test]
fn scheduled_pod_is_only_marked_until_deleted_with_grace_zero() {
    let s = server();
    // The recorded pods have terminationGracePeriodSeconds 0, so they go at once, as on the
    // recording cluster.
    let recorded = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/demo-00002",
        None,
        "",
    );
    assert_eq!(recorded.json()["metadata"]["deletionGracePeriodSeconds"], 0);
    let on_node = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"demo-00001-bis"},"spec":{"nodeName":"node-2","containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}"#;
    let created = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/pods",
        Some("application/json"),
        on_node,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let r = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/demo-00001-bis",
        None,
        "",
    );
    assert_eq!(r.status, 200);
    let pod = r.json();
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    assert_eq!(pod["metadata"]["generation"], 2);
    assert!(pod["metadata"]["deletionTimestamp"].is_string());
    let still = testclient::get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001-bis",
        ADMIN,
        &[],
    )
    .unwrap();
    assert_eq!(still.status, 200);
    let table = testclient::get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001-bis",
        ADMIN,
        &[("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")],
    )
    .unwrap();
    assert_eq!(table.json()["rows"][0]["cells"][2], "Terminating");
    let forced = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/demo-00001-bis?gracePeriodSeconds=0",
        None,
        "",
    );
    assert_eq!(forced.status, 200);
    let gone = testclient::get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001-bis",
        ADMIN,
        &[],
    )
    .unwrap();
    assert_eq!(gone.status, 404);
}

#[test]
fn dry_run_validates_and_returns_the_result_without_storing() {
    let s = server();
    let body =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"},"data":{"a":"1"}}"#;
    let r = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/configmaps?dryRun=All",
        Some("application/json"),
        body,
    );
    assert_eq!(r.status, 201);
    assert!(r.json()["metadata"]["uid"].is_string());
    assert!(r.json()["metadata"].get("resourceVersion").is_none());
    assert_eq!(s.resource_version(), 8384);
    let missing =
        testclient::get(&s, "/api/v1/namespaces/demo/configmaps/dry", ADMIN, &[]).unwrap();
    assert_eq!(missing.status, 404);
    let del = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/demo-00000?dryRun=All",
        None,
        "",
    );
    assert_eq!(del.status, 200);
    assert_eq!(
        testclient::get(&s, "/api/v1/namespaces/demo/pods/demo-00000", ADMIN, &[])
            .unwrap()
            .text(),
        recorded("pod-get-pending.http")
    );
    let bad = send(
        &s,
        "POST",
        "/api/v1/namespaces/demo/configmaps?dryRun=true",
        Some("application/json"),
        body,
    );
    assert_eq!(bad.status, 422);
}

#[test]
fn server_side_apply_needs_a_field_manager_and_reports_conflicts_unless_forced() {
    let s = server();
    let apply = Some("application/apply-patch+yaml");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"1\"\n";
    let none = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied",
        apply,
        cm,
    );
    assert_eq!(none.status, 422);
    assert_eq!(
        none.text(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"PatchOptions.meta.k8s.io \\\"\\\" is invalid: fieldManager: Required value: is required for apply patch\",\"reason\":\"Invalid\",\"details\":{\"group\":\"meta.k8s.io\",\"kind\":\"PatchOptions\",\"causes\":[{\"reason\":\"FieldValueRequired\",\"message\":\"Required value: is required for apply patch\",\"field\":\"fieldManager\"}]},\"code\":422}\n"
    );
    let created = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied?fieldManager=kubewasm",
        apply,
        cm,
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json()["metadata"]["managedFields"][0]["operation"],
        "Apply"
    );
    // Another manager changes the field with a merge patch, then kubewasm applies again.
    let edit = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied",
        Some("application/merge-patch+json"),
        r#"{"data":{"a":"edited"}}"#,
    );
    assert_eq!(edit.status, 200);
    let cm2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"2\"\n";
    let conflict = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied?fieldManager=kubewasm",
        apply,
        cm2,
    );
    assert_eq!(conflict.status, 409);
    let c = conflict.json();
    assert_eq!(c["reason"], "Conflict");
    assert_eq!(c["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(c["details"]["causes"][0]["field"], ".data.a");
    assert!(
        c["message"].as_str().unwrap().starts_with(
            "Apply failed with 1 conflict: conflict with \"realapi-fixture-capture\" using v1 at "
        ),
        "{c}"
    );
    let forced = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied?fieldManager=kubewasm&force=true",
        apply,
        cm2,
    );
    assert_eq!(forced.status, 200);
    assert_eq!(forced.json()["data"]["a"], "2");
    // Dropping a field from the applied configuration removes it.
    let cm3 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  b: \"3\"\n";
    let pruned = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied?fieldManager=kubewasm",
        apply,
        cm3,
    );
    assert_eq!(pruned.json()["data"], serde_json::json!({"b": "3"}));
    let force_merge = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/configmaps/applied?force=true",
        Some("application/merge-patch+json"),
        "{}",
    );
    assert_eq!(force_merge.status, 422);
}

#[test]
fn update_without_changes_keeps_the_resource_version() {
    let s = server();
    let cm = testclient::get(
        &s,
        "/api/v1/namespaces/demo/configmaps/kube-root-ca.crt",
        ADMIN,
        &[],
    )
    .unwrap();
    assert_eq!(cm.status, 200, "{}", cm.text());
    let r = send(
        &s,
        "PUT",
        "/api/v1/namespaces/demo/configmaps/kube-root-ca.crt",
        Some("application/json"),
        cm.text(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), cm.text());
    assert_eq!(s.resource_version(), 8384);
    let renamed = send(
        &s,
        "PUT",
        "/api/v1/namespaces/demo/configmaps/other",
        Some("application/json"),
        cm.text(),
    );
    assert_eq!(renamed.status, 400);
    assert_eq!(
        renamed.json()["message"],
        "the name of the object (kube-root-ca.crt) does not match the name on the URL (other)"
    );
}

#[test]
fn status_subresource_changes_only_the_status() {
    let s = server();
    let r = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/pods/demo-00000/status",
        Some("application/merge-patch+json"),
        r#"{"status":{"phase":"Running"},"metadata":{"labels":{"ignored":"yes"}}}"#,
    );
    assert_eq!(r.status, 200);
    let pod = r.json();
    assert_eq!(pod["status"]["phase"], "Running");
    assert!(pod["metadata"]["labels"].get("ignored").is_none());
    let entries = pod["metadata"]["managedFields"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["subresource"] == "status"));
    // And the main resource ignores status.
    let main = send(
        &s,
        "PATCH",
        "/api/v1/namespaces/demo/pods/demo-00000",
        Some("application/merge-patch+json"),
        r#"{"status":{"phase":"Failed"},"metadata":{"labels":{"seen":"yes"}}}"#,
    );
    assert_eq!(main.json()["status"]["phase"], "Running");
    assert_eq!(main.json()["metadata"]["labels"]["seen"], "yes");
}

#[test]
fn namespaces_must_exist_and_deleting_one_leaves_it_terminating() {
    let s = server();
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#;
    let missing = send(
        &s,
        "POST",
        "/api/v1/namespaces/nope/configmaps",
        Some("application/json"),
        body,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "namespaces \"nope\" not found");
    let ns = send(
        &s,
        "POST",
        "/api/v1/namespaces",
        Some("application/json"),
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#,
    );
    assert_eq!(ns.status, 201);
    assert_eq!(
        ns.json()["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "scratch"
    );
    assert_eq!(ns.json()["status"]["phase"], "Active");
    let del = send(&s, "DELETE", "/api/v1/namespaces/scratch", None, "");
    assert_eq!(del.json()["status"]["phase"], "Terminating");
    let refused = send(
        &s,
        "POST",
        "/api/v1/namespaces/scratch/configmaps",
        Some("application/json"),
        body,
    );
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["message"],
        "configmaps \"x\" is forbidden: unable to create new content in namespace scratch because it is being terminated"
    );
}

#[test]
fn reader_may_not_write() {
    let s = server();
    let r = testclient::send(
        &s,
        "DELETE",
        "/api/v1/namespaces/demo/pods/demo-00001",
        Auth::Bearer("kubewasm-demo-reader-token"),
        &[JSON],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "pods \"demo-00001\" is forbidden: User \"system:serviceaccount:demo:reader\" cannot delete resource \"pods\" in API group \"\" in the namespace \"demo\""
    );
}

#[test]
fn runtime_methods_write_like_clients_and_report_status_errors() {
    let s = server();
    let created = s
        .create(
            "/api/v1/namespaces/demo/configmaps",
            r#"{"metadata":{"name":"from-test"},"data":{"k":"v"}}"#,
        )
        .unwrap();
    assert!(created.contains("\"resourceVersion\":\"8400\""));
    let err = s
        .create(
            "/api/v1/namespaces/demo/configmaps",
            r#"{"metadata":{"name":"from-test"}}"#,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the fake API server answered 409: configmaps \"from-test\" already exists"
    );
    s.patch(
        "/api/v1/namespaces/demo/configmaps/from-test",
        "merge",
        r#"{"data":{"k":"w"}}"#,
    )
    .unwrap();
    assert!(
        s.get("/api/v1/namespaces/demo/configmaps/from-test")
            .unwrap()
            .contains("\"k\":\"w\"")
    );
    s.delete("/api/v1/namespaces/demo/configmaps/from-test")
        .unwrap();
    assert_eq!(s.resource_version(), 8402);
    // Runtime writes are not client requests.
    assert!(s.requests().is_empty());
}
