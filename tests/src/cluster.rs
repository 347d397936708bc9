//! The fake cluster as recorded: the resource catalog, the recorded objects and watch events.
//!
//! Objects are kept as the raw JSON text the API server sent (so replies are byte-identical to
//! the recordings) plus a decoded `serde_json::Value` for selectors and printers. The resource
//! catalog (every group, version and resource, its kind, scope, verbs and subresources) comes
//! from the recorded aggregated discovery documents, so a request for any resource the real
//! server knows is answered like the real server would for an empty collection. The live state
//! starts from here and lives in [`crate::store::Store`].

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::fixtures::{self, Fixture};
use crate::json::{self, go_string};
use crate::schema;
use crate::store::ResKey;
use crate::table::{Printer, TableSpec, derived_columns};
use crate::tree::Tree;

/// One stored object.
#[derive(Clone, Debug)]
pub struct Object {
    /// `name` (cluster-scoped) or `namespace/name`: the etcd key below the resource prefix,
    /// which orders list results and continue tokens.
    pub key: String,
    /// Namespace, if namespaced.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// JSON as it appears inside a list (`items[i]`: no `kind`/`apiVersion`).
    pub item_raw: String,
    /// JSON as a GET returns it (with `kind` and `apiVersion`).
    pub full_raw: String,
    /// The raw `metadata` object.
    pub metadata_raw: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// Decoded form, for selectors and printers.
    pub value: Value,
    /// Exactly as recorded (so recorded Table rows may be replayed for it).
    pub pristine: bool,
}

impl Object {
    /// Builds an object from raw JSON with or without `kind`/`apiVersion`.
    pub fn from_raw(raw: &str, kind: &str, api_version: &str) -> Result<Object> {
        let entries = json::object_entries(raw)?;
        let body: Vec<String> = entries
            .iter()
            .filter(|(k, _)| k != "kind" && k != "apiVersion")
            .map(|(k, v)| format!("{}:{v}", go_string(k)))
            .collect();
        let item_raw = format!("{{{}}}", body.join(","));
        let full_raw = if body.is_empty() {
            format!(
                "{{\"kind\":{},\"apiVersion\":{}}}",
                go_string(kind),
                go_string(api_version)
            )
        } else {
            format!(
                "{{\"kind\":{},\"apiVersion\":{},{}}}",
                go_string(kind),
                go_string(api_version),
                body.join(",")
            )
        };
        let metadata_raw = entries
            .iter()
            .find(|(k, _)| k == "metadata")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| "{}".into());
        let value: Value = serde_json::from_str(raw)?;
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string);
        let resource_version = value
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = match &namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.clone(),
        };
        Ok(Object {
            key,
            namespace,
            name,
            item_raw,
            full_raw,
            metadata_raw,
            resource_version,
            value,
            pristine: false,
        })
    }

    /// Builds an object of a custom resource (unstructured): every object's keys sorted, the
    /// list item keeps `kind`/`apiVersion`; `metadata_raw` is in `ObjectMeta` order, as the
    /// server converts it for `PartialObjectMetadata` (Tables, metadata-only lists).
    pub fn from_unstructured(raw: &str) -> Result<Object> {
        let mut tree = Tree::parse(raw)?;
        crate::crd::sort_keys(&mut tree);
        let full_raw = tree.encode();
        let kind = tree.str_at(&["kind"]).unwrap_or_default().to_string();
        let api_version = tree.str_at(&["apiVersion"]).unwrap_or_default().to_string();
        let mut meta = Tree::object();
        meta.set(
            "metadata",
            tree.get("metadata").cloned().unwrap_or_else(Tree::object),
        );
        schema::canonicalize(&kind, &mut meta);
        let mut o = Object::from_raw(&full_raw, &kind, &api_version)?;
        o.item_raw = full_raw.clone();
        o.full_raw = full_raw;
        if let Some(m) = meta.get("metadata") {
            o.metadata_raw = m.encode();
        }
        Ok(o)
    }

    /// The key relative to a list: the name inside one namespace, else `namespace/name`.
    pub fn list_key(&self, single_namespace: bool) -> &str {
        if single_namespace {
            &self.name
        } else {
            &self.key
        }
    }
}

/// A recorded watch event.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`.
    pub event_type: String,
    /// The event's object.
    pub object: Object,
    /// The event line exactly as recorded (without the trailing newline).
    pub raw_line: String,
}

/// A subresource as discovery describes it.
#[derive(Clone, Debug)]
pub struct Subresource {
    /// e.g. `log`, `status`.
    pub name: String,
    /// Kind of the response.
    pub kind: String,
    /// Group of the response kind when it differs (e.g. `autoscaling` for `scale`).
    pub response_group: String,
    /// Version of the response kind when it differs.
    pub response_version: String,
    /// Verbs.
    pub verbs: Vec<String>,
}

/// Everything the server knows about one resource of one group version.
#[derive(Clone, Debug)]
pub struct Collection {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
    /// Singular resource name.
    pub singular: String,
    /// Kind of one object.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs from discovery.
    pub verbs: Vec<String>,
    /// Short names from discovery.
    pub short_names: Vec<String>,
    /// Categories from discovery.
    pub categories: Vec<String>,
    /// Subresources from discovery.
    pub subresources: Vec<Subresource>,
    /// Table rendering.
    pub table: TableSpec,
    /// Field labels `fieldSelector` accepts.
    pub field_labels: Vec<&'static str>,
    /// A custom resource: served as unstructured JSON (keys sorted, see [`crate::crd`]).
    pub unstructured: bool,
}

impl Collection {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// True when discovery lists `verb` for the resource.
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// True when discovery lists the subresource (`status`, `log`, ...).
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }

    /// Where objects of this collection are stored.
    pub fn res_key(&self) -> ResKey {
        ResKey::new(&self.group, &self.resource)
    }

    /// An object of this collection from its JSON (with or without `kind`/`apiVersion`).
    pub fn object_from_raw(&self, raw: &str) -> Result<Object> {
        if self.unstructured {
            Object::from_unstructured(raw)
        } else {
            Object::from_raw(raw, &self.kind, &self.api_version())
        }
    }

    /// The store key of an object (`namespace/name`, or `name` when cluster-scoped).
    pub fn object_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }
}

/// A group's versions in preference order, for `/apis` and `/apis/<group>`.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    /// Group name.
    pub name: String,
    /// Raw JSON of the group as it appears in the recorded `APIGroupList`.
    pub raw: String,
}

/// The whole fake cluster as recorded.
pub struct Cluster {
    /// Collections by (group, version, resource).
    pub collections: HashMap<(String, String, String), Collection>,
    /// Groups of `/apis`, in recorded order.
    pub groups: Vec<GroupInfo>,
    /// Recorded responses by file name.
    pub fixtures: HashMap<&'static str, Fixture>,
    /// `metadata.resourceVersion` of the recorded lists (all were taken at the same one).
    pub recorded_rv: u64,
    /// Recorded objects per resource, sorted by key (the order etcd returns them in).
    pub recorded: HashMap<ResKey, Vec<Object>>,
    /// The recorded watch of pods in `demo` (`watch-pods-demo.http`), in order.
    pub recorded_events: Vec<WatchEvent>,
    /// The `/apis` documents as served (recorded, plus the CRD's group).
    pub discovery: crate::crd::ServedDiscovery,
}

/// Field labels the API server accepts for pods (`pkg/registry/core/pod/strategy.go`).
const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];
const NODE_FIELDS: &[&str] = &["metadata.name", "spec.unschedulable"];
const NAMESPACE_FIELDS: &[&str] = &["metadata.name", "status.phase"];
const DEFAULT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

impl Cluster {
    /// Loads every embedded fixture and builds the cluster.
    pub fn load() -> Result<Cluster> {
        let mut fixtures = HashMap::new();
        for (name, bytes) in fixtures::ALL {
            fixtures.insert(*name, fixtures::parse(name, bytes)?);
        }
        let body = |name: &str| -> Result<&'static str> {
            fixtures
                .get(name)
                .ok_or_else(|| anyhow!("fixture {name} is not embedded"))?
                .body_str()
        };

        let pod_table = body("pods-demo-table.http")?;
        let pod_columns = json::required_field(pod_table, "columnDefinitions")?.to_string();
        let recorded_rv = list_rv(body("error-404-missing-namespace-list.http")?)?;

        let mut collections = HashMap::new();
        for doc in [
            body("discovery-aggregated-api.http")?,
            body("discovery-aggregated-apis.http")?,
        ] {
            let v: Value = serde_json::from_str(doc).context("aggregated discovery")?;
            for group in v["items"].as_array().into_iter().flatten() {
                let gname = group
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                for ver in group["versions"].as_array().into_iter().flatten() {
                    let vname = ver["version"].as_str().unwrap_or_default().to_string();
                    for r in ver["resources"].as_array().into_iter().flatten() {
                        let c = collection_from_discovery(&gname, &vname, r, &pod_columns)?;
                        collections.insert((gname.clone(), vname.clone(), c.resource.clone()), c);
                    }
                }
            }
        }

        let mut cluster = Cluster {
            collections,
            groups: Vec::new(),
            fixtures: HashMap::new(),
            recorded_rv,
            recorded: HashMap::new(),
            recorded_events: Vec::new(),
            discovery: Default::default(),
        };
        for g in json::array_items(json::required_field(body("apis.http")?, "groups")?)? {
            let v: Value = serde_json::from_str(g)?;
            cluster.groups.push(GroupInfo {
                name: v["name"].as_str().unwrap_or_default().to_string(),
                raw: g.to_string(),
            });
        }

        // Collections with recorded contents.
        let pods = cluster.fill(
            "pods",
            body("pods-demo-list.http")?,
            Printer::Pod,
            &pod_columns,
        )?;
        pods.field_labels = POD_FIELDS.to_vec();
        pods.table.columns = pod_columns.clone();
        for row in json::array_items(json::required_field(pod_table, "rows")?)? {
            let obj = json::required_field(json::required_field(row, "object")?, "metadata")?;
            insert_recorded_row(&mut pods.table.recorded, obj, row)?;
        }
        cluster.recorded_events = load_watch_events(body("watch-pods-demo.http")?)?;

        let node_table = body("nodes-table.http")?;
        let nodes = cluster.fill(
            "nodes",
            body("nodes-list.http")?,
            Printer::RecordedOnly,
            &pod_columns,
        )?;
        nodes.field_labels = NODE_FIELDS.to_vec();
        nodes.table.columns = json::required_field(node_table, "columnDefinitions")?.to_string();
        for row in json::array_items(json::required_field(node_table, "rows")?)? {
            let obj = json::required_field(json::required_field(row, "object")?, "metadata")?;
            insert_recorded_row(&mut nodes.table.recorded, obj, row)?;
        }

        let ns = cluster.fill(
            "namespaces",
            body("namespaces-list.http")?,
            Printer::Namespace,
            &pod_columns,
        )?;
        ns.field_labels = NAMESPACE_FIELDS.to_vec();
        cluster.fill(
            "configmaps",
            body("configmaps-demo-list.http")?,
            Printer::ConfigMap,
            &pod_columns,
        )?;
        let mut sa = Object::from_raw(body("serviceaccount-reader.http")?, "ServiceAccount", "v1")?;
        sa.pristine = true;
        cluster
            .recorded
            .insert(ResKey::new("", "serviceaccounts"), vec![sa]);
        let sas = cluster.core_mut("serviceaccounts")?;
        sas.table.printer = Printer::ServiceAccount;
        sas.table.columns = derived_columns(&pod_columns, Printer::ServiceAccount)?;

        cluster.discovery = crate::crd::install(
            &mut cluster,
            &pod_columns,
            body("apis.http")?,
            body("discovery-aggregated-apis.http")?,
        )?;

        cluster.fixtures = fixtures;
        Ok(cluster)
    }

    fn core_mut(&mut self, resource: &str) -> Result<&mut Collection> {
        self.collections
            .get_mut(&(String::new(), "v1".into(), resource.into()))
            .ok_or_else(|| anyhow!("core/v1 {resource} is not in the recorded discovery"))
    }

    /// Fills a core/v1 collection from a recorded list.
    fn fill(
        &mut self,
        resource: &str,
        list: &str,
        printer: Printer,
        pod_columns: &str,
    ) -> Result<&mut Collection> {
        if list_rv(list)? != self.recorded_rv {
            bail!("the recorded {resource} list was taken at another resourceVersion");
        }
        let c = self.core_mut(resource)?;
        let (kind, av) = (c.kind.clone(), c.api_version());
        let mut items = Vec::new();
        for raw in json::array_items(json::required_field(list, "items")?)? {
            let mut o = Object::from_raw(raw, &kind, &av)?;
            o.pristine = true;
            items.push(o);
        }
        items.sort_by(|a, b| a.key.cmp(&b.key));
        let key = c.res_key();
        self.recorded.insert(key, items);
        let c = self.core_mut(resource)?;
        c.table.printer = printer;
        if matches!(
            printer,
            Printer::Namespace | Printer::ConfigMap | Printer::ServiceAccount
        ) {
            c.table.columns = derived_columns(pod_columns, printer)?;
        }
        Ok(c)
    }

    /// A recorded response by file name.
    pub fn fixture(&self, name: &str) -> Result<Fixture> {
        self.fixtures
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("fixture {name} is not embedded"))
    }

    /// The collection for group/version/resource.
    pub fn collection(&self, group: &str, version: &str, resource: &str) -> Option<&Collection> {
        self.collections
            .get(&(group.to_string(), version.to_string(), resource.to_string()))
    }

    /// All collections of one group version, sorted by resource name.
    pub fn group_version_collections(&self, group: &str, version: &str) -> Vec<&Collection> {
        let mut v: Vec<&Collection> = self
            .collections
            .values()
            .filter(|c| c.group == group && c.version == version)
            .collect();
        v.sort_by(|a, b| a.resource.cmp(&b.resource));
        v
    }
}

/// Indexes a recorded Table row by the key of the object its `object.metadata` describes.
fn insert_recorded_row(
    recorded: &mut HashMap<String, &'static str>,
    metadata_raw: &str,
    row: &'static str,
) -> Result<()> {
    let meta: Value = serde_json::from_str(metadata_raw)?;
    let name = meta["name"].as_str().unwrap_or_default();
    let key = match meta["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    recorded.insert(key, row);
    Ok(())
}

fn list_rv(list: &str) -> Result<u64> {
    let meta: Value = serde_json::from_str(json::required_field(list, "metadata")?)?;
    meta["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("list without a numeric metadata.resourceVersion"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

pub(crate) fn collection_from_discovery(
    group: &str,
    version: &str,
    r: &Value,
    pod_columns: &str,
) -> Result<Collection> {
    let resource = r["resource"]
        .as_str()
        .ok_or_else(|| anyhow!("discovery resource without a name"))?
        .to_string();
    let kind = r
        .pointer("/responseKind/kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let namespaced = match r["scope"].as_str() {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => bail!("{resource}: unknown scope {other:?}"),
    };
    let subresources = r["subresources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Subresource {
            name: s["subresource"].as_str().unwrap_or_default().to_string(),
            kind: s
                .pointer("/responseKind/kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            response_group: s
                .pointer("/responseKind/group")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            response_version: s
                .pointer("/responseKind/version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            verbs: strings(&s["verbs"]),
        })
        .collect();
    Ok(Collection {
        group: group.to_string(),
        version: version.to_string(),
        singular: r["singularResource"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        kind,
        namespaced,
        verbs: strings(&r["verbs"]),
        short_names: strings(&r["shortNames"]),
        categories: strings(&r["categories"]),
        subresources,
        table: TableSpec {
            columns: derived_columns(pod_columns, Printer::Default)?,
            printer: Printer::Default,
            recorded: HashMap::new(),
        },
        field_labels: DEFAULT_FIELDS.to_vec(),
        unstructured: false,
        resource,
    })
}

fn load_watch_events(body: &str) -> Result<Vec<WatchEvent>> {
    let mut out = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let event_type: String = serde_json::from_str(json::required_field(line, "type")?)?;
        let raw = json::required_field(line, "object")?;
        let object = Object::from_raw(raw, "Pod", "v1")?;
        out.push(WatchEvent {
            event_type,
            object,
            raw_line: line.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_loads_recorded_objects_and_catalog() {
        let c = Cluster::load().unwrap();
        let pods = c.collection("", "v1", "pods").unwrap();
        assert_eq!(c.recorded[&pods.res_key()].len(), 50);
        assert_eq!(c.recorded_rv, 8384);
        assert_eq!(pods.table.recorded.len(), 50);
        assert!(pods.has_subresource("log"));
        assert_eq!(c.recorded_events.len(), 6);
        assert_eq!(c.recorded[&ResKey::new("", "nodes")].len(), 3);
        let deploy = c.collection("apps", "v1", "deployments").unwrap();
        assert!(deploy.namespaced && !c.recorded.contains_key(&deploy.res_key()));
        assert!(
            c.collection("autoscaling", "v2", "horizontalpodautoscalers")
                .is_some()
        );
    }

    #[test]
    fn object_from_get_response_equals_list_item_plus_type_meta() {
        let c = Cluster::load().unwrap();
        let pod = c.recorded[&ResKey::new("", "pods")]
            .iter()
            .find(|o| o.key == "demo/demo-00001")
            .unwrap();
        let recorded = c.fixture("pod-get.http").unwrap();
        assert_eq!(format!("{}\n", pod.full_raw), recorded.body_str().unwrap());
    }
}
