//! The headers a guest may set.
//!
//! The host owns the credential and the connection, so the guest may not set the headers
//! that carry or redirect them, nor smuggle a second request through a value. (Paths are
//! checked by [`crate::policy::sanity`].) Failing a check is an `invalid-request` error
//! with the reason, never a trap.

/// A header name pattern, matched case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderName {
    /// This name exactly.
    Exact(&'static str),
    /// Every name that starts with this.
    Prefix(&'static str),
}

impl HeaderName {
    fn matches(self, lower: &str) -> bool {
        match self {
            HeaderName::Exact(name) => lower == name,
            HeaderName::Prefix(prefix) => lower.starts_with(prefix),
        }
    }
}

/// One group of headers the host owns, and why a guest may not set them.
#[derive(Clone, Copy, Debug)]
pub struct HostOwnedHeaders {
    /// The header names.
    pub names: &'static [HeaderName],
    /// Why, for the error the guest gets.
    pub why: &'static str,
}

use HeaderName::{Exact, Prefix};

/// The headers a guest may never set, on any door a request takes to the API server.
///
/// - **Credentials**: the host authenticates every request itself.
/// - **Identity**: impersonation, and kube-apiserver's requestheader identity headers
///   (`--requestheader-username-headers` and friends, whose defaults are `X-Remote-User`,
///   `X-Remote-Group`, `X-Remote-Uid` and `X-Remote-Extra-*`). An authenticating front
///   proxy that trusts them would take the guest for any user it names.
/// - **Routing**: method overrides and forwarding headers that proxies and gateways act
///   on. A GET the policy allowed as `list` must not become a DELETE at a proxy.
/// - **Connection**: framing and hop-by-hop headers, which the host's HTTP stack writes.
pub const HOST_OWNED_HEADERS: &[HostOwnedHeaders] = &[
    HostOwnedHeaders {
        names: &[Exact("authorization"), Exact("cookie"), Prefix("proxy-")],
        why: "the host owns the credential",
    },
    HostOwnedHeaders {
        names: &[
            Prefix("impersonate-"),
            Exact("x-remote-user"),
            Exact("x-remote-group"),
            Exact("x-remote-uid"),
            Prefix("x-remote-extra-"),
        ],
        why: "it names the user to the API server or to an authenticating proxy, and the host owns identity",
    },
    HostOwnedHeaders {
        names: &[
            Exact("x-http-method-override"),
            Exact("x-http-method"),
            Exact("x-method-override"),
            Exact("forwarded"),
            Prefix("x-forwarded-"),
            Exact("x-real-ip"),
            Exact("host"),
        ],
        why: "proxies route or re-verb requests by it, and the host owns routing (the policy decided the method and path as sent)",
    },
    HostOwnedHeaders {
        names: &[
            Exact("connection"),
            Exact("upgrade"),
            Exact("transfer-encoding"),
            Exact("content-length"),
            Exact("keep-alive"),
            Exact("te"),
            Exact("trailer"),
        ],
        why: "the host owns the connection and the message framing",
    },
];

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
    if let Some(group) = HOST_OWNED_HEADERS
        .iter()
        .find(|g| g.names.iter().any(|n| n.matches(&lower)))
    {
        return Err(format!(
            "the guest may not set the {lower:?} header: {}",
            group.why
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
    fn rejects_identity_headers_front_proxies_trust() {
        for name in [
            "X-Remote-User",
            "x-remote-group",
            "X-Remote-Uid",
            "X-Remote-Extra-Scopes",
            "x-remote-extra-acme.com%2Fproject",
        ] {
            let err = check_header(name, "admin").unwrap_err();
            assert!(err.contains("owns identity"), "{name}: {err}");
        }
    }

    #[test]
    fn rejects_method_overrides_and_forwarding_headers() {
        for name in [
            "X-HTTP-Method-Override",
            "X-HTTP-Method",
            "X-Method-Override",
            "Forwarded",
            "X-Forwarded-For",
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
            "X-Real-IP",
        ] {
            let err = check_header(name, "DELETE").unwrap_err();
            assert!(err.contains("owns routing"), "{name}: {err}");
        }
        // Not a prefix match on unrelated names.
        assert!(check_header("X-Remote-Username-Hint", "x").is_ok());
        assert!(check_header("X-Request-Id", "x").is_ok());
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
