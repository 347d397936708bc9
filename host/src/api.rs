//! Door 1, the host side of the `kubewasm:client` interfaces, in wasmtime-wasi's style:
//! a built context ([`KubeCtx`]), a view trait that borrows it out of the store
//! ([`KubeView`]), and [`add_to_linker`] to wire both interfaces into an embedder's
//! `Linker`. The same context serves door 2, `wasi:http` ([`crate::http`]); both send
//! every request through one pipeline (`pipeline.rs`).

use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi_io::streams::{DynInputStream, Error as StreamErrorResource};

use crate::audit::{AuditLog, FailureAudit};
use crate::bindings::{api, credentials as wit_credentials};
use crate::body::BodyStream;
use crate::credentials::{AuthKind, Identity, Source};
use crate::discovery::DiscoveryCache;
use crate::http::HttpDoor;
use crate::limits::{HostMemory, LimitExceeded, Limits, RateLimiter, RefusalBudget, StreamSlots};
use crate::pipeline::{GuestRequest, PendingAudit, Pipeline};
use crate::policy::Policy;
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

/// [`Policy::default_read_only`], built once: an embedder that builds a context per
/// call (and sets no policy) would otherwise build the policy per call too.
fn default_policy() -> Arc<Policy> {
    static POLICY: std::sync::LazyLock<Arc<Policy>> =
        std::sync::LazyLock::new(|| Arc::new(Policy::default_read_only()));
    POLICY.clone()
}

impl KubeCtxBuilder {
    /// Requests go through `transport`; `credentials.describe` answers `identity`.
    pub fn new(identity: Identity, transport: Arc<Transport>) -> Self {
        Self {
            identity,
            transport,
            policy: default_policy(),
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
        let pipeline = Arc::new(Pipeline {
            transport: self.transport.clone(),
            policy: self.policy.clone(),
            audit: self.audit.clone(),
            discovery: self.discovery.clone(),
            streams: StreamSlots::new(self.limits.max_streams),
            failures: self.audit.clone().map(FailureAudit::new),
            refusals: RefusalBudget::new(self.limits.max_refusals),
            memory: HostMemory::new(self.limits.max_host_memory),
            rate: self
                .rate
                .clone()
                .unwrap_or_else(|| Arc::new(RateLimiter::new(self.limits.qps, self.limits.burst))),
            limits: self.limits.clone(),
        });
        KubeCtx {
            identity: self.identity.clone(),
            http: HttpDoor::new(pipeline.clone()),
            pipeline,
        }
    }
}

/// Per-guest state behind the `kubewasm:client` interfaces and `wasi:http`: who the
/// guest acts as, the connection its requests go through, and what it may do.
pub struct KubeCtx {
    identity: Identity,
    pipeline: Arc<Pipeline>,
    /// `wasi:http`'s per-guest state, whose requests go through `pipeline` too.
    pub(crate) http: HttpDoor,
}

impl KubeCtx {
    /// A builder with the safe defaults.
    pub fn builder(identity: Identity, transport: Arc<Transport>) -> KubeCtxBuilder {
        KubeCtxBuilder::new(identity, transport)
    }

    /// The limits this context was built with (the runner enforces the guest-wide ones).
    pub fn limits(&self) -> &Limits {
        &self.pipeline.limits
    }

    /// The error that stops the guest once the host has refused more of its requests
    /// than `--max-refusals` allows. The runner checks it as it checks the CPU limit; a
    /// refusal through `api.send` also stops the guest at once.
    pub fn refused_too_often(&self) -> Result<(), LimitExceeded> {
        self.pipeline.refused_too_often()
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

/// Adds the `kubewasm:client/credentials` and `kubewasm:client/api` interfaces (and
/// only those: [`crate::add_to_linker`] adds `wasi:http` too) to a linker whose store
/// data implements [`KubeView`]. The linker must also have wasmtime-wasi's `wasi:io`
/// (e.g. `wasmtime_wasi::p2::add_to_linker_async`), since response bodies are `wasi:io`
/// streams; the engine must have async support.
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
    /// One guest request, through the pipeline (`pipeline.rs`): its stages may refuse it, and
    /// every refusal is audited by `Pipeline::fail`; an answer goes to the guest as a
    /// `wasi:io` stream that audits it when it ends. Either way the guest request gets
    /// exactly one audit record.
    async fn send(
        &mut self,
        request: api::Request,
    ) -> wasmtime::Result<Result<api::Response, api::ErrorCode>> {
        let method = method_name(request.method);
        let mut audit = PendingAudit::begin(method, &request.path_and_query);
        let request = GuestRequest {
            method,
            path_and_query: request.path_and_query,
            headers: request.headers,
            body: request.body.map(Bytes::from),
        };
        let pipeline = self.ctx.pipeline.clone();
        match pipeline.answer(request, &mut audit.record).await {
            Ok(reply) => {
                let (status, headers, body) = pipeline.open_body(reply, audit);
                let stream: DynInputStream = Box::new(BodyStream::new(body));
                let body = self.table.push(stream)?;
                Ok(Ok(api::Response {
                    status,
                    headers,
                    body,
                }))
            }
            Err(code) => {
                let code = pipeline.fail(audit, code);
                pipeline.refused_too_often()?;
                Ok(Err(code.into()))
            }
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
