//! Lists decoded as their bytes arrive, one item at a time.
//!
//! A 10,000-pod list is 47 MB of JSON. Reading it whole and then building a
//! `serde_json::Value` of it costs several times that in linear memory, which a wasm
//! instance never gives back. [`ListReader`] reads the body in the host's chunks and hands
//! out each element of the list's array (`items`, or a Table's `rows`) as its own slice of
//! JSON, so a printer needs memory for one item, not for the list. The other top-level
//! fields (`kind`, `apiVersion`, `metadata` with the `continue` token) are kept as raw JSON
//! text; they are small.
//!
//! Each item is decoded by `serde_json` straight from the buffered bytes (its fastest
//! path), which also finds where the item ends: the reader keeps at least
//! [`LOOKAHEAD`] bytes buffered so that an item rarely needs decoding twice. The other
//! top-level fields and the keys are read the same way; only the punctuation between
//! them (`{`, `:`, `,`, `[`, `]`, `}`) is looked at here.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::client::{BodyStream, ClientError};
use crate::error::Error;
use crate::meta::ListMeta;
use crate::request::Request;

/// Why a list body could not be read.
#[derive(Debug)]
pub enum ListError {
    /// Reading the body failed.
    Body(ClientError),
    /// The body is not a JSON object of the expected shape.
    Malformed(String),
    /// An item is not valid JSON of the expected type.
    Decode(serde_json::Error),
}

/// How many bytes past the next item the reader buffers before decoding it: an item that
/// fits is decoded once; a larger one is decoded again after each read that extends it.
/// The host hands over at most 64 KiB per read.
pub const LOOKAHEAD: usize = 64 * 1024;

/// Where the reader is in the list object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// Inside the object, before a key or the closing `}`.
    Key {
        /// No field read yet (so no `,` is expected).
        first: bool,
    },
    /// Inside the array, before an element or the closing `]`.
    Array { first: bool },
    /// After the closing `}`.
    Done,
}

/// Reads a list response's array elements one by one (see the module docs).
pub struct ListReader<'b> {
    body: &'b mut dyn BodyStream,
    array_key: &'static str,
    buf: Vec<u8>,
    /// Bytes of `buf` before this are consumed.
    pos: usize,
    eof: bool,
    /// A read that failed while reading ahead, reported when its bytes are needed.
    failed: Option<ClientError>,
    state: State,
    /// The other top-level fields, as raw JSON.
    fields: Vec<(String, Box<RawValue>)>,
}

impl<'b> ListReader<'b> {
    /// A reader of `body` whose elements are the array under `array_key`.
    pub fn new(body: &'b mut dyn BodyStream, array_key: &'static str) -> Self {
        ListReader {
            body,
            array_key,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            failed: None,
            state: State::Start,
            fields: Vec::new(),
        }
    }

    /// The next element, decoded as `T`, or `None` after the last one. After `None` the
    /// whole body has been read, so every other field is available from [`Self::field`].
    pub fn next_item<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ListError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    match self.next_byte()? {
                        Some(b'{') => self.state = State::Key { first: true },
                        Some(other) => {
                            return Err(malformed(format!(
                                "expected a JSON object, found {:?}",
                                other as char
                            )));
                        }
                        None => return Err(malformed("the body is empty".into())),
                    }
                    self.pos += 1;
                }
                State::Key { first } => {
                    match self.next_byte()? {
                        Some(b'}') => {
                            self.pos += 1;
                            self.state = State::Done;
                            self.expect_end()?;
                            continue;
                        }
                        Some(b',') if !first => {
                            self.pos += 1;
                            continue;
                        }
                        Some(b'"') => {}
                        Some(other) => {
                            return Err(malformed(format!(
                                "expected a field name, found {:?}",
                                other as char
                            )));
                        }
                        None => return Err(truncated()),
                    }
                    let key: String = self.decode_value()?;
                    match self.next_byte()? {
                        Some(b':') => self.pos += 1,
                        _ => return Err(malformed(format!("expected ':' after {key:?}"))),
                    }
                    if self.next_byte()?.is_none() {
                        return Err(truncated());
                    }
                    self.state = State::Key { first: false };
                    if key == self.array_key && self.buf[self.pos] == b'[' {
                        self.pos += 1;
                        self.state = State::Array { first: true };
                        continue;
                    }
                    // Any other field, including a `null` array: kept as text.
                    let value: Box<RawValue> = self.decode_value()?;
                    self.fields.push((key, value));
                }
                State::Array { first } => {
                    match self.next_byte()? {
                        Some(b']') => {
                            self.pos += 1;
                            self.state = State::Key { first: false };
                            continue;
                        }
                        Some(b',') if !first => {
                            self.pos += 1;
                            if self.next_byte()?.is_none() {
                                return Err(truncated());
                            }
                        }
                        Some(_) if first => {}
                        Some(other) => {
                            return Err(malformed(format!(
                                "expected ',' or ']' in {:?}, found {:?}",
                                self.array_key, other as char
                            )));
                        }
                        None => return Err(truncated()),
                    }
                    self.state = State::Array { first: false };
                    return self.decode_value().map(Some);
                }
            }
        }
    }

    /// Decodes the value at `self.pos` (not whitespace) as `T`, reading more of the body
    /// while it is incomplete.
    fn decode_value<T: DeserializeOwned>(&mut self) -> Result<T, ListError> {
        while self.buf.len() - self.pos < LOOKAHEAD && self.failed.is_none() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => break,
                // The items already buffered come first.
                Err(ListError::Body(e)) => self.failed = Some(e),
                Err(other) => return Err(other),
            }
        }
        loop {
            let mut values =
                serde_json::Deserializer::from_slice(&self.buf[self.pos..]).into_iter::<T>();
            let result = values.next();
            let end = self.pos + values.byte_offset();
            match result {
                // A number that ends the buffer may go on in the next chunk.
                Some(Ok(_)) if end == self.buf.len() && self.fill()? => continue,
                Some(Ok(value)) => {
                    self.pos = end;
                    return Ok(value);
                }
                Some(Err(e)) if e.is_eof() => {
                    if !self.fill()? {
                        return Err(truncated());
                    }
                }
                Some(Err(e)) => return Err(ListError::Decode(e)),
                None => return Err(truncated()),
            }
        }
    }

    /// A top-level field other than the array, as raw JSON, if it has been read.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.get().as_bytes())
    }

    /// A top-level string field (`kind`, `apiVersion`), if it has been read.
    pub fn string_field(&self, name: &str) -> Option<String> {
        self.field(name)
            .and_then(|raw| serde_json::from_slice(raw).ok())
    }

    /// The list's `metadata` (resourceVersion, `continue` token), once read.
    pub fn metadata(&self) -> ListMeta {
        self.field("metadata")
            .and_then(|raw| serde_json::from_slice(raw).ok())
            .unwrap_or_default()
    }

    /// `metadata.continue`: the token for the next page, empty on the last one.
    pub fn continue_token(&self) -> String {
        self.metadata().continue_token
    }

    /// Skips whitespace and returns the next byte without consuming it (`None` at the end
    /// of the body).
    fn next_byte(&mut self) -> Result<Option<u8>, ListError> {
        loop {
            while self.pos < self.buf.len() {
                let b = self.buf[self.pos];
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// After the closing `}` only whitespace may follow.
    fn expect_end(&mut self) -> Result<(), ListError> {
        match self.next_byte()? {
            None => Ok(()),
            Some(other) => Err(malformed(format!(
                "unexpected {:?} after the end of the list",
                other as char
            ))),
        }
    }

    /// Reads more of the body into the buffer, first dropping what is consumed. Returns
    /// `false` at the end of the body.
    fn fill(&mut self) -> Result<bool, ListError> {
        if let Some(e) = self.failed.take() {
            return Err(ListError::Body(e));
        }
        if self.eof {
            return Ok(false);
        }
        let Some(chunk) = self.body.next_chunk().map_err(ListError::Body)? else {
            self.eof = true;
            return Ok(false);
        };
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.is_empty() {
            self.buf = chunk;
        } else {
            self.buf.extend_from_slice(&chunk);
        }
        Ok(true)
    }
}

/// The type a list says its items are (`apiVersion`, and `kind` such as `PodList`), for
/// kubectl's `apiVersion`/`kind` on each item.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListType {
    /// The list's `apiVersion`.
    pub api_version: Option<String>,
    /// The list's `kind`.
    pub kind: Option<String>,
}

/// Why [`for_each_item`] stopped.
#[derive(Debug)]
pub enum ItemError<E> {
    /// Reading, splitting or decoding the list failed.
    List(ListError),
    /// `each` failed.
    Each(E),
}

/// Reads the list in `body`, decoding each element of its `array_key` array as `T` and
/// handing it to `each` with the list's type. Returns the list's metadata
/// (resourceVersion, `continue` token).
pub fn for_each_item<T: DeserializeOwned, E>(
    body: &mut dyn BodyStream,
    array_key: &'static str,
    mut each: impl FnMut(T, &ListType) -> Result<(), E>,
) -> Result<ListMeta, ItemError<E>> {
    let mut reader = ListReader::new(body, array_key);
    let mut list_type = None;
    while let Some(item) = reader.next_item::<T>().map_err(ItemError::List)? {
        // Servers send `kind` and `apiVersion` before the items; read them once.
        let list_type = list_type.get_or_insert_with(|| ListType {
            api_version: reader.string_field("apiVersion"),
            kind: reader.string_field("kind"),
        });
        each(item, list_type).map_err(ItemError::Each)?;
    }
    Ok(reader.metadata())
}

/// [`for_each_item`] on the body of the response to `request`, with failures as the
/// command errors kubectl would print: a broken body as the host's error, anything
/// undecodable as a decode error naming the request.
pub fn read_items<T: DeserializeOwned>(
    request: &Request,
    body: &mut dyn BodyStream,
    array_key: &'static str,
    each: impl FnMut(T, &ListType) -> Result<(), Error>,
) -> Result<ListMeta, Error> {
    let decode_error = |reason: String| Error::Decode {
        request: format!("{} {}", request.method.as_str(), request.path_and_query),
        reason,
    };
    for_each_item(body, array_key, each).map_err(|e| match e {
        ItemError::List(ListError::Body(e)) => e.into(),
        ItemError::List(ListError::Malformed(reason)) => decode_error(reason),
        ItemError::List(ListError::Decode(e)) => decode_error(format!("{array_key}: {e}")),
        ItemError::Each(e) => e,
    })
}

fn malformed(reason: String) -> ListError {
    ListError::Malformed(reason)
}

fn truncated() -> ListError {
    ListError::Malformed("the body ends in the middle of the list".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::MemoryBody;
    use crate::testutil::fixture_body;
    use serde_json::{Value, json};

    /// Every element of `body` delivered in chunks of `size` bytes, and the continue token.
    fn items_in_chunks(body: &[u8], size: usize, key: &'static str) -> (Vec<Value>, String) {
        let mut stream = MemoryBody::new(body.chunks(size).map(<[u8]>::to_vec));
        let mut reader = ListReader::new(&mut stream, key);
        let mut items = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            items.push(item);
        }
        (items, reader.continue_token())
    }

    #[test]
    fn items_are_the_same_whatever_the_chunk_size() {
        let body = fixture_body(include_str!("../../tests/fixtures/pods-demo-list.http"));
        let whole: Value = serde_json::from_slice(body).unwrap();
        let expected = whole["items"].as_array().unwrap();
        for size in [1, 7, 100, 4096, body.len()] {
            let (items, _) = items_in_chunks(body, size, "items");
            assert_eq!(&items, expected, "chunk size {size}");
        }
    }

    #[test]
    fn items_larger_than_the_lookahead_are_decoded_whole() {
        let big = "x".repeat(3 * LOOKAHEAD);
        let body = format!(r#"{{"items":[{{"a":"{big}"}},12345,{{"b":1}}]}}"#);
        let (items, _) = items_in_chunks(body.as_bytes(), 1000, "items");
        assert_eq!(items, [json!({"a": big}), json!(12345), json!({"b": 1})]);
        // A number split across reads is not cut short.
        let (items, _) = items_in_chunks(br#"{"items":[123456789]}"#, 13, "items");
        assert_eq!(items, [json!(123456789)]);
    }

    #[test]
    fn fields_before_and_after_the_array_are_kept() {
        let body = br#" {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"tok"},"items":[{"a":"]}\"{"},[1,2],"s",3,null] ,"extra":{"x":[]}} "#;
        let (items, token) = items_in_chunks(body, 3, "items");
        assert_eq!(
            items,
            [
                json!({"a": "]}\"{"}),
                json!([1, 2]),
                json!("s"),
                json!(3),
                Value::Null
            ]
        );
        assert_eq!(token, "tok");
        let mut stream = MemoryBody::new([body.to_vec()]);
        let mut reader = ListReader::new(&mut stream, "items");
        while reader.next_item::<Value>().unwrap().is_some() {}
        assert_eq!(reader.string_field("kind").as_deref(), Some("PodList"));
        assert_eq!(reader.field("extra"), Some(&br#"{"x":[]}"#[..]));
    }

    #[test]
    fn a_null_or_missing_array_has_no_items() {
        for body in [
            &br#"{"items":null,"metadata":{}}"#[..],
            br#"{"metadata":{}}"#,
            br#"{"items":[]}"#,
        ] {
            let (items, token) = items_in_chunks(body, 5, "items");
            assert!(items.is_empty());
            assert_eq!(token, "");
        }
    }

    #[test]
    fn table_rows_are_read_under_their_own_key() {
        let body = fixture_body(include_str!("../../tests/fixtures/pods-demo-table.http"));
        let (rows, _) = items_in_chunks(body, 1000, "rows");
        assert_eq!(rows.len(), 50);
        assert!(rows[0]["cells"].is_array(), "{}", rows[0]);
    }

    #[test]
    fn for_each_item_types_items_by_their_list() {
        let body = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"continue":"next"},"items":[{"metadata":{"name":"a"}}]}"#;
        let mut stream = MemoryBody::new([body.to_vec()]);
        let mut seen = Vec::new();
        let meta = for_each_item(&mut stream, "items", |item: Value, list| {
            seen.push((item["metadata"]["name"].clone(), list.clone()));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(meta.continue_token, "next");
        assert_eq!(
            seen,
            [(
                json!("a"),
                ListType {
                    api_version: Some("v1".into()),
                    kind: Some("PodList".into())
                }
            )]
        );
    }

    #[test]
    fn truncated_or_malformed_bodies_are_errors_not_panics() {
        for (body, reason) in [
            (&b""[..], "the body is empty"),
            (b"[1]", "expected a JSON object"),
            (br#"{"items":[{"a":1}"#, "ends in the middle"),
            (br#"{"items":[{"a":1"#, "ends in the middle"),
            (br#"{"items":[{"a":1} {"b":2}]}"#, "expected ',' or ']'"),
            (br#"{"items":[]} x"#, "after the end of the list"),
            (br#"{"items" [] }"#, "expected ':'"),
            (br#"{1:2}"#, "expected a field name"),
            (br#"{"kind":"PodList","#, "ends in the middle"),
            (br#"{"items":[{"a":tru}]}"#, "expected ident"),
        ] {
            let mut stream = MemoryBody::new([body.to_vec()]);
            let mut reader = ListReader::new(&mut stream, "items");
            let err = loop {
                match reader.next_item::<Value>() {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("{body:?} was accepted"),
                    Err(e) => break e,
                }
            };
            let text = match err {
                ListError::Malformed(text) => text,
                ListError::Decode(e) => e.to_string(),
                other => panic!("{other:?}"),
            };
            assert!(text.contains(reason), "{text}");
        }
    }

    #[test]
    fn an_item_of_the_wrong_type_is_a_decode_error() {
        let mut stream = MemoryBody::new([br#"{"items":[{"metadata":"x"}]}"#.to_vec()]);
        let mut reader = ListReader::new(&mut stream, "items");
        let err = reader
            .next_item::<crate::meta::PartialObject>()
            .unwrap_err();
        assert!(matches!(err, ListError::Decode(_)), "{err:?}");
    }

    #[test]
    fn a_body_that_fails_mid_list_gives_its_items_then_the_transport_error() {
        let mut stream = MemoryBody::new([br#"{"items":[{"a":1},"#.to_vec()])
            .failing_with(ClientError::Body("reset".into()));
        let mut reader = ListReader::new(&mut stream, "items");
        // The item that arrived before the failure comes first.
        assert_eq!(reader.next_item::<Value>().unwrap(), Some(json!({"a": 1})));
        let err = reader.next_item::<Value>().unwrap_err();
        assert!(
            matches!(&err, ListError::Body(ClientError::Body(text)) if text == "reset"),
            "{err:?}"
        );
    }
}
