//! Door 2: `wasi:http/outgoing-handler` (and `wasi:http/types`), mapped onto the cluster.
//!
//! A guest written with its language's HTTP client for WASI (`fetch` in a componentize-js
//! component, Rust's `wstd`, componentize-py's `poll_loop`) reaches the API server through
//! wasmtime-wasi-http, whose own client is turned off: its [`WasiHttpHooks::send_request`]
//! seam hands every request to the same pipeline (`pipeline.rs`) that `api.send` uses, with
//! the same policy, credential, transport, audit log and limits.
//!
//! What this door adds, before the shared stages:
//! - **Only the cluster.** `https://kubernetes.default.svc`,
//!   `https://kubernetes.default.svc.cluster.local` and `https://kubernetes.default`
//!   (port 443 or none), and the server URL the host is configured with (same scheme,
//!   host and port), all mean "the API server". Any other authority is refused with
//!   `HTTP-request-denied` and audited; nothing is sent and no name is looked up, since
//!   the host's transport only ever connects to its configured server. The path is
//!   relative to the server's base URL (a server URL with a path, such as a Rancher
//!   cluster's `/k8s/clusters/c-1`, is prefixed by the transport; a guest that names
//!   the configured server URL itself writes the prefix and it is taken off).
//! - **Methods**: the six the Kubernetes API uses; others are refused as invalid.
//! - **Bodies**: the guest writes its request body as a stream; the host reads it whole,
//!   up to `--max-request-body-bytes` (refused over it, naming the flag, before anything
//!   is sent), because the transport replays a request after a 401 with a refreshed
//!   credential and so needs the whole body, as `api.send` has it. A `content-length`
//!   the guest sets is checked against the limit at once and then dropped (wasmtime
//!   checks that the body matches it; the host frames the body itself). Response bodies
//!   stream: watches and followed logs arrive event by event.
//! - **Headers**: refused exactly as for `api.send` ([`crate::sanitize`]), `host`
//!   included: the clients this door is for never set it (`wstd` does not, and
//!   StarlingMonkey's `fetch` drops it as a forbidden request header, as the Fetch
//!   standard says), so a guest that does is trying something.
//! - **Redirects** are never followed: a 3xx is the guest's answer.
//! - **Refusals** are told on the host's stderr, one line per request with the
//!   reason and, for a policy denial, the rule that would allow it, since a
//!   `wasi:http` error code carries no text; the audit log records them as for
//!   `api.send`.
//!
//! Request options (timeouts) the guest sets are ignored: the host's transport has its
//! own, and a watch must not be cut by a between-bytes timeout.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types};
use wasmtime_wasi_http::{
    Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttp, WasiHttpCtx,
    WasiHttpCtxView, WasiHttpHooks,
};

use crate::api::{KubeCtxView, KubeView};
use crate::limits::format_bytes;
use crate::pipeline::{GuestRequest, PendingAudit, Pipeline};
use crate::transport::ErrorCode;

/// The names a guest in a pod uses for the API server (the `kubernetes` Service in
/// `default`), as client libraries build them from `KUBERNETES_SERVICE_HOST` or write
/// them out.
pub const CLUSTER_NAMES: [&str; 3] = [
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "kubernetes.default",
];

/// Adds `wasi:http/outgoing-handler` and `wasi:http/types` to a linker whose store data
/// implements [`KubeView`]; their requests go through the store's [`crate::KubeCtx`].
/// The linker must also have wasmtime-wasi's `wasi:io` and `wasi:clocks` (e.g.
/// `wasmtime_wasi::p2::add_to_linker_async`). A component that does not import
/// `wasi:http` is unaffected: instantiation resolves only what a component imports.
pub fn add_to_linker<T: KubeView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let options = wasmtime_wasi_http::p2::bindings::LinkOptions::default();
    outgoing_handler::add_to_linker::<T, WasiHttp>(linker, http_view::<T>)?;
    types::add_to_linker::<T, WasiHttp>(linker, &options.into(), http_view::<T>)?;
    Ok(())
}

fn http_view<T: KubeView>(state: &mut T) -> WasiHttpCtxView<'_> {
    let KubeCtxView { ctx, table } = state.kube();
    let door = &mut ctx.http;
    WasiHttpCtxView {
        ctx: &mut door.ctx,
        table,
        hooks: &mut door.hooks,
    }
}

/// A guest's `wasi:http` state: wasmtime-wasi-http's context and the hooks that send
/// through the pipeline.
pub(crate) struct HttpDoor {
    ctx: WasiHttpCtx,
    hooks: ClusterHooks,
}

impl HttpDoor {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Self {
        Self {
            ctx: WasiHttpCtx::new(),
            hooks: ClusterHooks {
                shared: Shared { pipeline },
            },
        }
    }
}

/// What a request's future needs once the guest's call has returned: it runs on its
/// own task, apart from the store.
#[derive(Clone)]
struct Shared {
    pipeline: Arc<Pipeline>,
}

/// The [`WasiHttpHooks`] of a kubewasm guest: no header is refused while the guest
/// builds a request (the pipeline refuses host-owned ones when it is sent, so that the
/// refusal is audited and explained), no `host` header is added, and sending is the
/// pipeline's.
struct ClusterHooks {
    shared: Shared,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for ClusterHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        // Also applied to response headers, which reach the guest as they do through
        // `api.send`.
        Arc::new(|_| false)
    }

    fn set_host_header(&mut self) -> bool {
        // The transport addresses the configured server itself.
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let shared = self.shared.clone();
        Box::new(async move {
            let response = shared.send(request).await?;
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// The configured server URL, as an authority a guest may name.
#[derive(Debug, PartialEq)]
struct Server {
    scheme: String,
    host: String,
    port: u16,
    /// The base path without a trailing `/` (`""` for none).
    prefix: String,
}

impl Server {
    fn parse(url: &str) -> Option<Self> {
        let uri: http::Uri = url.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?.to_ascii_lowercase();
        let port = uri.port_u16().or_else(|| default_port(&scheme))?;
        let prefix = uri.path().trim_end_matches('/').to_string();
        Some(Self {
            scheme,
            host,
            port,
            prefix,
        })
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

impl Shared {
    /// One `wasi:http` request through the pipeline; every refusal and failure is told
    /// on stderr and becomes the `wasi:http` error code nearest to it.
    async fn send(
        &self,
        request: http::Request<WasiBody>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let method = request.method().clone();
        let url = request.uri().to_string();
        let (parts, body) = request.into_parts();
        self.answer(parts, body).await.map_err(|code| {
            report(&method, &url, &code);
            to_wasi_error(&code)
        })
    }

    async fn answer(
        &self,
        parts: http::request::Parts,
        mut body: WasiBody,
    ) -> Result<http::Response<WasiBody>, ErrorCode> {
        let pipeline = &self.pipeline;
        let url = parts.uri.to_string();
        // Parsed per request rather than per guest: an embedder builds a context per
        // instantiation, and most guests never use this door.
        let configured = pipeline.transport.server();
        let server = Server::parse(configured);
        let path = match cluster_path(&parts.uri, server.as_ref(), configured) {
            Ok(path) => path,
            Err(code) => {
                let audit = PendingAudit::begin(parts.method.as_str(), &url);
                drain(body);
                return Err(pipeline.refuse(audit, code).await);
            }
        };
        let audit = PendingAudit::begin(parts.method.as_str(), &path);
        let Some(method) = kube_method(&parts.method) else {
            let code = ErrorCode::InvalidRequest(format!(
                "the Kubernetes API does not use the method {}: use GET, HEAD, POST, PUT, PATCH or DELETE",
                parts.method
            ));
            drain(body);
            return Err(pipeline.refuse(audit, code).await);
        };
        let mut headers = Vec::with_capacity(parts.headers.len());
        let mut declared_length = None;
        for (name, value) in &parts.headers {
            if name == http::header::CONTENT_LENGTH {
                declared_length = value.to_str().ok().and_then(|v| v.parse::<u64>().ok());
                continue;
            }
            match value.to_str() {
                Ok(value) => headers.push((name.as_str().to_string(), value.to_string())),
                Err(_) => {
                    let code = ErrorCode::InvalidRequest(format!(
                        "the {:?} header value is not valid text",
                        name.as_str()
                    ));
                    drain(body);
                    return Err(pipeline.refuse(audit, code).await);
                }
            }
        }
        let body = match self.read_body(&mut body, declared_length).await {
            Ok(read) => read,
            Err(code) => {
                drain(body);
                return Err(pipeline.refuse(audit, code).await);
            }
        };
        let request = GuestRequest {
            method,
            path_and_query: path,
            headers,
            body,
        };
        let mut audit = audit;
        let reply = match pipeline.answer(request, &mut audit.record).await {
            Ok(reply) => reply,
            Err(code) => return Err(pipeline.fail(audit, code)),
        };
        let (status, headers, body) = pipeline.open_body(reply, audit);
        let mut response = http::Response::builder().status(status);
        for (name, value) in &headers {
            response = response.header(name.as_str(), value.as_str());
        }
        let body = body.map_err(|code| to_wasi_error(&code)).boxed_unsync();
        response.body(body).map_err(|e| {
            ErrorCode::Internal(Some(format!(
                "the API server's response could not be handed to the guest (a bug in the host): {e}"
            )))
        })
    }

    /// Reads the guest's request body whole, refusing one over `--max-request-body-bytes`
    /// as soon as it is known to be (a declared `content-length` over it is refused
    /// before a byte is read). An empty body is no body, as for `api.send`.
    async fn read_body(
        &self,
        body: &mut WasiBody,
        declared_length: Option<u64>,
    ) -> Result<Option<Bytes>, ErrorCode> {
        let limit = self.pipeline.limits.max_request_body_bytes;
        let over = |size: String| {
            ErrorCode::LimitExceeded(format!(
                "the request's body is {size}, over the limit of {} (--max-request-body-bytes)",
                format_bytes(limit)
            ))
        };
        if let Some(length) = declared_length.filter(|&n| n > limit) {
            return Err(over(format!("{length} bytes")));
        }
        let mut bytes = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ErrorCode::InvalidRequest(format!(
                    "the guest's request body could not be read: {e}"
                ))
            })?;
            if let Ok(data) = frame.into_data() {
                if (bytes.len() + data.len()) as u64 > limit {
                    return Err(over(format!("more than {limit} bytes")));
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok((!bytes.is_empty()).then(|| bytes.freeze()))
    }
}

/// The request's path relative to the server's base URL, if its scheme and authority
/// name the cluster.
fn cluster_path(
    uri: &http::Uri,
    server: Option<&Server>,
    configured: &str,
) -> Result<String, ErrorCode> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
    let authority = uri.authority();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let port = uri.port_u16();
    let has_userinfo = authority.is_some_and(|a| a.as_str().contains('@'));
    if !has_userinfo {
        if scheme == "https"
            && CLUSTER_NAMES.contains(&host.as_str())
            && port.is_none_or(|p| p == 443)
        {
            return Ok(path.to_string());
        }
        if let Some(server) = server
            && scheme == server.scheme
            && host == server.host
            && port.or_else(|| default_port(&scheme)) == Some(server.port)
        {
            if server.prefix.is_empty() {
                return Ok(path.to_string());
            }
            if let Some(rest) = path.strip_prefix(&server.prefix)
                && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            {
                return Ok(match rest {
                    "" => "/".to_string(),
                    rest if rest.starts_with('?') => format!("/{rest}"),
                    rest => rest.to_string(),
                });
            }
        }
    }
    let named = authority.map_or("no host".to_string(), |a| format!("{scheme}://{a}"));
    let configured = configured.trim_end_matches('/');
    Err(ErrorCode::Denied(format!(
        "{named} is not the cluster: a guest may only reach the API server, as https://kubernetes.default.svc or {configured}; nothing was sent"
    )))
}

/// Reads and discards the rest of a refused request's body in the background, so that
/// a guest writing it (as `wstd` and `fetch` do while they wait for the response) sees
/// the refusal rather than a body stream closed under it. It ends when the guest
/// finishes or drops the body.
fn drain(mut body: WasiBody) {
    tokio::spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
}

/// The method as the pipeline names it, if the Kubernetes API uses it.
fn kube_method(method: &http::Method) -> Option<&'static str> {
    Some(match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        _ => return None,
    })
}

/// Tells a refused or failed request on the host's stderr: a `wasi:http` error code has
/// no room for the reason, and a guest's `fetch` would show only "request denied".
fn report(method: &http::Method, url: &str, code: &ErrorCode) {
    // A policy denial's text starts with `denied:` and carries the rule, as `api.send`'s.
    eprintln!("kubewasm: wasi:http {method} {url}: {code}");
}

/// The `wasi:http` error code nearest to the host's: a refusal by the host is
/// `HTTP-request-denied`, a limit on the request's size the matching size error.
fn to_wasi_error(code: &ErrorCode) -> HttpError {
    match code {
        ErrorCode::Denied(_) | ErrorCode::InvalidRequest(_) => HttpError::HttpRequestDenied,
        ErrorCode::LimitExceeded(text) if text.contains("--max-request-body-bytes") => {
            HttpError::HttpRequestBodySize(None)
        }
        ErrorCode::LimitExceeded(text) if text.contains("--max-path-bytes") => {
            HttpError::HttpRequestUriTooLong
        }
        ErrorCode::LimitExceeded(text) if text.contains("--max-request-header") => {
            HttpError::HttpRequestHeaderSectionSize(None)
        }
        ErrorCode::LimitExceeded(text) if text.contains("--max-response-bytes") => {
            HttpError::HttpResponseBodySize(None)
        }
        ErrorCode::LimitExceeded(_) => HttpError::ConnectionLimitReached,
        ErrorCode::Connect(_) => HttpError::ConnectionTerminated,
        ErrorCode::Tls(_) => HttpError::TlsCertificateError,
        ErrorCode::Timeout => HttpError::ConnectionTimeout,
        ErrorCode::Credential(text) => HttpError::InternalError(Some(text.clone())),
        ErrorCode::Internal(text) => HttpError::InternalError(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_for(url: &str, server: &str) -> Result<String, ErrorCode> {
        cluster_path(
            &url.parse().unwrap(),
            Server::parse(server).as_ref(),
            server,
        )
    }

    #[test]
    fn allows_the_in_pod_names_of_the_cluster_over_https() {
        let server = "https://127.0.0.1:6443";
        for url in [
            "https://kubernetes.default.svc/api/v1/pods?limit=5",
            "https://kubernetes.default.svc.cluster.local/api/v1/pods?limit=5",
            "https://kubernetes.default:443/api/v1/pods?limit=5",
            "https://KUBERNETES.default.svc/api/v1/pods?limit=5",
        ] {
            assert_eq!(
                path_for(url, server).unwrap(),
                "/api/v1/pods?limit=5",
                "{url}"
            );
        }
        assert_eq!(
            path_for("https://kubernetes.default.svc", server).unwrap(),
            "/"
        );
    }

    #[test]
    fn allows_the_configured_server_url() {
        assert_eq!(
            path_for("https://127.0.0.1:6443/version", "https://127.0.0.1:6443").unwrap(),
            "/version"
        );
        assert_eq!(
            path_for("http://127.0.0.1:8001/api", "http://127.0.0.1:8001").unwrap(),
            "/api"
        );
        assert_eq!(
            path_for("https://10.96.0.1/api", "https://10.96.0.1:443").unwrap(),
            "/api"
        );
    }

    #[test]
    fn takes_the_server_path_prefix_off_a_url_that_names_the_server() {
        let server = "https://rancher.example/k8s/clusters/c-1";
        assert_eq!(
            path_for(
                "https://rancher.example/k8s/clusters/c-1/api/v1/pods",
                server
            )
            .unwrap(),
            "/api/v1/pods"
        );
        // The in-pod names are relative to the base URL: the transport adds the prefix.
        assert_eq!(
            path_for("https://kubernetes.default.svc/api/v1/pods", server).unwrap(),
            "/api/v1/pods"
        );
        // Elsewhere on that host is not the cluster.
        assert!(path_for("https://rancher.example/v3/settings", server).is_err());
        assert!(path_for("https://rancher.example/k8s/clusters/c-10/api", server).is_err());
    }

    #[test]
    fn rejects_every_other_authority() {
        let server = "https://127.0.0.1:6443";
        for url in [
            "https://example.com/api/v1/pods",
            "https://kubernetes.default.svc.evil.example/api",
            "http://kubernetes.default.svc/api",
            "https://kubernetes.default.svc:8443/api",
            "https://127.0.0.1:6444/api",
            "http://127.0.0.1:6443/api",
            "https://localhost:6443/api",
            "https://user:pw@kubernetes.default.svc/api",
        ] {
            let err = path_for(url, server).unwrap_err();
            assert!(
                matches!(&err, ErrorCode::Denied(text) if text.contains("not the cluster")),
                "{url}: {err:?}"
            );
        }
    }

    #[test]
    fn refusals_map_to_wasi_http_error_codes() {
        assert!(matches!(
            to_wasi_error(&ErrorCode::Denied("x".into())),
            HttpError::HttpRequestDenied
        ));
        assert!(matches!(
            to_wasi_error(&ErrorCode::InvalidRequest("x".into())),
            HttpError::HttpRequestDenied
        ));
        assert!(matches!(
            to_wasi_error(&ErrorCode::LimitExceeded(
                "the request's body is 5 bytes, over the limit of 4 bytes (--max-request-body-bytes)".into()
            )),
            HttpError::HttpRequestBodySize(None)
        ));
    }

    #[test]
    fn server_urls_parse_with_default_ports_and_prefixes() {
        assert_eq!(
            Server::parse("https://10.96.0.1"),
            Some(Server {
                scheme: "https".into(),
                host: "10.96.0.1".into(),
                port: 443,
                prefix: String::new(),
            })
        );
        let rancher = Server::parse("https://Rancher.example:8443/k8s/clusters/c-1/").unwrap();
        assert_eq!(rancher.host, "rancher.example");
        assert_eq!(rancher.port, 8443);
        assert_eq!(rancher.prefix, "/k8s/clusters/c-1");
        assert_eq!(Server::parse("http://127.0.0.1:8001").unwrap().port, 8001);
    }
}
