//! `get --raw PATH`: GET a path and copy the body to stdout as it arrives.

use std::io::Write;

use super::send;
use crate::cli::GetArgs;
use crate::client::Transport;
use crate::error::Error;
use crate::output::OutputFormat;
use crate::request;
use crate::status::RequestContext;

pub(super) fn run(
    path: &str,
    args: &GetArgs,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if !args.args.is_empty() {
        return Err(Error::Invalid(
            "arguments may not be passed when --raw is specified".into(),
        ));
    }
    if args.watch
        || args.label_selector.is_some()
        || args.field_selector.is_some()
        || args.all_namespaces
        || args.output != OutputFormat::Table
    {
        return Err(Error::Invalid(
            "--raw may not be specified with other flags that filter the server request or alter the output".into(),
        ));
    }
    let request = request::raw(path)?;
    let mut response = send(transport, &request, &RequestContext::NONE)?;
    while let Some(chunk) = response.body.next_chunk()? {
        out.write_all(&chunk)?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testutil::{FakeTransport, run_with};

    #[test]
    fn raw_copies_the_body_as_is() {
        let mut t = FakeTransport::new().fixture(
            "/version",
            include_str!("../../../tests/fixtures/version.http"),
        );
        let (code, out, _) = run_with(&["get", "--raw", "/version"], &mut t);
        assert_eq!(code, 0);
        assert!(out.starts_with("{\n  \"major\": \"1\",\n"));
        assert!(out.ends_with("\"platform\": \"linux/amd64\"\n}"));
    }

    #[test]
    fn raw_non_2xx_prints_the_status_error() {
        let mut t = FakeTransport::new().fixture(
            "/apis/nope",
            include_str!("../../../tests/fixtures/error-404-unknown-resource.http"),
        );
        let (code, out, err) = run_with(&["get", "--raw", "/apis/nope"], &mut t);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            "Error from server (NotFound): the server could not find the requested resource\n"
        );
    }

    #[test]
    fn raw_text_error_is_synthesized_like_client_go() {
        let mut t =
            FakeTransport::new().text("/readyz", 500, "[-]etcd failed\nreadyz check failed\n");
        let (code, _, err) = run_with(&["get", "--raw", "/readyz"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "Error from server (InternalError): an error on the server (\"[-]etcd failed\\nreadyz check failed\") has prevented the request from succeeding\n"
        );
    }

    #[test]
    fn raw_rejects_relative_paths_and_extra_arguments() {
        let mut t = FakeTransport::new();
        let (code, _, err) = run_with(&["get", "--raw", "version"], &mut t);
        assert_eq!(code, 1);
        assert!(
            err.starts_with("error: --raw must be an absolute path"),
            "{err}"
        );
        let (_, _, err) = run_with(&["get", "pods", "--raw", "/api"], &mut t);
        assert_eq!(
            err,
            "error: arguments may not be passed when --raw is specified\n"
        );
        let (_, _, err) = run_with(&["get", "--raw", "/api", "-w"], &mut t);
        assert!(err.starts_with("error: --raw may not be specified with other flags"));
        assert!(t.requests.is_empty());
    }
}
