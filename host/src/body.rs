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
}

impl BodyStream {
    /// Wraps a response body from `server` (named in error messages).
    pub fn new(body: Body, server: &str) -> Self {
        Self {
            body,
            buffer: Bytes::new(),
            state: State::Open,
            server: server.to_string(),
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
            State::Failed(code) => Err(StreamError::LastOperationFailed(
                wasmtime::Error::new(code.clone()),
            )),
        }
    }
}
