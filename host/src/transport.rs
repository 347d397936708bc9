//! The host's connection to the API server.
//!
//! kube-client provides the pieces: the rustls configuration (TLS verified against the
//! cluster CA, client certificates), the layer that adds the credential to each request
//! (bearer token, token file re-read on rotation, exec plugin), the base-URI layer. This
//! module assembles them over hyper's pooled client with HTTP/2 offered by ALPN: kube's own
//! `Client` speaks only HTTP/1.1 (kube#1923), while client-go uses h2, which lets many
//! watches and log streams share one connection. The auth layer is wrapped by
//! [`crate::reauth`], so that a 401 refreshes a token file or exec plugin credential and
//! replays the request, as client-go refreshes. Nothing here follows redirects, so the
//! credential cannot be sent to another host.
//!
//! Failures become the WIT `error-code` with messages a person can act on: an unknown CA
//! says which server and which CA, not a rustls enum.

use std::error::Error as StdError;

use http::{Request, Response};
use kube::client::Body;

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

/// A connection (pool) to one API server with one credential.
#[derive(Clone)]
pub struct Transport {
    client: kube::Client,
    server: String,
    ca_source: Option<String>,
}

impl Transport {
    /// Builds the client for `credentials`. No connection is made yet.
    pub fn new(credentials: &Credentials) -> anyhow::Result<Self> {
        let client = build_client(&credentials.config).map_err(|e| {
            anyhow::anyhow!(
                "failed to set up the connection to {}: {}",
                credentials.identity.server,
                describe_credential_error(&credentials.config, &e)
            )
        })?;
        Ok(Self {
            client,
            server: credentials.identity.server.clone(),
            ca_source: credentials.ca_source.clone(),
        })
    }

    /// The API server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `request` (its URI is a path and query relative to the server) and returns
    /// the response head with a streaming body.
    /// A request that already has an `Accept-Encoding` (watches ask for `identity`) keeps
    /// it; any other asks for gzip.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Body>, ErrorCode> {
        self.client
            .send(request)
            .await
            .map_err(|e| self.classify(&e))
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

/// kube-client's TLS, auth and base-URI layers over hyper's client, offering HTTP/2 and
/// HTTP/1.1 by ALPN (plain `http://` servers get HTTP/1.1).
fn build_client(config: &kube::Config) -> Result<kube::Client, kube::Error> {
    use hyper_util::client::legacy::connect::HttpConnector;
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
    let https = https.enable_http1().enable_http2().wrap_connector(http);
    // Every request of the host (every guest's, for an embedder) shares one HTTP/2
    // connection. hyper's 5 MiB connection window would let three bodies a guest leaves
    // unread (2 MiB stream window each) stop the data of every other request; Go's
    // client, and so client-go, open the connection window to 1 GiB, so that only the
    // unread stream waits. What a guest's unread streams can hold in the host is then
    // bounded by `--max-streams` times the stream window (see `limits`).
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .http2_initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .build::<_, kube::client::Body>(https);
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
        .service(hyper.map_err(|e| -> Box<dyn StdError + Send + Sync> { Box::new(e) }));
    Ok(kube::Client::new(service, config.default_namespace.clone()))
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
