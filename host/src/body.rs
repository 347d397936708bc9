//! Response bodies as the host hands them to guests: [`MeteredBody`] applies the
//! limits and audit every answer needs, whichever door the request came by;
//! [`BodyStream`] makes it a `wasi:io/streams.input-stream` for `api.send`
//! (`wasi:http` guests read a [`MeteredBody`] through wasmtime-wasi-http's own stream).
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
use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, StreamError, StreamResult};

use crate::audit::{AuditLog, AuditRecord};
use crate::limits::{StreamSlot, format_bytes};
use crate::transport::{ErrorCode, ResponseBody};

/// How many bytes of frames that have already arrived one read may take together (the
/// guest asks for 64 KiB at a time).
pub const COALESCE: usize = 64 * 1024;

/// The state of a body: frames still coming, finished, or failed.
enum State {
    Open,
    Closed,
    Failed(ErrorCode),
}

/// A response body as the host hands it to a guest, by either door (`api.send`'s
/// [`BodyStream`] or a `wasi:http` incoming body): it counts the bytes against
/// `--max-response-bytes` (unless the response is a stream meant to last), holds the
/// `--max-streams` slot until it is dropped, and writes the request's audit record when
/// it ends or is dropped, since only then are the byte count and duration known.
pub struct MeteredBody {
    body: ResponseBody,
    server: String,
    /// Bytes received so far.
    received: u64,
    /// `--max-response-bytes` for non-streaming responses; `None` for watches and
    /// followed logs, which are meant to run indefinitely.
    max_bytes: Option<u64>,
    /// Set once the body ended or failed: nothing more is read from the connection.
    finished: bool,
    /// Why the body failed, for the audit record.
    failed: Option<ErrorCode>,
    /// The `--max-streams` slot this body occupies until it is dropped.
    _slot: Option<StreamSlot>,
    /// The audit record to complete (bytes, duration) when the body is done.
    audit: Option<(AuditLog, AuditRecord, std::time::Instant)>,
}

impl MeteredBody {
    /// Wraps a response body from `server` (named in error messages).
    pub fn new(body: ResponseBody, server: &str) -> Self {
        Self {
            body,
            server: server.to_string(),
            received: 0,
            max_bytes: None,
            finished: false,
            failed: None,
            _slot: None,
            audit: None,
        }
    }

    /// Fails the body once more than `max` bytes arrived (`None`: unlimited).
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

    /// Ends the body with `code`: later polls see the end, the audit record the error.
    fn fail(&mut self, code: ErrorCode) -> ErrorCode {
        self.finished = true;
        self.failed = Some(code.clone());
        code
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if let Some((log, mut record, start)) = self.audit.take() {
            record.bytes = self.received;
            record.finish(start.elapsed());
            if let Some(code) = &self.failed {
                record.error = Some(code.to_string());
            }
            log.record(&record);
        }
    }
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = ErrorCode;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, ErrorCode>>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let frame = match std::pin::Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(frame) => frame,
        };
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if let Some(max) = this.max_bytes
                        && this.received > max
                    {
                        // Stop reading: the connection is dropped with the body.
                        let code = ErrorCode::LimitExceeded(format!(
                            "the response from {} is larger than {} (raise it with --max-response-bytes)",
                            this.server,
                            format_bytes(max)
                        ));
                        return Poll::Ready(Some(Err(this.fail(code))));
                    }
                }
                Some(Ok(frame))
            }
            Some(Err(e)) => {
                let code = ErrorCode::Connect(format!(
                    "the response from {} broke off: {}",
                    this.server,
                    crate::transport::error_chain(&e)
                ));
                Some(Err(this.fail(code)))
            }
            None => {
                this.finished = true;
                None
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.finished
    }
}

/// A streaming response body handed to an `api.send` guest as a `wasi:io` stream.
pub struct BodyStream {
    body: MeteredBody,
    /// The unread rest of the current frame.
    buffer: Bytes,
    /// Frames that arrived after it, not yet read.
    more: VecDeque<Bytes>,
    /// Bytes in `more`.
    more_len: usize,
    state: State,
}

impl BodyStream {
    /// Hands `body` to the guest as a stream.
    pub fn new(body: MeteredBody) -> Self {
        Self {
            body,
            buffer: Bytes::new(),
            more: VecDeque::new(),
            more_len: 0,
            state: State::Open,
        }
    }

    /// Takes one polled frame: data is queued; an error or the end of the body changes
    /// the state. Returns whether more frames may follow.
    fn take(&mut self, frame: Option<Result<http_body::Frame<Bytes>, ErrorCode>>) -> bool {
        match frame {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    return true;
                };
                if self.buffer.is_empty() {
                    self.buffer = data;
                } else {
                    self.more_len += data.len();
                    self.more.push_back(data);
                }
                true
            }
            Some(Err(code)) => {
                self.state = State::Failed(code);
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
    fn body() -> (Sender, MeteredBody) {
        let (tx, rx) = mpsc::unbounded();
        let body = MeteredBody::new(
            http_body_util::StreamBody::new(rx).boxed_unsync(),
            "https://k8s.test",
        );
        (tx, body)
    }

    fn stream() -> (Sender, BodyStream) {
        let (tx, body) = body();
        (tx, BodyStream::new(body))
    }

    fn send(tx: &Sender, data: &[u8]) {
        tx.unbounded_send(Ok(Frame::data(Bytes::copy_from_slice(data))))
            .unwrap();
    }

    #[tokio::test]
    async fn frames_that_already_arrived_are_read_together() {
        let (tx, mut stream) = stream();
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
        let (tx, mut stream) = stream();
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
        let (tx, mut stream) = stream();
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
        let (tx, body) = body();
        let mut stream = BodyStream::new(body.max_bytes(Some(10)));
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
