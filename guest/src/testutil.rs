//! Test helpers: the recorded API server responses in `tests/fixtures`, and a fake
//! transport that replays them.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, Write};
use std::time::Duration;

use crate::client::{ClientError, MemoryBody, Response, Transport};
use crate::commands::{self, Context};
use crate::request::Request;

/// A recorded response: curl's `-i` output (status line, headers, blank line, body).
pub(crate) struct Fixture<'a> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// Splits a `.http` fixture into status, headers (names lowercased) and body bytes.
pub(crate) fn fixture(text: &str) -> Fixture<'_> {
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a fixture has a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a fixture starts with a status line");
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect();
    Fixture {
        status,
        headers,
        body: body.as_bytes(),
    }
}

/// The body of a fixture.
pub(crate) fn fixture_body(text: &str) -> &[u8] {
    fixture(text).body
}

#[derive(Clone)]
struct Route {
    status: u16,
    headers: Vec<(String, String)>,
    chunks: Vec<Vec<u8>>,
    error: Option<ClientError>,
}

/// What a path answers: queued responses (or transport failures) taken in order; the
/// last one repeats.
#[derive(Default)]
struct Script {
    queue: VecDeque<Result<Route, ClientError>>,
    /// The queue holds a default (discovery) answer that the first scripted one replaces.
    default: bool,
}

/// A transport that answers exact `path_and_query`s with canned responses, in order, and
/// records every request it gets.
///
/// `/api` and `/apis` answer with the recorded aggregated discovery of the fixture
/// server unless a test scripts them. Discovery requests (`/api`, `/apis`, `/api/V`,
/// `/apis/G/V`) are recorded in `discovery`, not in `requests`, so that tests of a
/// command see the command's own requests.
pub(crate) struct FakeTransport {
    routes: HashMap<String, Script>,
    failure: Option<ClientError>,
    pub requests: Vec<Request>,
    pub discovery: Vec<Request>,
    /// Every wait the code asked for, in order.
    pub sleeps: Vec<Duration>,
}

impl Default for FakeTransport {
    fn default() -> Self {
        let mut t = FakeTransport {
            routes: HashMap::new(),
            failure: None,
            requests: Vec::new(),
            discovery: Vec::new(),
            sleeps: Vec::new(),
        };
        for (path, text) in [
            (
                "/api",
                include_str!("../../tests/fixtures/discovery-aggregated-api.http"),
            ),
            (
                "/apis",
                include_str!("../../tests/fixtures/discovery-aggregated-apis.http"),
            ),
        ] {
            let f = fixture(text);
            let route = Route {
                status: f.status,
                headers: f.headers,
                chunks: vec![f.body.to_vec()],
                error: None,
            };
            t.routes.insert(
                path.to_string(),
                Script {
                    queue: VecDeque::from([Ok(route)]),
                    default: true,
                },
            );
        }
        t
    }
}

/// Whether `path_and_query` is a discovery document (not a resource request).
pub(crate) fn is_discovery_path(path_and_query: &str) -> bool {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    matches!(
        segments.as_slice(),
        ["api"] | ["apis"] | ["api", _] | ["apis", _, _]
    )
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

fn text_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "text/plain".into())]
}

impl FakeTransport {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, path: &str, answer: Result<Route, ClientError>) -> Self {
        let script = self.routes.entry(path.to_string()).or_default();
        if script.default {
            script.queue.clear();
            script.default = false;
        }
        script.queue.push_back(answer);
        self
    }

    fn route(self, path: &str, route: Route) -> Self {
        self.push(path, Ok(route))
    }

    /// Answers `path` with a recorded fixture.
    pub fn fixture(self, path: &str, text: &'static str) -> Self {
        let f = fixture(text);
        self.route(
            path,
            Route {
                status: f.status,
                headers: f.headers,
                chunks: vec![f.body.to_vec()],
                error: None,
            },
        )
    }

    pub fn json(self, path: &str, status: u16, body: &str) -> Self {
        self.chunks(path, status, vec![body.as_bytes().to_vec()])
    }

    /// A JSON response with extra headers (e.g. `retry-after`).
    pub fn json_with_headers(
        self,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Self {
        let mut all = json_headers();
        all.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        self.route(
            path,
            Route {
                status,
                headers: all,
                chunks: vec![body.as_bytes().to_vec()],
                error: None,
            },
        )
    }

    pub fn text(self, path: &str, status: u16, body: &str) -> Self {
        self.route(
            path,
            Route {
                status,
                headers: text_headers(),
                chunks: vec![body.as_bytes().to_vec()],
                error: None,
            },
        )
    }

    /// A JSON body delivered in `chunks`.
    pub fn chunks(self, path: &str, status: u16, chunks: Vec<Vec<u8>>) -> Self {
        self.route(
            path,
            Route {
                status,
                headers: json_headers(),
                chunks,
                error: None,
            },
        )
    }

    /// A 200 JSON body that breaks with `error` after `chunks` (a dropped connection).
    pub fn failing_chunks(self, path: &str, chunks: Vec<Vec<u8>>, error: ClientError) -> Self {
        self.route(
            path,
            Route {
                status: 200,
                headers: json_headers(),
                chunks,
                error: Some(error),
            },
        )
    }

    /// A 200 text body delivered in `chunks`.
    pub fn text_chunks(self, path: &str, chunks: Vec<Vec<u8>>) -> Self {
        self.route(
            path,
            Route {
                status: 200,
                headers: text_headers(),
                chunks,
                error: None,
            },
        )
    }

    /// A 200 text body that breaks with `error` after `chunks`.
    pub fn failing_text(self, path: &str, chunks: Vec<Vec<u8>>, error: ClientError) -> Self {
        self.route(
            path,
            Route {
                status: 200,
                headers: text_headers(),
                chunks,
                error: Some(error),
            },
        )
    }

    /// The request to `path` fails with `error` (no response at all).
    pub fn fail(self, path: &str, error: ClientError) -> Self {
        self.push(path, Err(error))
    }

    /// Every request but discovery fails with `error` (the host's default policy
    /// allows discovery).
    pub fn failing(mut self, error: ClientError) -> Self {
        self.failure = Some(error);
        self
    }

    /// Every request but discovery is denied by the host's policy with `reason`.
    pub fn deny(self, reason: &str) -> Self {
        self.failing(ClientError::Denied(reason.to_string()))
    }

    /// The paths of the (non-discovery) requests, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.requests
            .iter()
            .map(|r| r.path_and_query.as_str())
            .collect()
    }
}

impl Transport for FakeTransport {
    fn send(&mut self, request: &Request) -> Result<Response, ClientError> {
        if is_discovery_path(&request.path_and_query) {
            self.discovery.push(request.clone());
        } else {
            self.requests.push(request.clone());
            if let Some(error) = &self.failure {
                return Err(error.clone());
            }
        }
        let Some(script) = self.routes.get_mut(&request.path_and_query) else {
            let body = format!(
                r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"fake transport has no route for {}","reason":"NotFound","code":404}}"#,
                request.path_and_query
            );
            return Ok(Response {
                status: 404,
                headers: json_headers(),
                body: Box::new(MemoryBody::new([body.into_bytes()])),
            });
        };
        let answer = if script.queue.len() > 1 {
            script.queue.pop_front()
        } else {
            script.queue.front().cloned()
        };
        let route = match answer {
            Some(Ok(route)) => route,
            Some(Err(error)) => return Err(error),
            None => return Err(ClientError::Internal(Some("empty script".into()))),
        };
        let mut body = MemoryBody::new(route.chunks);
        if let Some(error) = route.error {
            body = body.failing_with(error);
        }
        Ok(Response {
            status: route.status,
            headers: route.headers,
            body: Box::new(body),
        })
    }

    fn backoff(&mut self, delay: Duration) {
        self.sleeps.push(delay);
    }
}

/// An output stream that records what was written and how often it was flushed.
#[derive(Default)]
pub(crate) struct Recorder {
    pub data: Vec<u8>,
    pub flushes: usize,
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

/// The outcome of running the script.
pub(crate) struct Run {
    pub code: u8,
    pub out: String,
    pub err: String,
    pub flushes: usize,
}

/// The context tests run in: namespace `default` on a local server.
pub(crate) fn test_context() -> Context {
    Context {
        namespace: "default".into(),
        server: "https://127.0.0.1:6443".into(),
    }
}

/// `-f` files held in memory (`-` is stdin).
pub(crate) struct MemoryFiles(pub HashMap<String, String>);

impl commands::Files for MemoryFiles {
    fn read(&mut self, path: &str) -> io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file or directory"))
    }
}

/// Runs the script with `args` against `transport`.
pub(crate) fn run_full(args: &[&str], transport: &mut FakeTransport) -> Run {
    run_files(args, transport, &[])
}

/// Runs the script with `args` against `transport`, with `files` readable by `-f`.
pub(crate) fn run_files(
    args: &[&str],
    transport: &mut FakeTransport,
    files: &[(&str, &str)],
) -> Run {
    let mut out = Recorder::default();
    let mut err = Recorder::default();
    let mut files = MemoryFiles(
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
    );
    let code = commands::run_with_files(
        args.iter().map(OsString::from),
        &test_context(),
        transport,
        &mut files,
        &mut out,
        &mut err,
    );
    Run {
        code,
        out: String::from_utf8_lossy(&out.data).into_owned(),
        err: String::from_utf8_lossy(&err.data).into_owned(),
        flushes: out.flushes,
    }
}

/// Runs the script and returns (exit code, stdout, stderr).
pub(crate) fn run_with(args: &[&str], transport: &mut FakeTransport) -> (u8, String, String) {
    let run = run_full(args, transport);
    (run.code, run.out, run.err)
}
