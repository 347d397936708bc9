//! The API server's `Status` errors, and how kubectl shows them.
//!
//! A non-2xx response carries a `meta/v1` `Status` body (`reason`, `message`, `code`).
//! When it does not (a proxy's HTML page, a plain-text 500), the error is synthesized the
//! way client-go does (`NewGenericServerResponse`), so the user sees the same line kubectl
//! would print.

use std::fmt;

use serde::Deserialize;

use crate::golang;
use crate::request::Method;

/// A `meta/v1` `Status`: the server's account of a failed request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status {
    /// Always `Status` for a real one.
    pub kind: String,
    /// `Success` or `Failure`.
    pub status: String,
    /// Human-readable description, e.g. `pods "x" not found`.
    pub message: String,
    /// Machine-readable reason, e.g. `NotFound`, `Forbidden`, `Expired`; may be empty.
    pub reason: String,
    /// The HTTP status code the server meant.
    pub code: i32,
    /// Extra data about the object the error is about.
    pub details: Option<StatusDetails>,
}

/// `Status.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatusDetails {
    /// The object's name.
    pub name: String,
    /// The object's group.
    pub group: String,
    /// The object's kind or resource.
    pub kind: String,
    /// For `Invalid`: each field that failed validation and why.
    #[serde(deserialize_with = "crate::meta::nullable")]
    pub causes: Vec<StatusCause>,
}

/// `Status.details.causes[]`: one reason a request failed, e.g. one invalid field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusCause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable description, e.g. `Required value`.
    pub message: String,
    /// The field path, e.g. `spec.containers`.
    pub field: String,
}

/// What the failed request was about, for synthesized messages such as
/// `the server could not find the requested resource (get pods x)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// The request's method.
    pub method: Method,
    /// The group-qualified resource (`pods`, `deployments.apps`), if the request was
    /// about one.
    pub resource: Option<&'a str>,
    /// The object's name, for requests about one object.
    pub name: Option<&'a str>,
}

impl RequestContext<'_> {
    /// A request about no resource (`/version`, `--raw`).
    pub const NONE: RequestContext<'static> = RequestContext {
        method: Method::Get,
        resource: None,
        name: None,
    };
}

/// client-go caps the text of a non-Status error body it puts in a message.
const MAX_UNSTRUCTURED_TEXT: usize = 2048;

impl Status {
    /// Parses `body` as a `Status`, if it is one: `kind: Status` with a `status` set, as
    /// client-go requires before it trusts a body to describe the error.
    pub fn parse(body: &[u8]) -> Option<Status> {
        serde_json::from_slice::<Status>(body)
            .ok()
            .filter(|s| s.kind == "Status" && !s.status.is_empty())
    }

    /// The error for a non-2xx response: its `Status` body if it has one, otherwise one
    /// synthesized from the HTTP code and, for `text/*` bodies, the text.
    pub fn from_response(
        code: u16,
        content_type: Option<&str>,
        body: &[u8],
        context: &RequestContext<'_>,
    ) -> Status {
        Status::parse(body).unwrap_or_else(|| {
            let is_text = content_type
                .map(|ct| ct.trim().to_ascii_lowercase().starts_with("text/"))
                .unwrap_or(false);
            let text = if is_text {
                let end = body.len().min(MAX_UNSTRUCTURED_TEXT);
                String::from_utf8_lossy(&body[..end]).trim().to_string()
            } else {
                "unknown".to_string()
            };
            Status::generic(code, &text, context)
        })
    }

    /// apimachinery's `NewGenericServerResponse`: a reason and message for an HTTP code
    /// that came without a `Status`.
    fn generic(code: u16, server_message: &str, context: &RequestContext<'_>) -> Status {
        let (reason, mut message) = match code {
            409 if context.method == Method::Post => {
                ("AlreadyExists", "the server reported a conflict".to_string())
            }
            409 => ("Conflict", "the server reported a conflict".to_string()),
            404 => (
                "NotFound",
                "the server could not find the requested resource".to_string(),
            ),
            400 => (
                "BadRequest",
                "the server rejected our request for an unknown reason".to_string(),
            ),
            401 => (
                "Unauthorized",
                "the server has asked for the client to provide credentials".to_string(),
            ),
            403 => ("Forbidden", server_message.to_string()),
            406 => (
                "NotAcceptable",
                if server_message.is_empty() || server_message == "unknown" {
                    "the server was unable to respond with a content type that the client supports"
                        .to_string()
                } else {
                    server_message.to_string()
                },
            ),
            415 => ("UnsupportedMediaType", server_message.to_string()),
            405 => (
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource".to_string(),
            ),
            422 => (
                "Invalid",
                "the server rejected our request due to an error in our request".to_string(),
            ),
            503 => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request".to_string(),
            ),
            504 => (
                "Timeout",
                "the server was unable to return a response in the time allotted, but may still be processing the request".to_string(),
            ),
            429 => (
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later"
                    .to_string(),
            ),
            c if c >= 500 => (
                "InternalError",
                format!(
                    "an error on the server ({}) has prevented the request from succeeding",
                    golang::quote(server_message)
                ),
            ),
            _ => (
                "Unknown",
                format!("the server responded with the status code {code} but did not return more information"),
            ),
        };
        let verb = context.method.as_str().to_lowercase();
        match (context.resource, context.name) {
            (Some(resource), Some(name)) => {
                message = format!("{message} ({verb} {resource} {name})")
            }
            (Some(resource), None) => message = format!("{message} ({verb} {resource})"),
            _ => {}
        }
        Status {
            kind: "Status".into(),
            status: "Failure".into(),
            message,
            reason: reason.into(),
            code: i32::from(code),
            details: None,
        }
    }

    /// The `NotFound` error the server returns for a missing object, for when the guest
    /// finds out itself (an empty list filtered by `metadata.name`).
    pub fn not_found(group_resource: &str, name: &str) -> Status {
        Status {
            kind: "Status".into(),
            status: "Failure".into(),
            message: format!("{group_resource} \"{name}\" not found"),
            reason: "NotFound".into(),
            code: 404,
            details: Some(StatusDetails {
                name: name.into(),
                group: String::new(),
                kind: group_resource.into(),
                causes: Vec::new(),
            }),
        }
    }

    /// `reason: NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.reason == "NotFound"
    }

    /// `reason: Forbidden`.
    pub fn is_forbidden(&self) -> bool {
        self.reason == "Forbidden"
    }

    /// `reason: Unauthorized`.
    pub fn is_unauthorized(&self) -> bool {
        self.reason == "Unauthorized"
    }

    /// The resourceVersion is too old (`410 Expired`/`Gone`): relist before watching again.
    pub fn is_expired(&self) -> bool {
        self.reason == "Expired" || self.reason == "Gone" || self.code == 410
    }
}

impl fmt::Display for Status {
    /// The line kubectl prints (`cmdutil.StandardErrorMessage`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unauthorized() {
            write!(
                f,
                "error: You must be logged in to the server ({})",
                self.message
            )
        } else if self.reason == "Invalid" {
            self.fmt_invalid(f)
        } else if self.reason.is_empty() {
            write!(f, "Error from server: {}", self.message)
        } else {
            write!(f, "Error from server ({}): {}", self.reason, self.message)
        }
    }
}

impl Status {
    /// kubectl's `checkErr` for `Invalid`: the object, then each cause (de-duplicated),
    /// on one line if there is one and as a `* ` list if there are several.
    fn fmt_invalid(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(details) = &self.details else {
            f.write_str("The request is invalid")?;
            if !self.message.is_empty() {
                write!(f, ": {}", self.message)?;
            }
            return Ok(());
        };
        let subject = if details.kind.is_empty() && details.name.is_empty() {
            "The request is invalid".to_string()
        } else {
            format!(
                "The {} {} is invalid",
                details.kind,
                golang::quote(&details.name)
            )
        };
        let mut causes: Vec<String> = Vec::new();
        for cause in &details.causes {
            let line = format!("{}: {}", cause.field, cause.message);
            if !causes.contains(&line) {
                causes.push(line);
            }
        }
        match causes.as_slice() {
            [] => f.write_str(&subject),
            [one] => write!(f, "{subject}: {one}"),
            many => {
                // `MultilineError`: the prefix (ending in ": ") on its own line.
                write!(f, "{subject}: ")?;
                for cause in many {
                    write!(f, "\n* {cause}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture_body;

    fn from_fixture(fixture: &str) -> Status {
        Status::parse(fixture_body(fixture)).expect("fixture holds a Status")
    }

    #[test]
    fn status_formats_forbidden_like_kubectl() {
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-403-reader-list-secrets.http"
        ));
        assert!(status.is_forbidden());
        assert_eq!(
            status.to_string(),
            r#"Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:demo:reader" cannot list resource "secrets" in API group "" in the namespace "demo""#
        );
    }

    #[test]
    fn status_formats_not_found_like_kubectl() {
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-404-missing-pod.http"
        ));
        assert!(status.is_not_found());
        assert_eq!(
            status.to_string(),
            r#"Error from server (NotFound): pods "does-not-exist" not found"#
        );
    }

    #[test]
    fn status_formats_unauthorized_as_a_login_error_like_kubectl() {
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-401-bad-token.http"
        ));
        assert_eq!(
            status.to_string(),
            "error: You must be logged in to the server (Unauthorized)"
        );
    }

    #[test]
    fn status_without_reason_prints_only_the_message() {
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-500-pods-log-kubelet-unreachable.http"
        ));
        assert_eq!(
            status.to_string(),
            r#"Error from server: Get "https://127.0.10.2:10250/containerLogs/demo/demo-00001/main": dial tcp 127.0.10.2:10250: connect: connection refused"#
        );
    }

    #[test]
    fn status_formats_expired_and_conflict() {
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-410-list-resourceversion-exact-compacted.http"
        ));
        assert!(status.is_expired());
        assert_eq!(
            status.to_string(),
            "Error from server (Expired): The resourceVersion for the provided list is too old."
        );
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-409-create-existing-pod.http"
        ));
        assert_eq!(
            status.to_string(),
            r#"Error from server (AlreadyExists): pods "demo-00001" already exists"#
        );
    }

    #[test]
    fn pretty_printed_status_parses_too() {
        let status = from_fixture(include_str!(
            "../../tests/fixtures/error-406-not-acceptable.http"
        ));
        assert_eq!(status.reason, "NotAcceptable");
        assert_eq!(status.code, 406);
    }

    #[test]
    fn non_status_json_is_not_a_status() {
        assert_eq!(Status::parse(br#"{"kind":"PodList","items":[]}"#), None);
        assert_eq!(Status::parse(br#"{"kind":"Status"}"#), None);
        assert_eq!(Status::parse(b"<html>bad gateway</html>"), None);
    }

    #[test]
    fn non_status_404_is_synthesized_like_client_go() {
        let ctx = RequestContext {
            method: Method::Get,
            resource: Some("pods"),
            name: Some("x"),
        };
        let status = Status::from_response(404, Some("text/html"), b"<h1>nope</h1>", &ctx);
        assert_eq!(
            status.to_string(),
            "Error from server (NotFound): the server could not find the requested resource (get pods x)"
        );
        let status = Status::from_response(404, None, b"", &RequestContext::NONE);
        assert_eq!(
            status.to_string(),
            "Error from server (NotFound): the server could not find the requested resource"
        );
    }

    #[test]
    fn non_status_500_text_body_is_quoted_in_the_message() {
        let status = Status::from_response(
            500,
            Some("text/plain; charset=utf-8"),
            b"[-]etcd failed: reason withheld\nhealthz check failed\n",
            &RequestContext::NONE,
        );
        assert_eq!(status.code, 500);
        assert_eq!(
            status.to_string(),
            r#"Error from server (InternalError): an error on the server ("[-]etcd failed: reason withheld\nhealthz check failed") has prevented the request from succeeding"#
        );
    }

    #[test]
    fn non_status_403_keeps_the_server_text() {
        let ctx = RequestContext {
            method: Method::Get,
            resource: Some("deployments.apps"),
            name: None,
        };
        let status = Status::from_response(403, Some("text/plain"), b"denied by proxy", &ctx);
        assert_eq!(
            status.to_string(),
            "Error from server (Forbidden): denied by proxy (get deployments.apps)"
        );
    }

    #[test]
    fn non_text_non_status_body_is_unknown() {
        let status =
            Status::from_response(502, Some("application/json"), b"{}", &RequestContext::NONE);
        assert_eq!(
            status.to_string(),
            r#"Error from server (InternalError): an error on the server ("unknown") has prevented the request from succeeding"#
        );
        let status = Status::from_response(418, None, b"", &RequestContext::NONE);
        assert_eq!(
            status.to_string(),
            "Error from server (Unknown): the server responded with the status code 418 but did not return more information"
        );
    }

    #[test]
    fn invalid_prints_each_cause_like_kubectl() {
        let status = Status::parse(fixture_body(include_str!(
            "../../tests/fixtures/error-422-invalid-pod.http"
        )))
        .unwrap();
        assert_eq!(
            status.to_string(),
            "The Pod \"Invalid_Name\" is invalid: \n\
             * metadata.name: Invalid value: \"Invalid_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n\
             * spec.containers: Required value"
        );
        let one = Status::parse(br#"{"kind":"Status","status":"Failure","message":"x","reason":"Invalid","details":{"name":"cm","kind":"ConfigMap","causes":[{"field":"data","message":"Required value"},{"field":"data","message":"Required value"}]},"code":422}"#).unwrap();
        assert_eq!(
            one.to_string(),
            "The ConfigMap \"cm\" is invalid: data: Required value"
        );
        let bare = Status::parse(br#"{"kind":"Status","status":"Failure","message":"bad","reason":"Invalid","code":422}"#).unwrap();
        assert_eq!(bare.to_string(), "The request is invalid: bad");
    }

    #[test]
    fn synthesized_not_found_matches_the_servers_wording() {
        assert_eq!(
            Status::not_found("pods", "x").to_string(),
            r#"Error from server (NotFound): pods "x" not found"#
        );
    }
}
