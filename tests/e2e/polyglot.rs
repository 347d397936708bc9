//! Guests in other languages: the WIT package is the contract. The Python guest in
//! `examples/python-guest` is built with componentize-py and run by the same host
//! against the fake API server, and so is the componentize-js component in
//! `examples/js-component`, built with the stock CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{Cluster, Output, READER_TOKEN, run_with_limit};
use kubewasm_tests::ServerConfig;

/// The componentize-py release CI installs (`.ci/run`).
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The host compiles an ~18 MB CPython component on its first run (later runs in this
/// process hit the shared compile cache).
const LIMIT: Duration = Duration::from_secs(300);

const ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `componentize-py`, or `$COMPONENTIZE_PY` when set.
fn componentize_py() -> Command {
    Command::new(std::env::var_os("COMPONENTIZE_PY").unwrap_or_else(|| "componentize-py".into()))
}

/// Builds `examples/python-guest/app.py` into `dir/python-guest.wasm` as build.sh does,
/// from a copy in `dir` so the build writes nothing into the source tree.
fn build_python_guest(dir: &Path) -> PathBuf {
    let install = format!(
        "install it with `python3 -m pip install componentize-py=={COMPONENTIZE_PY_VERSION}` \
         (or set COMPONENTIZE_PY to its path)"
    );
    let version = match componentize_py().arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "`componentize-py --version` failed ({}): {}; {install}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("componentize-py is not available ({e}): {install}"),
    };
    if !version.ends_with(COMPONENTIZE_PY_VERSION) {
        eprintln!("note: testing with {version}; CI pins {COMPONENTIZE_PY_VERSION}");
    }

    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(
        workspace().join("examples/python-guest/app.py"),
        src.join("app.py"),
    )
    .expect("copy examples/python-guest/app.py");
    let wasm = dir.join("python-guest.wasm");
    let out = componentize_py()
        .current_dir(dir)
        .arg("-d")
        .arg(workspace().join("wit"))
        .args(["-w", "script", "componentize", "-p"])
        .arg(&src)
        .arg("app")
        .arg("-o")
        .arg(&wasm)
        .output()
        .expect("run componentize-py");
    assert!(
        out.status.success() && wasm.exists(),
        "{version} failed to build the Python guest ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wasm
}

/// A Role in the cluster's home that allows configmaps only (so not the pods the guests
/// list).
fn configmap_reader_policy(cluster: &Cluster) -> PathBuf {
    let policy = cluster.home.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: rbac.authorization.k8s.io/v1\n\
         kind: Role\n\
         metadata:\n  name: configmap-reader\n  namespace: demo\n\
         rules:\n\
         - apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\", \"list\"]\n",
    )
    .unwrap();
    policy
}

/// `host run --kubeconfig K HOST-ARGS... python-guest.wasm`.
fn run_python(cluster: &Cluster, wasm: &Path, host_args: &[&str]) -> Output {
    run_with_limit(cluster.command_with(host_args, wasm, &[]), LIMIT)
}

// One test, so the component is built and compiled once: later runs hit the cache.
#[test]
fn python_guest_lists_pods_and_reports_errors_through_the_same_host() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build_python_guest(dir.path());

    // Lists the pods of its default namespace (`demo`, from the kubeconfig context)
    // from the server's Table.
    let cluster = Cluster::admin();
    let out = run_python(&cluster, &wasm, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "STATUS"], "{out:?}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 50, "{out:?}");
    assert!(rows.iter().all(|r| r.len() == 2), "{out:?}");
    for name in ["demo-00000", "demo-00001", "demo-00049"] {
        assert!(rows.iter().any(|r| r[0] == name), "no {name}: {out:?}");
    }
    assert!(rows.iter().any(|r| r[1] == "Running"), "{out:?}");
    let requests = cluster.server.requests();
    assert_eq!(requests.len(), 1, "{:?}", cluster.paths());
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path_and_query, "/api/v1/namespaces/demo/pods");
    assert_eq!(requests[0].header("accept"), Some(ACCEPT));

    // A Status body (the reader may not list pods in kube-system; `-n` sets the
    // guest's default namespace) is printed as kubectl does, exit 1.
    let reader = Cluster::start_with(ServerConfig::default(), READER_TOKEN);
    let out = run_python(&reader, &wasm, &["-n", "kube-system"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:demo:reader" cannot list resource "pods" in API group "" in the namespace "kube-system""#,
        "{out:?}"
    );
    assert_eq!(out.stdout, "", "{out:?}");

    // An error-code (the host's policy denies pods) is printed, exit 1, and the
    // request never reaches the server.
    let cluster = Cluster::admin();
    let policy = configmap_reader_policy(&cluster);
    let out = run_python(&cluster, &wasm, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.starts_with("error: denied: "), "{out:?}");
    assert!(out.stderr.contains("pods"), "{out:?}");
    assert!(
        !cluster.paths().iter().any(|p| p.contains("/pods")),
        "a denied request reached the server: {:?}",
        cluster.paths()
    );
}

/// Builds `examples/js-component` with its build.sh (the stock componentize-js CLI, no
/// `-d` flags) into `dir/js-component.wasm`.
fn build_js_component(dir: &Path) -> PathBuf {
    let cli = workspace().join("runtimes/js/node_modules/.bin/componentize-js");
    assert!(
        cli.exists(),
        "componentize-js is not installed: ./test.sh installs it (runtimes/build.sh runs npm ci in runtimes/js)"
    );
    let wasm = dir.join("js-component.wasm");
    let out = Command::new(workspace().join("examples/js-component/build.sh"))
        .arg(&wasm)
        .env("COMPONENTIZE_JS", &cli)
        .output()
        .expect("run examples/js-component/build.sh");
    assert!(
        out.status.success() && wasm.exists(),
        "componentize-js failed to build the example ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wasm
}

// One test, so the component is built and compiled once: later runs hit the cache.
#[test]
fn js_component_built_by_stock_componentize_js_lists_pods_with_fetch_through_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build_js_component(dir.path());

    // `fetch("https://kubernetes.default.svc/...")` lists the pods through the host.
    let cluster = Cluster::admin();
    let out = run_with_limit(cluster.command_with(&[], &wasm, &["demo"]), LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 50, "{out:?}");
    assert_eq!(rows[0], ["demo-00000", "Pending"], "{out:?}");
    assert!(rows.iter().any(|r| r[1] == "Running"), "{out:?}");
    assert_eq!(cluster.paths(), ["/api/v1/namespaces/demo/pods"]);

    // A Status error from the server reaches the component as the response.
    let reader = Cluster::start_with(ServerConfig::default(), READER_TOKEN);
    let out = run_with_limit(reader.command_with(&[], &wasm, &["kube-system"]), LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:demo:reader\""),
        "{out:?}"
    );

    // Denied by the host's policy: the host says why on stderr with the rule that would
    // allow it, the component fails, and nothing reaches the server.
    let cluster = Cluster::admin();
    let policy = configmap_reader_policy(&cluster);
    let policy_flag = ["--policy", policy.to_str().unwrap()];
    let out = run_with_limit(cluster.command_with(&policy_flag, &wasm, &["demo"]), LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "kubewasm: wasi:http GET https://kubernetes.default.svc/api/v1/namespaces/demo/pods: denied: list pods in namespace \"demo\""
        ) && out.stderr.contains("resources: [\"pods\"]"),
        "{out:?}"
    );
    assert!(cluster.paths().is_empty(), "{:?}", cluster.paths());
}
