//! The recorded kube-apiserver v1.36 responses in `tests/fixtures/*.http`, embedded into the
//! binary and parsed into status, headers and body.
//!
//! Every `.http` file is `curl -sS -i` output: a status line, header lines ending in CRLF, an
//! empty line, then the body exactly as received (for chunked responses curl has already removed
//! the chunk framing). `tests/fixtures/README.md` says which request produced each file.
//!
//! The files are embedded with `include_bytes!` so that the demo binary is self-contained and the
//! fake server never depends on the working directory it is started from.

use anyhow::{Context, Result, anyhow, bail};

/// One parsed fixture: what the real API server answered.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// File name inside `tests/fixtures/`, e.g. `pod-get.http`.
    pub name: &'static str,
    /// The HTTP version token of the status line (`HTTP/1.1` or `HTTP/2`).
    pub version: &'static str,
    /// Numeric status code.
    pub status: u16,
    /// Reason phrase (empty for HTTP/2, which has none).
    pub reason: &'static str,
    /// Response headers in the order received, names as written by the server.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body bytes (chunk framing already decoded by curl, except in `*.raw-chunked.http`).
    pub body: &'static [u8],
}

impl Fixture {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'static str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// True when the server streamed this response with `Transfer-Encoding: chunked`.
    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }

    /// The body as UTF-8 text (every fixture except the protobuf one is text).
    pub fn body_str(&self) -> Result<&'static str> {
        std::str::from_utf8(self.body)
            .with_context(|| format!("fixture {} has a body that is not UTF-8", self.name))
    }
}

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        /// Every embedded fixture file: (file name, raw bytes).
        pub const ALL: &[(&str, &[u8])] = &[
            $(($name, include_bytes!(concat!("../fixtures/", $name)))),*
        ];
    };
}

embed!(
    "api-v1.http",
    "api.http",
    "apis-apps-v1.http",
    "apis.http",
    "configmaps-demo-list.http",
    "create-configmap-201.http",
    "create-pod-201.http",
    "delete-configmap-200-status.http",
    "delete-pod-200-object.http",
    "discovery-aggregated-api.http",
    "discovery-aggregated-apis.http",
    "error-401-bad-token.http",
    "error-403-anonymous-list-pods.http",
    "error-403-reader-list-pods-kube-system.http",
    "error-403-reader-list-secrets.http",
    "error-404-delete-missing.http",
    "error-404-missing-namespace-list.http",
    "error-404-missing-pod.http",
    "error-404-unknown-resource.http",
    "error-406-not-acceptable.http",
    "error-409-create-existing-pod.http",
    "error-409-update-conflict.http",
    "error-410-expired-continue.http",
    "error-410-list-resourceversion-exact-compacted.http",
    "error-415-unsupported-media-type.http",
    "error-422-invalid-pod.http",
    "healthz.http",
    "livez-anonymous.http",
    "namespaces-list.http",
    "nodes-list.http",
    "nodes-table.http",
    "openapi-v3-index.http",
    "openid-v1-jwks.http",
    "patch-apply-configmap.http",
    "patch-json-configmap.http",
    "patch-merge-configmap.http",
    "patch-strategic-configmap.http",
    "pod-get-curl-useragent-pretty.http",
    "pod-get-pending.http",
    "pod-get-table.http",
    "pod-get.http",
    "pods-all-namespaces-limit2.http",
    "pods-demo-fieldselector-pending.http",
    "pods-demo-labelselector.http",
    "pods-demo-limit5-page2.http",
    "pods-demo-limit5.http",
    "pods-demo-list.http",
    "pods-demo-table-includeObject-None.http",
    "pods-demo-table.http",
    "pods-log-no-node-204.http",
    "reader-list-pods-demo-limit2.http",
    "readyz-verbose.http",
    "serviceaccount-reader.http",
    "version-anonymous.http",
    "version.http",
    "watch-pods-demo-sendInitialEvents.http",
    "watch-pods-demo.http",
    "watch-pods-demo.raw-chunked.http",
    "watch-too-old-resourceversion-no-bookmarks.http",
    "watch-too-old-resourceversion.http",
    "well-known-openid-configuration.http",
);

/// Looks up and parses an embedded fixture by file name.
pub fn get(name: &str) -> Result<Fixture> {
    let (name, bytes) = ALL
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| anyhow!("no embedded fixture named {name}"))?;
    parse(name, bytes)
}

/// Parses curl `-i` output: status line, CRLF-terminated headers, blank line, body.
pub fn parse(name: &'static str, bytes: &'static [u8]) -> Result<Fixture> {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("fixture {name}: no blank line after the headers"))?;
    let head = std::str::from_utf8(&bytes[..head_end])
        .with_context(|| format!("fixture {name}: header block is not UTF-8"))?;
    let body = &bytes[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines
        .next()
        .ok_or_else(|| anyhow!("fixture {name}: empty"))?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        bail!("fixture {name}: status line {status_line:?} does not start with HTTP/");
    }
    let status: u16 = parts
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("fixture {name}: bad status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or_default().trim_end();
    let mut headers = Vec::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("fixture {name}: header line without a colon: {line:?}"))?;
        headers.push((n.trim(), v.trim()));
    }
    Ok(Fixture {
        name,
        version,
        status,
        reason,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_parses_and_content_length_matches_body() {
        for (name, bytes) in ALL {
            let f = parse(name, bytes).unwrap();
            assert!(f.status >= 200, "{name}");
            if let Some(len) = f.header("content-length") {
                assert_eq!(len.parse::<usize>().unwrap(), f.body.len(), "{name}");
            }
        }
    }

    #[test]
    fn fixture_headers_keep_server_order_and_case() {
        let f = get("version.http").unwrap();
        assert_eq!(f.status, 200);
        assert_eq!(f.reason, "OK");
        assert_eq!(
            f.headers[0],
            ("Audit-Id", "e27738e0-2ef3-4e93-ae78-90a6ebaa4b94")
        );
        assert_eq!(f.header("content-type"), Some("application/json"));
        assert!(!f.is_chunked());
        assert!(get("pods-demo-list.http").unwrap().is_chunked());
    }
}
