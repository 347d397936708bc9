//! A response body as a `wasi:io/streams.input-stream`.
//!
//! The guest reads the body while it arrives, so a watch or a followed log prints event
//! by event. The stream pulls one HTTP frame at a time from the connection only when
//! the guest asks for more: nothing is buffered beyond the current frame, and a guest
//! that stops reading applies back-pressure to the server instead of growing the host's
//! memory.

use bytes::Bytes;
use http_body_util::BodyExt;
use kube::client::Body;
use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, StreamError, StreamResult};

use crate::audit::{AuditLog, AuditRecord};
use crate::limits::{StreamSlot, format_bytes};
use crate::transport::ErrorCode;

/// The state of a body: frames still coming, finished, or failed.
enum State {
    Open,
    Closed,
    Failed(ErrorCode),
}

/// A streaming response body handed to the guest.
pub struct BodyStream {
    body: Body,
    /// The unread rest of the current frame.
    buffer: Bytes,
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
    pub fn new(body: Body, server: &str) -> Self {
        Self {
            body,
            buffer: Bytes::new(),
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

#[async_trait]
impl Pollable for BodyStream {
    async fn ready(&mut self) {
        // Cancel-safe: `frame()` only polls the body, so dropping this future (when the
        // guest polls several streams) loses nothing.
        while self.buffer.is_empty() && matches!(self.state, State::Open) {
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
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
                            break;
                        }
                        self.buffer = data;
                    }
                }
                Some(Err(e)) => {
                    self.state = State::Failed(ErrorCode::Connect(format!(
                        "the response from {} broke off: {}",
                        self.server,
                        crate::transport::error_chain(&e)
                    )));
                }
                None => self.state = State::Closed,
            }
        }
    }
}

impl InputStream for BodyStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if !self.buffer.is_empty() {
            let n = size.min(self.buffer.len());
            return Ok(self.buffer.split_to(n));
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
