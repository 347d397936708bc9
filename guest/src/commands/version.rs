//! `version`: the client's version and the server's `/version`.

use std::io::Write;

use serde_json::{Map, Value};

use super::fetch;
use crate::cli::VersionArgs;
use crate::client::Transport;
use crate::error::Error;
use crate::output::{self, OutputFormat};
use crate::request;
use crate::status::RequestContext;

/// This guest's version, as `version` prints it.
pub const CLIENT_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

pub(super) fn run(
    args: &VersionArgs,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let server = if args.client_only {
        Ok(None)
    } else {
        fetch::<Value>(transport, &request::version(), &RequestContext::NONE).map(Some)
    };
    // Like kubectl, the client's version is printed even when the server cannot be asked.
    let (server, error) = match server {
        Ok(server) => (server, None),
        Err(e) => (None, Some(e)),
    };
    match args.output {
        None => {
            let mut text = format!("Client Version: kubewasm-guest {CLIENT_VERSION}\n");
            if let Some(server) = &server {
                let git_version = server
                    .get("gitVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                text.push_str(&format!("Server Version: {git_version}\n"));
            }
            out.write_all(text.as_bytes())?;
        }
        Some(format) => {
            let mut client = Map::new();
            client.insert("gitVersion".into(), Value::String(CLIENT_VERSION.into()));
            client.insert("program".into(), Value::String("kubewasm-guest".into()));
            client.insert("platform".into(), Value::String("wasm32-wasip2".into()));
            let mut document = Map::new();
            document.insert("clientVersion".into(), Value::Object(client));
            if let Some(server) = server {
                document.insert("serverVersion".into(), server);
            }
            let document = Value::Object(document);
            let text = if format == OutputFormat::Yaml {
                output::to_yaml(&document)
            } else {
                // kubectl indents `version -o json` by two spaces.
                output::to_json_indented(&document, "  ")
            };
            out.write_all(text.as_bytes())?;
        }
    }
    error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use crate::client::ClientError;
    use crate::testutil::{FakeTransport, run_with};

    #[test]
    fn version_prints_client_and_server_versions() {
        let mut t = FakeTransport::new().fixture(
            "/version",
            include_str!("../../../tests/fixtures/version.http"),
        );
        let (code, out, err) = run_with(&["version"], &mut t);
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(
            out,
            "Client Version: kubewasm-guest v0.1.0\nServer Version: v1.36.2\n"
        );
    }

    #[test]
    fn version_as_json() {
        let mut t = FakeTransport::new().fixture(
            "/version",
            include_str!("../../../tests/fixtures/version.http"),
        );
        let (code, out, _) = run_with(&["version", "-o", "json"], &mut t);
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["clientVersion"]["gitVersion"], "v0.1.0");
        assert_eq!(v["serverVersion"]["gitVersion"], "v1.36.2");
        assert!(out.starts_with("{\n  \"clientVersion\": {\n"));
    }

    #[test]
    fn version_client_only_does_not_ask_the_server() {
        let mut t = FakeTransport::new();
        let (code, out, _) = run_with(&["version", "--client"], &mut t);
        assert_eq!(
            (code, out.as_str()),
            (0, "Client Version: kubewasm-guest v0.1.0\n")
        );
        assert!(t.requests.is_empty());
    }

    #[test]
    fn version_prints_the_client_version_before_a_connection_error() {
        let mut t = FakeTransport::new().failing(ClientError::Connect(
            "dial tcp 127.0.0.1:6443: connect: connection refused".into(),
        ));
        let (code, out, err) = run_with(&["version"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(out, "Client Version: kubewasm-guest v0.1.0\n");
        assert_eq!(
            err,
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n"
        );
    }
}
