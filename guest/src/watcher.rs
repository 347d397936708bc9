//! Watches that survive: list, then watch from the list's resourceVersion, and keep
//! going when the watch ends.
//!
//! The API server ends every watch after 5–10 minutes, proxies and load balancers drop
//! idle connections, and a resourceVersion falls out of the watch cache after a while.
//! kubectl's `get -w` exits in all three cases (kubernetes#42552). [`Watcher`] does what
//! client-go's reflector does instead:
//!
//! - it asks for bookmarks (`allowWatchBookmarks=true`) and remembers the
//!   resourceVersion of the last event or bookmark, and when the server ends the watch
//!   or the connection breaks, it watches again from there: nothing is missed and
//!   nothing is repeated;
//! - when that resourceVersion is too old (`410 Gone`, as an HTTP status or as an
//!   `ERROR` event — see `tests/fixtures/watch-too-old-resourceversion.http`), it
//!   lists again and reports only what changed since it last reported each object:
//!   objects whose resourceVersion differs (ADDED or MODIFIED) and a synthesized
//!   DELETED for objects that are gone, as an informer's `Replace` does;
//! - between attempts it backs off (200 ms doubling to 5 s, reset after progress) and
//!   gives up after [`MAX_FAILURES`] consecutive failures without progress, or at once
//!   on an error that retrying cannot fix (403, 404, a request the host denies).
//!
//! What an object looks like (a table row, a whole object, its metadata) is up to the
//! caller's [`Format`]; changes are handed to a [`WatchSink`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::rc::Rc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::{ClientError, Transport};
use crate::error::Error;
use crate::liststream::{ListType, read_items};
use crate::meta::{ObjectMeta, PartialObject};
use crate::output;
use crate::request::{Format, ListParams, Method, ResourceUrl, WatchParams};
use crate::retry::{self, Backoff};
use crate::status::{RequestContext, Status};
use crate::table::{Table, TableColumn, TableRow};
use crate::watch::{EventObject, EventType, TypedEvent, WatchError, WatchEvent, WatchParser};

/// Consecutive failed attempts without progress after which the watch gives up.
pub const MAX_FAILURES: u32 = 10;

/// A watch connection that lasted this long made progress even if it carried no event
/// (a quiet collection on a server that sends no bookmarks).
const PROGRESS_AFTER: Duration = Duration::from_secs(30);

/// Lists are read in pages of this many objects, as kubectl's `--chunk-size` default.
pub const CHUNK_SIZE: u32 = 500;

/// What a list hands each page to: the page's columns (tables) and objects.
type PageHandler<'a> = dyn FnMut(&[TableColumn], Vec<Item>) -> Result<(), Error> + 'a;

/// One object, in the representation the watch asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A row of the server's table rendering (`Format::Table`).
    Row(TableRow),
    /// The object, or its metadata (`Format::Json`, `Format::Metadata`).
    Object(ObjectItem),
}

/// An object kept as the JSON text the server sent, with the metadata the watch needs
/// already decoded. A watch remembers every object it reported (to report only real
/// changes after a relist); as text a 10,000-pod namespace costs a quarter of what
/// `Value` trees would, and `-o name` never builds a tree at all.
#[derive(Debug, Clone)]
pub struct ObjectItem {
    /// `None` when only the metadata was asked for (`Format::Metadata`).
    raw: Option<Box<RawValue>>,
    /// The object's metadata (name, namespace, resourceVersion, labels).
    pub metadata: ObjectMeta,
    /// The type of the list the object came in: list items carry no `apiVersion` and
    /// `kind` of their own.
    list_type: Option<Rc<ListType>>,
}

impl PartialEq for ObjectItem {
    fn eq(&self, other: &Self) -> bool {
        self.raw.as_ref().map(|r| r.get()) == other.raw.as_ref().map(|r| r.get())
            && self.metadata == other.metadata
            && self.list_type == other.list_type
    }
}

impl ObjectItem {
    /// An object from its JSON text (a watch event's object, or a list item with the
    /// list's type).
    pub fn new(raw: Box<RawValue>, list_type: Option<Rc<ListType>>) -> serde_json::Result<Self> {
        let metadata = serde_json::from_str::<PartialObject>(raw.get())?.metadata;
        Ok(ObjectItem {
            raw: Some(raw),
            metadata,
            list_type,
        })
    }

    /// An object of which only the metadata was read.
    pub fn from_metadata(metadata: ObjectMeta) -> Self {
        ObjectItem {
            raw: None,
            metadata,
            list_type: None,
        }
    }

    /// The whole object, with `apiVersion` and `kind` as kubectl shows list items (only
    /// the metadata's name, namespace, resourceVersion and labels if that is all that was
    /// read).
    pub fn value(&self) -> Result<Value, Error> {
        let Some(raw) = &self.raw else {
            let m = &self.metadata;
            return Ok(serde_json::json!({"metadata": {
                "name": m.name,
                "namespace": m.namespace,
                "resourceVersion": m.resource_version,
                "labels": m.labels,
            }}));
        };
        let mut value: Value = serde_json::from_str(raw.get()).map_err(|e| Error::Decode {
            request: "a watched object".into(),
            reason: e.to_string(),
        })?;
        if let Some(list) = &self.list_type {
            output::add_item_type(
                &mut value,
                list.api_version.as_deref(),
                list.kind.as_deref(),
            );
        }
        Ok(value)
    }
}

impl Item {
    /// `namespace/name`: what identifies the object across relists.
    fn key(&self) -> String {
        match self {
            Item::Row(row) => match &row.object {
                Some(o) => format!("{}/{}", o.metadata.namespace, o.metadata.name),
                // A server that sends no row objects: the name column is all there is.
                None => row
                    .cells
                    .first()
                    .map(crate::golang::sprint)
                    .unwrap_or_default(),
            },
            Item::Object(o) => format!("{}/{}", o.metadata.namespace, o.metadata.name),
        }
    }

    fn resource_version(&self) -> String {
        match self {
            Item::Row(row) => row
                .object
                .as_ref()
                .map(|o| o.metadata.resource_version.clone())
                .unwrap_or_default(),
            Item::Object(o) => o.metadata.resource_version.clone(),
        }
    }
}

/// Where a watch's output goes.
pub trait WatchSink {
    /// Reports `changes` (each an event type and an object). For tables, `columns` are
    /// the column definitions that came with them, empty when the server sent none (a
    /// watch event after the first). `initial` marks the pages of the first list (with
    /// no changes under `--watch-only`).
    fn emit(
        &mut self,
        columns: &[TableColumn],
        changes: &[(EventType, &Item)],
        initial: bool,
    ) -> Result<(), Error>;

    /// Pushes what was emitted out (to the terminal). Called when the watcher is about
    /// to wait for the server: after each list page, and after the events of each chunk
    /// of the watch stream, so a burst of events costs one flush, not one per event.
    fn flush(&mut self) -> Result<(), Error>;
}

/// A list-then-watch of one collection (optionally one object) that survives the
/// watch ending; see the module docs.
pub struct Watcher {
    url: ResourceUrl,
    params: ListParams,
    format: Format,
    group_resource: String,
    /// The object named, if one was (then `params` selects it by name).
    name: Option<String>,
    /// The last resourceVersion seen: the list's, then each event's or bookmark's.
    resource_version: String,
    /// What was last reported for each object: its resourceVersion and the object,
    /// to report only real changes and a DELETED for objects a relist no longer has.
    known: HashMap<String, (String, Item)>,
    /// Relist before the next watch (after `410 Gone`).
    relist: bool,
}

/// What one attempt ended with.
enum Outcome {
    /// The server ended the stream; `progress` tells whether it carried anything.
    Closed { progress: bool },
    /// The resourceVersion is too old (the server's error): list again.
    Expired(Error),
    /// A relist is done. Not progress by itself: a server that answers every watch
    /// with `410` must not keep the client relisting forever.
    Relisted,
    /// A failure worth retrying; `progress` tells whether anything arrived first.
    Retry { error: Error, progress: bool },
}

impl Watcher {
    /// A watch of the collection at `url` with `params`' selectors, as `format`.
    /// With `name`, only that object (`fieldSelector=metadata.name=NAME`, as kubectl).
    pub fn new(
        url: ResourceUrl,
        mut params: ListParams,
        format: Format,
        group_resource: String,
        name: Option<String>,
    ) -> Result<Self, Error> {
        if let Some(name) = &name {
            crate::request::validate_name(name)?;
            params.field_selector = Some(format!("metadata.name={name}"));
        }
        Ok(Watcher {
            url,
            params,
            format,
            group_resource,
            name,
            resource_version: String::new(),
            known: HashMap::new(),
            relist: false,
        })
    }

    /// The resourceVersion the watch has reached.
    pub fn resource_version(&self) -> &str {
        &self.resource_version
    }

    /// Lists, reports the objects (unless `watch_only`), then watches until an error
    /// that cannot be retried. A named object that does not exist is `NotFound`.
    pub fn run(
        &mut self,
        transport: &mut dyn Transport,
        sink: &mut dyn WatchSink,
        watch_only: bool,
    ) -> Result<(), Error> {
        self.initial_list(transport, sink, watch_only)?;
        let mut backoff = Backoff::new();
        let mut failures = 0;
        let mut last_error: Option<Error> = None;
        loop {
            let outcome = if self.relist {
                self.relist_once(transport, sink)?
            } else {
                self.watch_once(transport, sink)?
            };
            let progress = match outcome {
                Outcome::Closed { progress } => {
                    last_error = None;
                    progress
                }
                // Relisting is the remedy: go on at once.
                Outcome::Expired(error) => {
                    self.relist = true;
                    last_error = Some(error);
                    continue;
                }
                Outcome::Relisted => false,
                Outcome::Retry { error, progress } => {
                    last_error = Some(error);
                    progress
                }
            };
            if progress {
                failures = 0;
                backoff.reset();
                if last_error.is_none() {
                    // The server ended a watch that worked: resume at once.
                    continue;
                }
            }
            failures += 1;
            if failures >= MAX_FAILURES {
                let reason = match &last_error {
                    Some(error) => error.to_string(),
                    None => "the server ended each watch without sending anything".to_string(),
                };
                return Err(Error::Invalid(format!(
                    "giving up on the watch of {} after {MAX_FAILURES} attempts in a row without progress: {}",
                    self.group_resource,
                    reason.trim_start_matches("error: ")
                )));
            }
            transport.backoff(backoff.next_delay());
        }
    }

    fn context(&self) -> RequestContext<'_> {
        RequestContext {
            method: Method::Get,
            resource: Some(&self.group_resource),
            name: None,
        }
    }

    /// Lists every page; returns the list's resourceVersion, the columns (tables) and
    /// the objects.
    fn list(
        &self,
        transport: &mut dyn Transport,
        each_page: &mut PageHandler<'_>,
    ) -> Result<String, Error> {
        let mut params = self.params.clone();
        let mut resource_version = String::new();
        loop {
            let request = self.url.list(&params, self.format);
            let mut response = retry::send(transport, &request, &self.context())?;
            let (rv, next, columns, items) = if self.format == Format::Table {
                let body = response.read_body()?;
                let table: Table = serde_json::from_slice(&body).map_err(|e| Error::Decode {
                    request: format!("GET {}", request.path_and_query),
                    reason: e.to_string(),
                })?;
                let items = table.rows.into_iter().map(Item::Row).collect();
                (
                    table.metadata.resource_version,
                    table.metadata.continue_token,
                    table.column_definitions,
                    items,
                )
            } else {
                // Items read as they arrive: the page is never held twice.
                let mut items = Vec::new();
                let body = &mut *response.body;
                let head = if self.format == Format::Metadata {
                    // `-o name` needs the metadata only: decoded in one pass, no text kept.
                    read_items(&request, body, "items", |object: PartialObject, _| {
                        items.push(Item::Object(ObjectItem::from_metadata(object.metadata)));
                        Ok(())
                    })?
                } else {
                    // One shared copy of the list's type for all its items.
                    let mut shared: Option<Rc<ListType>> = None;
                    read_items(&request, body, "items", |raw: Box<RawValue>, list| {
                        let list_type = shared.get_or_insert_with(|| Rc::new(list.clone()));
                        let item = ObjectItem::new(raw, Some(list_type.clone())).map_err(|e| {
                            Error::Decode {
                                request: format!("GET {}", request.path_and_query),
                                reason: format!("items: {e}"),
                            }
                        })?;
                        items.push(Item::Object(item));
                        Ok(())
                    })?
                };
                (
                    head.resource_version,
                    head.continue_token,
                    Vec::new(),
                    items,
                )
            };
            if resource_version.is_empty() {
                resource_version = rv;
            }
            each_page(&columns, items)?;
            if next.is_empty() {
                return Ok(resource_version);
            }
            params.continue_token = Some(next);
        }
    }

    fn initial_list(
        &mut self,
        transport: &mut dyn Transport,
        sink: &mut dyn WatchSink,
        watch_only: bool,
    ) -> Result<(), Error> {
        let mut known = HashMap::new();
        let rv = self.list(transport, &mut |columns, items| {
            // With `--watch-only` the sink still learns the columns, for the rows of
            // events that come without them.
            let changes: Vec<(EventType, &Item)> = if watch_only {
                Vec::new()
            } else {
                items.iter().map(|i| (EventType::Added, i)).collect()
            };
            sink.emit(columns, &changes, true)?;
            sink.flush()?;
            for item in items {
                known.insert(item.key(), (item.resource_version(), item));
            }
            Ok(())
        })?;
        if let (Some(name), true) = (&self.name, known.is_empty()) {
            return Err(Error::from(Status::not_found(&self.group_resource, name)));
        }
        self.known = known;
        self.resource_version = rv;
        Ok(())
    }

    /// Lists again after `410 Gone` and reports the difference to what was reported.
    fn relist_once(
        &mut self,
        transport: &mut dyn Transport,
        sink: &mut dyn WatchSink,
    ) -> Result<Outcome, Error> {
        let mut fresh: HashMap<String, (String, Item)> = HashMap::new();
        let known = &self.known;
        let listed = self.list(transport, &mut |columns, items| {
            let mut changes = Vec::new();
            for item in &items {
                let rv = item.resource_version();
                match known.get(&item.key()) {
                    None => changes.push((EventType::Added, item)),
                    Some((old, _)) if *old != rv => changes.push((EventType::Modified, item)),
                    Some(_) => {}
                }
            }
            if !changes.is_empty() {
                sink.emit(columns, &changes, false)?;
                sink.flush()?;
            }
            for item in items {
                fresh.insert(item.key(), (item.resource_version(), item));
            }
            Ok(())
        });
        let rv = match listed {
            Ok(rv) => rv,
            Err(e) => return classify(e, false),
        };
        let mut gone: Vec<(&String, &Item)> = self
            .known
            .iter()
            .filter(|(key, _)| !fresh.contains_key(*key))
            .map(|(key, (_, item))| (key, item))
            .collect();
        gone.sort_by(|a, b| a.0.cmp(b.0));
        if !gone.is_empty() {
            let changes: Vec<(EventType, &Item)> = gone
                .iter()
                .map(|(_, item)| (EventType::Deleted, *item))
                .collect();
            sink.emit(&[], &changes, false)?;
            sink.flush()?;
        }
        self.known = fresh;
        self.resource_version = rv;
        self.relist = false;
        Ok(Outcome::Relisted)
    }

    /// One watch connection, from the last resourceVersion until it ends.
    fn watch_once(
        &mut self,
        transport: &mut dyn Transport,
        sink: &mut dyn WatchSink,
    ) -> Result<Outcome, Error> {
        let params = WatchParams {
            label_selector: self.params.label_selector.clone(),
            field_selector: self.params.field_selector.clone(),
            resource_version: Some(self.resource_version.clone()).filter(|rv| !rv.is_empty()),
            allow_bookmarks: true,
            timeout_seconds: None,
        };
        let request = self.url.watch(&params, self.format);
        let started = Instant::now();
        let mut response = match retry::send(transport, &request, &self.context()) {
            Ok(response) => response,
            Err(e) => return classify(e, false),
        };
        let mut parser = WatchParser::new();
        let mut progress = false;
        loop {
            let chunk = match response.body.next_chunk() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return classify(Error::Client(e), progress),
            };
            let events = match self.parse(&mut parser, &chunk) {
                Ok(events) => events,
                Err(e) => return classify(Error::from(e), progress),
            };
            for event in events {
                if let Some(outcome) = self.handle(event, sink, &mut progress)? {
                    sink.flush()?;
                    return Ok(outcome);
                }
            }
            sink.flush()?;
        }
        let last = match self.format {
            Format::Metadata => parser.finish().map(|e| e.map(Event::Metadata)),
            Format::Table => parser.finish().map(|e| e.map(Event::Table)),
            _ => parser.finish().map(|e| e.map(Event::Text)),
        };
        match last {
            Ok(Some(event)) => {
                let outcome = self.handle(event, sink, &mut progress)?;
                sink.flush()?;
                if let Some(outcome) = outcome {
                    return Ok(outcome);
                }
            }
            Ok(None) => {}
            Err(e) => return classify(Error::from(e), progress),
        }
        Ok(Outcome::Closed {
            progress: progress || started.elapsed() >= PROGRESS_AFTER,
        })
    }

    /// Splits `chunk`'s complete events off `parser`, decoding their objects as this
    /// watch's format needs: metadata (`-o name`) and tables are decoded in one pass.
    fn parse(&self, parser: &mut WatchParser, chunk: &[u8]) -> Result<Vec<Event>, WatchError> {
        Ok(match self.format {
            Format::Metadata => parser
                .feed(chunk)?
                .into_iter()
                .map(Event::Metadata)
                .collect(),
            Format::Table => parser.feed(chunk)?.into_iter().map(Event::Table).collect(),
            _ => parser.feed(chunk)?.into_iter().map(Event::Text).collect(),
        })
    }

    /// Handles one event; `Some` ends the connection.
    fn handle(
        &mut self,
        event: Event,
        sink: &mut dyn WatchSink,
        progress: &mut bool,
    ) -> Result<Option<Outcome>, Error> {
        match event {
            Event::Metadata(event) => self.typed(event, sink, progress),
            Event::Table(event) => self.typed(event, sink, progress),
            Event::Text(event) => match event.event_type {
                EventType::Error => self.failed(event.status(), progress),
                EventType::Bookmark => {
                    if let Ok(object) = event.decode::<PartialObject>() {
                        self.bookmark(object.metadata.resource_version, progress);
                    }
                    Ok(None)
                }
                kind => match ObjectItem::new(event.object, None) {
                    Ok(object) => {
                        self.changed(kind, &[], vec![Item::Object(object)], sink, progress)
                    }
                    Err(e) => classify(Error::from(WatchError::Decode(e.to_string())), *progress)
                        .map(Some),
                },
            },
        }
    }

    /// An event decoded in one pass: ERROR, BOOKMARK, or a change to report.
    fn typed<O: Watched>(
        &mut self,
        event: TypedEvent<O>,
        sink: &mut dyn WatchSink,
        progress: &mut bool,
    ) -> Result<Option<Outcome>, Error> {
        match (event.event_type, event.object) {
            (_, EventObject::Status(status)) => self.failed(status, progress),
            (EventType::Bookmark, EventObject::Object(object)) => {
                self.bookmark(object.resource_version(), progress);
                Ok(None)
            }
            (kind, EventObject::Object(object)) => {
                let (columns, items) = object.into_items();
                self.changed(kind, &columns, items, sink, progress)
            }
        }
    }

    /// An ERROR event: `410 Expired` relists, anything else is sorted by [`classify`].
    fn failed(&mut self, status: Status, progress: &bool) -> Result<Option<Outcome>, Error> {
        if status.is_expired() {
            return Ok(Some(Outcome::Expired(Error::from(status))));
        }
        classify(Error::from(status), *progress).map(Some)
    }

    /// A BOOKMARK: the watch has reached `resource_version`.
    fn bookmark(&mut self, resource_version: String, progress: &mut bool) {
        if !resource_version.is_empty() {
            self.resource_version = resource_version;
            *progress = true;
        }
    }

    /// ADDED, MODIFIED or DELETED `items`: reported, then remembered (or forgotten).
    fn changed(
        &mut self,
        kind: EventType,
        columns: &[TableColumn],
        items: Vec<Item>,
        sink: &mut dyn WatchSink,
        progress: &mut bool,
    ) -> Result<Option<Outcome>, Error> {
        let changes: Vec<(EventType, &Item)> = items.iter().map(|i| (kind, i)).collect();
        sink.emit(columns, &changes, false)?;
        for item in items {
            let rv = item.resource_version();
            if !rv.is_empty() {
                self.resource_version = rv.clone();
            }
            if kind == EventType::Deleted {
                self.known.remove(&item.key());
            } else {
                self.known.insert(item.key(), (rv, item));
            }
        }
        *progress = true;
        Ok(None)
    }
}

/// A watch event, its object decoded as the watch's format needs.
enum Event {
    /// The object's metadata (`Format::Metadata`).
    Metadata(TypedEvent<PartialObject>),
    /// The server's Table of the object (`Format::Table`). Boxed: the larger variant.
    Table(TypedEvent<Box<Table>>),
    /// The object as text (whole objects).
    Text(WatchEvent),
}

/// What a watch event decoded in one pass carries (see [`TypedEvent`]).
trait Watched: serde::de::DeserializeOwned {
    /// The resourceVersion a bookmark carries.
    fn resource_version(&self) -> String;
    /// The changed objects as items, with the columns that came with them.
    fn into_items(self) -> (Vec<TableColumn>, Vec<Item>);
}

impl Watched for PartialObject {
    fn resource_version(&self) -> String {
        self.metadata.resource_version.clone()
    }

    fn into_items(self) -> (Vec<TableColumn>, Vec<Item>) {
        let item = Item::Object(ObjectItem::from_metadata(self.metadata));
        (Vec::new(), vec![item])
    }
}

impl Watched for Box<Table> {
    fn resource_version(&self) -> String {
        self.metadata.resource_version.clone()
    }

    /// The rows, with the table's columns (only the first event of a watch has them).
    fn into_items(self) -> (Vec<TableColumn>, Vec<Item>) {
        let table = *self;
        let rv = table.metadata.resource_version;
        let items = table
            .rows
            .into_iter()
            .map(|mut row| {
                // A row's object carries the version; fill it from the table's own when
                // the server sent no row object.
                if let Some(o) = row
                    .object
                    .as_mut()
                    .filter(|o| o.metadata.resource_version.is_empty())
                {
                    o.metadata.resource_version = rv.clone();
                }
                Item::Row(row)
            })
            .collect();
        (table.column_definitions, items)
    }
}

/// Sorts a failure into: relist (`410`), retry (the server or the connection may
/// recover) or stop (retrying cannot help: forbidden, not found, denied by the host).
fn classify(error: Error, progress: bool) -> Result<Outcome, Error> {
    let retryable = match &error {
        Error::Server(status) if status.is_expired() => return Ok(Outcome::Expired(error)),
        Error::Server(status) => status.code == 429 || status.code >= 500,
        Error::Client(e) => matches!(
            e,
            // Not `LimitExceeded`: a host limit is the operator's policy, and its
            // message names the flag that raises it.
            ClientError::Connect(_) | ClientError::Timeout | ClientError::Body(_)
        ),
        // A stream that is not a watch stream (cut mid-event, garbage from a proxy).
        Error::Invalid(_) | Error::Decode { .. } => true,
        _ => false,
    };
    if !retryable {
        return Err(error);
    }
    Ok(Outcome::Retry { error, progress })
}
