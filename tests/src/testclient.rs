//! A small blocking HTTP/1.1 client for the unit tests: raw TLS (rustls) over `TcpStream`, so
//! tests see the exact framing (each chunk of a chunked body, with its arrival time).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::server::FakeApiServer;

/// Credentials the client presents.
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    ClientCert,
}

/// A response as read off the wire.
pub struct Resp {
    pub status: u16,
    /// Header (name as sent, value).
    pub headers: Vec<(String, String)>,
    /// Body with chunk framing removed.
    pub body: Vec<u8>,
    /// Each chunk of a chunked body and when it arrived.
    pub chunks: Vec<(Instant, Vec<u8>)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// Each line of the body as JSON (a watch stream's events).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding") == Some("chunked")
    }
}

fn tls_config(server: &FakeApiServer, auth: &Auth<'_>, alpn: &[&[u8]]) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(server.pki().ca.cert_der.clone())?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut cfg = match auth {
        Auth::ClientCert => builder.with_client_auth_cert(
            vec![server.pki().admin_client.cert_der.clone()],
            server.pki().admin_client.private_key(),
        )?,
        _ => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(cfg)
}

/// Opens a TLS connection and returns the negotiated ALPN protocol.
pub fn handshake(server: &FakeApiServer, alpn: &[&[u8]]) -> Result<Option<Vec<u8>>> {
    let cfg = tls_config(server, &Auth::None, alpn)?;
    let mut tcp = TcpStream::connect(server.addr())?;
    let mut conn = ClientConnection::new(Arc::new(cfg), ServerName::try_from("127.0.0.1")?)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    Ok(conn.alpn_protocol().map(<[u8]>::to_vec))
}

/// Sends one GET (with `Connection: close`) and reads the whole response.
pub fn get(
    server: &FakeApiServer,
    path: &str,
    auth: Auth<'_>,
    headers: &[(&str, &str)],
) -> Result<Resp> {
    request(server, "GET", path, auth, headers)
}

/// Sends one request and reads the whole response.
pub fn request(
    server: &FakeApiServer,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    headers: &[(&str, &str)],
) -> Result<Resp> {
    send(server, method, path, auth, headers, b"")
}

/// Sends one request with a body (and its `Content-Length`) and reads the whole response.
pub fn send(
    server: &FakeApiServer,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp> {
    let (req, tcp) = open(server, method, path, &auth, headers, body)?;
    if server.url().starts_with("https") {
        let cfg = tls_config(server, &auth, &[b"http/1.1"])?;
        let conn = ClientConnection::new(Arc::new(cfg), ServerName::try_from("127.0.0.1")?)?;
        let mut stream = StreamOwned::new(conn, tcp);
        stream.write_all(&req)?;
        stream.flush()?;
        read_response(BufReader::new(stream), method == "HEAD")
    } else {
        let mut tcp = tcp;
        tcp.write_all(&req)?;
        read_response(BufReader::new(tcp), method == "HEAD")
    }
}

/// A GET over TLS whose response is read raw until the server closes the connection: the
/// bytes after the headers (chunk framing included), and the read error that ended it, if
/// the connection was cut rather than closed.
pub fn get_raw(
    server: &FakeApiServer,
    path: &str,
    auth: Auth<'_>,
) -> Result<(Vec<u8>, Option<String>)> {
    let (req, tcp) = open(server, "GET", path, &auth, &[], b"")?;
    let cfg = tls_config(server, &auth, &[b"http/1.1"])?;
    let conn = ClientConnection::new(Arc::new(cfg), ServerName::try_from("127.0.0.1")?)?;
    let mut stream = StreamOwned::new(conn, tcp);
    stream.write_all(&req)?;
    stream.flush()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let err = loop {
        match std::io::Read::read(&mut stream, &mut buf) {
            Ok(0) => break None,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e.to_string()),
        }
    };
    let body_start = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    Ok((out[body_start..].to_vec(), err))
}

fn open(
    server: &FakeApiServer,
    method: &str,
    path: &str,
    auth: &Auth<'_>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(Vec<u8>, TcpStream)> {
    let tcp = TcpStream::connect(server.addr())?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.addr()
    );
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
    {
        req.push_str("User-Agent: kubewasm-tests/1.0\r\n");
    }
    if let Auth::Bearer(t) = auth {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    Ok((bytes, tcp))
}

fn read_line<R: BufRead>(r: &mut R) -> Result<String> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    if !line.ends_with("\r\n") {
        bail!("line not terminated by CRLF: {line:?}");
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn read_response<R: BufRead>(mut r: R, head_only: bool) -> Result<Resp> {
    let status_line = read_line(&mut r).context("reading the status line")?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?
        .parse()?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut r)?;
        if line.is_empty() {
            break;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("bad header {line:?}"))?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
        chunks: Vec::new(),
    };
    if head_only || status == 204 || status == 304 {
        return Ok(resp);
    }
    if resp.is_chunked() {
        loop {
            let size_line = read_line(&mut r)?;
            let size = usize::from_str_radix(size_line.trim(), 16)?;
            if size == 0 {
                read_line(&mut r)?;
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk)?;
            let at = Instant::now();
            read_line(&mut r)?;
            resp.body.extend_from_slice(&chunk);
            resp.chunks.push((at, chunk));
        }
    } else if let Some(len) = resp.header("content-length") {
        let mut body = vec![0; len.parse()?];
        r.read_exact(&mut body)?;
        resp.body = body;
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}
