//! Request handling: record, authenticate, throttle, authorize, route.
//!
//! The order mirrors kube-apiserver's filter chain: authentication (401 for a token nobody
//! issued), then priority and fairness (where injected 429s happen), then authorization on the
//! parsed `RequestInfo` (403 with RBAC's wording), then the handler. Every request is recorded
//! before any of that, so tests can inspect exactly what a client sent, including requests the
//! server rejected.

use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;

use crate::auth::{self, Credentials, Identity, RequestInfo};
use crate::cluster::Cluster;
use crate::faults::{self, FaultState};
use crate::fixtures::Fixture;
use crate::response::{self, Ctx, Reply, ResponseBody, details, status_body};
use crate::server::{RecordedRequest, ServerConfig};
use crate::store::{ResKey, Store, new_uuid};
use crate::writes::{self, Write};
use crate::{bulk, discovery, lists, logs, watch};

/// The API server's limit on request bodies (`maxRequestBodyBytes`, 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// State shared by all connections of one server.
pub struct Shared {
    /// The configuration the server was started with.
    pub config: ServerConfig,
    /// The recorded cluster: catalog and fixtures.
    pub cluster: Cluster,
    /// The live objects, resourceVersion and event history.
    pub store: Mutex<Store>,
    /// The faults in force and their counters.
    pub faults: Mutex<FaultState>,
    /// Every request, in arrival order.
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// The admin bearer token accepted now: `config.token` until a test rotates it with
    /// [`crate::FakeApiServer::set_admin_token`].
    pub admin_token: Mutex<Option<String>>,
    /// Priority-and-fairness identifiers per kind of caller, taken from recordings.
    flows: Flows,
}

struct Flows {
    admin: (String, String),
    reader: (String, String),
    anonymous: (String, String),
    /// The `probes` flow schema: health checks by anyone but system:masters.
    probes: (String, String),
}

fn flow_of(f: &Fixture) -> anyhow::Result<(String, String)> {
    let get = |n: &str| {
        f.header(n)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{} has no {n} header", f.name))
    };
    Ok((
        get("X-Kubernetes-Pf-Flowschema-Uid")?,
        get("X-Kubernetes-Pf-Prioritylevel-Uid")?,
    ))
}

/// A failed request: a `Status` reply, a recorded error reply, or an internal error (500).
pub enum Fail {
    /// A `Status` with this code, reason, message and optional raw `details`.
    Status {
        /// HTTP status code.
        code: u16,
        /// `reason` (may be empty).
        reason: &'static str,
        /// `message`.
        message: String,
        /// Raw `details` JSON.
        details: Option<String>,
    },
    /// Replay the recorded response with this file name.
    Recorded(&'static str),
    /// A generated error body sent with the headers of a recorded response.
    Body {
        /// HTTP status code.
        code: u16,
        /// The complete body.
        body: String,
        /// Recorded response whose headers to use.
        template: &'static str,
    },
    /// A bug or broken fixture: 500 with the error text.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Fail::Internal(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        Fail::Internal(e.into())
    }
}

impl Fail {
    /// 400 BadRequest (no details, like `apierrors.NewBadRequest`).
    pub fn bad_request(message: impl Into<String>) -> Fail {
        Fail::Status {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 404 NotFound for a named object, like `apierrors.NewNotFound`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Fail {
        let qualified = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        Fail::Status {
            code: 404,
            reason: "NotFound",
            message: format!("{qualified} \"{name}\" not found"),
            details: Some(details(name, group, resource)),
        }
    }

    /// 405 for writes and verbs this fake does not serve.
    pub fn method_not_allowed() -> Fail {
        Fail::Status {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: Some("{}".into()),
        }
    }
}

/// Result type of handlers.
pub type Handled = Result<Reply, Fail>;

impl Shared {
    /// Builds the shared state; fails if a recording needed for headers is missing.
    pub fn new(config: ServerConfig, cluster: Cluster) -> anyhow::Result<Shared> {
        let flows = Flows {
            admin: flow_of(&cluster.fixture("version.http")?)?,
            reader: flow_of(&cluster.fixture("reader-list-pods-demo-limit2.http")?)?,
            anonymous: flow_of(&cluster.fixture("version-anonymous.http")?)?,
            probes: flow_of(&cluster.fixture("livez-anonymous.http")?)?,
        };
        let mut store = Store::new(
            &cluster,
            config.watch_history,
            config.faults.expire_watch_rv_below,
        )?;
        if let Some(spec) = &config.bulk_pods {
            let first = store.next_rv();
            let (ns, pods) = bulk::generate(&cluster, spec, first)?;
            let last = first + pods.len() as u64;
            let pod_res = ResKey::new("", "pods");
            let mut objects = vec![(ResKey::new("", "namespaces"), ns)];
            objects.extend(pods.into_iter().map(|p| (pod_res.clone(), p)));
            store.preload(last, objects);
        }
        Ok(Shared {
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            admin_token: Mutex::new(config.token.clone()),
            config,
            cluster,
            store: Mutex::new(store),
            requests: Mutex::new(Vec::new()),
            flows,
        })
    }

    fn flow_for(&self, id: Identity, info: &RequestInfo) -> (String, String) {
        let health = !info.is_resource
            && ["/healthz", "/livez", "/readyz"]
                .iter()
                .any(|p| info.path == *p || info.path.starts_with(&format!("{p}/")));
        match id {
            Identity::Admin => self.flows.admin.clone(),
            _ if health => self.flows.probes.clone(),
            Identity::Reader => self.flows.reader.clone(),
            Identity::Anonymous => self.flows.anonymous.clone(),
        }
    }

    /// Replays a recorded response, or a 500 if it is not embedded.
    pub fn recorded(&self, ctx: &Ctx, name: &str) -> Reply {
        match self.cluster.fixture(name) {
            Ok(f) => Reply::fixture(ctx, &f),
            Err(e) => internal_error(ctx, &e),
        }
    }

    /// A generated JSON body with the header set of the recorded pod list.
    pub fn json(&self, ctx: &Ctx, status: u16, body: String) -> Handled {
        let template = self.cluster.fixture("pods-demo-list.http")?;
        Ok(Reply::with_template(ctx, &template, status, body))
    }

    fn fail(&self, ctx: &Ctx, fail: Fail) -> Reply {
        match fail {
            Fail::Recorded(name) => self.recorded(ctx, name),
            Fail::Body {
                code,
                body,
                template,
            } => match self.cluster.fixture(template) {
                Ok(t) => Reply::with_template(ctx, &t, code, body),
                Err(e) => internal_error(ctx, &e),
            },
            Fail::Internal(e) => internal_error(ctx, &e),
            Fail::Status {
                code,
                reason,
                message,
                details,
            } => {
                let template = if code == 403 {
                    "error-403-reader-list-secrets.http"
                } else {
                    "error-404-missing-pod.http"
                };
                match self.cluster.fixture(template) {
                    Ok(t) => {
                        let mut reply = Reply::with_template(
                            ctx,
                            &t,
                            code,
                            status_body(code, reason, &message, details.as_deref()),
                        );
                        // `responsewriters.ErrorNegotiated`: a retry delay becomes a header.
                        let retry = details
                            .as_deref()
                            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                            .and_then(|d| d["retryAfterSeconds"].as_u64())
                            .filter(|s| *s > 0);
                        if let Some(secs) = retry {
                            reply.set_header("Retry-After", &secs.to_string());
                            reply.headers.sort_by(|a, b| a.0.cmp(&b.0));
                        }
                        reply
                    }
                    Err(e) => internal_error(ctx, &e),
                }
            }
        }
    }
}

/// `apierrors.NewInternalError`, with headers like the recorded 500.
fn internal_error(ctx: &Ctx, e: &anyhow::Error) -> Reply {
    let msg = format!("{e:#}");
    let cause = format!(
        "{{\"causes\":[{{\"message\":{}}}]}}",
        crate::json::go_string(&msg)
    );
    let body = status_body(
        500,
        "InternalError",
        &format!("Internal error occurred: {msg}"),
        Some(&cause),
    );
    Reply {
        status: 500,
        headers: vec![
            ("Audit-Id".into(), ctx.audit_id.clone()),
            ("Cache-Control".into(), "no-cache, private".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: ResponseBody::Full(Some(Bytes::from(body))),
    }
}

/// Decodes a query string like Go's `url.ParseQuery` (`+` is a space; bad escapes kept as is).
pub fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s
                        .get(i + 1..i + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 3;
                            continue;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    q.unwrap_or_default()
        .split(['&', ';'])
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// A path that answers `302 Found` to another host, for testing that clients do not
/// follow redirects.
pub const REDIRECT_TEST_PATH: &str = "/redirect-test";

/// Serves one request.
pub async fn handle<B>(
    shared: Arc<Shared>,
    verified_client_cert: bool,
    req: Request<B>,
) -> Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body: Result<Bytes, String> =
        match http_body_util::Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => Ok(b.to_bytes()),
            Err(e) => Err(e.to_string()),
        };
    let logged = match shared.requests.lock() {
        Ok(mut log) => {
            log.push(RecordedRequest {
                method: method.clone(),
                path_and_query: path_and_query.clone(),
                headers: headers.clone(),
                body: body.as_ref().map(|b| b.to_vec()).unwrap_or_default(),
                response_gzipped: false,
                http_version: parts.version,
            });
            Some(log.len() - 1)
        }
        Err(_) => None,
    };
    if path == REDIRECT_TEST_PATH {
        // Fault injection: a server (or a proxy in front of it) that redirects elsewhere.
        // A client that followed it would send the credential to another host.
        let mut response = Response::new(ResponseBody::Empty);
        *response.status_mut() = http::StatusCode::FOUND;
        response.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("https://127.0.0.2:1/steal-the-token"),
        );
        return response;
    }
    let query = parse_query(parts.uri.query());
    let incoming = Incoming {
        method: &method,
        path: &path,
        path_and_query: &path_and_query,
        query: &query,
        headers: &headers,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let ctx = Ctx {
                audit_id: new_uuid(),
                flow: None,
                pretty: false,
            };
            let fail = Fail::Status {
                code: 413,
                reason: "RequestEntityTooLarge",
                message: format!("Request entity too large: limit is {MAX_BODY} ({e})"),
                details: None,
            };
            return shared.fail(&ctx, fail).into_response();
        }
    };
    let reply = respond(
        &shared,
        Source::Network {
            verified_client_cert,
        },
        &incoming,
        &body,
    );
    if reply.is_gzipped()
        && let Some(i) = logged
        && let Ok(mut log) = shared.requests.lock()
        && let Some(r) = log.get_mut(i)
    {
        r.response_gzipped = true;
    }
    reply.into_response()
}

/// Where a request comes from.
#[derive(Clone, Copy)]
pub enum Source {
    /// A client connection (authenticated, throttled, authorized).
    Network {
        /// A client certificate the cluster CA signed was presented.
        verified_client_cert: bool,
    },
    /// A test driving the server through [`crate::FakeApiServer`]: acts as the admin and is
    /// neither recorded nor subject to faults.
    Test,
}

/// The parts of a request [`respond`] needs.
pub struct Incoming<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The URL path.
    pub path: &'a str,
    /// Path and query as sent.
    pub path_and_query: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    /// Headers, names lowercase.
    pub headers: &'a [(String, String)],
}

/// The request as handlers see it.
pub struct Call<'a> {
    /// Per-request reply context.
    pub ctx: Ctx,
    /// Parsed request.
    pub info: RequestInfo,
    /// HTTP method.
    pub method: &'a str,
    /// Decoded query parameters, in order.
    pub query: &'a [(String, String)],
    /// Request headers (lowercase names).
    pub headers: &'a [(String, String)],
    /// Injected faults apply (not for requests a test makes through [`Source::Test`]).
    pub faults: bool,
}

impl Call<'_> {
    /// First value of a query parameter.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when the query parameter is present at all (`?verbose`).
    pub fn has_q(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    /// First value of a request header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves a request whose body has been read.
pub fn respond(shared: &Arc<Shared>, source: Source, req: &Incoming<'_>, body: &[u8]) -> Reply {
    let find = |n: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let ua = find("user-agent").unwrap_or_default();
    let pretty = req
        .query
        .iter()
        .find(|(k, _)| k == "pretty")
        .map(|(_, v)| auth::query_bool(Some(v)))
        .unwrap_or_else(|| {
            ["curl", "Wget", "Mozilla/5.0"]
                .iter()
                .any(|p| ua.starts_with(p))
        });
    let mut ctx = Ctx {
        audit_id: new_uuid(),
        flow: None,
        pretty,
    };
    let cfg = &shared.config;
    let id = match source {
        Source::Test => Identity::Admin,
        Source::Network {
            verified_client_cert,
        } => {
            let admin_token = shared.admin_token.lock().ok().and_then(|t| t.clone());
            let creds = Credentials {
                proxy_mode: !cfg.tls,
                admin_token: admin_token.as_deref(),
                reader_token: cfg.reader_token.as_deref(),
            };
            let Ok(id) = auth::authenticate(&creds, verified_client_cert, find("authorization"))
            else {
                return shared.recorded(&ctx, "error-401-bad-token.http");
            };
            id
        }
    };
    let info = RequestInfo::parse(req.method, req.path, req.query);
    ctx.flow = Some(shared.flow_for(id, &info));
    if matches!(source, Source::Network { .. }) {
        let throttled = shared
            .faults
            .lock()
            .ok()
            .and_then(|mut f| f.throttle(req.path_and_query));
        if let Some(t) = throttled {
            return match shared.cluster.fixture("error-404-missing-pod.http") {
                Ok(template) => faults::too_many_requests(&ctx, &template, &t),
                Err(e) => internal_error(&ctx, &e),
            };
        }
    }
    if !auth::authorize(id, &info, cfg.allow_anonymous) {
        let (message, details) = auth::forbidden(id, &info);
        let fail = Fail::Status {
            code: 403,
            reason: "Forbidden",
            message,
            details: Some(details),
        };
        return shared.fail(&ctx, fail);
    }
    let call = Call {
        ctx,
        info,
        method: req.method,
        query: req.query,
        headers: req.headers,
        faults: matches!(source, Source::Network { .. }),
    };
    let result = if call.info.is_resource {
        resource(shared, &call, body)
    } else {
        discovery::non_resource(shared, &call)
    };
    let mut reply = result.unwrap_or_else(|f| shared.fail(&call.ctx, f));
    // Objects, lists and Status errors go through the API server's `SerializeObject`, which
    // compresses; watches and logs are streamed past it (and are streams here anyway, except
    // a log that is not followed).
    let streamed = call.info.verb == "watch" || call.info.subresource == "log";
    if cfg.gzip && !streamed && response::accepts_gzip(call.header("accept-encoding")) {
        reply.gzip();
    }
    reply
}

/// Dispatches a resource request (`/api/v1/...`, `/apis/g/v/...`).
fn resource(shared: &Arc<Shared>, call: &Call<'_>, body: &[u8]) -> Handled {
    let info = &call.info;
    let Some(coll) = shared
        .cluster
        .collection(&info.group, &info.version, &info.resource)
    else {
        return Err(Fail::Recorded("error-404-unknown-resource.http"));
    };
    // `/api/v1/namespaces/NAME` parses with namespace = name; namespaces are cluster-scoped.
    let is_namespaces = info.group.is_empty() && info.resource == "namespaces";
    let namespace = if is_namespaces || !coll.namespaced {
        if !info.namespace.is_empty() && !is_namespaces {
            return Err(Fail::Recorded("error-404-unknown-resource.http"));
        }
        None
    } else if info.namespace.is_empty() {
        None
    } else {
        Some(info.namespace.as_str())
    };
    let named_verb = matches!(info.verb.as_str(), "get" | "update" | "patch" | "delete");
    if coll.namespaced && namespace.is_none() && !info.name.is_empty() && named_verb {
        // There is no `/api/v1/pods/NAME` route.
        return Err(Fail::Recorded("error-404-unknown-resource.http"));
    }
    if !info.subresource.is_empty() {
        let Some(sub) = coll
            .subresources
            .iter()
            .find(|s| s.name == info.subresource)
        else {
            return Err(Fail::Recorded("error-404-unknown-resource.http"));
        };
        return match (info.verb.as_str(), sub.name.as_str()) {
            ("get", "log") if coll.resource == "pods" => {
                logs::pod_log(shared, call, coll, namespace, &info.name)
            }
            ("get", "status") => lists::get(shared, call, coll, namespace, &info.name),
            ("update" | "patch", "status") => writes::write(
                shared,
                &Write {
                    call,
                    coll,
                    namespace,
                    name: &info.name,
                    subresource: Some("status"),
                    body,
                },
            ),
            ("get", "exec" | "attach" | "portforward") => {
                Err(Fail::bad_request("Upgrade request required"))
            }
            _ => Err(Fail::method_not_allowed()),
        };
    }
    match info.verb.as_str() {
        "get" if !info.name.is_empty() && coll.has_verb("get") => {
            lists::get(shared, call, coll, namespace, &info.name)
        }
        "list" if coll.has_verb("list") => lists::list(shared, call, coll, namespace),
        "watch" if coll.has_verb("watch") => watch::watch(shared, call, coll, namespace),
        "create" | "update" | "patch" | "delete" if coll.has_verb(&info.verb) => writes::write(
            shared,
            &Write {
                call,
                coll,
                namespace,
                name: &info.name,
                subresource: None,
                body,
            },
        ),
        _ => Err(Fail::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_follows_go() {
        let q = parse_query(Some(
            "labelSelector=tier%3Dweb%2Cindex%20in%20%280%2C3%2C6%29&watch&a=b+c&bad=%zz",
        ));
        assert_eq!(
            q[0],
            ("labelSelector".into(), "tier=web,index in (0,3,6)".into())
        );
        assert_eq!(q[1], ("watch".into(), String::new()));
        assert_eq!(q[2], ("a".into(), "b c".into()));
        assert_eq!(q[3], ("bad".into(), "%zz".into()));
    }
}
