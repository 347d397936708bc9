//! Operator tools and credential corner cases: `policy suggest`, `inspect`, `compile`,
//! kubeconfig errors that name the file and field, exec plugin policy, POD_NAMESPACE.

use kubewasm_tests::KubeconfigAuth;

use crate::harness::{ADMIN_TOKEN, Cluster, GUEST, host, host_run, in_cluster_env, run};

#[test]
fn policy_suggested_from_an_audit_log_allows_the_same_run() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("audit.jsonl");
    let audited = cluster.run_with(
        &["--audit", audit.to_str().unwrap()],
        GUEST,
        &["get", "pods"],
    );
    assert_eq!(audited.code(), 0);

    let mut suggest = host(cluster.home.path());
    suggest.args(["policy", "suggest", "--audit"]).arg(&audit);
    let out = run(suggest);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("kind: Role"), "{out:?}");
    let policy = cluster.home.path().join("suggested.yaml");
    std::fs::write(&policy, &out.stdout).unwrap();

    let again = cluster.run_with(
        &["--policy", policy.to_str().unwrap()],
        GUEST,
        &["get", "pods"],
    );
    assert_eq!(again.code(), 0, "{again:?}");
    assert!(again.stdout.contains("demo-00001"), "{again:?}");
}

#[test]
fn inspect_lists_the_kubewasm_imports_and_the_run_export() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = host(home.path());
    cmd.args(["inspect", GUEST]);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("kubewasm:client/api@0.1.0"), "{out:?}");
    assert!(
        out.stdout.contains("kubewasm:client/credentials@0.1.0"),
        "{out:?}"
    );
    assert!(out.stdout.contains("wasi:cli/run"), "{out:?}");
    assert!(!out.stdout.contains("wasi:sockets"), "{out:?}");
}

#[test]
fn compiled_guest_runs_only_with_allow_precompiled() {
    let cluster = Cluster::admin();
    let cwasm = cluster.home.path().join("guest.cwasm");
    let mut compile = host(cluster.home.path());
    compile.args(["compile", GUEST, "-o"]).arg(&cwasm);
    assert_eq!(run(compile).code(), 0);

    let refused = run(cluster.guest(&cwasm, &["version"]));
    assert_eq!(refused.code(), 1, "{refused:?}");
    assert!(
        refused.stderr.contains("--allow-precompiled"),
        "{refused:?}"
    );

    let out = cluster.run_with(&["--allow-precompiled"], &cwasm, &["version"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("v1.36.2"), "{out:?}");
}

#[test]
fn a_precompiled_guest_that_a_grant_reaches_is_refused_before_anything_runs() {
    // A `.cwasm` is native code: a guest that could rewrite it would run outside the
    // sandbox on the next run. The host, which loads other guests while it connects,
    // must still refuse this one before loading it.
    let cluster = Cluster::admin();
    let dir = cluster.home.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let cwasm = dir.join("guest.cwasm");
    let mut compile = host(cluster.home.path());
    compile.args(["compile", GUEST, "-o"]).arg(&cwasm);
    assert_eq!(run(compile).code(), 0);

    let grant = format!("{}::/bin", dir.display());
    let out = cluster.run_with(
        &["--allow-precompiled", "--dir-rw", &grant],
        &cwasm,
        &["version"],
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("refused") && out.stderr.contains("the precompiled guest"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "the guest ran: {out:?}");
    assert!(
        cluster.server.requests().is_empty(),
        "a guest ran: {:?}",
        cluster.paths()
    );
}

#[test]
fn unknown_context_is_one_line_naming_the_file_and_the_contexts() {
    let cluster = Cluster::admin();
    let out = cluster.run_with(&["--context", "prod"], GUEST, &["version"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.contains(r#"context "prod""#), "{out:?}");
    assert!(
        out.stderr.contains(cluster.kubeconfig.to_str().unwrap()),
        "{out:?}"
    );
    assert!(out.stderr.contains("kubewasm-demo"), "{out:?}");
}

#[test]
fn insecure_flag_warns_loudly_and_skips_verification() {
    let cluster = Cluster::start_with(
        kubewasm_tests::ServerConfig {
            untrusted_serving_cert: true,
            ..kubewasm_tests::ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let out = cluster.run_with(&["--insecure-skip-tls-verify"], GUEST, &["version"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("NOT verified"), "{out:?}");
}

#[test]
fn exec_plugins_can_be_denied() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /usr/bin/touch\n      args: [\"/tmp/kubewasm-exec-plugin-ran\"]\n      interactiveMode: Never\n",
    )
    .unwrap();
    let out = run(host_run(
        home.path(),
        &kubeconfig,
        &["--exec-plugins", "deny-all"],
        GUEST,
        &["version"],
    ));
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("/usr/bin/touch"), "{out:?}");
    assert!(out.stderr.contains("--exec-plugin-allow"), "{out:?}");
}

#[test]
fn pod_namespace_env_overrides_the_service_account_namespace_file() {
    let cluster = Cluster::admin();
    let sa_dir = cluster.home.path().join("sa");
    cluster
        .server
        .write_service_account_dir(&sa_dir, ADMIN_TOKEN, "kube-system")
        .unwrap();
    let mut cmd = host(cluster.home.path());
    in_cluster_env(&mut cmd, &cluster.server, &sa_dir);
    cmd.env("POD_NAMESPACE", "demo")
        .arg("--in-cluster")
        .args([GUEST, "get", "pods"]);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("demo-00001"), "{out:?}");
}

#[test]
fn client_certificate_files_that_do_not_exist_name_the_file() {
    let cluster = Cluster::admin();
    let kubeconfig = cluster.home.path().join("certs.yaml");
    cluster
        .server
        .write_kubeconfig(
            &kubeconfig,
            KubeconfigAuth::ClientCertificateFiles {
                cert: cluster.home.path().join("admin.crt"),
                key: cluster.home.path().join("admin.key"),
            },
            None,
        )
        .unwrap();
    std::fs::remove_file(cluster.home.path().join("admin.crt")).unwrap();
    let out = run(host_run(
        cluster.home.path(),
        &kubeconfig,
        &[],
        GUEST,
        &["version"],
    ));
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("admin.crt"), "{out:?}");
}

/// The host crate's example `name`, built beside `host`.
fn example(name: &str) -> std::path::PathBuf {
    let example = crate::harness::host_bin()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        example.exists(),
        "{example:?} is built by `cargo test --workspace` (examples are part of the test build)"
    );
    example
}

#[test]
fn embedding_example_runs_two_guests_with_different_policies() {
    let cluster = Cluster::admin();
    let mut cmd = std::process::Command::new(example("two_guests"));
    cmd.env("TMPDIR", cluster.home.path())
        .arg(GUEST)
        .arg(&cluster.kubeconfig);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("reader: exit 0"), "{out:?}");
    assert!(out.stdout.contains("confined: exit 1"), "{out:?}");
    assert!(out.stdout.contains("confined, pods: exit 0"), "{out:?}");
    assert!(
        out.stdout.contains("node-1") && out.stdout.contains("pod/demo-00001"),
        "{out:?}"
    );
    assert!(out.stderr.contains("denied: list secrets"), "{out:?}");
    // The instance made ahead ran once, with the arguments its call brought.
    assert!(
        out.stdout
            .contains("confined, pods again: this guest instance has already run"),
        "{out:?}"
    );
}

#[test]
fn embedding_benchmark_runs_each_call_on_a_fresh_instance_made_ahead_or_at_the_call() {
    let cluster = Cluster::admin();
    for mode in [None, Some("--at-call")] {
        let mut cmd = std::process::Command::new(example("bench_embed"));
        cmd.env("TMPDIR", cluster.home.path())
            .arg(GUEST)
            .arg(&cluster.kubeconfig)
            .arg("20")
            .args(mode);
        let out = run(cmd);
        // Each call checks its guest exited 0 and printed the server's version: a guest
        // run without its call's arguments prints usage and fails.
        assert_eq!(out.code(), 0, "{mode:?}: {out:?}");
        assert!(
            out.stdout
                .starts_with("20 instantiations + 1 request each in ")
                && out.stdout.contains("/s on one thread"),
            "{mode:?}: {out:?}"
        );
    }
}

#[test]
fn kube_rs_yardstick_loops_send_their_requests_over_http1_and_http2() {
    let cluster = Cluster::admin();
    for (job, version) in [
        ("version-loop", http::Version::HTTP_11),
        ("version-loop-h2", http::Version::HTTP_2),
    ] {
        let before = cluster.server.requests().len();
        let mut cmd = std::process::Command::new(example("kube_rs_peer"));
        cmd.arg(&cluster.kubeconfig).args([job, "default", "5"]);
        let out = run(cmd);
        assert_eq!(out.code(), 0, "{job}: {out:?}");
        assert!(
            out.stdout.starts_with("5 requests in ") && out.stdout.contains("/s on one thread"),
            "{job}: {out:?}"
        );
        let sent: Vec<_> = cluster.server.requests()[before..]
            .iter()
            .map(|r| (r.path_and_query.clone(), r.http_version))
            .collect();
        assert_eq!(sent, vec![("/version".to_string(), version); 5], "{job}");
    }
}

#[test]
fn soak_keeps_every_ordinary_guest_working_beside_hostile_ones() {
    let cluster = Cluster::admin();
    let mut cmd = std::process::Command::new(example("soak"));
    // Two seconds per phase, 6 ordinary guests, one hostile guest of each kind.
    cmd.env("TMPDIR", cluster.home.path())
        .arg(GUEST)
        .arg(crate::harness::ADVERSARY_GUEST)
        .arg(&cluster.kubeconfig)
        .args(["2", "6", "5"]);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "{out:?}");
    for phase in ["without hostile guests:", "with hostile guests:"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(phase))
            .unwrap_or_else(|| panic!("no {phase:?} line: {out:?}"));
        assert!(line.contains("; 0 failed;"), "{line}");
    }
    // Each hostile guest was stopped by its own limit, or refused, and said which.
    for limit in [
        "--max-refusals",
        "--max-request-body-bytes",
        "--cpu-limit",
        "--max-memory",
        "HoldStreams: exit 0: opened 16",
    ] {
        assert!(out.stdout.contains(limit), "{limit}: {out:?}");
    }
}
