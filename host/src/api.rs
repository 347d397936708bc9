//! The host side of the `kubewasm:client` interfaces, in wasmtime-wasi's style: a built
//! context ([`KubeCtx`]), a view trait that borrows it out of the store ([`KubeView`]),
//! and [`add_to_linker`] to wire both interfaces into an embedder's `Linker`.

use std::sync::Arc;
use std::time::Instant;

use http::Request;
use http_body_util::BodyExt;
use kube::client::Body;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi_io::streams::{DynInputStream, Error as StreamErrorResource};

use crate::audit::{AuditLog, AuditRecord, now_rfc3339};
use crate::bindings::{api, credentials as wit_credentials};
use crate::body::BodyStream;
use crate::credentials::{AuthKind, Identity, Source};
use crate::discovery::{CachedResponse, DiscoveryCache, MAX_CACHED_BODY};
use crate::limits::{Limits, RateLimiter, StreamSlot, StreamSlots};
use crate::policy::{Decision, Policy, RequestInfo};
use crate::reauth::Reauthenticated;
use crate::sanitize;
use crate::transport::{ErrorCode, Transport};

/// Builds a [`KubeCtx`]. Every setting has a safe default, stated on its method.
pub struct KubeCtxBuilder {
    identity: Identity,
    transport: Arc<Transport>,
    policy: Arc<Policy>,
    audit: Option<AuditLog>,
    limits: Limits,
    discovery: Option<DiscoveryCache>,
    rate: Option<Arc<RateLimiter>>,
}

impl KubeCtxBuilder {
    /// Requests go through `transport`; `credentials.describe` answers `identity`.
    pub fn new(identity: Identity, transport: Arc<Transport>) -> Self {
        Self {
            identity,
            transport,
            policy: Arc::new(Policy::default_read_only()),
            audit: None,
            limits: Limits::default(),
            discovery: None,
            rate: None,
        }
    }

    /// Paces requests with `rate` instead of a bucket of this context's own, so that
    /// several guests (one per MCP tool call, say) share one `--qps`/`--burst` budget. By
    /// default each built context gets a full bucket made from [`Limits::qps`] and
    /// [`Limits::burst`].
    pub fn rate_limiter(&mut self, rate: Arc<RateLimiter>) -> &mut Self {
        self.rate = Some(rate);
        self
    }

    /// Answers discovery GETs from `cache` (see [`crate::discovery`]). By default
    /// discovery is not cached.
    pub fn discovery_cache(&mut self, cache: DiscoveryCache) -> &mut Self {
        self.discovery = Some(cache);
        self
    }

    /// Decides every request with `policy`. By default [`Policy::default_read_only`]:
    /// get/list/watch on everything but secrets (and exec, attach, port-forward, proxy),
    /// plus discovery and health URLs.
    pub fn policy(&mut self, policy: Arc<Policy>) -> &mut Self {
        self.policy = policy;
        self
    }

    /// Writes one audit line per request to `audit`. By default nothing is audited.
    pub fn audit(&mut self, audit: AuditLog) -> &mut Self {
        self.audit = Some(audit);
        self
    }

    /// Applies `limits` (response size, concurrent streams, request rate). By default
    /// [`Limits::default`].
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Builds the context.
    pub fn build(&mut self) -> KubeCtx {
        KubeCtx {
            identity: self.identity.clone(),
            transport: self.transport.clone(),
            policy: self.policy.clone(),
            audit: self.audit.clone(),
            discovery: self.discovery.clone(),
            streams: StreamSlots::new(self.limits.max_streams),
            rate: self
                .rate
                .clone()
                .unwrap_or_else(|| Arc::new(RateLimiter::new(self.limits.qps, self.limits.burst))),
            limits: self.limits.clone(),
        }
    }
}

/// Per-guest state behind the `kubewasm:client` interfaces: who the guest acts as, the
/// connection its requests go through, and what it may do.
pub struct KubeCtx {
    identity: Identity,
    transport: Arc<Transport>,
    policy: Arc<Policy>,
    audit: Option<AuditLog>,
    limits: Limits,
    discovery: Option<DiscoveryCache>,
    streams: StreamSlots,
    rate: Arc<RateLimiter>,
}

impl KubeCtx {
    /// A builder with the safe defaults.
    pub fn builder(identity: Identity, transport: Arc<Transport>) -> KubeCtxBuilder {
        KubeCtxBuilder::new(identity, transport)
    }

    /// The limits this context was built with (the runner enforces the guest-wide ones).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// A borrow of a store's [`KubeCtx`] and its resource table.
pub struct KubeCtxView<'a> {
    /// The guest's kubewasm context.
    pub ctx: &'a mut KubeCtx,
    /// The store's resource table (shared with wasmtime-wasi, which owns the streams).
    pub table: &'a mut ResourceTable,
}

/// Implemented by a store's data type to lend out its [`KubeCtx`].
pub trait KubeView: Send {
    /// Borrows the kubewasm context and the resource table.
    fn kube(&mut self) -> KubeCtxView<'_>;
}

struct HasKube;

impl HasData for HasKube {
    type Data<'a> = KubeCtxView<'a>;
}

/// Adds the `kubewasm:client/credentials` and `kubewasm:client/api` interfaces to a
/// linker whose store data implements [`KubeView`]. The linker must also have
/// wasmtime-wasi's `wasi:io` (e.g. `wasmtime_wasi::p2::add_to_linker_async`), since
/// response bodies are `wasi:io` streams; the engine must have async support.
pub fn add_to_linker<T: KubeView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    api::add_to_linker::<T, HasKube>(linker, T::kube)?;
    wit_credentials::add_to_linker::<T, HasKube>(linker, T::kube)?;
    Ok(())
}

impl wit_credentials::Host for KubeCtxView<'_> {
    fn describe(&mut self) -> wasmtime::Result<wit_credentials::Identity> {
        let id = &self.ctx.identity;
        Ok(wit_credentials::Identity {
            source: match id.source {
                Source::Kubeconfig => wit_credentials::Source::Kubeconfig,
                Source::InCluster => wit_credentials::Source::InCluster,
                Source::Proxy => wit_credentials::Source::Proxy,
                Source::Anonymous => wit_credentials::Source::Anonymous,
            },
            auth: match id.auth {
                AuthKind::None => wit_credentials::AuthKind::None,
                AuthKind::BearerToken => wit_credentials::AuthKind::BearerToken,
                AuthKind::ClientCertificate => wit_credentials::AuthKind::ClientCertificate,
                AuthKind::ExecPlugin => wit_credentials::AuthKind::ExecPlugin,
                AuthKind::Basic => wit_credentials::AuthKind::Basic,
            },
            server: id.server.clone(),
            namespace: id.namespace.clone(),
            context: id.context.clone(),
            user: id.user.clone(),
        })
    }
}

impl api::Host for KubeCtxView<'_> {
    /// One guest request, as a pipeline: [`KubeCtx::answer`] runs the stages that may
    /// refuse it, each with `?`, so that every refusal meets in one place,
    /// [`KubeCtx::fail`], which audits it; an answer goes to the guest by
    /// [`KubeCtxView::respond`], whose stream audits it when it ends. Either way the
    /// guest request gets exactly one audit record.
    async fn send(
        &mut self,
        request: api::Request,
    ) -> wasmtime::Result<Result<api::Response, api::ErrorCode>> {
        let mut audit = PendingAudit::begin(&request);
        match self.ctx.answer(request, &mut audit.record).await {
            Ok(reply) => self.respond(reply, audit).map(Ok),
            Err(code) => Ok(Err(self.ctx.fail(audit, code))),
        }
    }

    fn body_error(
        &mut self,
        err: Resource<StreamErrorResource>,
    ) -> wasmtime::Result<Option<api::ErrorCode>> {
        let err = self.table.get(&err)?;
        Ok(err.downcast_ref::<ErrorCode>().cloned().map(Into::into))
    }
}

/// A guest request's audit record while the host works on it, and when it arrived.
struct PendingAudit {
    record: AuditRecord,
    start: Instant,
}

impl PendingAudit {
    /// Starts the record with what is known before anything is checked (the method, as
    /// the verb until [`RequestInfo`] names it, and the path), so that even a request
    /// refused as unreadable is audited with what the guest sent.
    fn begin(request: &api::Request) -> Self {
        let start = Instant::now();
        // A path over `--max-path-bytes` is refused; its record keeps the start of it.
        const AUDITED_PATH: usize = 4096;
        let path = &request.path_and_query;
        let path = match path.char_indices().nth(AUDITED_PATH) {
            Some((cut, _)) => format!("{}... ({} bytes)", &path[..cut], path.len()),
            None => path.clone(),
        };
        let record = AuditRecord {
            time: now_rfc3339(),
            verb: method_name(request.method).to_lowercase(),
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
    body: Body,
}

/// An answer and what handing it to the guest needs: whether it is a stream meant to
/// last (exempt from `--max-response-bytes`), and the `--max-streams` slot it holds.
struct Reply {
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
            body: Body::from(hit.body),
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
            body: Body::from(response.body),
            ..answer
        })
    }
}

impl KubeCtx {
    /// The stages a guest request goes through before its answer is handed on, in order.
    /// Any of them may refuse it with an [`ErrorCode`]; the order decides which refusal
    /// a request with several faults gets, so it is kept as it is.
    async fn answer(
        &self,
        request: api::Request,
        record: &mut AuditRecord,
    ) -> Result<Reply, ErrorCode> {
        let checked = self
            .limits
            .check_request(
                &request.path_and_query,
                &request.headers,
                request.body.as_deref(),
            )
            .map_err(ErrorCode::LimitExceeded)
            .and_then(|()| self.authorize(&request, record));
        let info = match checked {
            Ok(info) => info,
            Err(refusal) => {
                // A refusal sends nothing, but it is not free: it takes its turn at
                // `--qps`/`--burst` like a request that is sent, so a guest that keeps
                // asking for what it may not have is slowed to the rate it may send at.
                self.rate.acquire().await;
                return Err(refusal);
            }
        };
        let streaming = info.verb == "watch"
            || (info.subresource == "log" && has_true_param(&request.path_and_query, "follow"));
        let discovery = self.discovery_lookup(&request);
        // Taken before anything is sent or read, so a guest over `--max-streams` costs
        // the server nothing; held by the body until the guest drops it.
        let slot = self.streams.acquire().map_err(ErrorCode::LimitExceeded)?;
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

    /// Reads the request as the API server will, refusing anything it could read
    /// differently, then lets the policy decide. The record takes what was parsed and the
    /// rule that allowed it, so an audit line says what was asked and why it was allowed.
    fn authorize(
        &self,
        request: &api::Request,
        record: &mut AuditRecord,
    ) -> Result<RequestInfo, ErrorCode> {
        let info = RequestInfo::parse(method_name(request.method), &request.path_and_query)
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
    fn discovery_lookup(&self, request: &api::Request) -> Option<DiscoveryLookup> {
        let cache = self.discovery.clone().filter(|_| {
            DiscoveryCache::is_discovery(method_name(request.method), &request.path_and_query)
        })?;
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
        request: api::Request,
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
        record.http_version = Some(format!("{:?}", parts.version));
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
    /// TLS, a credential) keeps its allowing rule and gets the error. Returns what the
    /// guest sees.
    fn fail(&self, audit: PendingAudit, code: ErrorCode) -> api::ErrorCode {
        if let Some(log) = &self.audit {
            let PendingAudit { mut record, start } = audit;
            if matches!(code, ErrorCode::Denied(_) | ErrorCode::InvalidRequest(_)) {
                record.decision = "deny";
                record.reason = code.to_string();
            } else {
                record.error = Some(code.to_string());
            }
            record.finish(start.elapsed());
            log.record(&record);
        }
        code.into()
    }
}

impl KubeCtxView<'_> {
    /// Hands an answer to the guest as a `wasi:io` stream. The stream caps the body at
    /// `--max-response-bytes` unless it is meant to last, holds the `--max-streams` slot
    /// until the guest drops it, and writes the audit record when it ends: only then are
    /// the byte count and duration known.
    fn respond(&mut self, reply: Reply, audit: PendingAudit) -> wasmtime::Result<api::Response> {
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
        let mut stream = BodyStream::new(body, self.ctx.transport.server())
            .max_bytes((!streaming).then_some(self.ctx.limits.max_response_bytes))
            .slot(slot);
        if let Some(log) = &self.ctx.audit {
            stream = stream.audit(log.clone(), record, start);
        }
        let stream: DynInputStream = Box::new(stream);
        let body = self.table.push(stream)?;
        Ok(api::Response {
            status,
            headers,
            body,
        })
    }
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

fn method_name(method: api::Method) -> &'static str {
    match method {
        api::Method::Get => "GET",
        api::Method::Head => "HEAD",
        api::Method::Post => "POST",
        api::Method::Put => "PUT",
        api::Method::Patch => "PATCH",
        api::Method::Delete => "DELETE",
    }
}

/// Checks a guest request's headers and turns it into an HTTP request for the transport
/// (its path was checked by [`RequestInfo::parse`]).
fn build_request(request: api::Request) -> Result<Request<Body>, ErrorCode> {
    let mut builder = Request::builder()
        .method(method_name(request.method))
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

impl From<ErrorCode> for api::ErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Denied(s) => api::ErrorCode::Denied(s),
            ErrorCode::InvalidRequest(s) => api::ErrorCode::InvalidRequest(s),
            ErrorCode::Connect(s) => api::ErrorCode::Connect(s),
            ErrorCode::Tls(s) => api::ErrorCode::Tls(s),
            ErrorCode::Timeout => api::ErrorCode::Timeout,
            ErrorCode::LimitExceeded(s) => api::ErrorCode::LimitExceeded(s),
            ErrorCode::Credential(s) => api::ErrorCode::Credential(s),
            ErrorCode::Internal(s) => api::ErrorCode::Internal(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
