//! Refreshing the credential when the API server answers 401 Unauthorized.
//!
//! kube-client caches what it sends: it re-reads a `tokenFile` (and so the in-pod
//! ServiceAccount token) only when its copy is a minute old, and re-runs an exec plugin
//! only once the `expirationTimestamp` the plugin printed has passed (never, if it printed
//! none). A credential can stop working before that: the kubelet rotates the projected
//! ServiceAccount token and the old one expires or its pod binding is revoked, an
//! identity provider revokes a session, a plugin's own cache is cleared. client-go reads a
//! 401 as "the cached credential is stale": its token-file source drops tokens older than
//! the failed request (`ResetTokenOlderThan`) and its exec authenticator re-runs the plugin
//! (`maybeRefreshCreds`), so the next request carries a fresh credential.
//!
//! [`ReauthLayer`] does the same, and also replays the failed request once with the fresh
//! credential: a guest's one-shot `get`, or a watch re-established after the server ended
//! it, would otherwise fail outright although a good credential is on disk. It takes the
//! place of kube-client's auth layer and refreshes by building a new one from the same
//! [`kube::Config`] (which re-reads the file or re-runs the plugin), over the same inner
//! service, so pooled connections and HTTP/2 sessions stay.
//!
//! Only refreshable credentials are retried: a token file, the in-pod token, an exec
//! plugin. A static token or a client certificate would fail the same way again. A
//! generation counter makes one refresh serve every request that failed with the same
//! credential, so a burst of 401s (say, every watch of an operator at once) re-runs the
//! plugin once, not once per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use kube::client::middleware::AuthLayer;
use kube::client::{AuthError, Body, ConfigExt};
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, Service, ServiceExt};

/// Marks a response (in its extensions) that answered the replay of a request first
/// refused with 401, after the credential was refreshed. The audit log notes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reauthenticated;

/// Refreshing the credential after a 401 failed (the token file is gone, the plugin
/// failed). The message names the file or plugin but never holds credential bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RefreshError(String);

/// Adds the credential of a [`kube::Config`] to each request, like kube-client's
/// `auth_layer`, and refreshes it and replays the request once when the server answers
/// 401 (see the module documentation).
pub struct ReauthLayer {
    config: kube::Config,
    initial: Option<AuthLayer>,
    refreshable: bool,
}

impl ReauthLayer {
    /// Builds the first credential from `config` (reading the token file or running the
    /// exec plugin now, as kube-client's `auth_layer` does).
    pub fn new(config: &kube::Config) -> Result<Self, kube::Error> {
        Ok(Self {
            initial: config.auth_layer()?,
            refreshable: is_refreshable(&config.auth_info),
            config: config.clone(),
        })
    }
}

impl<S, B> Layer<S> for ReauthLayer
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Service = Reauth<B>;

    fn layer(&self, inner: S) -> Reauth<B> {
        let inner = BoxCloneService::new(inner);
        let service = with_auth(self.initial.as_ref(), &inner);
        Reauth {
            state: Arc::new(State {
                config: self.config.clone(),
                refreshable: self.refreshable,
                current: Mutex::new(Current {
                    generation: 0,
                    inner,
                    service,
                }),
                refreshing: tokio::sync::Mutex::new(()),
            }),
        }
    }
}

/// A request-sending service, type-erased so the credential can be swapped.
type Boxed<B> = BoxCloneService<Request<Body>, Response<B>, BoxError>;

/// `inner` with `auth`'s credential added to each request (or as is, without one).
fn with_auth<B: Send + 'static>(auth: Option<&AuthLayer>, inner: &Boxed<B>) -> Boxed<B> {
    match auth {
        Some(layer) => BoxCloneService::new(layer.layer(inner.clone())),
        None => inner.clone(),
    }
}

/// Whether re-reading `auth` can give a different credential. Mirrors kube-client's
/// precedence (`Auth::try_from`): an auth provider, basic auth and an inline token win
/// over a token file, which wins over an exec plugin.
fn is_refreshable(auth: &kube::config::AuthInfo) -> bool {
    let fixed = auth.auth_provider.is_some()
        || (auth.username.is_some() && auth.password.is_some())
        || auth.token.is_some();
    !fixed && (auth.token_file.is_some() || auth.exec.is_some())
}

/// The service [`ReauthLayer`] makes. Clones share the credential.
pub struct Reauth<B> {
    state: Arc<State<B>>,
}

impl<B> Clone for Reauth<B> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

struct State<B> {
    config: kube::Config,
    refreshable: bool,
    current: Mutex<Current<B>>,
    /// Held while a refresh runs, so concurrent 401s wait for it instead of each
    /// re-reading the file or re-running the plugin.
    refreshing: tokio::sync::Mutex<()>,
}

struct Current<B> {
    /// Bumped on each refresh: a request that failed with an older generation's
    /// credential finds the refreshed one already in place.
    generation: u64,
    /// The service below the credential (its connection pool outlives refreshes).
    inner: Boxed<B>,
    /// `inner` with the current credential.
    service: Boxed<B>,
}

impl<B: Send + 'static> State<B> {
    /// The current generation and its service.
    fn current(&self) -> (u64, Boxed<B>) {
        let current = lock(&self.current);
        (current.generation, current.service.clone())
    }

    /// Refreshes the credential that failed in generation `failed`, unless another request
    /// already did; returns the service to replay with.
    async fn refresh(&self, failed: u64) -> Result<Boxed<B>, RefreshError> {
        let _one_at_a_time = self.refreshing.lock().await;
        {
            let current = lock(&self.current);
            if current.generation != failed {
                return Ok(current.service.clone());
            }
        }
        // Re-running an exec plugin blocks; keep it off the async workers.
        let config = self.config.clone();
        let layer = tokio::task::spawn_blocking(move || config.auth_layer())
            .await
            .map_err(|e| RefreshError(format!("refreshing the credential failed: {e}")))?
            .map_err(|e| RefreshError(describe_credential_error(&self.config, &e)))?;
        let mut current = lock(&self.current);
        current.service = with_auth(layer.as_ref(), &current.inner);
        current.generation += 1;
        Ok(current.service.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding it; should something, its state is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<B: Send + 'static> Service<Request<Body>> for Reauth<B> {
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each call takes a clone of the current service and waits for it to be ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            let (generation, service) = state.current();
            let replay = if state.refreshable {
                replayable(&request)
            } else {
                None
            };
            let response = service.oneshot(request).await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let Some(replay) = replay else {
                return Ok(response);
            };
            drop(response);
            let service = state.refresh(generation).await?;
            // Once only: a second 401 goes to the guest, which prints the server's Status.
            let mut response = service.oneshot(replay).await?;
            response.extensions_mut().insert(Reauthenticated);
            Ok(response)
        })
    }
}

/// A copy of `request` to send again, if its body can be replayed (the guest hands
/// over whole bodies, which kube's `Body` holds as bytes; a streaming body could not be).
fn replayable(request: &Request<Body>) -> Option<Request<Body>> {
    let mut copy = Request::new(request.body().try_clone()?);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

/// Why building the credential from `config` failed, in words that never hold credential
/// bytes: kube-client's own message for a failed exec plugin prints the plugin's output
/// (an ExecCredential may be in it) and its environment, and a parse error may quote the
/// output.
pub fn describe_credential_error(config: &kube::Config, err: &kube::Error) -> String {
    let plugin = config
        .auth_info
        .exec
        .as_ref()
        .and_then(|e| e.command.as_deref())
        .unwrap_or("(none)");
    let kube::Error::Auth(auth) = err else {
        return crate::transport::error_chain(err);
    };
    match auth {
        AuthError::AuthExecRun { out, .. } => {
            format!(
                "the exec credential plugin {plugin:?} failed ({})",
                out.status
            )
        }
        AuthError::AuthExecParse(_) => format!(
            "the exec credential plugin {plugin:?} printed something that is not an ExecCredential"
        ),
        AuthError::AuthExecStart(e) => {
            format!("the exec credential plugin {plugin:?} could not be started: {e}")
        }
        other => crate::transport::error_chain(other),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use http::header::AUTHORIZATION;
    use http_body_util::BodyExt;

    use super::*;

    /// What the fake server saw: the `Authorization` header and body of each request.
    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    /// A fake API server: 200 for `Bearer <valid>`, 401 otherwise. Requests carrying
    /// `hold` wait at `barrier` first, so a test can make them fail together.
    #[allow(clippy::type_complexity)]
    fn server(
        valid: Arc<Mutex<String>>,
        seen: Seen,
        hold: Option<(String, Arc<tokio::sync::Barrier>)>,
    ) -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = BoxError,
        Future = impl Future<Output = Result<Response<Body>, BoxError>> + Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(move |request: Request<Body>| {
            let valid = valid.clone();
            let seen = seen.clone();
            let hold = hold.clone();
            async move {
                let auth = request
                    .headers()
                    .get(AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let body = request.into_body().collect().await?.to_bytes();
                seen.lock()
                    .unwrap()
                    .push((auth.clone(), String::from_utf8_lossy(&body).into_owned()));
                if let Some((token, barrier)) = hold
                    && auth == format!("Bearer {token}")
                {
                    barrier.wait().await;
                }
                let ok = auth == format!("Bearer {}", valid.lock().unwrap());
                let status = if ok { 200 } else { 401 };
                Ok::<_, BoxError>(
                    Response::builder()
                        .status(status)
                        .body(Body::from(format!("status {status}").into_bytes()))
                        .unwrap(),
                )
            }
        })
    }

    fn config() -> kube::Config {
        kube::Config::new("https://127.0.0.1:6443".parse().unwrap())
    }

    fn token_file_config(path: &Path) -> kube::Config {
        let mut config = config();
        config.auth_info.token_file = Some(path.display().to_string());
        config
    }

    fn post(body: &str) -> Request<Body> {
        Request::post("https://127.0.0.1:6443/api/v1/namespaces/demo/configmaps")
            .body(Body::from(body.as_bytes().to_vec()))
            .unwrap()
    }

    fn headers(seen: &Seen) -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .map(|(h, _)| h.clone())
            .collect()
    }

    #[tokio::test]
    async fn rotated_token_file_is_reread_on_401_and_the_request_replayed_with_its_body() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "old").unwrap();
        let valid = Arc::new(Mutex::new("old".to_string()));
        let seen = Seen::default();
        let layer = ReauthLayer::new(&token_file_config(&file)).unwrap();
        let service = layer.layer(server(valid.clone(), seen.clone(), None));

        let first = service.clone().oneshot(post("{}")).await.unwrap();
        assert_eq!(first.status(), 200);
        assert!(first.extensions().get::<Reauthenticated>().is_none());

        // Rotation: the file changes and the server stops accepting the old token,
        // well within kube-client's one-minute re-read interval.
        std::fs::write(&file, "new").unwrap();
        *valid.lock().unwrap() = "new".into();
        let second = service.clone().oneshot(post("{\"a\":1}")).await.unwrap();
        assert_eq!(second.status(), 200);
        assert!(second.extensions().get::<Reauthenticated>().is_some());
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                ("Bearer old".to_string(), "{}".to_string()),
                ("Bearer old".to_string(), "{\"a\":1}".to_string()),
                ("Bearer new".to_string(), "{\"a\":1}".to_string()),
            ]
        );
        // Later requests use the refreshed credential straight away.
        let third = service.oneshot(post("")).await.unwrap();
        assert_eq!(third.status(), 200);
        assert_eq!(headers(&seen).last().unwrap(), "Bearer new");
    }

    #[tokio::test]
    async fn a_second_401_goes_back_to_the_caller_after_one_retry() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "revoked").unwrap();
        let valid = Arc::new(Mutex::new("something-else".to_string()));
        let seen = Seen::default();
        let layer = ReauthLayer::new(&token_file_config(&file)).unwrap();
        let service = layer.layer(server(valid, seen.clone(), None));

        let response = service.clone().oneshot(post("")).await.unwrap();
        assert_eq!(response.status(), 401);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"status 401");
        assert_eq!(headers(&seen), vec!["Bearer revoked"; 2]);
        assert_eq!(lock(&service.state.current).generation, 1);
    }

    #[tokio::test]
    async fn a_static_token_is_not_retried() {
        let mut config = config();
        config.auth_info.token = Some("static".to_string().into());
        let valid = Arc::new(Mutex::new("other".to_string()));
        let seen = Seen::default();
        let service = ReauthLayer::new(&config)
            .unwrap()
            .layer(server(valid, seen.clone(), None));

        let response = service.oneshot(post("")).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(headers(&seen), vec!["Bearer static"]);
    }

    #[test]
    fn only_file_and_plugin_credentials_are_refreshable() {
        let mut auth = kube::config::AuthInfo::default();
        assert!(!is_refreshable(&auth));
        auth.token_file = Some("/var/run/secrets/token".into());
        assert!(is_refreshable(&auth));
        // kube-client sends an inline token in preference to the file.
        auth.token = Some("inline".to_string().into());
        assert!(!is_refreshable(&auth));
        let mut auth = kube::config::AuthInfo {
            exec: Some(Default::default()),
            ..Default::default()
        };
        assert!(is_refreshable(&auth));
        auth.client_certificate_data = Some("cert".into());
        assert!(is_refreshable(&auth), "the plugin still supplies the token");
        let cert = kube::config::AuthInfo {
            client_certificate_data: Some("cert".into()),
            client_key_data: Some("key".to_string().into()),
            ..Default::default()
        };
        assert!(!is_refreshable(&cert));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_401s_share_one_refresh() {
        const REQUESTS: usize = 8;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "old").unwrap();
        // The server already wants the new token; every request is sent with the old one
        // and they all fail together once all have been sent.
        let valid = Arc::new(Mutex::new("new".to_string()));
        let seen = Seen::default();
        let barrier = Arc::new(tokio::sync::Barrier::new(REQUESTS));
        let layer = ReauthLayer::new(&token_file_config(&file)).unwrap();
        std::fs::write(&file, "new").unwrap();
        let service = layer.layer(server(
            valid,
            seen.clone(),
            Some(("old".to_string(), barrier)),
        ));

        let tasks: Vec<_> = (0..REQUESTS)
            .map(|_| tokio::spawn(service.clone().oneshot(post(""))))
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().status(), 200);
        }
        assert_eq!(lock(&service.state.current).generation, 1);
        let headers = headers(&seen);
        assert_eq!(headers.len(), 2 * REQUESTS, "{headers:?}");
        assert_eq!(
            headers.iter().filter(|h| *h == "Bearer new").count(),
            REQUESTS
        );
    }

    /// An exec plugin that prints a token read from `token` (no expiry, so kube-client
    /// would keep it for good) and appends a line to `runs` each time it runs.
    #[cfg(unix)]
    fn exec_config(dir: &Path) -> kube::Config {
        let script = format!(
            "echo run >> '{runs}'; if [ -e '{fail}' ]; then echo '{{\"status\":{{\"token\":\"leaked-token\"}}}}'; exit 3; fi; printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$(cat '{token}')\"",
            runs = dir.join("runs").display(),
            fail = dir.join("fail").display(),
            token = dir.join("token").display(),
        );
        let mut config = config();
        config.auth_info.exec = Some(kube::config::ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1".into()),
            command: Some("sh".into()),
            args: Some(vec!["-c".into(), script]),
            interactive_mode: Some(kube::config::ExecInteractiveMode::Never),
            ..Default::default()
        });
        config
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn exec_plugin_is_rerun_on_401() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "first").unwrap();
        let valid = Arc::new(Mutex::new("first".to_string()));
        let seen = Seen::default();
        let layer = ReauthLayer::new(&exec_config(dir.path())).unwrap();
        let service = layer.layer(server(valid.clone(), seen.clone(), None));
        let runs = || {
            std::fs::read_to_string(dir.path().join("runs"))
                .unwrap()
                .lines()
                .count()
        };

        assert_eq!(
            service.clone().oneshot(post("")).await.unwrap().status(),
            200
        );
        assert_eq!(runs(), 1);
        std::fs::write(dir.path().join("token"), "second").unwrap();
        *valid.lock().unwrap() = "second".into();
        assert_eq!(
            service.clone().oneshot(post("")).await.unwrap().status(),
            200
        );
        assert_eq!(runs(), 2);
        assert_eq!(
            headers(&seen),
            vec!["Bearer first", "Bearer first", "Bearer second"]
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_failing_plugin_is_reported_without_its_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "first").unwrap();
        let valid = Arc::new(Mutex::new("other".to_string()));
        let service = ReauthLayer::new(&exec_config(dir.path()))
            .unwrap()
            .layer(server(valid, Seen::default(), None));
        // From now on the plugin prints a credential-looking line and fails.
        std::fs::write(dir.path().join("fail"), "").unwrap();
        let err = service.oneshot(post("")).await.unwrap_err();
        let text = err.to_string();
        assert!(err.downcast_ref::<RefreshError>().is_some(), "{text}");
        assert!(text.contains("\"sh\" failed"), "{text}");
        assert!(!text.contains("leaked-token"), "{text}");
    }
}
