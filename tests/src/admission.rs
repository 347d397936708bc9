//! What the API server does to an object between decoding and storing it: defaulting,
//! admission (the mutating plugins that are on by default) and validation.
//!
//! Covered, with the server's wording:
//! - names: DNS-1123 subdomain for most resources, DNS-1123 label for namespaces, DNS-1035
//!   label for services; `name or generateName is required`;
//! - Pods: `spec.containers` required, each container's `name` and `image` required; the
//!   defaults of `SetDefaults_Pod*` (restart/DNS/scheduler policy, grace period, termination
//!   message, image pull policy), `status.phase: Pending` and `qosClass`; and the default
//!   admission plugins' changes: ServiceAccount (`default` account and its
//!   `kube-api-access-xxxxx` token volume and mounts), DefaultTolerationSeconds, Priority;
//! - Namespaces: the `kubernetes.io/metadata.name` label, the `kubernetes` finalizer, phase
//!   `Active`; Secrets: type `Opaque`.
//!
//! Everything else is stored as sent. The resulting shape of a created Pod is checked against
//! `create-pod-201.http` by the tests.

use crate::api::Fail;
use crate::cluster::Collection;
use crate::json::go_string;
use crate::schema;
use crate::store::random_suffix;
use crate::tree::Tree;

/// One validation error (`field.Error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, ...
    pub reason: &'static str,
    /// The error body, e.g. `Required value`.
    pub message: String,
    /// The field path, e.g. `spec.containers`.
    pub field: String,
}

impl Cause {
    fn required(field: &str, detail: &str) -> Cause {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Cause {
            reason: "FieldValueRequired",
            message,
            field: field.to_string(),
        }
    }

    fn invalid(field: &str, value: &str, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {}: {detail}", quote(value)),
            field: field.to_string(),
        }
    }
}

/// Go's `%q` for the plain strings validation prints.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `apierrors.NewInvalid`: 422 with `details.causes`.
pub fn invalid(group: &str, kind: &str, name: &str, causes: &[Cause]) -> Fail {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let errors: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    let aggregate = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let mut details = format!("{{\"name\":{}", go_string(name));
    if !group.is_empty() {
        details.push_str(&format!(",\"group\":{}", go_string(group)));
    }
    details.push_str(&format!(",\"kind\":{},\"causes\":[", go_string(kind)));
    let causes: Vec<String> = causes
        .iter()
        .map(|c| {
            format!(
                "{{\"reason\":{},\"message\":{},\"field\":{}}}",
                go_string(c.reason),
                go_string(&c.message),
                go_string(&c.field)
            )
        })
        .collect();
    details.push_str(&causes.join(","));
    details.push_str("]}");
    Fail::Status {
        code: 422,
        reason: "Invalid",
        message: format!("{qualified} {} is invalid: {aggregate}", quote(name)),
        details: Some(details),
    }
}

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

fn is_label(s: &str, first_letter: bool) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && (b[0].is_ascii_lowercase() || (!first_letter && b[0].is_ascii_digit()))
        && b[b.len() - 1] != b'-'
}

/// `validation.IsDNS1123Subdomain` / `IsDNS1123Label` / `IsDNS1035Label` error details.
fn name_errors(resource: &str, name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    match resource {
        "namespaces" => {
            if name.len() > 63 {
                errs.push("must be no more than 63 characters".to_string());
            }
            if !is_label(name, false) {
                errs.push(format!(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')"
                ));
            }
        }
        "services" => {
            if name.len() > 63 {
                errs.push("must be no more than 63 characters".to_string());
            }
            if !is_label(name, true) {
                errs.push(format!(
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL}')"
                ));
            }
        }
        _ => {
            if name.len() > 253 {
                errs.push("must be no more than 253 characters".to_string());
            }
            if !name.split('.').all(|l| is_label(l, false)) {
                errs.push(format!(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')"
                ));
            }
        }
    }
    errs
}

/// Validates an object about to be stored; empty when it is valid.
pub fn validate(coll: &Collection, obj: &Tree) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = obj.str_at(&["metadata", "name"]).unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for e in name_errors(&coll.resource, name) {
            causes.push(Cause::invalid("metadata.name", name, &e));
        }
    }
    if coll.group.is_empty() && coll.resource == "pods" {
        match obj.at(&["spec", "containers"]) {
            Some(Tree::Array(cs)) if !cs.is_empty() => {
                for (i, c) in cs.iter().enumerate() {
                    for field in ["name", "image"] {
                        if c.str_at(&[field]).is_none_or(str::is_empty) {
                            causes.push(Cause::required(
                                &format!("spec.containers[{i}].{field}"),
                                "",
                            ));
                        }
                    }
                }
            }
            _ => causes.push(Cause::required("spec.containers", "")),
        }
    }
    causes
}

/// Applies the API server's defaulting (done at decoding, for creates and updates).
pub fn default_fields(coll: &Collection, obj: &mut Tree) {
    if !coll.group.is_empty() {
        return;
    }
    match coll.resource.as_str() {
        "pods" => default_pod(obj),
        "secrets" if obj.get("type").is_none() => {
            schema::place("Secret", obj, &[], "type", "Opaque".into());
        }
        _ => {}
    }
}

fn default_pod(pod: &mut Tree) {
    let spec = pod.child_object("spec");
    for list in ["initContainers", "containers"] {
        if let Some(Tree::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut() {
                default_container(c, list);
            }
        }
    }
    let defaults: [(&str, Tree); 6] = [
        ("restartPolicy", "Always".into()),
        ("terminationGracePeriodSeconds", 30.into()),
        ("dnsPolicy", "ClusterFirst".into()),
        ("securityContext", Tree::object()),
        ("schedulerName", "default-scheduler".into()),
        ("enableServiceLinks", true.into()),
    ];
    for (k, v) in defaults {
        if spec.get(k).is_none() {
            schema::place("Pod", spec, &["spec"], k, v);
        }
    }
}

fn default_container(c: &mut Tree, list: &str) {
    let path = ["spec", list, "*"];
    let image = c.str_at(&["image"]).unwrap_or_default().to_string();
    // `:latest` or no tag (and no digest) pulls always.
    let last = image.rsplit('/').next().unwrap_or_default();
    let pull = if !image.contains('@') && (!last.contains(':') || last.ends_with(":latest")) {
        "Always"
    } else {
        "IfNotPresent"
    };
    let defaults: [(&str, Tree); 4] = [
        ("resources", Tree::object()),
        ("terminationMessagePath", "/dev/termination-log".into()),
        ("terminationMessagePolicy", "File".into()),
        ("imagePullPolicy", pull.into()),
    ];
    for (k, v) in defaults {
        if c.get(k).is_none() {
            schema::place("Pod", c, &path, k, v);
        }
    }
    if let Some(Tree::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut() {
            if p.get("protocol").is_none() {
                p.set("protocol", "TCP".into());
            }
        }
    }
}

/// What the server adds when an object is created: status set by the strategy
/// (`PrepareForCreate`) and the default admission plugins' mutations.
pub fn admit_create(coll: &Collection, obj: &mut Tree) {
    if !coll.group.is_empty() {
        return;
    }
    match coll.resource.as_str() {
        "pods" => admit_pod(obj),
        "namespaces" => {
            let name = obj
                .str_at(&["metadata", "name"])
                .unwrap_or_default()
                .to_string();
            let meta = obj.child_object("metadata");
            let labels = meta.child_object("labels");
            labels.set("kubernetes.io/metadata.name", name.into());
            let spec = obj.child_object("spec");
            if spec.get("finalizers").is_none() {
                spec.set("finalizers", Tree::Array(vec!["kubernetes".into()]));
            }
            let mut status = Tree::object();
            status.set("phase", "Active".into());
            schema::place("Namespace", obj, &[], "status", status);
        }
        _ => {}
    }
}

fn admit_pod(pod: &mut Tree) {
    let mut status = Tree::object();
    status.set("phase", "Pending".into());
    let best_effort = ["initContainers", "containers"]
        .iter()
        .all(|l| match pod.at(&["spec", l]) {
            Some(Tree::Array(cs)) => cs
                .iter()
                .all(|c| c.get("resources").is_none_or(Tree::is_empty_object)),
            _ => true,
        });
    status.set(
        "qosClass",
        if best_effort {
            "BestEffort"
        } else {
            "Burstable"
        }
        .into(),
    );
    schema::place("Pod", pod, &[], "status", status);

    let spec = pod.child_object("spec");
    // ServiceAccount admission.
    if spec
        .str_at(&["serviceAccountName"])
        .is_none_or(str::is_empty)
    {
        schema::place(
            "Pod",
            spec,
            &["spec"],
            "serviceAccountName",
            "default".into(),
        );
    }
    let sa = spec
        .str_at(&["serviceAccountName"])
        .unwrap_or("default")
        .to_string();
    schema::place("Pod", spec, &["spec"], "serviceAccount", sa.into());
    if spec.get("automountServiceAccountToken") != Some(&Tree::Bool(false)) {
        mount_service_account_token(spec);
    }
    // DefaultTolerationSeconds admission.
    let mut tolerations = match spec.remove("tolerations") {
        Some(Tree::Array(t)) => t,
        _ => Vec::new(),
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        if !tolerations.iter().any(|t| t.str_at(&["key"]) == Some(key)) {
            let mut t = Tree::object();
            t.set("key", key.into());
            t.set("operator", "Exists".into());
            t.set("effect", "NoExecute".into());
            t.set("tolerationSeconds", 300.into());
            tolerations.push(t);
        }
    }
    schema::place(
        "Pod",
        spec,
        &["spec"],
        "tolerations",
        Tree::Array(tolerations),
    );
    // Priority admission.
    if spec.get("priority").is_none() {
        schema::place("Pod", spec, &["spec"], "priority", 0.into());
    }
    if spec.get("preemptionPolicy").is_none() {
        schema::place(
            "Pod",
            spec,
            &["spec"],
            "preemptionPolicy",
            "PreemptLowerPriority".into(),
        );
    }
}

/// The projected token volume and its mounts, as the ServiceAccount admission plugin adds them.
fn mount_service_account_token(spec: &mut Tree) {
    const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
    let volume_name = format!("kube-api-access-{}", random_suffix(5));
    let volume = Tree::parse(&format!(
        r#"{{"name":{},"projected":{{"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}},{{"configMap":{{"name":"kube-root-ca.crt","items":[{{"key":"ca.crt","path":"ca.crt"}}]}}}},{{"downwardAPI":{{"items":[{{"path":"namespace","fieldRef":{{"apiVersion":"v1","fieldPath":"metadata.namespace"}}}}]}}}}],"defaultMode":420}}}}"#,
        go_string(&volume_name)
    ))
    .expect("static JSON");
    let mut volumes = match spec.remove("volumes") {
        Some(Tree::Array(v)) => v,
        _ => Vec::new(),
    };
    volumes.push(volume);
    schema::place("Pod", spec, &["spec"], "volumes", Tree::Array(volumes));
    for list in ["initContainers", "containers"] {
        let Some(Tree::Array(cs)) = spec.get_mut(list) else {
            continue;
        };
        for c in cs.iter_mut() {
            let already = matches!(c.get("volumeMounts"), Some(Tree::Array(m))
                if m.iter().any(|m| m.str_at(&["mountPath"]) == Some(MOUNT_PATH)));
            if already {
                continue;
            }
            let mut mounts = match c.remove("volumeMounts") {
                Some(Tree::Array(m)) => m,
                _ => Vec::new(),
            };
            let mut m = Tree::object();
            m.set("name", volume_name.as_str().into());
            m.set("readOnly", true.into());
            m.set("mountPath", MOUNT_PATH.into());
            mounts.push(m);
            schema::place(
                "Pod",
                c,
                &["spec", list, "*"],
                "volumeMounts",
                Tree::Array(mounts),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;

    #[test]
    fn invalid_pod_gets_the_recorded_422_body() {
        let cluster = Cluster::load().unwrap();
        let pods = cluster.collection("", "v1", "pods").unwrap();
        let body = Tree::parse(
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Invalid_Name"}, "spec": {"containers": []}}"#,
        )
        .unwrap();
        let causes = validate(pods, &body);
        let Fail::Status {
            code,
            reason,
            message,
            details,
        } = invalid("", "Pod", "Invalid_Name", &causes)
        else {
            panic!("not a Status");
        };
        let got = crate::response::status_body(code, reason, &message, details.as_deref());
        let recorded = crate::fixtures::get("error-422-invalid-pod.http").unwrap();
        assert_eq!(got, recorded.body_str().unwrap());
    }

    #[test]
    fn names_follow_the_dns_rules_of_each_resource() {
        assert!(name_errors("pods", "a.b-c").is_empty());
        assert_eq!(name_errors("pods", "-a").len(), 1);
        assert!(name_errors("namespaces", "a.b").len() == 1);
        assert!(name_errors("services", "1abc").len() == 1);
        assert!(name_errors("configmaps", &"a".repeat(254)).len() == 1);
    }
}
