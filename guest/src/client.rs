//! The guest's only IO: sending requests through the host's `api` capability.
//!
//! [`Transport`] is the seam: [`HostApi`] implements it with the WIT import
//! `kubewasm:client/api.send`; tests and embedders implement it with recorded responses.
//! A response body arrives as a [`BodyStream`], read in chunks as the server sends them,
//! so watches and followed logs print as they happen.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::bindings::kubewasm::client::api;
use crate::request::{Method, Request};

/// Why a request got no (complete) response. Mirrors the WIT `error-code`, plus a body
/// read failure the host could not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The host's policy refused the request; the text names the rule that would allow it.
    Denied(String),
    /// The host refused a malformed request (bad path, forbidden header).
    InvalidRequest(String),
    /// The host could not connect to the API server.
    Connect(String),
    /// The TLS handshake with the API server failed.
    Tls(String),
    /// The API server did not answer in time.
    Timeout,
    /// A host limit stopped the request; the text names the limit and its flag.
    LimitExceeded(String),
    /// The host could not obtain the credential.
    Credential(String),
    /// The host failed in a way it did not classify.
    Internal(Option<String>),
    /// Reading the body failed (e.g. the connection dropped) and the host said no more.
    Body(String),
}

impl ClientError {
    /// kubectl prints connection problems without an `error: ` prefix
    /// (`Unable to connect to the server: ...`); a failing credential plugin is one.
    pub fn is_connection_problem(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(_)
                | ClientError::Tls(_)
                | ClientError::Timeout
                | ClientError::Credential(_)
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The host's text already says what was denied and what would allow it.
            ClientError::Denied(text) => f.write_str(text),
            ClientError::InvalidRequest(text) => {
                write!(f, "the host refused the request as invalid: {text}")
            }
            ClientError::Connect(text) => write!(f, "Unable to connect to the server: {text}"),
            // The host verified the server against the cluster CA and stopped before
            // sending anything: say that the credential did not leave.
            // (Said once: kubewasm's own host already says so in its text.)
            ClientError::Tls(text) if text.contains("No credential was sent") => {
                write!(f, "Unable to connect to the server: {text}")
            }
            ClientError::Tls(text) => write!(
                f,
                "Unable to connect to the server: {text} (the TLS handshake failed, so the credential was not sent)"
            ),
            ClientError::Timeout => f.write_str(
                "Unable to connect to the server: timeout: the server did not answer in time",
            ),
            ClientError::LimitExceeded(text) => f.write_str(text),
            ClientError::Credential(text) => {
                write!(
                    f,
                    "Unable to connect to the server: getting credentials: {text}"
                )
            }
            ClientError::Internal(Some(text)) => {
                write!(f, "internal error in the host (a bug): {text}")
            }
            ClientError::Internal(None) => f.write_str("internal error in the host (a bug)"),
            ClientError::Body(text) => write!(f, "reading the response body: {text}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<api::ErrorCode> for ClientError {
    fn from(code: api::ErrorCode) -> Self {
        match code {
            api::ErrorCode::Denied(text) => ClientError::Denied(text),
            api::ErrorCode::InvalidRequest(text) => ClientError::InvalidRequest(text),
            api::ErrorCode::Connect(text) => ClientError::Connect(text),
            api::ErrorCode::Tls(text) => ClientError::Tls(text),
            api::ErrorCode::Timeout => ClientError::Timeout,
            api::ErrorCode::LimitExceeded(text) => ClientError::LimitExceeded(text),
            api::ErrorCode::Credential(text) => ClientError::Credential(text),
            api::ErrorCode::Internal(text) => ClientError::Internal(text),
        }
    }
}

/// A response body that arrives in chunks.
pub trait BodyStream {
    /// The next chunk, or `None` at the end of the body. Blocks until data arrives.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError>;
}

/// The server's answer. Any HTTP status is a response; only transport failures are
/// [`ClientError`]s.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, readable as it arrives.
    pub body: Box<dyn BodyStream>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Reads the whole body.
    pub fn read_body(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.body.next_chunk()? {
            if body.is_empty() {
                body = chunk;
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        Ok(body)
    }
}

/// Sends requests to the API server.
pub trait Transport {
    /// Sends `request` and returns the response head; the body streams.
    fn send(&mut self, request: &Request) -> Result<Response, ClientError>;

    /// Waits `delay` before a retry or a reconnection. Part of the transport so that
    /// tests (and embedders with their own scheduling) replace real waiting; the default
    /// sleeps on the WASI monotonic clock.
    fn backoff(&mut self, delay: Duration) {
        std::thread::sleep(delay);
    }
}

/// The host's `api` capability: the real transport of a guest.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostApi;

/// How much a body read asks the host for at once.
const READ_CHUNK: u64 = 64 * 1024;

impl Transport for HostApi {
    fn send(&mut self, request: &Request) -> Result<Response, ClientError> {
        let wire = api::Request {
            method: match request.method {
                Method::Get => api::Method::Get,
                Method::Head => api::Method::Head,
                Method::Post => api::Method::Post,
                Method::Put => api::Method::Put,
                Method::Patch => api::Method::Patch,
                Method::Delete => api::Method::Delete,
            },
            path_and_query: request.path_and_query.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let response = api::send(&wire)?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: Box::new(HostBody {
                stream: Some(response.body),
            }),
        })
    }
}

/// A body read from the host's `input-stream`.
struct HostBody {
    /// `None` once the stream ended, so it is dropped as soon as possible.
    stream: Option<wasip2::io::streams::InputStream>,
}

impl BodyStream for HostBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        use wasip2::io::streams::StreamError;
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        loop {
            match stream.blocking_read(READ_CHUNK) {
                // A zero-length read is allowed; it is not the end of the body.
                Ok(chunk) if chunk.is_empty() => continue,
                Ok(chunk) => return Ok(Some(chunk)),
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(error)) => {
                    self.stream = None;
                    return Err(match api::body_error(&error) {
                        Some(code) => ClientError::from(code),
                        None => ClientError::Body(error.to_debug_string()),
                    });
                }
            }
        }
    }
}

/// A body held in memory, delivered in the given chunks: for tests, and for embedders
/// that replay recorded responses.
#[derive(Debug, Default)]
pub struct MemoryBody {
    chunks: VecDeque<Result<Vec<u8>, ClientError>>,
}

impl MemoryBody {
    /// A body delivered as `chunks`, in order.
    pub fn new(chunks: impl IntoIterator<Item = Vec<u8>>) -> Self {
        MemoryBody {
            chunks: chunks.into_iter().map(Ok).collect(),
        }
    }

    /// A body that fails with `error` after its chunks (a dropped connection).
    pub fn failing_with(mut self, error: ClientError) -> Self {
        self.chunks.push_back(Err(error));
        self
    }
}

impl BodyStream for MemoryBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        self.chunks.pop_front().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_kubectl_like_messages() {
        let cases = [
            (
                api::ErrorCode::Denied(
                    "GET pods in kube-system is not allowed; add rule ...".into(),
                ),
                "GET pods in kube-system is not allowed; add rule ...",
            ),
            (
                api::ErrorCode::Connect(
                    "dial tcp 10.0.0.1:443: connect: connection refused".into(),
                ),
                "Unable to connect to the server: dial tcp 10.0.0.1:443: connect: connection refused",
            ),
            (
                api::ErrorCode::Tls("certificate signed by unknown authority".into()),
                "Unable to connect to the server: certificate signed by unknown authority (the TLS handshake failed, so the credential was not sent)",
            ),
            (
                // kubewasm's host says it already: not twice.
                api::ErrorCode::Tls(
                    "TLS handshake with https://x failed: expired. No credential was sent.".into(),
                ),
                "Unable to connect to the server: TLS handshake with https://x failed: expired. No credential was sent.",
            ),
            (
                api::ErrorCode::LimitExceeded(
                    "response larger than 64 MiB (--max-response-bytes)".into(),
                ),
                "response larger than 64 MiB (--max-response-bytes)",
            ),
            (
                api::ErrorCode::Internal(None),
                "internal error in the host (a bug)",
            ),
            (
                api::ErrorCode::Credential("exec: executable aws not found".into()),
                "Unable to connect to the server: getting credentials: exec: executable aws not found",
            ),
            (
                api::ErrorCode::Timeout,
                "Unable to connect to the server: timeout: the server did not answer in time",
            ),
        ];
        for (code, message) in cases {
            assert_eq!(ClientError::from(code).to_string(), message);
        }
        assert!(ClientError::Timeout.is_connection_problem());
        assert!(!ClientError::Denied(String::new()).is_connection_problem());
    }

    #[test]
    fn memory_body_reads_chunks_then_ends() {
        let mut response = Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Box::new(MemoryBody::new([b"ab".to_vec(), b"cd".to_vec()])),
        };
        assert!(response.is_success());
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_eq!(response.read_body().unwrap(), b"abcd");
        assert_eq!(response.body.next_chunk().unwrap(), None);
    }

    #[test]
    fn memory_body_can_fail_mid_stream() {
        let mut body =
            MemoryBody::new([b"x".to_vec()]).failing_with(ClientError::Body("reset".into()));
        assert_eq!(body.next_chunk().unwrap(), Some(b"x".to_vec()));
        assert_eq!(
            body.next_chunk().unwrap_err(),
            ClientError::Body("reset".into())
        );
    }
}
