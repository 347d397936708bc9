//! Authentication and authorization, modelled on the recorded cluster.
//!
//! Users: the admin (client certificate `O=system:masters`, or the admin bearer token), the
//! `demo/reader` ServiceAccount (Role `pod-reader`: get/list/watch pods in `demo`) and
//! `system:anonymous`. Authorization works on the API server's `RequestInfo` (verb, namespace,
//! resource, subresource, name; or a non-resource path) and answers with the server's exact
//! 401/403 wording.

use crate::selectors::FieldSelector;

/// Who a request acts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// `kubernetes-admin` / `system:masters`: everything.
    Admin,
    /// `system:serviceaccount:demo:reader`.
    Reader,
    /// No credentials.
    Anonymous,
}

impl Identity {
    /// The user name the API server prints in Forbidden messages.
    pub fn user_name(self) -> &'static str {
        match self {
            Identity::Admin => "kubernetes-admin",
            Identity::Reader => "system:serviceaccount:demo:reader",
            Identity::Anonymous => "system:anonymous",
        }
    }
}

/// The credential settings authentication checks against.
pub struct Credentials<'a> {
    /// Plain HTTP: behave like `kubectl proxy`, which adds its own (admin) credentials.
    pub proxy_mode: bool,
    /// The admin bearer token.
    pub admin_token: Option<&'a str>,
    /// The reader bearer token.
    pub reader_token: Option<&'a str>,
}

/// Authenticates a request; `Err(())` means 401 Unauthorized (a token nobody issued).
///
/// Like the API server's union authenticator, a verified client certificate wins; then a
/// `Bearer` token; a missing or non-Bearer `Authorization` header leaves the request anonymous.
pub fn authenticate(
    creds: &Credentials<'_>,
    verified_client_cert: bool,
    authorization: Option<&str>,
) -> Result<Identity, ()> {
    if creds.proxy_mode || verified_client_cert {
        return Ok(Identity::Admin);
    }
    let Some(auth) = authorization.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Identity::Anonymous);
    };
    let mut parts = auth.splitn(3, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Ok(Identity::Anonymous);
    }
    if creds.admin_token == Some(token) {
        Ok(Identity::Admin)
    } else if creds.reader_token == Some(token) {
        Ok(Identity::Reader)
    } else {
        Err(())
    }
}

/// The API server's `RequestInfo` (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Resource request (`/api/v1/...`, `/apis/g/v/...`) or not.
    pub is_resource: bool,
    /// The URL path.
    pub path: String,
    /// get, list, watch, create, update, patch, delete, deletecollection, proxy.
    pub verb: String,
    /// `api` or `apis`.
    pub api_prefix: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace.
    pub namespace: String,
    /// Resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Name.
    pub name: String,
    /// Path segments from the resource on.
    pub parts: Vec<String>,
}

/// Whether a query flag is set, with apimachinery's string-to-bool conversion.
pub fn query_bool(v: Option<&str>) -> bool {
    match v {
        None => false,
        Some(v) => !matches!(
            v.to_ascii_lowercase().as_str(),
            "0" | "f" | "false" | "n" | "no"
        ),
    }
}

impl RequestInfo {
    /// Parses method, path and query like `RequestInfoFactory.NewRequestInfo`.
    pub fn parse(method: &str, path: &str, query: &[(String, String)]) -> RequestInfo {
        let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.to_ascii_lowercase(),
            ..Default::default()
        };
        let trimmed = path.trim_matches('/');
        let mut parts: Vec<String> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').map(str::to_string).collect()
        };
        if parts.len() < 3 || !(parts[0] == "api" || parts[0] == "apis") {
            return info;
        }
        info.api_prefix = parts.remove(0);
        if info.api_prefix == "apis" {
            if parts.len() < 3 {
                return info;
            }
            info.group = parts.remove(0);
        }
        info.is_resource = true;
        info.version = parts.remove(0);
        if parts[0] == "watch" || parts[0] == "proxy" {
            if parts.len() < 2 {
                // The real server answers this with an error; treat it as an unknown resource.
                info.verb = String::new();
                return info;
            }
            info.verb = parts.remove(0);
        } else {
            info.verb = match method {
                "POST" => "create",
                "GET" | "HEAD" => "get",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                _ => "",
            }
            .to_string();
        }
        if parts[0] == "namespaces" && parts.len() > 1 {
            info.namespace = parts[1].clone();
            if parts.len() > 2 && parts[2] != "status" && parts[2] != "finalize" {
                parts.drain(..2);
            }
        }
        if parts.len() >= 3 && info.verb != "proxy" {
            info.subresource = parts[2].clone();
        }
        if parts.len() >= 2 {
            info.name = parts[1].clone();
        }
        if !parts.is_empty() {
            info.resource = parts[0].clone();
        }
        info.parts = parts;
        if info.name.is_empty() && info.verb == "get" {
            info.verb = if query_bool(q("watch")) {
                "watch"
            } else {
                "list"
            }
            .into();
            if let Some(name) = q("fieldSelector")
                .and_then(|s| FieldSelector::parse(s).ok())
                .and_then(|s| s.exact_name().map(str::to_string))
                .filter(|n| !n.is_empty() && !n.contains('/') && n != "." && n != "..")
            {
                info.name = name;
            }
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".into();
        }
        info
    }
}

/// Non-resource URLs `system:public-info-viewer` grants to everyone (including anonymous).
const PUBLIC_INFO: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];
/// Non-resource URLs `system:discovery` grants to authenticated users.
const DISCOVERY: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
];
/// `system:service-account-issuer-discovery`, bound to all ServiceAccounts.
const ISSUER_DISCOVERY: &[&str] = &[
    "/.well-known/openid-configuration",
    "/.well-known/openid-configuration/",
    "/openid/v1/jwks",
    "/openid/v1/jwks/",
];

fn url_allowed(rules: &[&str], path: &str) -> bool {
    rules.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => *r == path,
    })
}

/// RBAC decision. `allow_anonymous` grants anonymous users everything.
pub fn authorize(id: Identity, info: &RequestInfo, allow_anonymous: bool) -> bool {
    match id {
        Identity::Admin => true,
        Identity::Anonymous if allow_anonymous => true,
        Identity::Anonymous => !info.is_resource && url_allowed(PUBLIC_INFO, &info.path),
        Identity::Reader => {
            if info.is_resource {
                info.group.is_empty()
                    && info.resource == "pods"
                    && info.subresource.is_empty()
                    && info.namespace == "demo"
                    && matches!(info.verb.as_str(), "get" | "list" | "watch")
            } else {
                url_allowed(DISCOVERY, &info.path) || url_allowed(ISSUER_DISCOVERY, &info.path)
            }
        }
    }
}

/// The message and `details` of the API server's 403 (`responsewriters.Forbidden` +
/// `apierrors.NewForbidden`).
pub fn forbidden(id: Identity, info: &RequestInfo) -> (String, String) {
    let user = id.user_name();
    let verb = if info.verb.is_empty() {
        "get"
    } else {
        &info.verb
    };
    if !info.is_resource {
        let msg = format!(
            "forbidden: User {} cannot {verb} path {}",
            quote(user),
            quote(&info.path)
        );
        return (msg, "{}".into());
    }
    let mut resource = info.resource.clone();
    if !info.subresource.is_empty() {
        resource = format!("{resource}/{}", info.subresource);
    }
    let reason = if info.namespace.is_empty() {
        format!(
            "User {} cannot {verb} resource {} in API group {} at the cluster scope",
            quote(user),
            quote(&resource),
            quote(&info.group)
        )
    } else {
        format!(
            "User {} cannot {verb} resource {} in API group {} in the namespace {}",
            quote(user),
            quote(&resource),
            quote(&info.group),
            quote(&info.namespace)
        )
    };
    let qualified = if info.group.is_empty() {
        info.resource.clone()
    } else {
        format!("{}.{}", info.resource, info.group)
    };
    let msg = if qualified.is_empty() {
        format!("forbidden: {reason}")
    } else if info.name.is_empty() {
        format!("{qualified} is forbidden: {reason}")
    } else {
        format!("{qualified} {} is forbidden: {reason}", quote(&info.name))
    };
    let details = crate::response::details(&info.name, &info.group, &info.resource);
    (msg, details)
}

/// Go's `%q` for the plain strings that appear here.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: &str, path: &str, query: &[(&str, &str)]) -> RequestInfo {
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        RequestInfo::parse(method, path, &q)
    }

    #[test]
    fn request_info_matches_apiserver_parsing() {
        let i = info("GET", "/api/v1/namespaces/demo/pods", &[]);
        assert_eq!(
            (i.verb.as_str(), i.namespace.as_str(), i.resource.as_str()),
            ("list", "demo", "pods")
        );
        let i = info("GET", "/api/v1/namespaces/demo/pods", &[("watch", "1")]);
        assert_eq!(i.verb, "watch");
        let i = info(
            "GET",
            "/api/v1/namespaces/demo/pods",
            &[
                ("watch", "true"),
                ("fieldSelector", "metadata.name=demo-00001"),
            ],
        );
        assert_eq!((i.verb.as_str(), i.name.as_str()), ("watch", "demo-00001"));
        let i = info("GET", "/api/v1/namespaces/demo/pods/demo-00001/log", &[]);
        assert_eq!(
            (i.verb.as_str(), i.name.as_str(), i.subresource.as_str()),
            ("get", "demo-00001", "log")
        );
        let i = info("GET", "/api/v1/namespaces/demo", &[]);
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.namespace.as_str()),
            ("namespaces", "demo", "demo")
        );
        let i = info("GET", "/apis/apps/v1/namespaces/demo/deployments", &[]);
        assert_eq!(
            (i.group.as_str(), i.resource.as_str()),
            ("apps", "deployments")
        );
        let i = info("GET", "/api/v1/watch/namespaces/demo/pods/x", &[]);
        assert_eq!((i.verb.as_str(), i.name.as_str()), ("watch", "x"));
        let i = info("DELETE", "/api/v1/namespaces/demo/pods", &[]);
        assert_eq!(i.verb, "deletecollection");
        assert!(!info("GET", "/apis/apps/v1", &[]).is_resource);
        assert!(!info("GET", "/version", &[]).is_resource);
    }

    #[test]
    fn forbidden_messages_match_recorded_403s() {
        let (m, d) = forbidden(
            Identity::Reader,
            &info("GET", "/api/v1/namespaces/demo/secrets", &[]),
        );
        assert_eq!(
            m,
            "secrets is forbidden: User \"system:serviceaccount:demo:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"demo\""
        );
        assert_eq!(d, r#"{"kind":"secrets"}"#);
        let (m, _) = forbidden(Identity::Anonymous, &info("GET", "/api", &[]));
        assert_eq!(
            m,
            "forbidden: User \"system:anonymous\" cannot get path \"/api\""
        );
        let (m, d) = forbidden(
            Identity::Reader,
            &info("GET", "/api/v1/namespaces/demo/pods/demo-00001/log", &[]),
        );
        assert_eq!(
            m,
            "pods \"demo-00001\" is forbidden: User \"system:serviceaccount:demo:reader\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"demo\""
        );
        assert_eq!(d, r#"{"name":"demo-00001","kind":"pods"}"#);
        let (m, _) = forbidden(Identity::Reader, &info("GET", "/api/v1/nodes", &[]));
        assert!(m.ends_with("at the cluster scope"), "{m}");
    }

    #[test]
    fn reader_may_only_read_pods_in_demo() {
        let ok = |m: &str, p: &str| authorize(Identity::Reader, &info(m, p, &[]), false);
        assert!(ok("GET", "/api/v1/namespaces/demo/pods"));
        assert!(ok("GET", "/api/v1/namespaces/demo/pods/demo-00001"));
        assert!(!ok("GET", "/api/v1/namespaces/demo/pods/demo-00001/log"));
        assert!(!ok("GET", "/api/v1/namespaces/kube-system/pods"));
        assert!(!ok("DELETE", "/api/v1/namespaces/demo/pods/demo-00001"));
        assert!(!ok("GET", "/api/v1/pods"));
        assert!(ok("GET", "/api/v1"));
        assert!(ok("GET", "/version"));
        assert!(!ok("GET", "/healthz/ping"));
        let anon = |p: &str| authorize(Identity::Anonymous, &info("GET", p, &[]), false);
        assert!(anon("/livez") && anon("/version") && !anon("/api") && !anon("/api/v1/pods"));
    }

    #[test]
    fn authentication_distinguishes_bad_tokens_from_no_credentials() {
        let c = Credentials {
            proxy_mode: false,
            admin_token: Some("adm"),
            reader_token: Some("rdr"),
        };
        assert_eq!(
            authenticate(&c, false, Some("Bearer adm")),
            Ok(Identity::Admin)
        );
        assert_eq!(
            authenticate(&c, false, Some("bearer rdr")),
            Ok(Identity::Reader)
        );
        assert_eq!(authenticate(&c, false, Some("Bearer nope")), Err(()));
        assert_eq!(authenticate(&c, false, None), Ok(Identity::Anonymous));
        assert_eq!(
            authenticate(&c, false, Some("Basic eA==")),
            Ok(Identity::Anonymous)
        );
        assert_eq!(
            authenticate(&c, true, Some("Bearer nope")),
            Ok(Identity::Admin)
        );
    }
}
