//! A response body as a `wasi:io/streams.input-stream`.
//!
//! The guest reads the body while it arrives, so a watch or a followed log prints event
//! by event. The stream pulls frames from the connection only when the guest asks for
//! more: it waits for one frame, then takes the frames that have already arrived, up to
//! [`COALESCE`] bytes, so that a burst of small frames (a watch sends one event per
//! frame) costs the guest one read instead of one per event. Nothing more is buffered,
//! and a guest that stops reading applies back-pressure to the server instead of
//! growing the host's memory.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use futures::FutureExt as _;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, StreamError, StreamResult};

use crate::audit::{AuditLog, AuditRecord};
use crate::limits::{StreamSlot, format_bytes};
use crate::transport::ErrorCode;

/// How many bytes of frames that have already arrived one read may take together (the
/// guest asks for 64 KiB at a time).
pub const COALESCE: usize = 64 * 1024;

/// The state of a body: frames still coming, finished, or failed.
enum State {
    Open,
    Closed,
    Failed(ErrorCode),
}

/// A streaming response body handed to the guest.
pub struct BodyStream {
    body: UnsyncBoxBody<Bytes, kube::Error>,
    /// The unread rest of the current frame.
    buffer: Bytes,
    /// Frames that arrived after it, not yet read.
    more: VecDeque<Bytes>,
    /// Bytes in `more`.
    more_len: usize,
    state: State,
    server: String,
    /// Bytes received so far.
    received: u64,
    /// `--max-response-bytes` for non-streaming responses; `None` for watches and
    /// followed logs, which are meant to run indefinitely.
    max_bytes: Option<u64>,
    /// The `--max-streams` slot this body occupies until it is dropped.
    _slot: Option<StreamSlot>,
    /// The audit record to complete (bytes, duration) when the body ends or is dropped.
    audit: Option<(AuditLog, AuditRecord, std::time::Instant)>,
}

impl BodyStream {
    /// Wraps a response body from `server` (named in error messages).
    pub fn new(
        body: impl http_body::Body<Data = Bytes, Error = kube::Error> + Send + 'static,
        server: &str,
    ) -> Self {
        Self {
            body: body.boxed_unsync(),
            buffer: Bytes::new(),
            more: VecDeque::new(),
            more_len: 0,
            state: State::Open,
            server: server.to_string(),
            received: 0,
            max_bytes: None,
            _slot: None,
            audit: None,
        }
    }

    /// Fails the stream once more than `max` bytes arrived (`None`: unlimited).
    pub fn max_bytes(mut self, max: Option<u64>) -> Self {
        self.max_bytes = max;
        self
    }

    /// Holds `slot` until the body is dropped.
    pub fn slot(mut self, slot: StreamSlot) -> Self {
        self._slot = Some(slot);
        self
    }

    /// Writes `record` to `log` with the byte count and duration when the body is done.
    pub fn audit(mut self, log: AuditLog, record: AuditRecord, start: std::time::Instant) -> Self {
        self.audit = Some((log, record, start));
        self
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        if let Some((log, mut record, start)) = self.audit.take() {
            record.bytes = self.received;
            record.finish(start.elapsed());
            if let State::Failed(code) = &self.state {
                record.error = Some(code.to_string());
            }
            log.record(&record);
        }
    }
}

impl BodyStream {
    /// Takes one polled frame: data is counted against `--max-response-bytes` and
    /// queued; an error or the end of the body changes the state. Returns whether more
    /// frames may follow.
    fn take(&mut self, frame: Option<Result<http_body::Frame<Bytes>, kube::Error>>) -> bool {
        match frame {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    return true;
                };
                self.received += data.len() as u64;
                if let Some(max) = self.max_bytes
                    && self.received > max
                {
                    // Stop reading: the connection is dropped with the body.
                    self.state = State::Failed(ErrorCode::LimitExceeded(format!(
                        "the response from {} is larger than {} (raise it with --max-response-bytes)",
                        self.server,
                        format_bytes(max)
                    )));
                    return false;
                }
                if self.buffer.is_empty() {
                    self.buffer = data;
                } else {
                    self.more_len += data.len();
                    self.more.push_back(data);
                }
                true
            }
            Some(Err(e)) => {
                self.state = State::Failed(ErrorCode::Connect(format!(
                    "the response from {} broke off: {}",
                    self.server,
                    crate::transport::error_chain(&e)
                )));
                false
            }
            None => {
                self.state = State::Closed;
                false
            }
        }
    }
}

#[async_trait]
impl Pollable for BodyStream {
    async fn ready(&mut self) {
        // Cancel-safe: `frame()` only polls the body, so dropping this future (when the
        // guest polls several streams) loses nothing.
        while self.buffer.is_empty() && matches!(self.state, State::Open) {
            let frame = self.body.frame().await;
            if !self.take(frame) {
                return;
            }
        }
        // Then whatever has arrived already, without waiting.
        while matches!(self.state, State::Open) && self.buffer.len() + self.more_len < COALESCE {
            match self.body.frame().now_or_never() {
                Some(frame) => {
                    if !self.take(frame) {
                        return;
                    }
                }
                None => return,
            }
        }
    }
}

impl BodyStream {
    /// Makes the next queued frame current once the current one is read.
    fn promote(&mut self) {
        if self.buffer.is_empty()
            && let Some(next) = self.more.pop_front()
        {
            self.more_len -= next.len();
            self.buffer = next;
        }
    }
}

impl InputStream for BodyStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.promote();
        if !self.buffer.is_empty() {
            if self.buffer.len() >= size || self.more.is_empty() {
                let n = size.min(self.buffer.len());
                let data = self.buffer.split_to(n);
                self.promote();
                return Ok(data);
            }
            // Several frames in one read: copied together (only small frames get here).
            let mut joined = BytesMut::with_capacity(size.min(self.buffer.len() + self.more_len));
            joined.extend_from_slice(&self.buffer);
            self.buffer = Bytes::new();
            while let Some(mut frame) = self.more.pop_front() {
                let room = size - joined.len();
                if frame.len() > room {
                    joined.extend_from_slice(&frame.split_to(room));
                    self.more_len -= room;
                    self.more.push_front(frame);
                    break;
                }
                self.more_len -= frame.len();
                joined.extend_from_slice(&frame);
                if joined.len() == size {
                    break;
                }
            }
            self.promote();
            return Ok(joined.freeze());
        }
        match &self.state {
            State::Open => Ok(Bytes::new()),
            State::Closed => Err(StreamError::Closed),
            State::Failed(code) => Err(StreamError::LastOperationFailed(wasmtime::Error::new(
                code.clone(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;
    use http_body::Frame;

    type Sender = mpsc::UnboundedSender<Result<Frame<Bytes>, kube::Error>>;

    /// A body whose frames the test sends when it wants.
    fn body() -> (Sender, BodyStream) {
        let (tx, rx) = mpsc::unbounded();
        let stream = BodyStream::new(http_body_util::StreamBody::new(rx), "https://k8s.test");
        (tx, stream)
    }

    fn send(tx: &Sender, data: &[u8]) {
        tx.unbounded_send(Ok(Frame::data(Bytes::copy_from_slice(data))))
            .unwrap();
    }

    #[tokio::test]
    async fn frames_that_already_arrived_are_read_together() {
        let (tx, mut stream) = body();
        for event in [&b"event 1\n"[..], b"event 2\n", b"event 3\n"] {
            send(&tx, event);
        }
        stream.ready().await;
        assert_eq!(
            &stream.read(64 * 1024).unwrap()[..],
            b"event 1\nevent 2\nevent 3\n"
        );
        // Nothing more has arrived: an empty read, not the end.
        assert!(stream.read(64 * 1024).unwrap().is_empty());
        send(&tx, b"event 4\n");
        drop(tx);
        stream.ready().await;
        assert_eq!(&stream.read(64 * 1024).unwrap()[..], b"event 4\n");
        stream.ready().await;
        assert!(matches!(stream.read(1), Err(StreamError::Closed)));
    }

    #[tokio::test]
    async fn reads_smaller_than_the_frames_split_them_in_order() {
        let (tx, mut stream) = body();
        send(&tx, b"0123456789");
        send(&tx, b"abcdef");
        stream.ready().await;
        let mut read = Vec::new();
        for size in [4, 4, 5, 100] {
            let chunk = stream.read(size).unwrap();
            assert!(chunk.len() <= size);
            read.push(String::from_utf8(chunk.to_vec()).unwrap());
        }
        assert_eq!(read, ["0123", "4567", "89abc", "def"]);
    }

    #[tokio::test]
    async fn coalescing_stops_at_the_limit_and_loses_nothing() {
        let (tx, mut stream) = body();
        let frame = vec![b'x'; 40 * 1024];
        for _ in 0..3 {
            send(&tx, &frame);
        }
        drop(tx);
        let mut total = 0;
        loop {
            stream.ready().await;
            match stream.read(COALESCE) {
                Ok(chunk) => {
                    assert!(chunk.len() <= COALESCE);
                    total += chunk.len();
                }
                Err(StreamError::Closed) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(total, 3 * frame.len());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_fails_with_the_flag_to_raise() {
        let (tx, stream) = body();
        let mut stream = stream.max_bytes(Some(10));
        send(&tx, b"0123456789");
        send(&tx, b"!");
        stream.ready().await;
        assert_eq!(&stream.read(100).unwrap()[..], b"0123456789");
        stream.ready().await;
        match stream.read(100) {
            Err(StreamError::LastOperationFailed(e)) => {
                assert!(e.to_string().contains("--max-response-bytes"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
