//! Checks every guest request must pass before anything else looks at it.
//!
//! The host owns the credential and the connection, so the guest may not set the headers
//! that carry or redirect them, and may not smuggle a second request, another host or a
//! path the API server would read differently from the policy. Failing a check is an
//! `invalid-request` error with the reason, never a trap.

/// Headers the host owns. `impersonate-` and `proxy-` are prefixes.
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "connection",
    "upgrade",
    "transfer-encoding",
    "content-length",
    "keep-alive",
    "te",
    "trailer",
];
const FORBIDDEN_HEADER_PREFIXES: &[&str] = &["impersonate-", "proxy-"];

/// Returns why a header the guest set is refused, if it is.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str())
        || FORBIDDEN_HEADER_PREFIXES
            .iter()
            .any(|p| lower.starts_with(p))
    {
        return Err(format!(
            "the guest may not set the {lower:?} header: the host owns credentials and connections"
        ));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("the {lower:?} header value contains CR, LF or NUL"));
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(format!("the {lower:?} header value is not valid"));
    }
    Ok(())
}

/// Returns why a path-and-query is refused, if it is: it must be an absolute path on
/// the API server (no scheme, no authority), without CR, LF, NUL or spaces.
pub fn check_path_and_query(path_and_query: &str) -> Result<(), String> {
    if !path_and_query.starts_with('/') || path_and_query.starts_with("//") {
        return Err(format!(
            "{path_and_query:?} is not a path on the API server: it must start with a single '/'"
        ));
    }
    if path_and_query
        .bytes()
        .any(|b| b == b'\r' || b == b'\n' || b == 0 || b == b' ' || b == b'#')
    {
        return Err(format!(
            "{:?} contains CR, LF, NUL, a space or '#'",
            path_and_query
        ));
    }
    if path_and_query.parse::<http::uri::PathAndQuery>().is_err() {
        return Err(format!("{path_and_query:?} is not a valid path and query"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_authorization_header_in_any_case() {
        assert!(check_header("Authorization", "Bearer x").is_err());
        assert!(check_header("AUTHORIZATION", "Bearer x").is_err());
    }

    #[test]
    fn rejects_impersonation_and_proxy_headers() {
        assert!(check_header("Impersonate-User", "admin").is_err());
        assert!(check_header("impersonate-group", "system:masters").is_err());
        assert!(check_header("Proxy-Authorization", "x").is_err());
    }

    #[test]
    fn rejects_header_values_with_newlines() {
        assert!(check_header("accept", "application/json\r\nX-Evil: 1").is_err());
    }

    #[test]
    fn allows_accept_and_content_type() {
        assert!(check_header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").is_ok());
        assert!(check_header("content-type", "application/merge-patch+json").is_ok());
    }

    #[test]
    fn rejects_absolute_urls_and_other_hosts() {
        assert!(check_path_and_query("https://evil.example/api").is_err());
        assert!(check_path_and_query("//evil.example/api").is_err());
        assert!(check_path_and_query("api/v1").is_err());
    }

    #[test]
    fn rejects_crlf_in_path() {
        assert!(check_path_and_query("/api/v1\r\nHost: evil").is_err());
    }

    #[test]
    fn allows_ordinary_api_paths() {
        assert!(check_path_and_query("/api/v1/namespaces/demo/pods?watch=true&labelSelector=a%3Db").is_ok());
    }
}
