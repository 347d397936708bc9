//! The headers a guest may set.
//!
//! The host owns the credential and the connection, so the guest may not set the headers
//! that carry or redirect them, nor smuggle a second request through a value. (Paths are
//! checked by [`crate::policy::sanity`].) Failing a check is an `invalid-request` error
//! with the reason, never a trap.

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
    if lower == "accept-encoding" {
        // The host negotiates compression and decodes it, so a guest reads the same bytes
        // whatever the wire carried.
        return Err(
            "the guest may not set the \"accept-encoding\" header: the host negotiates compression and always hands the guest decoded bytes".into(),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_authorization_header_in_any_case() {
        assert!(check_header("Authorization", "Bearer x").is_err());
        assert!(check_header("AUTHORIZATION", "Bearer x").is_err());
    }

    #[test]
    fn rejects_accept_encoding_because_the_host_decodes_compression() {
        let err = check_header("Accept-Encoding", "br").unwrap_err();
        assert!(err.contains("decoded bytes"), "{err}");
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
}
