//! `?watch=true`: live watches over the store's event history.
//!
//! Semantics follow the API server's watch cache:
//! - no `resourceVersion` (or `"0"`): synthetic `ADDED` events for the current objects first,
//!   then changes after the version those objects were read at; `sendInitialEvents=true` does
//!   the same and ends them with the `k8s.io/initial-events-end` bookmark;
//! - a `resourceVersion` older than the history reaches (see [`crate::store::Store::floor`])
//!   gets the single `ERROR` event carrying a 410 Expired Status, then the stream ends;
//! - otherwise the stored events after that version are replayed, then new ones stream as
//!   writes happen. The recorded watch (pod `watch-demo`, 8394..8399) is history like any
//!   other, but is replayed `watch_event_interval` apart, as it happened live when recorded;
//! - selectors are applied the way the cacher does it, on the object before and after each
//!   change: an object that starts matching arrives as `ADDED`, one that stops matching as
//!   `DELETED` (its previous state, at the new version);
//! - with `allowWatchBookmarks=true` a `BOOKMARK` carrying the version the watch has caught up
//!   to is sent every `bookmark_interval` and when the watch ends;
//! - the watch ends after `timeoutSeconds`, or the server's `watch_timeout` when the client
//!   sets none;
//! - with [`crate::ServerConfig::watch_churn`], a watch on pods in the bulk namespace sends,
//!   after its initial events, that many synthetic `MODIFIED` events of the pods it matches
//!   (in the negotiated format, each line encoded once per pod and then only re-versioned),
//!   then ends as at a timeout.
//!
//! Each event is one newline-terminated JSON line, written and flushed as its own chunk. With
//! `as=Table` every event object is a Table holding one row; only the first carries
//! `columnDefinitions` (`null` afterwards, as the real server's `watchEmbeddedEncoder` sets
//! `NoHeaders` after the first object). Faults can cut the connection or end the watch after a
//! number of events (see [`crate::faults`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch as notify};
use tokio::time::Instant;

use crate::api::{Call, Fail, Handled, Shared};
use crate::auth::query_bool;
use crate::cluster::{Collection, Object};
use crate::json::go_string;
use crate::lists::{self, Format, ListQuery};
use crate::response::{Chunk, Reply, status_body};
use crate::store::{Event, EventType, ResKey};
use crate::table::{self, IncludeObject};

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

    fn bookmark(&mut self, rv: u64, initial_events_end: bool) -> Result<String, Fail> {
        let b = bookmark_object(self.coll, rv, initial_events_end)?;
        self.event("BOOKMARK", &b)
    }
}

/// A bookmark object of the collection's kind at `rv`; pods carry the zero-valued `spec` and
/// `status` the real server serializes.
fn bookmark_object(coll: &Collection, rv: u64, initial_events_end: bool) -> Result<Object, Fail> {
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
        go_string(&rv.to_string())
    );
    Ok(coll.object_from_raw(&raw)?)
}

/// Replaces the object's `metadata.resourceVersion` (the first one in the document).
fn with_resource_version(coll: &Collection, o: &Object, rv: &str) -> Result<Object, Fail> {
    let old = format!("\"resourceVersion\":{}", go_string(&o.resource_version));
    let new = format!("\"resourceVersion\":{}", go_string(rv));
    let raw = o.full_raw.replacen(&old, &new, 1);
    Ok(coll.object_from_raw(&raw)?)
}

/// Which objects a watch sees.
struct Filter {
    namespace: Option<String>,
    name: Option<String>,
    query: ListQuery,
}

impl Filter {
    fn passes(&self, o: &Object) -> bool {
        (self.namespace.is_none() || o.namespace == self.namespace)
            && self.name.as_ref().is_none_or(|n| o.name == *n)
            && self.query.matches(o)
    }
}

/// Everything a running watch needs, moved into its task.
struct Spec {
    shared: Arc<Shared>,
    /// (group, version, resource) of the collection, to find it in the catalog.
    gvr: (String, String, String),
    res: ResKey,
    filter: Filter,
    format: Format,
    allow_bookmarks: bool,
    deadline: Instant,
    /// The version the watch has caught up to.
    cursor: u64,
    changes: notify::Receiver<u64>,
    /// Stream this many synthetic `MODIFIED` events instead of the store's events
    /// ([`crate::ServerConfig::watch_churn`]).
    churn: Option<usize>,
}

/// Serves a watch on a collection.
pub fn watch(
    shared: &Arc<Shared>,
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
        Some(t) => Duration::from_secs(t.parse::<u64>().map_err(|_| {
            Fail::bad_request(format!(
                "unable to parse timeoutSeconds {t:?}: strconv.ParseInt: parsing {t:?}: invalid syntax"
            ))
        })?),
        None => shared.config.watch_timeout,
    };
    let from: Option<u64> = match q.resource_version.as_deref().filter(|v| *v != "0") {
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
    let include = q.include;
    let filter = Filter {
        namespace: namespace.map(str::to_string),
        name: (!call.info.name.is_empty()).then(|| call.info.name.clone()),
        query: q,
    };
    let mut enc = Encoder {
        coll,
        format,
        include,
        columns_sent: false,
    };
    let churn = shared.config.watch_churn.filter(|_| {
        coll.group.is_empty()
            && coll.resource == "pods"
            && shared
                .config
                .bulk_pods
                .as_ref()
                .is_some_and(|b| namespace == Some(b.namespace.as_str()))
    });
    // A churn watch keeps more events in flight, so the connection task finds many ready to
    // write at each wake-up and flushes them together (each still its own chunk).
    let (tx, rx) = mpsc::channel::<Chunk>(if churn.is_some() { 256 } else { 16 });
    let reply = Reply::stream(&call.ctx, &template, 200, rx);

    // Decide where the watch starts, atomically with subscribing to later changes.
    let res = coll.res_key();
    let mut first_lines = Vec::new();
    let (cursor, changes) = {
        let store = shared.store.lock().map_err(|_| poisoned())?;
        let changes = store.subscribe();
        if let Some(n) = from
            && n < store.floor()
        {
            let status = status_body(
                410,
                "Expired",
                &format!("too old resource version: {n} ({})", store.floor()),
                None,
            );
            let line = format!("{{\"type\":\"ERROR\",\"object\":{}}}", status.trim_end());
            drop(store);
            send_and_end(tx, vec![line]);
            return Ok(reply);
        }
        let snapshot = store.current_rv();
        if send_initial {
            for o in store.items(&res).iter().filter(|o| filter.passes(o)) {
                first_lines.push((enc.event("ADDED", o)?, true));
            }
            if call.q("sendInitialEvents").is_some() && allow_bookmarks {
                first_lines.push((enc.bookmark(snapshot, true)?, false));
            }
        }
        (from.unwrap_or(snapshot), changes)
    };
    let spec = Spec {
        churn,
        shared: shared.clone(),
        gvr: (
            coll.group.clone(),
            coll.version.clone(),
            coll.resource.clone(),
        ),
        res,
        filter,
        format,
        allow_bookmarks,
        deadline: Instant::now() + timeout,
        cursor,
        changes,
    };
    let columns_sent = enc.columns_sent;
    tokio::spawn(async move {
        run(spec, first_lines, columns_sent, tx).await;
    });
    Ok(reply)
}

fn poisoned() -> Fail {
    Fail::Internal(anyhow::anyhow!("the store lock is poisoned"))
}

/// Writes `lines` as chunks, then ends the body.
fn send_and_end(tx: mpsc::Sender<Chunk>, lines: Vec<String>) {
    tokio::spawn(async move {
        for mut l in lines {
            l.push('\n');
            if tx.send(Chunk::Data(Bytes::from(l))).await.is_err() {
                return;
            }
        }
    });
}

/// What ended the event loop.
enum End {
    /// Timeout, or a fault closing the watch: final bookmark, then the response ends.
    Clean,
    /// The client left, or the watch fell out of the history window: just stop.
    Quiet,
    /// Fault: cut the connection.
    Abort,
}

/// The body writer of one watch.
struct Out {
    tx: mpsc::Sender<Chunk>,
    wrote: bool,
    events: usize,
}

impl Out {
    async fn line(&mut self, mut line: String) -> bool {
        line.push('\n');
        self.wrote = true;
        self.tx.send(Chunk::Data(Bytes::from(line))).await.is_ok()
    }
}

/// Runs one watch: the initial events (`(line, is_event)`), then history and live events.
async fn run(
    mut spec: Spec,
    first_lines: Vec<(String, bool)>,
    columns_sent: bool,
    tx: mpsc::Sender<Chunk>,
) {
    let shared = spec.shared.clone();
    let (g, v, r) = &spec.gvr;
    let Some(coll) = shared.cluster.collection(g, v, r) else {
        return;
    };
    let mut enc = Encoder {
        coll,
        format: spec.format,
        include: spec.filter.query.include,
        columns_sent,
    };
    let mut out = Out {
        tx,
        wrote: false,
        events: 0,
    };
    let mut end = None;
    for (l, is_event) in first_lines {
        if !out.line(l).await {
            return;
        }
        if is_event {
            out.events += 1;
            end = fault_after_event(&spec.shared, out.events);
            if end.is_some() {
                break;
            }
        }
    }
    let end = match (end, spec.churn) {
        (Some(end), _) => end,
        (None, Some(count)) => churn(&mut spec, &mut enc, &mut out, count).await,
        (None, None) => events(&mut spec, &mut enc, &mut out).await,
    };
    match end {
        End::Clean => {
            if spec.allow_bookmarks
                && let Ok(line) = enc.bookmark(spec.cursor, false)
            {
                out.line(line).await;
            }
        }
        End::Quiet => {}
        End::Abort => {
            // Let the last event reach the socket before the connection is dropped under it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = out.tx.send(Chunk::Abort).await;
        }
    }
}

/// What the injected faults say after the `n`th event of a watch.
fn fault_after_event(shared: &Shared, n: usize) -> Option<End> {
    let f = shared.faults.lock().ok()?;
    if f.faults.drop_watch_after_events.is_some_and(|d| n >= d) {
        Some(End::Abort)
    } else if f.faults.close_watch_after_events.is_some_and(|c| n >= c) {
        Some(End::Clean)
    } else {
        None
    }
}

/// Streams history and live events until the deadline, a fault, or the client leaving.
async fn events(spec: &mut Spec, enc: &mut Encoder<'_>, out: &mut Out) -> End {
    let shared = spec.shared.clone();
    let cfg = &shared.config;
    let bookmark_every = cfg.bookmark_interval.max(Duration::from_millis(10));
    let mut next_bookmark = Instant::now() + bookmark_every;
    loop {
        let batch = match shared.store.lock() {
            Ok(store) => match store.events_after(spec.cursor) {
                Ok(b) => b,
                // Too slow: the events it still had to send are gone. The cacher closes such
                // watchers; the client resumes or relists.
                Err(()) => return End::Quiet,
            },
            Err(_) => return End::Quiet,
        };
        if batch.is_empty() {
            let bookmark_at = if spec.allow_bookmarks {
                next_bookmark
            } else {
                spec.deadline
            };
            tokio::select! {
                changed = spec.changes.changed() => {
                    if changed.is_err() {
                        return End::Quiet;
                    }
                }
                _ = tokio::time::sleep_until(spec.deadline) => return End::Clean,
                _ = tokio::time::sleep_until(bookmark_at), if spec.allow_bookmarks => {
                    next_bookmark = Instant::now() + bookmark_every;
                    match enc.bookmark(spec.cursor, false) {
                        Ok(line) => if !out.line(line).await { return End::Quiet },
                        Err(_) => return End::Quiet,
                    }
                }
            }
            continue;
        }
        for ev in batch {
            if Instant::now() >= spec.deadline {
                return End::Clean;
            }
            if ev.res != spec.res {
                spec.cursor = ev.rv;
                continue;
            }
            let line = match render(enc, &spec.filter, &ev) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    spec.cursor = ev.rv;
                    continue;
                }
                Err(_) => return End::Quiet,
            };
            if ev.paced && out.wrote {
                let pause = tokio::time::sleep(cfg.watch_event_interval);
                // End the response at the timeout, as the API server does.
                if tokio::time::timeout_at(spec.deadline, pause).await.is_err() {
                    return End::Clean;
                }
            }
            if !out.line(line).await {
                return End::Quiet;
            }
            spec.cursor = ev.rv;
            out.events += 1;
            if let Some(end) = fault_after_event(&shared, out.events) {
                return end;
            }
            if spec.allow_bookmarks && Instant::now() >= next_bookmark {
                next_bookmark = Instant::now() + bookmark_every;
                match enc.bookmark(spec.cursor, false) {
                    Ok(line) => {
                        if !out.line(line).await {
                            return End::Quiet;
                        }
                    }
                    Err(_) => return End::Quiet,
                }
            }
        }
    }
}

/// An event line cut at its resourceVersions (`parts.len() - 1` of them: the object's, and in a
/// Table also the Table's), so an event at another version is a concatenation, not a
/// re-encoding of the object.
struct Spliced {
    parts: Vec<String>,
}

impl Spliced {
    fn new(line: &str, rv: &str) -> Spliced {
        let needle = format!("\"resourceVersion\":{}", go_string(rv));
        let mut parts = Vec::new();
        let mut at = 0;
        for (i, _) in line.match_indices(&needle) {
            let cut = i + needle.len() - rv.len() - 1;
            parts.push(line[at..cut].to_string());
            at = cut + rv.len();
        }
        parts.push(line[at..].to_string());
        Spliced { parts }
    }

    /// The event line at `rv`, newline-terminated.
    fn at(&self, rv: &str) -> Bytes {
        let len = self.parts.iter().map(String::len).sum::<usize>()
            + (self.parts.len() - 1) * rv.len()
            + 1;
        let mut out = Vec::with_capacity(len);
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(rv.as_bytes());
            }
            out.extend_from_slice(p.as_bytes());
        }
        out.push(b'\n');
        Bytes::from(out)
    }
}

/// [`crate::ServerConfig::watch_churn`]: `count` `MODIFIED` events for the pods the watch
/// matches, in key order and round again, at versions after both the watch's own and the
/// store's, as fast as the client takes them (each event is one chunk, as the API server
/// flushes each). Each pod's line is encoded once and then only gets new versions spliced in.
async fn churn(spec: &mut Spec, enc: &mut Encoder<'_>, out: &mut Out, count: usize) -> End {
    let shared = spec.shared.clone();
    let pods: Vec<Arc<Object>> = match shared.store.lock() {
        Ok(store) => {
            spec.cursor = spec.cursor.max(store.latest_rv());
            store
                .items(&spec.res)
                .into_iter()
                .filter(|o| spec.filter.passes(o))
                .collect()
        }
        Err(_) => return End::Quiet,
    };
    if pods.is_empty() {
        return End::Clean;
    }
    let bookmark_every = shared
        .config
        .bookmark_interval
        .max(Duration::from_millis(10));
    let mut next_bookmark = Instant::now() + bookmark_every;
    let mut cache: Vec<Option<Spliced>> = (0..pods.len()).map(|_| None).collect();
    for k in 0..count {
        let now = Instant::now();
        if now >= spec.deadline {
            return End::Clean;
        }
        let pod = &pods[k % pods.len()];
        let rv = (spec.cursor + 1).to_string();
        let line = if matches!(enc.format, Format::Table(_)) && !enc.columns_sent {
            // The first Table event carries the column definitions: encode it in full.
            let encoded =
                with_resource_version(enc.coll, pod, &rv).and_then(|o| enc.event("MODIFIED", &o));
            match encoded {
                Ok(mut l) => {
                    l.push('\n');
                    Bytes::from(l)
                }
                Err(_) => return End::Quiet,
            }
        } else {
            let slot = &mut cache[k % pods.len()];
            if slot.is_none() {
                match enc.event("MODIFIED", pod) {
                    Ok(l) => *slot = Some(Spliced::new(&l, &pod.resource_version)),
                    Err(_) => return End::Quiet,
                }
            }
            match slot {
                Some(s) => s.at(&rv),
                None => return End::Quiet,
            }
        };
        out.wrote = true;
        if out.tx.send(Chunk::Data(line)).await.is_err() {
            return End::Quiet;
        }
        spec.cursor += 1;
        out.events += 1;
        if let Some(end) = fault_after_event(&shared, out.events) {
            return end;
        }
        if spec.allow_bookmarks && now >= next_bookmark {
            next_bookmark = now + bookmark_every;
            match enc.bookmark(spec.cursor, false) {
                Ok(line) => {
                    if !out.line(line).await {
                        return End::Quiet;
                    }
                }
                Err(_) => return End::Quiet,
            }
        }
    }
    End::Clean
}

/// The line a watch with `filter` sends for `ev`, if any: the cacher's rule on the object
/// before and after the change.
fn render(enc: &mut Encoder<'_>, filter: &Filter, ev: &Event) -> Result<Option<String>, Fail> {
    let now = ev.event_type != EventType::Deleted && filter.passes(&ev.object);
    let before = ev.prev.as_deref().is_some_and(|p| filter.passes(p));
    let emitted = match (now, before) {
        (false, false) => return Ok(None),
        (true, false) => EventType::Added,
        (true, true) => EventType::Modified,
        (false, true) => EventType::Deleted,
    };
    if emitted == ev.event_type
        && enc.format == Format::Json
        && let Some(line) = &ev.recorded_line
    {
        // Unchanged recorded event: the recorded bytes.
        return Ok(Some(line.clone()));
    }
    if emitted == EventType::Deleted
        && ev.event_type != EventType::Deleted
        && let Some(prev) = &ev.prev
    {
        // Left the selector: the previous object, at this event's version.
        let o = with_resource_version(enc.coll, prev, &ev.object.resource_version)?;
        return enc.event("DELETED", &o).map(Some);
    }
    enc.event(emitted.as_str(), &ev.object).map(Some)
}
