//! Scale options for benchmarks: the generated bulk namespace, churn watches, and gzip.

use std::collections::HashSet;
use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bulk::BulkPods;
use crate::fixtures;
use crate::server::{FakeApiServer, ServerConfig};
use crate::testclient::{self, Auth, Resp};

const ADMIN: Auth<'static> = Auth::Bearer("kubewasm-demo-admin-token");
const TABLE: (&str, &str) = (
    "Accept",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
);
const GZIP: (&str, &str) = ("Accept-Encoding", "gzip");

fn bulk(count: usize, churn: Option<usize>) -> FakeApiServer {
    FakeApiServer::start(ServerConfig {
        watch_timeout: Duration::from_secs(20),
        bulk_pods: Some(BulkPods::new(count)),
        watch_churn: churn,
        ..ServerConfig::default()
    })
    .expect("server starts")
}

fn get(s: &FakeApiServer, path: &str, headers: &[(&str, &str)]) -> Resp {
    let r = testclient::get(s, path, ADMIN, headers).expect("request succeeds");
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r
}

fn names(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn bulk_list_has_every_pod_with_distinct_names_and_pages_with_limit_and_continue() {
    let s = bulk(300, None);
    let all = get(&s, "/api/v1/namespaces/bulk/pods", &[]).json();
    assert_eq!(all["kind"], "PodList");
    let expected: Vec<String> = (1..=300).map(|i| format!("bulk-{i:05}")).collect();
    assert_eq!(names(&all), expected);
    let uids: HashSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids.len(), 300);
    // The namespace (8400) and the pods (8401..8700) were created after the recording.
    assert_eq!(all["metadata"]["resourceVersion"], "8700");
    assert_eq!(s.resource_version(), 8700);
    assert_eq!(all["items"][299]["metadata"]["resourceVersion"], "8700");
    assert_eq!(
        get(&s, "/api/v1/namespaces/bulk", &[]).json()["status"]["phase"],
        "Active"
    );
    assert_eq!(
        names(&get(&s, "/api/v1/namespaces/demo/pods", &[]).json()).len(),
        50
    );

    let mut paged = Vec::new();
    let mut path = "/api/v1/namespaces/bulk/pods?limit=120".to_string();
    let mut remaining = Vec::new();
    loop {
        let page = get(&s, &path, &[]).json();
        paged.extend(names(&page));
        assert_eq!(page["metadata"]["resourceVersion"], "8700");
        remaining.push(page["metadata"]["remainingItemCount"].as_u64());
        match page["metadata"]["continue"].as_str() {
            Some(c) => path = format!("/api/v1/namespaces/bulk/pods?limit=120&continue={c}"),
            None => break,
        }
    }
    assert_eq!(paged, expected);
    assert_eq!(remaining, [Some(180), Some(60), None]);

    // Every fifth pod is a clone of a Pending recorded pod.
    let pending = get(
        &s,
        "/api/v1/namespaces/bulk/pods?fieldSelector=status.phase%3DPending",
        &[],
    )
    .json();
    assert_eq!(names(&pending).len(), 60);
    let picked = get(
        &s,
        "/api/v1/namespaces/bulk/pods?labelSelector=index%20in%20%287%2C42%2C299%29",
        &[],
    )
    .json();
    assert_eq!(names(&picked), ["bulk-00007", "bulk-00042", "bulk-00299"]);
    let web = get(
        &s,
        "/api/v1/namespaces/bulk/pods?labelSelector=tier%3Dweb",
        &[],
    )
    .json();
    let n = names(&web).len();
    assert!(n > 50 && n < 150, "{n} web pods");
}

#[test]
fn bulk_pods_serve_as_tables_and_metadata_only_lists() {
    let s = bulk(120, None);
    let t = get(&s, "/api/v1/namespaces/bulk/pods?limit=100", &[TABLE]).json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0]["cells"][0], "bulk-00001");
    assert_eq!(rows[0]["cells"][2], "Running");
    assert_eq!(rows[0]["cells"][5], "127.245.0.1");
    assert_eq!(rows[4]["cells"][2], "Pending");
    assert_eq!(rows[0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["metadata"]["remainingItemCount"], 20);

    let meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    let m = get(&s, "/api/v1/namespaces/bulk/pods", &[("Accept", meta)]).json();
    assert_eq!(m["kind"], "PartialObjectMetadataList");
    assert_eq!(names(&m).len(), 120);
    assert_eq!(m["items"][119]["metadata"]["labels"]["index"], "120");
    assert!(m["items"][0].get("spec").is_none());
}

#[test]
fn churn_watch_yields_exactly_n_modified_events_with_increasing_versions_then_ends() {
    let s = bulk(40, Some(500));
    let list = get(&s, "/api/v1/namespaces/bulk/pods", &[]).json();
    let rv: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let started = Instant::now();
    let w = get(
        &s,
        &format!("/api/v1/namespaces/bulk/pods?watch=1&resourceVersion={rv}"),
        &[],
    );
    // It ended by itself, long before the 20 s watch timeout.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(w.is_chunked());
    assert_eq!(w.chunks.len(), 500, "one chunk per event");
    let events = w.json_lines();
    assert_eq!(events.len(), 500);
    for (k, e) in events.iter().enumerate() {
        assert_eq!(e["type"], "MODIFIED");
        assert_eq!(e["object"]["kind"], "Pod");
        assert_eq!(
            e["object"]["metadata"]["resourceVersion"],
            (rv + 1 + k as u64).to_string()
        );
        assert_eq!(
            e["object"]["metadata"]["name"],
            format!("bulk-{:05}", k % 40 + 1)
        );
    }
    // The event object is the stored pod at the event's version, byte for byte otherwise.
    let pod = get(&s, "/api/v1/namespaces/bulk/pods/bulk-00003", &[]);
    let first_line = w.text().lines().nth(2).unwrap();
    let expected = format!(
        "{{\"type\":\"MODIFIED\",\"object\":{}}}",
        pod.text().trim_end().replace(
            &format!("\"resourceVersion\":\"{}\"", rv - 40 + 3),
            &format!("\"resourceVersion\":\"{}\"", rv + 3)
        )
    );
    assert_eq!(first_line, expected);

    // A selector narrows the cycle; a bookmark closes the stream when asked for.
    let w = get(
        &s,
        &format!(
            "/api/v1/namespaces/bulk/pods?watch=1&resourceVersion={rv}&labelSelector=index%20in%20%282%2C3%29&allowWatchBookmarks=true"
        ),
        &[],
    );
    let events = w.json_lines();
    assert_eq!(events.len(), 501);
    let picked: HashSet<&str> = events[..500]
        .iter()
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(picked, HashSet::from(["bulk-00002", "bulk-00003"]));
    assert_eq!(events[500]["type"], "BOOKMARK");
    assert_eq!(
        events[500]["object"]["metadata"]["resourceVersion"],
        (rv + 500).to_string()
    );

    // Watches elsewhere are the ordinary ones.
    let demo = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
        &[],
    );
    assert_eq!(demo.text(), "");
}

#[test]
fn churn_watch_honours_table_and_metadata_negotiation() {
    let s = bulk(10, Some(30));
    let rv = s.resource_version();
    let path = format!("/api/v1/namespaces/bulk/pods?watch=1&resourceVersion={rv}");
    let events = get(&s, &path, &[TABLE]).json_lines();
    assert_eq!(events.len(), 30);
    for (k, e) in events.iter().enumerate() {
        let v = (rv + 1 + k as u64).to_string();
        assert_eq!(e["type"], "MODIFIED");
        assert_eq!(e["object"]["kind"], "Table");
        assert_eq!(e["object"]["metadata"]["resourceVersion"], v);
        let row = &e["object"]["rows"][0];
        assert_eq!(row["cells"][0], format!("bulk-{:05}", k % 10 + 1));
        assert_eq!(row["object"]["metadata"]["resourceVersion"], v);
        // Only the first event carries the columns, as the API server's watch encoder does.
        assert_eq!(e["object"]["columnDefinitions"].is_array(), k == 0);
    }
    let meta = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
    let events = get(&s, &path, &[("Accept", meta)]).json_lines();
    assert_eq!(events.len(), 30);
    assert!(events.iter().enumerate().all(|(k, e)| {
        e["object"]["kind"] == "PartialObjectMetadata"
            && e["object"]["metadata"]["resourceVersion"].as_str()
                == Some((rv + 1 + k as u64).to_string().as_str())
            && e["object"].get("spec").is_none()
    }));
}

#[test]
fn churn_watch_without_a_version_sends_the_pods_first() {
    let s = bulk(10, Some(25));
    let events = get(&s, "/api/v1/namespaces/bulk/pods?watch=1", &[]).json_lines();
    assert_eq!(events.len(), 35);
    assert!(events[..10].iter().all(|e| e["type"] == "ADDED"));
    assert!(events[10..].iter().all(|e| e["type"] == "MODIFIED"));
    assert_eq!(
        events[10]["object"]["metadata"]["resourceVersion"],
        (s.resource_version() + 1).to_string()
    );
}

#[test]
fn big_lists_are_gzipped_when_asked_and_identical_after_decompression() {
    let s = FakeApiServer::start(ServerConfig::default()).unwrap();
    let recorded = fixtures::get("pods-demo-list.http").unwrap();
    assert!(recorded.body.len() > 128 * 1024);

    let z = get(&s, "/api/v1/namespaces/demo/pods", &[GZIP]);
    assert_eq!(z.header("content-encoding"), Some("gzip"));
    assert_eq!(z.header("vary"), Some("Accept-Encoding"));
    assert!(z.is_chunked() && z.header("content-length").is_none());
    assert!(
        z.body.len() < recorded.body.len() / 5,
        "{} bytes",
        z.body.len()
    );
    assert_eq!(gunzip(&z.body), recorded.body);
    // Go writes headers sorted by name: the two new ones land among the recorded ones.
    let at = |n: &str| z.headers.iter().position(|(h, _)| h == n).unwrap();
    assert_eq!(at("Content-Encoding") + 1, at("Content-Type"));
    assert_eq!(at("Vary") + 1, at("X-Kubernetes-Pf-Flowschema-Uid"));
    let log = s.requests();
    assert!(log.last().unwrap().response_gzipped);

    let plain = get(&s, "/api/v1/namespaces/demo/pods", &[]);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, recorded.body);
    assert!(!s.requests().last().unwrap().response_gzipped);
    // The API server only honours a bare `gzip` token.
    let q = get(
        &s,
        "/api/v1/namespaces/demo/pods",
        &[("Accept-Encoding", "gzip;q=1.0")],
    );
    assert_eq!(q.header("content-encoding"), None);
    let multi = get(
        &s,
        "/api/v1/namespaces/demo/pods",
        &[("Accept-Encoding", "br, gzip")],
    );
    assert_eq!(multi.header("content-encoding"), Some("gzip"));
}

#[test]
fn small_responses_and_watches_are_never_gzipped() {
    let s = FakeApiServer::start(ServerConfig {
        watch_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .unwrap();
    // The 50-pod Table (111 KB) is under the 128 KiB threshold.
    for path in [
        "/api/v1/namespaces/demo/pods/demo-00001",
        "/api/v1/namespaces/demo/pods",
    ] {
        let headers: &[(&str, &str)] = if path.ends_with("pods") {
            &[GZIP, TABLE]
        } else {
            &[GZIP]
        };
        let r = get(&s, path, headers);
        assert_eq!(r.header("content-encoding"), None, "{path}");
        assert_eq!(r.header("vary"), None, "{path}");
    }
    let w = get(&s, "/api/v1/namespaces/demo/pods?watch=1", &[GZIP]);
    assert_eq!(w.header("content-encoding"), None);
    assert!(w.json_lines().len() >= 50);
    assert!(s.requests().iter().all(|r| !r.response_gzipped));

    let off = FakeApiServer::start(ServerConfig {
        gzip: false,
        ..ServerConfig::default()
    })
    .unwrap();
    let r = get(&off, "/api/v1/namespaces/demo/pods", &[GZIP]);
    assert_eq!(r.header("content-encoding"), None);
}

#[test]
fn a_big_bulk_list_is_gzipped_and_a_churn_watch_is_not() {
    let s = bulk(100, Some(50));
    let plain = get(&s, "/api/v1/namespaces/bulk/pods", &[]);
    let z = get(&s, "/api/v1/namespaces/bulk/pods", &[GZIP]);
    assert_eq!(z.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&z.body), plain.body);
    let rv = s.resource_version();
    let w = get(
        &s,
        &format!("/api/v1/namespaces/bulk/pods?watch=1&resourceVersion={rv}"),
        &[GZIP],
    );
    assert_eq!(w.header("content-encoding"), None);
    assert_eq!(w.json_lines().len(), 50);
}
