//! [`FakeApiServer`]: an in-process kube-apiserver on 127.0.0.1 for tests and the demo.
//!
//! The server runs its own multi-threaded tokio runtime on a dedicated thread so synchronous
//! tests can start it, point a client process at it, change the cluster while the client
//! watches ([`FakeApiServer::create`], [`FakeApiServer::delete`], [`FakeApiServer::compact`],
//! ...) and inspect what arrived; dropping the handle stops it. TLS (rustls, ring provider chosen explicitly) serves a certificate for
//! `127.0.0.1`/`localhost`, offers `h2` and `http/1.1`, and *requests* but does not require a
//! client certificate, verifying any that is presented against the cluster CA, as kube-apiserver
//! does with `--client-ca-file`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, Incoming, Shared, Source};
use crate::bulk::BulkPods;
use crate::cluster::Cluster;
use crate::faults::{FaultState, Faults};
use crate::json::base64_encode;
use crate::pki::ClusterPki;
use crate::response::ResponseBody;

/// How the fake server behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// HTTPS (default). `false` serves plain HTTP and, like `kubectl proxy`, treats every
    /// request as the admin's.
    pub tls: bool,
    /// The admin bearer token (full access).
    pub token: Option<String>,
    /// Bearer token of `system:serviceaccount:demo:reader`, which may only get/list/watch pods
    /// in `demo`.
    pub reader_token: Option<String>,
    /// Let requests without credentials do everything. When `false` (default) they may only
    /// read `/version`, `/healthz`, `/livez`, `/readyz` and get the recorded 403 otherwise.
    pub allow_anonymous: bool,
    /// Serve a certificate signed by a CA other than [`FakeApiServer::ca_pem`].
    pub untrusted_serving_cert: bool,
    /// Delay between replayed recorded watch events (the `watch-demo` pod's life) and between
    /// followed log lines. Events caused by writes are sent as they happen.
    pub watch_event_interval: Duration,
    /// How long a watch stays open when the client sends no `timeoutSeconds` (the API
    /// server's request timeout; a real one picks 30-60 minutes). Default 5 s: long enough to
    /// replay the recorded events and see a test's writes, short enough for tests to end.
    pub watch_timeout: Duration,
    /// With `allowWatchBookmarks=true`, a `BOOKMARK` is sent this often (the watch cache's
    /// one minute by default) and when the watch ends.
    pub bookmark_interval: Duration,
    /// How many events the server keeps for watches and older-version lists; a watch from
    /// before them gets 410 Expired.
    pub watch_history: usize,
    /// Lines already in every container log (the last one written at the cluster clock).
    pub log_lines: usize,
    /// Lines a followed log receives after those, `watch_event_interval` apart, before the
    /// stream closes as if the container exited.
    pub log_follow_lines: usize,
    /// Injected faults (all off by default).
    pub faults: Faults,
    /// Fill a generated namespace with pods at start, for benchmarks at scale (off by
    /// default). The pods are clones of the recorded `demo` pods with their own names, uids,
    /// IPs, creation times, resourceVersions and `index` labels; lists, selectors, paging,
    /// Tables and metadata-only lists work on them as on `demo`. The cluster is then no longer
    /// the recorded one: reads report the version after the bulk creation, and watches or
    /// lists from before it get 410 Expired.
    pub bulk_pods: Option<BulkPods>,
    /// With [`ServerConfig::bulk_pods`]: a watch on pods in the bulk namespace, after its
    /// initial events if it asked for them, streams this many synthetic `MODIFIED` events as
    /// fast as the client reads them, cycling through the matching bulk pods with increasing
    /// resourceVersions, then ends as a watch timeout ends it (off by default). The store does
    /// not change, so a later list still shows the pods as they were; writes made while such a
    /// watch runs are not sent to it.
    pub watch_churn: Option<usize>,
    /// Answer `Accept-Encoding: gzip` requests whose response body is over 128 KiB with a
    /// gzip-compressed body (`Content-Encoding: gzip`, `Vary: Accept-Encoding`), as
    /// kube-apiserver does (on by default, as its `APIResponseCompression` feature is). Watches
    /// and logs are never compressed.
    pub gzip: bool,
    /// Work this long on each request before answering it, busy on the thread serving the
    /// connection, as a real API server works on each one (authentication, authorization,
    /// admission, encoding, its own audit): for benchmarks that compare clients at a real
    /// server's request rate rather than this server's much higher one (`demo-apiserver
    /// --request-work-us`). Off by default.
    pub request_work: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tls: true,
            token: Some("kubewasm-demo-admin-token".into()),
            reader_token: Some("kubewasm-demo-reader-token".into()),
            allow_anonymous: false,
            untrusted_serving_cert: false,
            watch_event_interval: Duration::from_millis(200),
            watch_timeout: Duration::from_secs(5),
            bookmark_interval: Duration::from_secs(60),
            watch_history: 1000,
            log_lines: 5,
            log_follow_lines: 0,
            faults: Faults::default(),
            bulk_pods: None,
            watch_churn: None,
            gzip: true,
            request_work: None,
        }
    }
}

/// One request as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, exactly as sent.
    pub path_and_query: String,
    /// All headers, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The request body (empty for most reads).
    pub body: Vec<u8>,
    /// The response body was sent gzip-compressed (`Content-Encoding: gzip`).
    pub response_gzipped: bool,
    /// The HTTP version the request came over (`HTTP/2.0` when the client took h2 by
    /// ALPN, `HTTP/1.1` otherwise).
    pub http_version: http::Version,
}

impl RecordedRequest {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A failed [`FakeApiServer`] write: the HTTP status and the `Status` the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The response body (a `Status` as JSON).
    pub body: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.body.trim().to_string());
        write!(f, "the fake API server answered {}: {message}", self.code)
    }
}

impl std::error::Error for ApiError {}

/// The user section of a kubeconfig written by [`FakeApiServer::write_kubeconfig`].
#[derive(Clone, Debug)]
pub enum KubeconfigAuth {
    /// `token:` inline.
    Token(String),
    /// `tokenFile:` pointing at this path (the file is not written).
    TokenFile(PathBuf),
    /// `client-certificate-data` / `client-key-data` of the admin client certificate.
    ClientCertificateData,
    /// `client-certificate` / `client-key` paths; the admin PEM files are written there.
    ClientCertificateFiles {
        /// Where to write the certificate PEM.
        cert: PathBuf,
        /// Where to write the key PEM.
        key: PathBuf,
    },
    /// `exec:` running `command` with `args` (`client.authentication.k8s.io/v1`,
    /// `interactiveMode: Never`).
    Exec {
        /// The plugin to run.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// An empty user.
    None,
}

/// A running fake kube-apiserver. Dropping it stops the server.
pub struct FakeApiServer {
    addr: SocketAddr,
    tls: bool,
    pki: Arc<ClusterPki>,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    /// Starts a server on `127.0.0.1` with a free port; returns once it is listening.
    pub fn start(config: ServerConfig) -> Result<FakeApiServer> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config)
    }

    /// Starts a server on `addr`; returns once it is listening.
    pub fn start_on(addr: SocketAddr, config: ServerConfig) -> Result<FakeApiServer> {
        let pki = Arc::new(ClusterPki::generate()?);
        let cluster = Cluster::load().context("loading the recorded cluster")?;
        let acceptor = if config.tls {
            Some(TlsAcceptor::from(Arc::new(tls_config(
                &pki,
                config.untrusted_serving_cert,
            )?)))
        } else {
            None
        };
        let tls = config.tls;
        let shared = Arc::new(Shared::new(config, cluster)?);

        // Bind on the caller's thread so that "returned" means "listening".
        let std_listener =
            std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-apiserver")
            .enable_all()
            .build()
            .context("building the server runtime")?;
        let (tx, rx) = oneshot::channel();
        let thread_shared = shared.clone();
        let handle = runtime.handle().clone();
        let thread = std::thread::Builder::new()
            .name("fake-apiserver-accept".into())
            .spawn(move || {
                runtime.block_on(accept_loop(std_listener, acceptor, thread_shared, rx));
                // Dropping the runtime cancels open connections and streams.
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .context("spawning the server thread")?;
        Ok(FakeApiServer {
            addr,
            tls,
            pki,
            shared,
            runtime: handle,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the cluster CA that clients should trust.
    pub fn ca_pem(&self) -> String {
        self.pki.ca.cert_pem.clone()
    }

    /// PEM of the admin client certificate (`CN=kubernetes-admin, O=system:masters`).
    pub fn client_cert_pem(&self) -> String {
        self.pki.admin_client.cert_pem.clone()
    }

    /// PEM (PKCS#8) of the admin client key.
    pub fn client_key_pem(&self) -> String {
        self.pki.admin_client.key_pem.clone()
    }

    /// The generated certificates (tests build TLS clients from the DER forms).
    #[cfg(test)]
    pub(crate) fn pki(&self) -> &ClusterPki {
        &self.pki
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Sends a request to the server as the admin, the way a client would but without a
    /// connection: it is not recorded in [`FakeApiServer::requests`] and no fault applies.
    /// Returns the status code and body. Streaming responses (watches, followed logs) are
    /// not supported here; use a client for them.
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(u16, String)> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let query = api::parse_query(query);
        let mut headers = vec![("user-agent".to_string(), "fake-apiserver/1.0".to_string())];
        if let Some(ct) = content_type {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        let incoming = Incoming {
            method,
            path,
            path_and_query,
            query: &query,
            headers: &headers,
        };
        // Handlers may spawn tasks (slow bodies); run them on the server's runtime.
        let _guard = self.runtime.enter();
        let reply = api::respond(&self.shared, Source::Test, &incoming, body.as_bytes());
        let text = match reply.body {
            ResponseBody::Empty => String::new(),
            ResponseBody::Full(b) | ResponseBody::Chunked(b) => {
                String::from_utf8_lossy(&b.unwrap_or_default()).into_owned()
            }
            ResponseBody::Stream(_) => {
                return Err(anyhow!(
                    "{method} {path_and_query} streams its response; use a client to read it"
                ));
            }
        };
        Ok((reply.status, text))
    }

    fn checked(&self, method: &str, path: &str, ct: Option<&str>, body: &str) -> Result<String> {
        let (code, text) = self.request(method, path, ct, body)?;
        if code >= 300 {
            return Err(ApiError { code, body: text }.into());
        }
        Ok(text)
    }

    /// Creates an object: `collection` is the collection path (e.g.
    /// `/api/v1/namespaces/demo/pods`), `json` the object. Watches see an `ADDED` event.
    /// Returns the stored object as JSON; a failure is an [`ApiError`] with the `Status`.
    pub fn create(&self, collection: &str, json: &str) -> Result<String> {
        self.checked("POST", collection, Some("application/json"), json)
    }

    /// Replaces an object (`PUT` to its path, e.g. `/api/v1/namespaces/demo/pods/x`).
    pub fn update(&self, object: &str, json: &str) -> Result<String> {
        self.checked("PUT", object, Some("application/json"), json)
    }

    /// Patches an object. `patch_type` is `merge`, `json`, `strategic` or `apply` (server-side
    /// apply: add `?fieldManager=NAME` to the path), or a full patch media type.
    pub fn patch(&self, object: &str, patch_type: &str, body: &str) -> Result<String> {
        let ct = match patch_type {
            "merge" => "application/merge-patch+json",
            "json" => "application/json-patch+json",
            "strategic" => "application/strategic-merge-patch+json",
            "apply" => "application/apply-patch+yaml",
            other => other,
        };
        self.checked("PATCH", object, Some(ct), body)
    }

    /// Deletes an object with the API server's semantics: a Pod on a node is only marked
    /// (graceful deletion, no kubelet to finish it) unless the path asks for
    /// `?gracePeriodSeconds=0`. Returns the response body (a `Status` or the object).
    pub fn delete(&self, object: &str) -> Result<String> {
        self.checked("DELETE", object, None, "")
    }

    /// Reads an object or list as JSON (`GET`).
    pub fn get(&self, path: &str) -> Result<String> {
        self.checked("GET", path, None, "")
    }

    /// Compacts the history: watches, and lists at an older resourceVersion (continue tokens,
    /// `resourceVersionMatch=Exact`), from any version before the current one get 410
    /// Expired, so clients must relist. Watches already open are not affected.
    pub fn compact(&self) {
        if let Ok(mut store) = self.shared.store.lock() {
            store.compact();
        }
    }

    /// The resourceVersion a list would report now.
    pub fn resource_version(&self) -> u64 {
        self.shared
            .store
            .lock()
            .map(|s| s.current_rv())
            .unwrap_or_default()
    }

    /// Replaces the injected faults (and resets the throttle counters) while the server runs.
    /// `expire_watch_rv_below` only takes effect at start; use [`FakeApiServer::compact`].
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.shared.faults.lock() {
            *f = FaultState::new(faults);
        }
    }

    /// Rotates the admin bearer token: from now on only `token` authenticates as the admin
    /// and the previous one gets 401 Unauthorized, as an expired or revoked ServiceAccount
    /// token does after the kubelet has written its successor. ([`FakeApiServer::config`]
    /// still shows the token the server started with.)
    pub fn set_admin_token(&self, token: &str) {
        if let Ok(mut t) = self.shared.admin_token.lock() {
            *t = Some(token.to_string());
        }
    }

    /// Writes a kubeconfig for this server: one cluster, user and context named
    /// `kubewasm-demo`, with the CA inline and the given credentials.
    pub fn write_kubeconfig(
        &self,
        path: &Path,
        auth: KubeconfigAuth,
        namespace: Option<&str>,
    ) -> Result<()> {
        let mut y = String::from(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubewasm-demo\n  cluster:\n",
        );
        y.push_str(&format!("    server: {}\n", yaml_str(&self.url())));
        if self.tls {
            y.push_str(&format!(
                "    certificate-authority-data: {}\n",
                base64_encode(self.ca_pem().as_bytes())
            ));
        }
        y.push_str("users:\n- name: kubewasm-demo\n  user:");
        match &auth {
            KubeconfigAuth::Token(t) => y.push_str(&format!("\n    token: {}\n", yaml_str(t))),
            KubeconfigAuth::TokenFile(p) => {
                y.push_str(&format!("\n    tokenFile: {}\n", yaml_str(path_str(p)?)));
            }
            KubeconfigAuth::ClientCertificateData => y.push_str(&format!(
                "\n    client-certificate-data: {}\n    client-key-data: {}\n",
                base64_encode(self.client_cert_pem().as_bytes()),
                base64_encode(self.client_key_pem().as_bytes())
            )),
            KubeconfigAuth::ClientCertificateFiles { cert, key } => {
                write_file(cert, self.client_cert_pem().as_bytes(), 0o644)?;
                write_file(key, self.client_key_pem().as_bytes(), 0o600)?;
                y.push_str(&format!(
                    "\n    client-certificate: {}\n    client-key: {}\n",
                    yaml_str(path_str(cert)?),
                    yaml_str(path_str(key)?)
                ));
            }
            KubeconfigAuth::Exec { command, args } => {
                y.push_str("\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n");
                y.push_str(&format!(
                    "      command: {}\n      args: [",
                    yaml_str(command)
                ));
                let args: Vec<String> = args.iter().map(|a| yaml_str(a)).collect();
                y.push_str(&args.join(", "));
                y.push_str("]\n");
                y.push_str("      interactiveMode: Never\n");
            }
            KubeconfigAuth::None => y.push_str(" {}\n"),
        }
        y.push_str("contexts:\n- name: kubewasm-demo\n  context:\n    cluster: kubewasm-demo\n    user: kubewasm-demo\n");
        if let Some(ns) = namespace {
            y.push_str(&format!("    namespace: {}\n", yaml_str(ns)));
        }
        y.push_str("current-context: kubewasm-demo\npreferences: {}\n");
        write_file(path, y.as_bytes(), 0o600)
    }

    /// Writes a ServiceAccount volume as the kubelet's atomic writer lays it out:
    /// `..<timestamp>/{token,ca.crt,namespace}`, `..data -> ..<timestamp>`, and `token`,
    /// `ca.crt`, `namespace` symlinks into `..data/`. Calling it again on the same directory
    /// rotates the contents the way the kubelet does (new timestamped directory, atomic rename
    /// of the `..data` link, old directory removed).
    pub fn write_service_account_dir(
        &self,
        dir: &Path,
        token: &str,
        namespace: &str,
    ) -> Result<()> {
        write_projected_volume(
            dir,
            &[
                ("ca.crt", self.ca_pem().as_bytes()),
                ("namespace", namespace.as_bytes()),
                ("token", token.as_bytes()),
            ],
        )
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tls_config(pki: &ClusterPki, untrusted: bool) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(pki.ca.cert_der.clone())
        .context("adding the client CA")?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let serving = if untrusted {
        &pki.untrusted_serving
    } else {
        &pki.serving
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![serving.cert_der.clone()], serving.private_key())
        .context("installing the serving certificate")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

async fn accept_loop(
    listener: std::net::TcpListener,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fake-apiserver: cannot use the listener: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Go's net/http (kube-apiserver) sets TCP_NODELAY on every connection.
                    tcp.set_nodelay(true).ok();
                    tokio::spawn(serve_connection(tcp, acceptor.clone(), shared.clone()));
                }
                Err(e) => {
                    // E.g. EMFILE: back off instead of spinning.
                    eprintln!("fake-apiserver: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn serve_connection(tcp: TcpStream, acceptor: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    match acceptor {
        Some(acceptor) => {
            // A failed handshake (e.g. the client does not trust our CA) ends here, before any
            // request exists; nothing is recorded, as nothing was sent.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let verified_cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty());
            serve_http(TokioIo::new(stream), shared, verified_cert).await;
        }
        None => serve_http(TokioIo::new(tcp), shared, false).await,
    }
}

async fn serve_http<I>(io: I, shared: Arc<Shared>, verified_cert: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move {
            if let Some(work) = shared.config.request_work {
                work_for(work);
            }
            Ok::<_, Infallible>(api::handle(shared, verified_cert, req).await)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Go writes canonical header names (`Audit-Id`, `Content-Type`); so does this server.
    builder
        .http1()
        .title_case_headers(true)
        .timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let _ = builder.serve_connection(io, service).await;
}

/// Keeps this thread busy for `work` ([`ServerConfig::request_work`]). Busy rather than
/// asleep: a timer would round a few hundred microseconds up to a millisecond, and a real
/// server's work takes a core.
fn work_for(work: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < work {
        std::hint::spin_loop();
    }
}

/// A YAML double-quoted scalar.
fn yaml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", p.display()))
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

/// The kubelet's `AtomicWriter.Write` for a projected volume.
#[cfg(unix)]
fn write_projected_volume(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    use std::os::unix::fs::symlink;

    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let data_link = dir.join("..data");
    let old_target = std::fs::read_link(&data_link).ok();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let stamp = crate::clock::format_atomic_writer(now);
    // Go's os.MkdirTemp appends a random decimal number; keep trying until the name is free.
    let mut seed = std::process::id() as u64 ^ now as u64;
    let ts_dir = loop {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let name = format!("..{stamp}.{}", (seed >> 33) % 10_000_000_000);
        let candidate = dir.join(&name);
        match std::fs::create_dir(&candidate) {
            Ok(()) => break name,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", candidate.display())),
        }
    };
    for (name, data) in files {
        write_file(&dir.join(&ts_dir).join(name), data, 0o644)?;
    }
    std::fs::set_permissions(dir.join(&ts_dir), {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o755)
    })?;

    // Swap `..data` atomically: a new link under a temporary name, renamed over the old one.
    let tmp_link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp_link);
    symlink(&ts_dir, &tmp_link).with_context(|| format!("linking {}", tmp_link.display()))?;
    std::fs::rename(&tmp_link, &data_link)
        .with_context(|| format!("renaming to {}", data_link.display()))?;

    for (name, _) in files {
        let user_link = dir.join(name);
        if std::fs::symlink_metadata(&user_link).is_err() {
            symlink(Path::new("..data").join(name), &user_link)
                .with_context(|| format!("linking {}", user_link.display()))?;
        }
    }
    if let Some(old) = old_target
        && old.as_os_str() != ts_dir.as_str()
    {
        let old_dir = dir.join(&old);
        if old
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".."))
        {
            std::fs::remove_dir_all(&old_dir)
                .with_context(|| format!("removing {}", old_dir.display()))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn write_projected_volume(_dir: &Path, _files: &[(&str, &[u8])]) -> Result<()> {
    anyhow::bail!("ServiceAccount directories use symlinks and need a Unix system")
}
