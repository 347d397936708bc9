//! Refuses request targets that the policy could read differently from the API server.
//!
//! kube-apiserver authorizes the *decoded* path (Go's `url.URL.Path`) and the query as Go's
//! `url.ParseQuery` reads it. Anything whose meaning depends on who decodes it, or on how
//! many times, is refused here before any rule is consulted: the policy and the server must
//! see the same request, byte for byte.
//!
//! Decisions:
//! - Empty segments are refused everywhere, including a trailing slash (only `/` itself ends
//!   in `/`). kube-apiserver trims slashes before parsing resource paths, but RBAC matches
//!   non-resource URLs on the raw path (`/healthz/` is not `/healthz`), and no Kubernetes
//!   client sends either form.
//! - `%2F` and `%25` are refused in the path only: a decoded `/` would change the segments,
//!   and a decoded `%` invites a second decoding by a proxy on the way. In the query both are
//!   ordinary (continue tokens are base64 and arrive as `%2F`), and the query is decoded
//!   exactly once, here and on the server.
//! - `;` is refused in the query: Go drops a parameter that contains one, so `watch=1;x` would
//!   be a watch to a naive reader and a plain list to the server.
//! - `watch` must be `true`, `false`, `1` or `0`: the server treats every other value,
//!   including the empty string, as true, and compares with Unicode case folding; refusing
//!   the odd spellings leaves no room for disagreement.

use thiserror::Error;

/// The methods a guest may use; they are the ones kube-apiserver maps to RBAC verbs.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Query parameters that change what a request reads and so may appear at most once.
/// Go reads the first of several values; a reader that took the last would disagree.
pub const SINGLE_VALUED_PARAMETERS: &[&str] =
    &["watch", "fieldSelector", "labelSelector", "resourceVersion"];

/// Upper bound on query parameters. Go's `net/url` caps the number it parses and a query over
/// its limit is read differently; real clients send fewer than twenty.
pub const MAX_QUERY_PARAMETERS: usize = 100;

/// A request target that passed every check, decoded once the way the API server decodes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The percent-decoded path (Go's `URL.Path`): starts with `/`, no empty, `.` or `..`
    /// segments.
    pub path: String,
    /// The decoded query parameters in order (`+` read as a space, as Go does).
    pub query: Vec<(String, String)>,
}

impl Target {
    /// The first value of a query parameter, as Go's `url.Values.Get` returns it.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Which part of the request target a refusal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The path, before any `?`.
    Path,
    /// The query string, after the first `?`.
    Query,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Path => "path",
            Part::Query => "query",
        })
    }
}

/// Why a request was refused before the policy looked at it.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Refusal {
    /// The HTTP method is not one kube-apiserver maps to a verb.
    #[error("refused: method {0:?} is not allowed; use GET, HEAD, POST, PUT, PATCH or DELETE")]
    UnsupportedMethod(String),
    /// The target is empty or does not start with `/`.
    #[error("refused: {0:?} is not a path on the API server; it must start with '/'")]
    NotAPath(String),
    /// The target is an absolute URL (`https://host/...`).
    #[error(
        "refused: {0:?} is an absolute URL; the guest sends only a path, the host chooses the server"
    )]
    AbsoluteUrl(String),
    /// The target starts with `//`, which names a host (network-path reference).
    #[error("refused: {0:?} starts with '//', which names another host; send a path such as /api")]
    Authority(String),
    /// CR, LF or NUL, raw or percent-encoded: they split or truncate HTTP messages.
    #[error("refused: the {part} contains {what}{}, which could split or truncate the request", if *.decoded { " (percent-encoded)" } else { "" })]
    ControlCharacter {
        /// Where it was found.
        part: Part,
        /// `CR`, `LF`, `NUL` or a hex byte.
        what: String,
        /// Whether it appeared only after percent-decoding.
        decoded: bool,
    },
    /// A space, `#`, a byte outside printable ASCII: it must be percent-encoded.
    #[error("refused: the {part} contains {what}, which must be percent-encoded")]
    UnencodedCharacter {
        /// Where it was found.
        part: Part,
        /// A description of the character.
        what: String,
    },
    /// A `\` in the path: some proxies read it as `/`.
    #[error("refused: the path contains a backslash, which some proxies read as '/'")]
    Backslash,
    /// `//` inside the path.
    #[error(
        "refused: the path {0:?} has an empty segment ('//'); the policy and the server could read it differently"
    )]
    EmptySegment(String),
    /// The path ends in `/` (and is not `/`).
    #[error("refused: the path {0:?} ends in '/'; remove the trailing slash")]
    TrailingSlash(String),
    /// A `.` or `..` segment, raw or encoded.
    #[error(
        "refused: the path {path:?} has a {segment:?} segment; dot segments would change which object the path names"
    )]
    DotSegment {
        /// The whole path as sent.
        path: String,
        /// `.` or `..`.
        segment: String,
    },
    /// `%2F` in the path.
    #[error(
        "refused: the path contains an encoded slash ({0}); it would split a segment after decoding"
    )]
    EncodedSlash(String),
    /// `%25` in the path.
    #[error(
        "refused: the path contains an encoded '%' ({0}), a sign of double encoding; encode each character once"
    )]
    EncodedPercent(String),
    /// A `%` not followed by two hex digits.
    #[error(
        "refused: the {part} contains the invalid escape {escape:?}; '%' must be followed by two hex digits"
    )]
    BadEscape {
        /// Where it was found.
        part: Part,
        /// The offending text (up to three characters).
        escape: String,
    },
    /// Percent-decoding produced bytes that are not UTF-8.
    #[error("refused: the {part} does not decode to valid UTF-8")]
    InvalidUtf8 {
        /// Where it was found.
        part: Part,
    },
    /// A `;` in the query.
    #[error(
        "refused: the query contains ';', which the server does not treat as a separator (it drops that parameter); use '&'"
    )]
    Semicolon,
    /// More than [`MAX_QUERY_PARAMETERS`] query parameters.
    #[error("refused: the query has more than {MAX_QUERY_PARAMETERS} parameters")]
    TooManyParameters,
    /// One of [`SINGLE_VALUED_PARAMETERS`] appears more than once.
    #[error(
        "refused: the query parameter {0:?} appears more than once; the policy and the server could read different values"
    )]
    DuplicateParameter(String),
    /// `watch` has a value other than `true`, `false`, `1` or `0`.
    #[error("refused: watch={0:?} is ambiguous; use watch=true or watch=false")]
    InvalidWatch(String),
    /// `/watch/` or `/proxy/` with nothing after it, which kube-apiserver cannot parse either.
    #[error(
        "refused: {0:?} names the {1:?} verb but no resource; add the resource, e.g. /api/v1/{1}/pods"
    )]
    MissingResource(String, String),
}

/// Checks a method and path-and-query and decodes it once, as the API server will.
pub fn check(method: &str, path_and_query: &str) -> Result<Target, Refusal> {
    if !METHODS.contains(&method) {
        return Err(Refusal::UnsupportedMethod(method.to_string()));
    }
    let (raw_path, raw_query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    check_raw_bytes(raw_path, Part::Path)?;
    if let Some(q) = raw_query {
        check_raw_bytes(q, Part::Query)?;
    }
    if raw_path.starts_with("//") {
        return Err(Refusal::Authority(path_and_query.to_string()));
    }
    if !raw_path.starts_with('/') {
        if raw_path.contains("://") {
            return Err(Refusal::AbsoluteUrl(path_and_query.to_string()));
        }
        return Err(Refusal::NotAPath(path_and_query.to_string()));
    }
    let path = check_path(raw_path)?;
    let query = match raw_query {
        Some(q) => check_query(q)?,
        None => Vec::new(),
    };
    Ok(Target { path, query })
}

/// Refuses raw bytes that have no business in a request target.
fn check_raw_bytes(raw: &str, part: Part) -> Result<(), Refusal> {
    for b in raw.bytes() {
        if let Some(what) = control_name(b) {
            return Err(Refusal::ControlCharacter {
                part,
                what,
                decoded: false,
            });
        }
        let what = match b {
            b' ' => "a space".to_string(),
            b'#' => "'#'".to_string(),
            0x80.. => "a non-ASCII character".to_string(),
            _ => continue,
        };
        return Err(Refusal::UnencodedCharacter { part, what });
    }
    Ok(())
}

/// Names a control byte (C0 or DEL), if `b` is one.
fn control_name(b: u8) -> Option<String> {
    match b {
        b'\r' => Some("CR".to_string()),
        b'\n' => Some("LF".to_string()),
        0 => Some("NUL".to_string()),
        0x01..=0x1f | 0x7f => Some(format!("the control character 0x{b:02x}")),
        _ => None,
    }
}

fn check_path(raw_path: &str) -> Result<String, Refusal> {
    if raw_path == "/" {
        return Ok("/".to_string());
    }
    if raw_path.contains('\\') {
        return Err(Refusal::Backslash);
    }
    let segments: Vec<&str> = raw_path[1..].split('/').collect();
    let mut decoded_path = String::with_capacity(raw_path.len());
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            return Err(if i + 1 == segments.len() {
                Refusal::TrailingSlash(raw_path.to_string())
            } else {
                Refusal::EmptySegment(raw_path.to_string())
            });
        }
        let bytes = percent_decode(segment, Part::Path, false)?;
        if bytes.contains(&b'/') {
            return Err(Refusal::EncodedSlash(escape_in(segment, "2f")));
        }
        if bytes.contains(&b'%') {
            return Err(Refusal::EncodedPercent(escape_in(segment, "25")));
        }
        if bytes.contains(&b'\\') {
            return Err(Refusal::Backslash);
        }
        let text = decoded_text(bytes, Part::Path)?;
        if text == "." || text == ".." {
            return Err(Refusal::DotSegment {
                path: raw_path.to_string(),
                segment: text,
            });
        }
        decoded_path.push('/');
        decoded_path.push_str(&text);
    }
    Ok(decoded_path)
}

/// The escape as the guest spelled it (`%2F` or `%2f`), for the message.
fn escape_in(segment: &str, hex_lower: &str) -> String {
    segment
        .match_indices('%')
        .map(|(i, _)| &segment[i..(i + 3).min(segment.len())])
        .find(|e| e[1..].eq_ignore_ascii_case(hex_lower))
        .unwrap_or("%")
        .to_string()
}

fn check_query(raw_query: &str) -> Result<Vec<(String, String)>, Refusal> {
    if raw_query.contains(';') {
        return Err(Refusal::Semicolon);
    }
    let mut query = Vec::new();
    // Go skips empty pieces (`a=1&&b=2`), so they do not count as parameters either.
    for piece in raw_query.split('&').filter(|p| !p.is_empty()) {
        if query.len() == MAX_QUERY_PARAMETERS {
            return Err(Refusal::TooManyParameters);
        }
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = decoded_text(percent_decode(key, Part::Query, true)?, Part::Query)?;
        let value = decoded_text(percent_decode(value, Part::Query, true)?, Part::Query)?;
        query.push((key, value));
    }
    for name in SINGLE_VALUED_PARAMETERS {
        if query.iter().filter(|(k, _)| k == name).count() > 1 {
            return Err(Refusal::DuplicateParameter(name.to_string()));
        }
    }
    if let Some((_, watch)) = query.iter().find(|(k, _)| k == "watch")
        && !["true", "false", "1", "0"]
            .iter()
            .any(|ok| watch.eq_ignore_ascii_case(ok))
    {
        return Err(Refusal::InvalidWatch(watch.clone()));
    }
    Ok(query)
}

/// Percent-decodes `s` as Go's `url.PathUnescape` (`plus_is_space == false`) or
/// `url.QueryUnescape` (`true`) does.
fn percent_decode(s: &str, part: Part, plus_is_space: bool) -> Result<Vec<u8>, Refusal> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => {
                        return Err(Refusal::BadEscape {
                            part,
                            escape: s[i..(i + 3).min(s.len())].to_string(),
                        });
                    }
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Turns decoded bytes into text, refusing invalid UTF-8 and decoded control characters.
fn decoded_text(bytes: Vec<u8>, part: Part) -> Result<String, Refusal> {
    if let Some(what) = bytes.iter().find_map(|b| control_name(*b)) {
        return Err(Refusal::ControlCharacter {
            part,
            what,
            decoded: true,
        });
    }
    String::from_utf8(bytes).map_err(|_| Refusal::InvalidUtf8 { part })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(target: &str) -> Refusal {
        check("GET", target).expect_err(target)
    }

    #[test]
    fn allows_plain_paths_and_decodes_once() {
        let t = check(
            "GET",
            "/api/v1/namespaces/demo/pods/web%2D0?limit=5&continue=a%2Fb%3D",
        )
        .unwrap();
        assert_eq!(t.path, "/api/v1/namespaces/demo/pods/web-0");
        assert_eq!(
            t.query,
            vec![
                ("limit".to_string(), "5".to_string()),
                ("continue".to_string(), "a/b=".to_string())
            ]
        );
        assert_eq!(check("GET", "/").unwrap().path, "/");
    }

    #[test]
    fn allows_plus_as_space_in_query_only() {
        let t = check("GET", "/api/v1/pods/a+b?labelSelector=app+in+(x)").unwrap();
        assert_eq!(t.path, "/api/v1/pods/a+b");
        assert_eq!(t.first("labelSelector"), Some("app in (x)"));
    }

    #[test]
    fn rejects_dot_dot_segments() {
        assert!(
            matches!(refusal("/api/v1/namespaces/demo/../kube-system/secrets"), Refusal::DotSegment { segment, .. } if segment == "..")
        );
        assert!(
            matches!(refusal("/api/v1/%2e%2E/secrets"), Refusal::DotSegment { segment, .. } if segment == "..")
        );
    }

    #[test]
    fn rejects_dot_segments() {
        assert!(
            matches!(refusal("/api/./v1/pods"), Refusal::DotSegment { segment, .. } if segment == ".")
        );
        assert!(matches!(
            refusal("/api/v1/pods/%2E"),
            Refusal::DotSegment { .. }
        ));
    }

    #[test]
    fn rejects_empty_segments() {
        assert!(matches!(refusal("/api/v1//pods"), Refusal::EmptySegment(_)));
    }

    #[test]
    fn rejects_trailing_slash() {
        assert!(matches!(refusal("/healthz/"), Refusal::TrailingSlash(_)));
        assert!(matches!(
            refusal("/api/v1/pods/"),
            Refusal::TrailingSlash(_)
        ));
    }

    #[test]
    fn rejects_encoded_slash() {
        let r = refusal("/api/v1/namespaces/demo%2Fpods");
        assert_eq!(r, Refusal::EncodedSlash("%2F".to_string()));
        assert!(r.to_string().contains("encoded slash"));
        assert_eq!(
            refusal("/api/v1/namespaces/demo%2fpods"),
            Refusal::EncodedSlash("%2f".to_string())
        );
    }

    #[test]
    fn allows_encoded_slash_in_query() {
        let t = check("GET", "/api/v1/pods?continue=eyJ2%2Fx").unwrap();
        assert_eq!(t.first("continue"), Some("eyJ2/x"));
    }

    #[test]
    fn rejects_double_encoding() {
        assert!(matches!(
            refusal("/api/v1/namespaces/demo%252Fpods"),
            Refusal::EncodedPercent(_)
        ));
    }

    #[test]
    fn rejects_undecodable_escapes() {
        assert_eq!(
            refusal("/api/v1/pods/a%zz"),
            Refusal::BadEscape {
                part: Part::Path,
                escape: "%zz".to_string()
            }
        );
        assert!(matches!(
            refusal("/api/v1/pods/a%4"),
            Refusal::BadEscape { .. }
        ));
        assert!(matches!(
            refusal("/api/v1/pods?x=%"),
            Refusal::BadEscape {
                part: Part::Query,
                ..
            }
        ));
        assert_eq!(
            refusal("/api/v1/pods/%ff%fe"),
            Refusal::InvalidUtf8 { part: Part::Path }
        );
        assert_eq!(
            refusal("/api/v1/pods?labelSelector=%c3"),
            Refusal::InvalidUtf8 { part: Part::Query }
        );
    }

    #[test]
    fn rejects_cr_lf_nul_raw_and_encoded() {
        for target in [
            "/api/v1/pods\r\nHost: evil",
            "/api/v1/pods?x=1\n",
            "/api/v1/pods\0",
        ] {
            assert!(
                matches!(
                    refusal(target),
                    Refusal::ControlCharacter { decoded: false, .. }
                ),
                "{target:?}"
            );
        }
        for target in [
            "/api/v1/pods%0d%0a",
            "/api/v1/pods?x=%0A",
            "/api/v1/pods/a%00",
        ] {
            assert!(
                matches!(
                    refusal(target),
                    Refusal::ControlCharacter { decoded: true, .. }
                ),
                "{target:?}"
            );
        }
    }

    #[test]
    fn rejects_unencoded_space_fragment_and_non_ascii() {
        assert!(matches!(
            refusal("/api/v1/pods/a b"),
            Refusal::UnencodedCharacter { .. }
        ));
        assert!(matches!(
            refusal("/api/v1/pods#frag"),
            Refusal::UnencodedCharacter { .. }
        ));
        assert!(matches!(
            refusal("/api/v1/pods/é"),
            Refusal::UnencodedCharacter { .. }
        ));
    }

    #[test]
    fn rejects_backslash_in_path() {
        assert_eq!(refusal("/api/v1\\pods"), Refusal::Backslash);
        assert_eq!(refusal("/api/v1/a%5Cb"), Refusal::Backslash);
    }

    #[test]
    fn rejects_absolute_urls_and_authorities() {
        assert!(matches!(
            refusal("http://evil.example/api"),
            Refusal::AbsoluteUrl(_)
        ));
        assert!(matches!(
            refusal("https://10.0.0.1:6443/api/v1/pods"),
            Refusal::AbsoluteUrl(_)
        ));
        assert!(matches!(
            refusal("//evil.example/api/v1/pods"),
            Refusal::Authority(_)
        ));
        assert!(matches!(refusal("api/v1/pods"), Refusal::NotAPath(_)));
        assert!(matches!(refusal(""), Refusal::NotAPath(_)));
        assert!(matches!(refusal("*"), Refusal::NotAPath(_)));
    }

    #[test]
    fn rejects_duplicate_watch_parameter() {
        assert_eq!(
            refusal("/api/v1/pods?watch=false&watch=true"),
            Refusal::DuplicateParameter("watch".to_string())
        );
        // Decoded names count: %77 is 'w'.
        assert_eq!(
            refusal("/api/v1/pods?watch=0&%77atch=1"),
            Refusal::DuplicateParameter("watch".to_string())
        );
    }

    #[test]
    fn rejects_duplicate_selectors_and_resource_version() {
        for name in ["fieldSelector", "labelSelector", "resourceVersion"] {
            assert_eq!(
                refusal(&format!("/api/v1/pods?{name}=a&{name}=b")),
                Refusal::DuplicateParameter(name.to_string())
            );
        }
        // Other parameters may repeat: the server reads the first and they do not select.
        assert!(check("GET", "/api/v1/pods?pretty=1&pretty=0").is_ok());
    }

    #[test]
    fn rejects_ambiguous_watch_values() {
        assert!(matches!(
            refusal("/api/v1/pods?watch"),
            Refusal::InvalidWatch(_)
        ));
        assert!(matches!(
            refusal("/api/v1/pods?watch=yes"),
            Refusal::InvalidWatch(_)
        ));
        assert!(check("GET", "/api/v1/pods?watch=TRUE").is_ok());
    }

    #[test]
    fn rejects_semicolon_in_query() {
        assert_eq!(refusal("/api/v1/pods?watch=1;x=2"), Refusal::Semicolon);
    }

    #[test]
    fn rejects_too_many_parameters() {
        let q: Vec<String> = (0..=MAX_QUERY_PARAMETERS)
            .map(|i| format!("p{i}=1"))
            .collect();
        assert_eq!(
            refusal(&format!("/api/v1/pods?{}", q.join("&"))),
            Refusal::TooManyParameters
        );
    }

    #[test]
    fn rejects_unknown_methods() {
        for m in ["OPTIONS", "CONNECT", "TRACE", "get", ""] {
            assert!(
                matches!(check(m, "/api"), Err(Refusal::UnsupportedMethod(_))),
                "{m}"
            );
        }
    }
}
