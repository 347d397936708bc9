//! Behaviour tests: start the server, talk to it over TLS (or plain HTTP) with a raw client,
//! and compare with the recorded responses byte for byte where the request is the recorded one.

use std::time::Duration;

use serde_json::Value;

use crate::fixtures;
use crate::server::{FakeApiServer, KubeconfigAuth, ServerConfig};
use crate::testclient::{self, Auth, Resp};

const ADMIN: Auth<'static> = Auth::Bearer("kubewasm-demo-admin-token");
const READER: Auth<'static> = Auth::Bearer("kubewasm-demo-reader-token");
const TABLE: (&str, &str) = (
    "Accept",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
);

fn fast() -> ServerConfig {
    ServerConfig {
        watch_event_interval: Duration::from_millis(40),
        watch_timeout: Duration::from_millis(800),
        ..ServerConfig::default()
    }
}

fn server() -> FakeApiServer {
    FakeApiServer::start(fast()).expect("server starts")
}

fn get(s: &FakeApiServer, path: &str, auth: Auth<'_>) -> Resp {
    testclient::get(s, path, auth, &[]).expect("request succeeds")
}

fn get_with(s: &FakeApiServer, path: &str, auth: Auth<'_>, headers: &[(&str, &str)]) -> Resp {
    testclient::get(s, path, auth, headers).expect("request succeeds")
}

fn recorded(name: &str) -> String {
    fixtures::get(name).unwrap().body_str().unwrap().to_string()
}

fn names(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i.pointer("/metadata/name")
                .or_else(|| i.pointer("/object/metadata/name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn version_is_public_and_replays_recorded_bytes_and_headers() {
    let s = server();
    let r = get(&s, "/version", Auth::None);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), recorded("version-anonymous.http"));
    assert_eq!(r.header("content-length"), Some("390"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Cache-Control"), Some("no-cache, private"));
    // Go's canonical header case on the wire, a fresh audit id, the anonymous flow schema.
    assert!(r.headers.iter().any(|(n, _)| n == "Audit-Id"));
    assert_ne!(
        r.header("audit-id"),
        Some("acec230a-7b44-4810-883d-1f8b2bcfd723")
    );
    assert_eq!(
        r.header("X-Kubernetes-Pf-Flowschema-Uid"),
        Some("71e7eeaa-7793-43ac-ada9-2471413ea48a")
    );
    let h = get(&s, "/livez", Auth::None);
    assert_eq!((h.status, h.text()), (200, "ok"));
    let ready = get(&s, "/readyz?verbose", ADMIN);
    assert_eq!(ready.text(), recorded("readyz-verbose.http"));
}

#[test]
fn anonymous_resource_requests_get_the_recorded_403() {
    let s = server();
    let r = get(&s, "/api/v1/namespaces/demo/pods", Auth::None);
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), recorded("error-403-anonymous-list-pods.http"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    let d = get(&s, "/api", Auth::None);
    assert_eq!(d.status, 403);
    assert_eq!(
        d.json()["message"],
        "forbidden: User \"system:anonymous\" cannot get path \"/api\""
    );
    let open = FakeApiServer::start(ServerConfig {
        allow_anonymous: true,
        ..fast()
    })
    .unwrap();
    assert_eq!(
        get(&open, "/api/v1/namespaces/demo/pods", Auth::None).status,
        200
    );
}

#[test]
fn unknown_token_gets_401_and_the_request_is_still_recorded() {
    let s = server();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods",
        Auth::Bearer("not-a-valid-token"),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), recorded("error-401-bad-token.http"));
    assert!(r.header("X-Kubernetes-Pf-Flowschema-Uid").is_none());
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path_and_query, "/api/v1/namespaces/demo/pods");
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer not-a-valid-token")
    );
    assert!(reqs[0].headers.iter().all(|(n, _)| *n == n.to_lowercase()));
}

#[test]
fn client_certificate_authenticates_as_admin() {
    let s = server();
    let r = get(&s, "/api/v1/nodes", Auth::ClientCert);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), recorded("nodes-list.http"));
    assert!(s.requests()[0].header("authorization").is_none());
}

#[test]
fn reader_token_is_confined_to_reading_pods_in_demo() {
    let s = server();
    let ok = get(&s, "/api/v1/namespaces/demo/pods?limit=2", READER);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), recorded("reader-list-pods-demo-limit2.http"));
    assert_eq!(
        ok.header("X-Kubernetes-Pf-Flowschema-Uid"),
        Some("ed3409cc-6aef-42ba-b8d2-b1868a64b529")
    );
    let ks = get(&s, "/api/v1/namespaces/kube-system/pods", READER);
    assert_eq!(ks.status, 403);
    assert_eq!(
        ks.text(),
        recorded("error-403-reader-list-pods-kube-system.http")
    );
    let secrets = get(&s, "/api/v1/namespaces/demo/secrets", READER);
    assert_eq!(
        secrets.text(),
        recorded("error-403-reader-list-secrets.http")
    );
    let log = get(&s, "/api/v1/namespaces/demo/pods/demo-00001/log", READER);
    assert_eq!(log.status, 403);
    assert_eq!(
        log.json()["message"],
        "pods \"demo-00001\" is forbidden: User \"system:serviceaccount:demo:reader\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"demo\""
    );
    assert_eq!(
        get(&s, "/api/v1/namespaces/demo/pods/demo-00001", READER).status,
        200
    );
    assert_eq!(get(&s, "/apis", READER).status, 200);
}

#[test]
fn untrusted_serving_certificate_fails_the_handshake_before_any_request() {
    let s = FakeApiServer::start(ServerConfig {
        untrusted_serving_cert: true,
        ..fast()
    })
    .unwrap();
    let err = testclient::get(&s, "/version", ADMIN, &[])
        .err()
        .expect("handshake must fail");
    assert!(format!("{err:#}").contains("UnknownIssuer"), "{err:#}");
    assert!(s.requests().is_empty());
}

#[test]
fn request_work_holds_every_answer_back_at_least_that_long() {
    let work = Duration::from_millis(30);
    let s = FakeApiServer::start(ServerConfig {
        request_work: Some(work),
        ..fast()
    })
    .unwrap();
    for path in ["/version", "/api/v1/namespaces/demo/pods/demo-00001"] {
        let started = std::time::Instant::now();
        assert_eq!(get(&s, path, ADMIN).status, 200);
        assert!(started.elapsed() >= work, "{path}: {:?}", started.elapsed());
    }
}

#[test]
fn plain_http_acts_like_kubectl_proxy() {
    let s = FakeApiServer::start(ServerConfig {
        tls: false,
        ..fast()
    })
    .unwrap();
    assert!(s.url().starts_with("http://127.0.0.1:"));
    let r = get(&s, "/api/v1/namespaces/demo/pods/demo-00001", Auth::None);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), recorded("pod-get.http"));
}

#[test]
fn https_offers_h2_and_http11_via_alpn() {
    let s = server();
    let alpn = testclient::handshake(&s, &[b"h2", b"http/1.1"]).unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
}

#[test]
fn pod_list_and_get_replay_recorded_bytes_and_framing() {
    let s = server();
    let list = get(&s, "/api/v1/namespaces/demo/pods", ADMIN);
    assert_eq!(list.text(), recorded("pods-demo-list.http"));
    assert!(list.is_chunked());
    let pod = get(&s, "/api/v1/namespaces/demo/pods/demo-00001", ADMIN);
    assert_eq!(pod.text(), recorded("pod-get.http"));
    let pending = get(&s, "/api/v1/namespaces/demo/pods/demo-00000", ADMIN);
    assert_eq!(pending.text(), recorded("pod-get-pending.http"));
    let sa = get(&s, "/api/v1/namespaces/demo/serviceaccounts/reader", ADMIN);
    assert_eq!(sa.text(), recorded("serviceaccount-reader.http"));
    assert_eq!(sa.header("content-length"), Some("204"));
    assert_eq!(
        get(&s, "/api/v1/namespaces", ADMIN).text(),
        recorded("namespaces-list.http")
    );
    assert_eq!(
        get(&s, "/api/v1/namespaces/demo/configmaps", ADMIN).text(),
        recorded("configmaps-demo-list.http")
    );
    let node = get(&s, "/api/v1/nodes/node-2", ADMIN).json();
    assert_eq!(node["kind"], "Node");
    assert_eq!(
        get(&s, "/api/v1/namespaces/demo", ADMIN).json()["kind"],
        "Namespace"
    );
}

#[test]
fn pretty_output_for_curl_user_agents_matches_recording() {
    let s = server();
    let r = get_with(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001",
        ADMIN,
        &[("User-Agent", "curl/7.88.1")],
    );
    assert_eq!(r.text(), recorded("pod-get-curl-useragent-pretty.http"));
}

#[test]
fn list_paging_follows_continue_tokens() {
    let s = server();
    let first = get(&s, "/api/v1/namespaces/demo/pods?limit=5", ADMIN);
    assert_eq!(first.text(), recorded("pods-demo-limit5.http"));
    let token = first.json()["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_string();
    let second = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods?limit=5&continue={token}"),
        ADMIN,
    );
    assert_eq!(second.text(), recorded("pods-demo-limit5-page2.http"));

    let mut all = Vec::new();
    let mut path = "/api/v1/namespaces/demo/pods?limit=7".to_string();
    loop {
        let page = get(&s, &path, ADMIN).json();
        all.extend(names(&page, "items"));
        match page["metadata"]["continue"].as_str() {
            Some(t) => {
                path = format!("/api/v1/namespaces/demo/pods?limit=7&continue={t}");
                assert!(page["metadata"]["remainingItemCount"].as_u64().unwrap() > 0);
            }
            None => {
                assert!(page["metadata"].get("remainingItemCount").is_none());
                break;
            }
        }
    }
    let expected: Vec<String> = (0..50).map(|i| format!("demo-{i:05}")).collect();
    assert_eq!(all, expected);

    let all_ns = get(&s, "/api/v1/pods?limit=2", ADMIN);
    assert_eq!(all_ns.text(), recorded("pods-all-namespaces-limit2.http"));
}

#[test]
fn stale_continue_token_gets_the_recorded_410_and_garbage_a_400() {
    let s = server();
    let stale = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MzQ1LCJzdGFydCI6Ii9kZW1vLTAwMDA0XHUwMDAwIn0";
    let r = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods?limit=5&continue={stale}"),
        ADMIN,
    );
    assert_eq!(r.status, 410);
    assert_eq!(r.text(), recorded("error-410-expired-continue.http"));
    // The fresh "inconsistent" token from the 410 continues the list.
    let fresh = r.json()["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_string();
    let next = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods?limit=5&continue={fresh}"),
        ADMIN,
    );
    assert_eq!(names(&next.json(), "items")[0], "demo-00005");
    let bad = get(&s, "/api/v1/namespaces/demo/pods?continue=bogus!", ADMIN);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["reason"], "BadRequest");
    let exact = get(
        &s,
        "/api/v1/namespaces/demo/pods?resourceVersion=2&resourceVersionMatch=Exact&limit=1",
        ADMIN,
    );
    assert_eq!(
        exact.text(),
        recorded("error-410-list-resourceversion-exact-compacted.http")
    );
}

#[test]
fn selectors_filter_lists_like_the_recordings() {
    let s = server();
    let l = get(
        &s,
        "/api/v1/namespaces/demo/pods?labelSelector=tier%3Dweb%2Cindex%20in%20%280%2C3%2C6%29",
        ADMIN,
    );
    assert_eq!(l.text(), recorded("pods-demo-labelselector.http"));
    let f = get(
        &s,
        "/api/v1/namespaces/demo/pods?fieldSelector=status.phase%3DPending&limit=3",
        ADMIN,
    );
    assert_eq!(f.text(), recorded("pods-demo-fieldselector-pending.http"));
    let running = get(
        &s,
        "/api/v1/namespaces/demo/pods?fieldSelector=status.phase!%3DPending",
        ADMIN,
    );
    assert_eq!(names(&running.json(), "items").len(), 40);
    let node1 = get(
        &s,
        "/api/v1/namespaces/demo/pods?fieldSelector=spec.nodeName%3Dnode-1,metadata.name!%3Ddemo-00003",
        ADMIN,
    )
    .json();
    for p in node1["items"].as_array().unwrap() {
        assert_eq!(p["spec"]["nodeName"], "node-1");
    }
    let by_name = get(
        &s,
        "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Ddemo-00007",
        ADMIN,
    );
    assert_eq!(names(&by_name.json(), "items"), vec!["demo-00007"]);
    let not_web = get(
        &s,
        "/api/v1/namespaces/demo/pods?labelSelector=tier!%3Dweb,app",
        ADMIN,
    )
    .json();
    assert!(
        not_web["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["metadata"]["labels"]["tier"] != "web")
    );
    let unsupported = get(
        &s,
        "/api/v1/namespaces/demo/pods?fieldSelector=spec.foo%3Dx",
        ADMIN,
    );
    assert_eq!(unsupported.status, 400);
    assert_eq!(
        unsupported.json()["message"],
        "field label not supported: spec.foo"
    );
}

#[test]
fn tables_replay_recorded_rows_and_filter_them() {
    let s = server();
    let all = get_with(&s, "/api/v1/namespaces/demo/pods", ADMIN, &[TABLE]);
    assert_eq!(all.text(), recorded("pods-demo-table.http"));
    let none = get_with(
        &s,
        "/api/v1/namespaces/demo/pods?includeObject=None&limit=3",
        ADMIN,
        &[TABLE],
    );
    assert_eq!(
        none.text(),
        recorded("pods-demo-table-includeObject-None.http")
    );
    let one = get_with(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001",
        ADMIN,
        &[TABLE],
    );
    assert_eq!(one.text(), recorded("pod-get-table.http"));
    assert_eq!(
        get_with(&s, "/api/v1/nodes", ADMIN, &[TABLE]).text(),
        recorded("nodes-table.http")
    );
    let filtered = get_with(
        &s,
        "/api/v1/namespaces/demo/pods?labelSelector=index%20in%20(1,2)&limit=1",
        ADMIN,
        &[TABLE],
    )
    .json();
    assert_eq!(names(&filtered, "rows"), vec!["demo-00001"]);
    assert!(filtered["metadata"]["continue"].is_string());
    assert_eq!(
        filtered["rows"][0]["object"]["kind"],
        "PartialObjectMetadata"
    );
    let cms = get_with(&s, "/api/v1/namespaces/demo/configmaps", ADMIN, &[TABLE]).json();
    let cols: Vec<&str> = cms["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, vec!["Name", "Data", "Age"]);
    assert_eq!(cms["rows"].as_array().unwrap().len(), 4);
    let meta = get_with(
        &s,
        "/api/v1/namespaces/demo/pods?limit=2",
        ADMIN,
        &[(
            "Accept",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
        )],
    )
    .json();
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert_eq!(meta["items"][1]["kind"], "PartialObjectMetadata");
    assert_eq!(meta["items"][1]["metadata"]["name"], "demo-00001");
    assert!(meta["items"][1].get("spec").is_none());
    assert_eq!(meta["metadata"]["remainingItemCount"], 48);
    let xml = get_with(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001",
        ADMIN,
        &[("Accept", "application/xml")],
    );
    assert_eq!(xml.text(), recorded("error-406-not-acceptable.http"));
}

#[test]
fn other_namespaces_list_empty_even_as_tables() {
    let s = server();
    let r = get(&s, "/api/v1/namespaces/kube-system/pods", ADMIN);
    assert_eq!(r.text(), recorded("error-404-missing-namespace-list.http"));
    assert!(!r.is_chunked());
    let t = get_with(&s, "/api/v1/namespaces/kube-system/pods", ADMIN, &[TABLE]).json();
    assert_eq!(t["rows"], serde_json::json!([]));
    let recorded_table: Value = serde_json::from_str(&recorded("pods-demo-table.http")).unwrap();
    assert_eq!(t["columnDefinitions"], recorded_table["columnDefinitions"]);
    let deploys = get(&s, "/apis/apps/v1/namespaces/demo/deployments", ADMIN).json();
    assert_eq!(deploys["kind"], "DeploymentList");
    assert_eq!(deploys["apiVersion"], "apps/v1");
}

#[test]
fn missing_objects_and_unknown_resources_get_recorded_404s() {
    let s = server();
    let r = get(&s, "/api/v1/namespaces/demo/pods/does-not-exist", ADMIN);
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), recorded("error-404-missing-pod.http"));
    let w = get(&s, "/api/v1/namespaces/demo/widgets", ADMIN);
    assert_eq!(w.text(), recorded("error-404-unknown-resource.http"));
    assert_eq!(get(&s, "/no/such/path", ADMIN).status, 404);
    let d = get(&s, "/apis/apps/v1/namespaces/demo/deployments/web", ADMIN).json();
    assert_eq!(d["message"], "deployments.apps \"web\" not found");
    assert_eq!(d["details"]["group"], "apps");
    let post = testclient::request(&s, "POST", "/api/v1/namespaces/demo/pods", ADMIN, &[]).unwrap();
    assert_eq!(
        post.text(),
        recorded("error-415-unsupported-media-type.http")
    );
    let collection =
        testclient::request(&s, "DELETE", "/api/v1/namespaces/demo/pods", ADMIN, &[]).unwrap();
    assert_eq!(collection.status, 405);
}

#[test]
fn discovery_serves_legacy_aggregated_and_derived_documents() {
    let s = server();
    assert_eq!(get(&s, "/api", ADMIN).text(), recorded("api.http"));
    assert_eq!(get(&s, "/api/v1", ADMIN).text(), recorded("api-v1.http"));
    // `/apis` is the recorded list with the CRD's group added last.
    let apis = recorded("apis.http");
    let served = get(&s, "/apis", ADMIN);
    let (head, _) = apis.trim_end().split_at(apis.trim_end().len() - 2);
    assert!(served.text().starts_with(head), "{}", served.text());
    assert!(
        served
            .text()
            .ends_with(&format!(",{}]}}\n", crate::crd::LEGACY_GROUP))
    );
    assert_eq!(
        get(&s, "/apis/apps/v1", ADMIN).text(),
        recorded("apis-apps-v1.http")
    );
    let accept = (
        "Accept",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    );
    let agg = get_with(&s, "/apis", ADMIN, &[accept]);
    let recorded_agg = recorded("discovery-aggregated-apis.http");
    assert_eq!(
        agg.text(),
        format!(
            "{},{}]}}\n",
            &recorded_agg[..recorded_agg.trim_end().len() - 2],
            crate::crd::AGGREGATED_GROUP
        )
    );
    assert_eq!(
        agg.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let etag = agg.header("etag").unwrap().to_string();
    let again = get_with(&s, "/apis", ADMIN, &[accept, ("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert_eq!(
        get_with(&s, "/api", ADMIN, &[accept]).text(),
        recorded("discovery-aggregated-api.http")
    );
    let batch = get(&s, "/apis/batch/v1", ADMIN).json();
    assert_eq!(batch["groupVersion"], "batch/v1");
    assert_eq!(batch["resources"][0]["name"], "cronjobs");
    assert_eq!(batch["resources"][1]["name"], "cronjobs/status");
    assert_eq!(get(&s, "/apis/apps", ADMIN).json()["kind"], "APIGroup");
    assert_eq!(
        get(&s, "/openapi/v3", ADMIN).text(),
        recorded("openapi-v3-index.http")
    );
}

#[test]
fn watch_streams_recorded_events_one_chunk_each_then_bookmark() {
    let s = server();
    let started = std::time::Instant::now();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&allowWatchBookmarks=true&resourceVersion=8393&timeoutSeconds=1",
        ADMIN,
    );
    assert_eq!(r.status, 200);
    assert!(r.is_chunked());
    assert_eq!(r.text(), recorded("watch-pods-demo.http"));
    assert_eq!(r.chunks.len(), 6);
    for (_, c) in &r.chunks {
        assert!(c.ends_with(b"\n"));
        assert_eq!(c.iter().filter(|b| **b == b'\n').count(), 1);
    }
    // Five pauses of 40ms separate the six events.
    assert!(r.chunks[5].0 - started >= Duration::from_millis(200));
    let no_bookmarks = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=true&resourceVersion=8393",
        ADMIN,
    );
    assert_eq!(no_bookmarks.json_lines().len(), 5);
    let resumed = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=true&resourceVersion=8397&allowWatchBookmarks=true",
        ADMIN,
    );
    let types: Vec<String> = resumed
        .json_lines()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, vec!["MODIFIED", "DELETED", "BOOKMARK"]);
}

#[test]
fn watch_ends_at_timeout_seconds() {
    let s = FakeApiServer::start(ServerConfig {
        watch_event_interval: Duration::from_millis(600),
        ..ServerConfig::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8393&timeoutSeconds=1",
        ADMIN,
    );
    assert_eq!(r.json_lines().len(), 2);
    assert!(started.elapsed() < Duration::from_millis(2500));
}

#[test]
fn watch_from_too_old_resource_version_gets_a_single_410_event() {
    let s = server();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=1&allowWatchBookmarks=true",
        ADMIN,
    );
    assert_eq!(r.status, 200);
    let events = r.json_lines();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
    let recorded_event: Value =
        serde_json::from_str(recorded("watch-too-old-resourceversion.http").trim()).unwrap();
    assert_eq!(
        recorded_event["object"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        events[0]["object"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        events[0]["object"]["message"],
        "too old resource version: 1 (8284)"
    );
}

#[test]
fn table_watch_sends_column_definitions_only_first() {
    let s = server();
    let r = get_with(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8393&allowWatchBookmarks=true",
        ADMIN,
        &[TABLE],
    );
    let events = r.json_lines();
    assert_eq!(events.len(), 6);
    let recorded_table: Value = serde_json::from_str(&recorded("pods-demo-table.http")).unwrap();
    assert_eq!(
        events[0]["object"]["columnDefinitions"],
        recorded_table["columnDefinitions"]
    );
    for e in &events[1..] {
        assert!(e["object"]["columnDefinitions"].is_null());
        assert!(r.text().contains("\"columnDefinitions\":null"));
    }
    let statuses: Vec<&str> = events[..5]
        .iter()
        .map(|e| {
            assert_eq!(e["object"]["kind"], "Table");
            assert_eq!(e["object"]["rows"].as_array().unwrap().len(), 1);
            assert_eq!(
                e["object"]["rows"][0]["object"]["kind"],
                "PartialObjectMetadata"
            );
            assert_eq!(e["object"]["rows"][0]["cells"][0], "watch-demo");
            e["object"]["rows"][0]["cells"][2].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            "Pending",
            "Pending",
            "Terminating",
            "Terminating",
            "Terminating"
        ]
    );
    assert_eq!(events[0]["object"]["metadata"]["resourceVersion"], "8394");
    assert_eq!(events[0]["object"]["rows"][0]["cells"][6], "node-1");
    let bookmark = &events[5];
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(
        bookmark["object"]["rows"][0]["object"]["metadata"]["resourceVersion"],
        "8399"
    );
}

#[test]
fn watch_selectors_turn_label_changes_into_added_and_name_filters() {
    let s = server();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8393&labelSelector=stage%3Dlabelled",
        ADMIN,
    );
    let types: Vec<(String, String)> = r
        .json_lines()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("ADDED".to_string(), "8396".to_string()),
            ("MODIFIED".into(), "8397".into()),
            ("MODIFIED".into(), "8398".into()),
            ("DELETED".into(), "8399".into())
        ]
    );
    // Leaving the selector is a DELETED carrying the previous object at the new version.
    let left = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8393&labelSelector=stage!%3Dlabelled",
        ADMIN,
    )
    .json_lines();
    assert_eq!(left.len(), 2);
    assert_eq!(
        (left[0]["type"].as_str(), left[1]["type"].as_str()),
        (Some("ADDED"), Some("DELETED"))
    );
    assert_eq!(left[1]["object"]["metadata"]["resourceVersion"], "8396");
    assert!(
        left[1]["object"]["metadata"]["labels"]
            .get("stage")
            .is_none()
    );
    let other = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8393&fieldSelector=metadata.name%3Ddemo-00001",
        ADMIN,
    );
    assert!(r.status == 200 && other.text().is_empty());
}

#[test]
fn watch_without_resource_version_starts_with_current_objects() {
    let s = server();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&labelSelector=index%20in%20(1,2,3)",
        ADMIN,
    );
    let events = r.json_lines();
    let added: Vec<&str> = events[..3]
        .iter()
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(added, vec!["demo-00001", "demo-00002", "demo-00003"]);
    assert!(events[..3].iter().all(|e| e["type"] == "ADDED"));
    // The initial ADDED events carry the objects exactly as the recorded streaming list does.
    let recorded_first = recorded("watch-pods-demo-sendInitialEvents.http");
    assert_eq!(
        r.text().lines().next().unwrap(),
        recorded_first.lines().next().unwrap()
    );
    let initial = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=index%20in%20(1,2,3)",
        ADMIN,
    );
    let ev = initial.json_lines();
    assert_eq!(ev[3]["type"], "BOOKMARK");
    assert_eq!(
        ev[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[test]
fn followed_log_streams_lines_then_closes() {
    let s = server();
    let started = std::time::Instant::now();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?follow=true&timestamps=true",
        ADMIN,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.chunks.len(), 5);
    assert_eq!(
        String::from_utf8_lossy(&r.chunks[0].1),
        "2026-11-28T15:26:59.000000000Z line 1 from demo/demo-00001/main\n"
    );
    assert!(r.chunks[4].0 - started >= Duration::from_millis(160));
    let tail = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?tailLines=2&container=main",
        ADMIN,
    );
    assert_eq!(
        tail.text(),
        "line 4 from demo/demo-00001/main\nline 5 from demo/demo-00001/main\n"
    );
    let since = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?sinceSeconds=2",
        ADMIN,
    );
    assert_eq!(since.text().lines().count(), 3);
    let limited = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?limitBytes=10",
        ADMIN,
    );
    assert_eq!(limited.text(), "line 1 fro");
    let more = FakeApiServer::start(ServerConfig {
        log_lines: 12,
        ..fast()
    })
    .unwrap();
    assert_eq!(
        get(&more, "/api/v1/namespaces/demo/pods/demo-00002/log", ADMIN)
            .text()
            .lines()
            .count(),
        12
    );
}

#[test]
fn log_errors_follow_the_apiserver() {
    let s = server();
    let pending = get(&s, "/api/v1/namespaces/demo/pods/demo-00000/log", ADMIN);
    assert_eq!(pending.status, 204);
    assert!(pending.body.is_empty());
    let bad = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?container=sidecar",
        ADMIN,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.text(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"container sidecar is not valid for pod demo-00001\",\"reason\":\"BadRequest\",\"code\":400}\n"
    );
    let missing = get(&s, "/api/v1/namespaces/demo/pods/nope/log", ADMIN);
    assert_eq!(missing.json()["message"], "pods \"nope\" not found");
    let both = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?sinceSeconds=5&sinceTime=2026-11-28T15:00:00Z",
        ADMIN,
    );
    assert_eq!(both.status, 422);
    let prev = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00000/log?previous=true",
        ADMIN,
    );
    assert_eq!(prev.status, 204);
    let prev_ok = get(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?previous=true",
        ADMIN,
    );
    assert!(prev_ok.text().ends_with("(previous)\n"));
}

#[test]
fn kubeconfig_and_service_account_dir_have_the_expected_layout() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("config");
    s.write_kubeconfig(
        &kc,
        KubeconfigAuth::Token("kubewasm-demo-admin-token".into()),
        Some("demo"),
    )
    .unwrap();
    let text = std::fs::read_to_string(&kc).unwrap();
    assert!(text.starts_with("apiVersion: v1\nkind: Config\n"));
    assert!(text.contains(&format!("server: \"{}\"", s.url())));
    assert!(text.contains(&format!(
        "certificate-authority-data: {}",
        crate::json::base64_encode(s.ca_pem().as_bytes())
    )));
    assert!(text.contains("token: \"kubewasm-demo-admin-token\""));
    assert!(text.contains("namespace: \"demo\""));
    assert!(text.contains("current-context: kubewasm-demo"));

    let cert = dir.path().join("admin.crt");
    let key = dir.path().join("admin.key");
    s.write_kubeconfig(
        &kc,
        KubeconfigAuth::ClientCertificateFiles {
            cert: cert.clone(),
            key: key.clone(),
        },
        None,
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&cert).unwrap(), s.client_cert_pem());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), s.client_key_pem());
    assert!(!std::fs::read_to_string(&kc).unwrap().contains("namespace:"));

    let sa = dir.path().join("serviceaccount");
    s.write_service_account_dir(&sa, "tok-1", "demo").unwrap();
    let data = std::fs::read_link(sa.join("..data")).unwrap();
    assert!(data.to_string_lossy().starts_with("..20"));
    for f in ["token", "ca.crt", "namespace"] {
        assert_eq!(
            std::fs::read_link(sa.join(f)).unwrap(),
            std::path::Path::new("..data").join(f)
        );
    }
    assert_eq!(std::fs::read_to_string(sa.join("token")).unwrap(), "tok-1");
    assert_eq!(
        std::fs::read_to_string(sa.join("ca.crt")).unwrap(),
        s.ca_pem()
    );
    s.write_service_account_dir(&sa, "tok-2", "demo").unwrap();
    assert_eq!(std::fs::read_to_string(sa.join("token")).unwrap(), "tok-2");
    assert!(
        !sa.join(&data).exists(),
        "the rotated-out directory is removed"
    );
}

#[test]
fn stopping_the_server_closes_the_port() {
    let s = server();
    let addr = s.addr();
    drop(s);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

const AGGREGATED: (&str, &str) = (
    "Accept",
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
);

#[test]
fn crd_group_is_served_by_aggregated_and_legacy_discovery() {
    let s = server();
    let agg = get_with(&s, "/apis", ADMIN, &[AGGREGATED]);
    assert_eq!(agg.status, 200);
    let etag = agg.header("etag").unwrap().to_string();
    assert_ne!(
        etag,
        fixtures::get("discovery-aggregated-apis.http")
            .unwrap()
            .header("etag")
            .unwrap(),
        "the served document changed, so did its ETag"
    );
    assert_eq!(
        get_with(&s, "/apis", ADMIN, &[AGGREGATED, ("If-None-Match", &etag)]).status,
        304
    );
    let agg = agg.json();
    let group = agg["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(group["metadata"]["name"], "stable.example.com");
    let r = &group["versions"][0]["resources"][0];
    assert_eq!(group["versions"][0]["version"], "v1");
    assert_eq!(r["resource"], "crontabs");
    assert_eq!(r["singularResource"], "crontab");
    assert_eq!(r["scope"], "Namespaced");
    assert_eq!(r["shortNames"], serde_json::json!(["ct"]));
    // CRDs name their group and version in responseKind; built-in groups leave them empty.
    assert_eq!(
        r["responseKind"],
        serde_json::json!({"group": "stable.example.com", "version": "v1", "kind": "CronTab"})
    );

    let legacy = get(&s, "/apis", ADMIN).json();
    let g = legacy["groups"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(g["name"], "stable.example.com");
    assert_eq!(
        g["preferredVersion"]["groupVersion"],
        "stable.example.com/v1"
    );

    let group = get(&s, "/apis/stable.example.com", ADMIN);
    assert_eq!(
        group.text(),
        "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"stable.example.com\",\"versions\":[{\"groupVersion\":\"stable.example.com/v1\",\"version\":\"v1\"}],\"preferredVersion\":{\"groupVersion\":\"stable.example.com/v1\",\"version\":\"v1\"}}\n"
    );
    let list = get(&s, "/apis/stable.example.com/v1", ADMIN);
    assert_eq!(
        list.text(),
        "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"stable.example.com/v1\",\"resources\":[{\"name\":\"crontabs\",\"singularName\":\"crontab\",\"namespaced\":true,\"kind\":\"CronTab\",\"verbs\":[\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"create\",\"update\",\"watch\"],\"shortNames\":[\"ct\"]}]}\n"
    );
    assert_eq!(get(&s, "/apis/stable.example.com/v2", ADMIN).status, 404);
}

#[test]
fn crontabs_list_and_get_as_unstructured_json() {
    let s = server();
    let list = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs",
        ADMIN,
    );
    assert_eq!(list.status, 200);
    let text = list.text();
    assert!(
        text.starts_with("{\"apiVersion\":\"stable.example.com/v1\",\"items\":[{\"apiVersion\":\"stable.example.com/v1\",\"kind\":\"CronTab\",\"metadata\":{\"creationTimestamp\":"),
        "{text}"
    );
    assert!(
        text.ends_with("],\"kind\":\"CronTabList\",\"metadata\":{\"continue\":\"\",\"resourceVersion\":\"8384\"}}\n"),
        "{text}"
    );
    let v = list.json();
    assert_eq!(names(&v, "items"), ["backup", "cache-warmer", "report"]);

    let all = get(&s, "/apis/stable.example.com/v1/crontabs", ADMIN).json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let other = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/kube-system/crontabs",
        ADMIN,
    )
    .json();
    assert_eq!(other["items"].as_array().unwrap().len(), 0);

    let page = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs?limit=2",
        ADMIN,
    )
    .json();
    assert_eq!(names(&page, "items"), ["backup", "cache-warmer"]);
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let next = page["metadata"]["continue"].as_str().unwrap().to_string();
    let rest = get(
        &s,
        &format!("/apis/stable.example.com/v1/namespaces/demo/crontabs?limit=2&continue={next}"),
        ADMIN,
    )
    .json();
    assert_eq!(names(&rest, "items"), ["report"]);
    assert_eq!(rest["metadata"]["continue"], "");

    let labelled = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs?labelSelector=team%3Dweb",
        ADMIN,
    )
    .json();
    assert_eq!(names(&labelled, "items"), ["cache-warmer"]);

    let one = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs/backup",
        ADMIN,
    );
    assert_eq!(one.status, 200);
    assert_eq!(one.text(), format!("{}\n", crate::crd::CRONTABS[0]));
    let missing = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs/nope",
        ADMIN,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["details"]["group"], "stable.example.com");
}

#[test]
fn crontabs_table_has_name_and_age_columns_of_the_crd_convertor() {
    let s = server();
    let t = get_with(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs",
        ADMIN,
        &[TABLE],
    )
    .json();
    assert_eq!(t["kind"], "Table");
    let cols = t["columnDefinitions"].as_array().unwrap();
    let col_names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(col_names, ["Name", "Age"]);
    assert_eq!(cols[0]["format"], "name");
    assert_eq!(cols[1]["type"], "date");
    assert!(
        cols[1]["description"]
            .as_str()
            .unwrap()
            .starts_with("CreationTimestamp is a timestamp")
    );
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // Created 1m19s..1m22s before the recorded "now" (15:27:03).
    assert_eq!(rows[0]["cells"], serde_json::json!(["backup", "82s"]));
    assert_eq!(rows[2]["cells"], serde_json::json!(["report", "79s"]));
    let meta = &rows[0]["object"];
    assert_eq!(meta["kind"], "PartialObjectMetadata");
    assert_eq!(meta["metadata"]["name"], "backup");

    let one = get_with(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs/report",
        ADMIN,
        &[TABLE],
    )
    .json();
    assert_eq!(one["rows"][0]["cells"][0], "report");
}

#[test]
fn crontabs_watch_sends_initial_events_then_a_sorted_bookmark() {
    let s = server();
    let r = get(
        &s,
        "/apis/stable.example.com/v1/namespaces/demo/crontabs?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        ADMIN,
    );
    assert_eq!(r.status, 200);
    let lines: Vec<&str> = r.text().lines().collect();
    assert!(lines.len() >= 4, "{}", r.text());
    // Any later lines are the periodic bookmarks of a watch that stays open.
    assert!(
        lines[4..]
            .iter()
            .all(|l| l.starts_with("{\"type\":\"BOOKMARK\""))
    );
    for (line, raw) in lines.iter().zip(crate::crd::CRONTABS) {
        assert_eq!(*line, format!("{{\"type\":\"ADDED\",\"object\":{raw}}}"));
    }
    assert!(
        lines[3].starts_with("{\"type\":\"BOOKMARK\",\"object\":{\"apiVersion\":\"stable.example.com/v1\",\"kind\":\"CronTab\",\"metadata\":{\"annotations\":{\"k8s.io/initial-events-end\":\"true\"},\"resourceVersion\":"),
        "{}",
        lines[3]
    );
}
