//! The guest's only IO: sending requests through the host's `api` capability.
//!
//! [`Client`] is what a guest uses: typed `get`, `list` (every page) and `logs` over a
//! [`ResourceUrl`], with the server's refusals as [`Error::Server`] and the host's as
//! [`Error::Client`]. [`Transport`] is the seam beneath it: [`HostApi`] implements it
//! with the WIT import `kubewasm:client/api.send`; tests and embedders implement it with
//! recorded responses. A response body arrives as a [`BodyStream`], read in chunks as
//! the server sends them, so watches and followed logs print as they happen.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::bindings::kubewasm::client::{api, credentials};
use crate::error::Error;
use crate::liststream::{self, ListType};
use crate::request::{self, Format, ListParams, LogParams, Method, Request, ResourceUrl};
use crate::retry;
use crate::status::RequestContext;
use crate::watcher::CHUNK_SIZE;

/// Why a request got no (complete) response. Mirrors the WIT `error-code`, plus a body
/// read failure the host could not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The host's policy refused the request; the text names the rule that would allow it.
    Denied(String),
    /// The host refused a malformed request (bad path, forbidden header).
    InvalidRequest(String),
    /// The host could not connect to the API server.
    Connect(String),
    /// The TLS handshake with the API server failed.
    Tls(String),
    /// The API server did not answer in time.
    Timeout,
    /// A host limit stopped the request; the text names the limit and its flag.
    LimitExceeded(String),
    /// The host could not obtain the credential.
    Credential(String),
    /// The host failed in a way it did not classify.
    Internal(Option<String>),
    /// Reading the body failed (e.g. the connection dropped) and the host said no more.
    Body(String),
}

impl ClientError {
    /// kubectl prints connection problems without an `error: ` prefix
    /// (`Unable to connect to the server: ...`); a failing credential plugin is one.
    pub fn is_connection_problem(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(_)
                | ClientError::Tls(_)
                | ClientError::Timeout
                | ClientError::Credential(_)
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The host's text already says what was denied and what would allow it.
            ClientError::Denied(text) => f.write_str(text),
            ClientError::InvalidRequest(text) => {
                write!(f, "the host refused the request as invalid: {text}")
            }
            ClientError::Connect(text) => write!(f, "Unable to connect to the server: {text}"),
            // The host verified the server against the cluster CA and stopped before
            // sending anything: say that the credential did not leave.
            // (Said once: kubewasm's own host already says so in its text.)
            ClientError::Tls(text) if text.contains("No credential was sent") => {
                write!(f, "Unable to connect to the server: {text}")
            }
            ClientError::Tls(text) => write!(
                f,
                "Unable to connect to the server: {text} (the TLS handshake failed, so the credential was not sent)"
            ),
            ClientError::Timeout => f.write_str(
                "Unable to connect to the server: timeout: the server did not answer in time",
            ),
            ClientError::LimitExceeded(text) => f.write_str(text),
            ClientError::Credential(text) => {
                write!(
                    f,
                    "Unable to connect to the server: getting credentials: {text}"
                )
            }
            ClientError::Internal(Some(text)) => {
                write!(f, "internal error in the host (a bug): {text}")
            }
            ClientError::Internal(None) => f.write_str("internal error in the host (a bug)"),
            ClientError::Body(text) => write!(f, "reading the response body: {text}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<api::ErrorCode> for ClientError {
    fn from(code: api::ErrorCode) -> Self {
        match code {
            api::ErrorCode::Denied(text) => ClientError::Denied(text),
            api::ErrorCode::InvalidRequest(text) => ClientError::InvalidRequest(text),
            api::ErrorCode::Connect(text) => ClientError::Connect(text),
            api::ErrorCode::Tls(text) => ClientError::Tls(text),
            api::ErrorCode::Timeout => ClientError::Timeout,
            api::ErrorCode::LimitExceeded(text) => ClientError::LimitExceeded(text),
            api::ErrorCode::Credential(text) => ClientError::Credential(text),
            api::ErrorCode::Internal(text) => ClientError::Internal(text),
        }
    }
}

/// A response body that arrives in chunks.
pub trait BodyStream {
    /// The next chunk, or `None` at the end of the body. Blocks until data arrives.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError>;
}

/// The server's answer. Any HTTP status is a response; only transport failures are
/// [`ClientError`]s.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, readable as it arrives.
    pub body: Box<dyn BodyStream>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Reads the whole body.
    pub fn read_body(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.body.next_chunk()? {
            if body.is_empty() {
                body = chunk;
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        Ok(body)
    }
}

/// Sends requests to the API server.
pub trait Transport {
    /// Sends `request` and returns the response head; the body streams.
    fn send(&mut self, request: &Request) -> Result<Response, ClientError>;

    /// Waits `delay` before a retry or a reconnection. Part of the transport so that
    /// tests (and embedders with their own scheduling) replace real waiting; the default
    /// sleeps on the WASI monotonic clock.
    fn backoff(&mut self, delay: Duration) {
        std::thread::sleep(delay);
    }
}

/// The host's `api` capability: the real transport of a guest.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostApi;

/// How much a body read asks the host for at once.
const READ_CHUNK: u64 = 64 * 1024;

impl Transport for HostApi {
    fn send(&mut self, request: &Request) -> Result<Response, ClientError> {
        let wire = api::Request {
            method: match request.method {
                Method::Get => api::Method::Get,
                Method::Head => api::Method::Head,
                Method::Post => api::Method::Post,
                Method::Put => api::Method::Put,
                Method::Patch => api::Method::Patch,
                Method::Delete => api::Method::Delete,
            },
            path_and_query: request.path_and_query.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let response = api::send(&wire)?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: Box::new(HostBody {
                stream: Some(response.body),
            }),
        })
    }
}

/// A body read from the host's `input-stream`.
struct HostBody {
    /// `None` once the stream ended, so it is dropped as soon as possible.
    stream: Option<wasip2::io::streams::InputStream>,
}

impl BodyStream for HostBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        use wasip2::io::streams::StreamError;
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        loop {
            match stream.blocking_read(READ_CHUNK) {
                // A zero-length read is allowed; it is not the end of the body.
                Ok(chunk) if chunk.is_empty() => continue,
                Ok(chunk) => return Ok(Some(chunk)),
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(error)) => {
                    self.stream = None;
                    return Err(match api::body_error(&error) {
                        Some(code) => ClientError::from(code),
                        None => ClientError::Body(error.to_debug_string()),
                    });
                }
            }
        }
    }
}

/// A body held in memory, delivered in the given chunks: for tests, and for embedders
/// that replay recorded responses.
#[derive(Debug, Default)]
pub struct MemoryBody {
    chunks: VecDeque<Result<Vec<u8>, ClientError>>,
}

impl MemoryBody {
    /// A body delivered as `chunks`, in order.
    pub fn new(chunks: impl IntoIterator<Item = Vec<u8>>) -> Self {
        MemoryBody {
            chunks: chunks.into_iter().map(Ok).collect(),
        }
    }

    /// A body that fails with `error` after its chunks (a dropped connection).
    pub fn failing_with(mut self, error: ClientError) -> Self {
        self.chunks.push_back(Err(error));
        self
    }
}

impl BodyStream for MemoryBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        self.chunks.pop_front().transpose()
    }
}

/// What a guest knows about where it runs: the parts of the host's
/// `credentials.describe` that commands use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The namespace used when the user names none.
    pub namespace: String,
    /// The API server URL, for messages.
    pub server: String,
}

impl Context {
    /// The host's description of the credential it uses for this guest. Call it only in
    /// a component: natively there is no host to ask, and it panics.
    pub fn from_host() -> Context {
        let identity = credentials::describe();
        Context {
            namespace: identity.namespace,
            server: identity.server,
        }
    }
}

/// A client of the API server, the way kube-rs's `Client` and `Api` are one: requests
/// over a [`Transport`], with the defaults of the credential ([`Context`]).
///
/// Every call retries when the server asks to (see [`retry`]) and turns a non-2xx
/// response into [`Error::Server`] with the server's `Status`; a request the host
/// refuses is [`Error::Client`] ([`Error::denial`] has the policy's text). Objects decode
/// into any `Deserialize` type: a struct with the fields a guest reads (serde skips the
/// rest), or `serde_json::Value`.
///
/// ```
/// use kubewasm_guest::client::{Client, Context, MemoryBody, Response, Transport};
/// use kubewasm_guest::request::{ListParams, Request, ResourceUrl};
///
/// /// Answers every request with one page holding one pod (a recorded response).
/// struct OnePod;
/// impl Transport for OnePod {
///     fn send(&mut self, request: &Request) -> Result<Response, kubewasm_guest::client::ClientError> {
///         assert_eq!(request.path_and_query, "/api/v1/namespaces/demo/pods?limit=500");
///         let body = br#"{"kind":"PodList","metadata":{},"items":[{"metadata":{"name":"web"}}]}"#;
///         Ok(Response {
///             status: 200,
///             headers: vec![],
///             body: Box::new(MemoryBody::new([body.to_vec()])),
///         })
///     }
/// }
///
/// let mut client = Client::new(OnePod, Context { namespace: "demo".into(), server: String::new() });
/// let pods = ResourceUrl::from_parts("v1", "pods", Some(client.namespace())).unwrap();
/// let items: Vec<serde_json::Value> = client.list(&pods, &ListParams::default()).unwrap();
/// assert_eq!(items[0]["metadata"]["name"], "web");
/// ```
pub struct Client {
    transport: Box<dyn Transport>,
    context: Context,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client sending through `transport`, with `context`'s defaults.
    pub fn new(transport: impl Transport + 'static, context: Context) -> Client {
        Client {
            transport: Box::new(transport),
            context,
        }
    }

    /// The host's client: [`HostApi`] and [`Context::from_host`]. Only in a component.
    pub fn from_host() -> Client {
        Client::new(HostApi, Context::from_host())
    }

    /// The credential's defaults.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The namespace to use when the user names none.
    pub fn namespace(&self) -> &str {
        &self.context.namespace
    }

    /// The credential's defaults and the transport at once, for the functions that take
    /// both ([`crate::commands::run`]).
    pub fn split(&mut self) -> (&Context, &mut dyn Transport) {
        (&self.context, &mut *self.transport)
    }

    /// The transport, for the lower-level modules ([`crate::watcher`], [`crate::commands`]).
    pub fn transport(&mut self) -> &mut dyn Transport {
        &mut *self.transport
    }

    /// Sends `request` (see [`crate::request`] for building one). The body streams; a
    /// non-2xx response is [`Error::Server`].
    pub fn send(&mut self, request: &Request) -> Result<Response, Error> {
        retry::send(&mut *self.transport, request, &RequestContext::NONE)
    }

    /// Sends `request` and decodes its JSON body as `T`.
    pub fn fetch<T: DeserializeOwned>(&mut self, request: &Request) -> Result<T, Error> {
        fetch(&mut *self.transport, request, &RequestContext::NONE)
    }

    /// Gets the object `name` in `url`'s collection.
    pub fn get<T: DeserializeOwned>(&mut self, url: &ResourceUrl, name: &str) -> Result<T, Error> {
        let group_resource = url.group_resource();
        let context = RequestContext {
            method: Method::Get,
            resource: Some(&group_resource),
            name: Some(name),
        };
        fetch(
            &mut *self.transport,
            &url.get(name, Format::Json)?,
            &context,
        )
    }

    /// Lists `url`'s collection: every page, following `continue` tokens, in pages of
    /// `params.limit` objects (500 if unset, as kubectl).
    pub fn list<T: DeserializeOwned>(
        &mut self,
        url: &ResourceUrl,
        params: &ListParams,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        self.for_each(url, params, |item| {
            items.push(item);
            Ok(())
        })?;
        Ok(items)
    }

    /// [`Client::list`] without holding the list: each object is decoded as its bytes
    /// arrive and handed to `each` (see [`crate::liststream`]), so a guest reading
    /// thousands of objects needs memory for one.
    pub fn for_each<T: DeserializeOwned>(
        &mut self,
        url: &ResourceUrl,
        params: &ListParams,
        mut each: impl FnMut(T) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let group_resource = url.group_resource();
        let context = RequestContext {
            method: Method::Get,
            resource: Some(&group_resource),
            name: None,
        };
        let mut params = ListParams {
            limit: params.limit.or(Some(CHUNK_SIZE)),
            ..params.clone()
        };
        loop {
            let request = url.list(&params, Format::Json);
            let next = fetch_items(
                &mut *self.transport,
                &request,
                &context,
                "items",
                &mut |item, _| each(item),
            )?;
            if next.is_empty() {
                return Ok(());
            }
            params.continue_token = Some(next);
        }
    }

    /// The log of `pod` in `namespace` (`pods/log`), as text.
    pub fn logs(
        &mut self,
        namespace: &str,
        pod: &str,
        params: &LogParams,
    ) -> Result<String, Error> {
        let context = RequestContext {
            method: Method::Get,
            resource: Some("pods"),
            name: Some(pod),
        };
        let request = request::logs(namespace, pod, params)?;
        let body = retry::send(&mut *self.transport, &request, &context)?.read_body()?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// Sends `request` (retrying as [`retry`] says) and decodes the JSON body as `T`.
pub(crate) fn fetch<T: DeserializeOwned>(
    transport: &mut dyn Transport,
    request: &Request,
    context: &RequestContext<'_>,
) -> Result<T, Error> {
    let mut response = retry::send(transport, request, context)?;
    let body = response.read_body()?;
    serde_json::from_slice(&body).map_err(|e| Error::Decode {
        request: format!("{} {}", request.method.as_str(), request.path_and_query),
        reason: e.to_string(),
    })
}

/// Sends a list `request` and decodes the elements of its `array_key` array (`items`,
/// or a Table's `rows`) one by one as the body arrives, handing each to `each` (see
/// [`crate::liststream`]). Returns the list's `continue` token.
pub(crate) fn fetch_items<T: DeserializeOwned>(
    transport: &mut dyn Transport,
    request: &Request,
    context: &RequestContext<'_>,
    array_key: &'static str,
    each: &mut dyn FnMut(T, &ListType) -> Result<(), Error>,
) -> Result<String, Error> {
    let mut response = retry::send(transport, request, context)?;
    liststream::read_items(request, &mut *response.body, array_key, each)
        .map(|meta| meta.continue_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectMeta;
    use crate::testutil::FakeTransport;

    fn client(transport: FakeTransport) -> Client {
        Client::new(
            transport,
            Context {
                namespace: "demo".into(),
                server: "https://127.0.0.1:6443".into(),
            },
        )
    }

    fn pods() -> ResourceUrl {
        ResourceUrl::from_parts("v1", "pods", Some("demo")).unwrap()
    }

    #[derive(Debug, serde::Deserialize)]
    struct Pod {
        metadata: ObjectMeta,
    }

    fn page(names: &[&str], continue_token: &str) -> String {
        let items: Vec<String> = names
            .iter()
            .map(|n| format!(r#"{{"metadata":{{"name":"{n}"}}}}"#))
            .collect();
        format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"continue":"{continue_token}"}},"items":[{}]}}"#,
            items.join(",")
        )
    }

    #[test]
    fn client_list_reads_every_page_into_the_callers_type() {
        let transport = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=2",
                200,
                &page(&["a", "b"], "next-1"),
            )
            .json(
                "/api/v1/namespaces/demo/pods?continue=next-1&limit=2",
                200,
                &page(&["c"], ""),
            );
        let params = ListParams {
            limit: Some(2),
            ..ListParams::default()
        };
        let listed: Vec<Pod> = client(transport).list(&pods(), &params).unwrap();
        let names: Vec<&str> = listed.iter().map(|p| p.metadata.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn client_list_pages_by_500_like_kubectl_when_no_limit_is_given() {
        let transport = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods?limit=500",
            include_str!("../../tests/fixtures/pods-demo-list.http"),
        );
        let listed: Vec<serde_json::Value> = client(transport)
            .list(&pods(), &ListParams::default())
            .unwrap();
        assert_eq!(listed.len(), 50);
        assert_eq!(listed[1]["metadata"]["name"], "demo-00001");
    }

    #[test]
    fn client_get_decodes_the_object_and_a_missing_one_is_the_servers_status() {
        let transport = FakeTransport::new()
            .fixture(
                "/api/v1/namespaces/demo/pods/demo-00001",
                include_str!("../../tests/fixtures/pod-get.http"),
            )
            .fixture(
                "/api/v1/namespaces/demo/pods/nope",
                include_str!("../../tests/fixtures/error-404-missing-pod.http"),
            );
        let mut client = client(transport);
        let pod: Pod = client.get(&pods(), "demo-00001").unwrap();
        assert_eq!(pod.metadata.name, "demo-00001");

        let e = client.get::<Pod>(&pods(), "nope").unwrap_err();
        let status = e.status().expect("a server error");
        assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
        assert!(status.is_not_found());
        assert!(e.denial().is_none());
    }

    #[test]
    fn client_names_the_resource_in_an_error_the_server_sent_without_a_status() {
        let transport = FakeTransport::new().text("/api/v1/namespaces/demo/pods/web", 404, "");
        let e = client(transport).get::<Pod>(&pods(), "web").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error from server (NotFound): the server could not find the requested resource (get pods web)"
        );
    }

    #[test]
    fn client_request_the_host_denies_is_an_error_with_the_policys_text() {
        let transport = FakeTransport::new().deny("list pods in kube-system is not allowed");
        let e = client(transport)
            .list::<Pod>(&pods(), &ListParams::default())
            .unwrap_err();
        assert_eq!(e.denial(), Some("list pods in kube-system is not allowed"));
        assert!(e.status().is_none());
    }

    #[test]
    fn client_logs_are_text() {
        let transport = FakeTransport::new().text(
            "/api/v1/namespaces/demo/pods/web/log?tailLines=2",
            200,
            "one\ntwo\n",
        );
        let params = LogParams {
            tail_lines: Some(2),
            ..LogParams::default()
        };
        let text = client(transport).logs("demo", "web", &params).unwrap();
        assert_eq!(text, "one\ntwo\n");
    }

    #[test]
    fn error_codes_map_to_kubectl_like_messages() {
        let cases = [
            (
                api::ErrorCode::Denied(
                    "GET pods in kube-system is not allowed; add rule ...".into(),
                ),
                "GET pods in kube-system is not allowed; add rule ...",
            ),
            (
                api::ErrorCode::Connect(
                    "dial tcp 10.0.0.1:443: connect: connection refused".into(),
                ),
                "Unable to connect to the server: dial tcp 10.0.0.1:443: connect: connection refused",
            ),
            (
                api::ErrorCode::Tls("certificate signed by unknown authority".into()),
                "Unable to connect to the server: certificate signed by unknown authority (the TLS handshake failed, so the credential was not sent)",
            ),
            (
                // kubewasm's host says it already: not twice.
                api::ErrorCode::Tls(
                    "TLS handshake with https://x failed: expired. No credential was sent.".into(),
                ),
                "Unable to connect to the server: TLS handshake with https://x failed: expired. No credential was sent.",
            ),
            (
                api::ErrorCode::LimitExceeded(
                    "response larger than 64 MiB (--max-response-bytes)".into(),
                ),
                "response larger than 64 MiB (--max-response-bytes)",
            ),
            (
                api::ErrorCode::Internal(None),
                "internal error in the host (a bug)",
            ),
            (
                api::ErrorCode::Credential("exec: executable aws not found".into()),
                "Unable to connect to the server: getting credentials: exec: executable aws not found",
            ),
            (
                api::ErrorCode::Timeout,
                "Unable to connect to the server: timeout: the server did not answer in time",
            ),
        ];
        for (code, message) in cases {
            assert_eq!(ClientError::from(code).to_string(), message);
        }
        assert!(ClientError::Timeout.is_connection_problem());
        assert!(!ClientError::Denied(String::new()).is_connection_problem());
    }

    #[test]
    fn memory_body_reads_chunks_then_ends() {
        let mut response = Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Box::new(MemoryBody::new([b"ab".to_vec(), b"cd".to_vec()])),
        };
        assert!(response.is_success());
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_eq!(response.read_body().unwrap(), b"abcd");
        assert_eq!(response.body.next_chunk().unwrap(), None);
    }

    #[test]
    fn memory_body_can_fail_mid_stream() {
        let mut body =
            MemoryBody::new([b"x".to_vec()]).failing_with(ClientError::Body("reset".into()));
        assert_eq!(body.next_chunk().unwrap(), Some(b"x".to_vec()));
        assert_eq!(
            body.next_chunk().unwrap_err(),
            ClientError::Body("reset".into())
        );
    }
}
