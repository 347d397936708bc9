//! A CustomResourceDefinition's custom resources: `crontabs.stable.example.com` (version `v1`,
//! kind `CronTab`, short name `ct`, namespaced, no `additionalPrinterColumns`) with three
//! CronTabs in namespace `demo`.
//!
//! None of this was recorded: the recordings were made on a cluster without CRDs. It is written
//! the way kube-apiserver v1.36 (apiextensions-apiserver behind kube-aggregator) serves a CRD:
//!
//! - discovery: the group is *added* to the recorded `/apis` documents, last (a CRD's
//!   APIService has GroupPriorityMinimum 1000, below every built-in group). Aggregated
//!   discovery names the group and version in `responseKind` (built-in groups leave them
//!   empty) and lists the verbs in apiextensions' order; the aggregated `ETag` is recomputed
//!   as the server computes it. `/apis/stable.example.com[/v1]` are derived like the other
//!   groups' (without `storageVersionHash`).
//! - objects are unstructured: every JSON object has its keys sorted (Go's encoding of
//!   `map[string]interface{}`), list items keep `apiVersion`/`kind`, and the list's metadata
//!   always has `continue` (`UnstructuredList.SetContinue("")`).
//! - Tables: apiextensions' table convertor with the column it defaults to when a CRD has
//!   none (`serveDefaultColumnsIfEmpty`): `Name`, then `Age` (type `date`, cells a human
//!   readable age), not the generic `Name`/`Created At` convertor of built-in types.

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

use crate::cluster::{Cluster, GroupInfo, Object, collection_from_discovery};
use crate::json;
use crate::store::ResKey;
use crate::table::{Printer, derived_columns};

/// The CRD's API group.
pub const GROUP: &str = "stable.example.com";

/// The group's entry of the aggregated discovery document (`APIGroupDiscovery`).
pub const AGGREGATED_GROUP: &str = r#"{"metadata":{"name":"stable.example.com"},"versions":[{"version":"v1","resources":[{"resource":"crontabs","responseKind":{"group":"stable.example.com","version":"v1","kind":"CronTab"},"scope":"Namespaced","singularResource":"crontab","verbs":["delete","deletecollection","get","list","patch","create","update","watch"],"shortNames":["ct"]}],"freshness":"Current"}]}"#;

/// The group's entry of the legacy `APIGroupList`.
pub const LEGACY_GROUP: &str = r#"{"name":"stable.example.com","versions":[{"groupVersion":"stable.example.com/v1","version":"v1"}],"preferredVersion":{"groupVersion":"stable.example.com/v1","version":"v1"}}"#;

/// The CronTabs in `demo`, as a GET returns them (created with `kubectl create` after the
/// CRD was established, before the recorded lists were taken at resourceVersion 8384).
pub const CRONTABS: &[&str] = &[
    r#"{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"creationTimestamp":"2026-11-28T15:25:41Z","generation":1,"managedFields":[{"apiVersion":"stable.example.com/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{".":{},"f:cronSpec":{},"f:image":{},"f:replicas":{}}},"manager":"kubectl-create","operation":"Update","time":"2026-11-28T15:25:41Z"}],"name":"backup","namespace":"demo","resourceVersion":"8371","uid":"0b6f5c1e-3d47-4f0e-9a8c-2e51d7c4a901"},"spec":{"cronSpec":"0 3 * * *","image":"registry.example.com/backup:1.4","replicas":1}}"#,
    r#"{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"creationTimestamp":"2026-11-28T15:25:42Z","generation":1,"labels":{"team":"web"},"managedFields":[{"apiVersion":"stable.example.com/v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:team":{}}},"f:spec":{".":{},"f:cronSpec":{},"f:image":{},"f:replicas":{}}},"manager":"kubectl-create","operation":"Update","time":"2026-11-28T15:25:42Z"}],"name":"cache-warmer","namespace":"demo","resourceVersion":"8372","uid":"6a2d8e94-71b3-4c55-b0f7-93c4e1f28d36"},"spec":{"cronSpec":"*/5 * * * *","image":"registry.example.com/cache-warmer:2.0","replicas":2}}"#,
    r#"{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"creationTimestamp":"2026-11-28T15:25:44Z","generation":1,"managedFields":[{"apiVersion":"stable.example.com/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{".":{},"f:cronSpec":{},"f:image":{},"f:replicas":{}}},"manager":"kubectl-create","operation":"Update","time":"2026-11-28T15:25:44Z"}],"name":"report","namespace":"demo","resourceVersion":"8373","uid":"d3e07b25-8c1f-4a96-b2d4-5f6a18c9e7b0"},"spec":{"cronSpec":"30 6 * * 1","image":"registry.example.com/report:0.9","replicas":1}}"#,
];

/// The `/apis` documents as served: the recorded ones with the CRD's group added.
#[derive(Clone, Debug, Default)]
pub struct ServedDiscovery {
    /// `APIGroupList` (legacy `/apis`).
    pub apis: String,
    /// `APIGroupDiscoveryList` (`/apis` with the aggregated discovery Accept).
    pub aggregated_apis: String,
    /// The `ETag` header value (quoted) of `aggregated_apis`.
    pub aggregated_apis_etag: String,
}

/// Appends `entry` to the JSON array that ends the document (`...,"groups":[...]}` or
/// `...,"items":[...]}`), keeping the encoder's trailing newline.
fn append_to_last_array(doc: &str, entry: &str) -> Result<String> {
    let trimmed = doc.trim_end();
    let newline = &doc[trimmed.len()..];
    let head = trimmed
        .strip_suffix("]}")
        .ok_or_else(|| anyhow!("document does not end with an array"))?;
    let sep = if head.ends_with('[') { "" } else { "," };
    Ok(format!("{head}{sep}{entry}]}}{newline}"))
}

/// The aggregated discovery `ETag`: the hex SHA-512 of the list's JSON without TypeMeta.
pub fn aggregated_etag(body: &str) -> Result<String> {
    let body = body.trim_end();
    let at = body
        .find("\"metadata\":")
        .ok_or_else(|| anyhow!("aggregated discovery without metadata"))?;
    let untyped = format!("{{{}", &body[at..]);
    use sha2::Digest;
    let digest = sha2::Sha512::digest(untyped.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    Ok(format!("\"{hex}\""))
}

/// Adds the CRD's collection, group and objects to the cluster; returns the served `/apis`
/// documents built from the recorded ones.
pub fn install(
    cluster: &mut Cluster,
    pod_columns: &str,
    recorded_apis: &str,
    recorded_aggregated_apis: &str,
) -> Result<ServedDiscovery> {
    let group: Value = serde_json::from_str(AGGREGATED_GROUP)?;
    for ver in group["versions"].as_array().into_iter().flatten() {
        let vname = ver["version"].as_str().unwrap_or_default().to_string();
        for r in ver["resources"].as_array().into_iter().flatten() {
            let mut c = collection_from_discovery(GROUP, &vname, r, pod_columns)?;
            c.unstructured = true;
            c.table.printer = Printer::CustomResource;
            c.table.columns = derived_columns(pod_columns, Printer::CustomResource)?;
            cluster
                .collections
                .insert((GROUP.to_string(), vname.clone(), c.resource.clone()), c);
        }
    }
    cluster.groups.push(GroupInfo {
        name: GROUP.to_string(),
        raw: LEGACY_GROUP.to_string(),
    });
    let mut items = Vec::new();
    for raw in CRONTABS {
        items.push(Object::from_unstructured(raw).context("CronTab")?);
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    cluster
        .recorded
        .insert(ResKey::new(GROUP, "crontabs"), items);

    let aggregated_apis = append_to_last_array(recorded_aggregated_apis, AGGREGATED_GROUP)?;
    Ok(ServedDiscovery {
        apis: append_to_last_array(recorded_apis, LEGACY_GROUP)?,
        aggregated_apis_etag: aggregated_etag(&aggregated_apis)?,
        aggregated_apis,
    })
}

/// Sorts the keys of every object, as Go encodes a `map[string]interface{}`.
pub fn sort_keys(t: &mut crate::tree::Tree) {
    use crate::tree::Tree;
    match t {
        Tree::Object(entries) => {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, v) in entries.iter_mut() {
                sort_keys(v);
            }
        }
        Tree::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// `metadata` of an unstructured list, as Go encodes it: keys sorted, `continue` always.
pub fn unstructured_list_meta(go_order_meta: &str) -> Result<String> {
    let mut t = crate::tree::Tree::parse(go_order_meta)?;
    if t.get("continue").is_none() {
        t.set("continue", crate::tree::Tree::String(String::new()));
    }
    sort_keys(&mut t);
    Ok(t.encode())
}

/// An unstructured list: `{"apiVersion","items","kind","metadata"}`, items with their type.
pub fn unstructured_list(kind: &str, api_version: &str, meta: &str, items: &[&str]) -> String {
    format!(
        "{{\"apiVersion\":{},\"items\":[{}],\"kind\":{},\"metadata\":{meta}}}\n",
        json::go_string(api_version),
        items.join(","),
        json::go_string(&format!("{kind}List"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_aggregated_etag_is_the_sha512_of_the_untyped_list() {
        let f = crate::fixtures::get("discovery-aggregated-apis.http").unwrap();
        assert_eq!(
            aggregated_etag(f.body_str().unwrap()).unwrap(),
            f.header("etag").unwrap()
        );
    }

    #[test]
    fn crd_group_is_appended_last_to_both_apis_documents() {
        let apis = append_to_last_array("{\"groups\":[{\"a\":1}]}\n", "{\"b\":2}").unwrap();
        assert_eq!(apis, "{\"groups\":[{\"a\":1},{\"b\":2}]}\n");
        let c = Cluster::load().unwrap();
        let served: Value = serde_json::from_str(&c.discovery.apis).unwrap();
        let groups = served["groups"].as_array().unwrap();
        assert_eq!(groups.last().unwrap()["name"], GROUP);
        let recorded = c.fixture("apis.http").unwrap();
        let recorded: Value = serde_json::from_str(recorded.body_str().unwrap()).unwrap();
        assert_eq!(
            &groups[..groups.len() - 1],
            recorded["groups"].as_array().unwrap().as_slice()
        );
        let agg: Value = serde_json::from_str(&c.discovery.aggregated_apis).unwrap();
        assert_eq!(
            agg["items"].as_array().unwrap().last().unwrap()["metadata"]["name"],
            GROUP
        );
    }

    #[test]
    fn crontabs_keep_sorted_keys_and_metadata_in_go_order_for_partial_objects() {
        let o = Object::from_unstructured(CRONTABS[0]).unwrap();
        assert_eq!(o.full_raw, CRONTABS[0]);
        assert_eq!(o.item_raw, CRONTABS[0]);
        assert!(
            o.metadata_raw
                .starts_with(r#"{"name":"backup","namespace":"demo","uid":"#),
            "{}",
            o.metadata_raw
        );
        assert!(o.metadata_raw.contains(r#"[{"manager":"kubectl-create","operation":"Update","apiVersion":"stable.example.com/v1","time":"#));
        assert_eq!(o.resource_version, "8371");
        assert_eq!(o.key, "demo/backup");
    }

    #[test]
    fn unstructured_list_metadata_is_sorted_and_always_has_continue() {
        assert_eq!(
            unstructured_list_meta(r#"{"resourceVersion":"8384"}"#).unwrap(),
            r#"{"continue":"","resourceVersion":"8384"}"#
        );
        assert_eq!(
            unstructured_list_meta(
                r#"{"resourceVersion":"8384","continue":"abc","remainingItemCount":1}"#
            )
            .unwrap(),
            r#"{"continue":"abc","remainingItemCount":1,"resourceVersion":"8384"}"#
        );
    }
}
