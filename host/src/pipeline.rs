//! The stages every guest request passes, whichever door it comes by
//! (`kubewasm:client/api.send` in [`crate::api`], `wasi:http/outgoing-handler` in
//! [`crate::http`]): limits on its size → sanity and RequestInfo → policy → credential
//! and the host's transport → audit → limits on its answer (`--max-response-bytes`,
//! `--max-streams`), with `--qps`/`--burst` paced for every request, refused ones too.
//!
//! A door turns what the guest sent into a [`GuestRequest`], starts its audit record
//! with [`PendingAudit::begin`], and then either hands the request to
//! [`Pipeline::answer`] or, for a refusal of its own (`wasi:http` naming another host),
//! to [`Pipeline::refuse`]. An answer becomes a [`MeteredBody`] by
//! [`Pipeline::open_body`]; a failure is audited by [`Pipeline::fail`]. Either way a
//! guest request gets exactly one audit record.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use kube::client::Body;

use crate::audit::{AuditLog, AuditRecord, FailureAudit};
use crate::body::{COALESCE, MeteredBody};
use crate::discovery::{CachedResponse, DiscoveryCache, MAX_CACHED_BODY};
use crate::limits::{
    HostMemory, LimitExceeded, Limits, RateLimiter, RefusalBudget, StreamSlot, StreamSlots,
};
use crate::policy::{Decision, Policy, RequestInfo};
use crate::reauth::Reauthenticated;
use crate::sanitize;
use crate::transport::{ErrorCode, HTTP2_STREAM_WINDOW, ResponseBody, Transport};

/// The shared state of one guest's requests: the connection, the policy, the audit log,
/// the limits and their counters. Both doors of a guest hold the same one, so a stream
/// opened through `wasi:http` counts against the `--max-streams` of `api.send` and one
/// `--qps` bucket paces both.
pub(crate) struct Pipeline {
    pub(crate) transport: Arc<Transport>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) audit: Option<AuditLog>,
    pub(crate) limits: Limits,
    pub(crate) discovery: Option<DiscoveryCache>,
    pub(crate) streams: StreamSlots,
    pub(crate) rate: Arc<RateLimiter>,
    /// The audit of requests that got no answer, repeats collapsed.
    pub(crate) failures: Option<FailureAudit>,
    /// Refusals so far, against `--max-refusals`.
    pub(crate) refusals: RefusalBudget,
    /// What the host holds for this guest, against `--max-host-memory`.
    pub(crate) memory: HostMemory,
}

/// A request as both doors hand it to the pipeline: relative to the API server.
pub(crate) struct GuestRequest {
    /// One of the methods the Kubernetes API uses, in uppercase.
    pub(crate) method: &'static str,
    /// Path and query, relative to the server's base URL (not yet checked).
    pub(crate) path_and_query: String,
    /// The headers the guest set (not yet checked).
    pub(crate) headers: Vec<(String, String)>,
    /// The whole body, if any (its size is checked against `--max-request-body-bytes`).
    pub(crate) body: Option<Bytes>,
}

/// A guest request's audit record while the host works on it, and when it arrived.
pub(crate) struct PendingAudit {
    pub(crate) record: AuditRecord,
    start: Instant,
}

impl PendingAudit {
    /// Starts the record with what is known before anything is checked (the method, as
    /// the verb until [`RequestInfo`] names it, and the path, or for `wasi:http` the URL
    /// when it names another host), so that even a request refused as unreadable is
    /// audited with what the guest sent.
    pub(crate) fn begin(method: &str, path: &str) -> Self {
        let start = Instant::now();
        // A path over `--max-path-bytes` is refused; its record keeps the start of it.
        const AUDITED_PATH: usize = 4096;
        let path = match path.char_indices().nth(AUDITED_PATH) {
            Some((cut, _)) => format!("{}... ({} bytes)", &path[..cut], path.len()),
            None => path.to_string(),
        };
        // Its time is written when the record is (`AuditRecord::finish`).
        let record = AuditRecord {
            verb: method.to_lowercase(),
            path,
            decision: "allow",
            ..AuditRecord::default()
        };
        Self { record, start }
    }
}

/// What answers a request: the server's response head and body, or the discovery cache's.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: ResponseBody,
}

/// An answer and what handing it to the guest needs: whether it is a stream meant to
/// last (exempt from `--max-response-bytes`), and the `--max-streams` slot it holds.
pub(crate) struct Reply {
    answer: Answer,
    streaming: bool,
    slot: StreamSlot,
}

/// A discovery GET the host may answer from its discovery cache, and whose answer it
/// keeps there. The key is path and `Accept`, since one URL answers in a different shape
/// (aggregated discovery or not) depending on `Accept`.
struct DiscoveryLookup {
    cache: DiscoveryCache,
    path: String,
    accept: String,
    /// The guest sent `Cache-Control: no-cache`: it wants the server's answer, which is
    /// then cached again.
    refresh: bool,
}

impl DiscoveryLookup {
    /// The cached answer, unless the guest asked for a fresh one.
    fn cached(&self) -> Option<Answer> {
        if self.refresh {
            return None;
        }
        let hit = self.cache.get(&self.path, &self.accept)?;
        Some(Answer {
            status: 200,
            headers: vec![("content-type".to_string(), hit.content_type)],
            body: Body::from(hit.body).boxed_unsync(),
        })
    }

    /// Reads the server's successful answer whole (discovery bodies are small, and
    /// [`MAX_CACHED_BODY`] bounds what is read), keeps a copy, and hands it on.
    async fn keep(&self, answer: Answer, server: &str) -> Result<Answer, ErrorCode> {
        let bytes = http_body_util::Limited::new(answer.body, MAX_CACHED_BODY)
            .collect()
            .await
            .map_err(|e| {
                ErrorCode::Connect(format!(
                    "reading the discovery response from {server} failed: {e}"
                ))
            })?
            .to_bytes();
        let content_type = header(&answer.headers, "content-type")
            .unwrap_or("application/json")
            .to_string();
        let response = CachedResponse {
            content_type,
            body: bytes.to_vec(),
        };
        self.cache.put(&self.path, &self.accept, &response);
        Ok(Answer {
            body: Body::from(response.body).boxed_unsync(),
            ..answer
        })
    }
}

impl Pipeline {
    /// The stages a guest request goes through before its answer is handed on, in order.
    /// Any of them may refuse it with an [`ErrorCode`]; the order decides which refusal
    /// a request with several faults gets, so it is kept as it is.
    pub(crate) async fn answer(
        &self,
        request: GuestRequest,
        record: &mut AuditRecord,
    ) -> Result<Reply, ErrorCode> {
        let checked = self
            .limits
            .check_request(
                &request.path_and_query,
                &request.headers,
                request.body.as_deref(),
            )
            .and_then(|()| {
                self.memory
                    .charge(request_bytes(&request), "the request being sent")
            })
            .map_err(ErrorCode::LimitExceeded)
            .and_then(|charge| Ok((self.authorize(&request, record)?, charge)));
        // The request's charge is given back when its answer's head has arrived.
        let (info, _request_charge) = match checked {
            Ok(checked) => checked,
            Err(refusal) => {
                self.pace_refusal().await;
                return Err(refusal);
            }
        };
        let streaming = info.verb == "watch"
            || (info.subresource == "log" && has_true_param(&request.path_and_query, "follow"));
        let discovery = self.discovery_lookup(&request);
        // Taken before anything is sent or read, so a guest over `--max-streams` costs
        // the server nothing; held by the body until the guest drops it.
        let mut slot = self.streams.acquire().map_err(ErrorCode::LimitExceeded)?;
        // What the host may buffer for the body while the guest leaves it unread: one
        // HTTP/2 stream window, the body's read-ahead and its pending audit record.
        // (With HTTP/2 off, hyper's HTTP/1.1 read buffer, at most 408 KiB, is less.)
        let buffered = u64::from(HTTP2_STREAM_WINDOW)
            + COALESCE as u64
            + (record.path.len() + record.reason.len() + AUDIT_RECORD_OVERHEAD) as u64;
        slot.hold(
            self.memory
                .charge(buffered, "a response body")
                .map_err(ErrorCode::LimitExceeded)?,
        );
        // A cache hit sends nothing, so it needs neither the header check nor a turn
        // at the rate limiter.
        let answer = match discovery.as_ref().and_then(DiscoveryLookup::cached) {
            Some(hit) => {
                record
                    .reason
                    .push_str("; answered from the discovery cache");
                hit
            }
            None => {
                let answer = self.dispatch(request, streaming, record).await?;
                match discovery.filter(|_| answer.status == 200) {
                    Some(lookup) => lookup.keep(answer, self.transport.server()).await?,
                    None => answer,
                }
            }
        };
        Ok(Reply {
            answer,
            streaming,
            slot,
        })
    }

    /// A refusal sends nothing, but it is not free: it takes its turn at
    /// `--qps`/`--burst` like a request that is sent, so a guest that keeps asking for
    /// what it may not have is slowed to the rate it may send at.
    async fn pace_refusal(&self) {
        self.rate.acquire().await;
    }

    /// Refuses a request before the shared stages see it (a door's own check, such as
    /// `wasi:http` naming a host other than the cluster): paced and audited as every
    /// refusal is. Returns the refusal.
    pub(crate) async fn refuse(&self, audit: PendingAudit, code: ErrorCode) -> ErrorCode {
        self.pace_refusal().await;
        self.fail(audit, code)
    }

    /// Reads the request as the API server will, refusing anything it could read
    /// differently, then lets the policy decide. The record takes what was parsed and the
    /// rule that allowed it, so an audit line says what was asked and why it was allowed.
    fn authorize(
        &self,
        request: &GuestRequest,
        record: &mut AuditRecord,
    ) -> Result<RequestInfo, ErrorCode> {
        let info = RequestInfo::parse(request.method, &request.path_and_query)
            .map_err(|refusal| ErrorCode::InvalidRequest(refusal.to_string()))?;
        record.verb = info.verb.clone();
        record.api_group = info.api_group.clone();
        record.resource = info.resource.clone();
        record.subresource = info.subresource.clone();
        record.namespace = info.namespace.clone();
        record.name = info.name.clone();
        match self.policy.decide(&info) {
            Decision::Allow { rule_text, .. } => record.reason = rule_text,
            Decision::Deny { reason, suggestion } => {
                return Err(ErrorCode::Denied(format!("{reason}\n{suggestion}")));
            }
        }
        Ok(info)
    }

    /// The discovery cache's view of the request, if the host caches discovery and this
    /// is a discovery GET.
    fn discovery_lookup(&self, request: &GuestRequest) -> Option<DiscoveryLookup> {
        let cache = self
            .discovery
            .clone()
            .filter(|_| DiscoveryCache::is_discovery(request.method, &request.path_and_query))?;
        Some(DiscoveryLookup {
            cache,
            path: request.path_and_query.clone(),
            accept: header(&request.headers, "accept")
                .unwrap_or_default()
                .to_string(),
            refresh: header(&request.headers, "cache-control")
                .is_some_and(|v| v.to_ascii_lowercase().contains("no-cache")),
        })
    }

    /// Sends the request to the server: its headers are checked here (the host owns
    /// credentials and connection headers), and it waits its turn at `--qps`/`--burst`.
    /// When the transport replayed it after a 401 with a refreshed credential (see
    /// [`crate::reauth`]), the replay is noted on the record rather than logged apart:
    /// one guest request, one record.
    async fn dispatch(
        &self,
        request: GuestRequest,
        streaming: bool,
        record: &mut AuditRecord,
    ) -> Result<Answer, ErrorCode> {
        let mut http_request = build_request(request)?;
        if streaming {
            // Kubernetes 1.37 gzips a watch one gzip member per event, and the transport's
            // decompression decodes only the first member (tower-http#737); kube-client
            // opts its watches out the same way. Streams are small per event anyway.
            http_request.headers_mut().insert(
                http::header::ACCEPT_ENCODING,
                http::HeaderValue::from_static("identity"),
            );
        }
        self.rate.acquire().await;
        let response = self.transport.send(http_request).await?;
        let (parts, body) = response.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        record.http_version = Some(version_name(parts.version));
        if parts.extensions.get::<Reauthenticated>().is_some() {
            record
                .reason
                .push_str("; sent again after 401 with a refreshed credential");
        }
        Ok(Answer {
            status: parts.status.as_u16(),
            headers,
            body,
        })
    }

    /// Ends a request that got no answer. A denied or unreadable request is audited as
    /// `deny` with the reason; one that was allowed but failed (a limit, the connection,
    /// TLS, a credential) keeps its allowing rule and gets the error. Identical failures
    /// share one audit record with a count ([`FailureAudit`]). A refusal (denied,
    /// invalid, over a limit) counts against `--max-refusals`, which the runner checks
    /// ([`Pipeline::refused_too_often`]). Returns the code, for the door to hand to the
    /// guest.
    pub(crate) fn fail(&self, audit: PendingAudit, code: ErrorCode) -> ErrorCode {
        if let Some(failures) = &self.failures {
            let PendingAudit { mut record, start } = audit;
            if matches!(code, ErrorCode::Denied(_) | ErrorCode::InvalidRequest(_)) {
                record.decision = "deny";
                record.reason = code.to_string();
            } else {
                record.error = Some(code.to_string());
            }
            record.finish(start.elapsed());
            failures.record(record);
        }
        if matches!(
            code,
            ErrorCode::Denied(_) | ErrorCode::InvalidRequest(_) | ErrorCode::LimitExceeded(_)
        ) {
            self.refusals.spend();
        }
        code
    }

    /// The error that stops the guest once it has been refused more than
    /// `--max-refusals` times, by either door.
    pub(crate) fn refused_too_often(&self) -> Result<(), LimitExceeded> {
        self.refusals.check()
    }

    /// Opens an answer's body for the guest: capped at `--max-response-bytes` unless it
    /// is a stream meant to last, holding the `--max-streams` slot until the guest drops
    /// it, and writing the audit record when it ends. Returns the status and headers
    /// with it.
    pub(crate) fn open_body(
        &self,
        reply: Reply,
        audit: PendingAudit,
    ) -> (u16, Vec<(String, String)>, MeteredBody) {
        let Reply {
            answer:
                Answer {
                    status,
                    headers,
                    body,
                },
            streaming,
            slot,
        } = reply;
        let PendingAudit { mut record, start } = audit;
        record.status = Some(status);
        let mut body = MeteredBody::new(body, self.transport.server())
            .max_bytes((!streaming).then_some(self.limits.max_response_bytes))
            .slot(slot);
        if let Some(log) = &self.audit {
            body = body.audit(log.clone(), record, start);
        }
        (status, headers, body)
    }
}

/// Bytes of an audit record beside its path and reason (its other fields, the map
/// entry), an upper bound.
const AUDIT_RECORD_OVERHEAD: usize = 512;

/// Bytes of a header beside its name and value in the host's copies (the list entry,
/// the header map's), an upper bound.
const HEADER_OVERHEAD: usize = 64;

/// What the host holds while it sends `request`: the guest's copy and the HTTP request
/// built from it (path, headers, body).
fn request_bytes(request: &GuestRequest) -> u64 {
    let headers: usize = request
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + HEADER_OVERHEAD)
        .sum();
    let body = request.body.as_ref().map_or(0, |b| b.len());
    (2 * request.path_and_query.len() + 2 * headers + body) as u64
}

/// Whether the query sets `name` to true (`name=true` or `name=1`), as the API server
/// reads booleans. A followed log, like a watch, is a stream meant to last and is not
/// capped by `--max-response-bytes`.
fn has_true_param(path_and_query: &str, name: &str) -> bool {
    let Some((_, query)) = path_and_query.split_once('?') else {
        return false;
    };
    // Decoded as the server decodes it: `foll%6Fw=true` is `follow=true`.
    form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key == name && matches!(value.as_ref(), "true" | "1"))
}

/// The value of header `name` (case-insensitive) in a guest's or server's header list.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An HTTP version as the audit log names it (`HTTP/2.0`), without formatting one per
/// request.
fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// Checks a guest request's headers and turns it into an HTTP request for the transport
/// (its path was checked by [`RequestInfo::parse`]).
fn build_request(request: GuestRequest) -> Result<Request<Body>, ErrorCode> {
    let mut builder = Request::builder()
        .method(request.method)
        .uri(request.path_and_query.as_str());
    for (name, value) in &request.headers {
        sanitize::check_header(name, value).map_err(ErrorCode::InvalidRequest)?;
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match request.body {
        Some(bytes) => Body::from(bytes),
        None => Body::empty(),
    };
    builder
        .body(body)
        .map_err(|e| ErrorCode::InvalidRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_versions_are_named_as_http_formats_them() {
        for version in [
            http::Version::HTTP_09,
            http::Version::HTTP_10,
            http::Version::HTTP_11,
            http::Version::HTTP_2,
            http::Version::HTTP_3,
        ] {
            assert_eq!(version_name(version), format!("{version:?}"));
        }
    }

    #[test]
    fn boolean_query_params_are_read_as_the_server_reads_them() {
        assert!(has_true_param(
            "/api/v1/namespaces/demo/pods/p/log?follow=true&container=c",
            "follow"
        ));
        assert!(has_true_param(
            "/api/v1/pods?labelSelector=a%3Db&watch=1",
            "watch"
        ));
        assert!(
            has_true_param("/api/v1/pods?w%61tch=true", "watch"),
            "keys are read percent-decoded"
        );
        assert!(!has_true_param("/api/v1/pods", "watch"));
        assert!(!has_true_param("/api/v1/pods?watch=false", "watch"));
        assert!(!has_true_param(
            "/api/v1/namespaces/demo/pods/p/log?follow=0",
            "follow"
        ));
        assert!(!has_true_param(
            "/api/v1/pods?fieldSelector=watch%3Dtrue",
            "watch"
        ));
    }
}
