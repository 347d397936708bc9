//! The little of the Kubernetes type schema the fake needs to write objects like the server.
//!
//! Go encodes a struct's fields in declaration order and a map's keys sorted; strategic merge
//! patch and managed fields identify list items by a merge key (`containers` by `name`). The
//! tables below cover the objects the recorded cluster holds and what clients usually create
//! (object metadata, Pods and their containers, ConfigMaps, Secrets, ServiceAccounts,
//! Namespaces, managed-fields entries). Anything else keeps the order it arrived in, which is
//! still valid JSON, just not necessarily the byte order of a real server.

use crate::tree::Tree;

/// `ObjectMeta`, in Go field order.
const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Top-level fields of the core kinds, merged into one order (no kind has two of them in a
/// conflicting order): TypeMeta, ObjectMeta, then ConfigMap/Secret/ServiceAccount/spec/status.
const TOP_LEVEL: &[&str] = &[
    "kind",
    "apiVersion",
    "metadata",
    "secrets",
    "imagePullSecrets",
    "automountServiceAccountToken",
    "immutable",
    "data",
    "stringData",
    "binaryData",
    "type",
    "spec",
    "status",
];

const POD_SPEC: &[&str] = &[
    "volumes",
    "initContainers",
    "containers",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
];

const CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
];

const POD_STATUS: &[&str] = &[
    "observedGeneration",
    "phase",
    "conditions",
    "message",
    "reason",
    "nominatedNodeName",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
    "qosClass",
    "ephemeralContainerStatuses",
    "resize",
    "resourceClaimStatuses",
];

const MANAGED_FIELDS_ENTRY: &[&str] = &[
    "manager",
    "operation",
    "apiVersion",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
];

const OWNER_REFERENCE: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "uid",
    "controller",
    "blockOwnerDeletion",
];

const VOLUME_MOUNT: &[&str] = &[
    "name",
    "readOnly",
    "recursiveReadOnly",
    "mountPath",
    "subPath",
    "mountPropagation",
    "subPathExpr",
];

const TOLERATION: &[&str] = &["key", "operator", "value", "effect", "tolerationSeconds"];

/// How the keys of the object at a path are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// A Go struct: fields in this order.
    Struct(&'static [&'static str]),
    /// A Go map: keys sorted.
    Map,
    /// Not known: keep the order the keys arrived in.
    Unknown,
}

fn is_container_list(k: &str) -> bool {
    matches!(k, "containers" | "initContainers" | "ephemeralContainers")
}

/// The key order of the object at `path` (object keys; `*` for an array element).
pub fn key_order(path: &[&str]) -> KeyOrder {
    use KeyOrder::*;
    match path {
        [] => Struct(TOP_LEVEL),
        ["metadata"] => Struct(OBJECT_META),
        ["metadata", "labels" | "annotations"] => Map,
        ["metadata", "managedFields", "*"] => Struct(MANAGED_FIELDS_ENTRY),
        ["metadata", "ownerReferences", "*"] => Struct(OWNER_REFERENCE),
        ["data" | "binaryData" | "stringData"] => Map,
        ["spec", "nodeSelector"] => Map,
        ["spec", c, "*"] if is_container_list(c) => Struct(CONTAINER),
        ["spec", c, "*", "volumeMounts", "*"] if is_container_list(c) => Struct(VOLUME_MOUNT),
        ["spec", "tolerations", "*"] => Struct(TOLERATION),
        _ => Unknown,
    }
}

/// The key order at `path` of an object of `kind` (the pod spec and status orders only apply
/// to pods: a Deployment's `spec` is a different struct).
pub fn key_order_for(kind: &str, path: &[&str]) -> KeyOrder {
    match (kind, path) {
        ("Pod", ["spec"]) => KeyOrder::Struct(POD_SPEC),
        ("Pod", ["status"]) => KeyOrder::Struct(POD_STATUS),
        (k, ["spec", ..]) | (k, ["status", ..]) if k != "Pod" => KeyOrder::Unknown,
        _ => key_order(path),
    }
}

/// The strategic-merge key of the list at `path`: its items are merged, and named in managed
/// fields (`k:{"name":"c"}`), by these fields. `None`: the list is atomic and replaced whole.
pub fn merge_key(path: &[&str]) -> Option<&'static [&'static str]> {
    match path {
        ["spec", c] if is_container_list(c) => Some(&["name"]),
        ["spec", "volumes"] | ["spec", "imagePullSecrets"] | ["spec", "readinessGates"] => {
            Some(&["name"])
        }
        ["spec", c, "*", "env"] if is_container_list(c) => Some(&["name"]),
        ["spec", c, "*", "volumeMounts"] if is_container_list(c) => Some(&["mountPath"]),
        ["spec", c, "*", "ports"] if is_container_list(c) => Some(&["containerPort", "protocol"]),
        ["status", "conditions"] => Some(&["type"]),
        ["metadata", "ownerReferences"] => Some(&["uid"]),
        _ => None,
    }
}

/// True for lists that are sets of scalars (`metadata.finalizers`).
pub fn is_scalar_set(path: &[&str]) -> bool {
    matches!(path, ["metadata", "finalizers"])
}

/// Sorts every object in `tree` the way Go would encode it: struct fields in declaration order,
/// map keys sorted. Keys the tables do not know stay after the known key they followed, so a
/// document already in Go order (every recorded object) is left exactly as it is.
pub fn canonicalize(kind: &str, tree: &mut Tree) {
    let mut path = Vec::new();
    walk(kind, tree, &mut path);
}

fn walk(kind: &str, tree: &mut Tree, path: &mut Vec<String>) {
    match tree {
        Tree::Object(entries) => {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            order_entries(key_order_for(kind, &p), entries);
            for (k, v) in entries.iter_mut() {
                path.push(k.clone());
                walk(kind, v, path);
                path.pop();
            }
        }
        Tree::Array(items) => {
            for v in items.iter_mut() {
                path.push("*".into());
                walk(kind, v, path);
                path.pop();
            }
        }
        _ => {}
    }
}

fn order_entries(order: KeyOrder, entries: &mut Vec<(String, Tree)>) {
    match order {
        KeyOrder::Unknown => {}
        KeyOrder::Map => entries.sort_by(|a, b| a.0.cmp(&b.0)),
        KeyOrder::Struct(fields) => {
            // Group each known key with the unknown keys that follow it; sort the groups.
            let mut groups: Vec<(usize, Vec<(String, Tree)>)> = Vec::new();
            for (k, v) in entries.drain(..) {
                match fields.iter().position(|f| *f == k) {
                    Some(rank) => groups.push((rank, vec![(k, v)])),
                    None => match groups.last_mut() {
                        Some(g) => g.1.push((k, v)),
                        None => groups.push((0, vec![(k, v)])),
                    },
                }
            }
            groups.sort_by_key(|g| g.0);
            entries.extend(groups.into_iter().flat_map(|g| g.1));
        }
    }
}

/// Sets `key` in the object at `path` of `tree`, placing a new key where Go's encoder would.
pub fn place(kind: &str, obj: &mut Tree, path: &[&str], key: &str, value: Tree) {
    if obj.get(key).is_some() {
        obj.set(key, value);
        return;
    }
    obj.set(key, value);
    if let Tree::Object(entries) = obj {
        order_entries(key_order_for(kind, path), entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_leaves_recorded_objects_untouched() {
        for name in [
            "pod-get.http",
            "create-pod-201.http",
            "serviceaccount-reader.http",
        ] {
            let f = crate::fixtures::get(name).unwrap();
            let body = f.body_str().unwrap().trim_end();
            let mut t = Tree::parse(body).unwrap();
            let kind = t.str_at(&["kind"]).unwrap().to_string();
            canonicalize(&kind, &mut t);
            assert_eq!(t.encode(), body, "{name}");
        }
    }

    #[test]
    fn canonical_order_puts_struct_fields_in_go_order_and_sorts_maps() {
        // An unknown key stays behind the known key it followed.
        let mut t = Tree::parse(
            r#"{"spec":{"containers":[{"image":"i","name":"c","x-unknown":1}]},"metadata":{"labels":{"b":"1","a":"2"},"name":"p"},"kind":"Pod","apiVersion":"v1"}"#,
        )
        .unwrap();
        canonicalize("Pod", &mut t);
        assert_eq!(
            t.encode(),
            r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","labels":{"a":"2","b":"1"}},"spec":{"containers":[{"name":"c","x-unknown":1,"image":"i"}]}}"#
        );
    }
}
