//! Non-resource endpoints: version, health checks, discovery (legacy and aggregated v2),
//! OpenAPI index, ServiceAccount issuer discovery.
//!
//! Recorded documents are replayed. `/apis/<group>` and `/apis/<group>/<version>` for groups
//! other than `apps/v1` were not recorded; they are derived from the recorded `/apis` list and
//! the recorded aggregated discovery, which describes the same resources (the only field legacy
//! discovery has that aggregated discovery lacks is `storageVersionHash`, which is omitted).

use crate::api::{Call, Fail, Handled, Shared};
use crate::json::go_string;
use crate::lists::media_ranges;

/// True when `Accept` prefers aggregated discovery (`as=APIGroupDiscoveryList`, v2) over plain
/// JSON, as kubectl and client-go ask for it.
fn wants_aggregated(accept: Option<&str>) -> bool {
    for r in media_ranges(accept.unwrap_or_default()) {
        if !matches!(
            r.mime.as_str(),
            "application/json" | "application/*" | "*/*"
        ) {
            continue;
        }
        match r.param("as") {
            Some("APIGroupDiscoveryList") => {
                if r.param("g") == Some("apidiscovery.k8s.io") && r.param("v") == Some("v2") {
                    return true;
                }
            }
            None => return false,
            Some(_) => {}
        }
    }
    false
}

/// Serves a non-resource path.
pub fn non_resource(shared: &Shared, call: &Call<'_>) -> Handled {
    if !matches!(call.method, "GET" | "HEAD") {
        return Err(Fail::method_not_allowed());
    }
    let path = call.info.path.as_str();
    let ctx = &call.ctx;
    let recorded = |name: &str| Ok(shared.recorded(ctx, name));
    match path {
        "/version" | "/version/" => recorded("version.http"),
        "/healthz" | "/livez" | "/readyz" => {
            if call.has_q("verbose") {
                health_verbose(shared, call, &path[1..])
            } else {
                recorded("healthz.http")
            }
        }
        "/api" => {
            let aggregated = wants_aggregated(call.header("accept"));
            let name = if aggregated {
                "discovery-aggregated-api.http"
            } else {
                "api.http"
            };
            let f = shared.cluster.fixture(name)?;
            if let Some(r) = not_modified(shared, call, f.header("etag"), name) {
                return Ok(r);
            }
            recorded(name)
        }
        // The recorded documents with the CRD's group added (`crate::crd`).
        "/apis" => {
            let served = &shared.cluster.discovery;
            if wants_aggregated(call.header("accept")) {
                let name = "discovery-aggregated-apis.http";
                let etag = served.aggregated_apis_etag.as_str();
                if let Some(r) = not_modified(shared, call, Some(etag), name) {
                    return Ok(r);
                }
                let f = shared.cluster.fixture(name)?;
                let mut r = crate::response::Reply::with_template(
                    ctx,
                    &f,
                    200,
                    served.aggregated_apis.clone(),
                );
                for (n, v) in r.headers.iter_mut() {
                    if n.eq_ignore_ascii_case("etag") {
                        *v = etag.to_string();
                    }
                }
                Ok(r)
            } else {
                let f = shared.cluster.fixture("apis.http")?;
                Ok(crate::response::Reply::with_template(
                    ctx,
                    &f,
                    200,
                    served.apis.clone(),
                ))
            }
        }
        "/api/v1" => recorded("api-v1.http"),
        "/apis/apps/v1" => recorded("apis-apps-v1.http"),
        "/openapi/v3" => recorded("openapi-v3-index.http"),
        "/.well-known/openid-configuration" => recorded("well-known-openid-configuration.http"),
        "/openid/v1/jwks" => recorded("openid-v1-jwks.http"),
        _ => {
            if let Some(rest) = ["/healthz/", "/livez/", "/readyz/"]
                .iter()
                .find_map(|p| path.strip_prefix(p))
            {
                return health_check(shared, call, rest);
            }
            if let Some(rest) = path.strip_prefix("/apis/") {
                let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
                match parts.as_slice() {
                    [group] => return api_group(shared, call, group),
                    [group, version] => return resource_list(shared, call, group, version),
                    _ => {}
                }
            }
            Err(Fail::Recorded("error-404-unknown-resource.http"))
        }
    }
}

/// A 304 (headers of `name`, no body) when `If-None-Match` is the document's `ETag`.
fn not_modified(
    shared: &Shared,
    call: &Call<'_>,
    etag: Option<&str>,
    name: &str,
) -> Option<crate::response::Reply> {
    let (tag, seen) = (etag?, call.header("if-none-match")?);
    if tag != seen {
        return None;
    }
    let mut r = shared.recorded(&call.ctx, name);
    r.status = 304;
    r.body = crate::response::ResponseBody::Empty;
    r.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
    for (n, v) in r.headers.iter_mut() {
        if n.eq_ignore_ascii_case("etag") {
            *v = tag.to_string();
        }
    }
    Some(r)
}

/// The recorded check list (`readyz?verbose`), with the closing line naming the endpoint.
fn health_verbose(shared: &Shared, call: &Call<'_>, endpoint: &str) -> Handled {
    let f = shared.cluster.fixture("readyz-verbose.http")?;
    let body = f
        .body_str()?
        .replace("readyz check passed", &format!("{endpoint} check passed"));
    Ok(crate::response::Reply::with_template(
        &call.ctx, &f, 200, body,
    ))
}

/// `/readyz/<check>`: `ok` for a check the recorded verbose output lists.
fn health_check(shared: &Shared, call: &Call<'_>, check: &str) -> Handled {
    let f = shared.cluster.fixture("readyz-verbose.http")?;
    let known = f
        .body_str()?
        .lines()
        .any(|l| l.strip_prefix("[+]").and_then(|l| l.strip_suffix(" ok")) == Some(check));
    if known {
        Ok(shared.recorded(&call.ctx, "healthz.http"))
    } else {
        Err(Fail::Recorded("error-404-unknown-resource.http"))
    }
}

/// `/apis/<group>`: the group's entry of the recorded `APIGroupList` as an `APIGroup`.
fn api_group(shared: &Shared, call: &Call<'_>, group: &str) -> Handled {
    let Some(g) = shared.cluster.groups.iter().find(|g| g.name == group) else {
        return Err(Fail::Recorded("error-404-unknown-resource.http"));
    };
    let inner = g.raw.trim().strip_prefix('{').unwrap_or_default();
    let body = format!("{{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",{inner}\n");
    shared.json(&call.ctx, 200, body)
}

/// `/apis/<group>/<version>`: an `APIResourceList` derived from aggregated discovery.
fn resource_list(shared: &Shared, call: &Call<'_>, group: &str, version: &str) -> Handled {
    let colls = shared.cluster.group_version_collections(group, version);
    if colls.is_empty() {
        return Err(Fail::Recorded("error-404-unknown-resource.http"));
    }
    shared.json(&call.ctx, 200, legacy_resource_list(group, version, &colls))
}

/// Builds the legacy discovery document (fields in `metav1.APIResource` order; subresources
/// follow their resource, as the server sorts them by name).
pub fn legacy_resource_list(
    group: &str,
    version: &str,
    colls: &[&crate::cluster::Collection],
) -> String {
    let list = |v: &[String]| {
        format!(
            "[{}]",
            v.iter().map(|s| go_string(s)).collect::<Vec<_>>().join(",")
        )
    };
    let mut entries: Vec<(String, String)> = Vec::new();
    for c in colls {
        let mut e = format!(
            "{{\"name\":{},\"singularName\":{},\"namespaced\":{},\"kind\":{},\"verbs\":{}",
            go_string(&c.resource),
            go_string(&c.singular),
            c.namespaced,
            go_string(&c.kind),
            list(&c.verbs)
        );
        if !c.short_names.is_empty() {
            e.push_str(&format!(",\"shortNames\":{}", list(&c.short_names)));
        }
        if !c.categories.is_empty() {
            e.push_str(&format!(",\"categories\":{}", list(&c.categories)));
        }
        e.push('}');
        entries.push((c.resource.clone(), e));
        for s in &c.subresources {
            let name = format!("{}/{}", c.resource, s.name);
            let mut e = format!(
                "{{\"name\":{},\"singularName\":\"\",\"namespaced\":{}",
                go_string(&name),
                c.namespaced
            );
            if !s.response_group.is_empty() {
                e.push_str(&format!(",\"group\":{}", go_string(&s.response_group)));
            }
            if !s.response_version.is_empty() {
                e.push_str(&format!(",\"version\":{}", go_string(&s.response_version)));
            }
            e.push_str(&format!(
                ",\"kind\":{},\"verbs\":{}}}",
                go_string(&s.kind),
                list(&s.verbs)
            ));
            entries.push((name, e));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    format!(
        "{{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":{},\"resources\":[{}]}}\n",
        go_string(&format!("{group}/{version}")),
        entries
            .into_iter()
            .map(|(_, e)| e)
            .collect::<Vec<_>>()
            .join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use serde_json::Value;

    #[test]
    fn derived_resource_list_matches_recorded_apps_v1_except_storage_hash() {
        let cluster = Cluster::load().unwrap();
        let derived = legacy_resource_list(
            "apps",
            "v1",
            &cluster.group_version_collections("apps", "v1"),
        );
        let mut recorded: Value = serde_json::from_str(
            cluster
                .fixture("apis-apps-v1.http")
                .unwrap()
                .body_str()
                .unwrap(),
        )
        .unwrap();
        for r in recorded["resources"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("storageVersionHash");
        }
        let derived: Value = serde_json::from_str(&derived).unwrap();
        assert_eq!(derived, recorded);
    }

    #[test]
    fn aggregated_discovery_needs_the_v2_media_type_first() {
        assert!(wants_aggregated(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        )));
        assert!(!wants_aggregated(Some("application/json")));
        assert!(!wants_aggregated(None));
        assert!(!wants_aggregated(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        )));
    }
}
