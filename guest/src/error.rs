//! The errors a command ends with, and the lines kubectl would print for them.

use std::fmt;
use std::io;

use crate::client::ClientError;
use crate::request::RequestError;
use crate::resource::ResolveError;
use crate::status::Status;
use crate::watch::WatchError;

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong; `command` names the command for the usage hint.
    Usage {
        /// What is wrong.
        message: String,
        /// The command the usage is about (`get`), if one was recognized.
        command: Option<String>,
    },
    /// The input is invalid in a way the client itself detects (a bad name, an unknown
    /// resource type, a bad duration).
    Invalid(String),
    /// The request got no response from the host.
    Client(ClientError),
    /// The server answered with an error (`Status`), boxed to keep `Result`s small.
    Server(Box<Status>),
    /// The server's answer could not be understood.
    Decode {
        /// The request, as `GET /path`.
        request: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the output failed (a closed pipe ends the command quietly).
    Output(io::Error),
    /// Several errors, reported in order (e.g. some of several named objects).
    Many(Vec<Error>),
}

impl Error {
    /// The host's policy refused the request: its text, which names the request and the
    /// Role rule that would allow it. Nothing was sent to the server.
    pub fn denial(&self) -> Option<&str> {
        match self {
            Error::Client(ClientError::Denied(text)) => Some(text),
            _ => None,
        }
    }

    /// The API server refused the request: its `Status`, with `code`, `reason` and
    /// `message` (and predicates such as [`Status::is_not_found`]).
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Server(status) => Some(status),
            _ => None,
        }
    }

    /// Whether this is a write to a closed stdout (`| head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::WriteZero))
    }

    /// Ends a guest on this error as kubectl does, and returns its exit code: 0 for a
    /// closed stdout (`| head`), which is not a failure; otherwise what `out` holds is
    /// flushed first, then [`Error::report`] (and `hint`, after a blank line) goes to
    /// `err`, and the code is 1. Failures to write are beside the point by then.
    pub fn finish(
        &self,
        server: &str,
        hint: Option<&str>,
        out: &mut dyn io::Write,
        err: &mut dyn io::Write,
    ) -> u8 {
        if self.is_broken_pipe() {
            return 0;
        }
        let _ = out.flush();
        let mut text = self.report(Some(server));
        text.push('\n');
        if let Some(hint) = hint {
            text.push('\n');
            text.push_str(hint);
        }
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        1
    }

    /// The lines to print for this error. `server` (the API server URL) lets a refused
    /// connection name the host the way kubectl does.
    pub fn report(&self, server: Option<&str>) -> String {
        match self {
            Error::Client(ClientError::Connect(text)) if text.contains("connection refused") => {
                let host = server.map(host_of).unwrap_or("the server");
                format!(
                    "The connection to the server {host} was refused - did you specify the right host or port?"
                )
            }
            Error::Many(errors) => errors
                .iter()
                .map(|e| e.report(server))
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        }
    }
}

/// The `host:port` of a server URL (`https://10.96.0.1:443` → `10.96.0.1:443`).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The runner follows this line with the usage text.
            Error::Usage { message, .. } => write!(f, "error: {message}"),
            Error::Invalid(message) => write!(f, "error: {message}"),
            Error::Client(e) if e.is_connection_problem() => write!(f, "{e}"),
            Error::Client(e) => write!(f, "error: {e}"),
            Error::Server(status) => write!(f, "{status}"),
            Error::Decode { request, reason } => write!(
                f,
                "error: the server's response to {request} could not be decoded: {reason}"
            ),
            Error::Output(e) => write!(f, "error: writing output: {e}"),
            Error::Many(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        Error::Client(e)
    }
}

impl From<Status> for Error {
    fn from(s: Status) -> Self {
        Error::Server(Box::new(s))
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Error::Invalid(e.0)
    }
}

impl From<ResolveError> for Error {
    fn from(e: ResolveError) -> Self {
        Error::Invalid(e.to_string())
    }
}

impl From<WatchError> for Error {
    fn from(e: WatchError) -> Self {
        Error::Invalid(e.to_string())
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Output(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_print_with_error_prefix_except_connection_problems() {
        assert_eq!(
            Error::Client(ClientError::Denied(
                "list secrets in demo is not allowed".into()
            ))
            .to_string(),
            "error: list secrets in demo is not allowed"
        );
        assert_eq!(
            Error::Client(ClientError::Tls(
                "x509: certificate signed by unknown authority".into()
            ))
            .to_string(),
            "Unable to connect to the server: x509: certificate signed by unknown authority (the TLS handshake failed, so the credential was not sent)"
        );
    }

    #[test]
    fn refused_connection_names_the_server_like_kubectl() {
        let e = Error::Client(ClientError::Connect(
            "dial tcp 127.0.0.1:6443: connect: connection refused".into(),
        ));
        assert_eq!(
            e.report(Some("https://127.0.0.1:6443")),
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
        );
    }

    #[test]
    fn usage_errors_are_one_error_line() {
        let e = Error::Usage {
            message: "unknown flag: --frobnicate".into(),
            command: Some("get".into()),
        };
        assert_eq!(e.to_string(), "error: unknown flag: --frobnicate");
    }

    #[test]
    fn denial_and_status_are_told_apart() {
        let denied = Error::Client(ClientError::Denied("list secrets in demo".into()));
        assert_eq!(denied.denial(), Some("list secrets in demo"));
        assert!(denied.status().is_none());
        let missing = Error::from(Status::not_found("pods", "web"));
        assert!(missing.denial().is_none());
        let status = missing.status().unwrap();
        assert_eq!(
            (status.code, status.reason.as_str(), status.message.as_str()),
            (404, "NotFound", "pods \"web\" not found")
        );
        assert!(Error::Client(ClientError::Timeout).denial().is_none());
    }

    #[test]
    fn finish_reports_after_the_output_and_a_closed_stdout_is_success() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let usage = Error::Usage {
            message: "unknown flag: --x".into(),
            command: None,
        };
        assert_eq!(
            usage.finish("https://k", Some("see --help\n"), &mut out, &mut err),
            1
        );
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "error: unknown flag: --x\n\nsee --help\n"
        );
        let mut err = Vec::new();
        let closed = Error::Output(io::ErrorKind::BrokenPipe.into());
        assert_eq!(closed.finish("https://k", None, &mut out, &mut err), 0);
        assert!(err.is_empty());
    }

    #[test]
    fn broken_pipe_is_recognized() {
        assert!(Error::Output(io::ErrorKind::BrokenPipe.into()).is_broken_pipe());
        assert!(!Error::Output(io::ErrorKind::Other.into()).is_broken_pipe());
    }
}
