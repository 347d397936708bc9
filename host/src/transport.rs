//! The host's connection to the API server.
//!
//! kube-client provides the pieces: the rustls configuration (TLS verified against the
//! cluster CA, client certificates), the layer that adds the credential to each request
//! (bearer token, token file re-read on rotation, exec plugin), the base-URI layer. This
//! module assembles them over hyper's pooled client with HTTP/2 offered by ALPN: kube's own
//! `Client` speaks only HTTP/1.1 (kube#1923), while client-go uses h2, which lets many
//! watches and log streams share one connection (`DISABLE_HTTP2`, client-go's switch, turns
//! it off: [`TransportOptions`]). Requests go through the layers directly, without
//! kube's `Client`, whose buffer task would add two task switches to each. The auth layer
//! is wrapped by [`crate::reauth`], so that a 401 refreshes a token file or exec plugin
//! credential and replays the request, as client-go refreshes. Nothing here follows
//! redirects, so the credential cannot be sent to another host.
//!
//! Failures become the WIT `error-code` with messages a person can act on: an unknown CA
//! says which server and which CA, not a rustls enum.
//!
//! A session dials the server as soon as it has read the credential
//! ([`Transport::preconnect`], called by `Session::open`): the TCP connect and TLS
//! handshake then overlap making the engine and loading the guest instead of following
//! the guest's first request. Only a connection is made early; no request, so no credential
//! goes out before the guest asks and the policy allows.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::connect::HttpConnector;
use kube::client::Body;
use tower::BoxError;
use tower::util::BoxCloneSyncService;

use crate::credentials::Credentials;
use crate::reauth::{ReauthLayer, RefreshError, describe_credential_error};

/// Why a request got no response. Mirrors the WIT `api.error-code` variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorCode {
    /// The host's policy refused the request.
    #[error("{0}")]
    Denied(String),
    /// The request is malformed or tries something never allowed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No connection to the API server.
    #[error("{0}")]
    Connect(String),
    /// The TLS handshake failed; the credential was not sent.
    #[error("{0}")]
    Tls(String),
    /// The server did not answer in time.
    #[error("the API server did not answer in time")]
    Timeout,
    /// A host limit stopped the request.
    #[error("{0}")]
    LimitExceeded(String),
    /// The credential could not be obtained.
    #[error("{0}")]
    Credential(String),
    /// Anything else.
    #[error("{}", .0.as_deref().unwrap_or("internal error"))]
    Internal(Option<String>),
}

/// A response body as the transport hands it on: decoded (gzip), its errors in
/// kube-client's type.
pub type ResponseBody = UnsyncBoxBody<Bytes, kube::Error>;

/// The layers a request goes through (base URI, decompression, credential, extra
/// headers, hyper's pooled client), type-erased.
type Layers = BoxCloneSyncService<Request<Body>, Response<ResponseBody>, BoxError>;

/// A connection (pool) to one API server with one credential.
#[derive(Clone)]
pub struct Transport {
    layers: Layers,
    connector: EarlyConnector<Connector>,
    cluster_url: Uri,
    server: String,
    ca_source: Option<String>,
}

/// How the transport talks to the server, beyond what the credential says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportOptions {
    /// Offer HTTP/2 by ALPN (the default, as client-go does): every request shares one
    /// connection. Off: HTTP/1.1 only, one connection per request in flight, as
    /// kube-rs; for proxies and load balancers that mishandle HTTP/2.
    pub http2: bool,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self { http2: true }
    }
}

impl TransportOptions {
    /// The default, with HTTP/2 turned off when the environment variable
    /// [`DISABLE_HTTP2_ENV`] is set to anything but an empty string: the same switch, and
    /// the same name, as client-go's (so as kubectl's).
    pub fn from_env() -> Self {
        Self {
            http2: std::env::var_os(DISABLE_HTTP2_ENV).is_none_or(|v| v.is_empty()),
        }
    }
}

/// The environment variable that turns HTTP/2 off ([`TransportOptions::from_env`]).
pub const DISABLE_HTTP2_ENV: &str = "DISABLE_HTTP2";

impl Transport {
    /// Builds the client for `credentials`, with HTTP/2 unless the environment says
    /// otherwise ([`TransportOptions::from_env`]). No connection is made yet.
    pub fn new(credentials: &Credentials) -> anyhow::Result<Self> {
        let options = TransportOptions::from_env();
        if !options.http2 {
            tracing::debug!("{DISABLE_HTTP2_ENV} is set: HTTP/1.1 only");
        }
        Self::with_options(credentials, &options)
    }

    /// Builds the client for `credentials` as `options` say. No connection is made yet.
    pub fn with_options(
        credentials: &Credentials,
        options: &TransportOptions,
    ) -> anyhow::Result<Self> {
        let (layers, connector) = build_client(&credentials.config, options).map_err(|e| {
            anyhow::anyhow!(
                "failed to set up the connection to {}: {}",
                credentials.identity.server,
                describe_credential_error(&credentials.config, &e)
            )
        })?;
        Ok(Self {
            layers,
            connector,
            cluster_url: credentials.config.cluster_url.clone(),
            server: credentials.identity.server.clone(),
            ca_source: credentials.ca_source.clone(),
        })
    }

    /// The API server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Starts connecting to the server (TCP, and TLS unless it is a plain `http://`
    /// proxy) in a task of the current tokio runtime, for the first request to use. A
    /// caller about to do other work (loading a guest) saves the handshake's time. If
    /// the early connection fails, or is not used within [`EARLY_CONNECTION_MAX_AGE`],
    /// the first request connects as it would have, and reports its own errors.
    pub fn preconnect(&self) {
        self.connector.start(&self.cluster_url);
    }

    /// Sends `request` (its URI is a path and query relative to the server) and returns
    /// the response head with a streaming body.
    /// A request that already has an `Accept-Encoding` (watches ask for `identity`) keeps
    /// it; any other asks for gzip.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<ResponseBody>, ErrorCode> {
        use tower::ServiceExt as _;
        // Each request drives its own clone of the layers: every layer is ready at once
        // (none holds back requests), so kube::Client's `Buffer`, a task every request
        // would pass through and back, is not needed.
        self.layers
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| self.classify(&kube_error(e)))
    }

    /// Maps a kube-client error to an [`ErrorCode`] with a plain-words message.
    fn classify(&self, err: &kube::Error) -> ErrorCode {
        let server = &self.server;
        if let kube::Error::Auth(auth) = err {
            return ErrorCode::Credential(format!(
                "failed to get a credential for {server}: {}",
                error_chain(auth)
            ));
        }
        if let Some(refresh) = find_in_chain::<RefreshError>(err) {
            return ErrorCode::Credential(format!(
                "the API server at {server} refused the credential (401 Unauthorized), and refreshing it failed: {refresh}"
            ));
        }
        if let Some(tls) = find_in_chain::<rustls::Error>(err) {
            return ErrorCode::Tls(self.describe_tls(tls));
        }
        if let Some(io) = find_in_chain::<std::io::Error>(err) {
            use std::io::ErrorKind::*;
            let why = match io.kind() {
                ConnectionRefused => {
                    "connection refused (is the API server running, and is the server URL right?)"
                        .to_string()
                }
                TimedOut => return ErrorCode::Timeout,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    format!("the connection was closed by the server ({io})")
                }
                _ => io.to_string(),
            };
            return ErrorCode::Connect(format!("cannot connect to {server}: {why}"));
        }
        if error_chain(err).contains("dns error") {
            return ErrorCode::Connect(format!(
                "cannot connect to {server}: the host name does not resolve ({})",
                error_chain(err)
            ));
        }
        let text = error_chain(err);
        if text.contains("timed out") || text.contains("Timeout") {
            return ErrorCode::Timeout;
        }
        ErrorCode::Connect(format!("request to {server} failed: {text}"))
    }

    fn describe_tls(&self, err: &rustls::Error) -> String {
        use rustls::{CertificateError, Error as E};
        let server = &self.server;
        let ca = self
            .ca_source
            .as_deref()
            .unwrap_or("the system's trusted roots");
        let what = match err {
            E::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
                "the server's certificate is not signed by the cluster CA ({ca}); check that the kubeconfig's certificate-authority matches this cluster"
            ),
            E::InvalidCertificate(CertificateError::NotValidForName)
            | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => format!(
                "the server's certificate is not valid for this host name (set tls-server-name in the kubeconfig if the cluster uses another name); trusted CA: {ca}"
            ),
            E::InvalidCertificate(CertificateError::Expired)
            | E::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
                "the server's certificate has expired".to_string()
            }
            E::InvalidCertificate(other) => {
                format!("the server's certificate was rejected ({other:?}); trusted CA: {ca}")
            }
            E::AlertReceived(alert) => format!(
                "the server refused the TLS handshake ({alert:?}); if it asks for a client certificate, check the kubeconfig's client-certificate"
            ),
            other => other.to_string(),
        };
        format!("TLS handshake with {server} failed: {what}. No credential was sent.")
    }
}

/// The HTTP/2 connection flow-control window: Go's `transportDefaultConnFlow`.
pub const HTTP2_CONNECTION_WINDOW: u32 = 1 << 30;

/// The HTTP/2 flow-control window of each stream: how much of a response the host
/// buffers before the guest reads it (hyper's default).
pub const HTTP2_STREAM_WINDOW: u32 = 2 << 20;

/// How the host dials the API server: TCP, then TLS (or plain HTTP for a proxy).
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A connection made by [`Transport::preconnect`] that no request has taken this long
/// after it was started is not used (the server may have closed it); the request dials
/// anew.
pub const EARLY_CONNECTION_MAX_AGE: Duration = Duration::from_secs(10);

/// A connection being made ahead of the first request, to the destination `dst`.
struct EarlyConnection<T, E> {
    dst: Uri,
    started: tokio::time::Instant,
    task: tokio::task::JoinHandle<Result<T, E>>,
}

/// A connector (as hyper's client calls it) that hands the first connection to the
/// destination it was started for ([`EarlyConnector::start`]) to whichever request needs
/// one first, and dials as `inner` does otherwise.
struct EarlyConnector<C: tower::Service<Uri>> {
    inner: C,
    early: EarlySlot<C::Response, C::Error>,
}

/// Where the connection being made early waits for a request to take it.
type EarlySlot<T, E> = Arc<Mutex<Option<EarlyConnection<T, E>>>>;

impl<C: tower::Service<Uri> + Clone> Clone for EarlyConnector<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            early: self.early.clone(),
        }
    }
}

impl<C> EarlyConnector<C>
where
    C: tower::Service<Uri> + Clone + Send + 'static,
    C::Future: Send,
    C::Response: Send + 'static,
    C::Error: Send + 'static,
{
    fn new(inner: C) -> Self {
        Self {
            inner,
            early: Arc::new(Mutex::new(None)),
        }
    }

    /// Starts connecting to `url`'s scheme and authority (what hyper's client dials).
    fn start(&self, url: &Uri) {
        let (Some(scheme), Some(authority)) = (url.scheme(), url.authority()) else {
            return;
        };
        let Ok(dst) = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query("/")
            .build()
        else {
            return;
        };
        let mut inner = self.inner.clone();
        let target = dst.clone();
        let task = tokio::spawn(async move {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            inner.call(target).await
        });
        let replaced = self
            .early
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(EarlyConnection {
                dst,
                started: tokio::time::Instant::now(),
                task,
            });
        if let Some(old) = replaced {
            old.task.abort();
        }
    }
}

impl<C> tower::Service<Uri> for EarlyConnector<C>
where
    C: tower::Service<Uri> + Clone + Send + 'static,
    C::Future: Send,
    C::Response: Send + 'static,
    C::Error: Send + 'static,
{
    type Response = C::Response;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, C::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        // The instance `poll_ready` was called on makes the call; a clone stays here.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let early = self.early.lock().unwrap_or_else(|e| e.into_inner()).take();
        match early {
            Some(early)
                if early.dst.scheme() == dst.scheme()
                    && early.dst.authority() == dst.authority()
                    && early.started.elapsed() < EARLY_CONNECTION_MAX_AGE =>
            {
                Box::pin(async move {
                    match early.task.await {
                        Ok(Ok(connection)) => Ok(connection),
                        // It failed: dial again, so that the request reports its own error.
                        _ => ready.call(dst).await,
                    }
                })
            }
            other => {
                if let Some(early) = other {
                    early.task.abort();
                }
                Box::pin(ready.call(dst))
            }
        }
    }
}

/// A request's error as kube-client's `Client::send` reports it: an error a layer made
/// (the credential's) as itself, hyper's as `HyperError`, any other as `Service`.
fn kube_error(err: BoxError) -> kube::Error {
    err.downcast::<kube::Error>()
        .map(|e| *e)
        .or_else(|err| {
            err.downcast::<hyper::Error>()
                .map(|e| kube::Error::HyperError(*e))
        })
        .unwrap_or_else(kube::Error::Service)
}

/// kube-client's TLS, auth and base-URI layers over hyper's client, offering HTTP/2 (if
/// `options` allow) and HTTP/1.1 by ALPN (plain `http://` servers get HTTP/1.1); and the
/// connector, for [`Transport::preconnect`].
fn build_client(
    config: &kube::Config,
    options: &TransportOptions,
) -> Result<(Layers, EarlyConnector<Connector>), kube::Error> {
    use kube::client::ConfigExt;
    use tower::ServiceExt as _;

    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Without it a second request on the connection (discovery, then the list) can wait
    // for the server's delayed ACK: ~40 ms, measured on a fresh-cache `get pods`.
    http.set_nodelay(true);
    http.set_connect_timeout(config.connect_timeout);
    let tls = config.rustls_client_config()?;
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
            kube::Error::Service(format!("invalid tls-server-name {name:?}: {e}").into())
        })?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = https.enable_http1();
    let connector = EarlyConnector::new(if options.http2 {
        https.enable_http2().wrap_connector(http)
    } else {
        https.wrap_connector(http)
    });
    // Every request of the host (every guest's, for an embedder) shares one HTTP/2
    // connection. hyper's 5 MiB connection window would let three bodies a guest leaves
    // unread (2 MiB stream window each) stop the data of every other request; Go's
    // client, and so client-go, open the connection window to 1 GiB, so that only the
    // unread stream waits. What a guest's unread streams can hold in the host is then
    // bounded by `--max-streams` times the stream window (see `limits`).
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .http2_initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .build::<_, kube::client::Body>(connector.clone());
    // gzip on the wire, as kubectl asks for it: the server compresses responses over
    // 128 KiB, and a 10,000-pod list shrinks about 25-fold. Only gzip, as kube-client and
    // client-go accept; the guest always sees decoded bytes (it may not set
    // Accept-Encoding itself, see `sanitize`).
    let decompression = tower_http::decompression::DecompressionLayer::new()
        .gzip(!config.disable_compression)
        .no_br()
        .no_deflate()
        .no_zstd();
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .layer(decompression)
        .layer(ReauthLayer::new(config)?)
        .layer(config.extra_headers_layer()?)
        .service(hyper.map_err(|e| -> Box<dyn StdError + Send + Sync> { Box::new(e) }))
        .map_response(|response| {
            response.map(|body| body.map_err(kube::Error::Service).boxed_unsync())
        });
    Ok((BoxCloneSyncService::new(service), connector))
}

/// The first error of type `T` in `err`'s source chain, also looking inside the
/// `io::Error`s that hyper-rustls and tokio-rustls wrap (twice) around a TLS error:
/// `io::Error::source` skips the error it wraps, so a plain walk never sees it.
fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn StdError + 'static));
        if let Some(found) = inner.and_then(|inner| find_in_chain::<T>(inner)) {
            return Some(found);
        }
        source = e.source();
    }
    None
}

/// `a: b: c` for an error and its sources, skipping repeats (hyper and kube often wrap
/// the same text twice).
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::{Service, ServiceExt};

    /// A connector that counts its dials and returns the dial's number, failing the
    /// dials whose numbers are in `failing`.
    fn counting(
        dials: Arc<AtomicUsize>,
        failing: &'static [usize],
    ) -> impl Service<Uri, Response = (usize, Uri), Error = String, Future: Send> + Clone + Send
    {
        tower::service_fn(move |dst: Uri| {
            let n = dials.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if failing.contains(&n) {
                    Err(format!("dial {n} failed"))
                } else {
                    Ok((n, dst))
                }
            }
        })
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn the_first_request_takes_the_early_connection_to_its_server() {
        let dials = Arc::new(AtomicUsize::new(0));
        let mut connector = EarlyConnector::new(counting(dials.clone(), &[]));
        connector.start(&uri("https://api.example:6443/prefix/path"));
        let dst = uri("https://api.example:6443/");
        let (n, dialed) = connector
            .ready()
            .await
            .unwrap()
            .call(dst.clone())
            .await
            .unwrap();
        assert_eq!((n, &dialed), (1, &dst));
        assert_eq!(dials.load(Ordering::SeqCst), 1, "dialed twice");
        // Later connections are dialed as usual.
        let (n, _) = connector.ready().await.unwrap().call(dst).await.unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn a_failed_early_connection_is_dialed_again_by_the_request() {
        let dials = Arc::new(AtomicUsize::new(0));
        let mut connector = EarlyConnector::new(counting(dials.clone(), &[1]));
        connector.start(&uri("https://api.example:6443"));
        let dst = uri("https://api.example:6443/");
        let (n, _) = connector.ready().await.unwrap().call(dst).await.unwrap();
        assert_eq!(n, 2, "the request's own dial");
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_connection_left_unused_too_long_is_not_used() {
        let dials = Arc::new(AtomicUsize::new(0));
        let mut connector = EarlyConnector::new(counting(dials.clone(), &[]));
        connector.start(&uri("https://api.example:6443"));
        tokio::time::advance(EARLY_CONNECTION_MAX_AGE).await;
        let dst = uri("https://api.example:6443/");
        let (n, _) = connector.ready().await.unwrap().call(dst).await.unwrap();
        assert_eq!(n, 2, "the stale early connection was used");
    }

    #[tokio::test]
    async fn an_early_connection_to_another_server_is_not_used() {
        let dials = Arc::new(AtomicUsize::new(0));
        let mut connector = EarlyConnector::new(counting(dials.clone(), &[]));
        connector.start(&uri("https://api.example:6443"));
        tokio::task::yield_now().await;
        for other in ["https://other.example:6443/", "http://api.example:6443/"] {
            let (_, dialed) = connector
                .ready()
                .await
                .unwrap()
                .call(uri(other))
                .await
                .unwrap();
            assert_eq!(dialed, uri(other));
        }
    }
}
