//! `host mcp --listen ADDR`: MCP over streamable HTTP at `/mcp`, for agents that connect
//! rather than spawn.
//!
//! Every request must carry `Authorization: Bearer TOKEN` with the token the operator
//! gave (`--token-file`); anything else gets 401 before the MCP layer sees it. The
//! address must be loopback unless the operator says otherwise (`--listen-remote`), and
//! then only the token protects it, so serve it behind TLS. Requests with an `Origin`
//! header (a browser) are refused, and on loopback a `Host` that is not loopback too
//! (DNS rebinding), by the SDK's own checks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower::Service;

use super::McpServer;

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// How to serve over HTTP.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The bearer token every request must carry.
    pub token: String,
    /// Whether a non-loopback `listen` is meant (`--listen-remote`).
    pub remote: bool,
}

/// The shortest token accepted: a short one can be guessed.
const MIN_TOKEN_LEN: usize = 16;

impl HttpOptions {
    /// Reads the token from `file` (surrounding whitespace removed) and checks the
    /// address: loopback unless `remote`.
    pub fn new(
        listen: SocketAddr,
        token_file: &std::path::Path,
        remote: bool,
    ) -> anyhow::Result<Self> {
        if !listen.ip().is_loopback() && !remote {
            anyhow::bail!(
                "--listen {listen} is not a loopback address: anyone who can reach it could \
                 call the tools (with the token); pass --listen-remote if that is meant, and \
                 put TLS in front"
            );
        }
        let token = std::fs::read_to_string(token_file)
            .with_context(|| format!("failed to read the token file {token_file:?}"))?
            .trim()
            .to_string();
        if token.len() < MIN_TOKEN_LEN {
            anyhow::bail!(
                "the token in {token_file:?} is {} characters; use at least {MIN_TOKEN_LEN} \
                 random ones (e.g. `openssl rand -hex 32 > {}`)",
                token.len(),
                token_file.display()
            );
        }
        Ok(Self {
            listen,
            token,
            remote,
        })
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// Serves `server` at `http://ADDR/mcp` until the process is stopped. Prints the URL on
/// stderr once listening (the port, if 0 was given, is the one chosen).
pub async fn serve_http(server: McpServer, options: HttpOptions) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("failed to listen on {}", options.listen))?;
    let local = listener.local_addr()?;
    let mut config = StreamableHttpServerConfig::default().enforce_origin_validation();
    if options.remote {
        // Clients reach a remote server by names of its own; the token guards it.
        config = config.disable_allowed_hosts();
    }
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let expected = Arc::new(format!("Bearer {}", options.token));
    eprintln!("host mcp: serving MCP at http://{local}{MCP_PATH}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("accepting a connection failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let mcp = mcp.clone();
        let expected = expected.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let mut mcp = mcp.clone();
                    let expected = expected.clone();
                    async move {
                        if request.uri().path() != MCP_PATH {
                            return Ok::<_, Infallible>(plain(
                                StatusCode::NOT_FOUND,
                                "not found: MCP is served at /mcp\n",
                            ));
                        }
                        if !authorized(&request, &expected) {
                            let mut response = plain(
                                StatusCode::UNAUTHORIZED,
                                "unauthorized: send Authorization: Bearer TOKEN\n",
                            );
                            response.headers_mut().insert(
                                http::header::WWW_AUTHENTICATE,
                                http::HeaderValue::from_static("Bearer"),
                            );
                            return Ok(response);
                        }
                        mcp.call(request).await
                    }
                });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("an MCP HTTP connection ended: {e}");
            }
        });
    }
}

/// Whether the request carries the expected `Authorization` value, compared in time that
/// does not depend on where they differ.
fn authorized<B>(request: &Request<B>, expected: &str) -> bool {
    let Some(given) = request.headers().get(http::header::AUTHORIZATION) else {
        return false;
    };
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        let request = |value: Option<&str>| {
            let mut builder = Request::builder().uri("/mcp");
            if let Some(v) = value {
                builder = builder.header("authorization", v);
            }
            builder.body(()).unwrap()
        };
        let expected = "Bearer 0123456789abcdef";
        assert!(authorized(&request(Some(expected)), expected));
        assert!(!authorized(&request(None), expected));
        assert!(!authorized(
            &request(Some("Bearer 0123456789abcdeX")),
            expected
        ));
        assert!(!authorized(
            &request(Some("Bearer 0123456789abcdef0")),
            expected
        ));
    }

    #[test]
    fn refuses_a_non_loopback_address_or_a_short_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef\n").unwrap();
        let err = HttpOptions::new("0.0.0.0:8080".parse().unwrap(), &file, false).unwrap_err();
        assert!(err.to_string().contains("--listen-remote"), "{err}");
        let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), &file, false).unwrap();
        assert_eq!(options.token, "0123456789abcdef");
        assert!(HttpOptions::new("0.0.0.0:8080".parse().unwrap(), &file, true).is_ok());
        std::fs::write(&file, "short").unwrap();
        let err = HttpOptions::new("127.0.0.1:0".parse().unwrap(), &file, false).unwrap_err();
        assert!(err.to_string().contains("at least 16"), "{err}");
    }
}
