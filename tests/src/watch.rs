//! `?watch=true`: replays the recorded watch (`watch-pods-demo.http`) as a live stream.
//!
//! Semantics follow the API server's watch cache:
//! - no `resourceVersion` (or `"0"`): synthetic `ADDED` events for the current objects first;
//!   `sendInitialEvents=true` does the same and ends them with the `k8s.io/initial-events-end`
//!   bookmark;
//! - a `resourceVersion` older than the window (list RV − 100) gets the single `ERROR` event
//!   carrying a 410 Expired Status, then the stream ends;
//! - otherwise only events newer than the given version are sent;
//! - selectors are applied the way the cacher does it: an object that starts matching arrives as
//!   `ADDED`, one that stops matching as `DELETED`;
//! - with `allowWatchBookmarks=true` the stream ends with a `BOOKMARK`, then the response ends
//!   (as at `timeoutSeconds`, which also cuts the stream short).
//!
//! Each event is one newline-terminated JSON line, written and flushed as its own chunk, with
//! `watch_event_interval` between recorded events. With `as=Table` every event object is a Table
//! holding one row; only the first carries `columnDefinitions` (`null` afterwards, as the real
//! server's `watchEmbeddedEncoder` sets `NoHeaders` after the first object).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{Call, Fail, Handled, Shared};
use crate::auth::query_bool;
use crate::cluster::{Collection, Object};
use crate::json::go_string;
use crate::lists::{self, Format, ListQuery};
use crate::response::{Reply, status_body};
use crate::table::{self, IncludeObject};

/// How far back (in resource versions) the fake watch cache reaches.
pub const WATCH_WINDOW: i64 = 100;

struct Frame {
    /// Wait `watch_event_interval` before writing this frame.
    delay: bool,
    line: String,
}

/// Renders event objects in the negotiated format.
struct Encoder<'a> {
    coll: &'a Collection,
    format: Format,
    include: IncludeObject,
    columns_sent: bool,
}

impl Encoder<'_> {
    fn object(&mut self, o: &Object, bookmark: bool) -> Result<String, Fail> {
        match self.format {
            Format::Json => Ok(o.full_raw.clone()),
            Format::Meta(version) => Ok(lists::partial(version, &o.metadata_raw)),
            Format::Table(version) => {
                let rows = match lists::row(
                    self.coll,
                    o,
                    self.include,
                    version,
                    table::now_for(&o.value),
                ) {
                    Ok(r) => vec![r],
                    // A bookmark of a resource whose cells can only be replayed has no row.
                    Err(_) if bookmark => Vec::new(),
                    Err(e) => return Err(e),
                };
                let meta = format!("{{\"resourceVersion\":{}}}", go_string(&o.resource_version));
                let columns = (!self.columns_sent).then_some(self.coll.table.columns.as_str());
                self.columns_sent = true;
                let doc = table::document(version, &meta, columns, &rows);
                Ok(doc.trim_end().to_string())
            }
        }
    }

    fn event(&mut self, event_type: &str, o: &Object) -> Result<String, Fail> {
        let obj = self.object(o, event_type == "BOOKMARK")?;
        Ok(format!(
            "{{\"type\":{},\"object\":{obj}}}",
            go_string(event_type)
        ))
    }
}

/// A bookmark object of the collection's kind at `rv`; pods carry the zero-valued `spec` and
/// `status` the real server serializes.
fn bookmark_object(coll: &Collection, rv: &str, initial_events_end: bool) -> Result<Object, Fail> {
    let annotations = if initial_events_end {
        ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}"
    } else {
        ""
    };
    let tail = if coll.group.is_empty() && coll.resource == "pods" {
        ",\"spec\":{\"containers\":null},\"status\":{}"
    } else {
        ""
    };
    let raw = format!(
        "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{{\"resourceVersion\":{}{annotations}}}{tail}}}",
        go_string(&coll.kind),
        go_string(&coll.api_version()),
        go_string(rv)
    );
    Ok(Object::from_raw(&raw, &coll.kind, &coll.api_version())?)
}

/// Replaces the object's `metadata.resourceVersion` (the first one in the document).
fn with_resource_version(coll: &Collection, o: &Object, rv: &str) -> Result<Object, Fail> {
    let old = format!("\"resourceVersion\":{}", go_string(&o.resource_version));
    let new = format!("\"resourceVersion\":{}", go_string(rv));
    let raw = o.full_raw.replacen(&old, &new, 1);
    Ok(Object::from_raw(&raw, &coll.kind, &coll.api_version())?)
}

/// Serves a watch on a collection.
pub fn watch(
    shared: &Shared,
    call: &Call<'_>,
    coll: &Collection,
    namespace: Option<&str>,
) -> Handled {
    let format = lists::negotiate(call.header("accept"), false)
        .ok_or(Fail::Recorded("error-406-not-acceptable.http"))?;
    let q = ListQuery::parse(call, coll)?;
    let allow_bookmarks = query_bool(call.q("allowWatchBookmarks"));
    // 0 means "the server's default", as in the API server.
    let timeout = match call.q("timeoutSeconds").filter(|t| !t.is_empty() && *t != "0") {
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            Fail::bad_request(format!(
                "unable to parse timeoutSeconds {t:?}: strconv.ParseInt: parsing {t:?}: invalid syntax"
            ))
        })?),
        None => None,
    };
    let name = (!call.info.name.is_empty()).then_some(call.info.name.as_str());
    let in_scope = |o: &Object| {
        (namespace.is_none() || o.namespace.as_deref() == namespace)
            && name.is_none_or(|n| o.name == n)
    };
    let passes = |o: &Object| in_scope(o) && q.matches(o);
    let current: i64 = coll.list_rv.parse().unwrap_or(0);
    let rv = q.resource_version.as_deref().filter(|v| *v != "0");
    let from: Option<i64> = match rv {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| {
            Fail::bad_request(format!(
                "invalid resource version: strconv.ParseUint: parsing {v:?}: invalid syntax"
            ))
        })?),
    };
    let send_initial = match call.q("sendInitialEvents") {
        Some(v) => query_bool(Some(v)),
        None => from.is_none(),
    };
    let template = shared.cluster.fixture("watch-pods-demo.http")?;
    let mut frames = Vec::new();

    if let Some(n) = from
        && n < current - WATCH_WINDOW
    {
        let status = status_body(
            410,
            "Expired",
            &format!("too old resource version: {n} ({})", current - WATCH_WINDOW),
            None,
        );
        frames.push(Frame {
            delay: false,
            line: format!("{{\"type\":\"ERROR\",\"object\":{}}}", status.trim_end()),
        });
        return Ok(spawn(shared, call, &template, frames, timeout));
    }

    let mut enc = Encoder {
        coll,
        format,
        include: q.include,
        columns_sent: false,
    };
    if send_initial {
        for o in coll.items.iter().filter(|o| passes(o)) {
            frames.push(Frame {
                delay: false,
                line: enc.event("ADDED", o)?,
            });
        }
        if call.q("sendInitialEvents").is_some() && allow_bookmarks {
            let b = bookmark_object(coll, &coll.list_rv, true)?;
            frames.push(Frame {
                delay: false,
                line: enc.event("BOOKMARK", &b)?,
            });
        }
    }

    // Replay recorded events through the selector state machine.
    let mut state: HashMap<String, (bool, Object)> = coll
        .items
        .iter()
        .map(|o| (o.key.clone(), (passes(o), o.clone())))
        .collect();
    let mut last_bookmark_rv = coll.list_rv.clone();
    for e in &coll.events {
        let o = &e.object;
        let ev_rv: i64 = o.resource_version.parse().unwrap_or(0);
        if e.event_type == "BOOKMARK" {
            last_bookmark_rv = o.resource_version.clone();
            continue;
        }
        let cur = e.event_type != "DELETED" && passes(o);
        let (old, prev) = match state.get(&o.key) {
            Some((p, prev)) => (*p, Some(prev.clone())),
            None => (e.event_type == "DELETED" && passes(o), None),
        };
        if e.event_type == "DELETED" {
            state.remove(&o.key);
        } else {
            state.insert(o.key.clone(), (cur, o.clone()));
        }
        if from.is_some_and(|n| ev_rv <= n) {
            continue;
        }
        let emitted = match (cur, old) {
            (false, false) => continue,
            (true, false) => "ADDED",
            (true, true) => "MODIFIED",
            (false, true) => "DELETED",
        };
        let line = if format == Format::Json && emitted == e.event_type {
            // Unchanged event: the recorded bytes.
            e.raw_line.clone()
        } else if emitted == "DELETED" && e.event_type != "DELETED" {
            // Left the selector: the previous object, at this event's version.
            let base = prev.as_ref().unwrap_or(o);
            enc.event(
                "DELETED",
                &with_resource_version(coll, base, &o.resource_version)?,
            )?
        } else {
            enc.event(emitted, o)?
        };
        frames.push(Frame { delay: true, line });
    }

    if allow_bookmarks {
        let rv = match from {
            Some(n) if n > last_bookmark_rv.parse().unwrap_or(0) => n.to_string(),
            _ => last_bookmark_rv,
        };
        let recorded = coll
            .events
            .iter()
            .find(|e| e.event_type == "BOOKMARK" && e.object.resource_version == rv);
        let line = match recorded {
            Some(e) if format == Format::Json => e.raw_line.clone(),
            _ => enc.event("BOOKMARK", &bookmark_object(coll, &rv, false)?)?,
        };
        frames.push(Frame { delay: true, line });
    }
    Ok(spawn(shared, call, &template, frames, timeout))
}

fn spawn(
    shared: &Shared,
    call: &Call<'_>,
    template: &crate::fixtures::Fixture,
    frames: Vec<Frame>,
    timeout: Option<u64>,
) -> Reply {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let interval = shared.config.watch_event_interval;
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    tokio::spawn(async move {
        let mut wrote = false;
        for f in frames {
            if f.delay && wrote {
                let pause = tokio::time::sleep(interval);
                match deadline {
                    // End the response at the timeout, as the API server does.
                    Some(d) => {
                        if tokio::time::timeout_at(d, pause).await.is_err() {
                            break;
                        }
                    }
                    None => pause.await,
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let mut line = f.line;
            line.push('\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                // The client went away.
                return;
            }
            wrote = true;
        }
    });
    Reply::stream(&call.ctx, template, 200, rx)
}
