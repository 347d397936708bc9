//! Behaviour tests of live watches, history, compaction and injected faults.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::{Faults, SlowBody, Throttle};
use crate::server::{FakeApiServer, ServerConfig};
use crate::testclient::{self, Auth, Resp};

const ADMIN: Auth<'static> = Auth::Bearer("kubewasm-demo-admin-token");
const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"live","labels":{"app":"live"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}"#;

fn config() -> ServerConfig {
    ServerConfig {
        watch_event_interval: Duration::from_millis(10),
        watch_timeout: Duration::from_millis(800),
        ..ServerConfig::default()
    }
}

fn start(config: ServerConfig) -> FakeApiServer {
    FakeApiServer::start(config).expect("server starts")
}

fn get(s: &FakeApiServer, path: &str) -> Resp {
    testclient::get(s, path, ADMIN, &[]).expect("request")
}

fn events(r: &Resp) -> Vec<Value> {
    r.text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (type, name, resourceVersion) of each event.
fn summary(r: &Resp) -> Vec<(String, String, String)> {
    events(r)
        .iter()
        .map(|e| {
            let s = |p: &str| {
                e.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            (
                s("/type"),
                s("/object/metadata/name"),
                s("/object/metadata/resourceVersion"),
            )
        })
        .collect()
}

fn ev(t: &str, name: &str, rv: &str) -> (String, String, String) {
    (t.into(), name.into(), rv.into())
}

#[test]
fn watch_streams_events_of_later_writes_live() {
    let s = start(config());
    let started = Instant::now();
    let r = std::thread::scope(|scope| {
        let watch = scope.spawn(|| {
            get(
                &s,
                "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8399&allowWatchBookmarks=true&labelSelector=app%3Dlive",
            )
        });
        std::thread::sleep(Duration::from_millis(200));
        s.create("/api/v1/namespaces/demo/pods", POD).unwrap();
        s.patch(
            "/api/v1/namespaces/demo/pods/live",
            "merge",
            r#"{"metadata":{"labels":{"app":"gone"}}}"#,
        )
        .unwrap();
        watch.join().unwrap()
    });
    assert_eq!(
        summary(&r),
        vec![
            ev("ADDED", "live", "8400"),
            // Leaving the selector: the previous object at the new version.
            ev("DELETED", "live", "8401"),
            ev("BOOKMARK", "", "8401"),
        ]
    );
    // The ADDED arrived while the watch was open, well before it ended.
    let added_at = r.chunks[0].0;
    assert!(added_at - started < Duration::from_millis(600));
    assert!(r.chunks[2].0 - added_at >= Duration::from_millis(400));
}

#[test]
fn watch_from_a_version_replays_stored_events_after_it() {
    let s = start(config());
    s.create("/api/v1/namespaces/demo/pods", POD).unwrap();
    s.delete("/api/v1/namespaces/demo/pods/live").unwrap();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8399",
    );
    assert_eq!(
        summary(&r),
        vec![
            ev("ADDED", "live", "8400"),
            ev("MODIFIED", "live", "8401"),
            ev("DELETED", "live", "8402"),
        ]
    );
    let from_list = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8384",
    );
    let names: Vec<String> = summary(&from_list).into_iter().map(|e| e.1).collect();
    assert_eq!(names.len(), 8, "the recorded watch-demo events, then ours");
    assert!(names[..5].iter().all(|n| n == "watch-demo"));
    // Lists report the new version once something changed.
    let list = get(&s, "/api/v1/namespaces/demo/pods?limit=1").json();
    assert_eq!(list["metadata"]["resourceVersion"], "8402");
}

#[test]
fn watch_from_old_rv_after_compaction_gets_410() {
    let s = start(config());
    s.create("/api/v1/namespaces/demo/pods", POD).unwrap();
    s.compact();
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8384&allowWatchBookmarks=true",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 8384 (8400)\",\"reason\":\"Expired\",\"code\":410}}\n"
    );
    // A relist gives a version the watch can start from.
    let list = get(&s, "/api/v1/namespaces/demo/pods?limit=1").json();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rv, "8400");
    let resumed = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods?watch=1&resourceVersion={rv}"),
    );
    assert!(resumed.text().is_empty());
    // Lists at a compacted version expire too.
    let exact = get(
        &s,
        "/api/v1/namespaces/demo/pods?resourceVersion=8390&resourceVersionMatch=Exact&limit=1",
    );
    assert_eq!(exact.status, 410);
}

#[test]
fn expire_watch_rv_below_makes_older_watches_relist() {
    let s = start(ServerConfig {
        faults: Faults {
            expire_watch_rv_below: Some(8396),
            ..Faults::default()
        },
        ..config()
    });
    let list = get(&s, "/api/v1/namespaces/demo/pods?limit=1").json();
    // The recorded version is below the horizon, so lists report the current one.
    assert_eq!(list["metadata"]["resourceVersion"], "8399");
    let old = events(&get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8384",
    ));
    assert_eq!(old[0]["object"]["code"], 410);
    let ok = summary(&get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8396",
    ));
    assert_eq!(ok.len(), 3);
}

#[test]
fn history_window_evicts_old_events() {
    let s = start(ServerConfig {
        watch_history: 2,
        ..config()
    });
    for i in 0..3 {
        s.create(
            "/api/v1/namespaces/demo/configmaps",
            &format!(r#"{{"metadata":{{"name":"cm-{i}"}}}}"#),
        )
        .unwrap();
    }
    // Events 8401 and 8402 are kept: a watch must start at 8400 or later.
    let expired = events(&get(
        &s,
        "/api/v1/namespaces/demo/configmaps?watch=1&resourceVersion=8399",
    ));
    assert_eq!(
        expired[0]["object"]["message"],
        "too old resource version: 8399 (8400)"
    );
    let ok = summary(&get(
        &s,
        "/api/v1/namespaces/demo/configmaps?watch=1&resourceVersion=8400",
    ));
    assert_eq!(
        ok,
        vec![ev("ADDED", "cm-1", "8401"), ev("ADDED", "cm-2", "8402")]
    );
}

#[test]
fn bookmarks_arrive_periodically_and_at_the_end() {
    let s = start(ServerConfig {
        bookmark_interval: Duration::from_millis(150),
        ..config()
    });
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8399&allowWatchBookmarks=true&timeoutSeconds=1",
    );
    let all = summary(&r);
    assert!(all.len() >= 4, "{all:?}");
    assert!(all.iter().all(|e| *e == ev("BOOKMARK", "", "8399")));
}

#[test]
fn continue_token_lists_the_state_of_the_first_page() {
    let s = start(config());
    let first = get(&s, "/api/v1/namespaces/demo/pods?limit=2").json();
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    s.delete("/api/v1/namespaces/demo/pods/demo-00002?gracePeriodSeconds=0")
        .unwrap();
    let second = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods?limit=2&continue={token}"),
    )
    .json();
    assert_eq!(second["metadata"]["resourceVersion"], "8384");
    assert_eq!(second["items"][0]["metadata"]["name"], "demo-00002");
    let now = get(&s, "/api/v1/namespaces/demo/pods?limit=3").json();
    assert_eq!(now["items"][2]["metadata"]["name"], "demo-00003");
}

#[test]
fn throttled_request_gets_429_with_retry_after() {
    let s = start(ServerConfig {
        faults: Faults {
            throttle: vec![
                ("/api/v1/namespaces/demo/pods", 2, 3).into(),
                Throttle::new("/api/v1/nodes", 1, 7).priority_and_fairness(),
            ],
            ..Faults::default()
        },
        ..config()
    });
    for _ in 0..2 {
        let r = get(&s, "/api/v1/namespaces/demo/pods?limit=1");
        assert_eq!(r.status, 429);
        assert_eq!(r.header("Retry-After"), Some("3"));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            r.text(),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"storage is (re)initializing\",\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":3},\"code\":429}\n"
        );
    }
    assert_eq!(get(&s, "/api/v1/namespaces/demo/pods?limit=1").status, 200);
    let apf = get(&s, "/api/v1/nodes");
    assert_eq!(apf.status, 429);
    assert_eq!(apf.header("Retry-After"), Some("7"));
    assert_eq!(
        apf.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(apf.text(), "Too many requests, please try again later.\n");
    assert!(apf.header("X-Kubernetes-Pf-Flowschema-Uid").is_some());
    assert_eq!(get(&s, "/api/v1/nodes").status, 200);
    // Throttled requests are recorded like any other.
    assert_eq!(s.requests().len(), 5);
    // Faults can change while the server runs.
    s.set_faults(Faults {
        throttle: vec![("/version", 1, 1).into()],
        ..Faults::default()
    });
    assert_eq!(get(&s, "/version").status, 429);
    assert_eq!(get(&s, "/api/v1/namespaces/demo/pods?limit=1").status, 200);
}

#[test]
fn dropped_watch_connection_has_no_final_chunk() {
    let s = start(ServerConfig {
        faults: Faults {
            drop_watch_after_events: Some(2),
            ..Faults::default()
        },
        ..config()
    });
    let (raw, err) = testclient::get_raw(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8384&allowWatchBookmarks=true",
        ADMIN,
    )
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\"resourceVersion\":\"8394\""), "{text}");
    assert!(text.contains("\"resourceVersion\":\"8396\""), "{text}");
    assert!(!text.contains("8397"), "{text}");
    assert!(!text.contains("BOOKMARK"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "{text}");
    // No TLS close_notify either: the client sees the connection die.
    assert!(err.is_some(), "the stream ended cleanly");
    // A client resuming from the last event gets the rest (and is cut again after two).
    let (rest, _) = testclient::get_raw(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8396",
        ADMIN,
    )
    .unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("8397") && rest.contains("8398") && !rest.contains("8399"));
}

#[test]
fn closed_watch_ends_cleanly_after_n_events_with_a_bookmark() {
    let s = start(ServerConfig {
        faults: Faults {
            close_watch_after_events: Some(3),
            ..Faults::default()
        },
        ..config()
    });
    let r = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8384&allowWatchBookmarks=true",
    );
    assert_eq!(
        summary(&r),
        vec![
            ev("ADDED", "watch-demo", "8394"),
            ev("MODIFIED", "watch-demo", "8396"),
            ev("MODIFIED", "watch-demo", "8397"),
            ev("BOOKMARK", "", "8397"),
        ]
    );
    let next = get(
        &s,
        "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=8397&allowWatchBookmarks=true",
    );
    assert_eq!(
        summary(&next),
        vec![
            ev("MODIFIED", "watch-demo", "8398"),
            ev("DELETED", "watch-demo", "8399"),
            ev("BOOKMARK", "", "8399"),
        ]
    );
}

#[test]
fn slow_body_sends_a_large_list_in_delayed_chunks() {
    let s = start(ServerConfig {
        faults: Faults {
            slow_body: Some(SlowBody {
                chunk_bytes: 20_000,
                delay: Duration::from_millis(50),
            }),
            ..Faults::default()
        },
        ..config()
    });
    let started = Instant::now();
    let r = get(&s, "/api/v1/namespaces/demo/pods");
    let recorded = crate::fixtures::get("pods-demo-list.http").unwrap();
    assert_eq!(r.text(), recorded.body_str().unwrap());
    let n = r.chunks.len();
    assert!(n >= 4, "{n} chunks");
    assert!(started.elapsed() >= Duration::from_millis(50 * (n as u64 - 1)));
    // Small bodies are unaffected.
    assert!(get(&s, "/api/v1/namespaces/demo/pods?limit=1").chunks.len() <= 1);
}

#[test]
fn dropped_log_follow_resumes_with_since_time_without_duplicates() {
    let s = start(ServerConfig {
        log_lines: 3,
        log_follow_lines: 3,
        faults: Faults {
            drop_log_follow_after_lines: Some(4),
            ..Faults::default()
        },
        ..config()
    });
    let (raw, err) = testclient::get_raw(
        &s,
        "/api/v1/namespaces/demo/pods/demo-00001/log?follow=true&timestamps=true",
        ADMIN,
    )
    .unwrap();
    assert!(err.is_some());
    let text = String::from_utf8_lossy(&raw).to_string();
    let lines: Vec<&str> = text
        .split("\r\n")
        .map(str::trim_end)
        .filter(|l| l.contains(" line "))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[3].ends_with("line 4 from demo/demo-00001/main"));
    // Resume after the last timestamp seen (sinceTime is inclusive).
    let last = lines[3].split(' ').next().unwrap();
    let (secs, nanos) = crate::clock::parse_rfc3339(last).unwrap();
    let after = crate::clock::format_rfc3339_nano_fixed(secs, nanos + 1);
    let rest = get(
        &s,
        &format!("/api/v1/namespaces/demo/pods/demo-00001/log?follow=true&sinceTime={after}"),
    );
    assert_eq!(
        rest.text(),
        "line 5 from demo/demo-00001/main\nline 6 from demo/demo-00001/main\n"
    );
    // Without follow only the lines already written are there.
    let now = get(&s, "/api/v1/namespaces/demo/pods/demo-00001/log");
    assert_eq!(now.text().lines().count(), 3);
}
