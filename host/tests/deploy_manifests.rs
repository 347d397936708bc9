//! The manifests in `deploy/` are what an operator applies: they must be well-formed
//! Kubernetes objects, the Jobs' arguments must be valid `host` command lines, and the
//! policy in the ConfigMap must load and mean what the walkthrough says it means.
//! (`kubectl apply --dry-run=server` needs a cluster; CI has none.)

use std::path::PathBuf;

use clap::Parser;
use kubewasm_host::cli::Cli;
use kubewasm_host::policy::{Policy, RequestInfo};
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn documents() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(deploy_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let values: Vec<Value> = serde_saphyr::from_multiple(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for value in values {
                docs.push((path.display().to_string(), value));
            }
        }
    }
    assert!(!docs.is_empty());
    docs
}

#[test]
fn every_manifest_is_a_named_object_with_a_known_api_version() {
    let namespaced = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Job"];
    let cluster_scoped = ["Namespace", "ClusterRoleBinding", "ClusterRole"];
    for (file, doc) in documents() {
        let kind = doc["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no kind"));
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let expected = match kind {
            "Namespace" | "ServiceAccount" | "ConfigMap" => "v1",
            "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => {
                "rbac.authorization.k8s.io/v1"
            }
            "Job" => "batch/v1",
            other => panic!("{file}: unexpected kind {other}"),
        };
        assert_eq!(api_version, expected, "{file}: {kind}");
        assert!(
            doc["metadata"]["name"].is_string(),
            "{file}: {kind} has no name"
        );
        let has_namespace = doc["metadata"]["namespace"].is_string();
        if namespaced.contains(&kind) {
            assert!(has_namespace, "{file}: {kind} needs a namespace");
        }
        if cluster_scoped.contains(&kind) {
            assert!(!has_namespace, "{file}: {kind} is cluster-scoped");
        }
    }
}

#[test]
fn job_arguments_are_valid_host_command_lines() {
    let mut jobs = 0;
    for (file, doc) in documents().into_iter().filter(|(_, d)| d["kind"] == "Job") {
        let container = &doc["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<String> = container["args"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no args"))
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let argv = std::iter::once("host".to_string()).chain(args);
        if let Err(e) = Cli::try_parse_from(argv) {
            panic!("{file}: {e}");
        }
        jobs += 1;
    }
    assert_eq!(jobs, 2);
}

#[test]
fn configmap_policy_reads_pods_in_demo_and_nothing_else() {
    let (_, configmap) = documents()
        .into_iter()
        .find(|(_, d)| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "kubewasm-policy")
        .expect("the policy ConfigMap");
    let yaml = configmap["data"]["policy.yaml"].as_str().unwrap();
    let policy = Policy::from_yaml_str(yaml, "deploy/policy.yaml").unwrap();
    let decide = |method: &str, path: &str| {
        policy
            .decide(&RequestInfo::parse(method, path).unwrap())
            .is_allowed()
    };
    assert!(decide("GET", "/api/v1/namespaces/demo/pods"));
    assert!(decide("GET", "/api/v1/namespaces/demo/pods?watch=true"));
    assert!(decide("GET", "/apis"));
    assert!(decide("GET", "/version"));
    assert!(!decide("GET", "/api/v1/namespaces/kube-system/secrets"));
    assert!(!decide("GET", "/api/v1/namespaces/demo/pods/web-0/log"));
    assert!(!decide("GET", "/api/v1/namespaces/kube-system/pods"));
    assert!(!decide("DELETE", "/api/v1/namespaces/demo/pods/web-0"));
}

#[test]
fn the_image_bakes_the_compiled_guest_and_no_job_hides_it_under_a_volume() {
    let dockerfile =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile"))
            .unwrap();
    assert!(
        dockerfile.contains("host compile --out-dir /out/precompiled"),
        "the image must compile the guest ahead of time"
    );
    assert!(dockerfile.contains("ENV KUBEWASM_PRECOMPILED_DIR=/opt/kubewasm/precompiled"));
    let mut jobs = 0;
    for (file, doc) in documents().into_iter().filter(|(_, d)| d["kind"] == "Job") {
        let container = &doc["spec"]["template"]["spec"]["containers"][0];
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let path = mount["mountPath"].as_str().unwrap();
            assert!(
                !"/opt/kubewasm/precompiled".starts_with(path)
                    && !path.starts_with("/opt/kubewasm"),
                "{file}: a volume at {path} hides the image's precompiled guest"
            );
        }
        jobs += 1;
    }
    assert_eq!(jobs, 2);
}
