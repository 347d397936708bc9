//! Watch streams: an incremental parser for the API server's stream of events.
//!
//! A watch response body is a sequence of JSON objects `{"type": "...", "object": {...}}`
//! (newline-delimited in practice), arriving in chunks that split events anywhere.
//! [`WatchParser`] buffers what it is fed and yields each complete event once; it never
//! re-scans bytes it has already looked at, so a long watch stays linear.
//! [`WatchState`] holds what a watch must remember to resume (the resourceVersion of
//! the last event or bookmark).

use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::meta::{ObjectMeta, PartialObject};
use crate::status::{Status, StatusDetails};

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// An object was created (or existed when the watch started from an old version).
    Added,
    /// An object changed.
    Modified,
    /// An object was deleted; the event carries its last state.
    Deleted,
    /// A progress marker: the object only carries a newer `metadata.resourceVersion`.
    Bookmark,
    /// The watch failed; the object is a `Status` (e.g. `410 Expired`).
    Error,
}

impl EventType {
    /// The type as the server spells it (`ADDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// One watch event. By default the object stays undecoded (JSON text) until the caller
/// knows what it wants (a `Table` row, a whole object, a `Status`); a caller that knows
/// already decodes it in the same pass, e.g. as a [`MetadataObject`].
#[derive(Debug, Clone, Deserialize)]
pub struct WatchEvent<O = Box<RawValue>> {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The object.
    pub object: O,
}

/// A watched object decoded for what a metadata watch (`-o name`) needs: its metadata,
/// or for an ERROR event the `Status` fields, read in the same pass as the event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetadataObject {
    /// The object's metadata (a bookmark's carries only the resourceVersion).
    pub metadata: ObjectMeta,
    kind: String,
    /// A Status's `Failure`; an object's own `status` (if a server sent whole objects)
    /// is kept as text and ignored.
    status: Option<Box<RawValue>>,
    message: String,
    reason: String,
    code: i32,
    details: Option<StatusDetails>,
}

impl MetadataObject {
    /// The `Status` of an ERROR event.
    pub fn into_status(self) -> Status {
        Status {
            kind: self.kind,
            status: self
                .status
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .unwrap_or_default(),
            message: self.message,
            reason: self.reason,
            code: self.code,
            details: self.details,
        }
    }
}

impl WatchEvent {
    /// Decodes the object as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, WatchError> {
        serde_json::from_str(self.object.get()).map_err(|e| WatchError::Decode(e.to_string()))
    }

    /// The `Status` of an ERROR event, or a generic one if the server sent something
    /// else.
    pub fn status(&self) -> Status {
        Status::parse(self.object.get().as_bytes()).unwrap_or_else(|| Status {
            kind: "Status".into(),
            status: "Failure".into(),
            message: format!(
                "the watch failed with an unexpected object: {}",
                self.object.get()
            ),
            reason: "InternalError".into(),
            code: 500,
            details: None,
        })
    }

    /// The object's `metadata.resourceVersion`: for a Table, the table's own metadata,
    /// which the server sets to the object's version; for a bookmark, the version the
    /// watch has reached.
    pub fn resource_version(&self) -> Option<String> {
        self.decode::<PartialObject>()
            .ok()
            .map(|o| o.metadata.resource_version)
            .filter(|rv| !rv.is_empty())
    }
}

/// A watch stream that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchError {
    /// Bytes that are not a watch event.
    Decode(String),
    /// The stream ended in the middle of an event.
    Truncated,
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::Decode(e) => write!(f, "unable to decode a watch event: {e}"),
            WatchError::Truncated => {
                f.write_str("the watch stream ended in the middle of an event")
            }
        }
    }
}

impl std::error::Error for WatchError {}

/// Splits a watch body, fed in arbitrary chunks, into events.
#[derive(Debug, Default)]
pub struct WatchParser {
    buf: Vec<u8>,
}

impl WatchParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `chunk` and returns the events it completes, in order, each object decoded
    /// as `O`.
    pub fn feed<O: DeserializeOwned>(
        &mut self,
        chunk: &[u8],
    ) -> Result<Vec<WatchEvent<O>>, WatchError> {
        // The server ends every event with a newline, so only bytes up to the last newline
        // can hold complete events: what follows it waits for the next chunk without being
        // parsed, and no byte is parsed twice (unless an event holds newlines itself, as
        // when a server pretty-prints for a curl User-Agent: then its lines are re-read
        // until it is whole).
        let Some(last_newline) = memchr::memrchr(b'\n', chunk) else {
            self.buf.extend_from_slice(chunk);
            return Ok(Vec::new());
        };
        let complete = self.buf.len() + last_newline + 1;
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut values = serde_json::Deserializer::from_slice(&self.buf[..complete])
            .into_iter::<WatchEvent<O>>();
        let mut consumed = 0;
        loop {
            match values.next() {
                Some(Ok(event)) => {
                    events.push(event);
                    consumed = values.byte_offset();
                }
                // An event that goes on past the last newline.
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => return Err(WatchError::Decode(e.to_string())),
                // Only whitespace is left.
                None => {
                    consumed = complete;
                    break;
                }
            }
        }
        // Drop consumed bytes once per chunk, not once per event.
        self.buf.drain(..consumed);
        Ok(events)
    }

    /// Ends the stream: returns a last event that was not newline-terminated, or an
    /// error if the stream stopped in the middle of one.
    pub fn finish<O: DeserializeOwned>(self) -> Result<Option<WatchEvent<O>>, WatchError> {
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<WatchEvent<O>>(&self.buf) {
            Ok(event) => Ok(Some(event)),
            Err(e) if e.is_eof() => Err(WatchError::Truncated),
            Err(e) => Err(WatchError::Decode(e.to_string())),
        }
    }
}

/// What a watch remembers so that it can resume where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchState {
    /// The resourceVersion of the last event or bookmark seen (initially the list's).
    pub resource_version: String,
}

impl WatchState {
    /// A watch that starts at `resource_version` (a list's `metadata.resourceVersion`).
    pub fn new(resource_version: impl Into<String>) -> Self {
        WatchState {
            resource_version: resource_version.into(),
        }
    }

    /// Records the resourceVersion `event` brings, if any. ERROR events bring none.
    pub fn observe(&mut self, event: &WatchEvent) {
        if event.event_type == EventType::Error {
            return;
        }
        if let Some(rv) = event.resource_version() {
            self.resource_version = rv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;
    use crate::testutil::fixture_body;

    const WATCH: &str = include_str!("../../tests/fixtures/watch-pods-demo.http");

    fn parse_all(body: &[u8], chunk_size: usize) -> Vec<WatchEvent> {
        let mut parser = WatchParser::new();
        let mut events = Vec::new();
        for chunk in body.chunks(chunk_size) {
            events.extend(parser.feed::<Box<RawValue>>(chunk).unwrap());
        }
        events.extend(parser.finish::<Box<RawValue>>().unwrap());
        events
    }

    fn types(events: &[WatchEvent]) -> Vec<EventType> {
        events.iter().map(|e| e.event_type).collect()
    }

    #[test]
    fn watch_parser_yields_every_event_of_the_fixture() {
        let events = parse_all(fixture_body(WATCH), usize::MAX);
        use EventType::*;
        assert_eq!(
            types(&events),
            [Added, Modified, Modified, Modified, Deleted, Bookmark]
        );
    }

    #[test]
    fn watch_parser_handles_event_split_across_chunks() {
        let body = fixture_body(WATCH);
        let whole = parse_all(body, usize::MAX);
        for chunk_size in [1, 2, 7, 100, 1000, 4096] {
            let events = parse_all(body, chunk_size);
            assert_eq!(types(&events), types(&whole), "chunk size {chunk_size}");
            for (a, b) in events.iter().zip(&whole) {
                assert_eq!(a.object.get(), b.object.get());
            }
        }
    }

    #[test]
    fn watch_parser_handles_several_events_in_one_chunk_and_blank_lines() {
        let body = b"\n{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n\n{\"type\":\"DELETED\",\"object\":{\"a\":2}}\n";
        let mut parser = WatchParser::new();
        let events = parser.feed::<Box<RawValue>>(body).unwrap();
        assert_eq!(types(&events), [EventType::Added, EventType::Deleted]);
        assert!(parser.finish::<Box<RawValue>>().unwrap().is_none());
    }

    #[test]
    fn watch_parser_accepts_pretty_printed_events() {
        let body = b"{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"a\": 1\n  }\n}\n{\n  \"type\": \"MODIFIED\",\n  \"object\": {}\n}\n";
        let events = parse_all(body, 5);
        assert_eq!(types(&events), [EventType::Added, EventType::Modified]);
    }

    #[test]
    fn watch_parser_returns_an_unterminated_last_event_at_the_end() {
        let mut parser = WatchParser::new();
        assert!(
            parser
                .feed::<Box<RawValue>>(b"{\"type\":\"ADDED\",\"object\":{}}")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parser
                .finish::<Box<RawValue>>()
                .unwrap()
                .unwrap()
                .event_type,
            EventType::Added
        );
    }

    #[test]
    fn watch_parser_reports_a_stream_cut_inside_an_event() {
        let mut parser = WatchParser::new();
        assert!(
            parser
                .feed::<Box<RawValue>>(b"{\"type\":\"ADDED\",\"obj")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parser.finish::<Box<RawValue>>().unwrap_err(),
            WatchError::Truncated
        );
    }

    #[test]
    fn watch_parser_rejects_garbage_and_unknown_types() {
        let mut parser = WatchParser::new();
        assert!(matches!(
            parser.feed::<Box<RawValue>>(b"<html>\n"),
            Err(WatchError::Decode(_))
        ));
        let mut parser = WatchParser::new();
        assert!(matches!(
            parser.feed::<Box<RawValue>>(b"{\"type\":\"EXPLODED\",\"object\":{}}\n"),
            Err(WatchError::Decode(_))
        ));
    }

    #[test]
    fn watch_error_event_carries_an_expired_status() {
        let events = parse_all(
            fixture_body(include_str!(
                "../../tests/fixtures/watch-too-old-resourceversion.http"
            )),
            10,
        );
        assert_eq!(types(&events), [EventType::Error]);
        let status = events[0].status();
        assert!(status.is_expired());
        assert_eq!(
            status.to_string(),
            "Error from server (Expired): too old resource version: 1 (343)"
        );
    }

    #[test]
    fn watch_state_follows_events_and_bookmarks() {
        let events = parse_all(fixture_body(WATCH), 64);
        let mut state = WatchState::new("8393");
        let mut seen = Vec::new();
        for event in &events {
            state.observe(event);
            seen.push(state.resource_version.clone());
        }
        assert_eq!(seen, ["8394", "8396", "8397", "8398", "8399", "8399"]);
    }

    #[test]
    fn watch_state_ignores_error_events() {
        let mut parser = WatchParser::new();
        let events = parser
            .feed(b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":410,\"metadata\":{\"resourceVersion\":\"1\"}}}\n")
            .unwrap();
        let mut state = WatchState::new("100");
        state.observe(&events[0]);
        assert_eq!(state.resource_version, "100");
    }

    #[test]
    fn table_watch_events_decode_as_tables_with_or_without_columns() {
        let mut parser = WatchParser::new();
        let events = parser
            .feed(concat!(
                r#"{"type":"ADDED","object":{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"10"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0}],"rows":[{"cells":["a"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"a","namespace":"demo","resourceVersion":"10"}}}]}}"#,
                "\n",
                r#"{"type":"MODIFIED","object":{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"11"},"columnDefinitions":null,"rows":[{"cells":["a"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"a","namespace":"demo","resourceVersion":"11"}}}]}}"#,
                "\n"
            ).as_bytes())
            .unwrap();
        let first: Table = events[0].decode().unwrap();
        let second: Table = events[1].decode().unwrap();
        assert_eq!(first.column_definitions.len(), 1);
        assert!(second.column_definitions.is_empty());
        assert_eq!(events[1].resource_version().as_deref(), Some("11"));
    }

    #[test]
    fn metadata_events_decode_in_one_pass_and_errors_keep_their_status() {
        let body = fixture_body(include_str!(
            "../../tests/fixtures/watch-too-old-resourceversion.http"
        ));
        let mut parser = WatchParser::new();
        let events = parser.feed::<MetadataObject>(body).unwrap();
        let error = events.into_iter().last().expect("an event");
        assert_eq!(error.event_type, EventType::Error);
        let status = error.object.into_status();
        assert!(status.is_expired(), "{status:?}");
        assert_eq!(status.status, "Failure");

        let body = b"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"PartialObjectMetadata\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"7\"}}}\n{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"},\"status\":{\"phase\":\"Running\"}}}\n";
        let events = parser.feed::<MetadataObject>(body).unwrap();
        let names: Vec<(&str, &str)> = events
            .iter()
            .map(|e| {
                (
                    e.object.metadata.name.as_str(),
                    e.object.metadata.resource_version.as_str(),
                )
            })
            .collect();
        assert_eq!(names, [("a", "7"), ("b", "")]);
    }
}
