//! The host side of the `kubewasm:client` interfaces, in wasmtime-wasi's style: a built
//! context ([`KubeCtx`]), a view trait that borrows it out of the store ([`KubeView`]),
//! and [`add_to_linker`] to wire both interfaces into an embedder's `Linker`.

use std::sync::Arc;

use http::Request;
use kube::client::Body;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi_io::streams::{DynInputStream, Error as StreamErrorResource};

use crate::bindings::{api, credentials as wit_credentials};
use crate::body::BodyStream;
use crate::credentials::{AuthKind, Identity, Source};
use crate::sanitize;
use crate::transport::{ErrorCode, Transport};

/// Per-guest state behind the `kubewasm:client` interfaces: who the guest acts as and
/// the connection its requests go through.
pub struct KubeCtx {
    identity: Identity,
    transport: Arc<Transport>,
}

impl KubeCtx {
    /// A context whose requests go through `transport` and whose `credentials.describe`
    /// answers `identity`.
    pub fn new(identity: Identity, transport: Arc<Transport>) -> Self {
        Self {
            identity,
            transport,
        }
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
    async fn send(
        &mut self,
        request: api::Request,
    ) -> wasmtime::Result<Result<api::Response, api::ErrorCode>> {
        let http_request = match build_request(request) {
            Ok(r) => r,
            Err(code) => return Ok(Err(code.into())),
        };
        let transport = self.ctx.transport.clone();
        let response = match transport.send(http_request).await {
            Ok(r) => r,
            Err(code) => return Ok(Err(code.into())),
        };
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
        let stream: DynInputStream = Box::new(BodyStream::new(body, transport.server()));
        let body = self.table.push(stream)?;
        Ok(Ok(api::Response {
            status: parts.status.as_u16(),
            headers,
            body,
        }))
    }

    fn body_error(
        &mut self,
        err: Resource<StreamErrorResource>,
    ) -> wasmtime::Result<Option<api::ErrorCode>> {
        let err = self.table.get(&err)?;
        Ok(err.downcast_ref::<ErrorCode>().cloned().map(Into::into))
    }
}

/// Checks a guest request and turns it into an HTTP request for the transport.
fn build_request(request: api::Request) -> Result<Request<Body>, ErrorCode> {
    sanitize::check_path_and_query(&request.path_and_query).map_err(ErrorCode::InvalidRequest)?;
    let method = match request.method {
        api::Method::Get => http::Method::GET,
        api::Method::Head => http::Method::HEAD,
        api::Method::Post => http::Method::POST,
        api::Method::Put => http::Method::PUT,
        api::Method::Patch => http::Method::PATCH,
        api::Method::Delete => http::Method::DELETE,
    };
    let mut builder = Request::builder()
        .method(method)
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
