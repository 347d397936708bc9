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

use crate::meta::PartialObject;
use crate::status::Status;

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

/// One watch event whose object stays undecoded (JSON text) until the caller knows what
/// it wants (a whole object, a `Status`). A caller that knows already decodes a
/// [`TypedEvent`] instead, in one pass.
#[derive(Debug, Clone, Deserialize)]
pub struct WatchEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The object, as JSON text.
    pub object: Box<RawValue>,
}

/// A watch event decoded in one pass: the object as `O` (a `Table`, an object's
/// metadata), or for an ERROR event its `Status`. The server sends `type` before
/// `object`, so the decoder knows which to build while it reads; an object that comes
/// first is kept as text and decoded after.
#[derive(Debug, Clone)]
pub struct TypedEvent<O> {
    /// The event type.
    pub event_type: EventType,
    /// The object, or the Status of an ERROR event.
    pub object: EventObject<O>,
}

/// What a [`TypedEvent`] carries.
#[derive(Debug, Clone)]
pub enum EventObject<O> {
    /// The object of an ADDED, MODIFIED, DELETED or BOOKMARK event.
    Object(O),
    /// The `Status` of an ERROR event (see [`status_of`]).
    Status(Status),
}

impl<'de, O: DeserializeOwned> Deserialize<'de> for TypedEvent<O> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, Visitor};

        struct EventVisitor<O>(std::marker::PhantomData<O>);

        impl<'de, O: DeserializeOwned> Visitor<'de> for EventVisitor<O> {
            type Value = TypedEvent<O>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a watch event")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut event_type = None;
                let mut object = None;
                let mut early: Option<Box<RawValue>> = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match (key.as_ref(), event_type) {
                        ("type", _) => event_type = Some(map.next_value::<EventType>()?),
                        ("object", Some(EventType::Error)) => {
                            let raw: Box<RawValue> = map.next_value()?;
                            object = Some(EventObject::Status(status_of(&raw)));
                        }
                        ("object", Some(_)) => {
                            object = Some(EventObject::Object(map.next_value()?))
                        }
                        ("object", None) => early = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let event_type = event_type.ok_or_else(|| de::Error::missing_field("type"))?;
                let object = match (object, early) {
                    (Some(object), _) => object,
                    (None, Some(raw)) if event_type == EventType::Error => {
                        EventObject::Status(status_of(&raw))
                    }
                    (None, Some(raw)) => EventObject::Object(
                        serde_json::from_str(raw.get()).map_err(de::Error::custom)?,
                    ),
                    (None, None) => return Err(de::Error::missing_field("object")),
                };
                Ok(TypedEvent { event_type, object })
            }
        }

        deserializer.deserialize_map(EventVisitor(std::marker::PhantomData))
    }
}

/// The `Status` an ERROR event's object describes, or a generic one if the server sent
/// something else.
pub fn status_of(object: &RawValue) -> Status {
    Status::parse(object.get().as_bytes()).unwrap_or_else(|| Status {
        kind: "Status".into(),
        status: "Failure".into(),
        message: format!(
            "the watch failed with an unexpected object: {}",
            object.get()
        ),
        reason: "InternalError".into(),
        code: 500,
        details: None,
    })
}

impl WatchEvent {
    /// Decodes the object as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, WatchError> {
        serde_json::from_str(self.object.get()).map_err(|e| WatchError::Decode(e.to_string()))
    }

    /// The `Status` of an ERROR event, or a generic one if the server sent something
    /// else.
    pub fn status(&self) -> Status {
        status_of(&self.object)
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

    /// Adds `chunk` and returns the events it completes, in order, each decoded as `E`
    /// (a [`WatchEvent`] or a [`TypedEvent`]).
    pub fn feed<E: DeserializeOwned>(&mut self, chunk: &[u8]) -> Result<Vec<E>, WatchError> {
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
        let mut values =
            serde_json::Deserializer::from_slice(&self.buf[..complete]).into_iter::<E>();
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
    pub fn finish<E: DeserializeOwned>(self) -> Result<Option<E>, WatchError> {
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<E>(&self.buf) {
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
            events.extend(parser.feed::<WatchEvent>(chunk).unwrap());
        }
        events.extend(parser.finish::<WatchEvent>().unwrap());
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
        let events = parser.feed::<WatchEvent>(body).unwrap();
        assert_eq!(types(&events), [EventType::Added, EventType::Deleted]);
        assert!(parser.finish::<WatchEvent>().unwrap().is_none());
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
                .feed::<WatchEvent>(b"{\"type\":\"ADDED\",\"object\":{}}")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parser.finish::<WatchEvent>().unwrap().unwrap().event_type,
            EventType::Added
        );
    }

    #[test]
    fn watch_parser_reports_a_stream_cut_inside_an_event() {
        let mut parser = WatchParser::new();
        assert!(
            parser
                .feed::<WatchEvent>(b"{\"type\":\"ADDED\",\"obj")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parser.finish::<WatchEvent>().unwrap_err(),
            WatchError::Truncated
        );
    }

    #[test]
    fn watch_parser_rejects_garbage_and_unknown_types() {
        let mut parser = WatchParser::new();
        assert!(matches!(
            parser.feed::<WatchEvent>(b"<html>\n"),
            Err(WatchError::Decode(_))
        ));
        let mut parser = WatchParser::new();
        assert!(matches!(
            parser.feed::<WatchEvent>(b"{\"type\":\"EXPLODED\",\"object\":{}}\n"),
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
            .feed::<WatchEvent>(concat!(
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
    fn typed_events_decode_in_one_pass_and_errors_keep_their_status() {
        let body = fixture_body(include_str!(
            "../../tests/fixtures/watch-too-old-resourceversion.http"
        ));
        let mut parser = WatchParser::new();
        let events = parser.feed::<TypedEvent<PartialObject>>(body).unwrap();
        let error = events.into_iter().last().expect("an event");
        assert_eq!(error.event_type, EventType::Error);
        let EventObject::Status(status) = error.object else {
            panic!("an ERROR carries a Status");
        };
        assert!(status.is_expired(), "{status:?}");

        // Metadata only; a whole object (with its own `status`) decodes too; `object`
        // before `type` is decoded after; an ERROR with a non-Status object is generic.
        let body = concat!(
            r#"{"type":"MODIFIED","object":{"kind":"PartialObjectMetadata","metadata":{"name":"a","resourceVersion":"7"}}}"#,
            "\n",
            r#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"b"},"status":{"phase":"Running"}}}"#,
            "\n",
            r#"{"object":{"metadata":{"name":"c"}},"type":"DELETED"}"#,
            "\n",
            r#"{"type":"ERROR","object":{"kind":"Pod"}}"#,
            "\n",
        );
        let events = parser
            .feed::<TypedEvent<PartialObject>>(body.as_bytes())
            .unwrap();
        let seen: Vec<(EventType, String)> = events
            .into_iter()
            .map(|e| match e.object {
                EventObject::Object(o) => (e.event_type, o.metadata.name),
                EventObject::Status(s) => (e.event_type, s.reason),
            })
            .collect();
        assert_eq!(
            seen,
            [
                (EventType::Modified, "a".to_string()),
                (EventType::Added, "b".to_string()),
                (EventType::Deleted, "c".to_string()),
                (EventType::Error, "InternalError".to_string()),
            ]
        );
        assert!(matches!(
            parser.feed::<TypedEvent<PartialObject>>(b"{\"object\":{}}\n"),
            Err(WatchError::Decode(e)) if e.contains("missing field `type`")
        ));
    }
}
