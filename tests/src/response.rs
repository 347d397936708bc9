//! Building replies the way kube-apiserver writes them: its header set (`Audit-Id`,
//! `Cache-Control: no-cache, private`, priority-and-fairness headers, ...), `Status` error bodies,
//! and Go's `net/http` framing rule (a body over 2048 bytes that the handler did not size is sent
//! with `Transfer-Encoding: chunked`).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::fixtures::Fixture;
use crate::json::go_string;

/// Go's `bufferBeforeChunkingSize`: larger unsized responses are chunked.
const CHUNKING_THRESHOLD: usize = 2048;

/// kube-apiserver's `defaultGzipThresholdBytes` (`endpoints/handlers/responsewriters`): only
/// bodies larger than this are compressed.
pub const GZIP_THRESHOLD: usize = 128 * 1024;

/// kube-apiserver's `defaultGzipContentEncodingLevel`: 1 (gzip.BestSpeed) since Kubernetes
/// 1.26, chosen for CPU cost (kubernetes/kubernetes#112296); it was 4 before.
const GZIP_LEVEL: u32 = 1;

/// `negotiateContentEncoding`: true when one comma-separated token of `Accept-Encoding` is
/// exactly `gzip` (the API server ignores q-values, so `gzip;q=1` does not count).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|v| v.split(',').any(|t| t.trim() == "gzip"))
}

/// The body of a reply.
pub enum ResponseBody {
    /// No body at all.
    Empty,
    /// A body of known length (`Content-Length`).
    Full(Option<Bytes>),
    /// A body sent without a length (`Transfer-Encoding: chunked` on HTTP/1.1).
    Chunked(Option<Bytes>),
    /// A stream: each received buffer is written and flushed as its own chunk; the body ends
    /// when the sender is dropped.
    Stream(mpsc::Receiver<Chunk>),
}

/// One piece of a streamed body.
#[derive(Debug)]
pub enum Chunk {
    /// Written and flushed as one chunk.
    Data(Bytes),
    /// Fails the body: hyper then drops the connection without the terminating chunk (HTTP/1.1)
    /// or resets the stream (HTTP/2), like a network failure mid-stream.
    Abort,
}

/// The error of an aborted stream (never seen by clients: the connection just ends).
#[derive(Debug)]
pub struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stream aborted by fault injection")
    }
}

impl std::error::Error for Aborted {}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(b) | ResponseBody::Chunked(b) => {
                Poll::Ready(b.take().map(|b| Ok(Frame::data(b))))
            }
            ResponseBody::Stream(rx) => rx.poll_recv(cx).map(|o| {
                o.map(|c| match c {
                    Chunk::Data(b) => Ok(Frame::data(b)),
                    Chunk::Abort => Err(Aborted),
                })
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Empty | ResponseBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty | ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ResponseBody::Chunked(_) | ResponseBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// Per-request facts that shape every reply's headers.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Fresh `Audit-Id` (the real server generates a UUID per request).
    pub audit_id: String,
    /// `X-Kubernetes-Pf-Flowschema-Uid` / `-Prioritylevel-Uid` of the flow schema the request
    /// was classified into; `None` for requests rejected before priority and fairness (401).
    pub flow: Option<(String, String)>,
    /// `?pretty=true` or a curl/Wget/browser User-Agent: indent JSON.
    pub pretty: bool,
}

/// A reply before it becomes an `http::Response`.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: ResponseBody,
}

impl Reply {
    /// Replays a recorded response: its status, headers (with this request's Audit-Id and flow
    /// schema) and body.
    pub fn fixture(ctx: &Ctx, f: &Fixture) -> Reply {
        let headers = headers_like(ctx, f);
        let body = Bytes::from_static(f.body);
        let body = if f.status == 204 || f.status == 304 {
            ResponseBody::Empty
        } else if f.is_chunked() {
            ResponseBody::Chunked(Some(body))
        } else {
            ResponseBody::Full(Some(body))
        };
        Reply {
            status: f.status,
            headers,
            body,
        }
    }

    /// A generated body with the headers of a recorded response of the same type.
    pub fn with_template(ctx: &Ctx, template: &Fixture, status: u16, body: String) -> Reply {
        let body = if ctx.pretty && is_json(template) {
            indent(&body)
        } else {
            body
        };
        let len = body.len();
        let bytes = Bytes::from(body);
        Reply {
            status,
            headers: headers_like(ctx, template),
            body: if len > CHUNKING_THRESHOLD {
                ResponseBody::Chunked(Some(bytes))
            } else {
                ResponseBody::Full(Some(bytes))
            },
        }
    }

    /// A streamed reply with the headers of a recorded response: every buffer received from
    /// `rx` is written and flushed as one chunk; the response ends when the sender is dropped.
    pub fn stream(ctx: &Ctx, template: &Fixture, status: u16, rx: mpsc::Receiver<Chunk>) -> Reply {
        Reply {
            status,
            headers: headers_like(ctx, template),
            body: ResponseBody::Stream(rx),
        }
    }

    /// True when [`Reply::gzip`] compressed the body.
    pub fn is_gzipped(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-encoding") && v == "gzip")
    }

    /// Replaces (or appends) a header.
    pub fn set_header(&mut self, name: &str, value: &str) {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(h) => h.1 = value.to_string(),
            None => self.headers.push((name.to_string(), value.to_string())),
        }
    }

    /// Compresses a complete body larger than [`GZIP_THRESHOLD`] the way the API server's
    /// `deferredResponseWriter` does: gzip level 1, `Content-Encoding: gzip` and
    /// `Vary: Accept-Encoding` added (headers stay in Go's sorted order), and no length, so
    /// HTTP/1.1 sends it chunked. Streams are left alone. Returns true when it compressed.
    pub fn gzip(&mut self) -> bool {
        use std::io::Write;
        let body = match &self.body {
            ResponseBody::Full(Some(b)) | ResponseBody::Chunked(Some(b))
                if b.len() > GZIP_THRESHOLD =>
            {
                b
            }
            _ => return false,
        };
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 8),
            flate2::Compression::new(GZIP_LEVEL),
        );
        let compressed = match enc.write_all(body).and_then(|()| enc.finish()) {
            Ok(c) => c,
            // Writing to a Vec cannot fail; send the body as it is if it somehow does.
            Err(_) => return false,
        };
        self.body = ResponseBody::Chunked(Some(Bytes::from(compressed)));
        self.set_header("Content-Encoding", "gzip");
        self.headers.push(("Vary".into(), "Accept-Encoding".into()));
        self.headers.sort_by(|a, b| a.0.cmp(&b.0));
        true
    }

    /// Converts into a hyper response. Invalid header text (never produced by this crate) is
    /// skipped rather than failing the request.
    pub fn into_response(self) -> Response<ResponseBody> {
        let mut resp = Response::new(self.body);
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let h = resp.headers_mut();
        for (n, v) in self.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(n), HeaderValue::try_from(v)) {
                h.append(n, v);
            }
        }
        resp
    }
}

fn is_json(f: &Fixture) -> bool {
    f.header("content-type")
        .is_some_and(|t| t.starts_with("application/json"))
}

/// The recorded headers minus the ones hyper computes (`Date`, `Content-Length`,
/// `Transfer-Encoding`), with this request's Audit-Id and flow-schema identifiers.
fn headers_like(ctx: &Ctx, f: &Fixture) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, v) in &f.headers {
        let lower = n.to_ascii_lowercase();
        let value = match lower.as_str() {
            "date" | "content-length" | "transfer-encoding" => continue,
            "audit-id" => ctx.audit_id.clone(),
            "x-kubernetes-pf-flowschema-uid" => match &ctx.flow {
                Some((fs, _)) => fs.clone(),
                None => continue,
            },
            "x-kubernetes-pf-prioritylevel-uid" => match &ctx.flow {
                Some((_, pl)) => pl.clone(),
                None => continue,
            },
            _ => v.to_string(),
        };
        out.push((n.to_string(), value));
    }
    out
}

/// A `metav1.Status` failure body, fields in Go struct order, with the encoder's newline.
/// `details` is raw JSON (e.g. `{"name":"x","kind":"pods"}`) or `None` to omit it.
pub fn status_body(code: u16, reason: &str, message: &str, details: Option<&str>) -> String {
    let mut s = format!(
        "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Failure\",\"message\":{}",
        go_string(message)
    );
    if !reason.is_empty() {
        s.push_str(&format!(",\"reason\":{}", go_string(reason)));
    }
    if let Some(d) = details {
        s.push_str(&format!(",\"details\":{d}"));
    }
    s.push_str(&format!(",\"code\":{code}}}\n"));
    s
}

/// `StatusDetails` JSON: name, group, kind (all omitted when empty).
pub fn details(name: &str, group: &str, kind: &str) -> String {
    let mut parts = Vec::new();
    if !name.is_empty() {
        parts.push(format!("\"name\":{}", go_string(name)));
    }
    if !group.is_empty() {
        parts.push(format!("\"group\":{}", go_string(group)));
    }
    if !kind.is_empty() {
        parts.push(format!("\"kind\":{}", go_string(kind)));
    }
    format!("{{{}}}", parts.join(","))
}

/// Re-indents compact JSON the way the API server's pretty encoder (`json.MarshalIndent` with
/// two spaces, no trailing newline) does for `?pretty=true` and curl/Wget/browser user agents.
pub fn indent(compact: &str) -> String {
    let src = compact.trim_end_matches('\n').as_bytes();
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(b"  ");
        }
    };
    while i < src.len() {
        let c = src[i];
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                // Empty containers stay compact.
                if matches!(src.get(i + 1), Some(b'}') | Some(b']')) {
                    out.push(src[i + 1]);
                    i += 2;
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn status_body_matches_recorded_not_found() {
        let f = fixtures::get("error-404-missing-pod.http").unwrap();
        assert_eq!(
            status_body(
                404,
                "NotFound",
                "pods \"does-not-exist\" not found",
                Some(&details("does-not-exist", "", "pods"))
            ),
            f.body_str().unwrap()
        );
    }

    #[test]
    fn indent_matches_recorded_pretty_pod() {
        let compact = fixtures::get("pod-get.http").unwrap();
        let pretty = fixtures::get("pod-get-curl-useragent-pretty.http").unwrap();
        assert_eq!(
            indent(compact.body_str().unwrap()),
            pretty.body_str().unwrap()
        );
    }
}
