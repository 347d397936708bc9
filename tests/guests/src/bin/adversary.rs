//! A guest that tries to get around the host, one attempt per run, and prints what
//! happened as one line, so the end-to-end tests can check each refusal:
//!
//! - `request METHOD PATH [NAME=VALUE...]`: send a request with these headers;
//!   prints `status N` or `error CASE: TEXT`.
//! - `read-body PATH`: GET PATH and read the whole body; prints `read N bytes` or
//!   `body-error CASE: TEXT`.
//! - `hold-streams N PATH [SECONDS]`: open N bodies at once and hold them, unread, for
//!   SECONDS (default 0); prints `opened N` or the error of the first that failed.
//! - `starve N HELD-PATH PATH`: open N bodies of HELD-PATH and leave them unread for a
//!   second, then read PATH whole; prints `read N bytes` (or the error).
//! - `read-file PATH`: read a file through WASI; prints `read N bytes` or `error: TEXT`.
//! - `connect ADDR`: open a TCP socket; prints `connected` or `error: TEXT`.
//! - `memory-bomb`: allocate until something gives.
//! - `spin`: compute forever.
//! - `env`: print the environment variables the guest can see.

use kubewasm_test_guests::kubewasm::client::api;
use std::io::Write;
use wasip2::io::streams::StreamError;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let line = match args.first().map(String::as_str) {
        Some("request") => request(&args[1], &args[2], &args[3..]),
        Some("read-body") => read_body(&args[1]),
        Some("flood") => flood(args[1].parse().unwrap_or(1), &args[2], &args[3]),
        Some("big-request") => big_request(
            args[1].parse().unwrap_or(0),
            args[2].parse().unwrap_or(0),
            args[3].parse().unwrap_or(0),
            &args[4],
        ),
        Some("hold-streams") => hold_streams(
            args[1].parse().unwrap_or(1),
            &args[2],
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0),
        ),
        Some("starve") => starve(args[1].parse().unwrap_or(1), &args[2], &args[3]),
        Some("read-file") => match std::fs::read(&args[1]) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("error: {e}"),
        },
        Some("connect") => match std::net::TcpStream::connect(&args[1]) {
            Ok(_) => "connected".to_string(),
            Err(e) => format!("error: {e}"),
        },
        Some("memory-bomb") => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        Some("spin") => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        Some("env") => std::env::vars()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        _ => {
            "usage: adversary request|read-body|hold-streams|read-file|connect|memory-bomb|spin|env"
                .to_string()
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn method(name: &str) -> api::Method {
    match name {
        "POST" => api::Method::Post,
        "PUT" => api::Method::Put,
        "PATCH" => api::Method::Patch,
        "DELETE" => api::Method::Delete,
        "HEAD" => api::Method::Head,
        _ => api::Method::Get,
    }
}

fn describe(err: &api::ErrorCode) -> String {
    match err {
        api::ErrorCode::Denied(t) => format!("denied: {t}"),
        api::ErrorCode::InvalidRequest(t) => format!("invalid-request: {t}"),
        api::ErrorCode::Connect(t) => format!("connect: {t}"),
        api::ErrorCode::Tls(t) => format!("tls: {t}"),
        api::ErrorCode::Timeout => "timeout".to_string(),
        api::ErrorCode::LimitExceeded(t) => format!("limit-exceeded: {t}"),
        api::ErrorCode::Credential(t) => format!("credential: {t}"),
        api::ErrorCode::Internal(t) => format!("internal: {}", t.as_deref().unwrap_or("")),
    }
}

fn send(
    method_name: &str,
    path: &str,
    headers: &[String],
) -> Result<api::Response, api::ErrorCode> {
    let headers = headers
        .iter()
        .map(|h| {
            let (n, v) = h.split_once('=').unwrap_or((h, ""));
            (n.to_string(), v.replace("\\r\\n", "\r\n"))
        })
        .collect();
    api::send(&api::Request {
        method: method(method_name),
        path_and_query: path.replace("\\r\\n", "\r\n"),
        headers,
        body: None,
    })
}

/// Sends the same request `n` times and counts how each ended.
fn flood(n: usize, method_name: &str, path: &str) -> String {
    let mut refused = 0;
    for _ in 0..n {
        if send(method_name, path, &[]).is_err() {
            refused += 1;
        }
    }
    format!("refused {refused} of {n}")
}

/// One POST with `count` headers of `size` bytes each and a body of `body` bytes.
fn big_request(count: usize, size: usize, body: usize, path: &str) -> String {
    let headers = (0..count)
        .map(|i| (format!("x-big-{i}"), "v".repeat(size)))
        .collect();
    let result = api::send(&api::Request {
        method: api::Method::Post,
        path_and_query: path.to_string(),
        headers,
        body: (body > 0).then(|| vec![b' '; body]),
    });
    match result {
        Ok(response) => format!("status {}", response.status),
        Err(e) => format!("error {}", describe(&e)),
    }
}

fn request(method_name: &str, path: &str, headers: &[String]) -> String {
    match send(method_name, path, headers) {
        Ok(response) => format!("status {}", response.status),
        Err(e) => format!("error {}", describe(&e)),
    }
}

fn read_body(path: &str) -> String {
    let response = match send("GET", path, &[]) {
        Ok(r) => r,
        Err(e) => return format!("error {}", describe(&e)),
    };
    let mut total = 0usize;
    loop {
        match response.body.blocking_read(1 << 16) {
            Ok(chunk) => total += chunk.len(),
            Err(StreamError::Closed) => return format!("read {total} bytes"),
            Err(StreamError::LastOperationFailed(e)) => {
                return match api::body_error(&e) {
                    Some(code) => format!("body-error {}", describe(&code)),
                    None => format!("body-error {}", e.to_debug_string()),
                };
            }
        }
    }
}

fn starve(n: usize, held_path: &str, path: &str) -> String {
    let mut held = Vec::new();
    for _ in 0..n {
        match send("GET", held_path, &[]) {
            Ok(r) => held.push(r),
            Err(e) => return format!("error after {} {}", held.len(), describe(&e)),
        }
    }
    // Time for the held bodies' data to arrive and sit unread.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let line = read_body(path);
    drop(held);
    line
}

fn hold_streams(n: usize, path: &str, seconds: u64) -> String {
    let mut held = Vec::new();
    for _ in 0..n {
        match send("GET", path, &[]) {
            Ok(r) => held.push(r),
            Err(e) => return format!("error after {} {}", held.len(), describe(&e)),
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    format!("opened {}", held.len())
}
