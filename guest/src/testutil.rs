//! Test helpers: the recorded API server responses in `tests/fixtures`, and a fake
//! transport that replays them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Write};

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

struct Route {
    status: u16,
    headers: Vec<(String, String)>,
    chunks: Vec<Vec<u8>>,
    error: Option<ClientError>,
}

/// A transport that answers exact `path_and_query`s with canned responses and records
/// every request it gets.
#[derive(Default)]
pub(crate) struct FakeTransport {
    routes: HashMap<String, Route>,
    failure: Option<ClientError>,
    pub requests: Vec<Request>,
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

    fn route(mut self, path: &str, route: Route) -> Self {
        self.routes.insert(path.to_string(), route);
        self
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

    /// Every request fails with `error`.
    pub fn failing(mut self, error: ClientError) -> Self {
        self.failure = Some(error);
        self
    }

    /// Every request is denied by the host's policy with `reason`.
    pub fn deny(self, reason: &str) -> Self {
        self.failing(ClientError::Denied(reason.to_string()))
    }
}

impl Transport for FakeTransport {
    fn send(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.requests.push(request.clone());
        if let Some(error) = &self.failure {
            return Err(error.clone());
        }
        let Some(route) = self.routes.get(&request.path_and_query) else {
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
        let mut body = MemoryBody::new(route.chunks.clone());
        if let Some(error) = &route.error {
            body = body.failing_with(error.clone());
        }
        Ok(Response {
            status: route.status,
            headers: route.headers.clone(),
            body: Box::new(body),
        })
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

/// Runs the script with `args` against `transport`.
pub(crate) fn run_full(args: &[&str], transport: &mut FakeTransport) -> Run {
    let mut out = Recorder::default();
    let mut err = Recorder::default();
    let code = commands::run(
        args.iter().map(OsString::from),
        &test_context(),
        transport,
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
