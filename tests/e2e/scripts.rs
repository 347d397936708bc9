//! `host run SCRIPT.py` and `host run SCRIPT.js`: scripts with no build step, in the runtime components that
//! `runtimes/build.sh` builds, against the fake API server; and the script examples in
//! `examples/scripts/`, each under its own Role.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::{Cluster, Output, run_with_limit};

/// The runtimes carry CPython and SpiderMonkey: their first compile (once per test run,
/// see [`runtime_dir`]) takes a while on a busy machine.
const LIMIT: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The runtimes beside the `host` binary, where it looks by default (`./test.sh` builds
/// them there; `runtimes/build.sh` keeps an unchanged build), compiled into the shared
/// cache by one first run each, so that tests running in parallel do not all compile
/// them at once.
fn runtime_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let host = crate::harness::host_bin();
        let dir = host
            .parent()
            .expect("host is in a directory")
            .join("runtimes");
        let out = std::process::Command::new(workspace().join("runtimes/build.sh"))
            .arg(&dir)
            .output()
            .expect("run runtimes/build.sh");
        assert!(
            out.status.success(),
            "runtimes/build.sh failed ({}); ./test.sh installs what it needs:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Cluster::admin();
        for (name, source) in [("warm.py", "pass\n"), ("warm.js", "\n")] {
            let script = cluster.home.path().join(name);
            std::fs::write(&script, source).unwrap();
            let warm = run_script_in(&dir, &cluster, &[], &script, &[]);
            assert_eq!(warm.code(), 0, "{warm:?}");
        }
        dir
    })
}

fn run_script_in(
    runtimes: &Path,
    cluster: &Cluster,
    host_flags: &[&str],
    script: &Path,
    args: &[&str],
) -> Output {
    let mut cmd = cluster.command_with(host_flags, script, args);
    cmd.env("KUBEWASM_RUNTIME_DIR", runtimes);
    run_with_limit(cmd, LIMIT)
}

/// `host run --kubeconfig K HOST-FLAGS... SCRIPT ARGS...` with the test runtimes.
fn run_script(cluster: &Cluster, host_flags: &[&str], script: &Path, args: &[&str]) -> Output {
    run_script_in(runtime_dir(), cluster, host_flags, script, args)
}

/// Writes `source` as `name` in the cluster's home directory.
fn script(cluster: &Cluster, name: &str, source: &str) -> PathBuf {
    let path = cluster.home.path().join(name);
    std::fs::write(&path, source).unwrap();
    path
}

fn one_line(out: &Output) -> &str {
    let text = out.stderr.trim_end();
    assert_eq!(text.lines().count(), 1, "not one line: {out:?}");
    text
}

#[test]
fn python_script_lists_pods_page_by_page_and_gets_every_argument_after_it_help_too() {
    let cluster = Cluster::admin();
    let path = script(
        &cluster,
        "count.py",
        "import sys, kubewasm\n\
         pods = kubewasm.list(kubewasm.path('v1', 'pods', namespace=kubewasm.namespace()), limit=20)\n\
         print(len(pods), pods[0]['metadata']['name'], sys.argv[1:])\n",
    );
    // `--help` right after the script is the script's, not the host's.
    let out = run_script(&cluster, &[], &path, &["--help", "x"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "50 demo-00000 ['--help', 'x']\n", "{out:?}");
    let paths = cluster.paths();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert_eq!(paths[0], "/api/v1/namespaces/demo/pods?limit=20");
    assert!(paths[1].contains("continue="), "{paths:?}");
}

#[test]
fn a_scripts_private_copy_is_removed_when_the_run_ends_however_it_ends() {
    let cluster = Cluster::admin();
    let tmp = tempfile::tempdir().unwrap();
    // `host run` exits without tearing the session down; the script's copy must still go.
    for (name, source, code) in [
        ("ok.py", "print('hi')\n", 0),
        ("fails.py", "import sys\nsys.exit(3)\n", 3),
        ("ok.js", "console.log('hi');\n", 0),
    ] {
        let path = script(&cluster, name, source);
        let mut cmd = cluster.command_with(&[], &path, &[]);
        cmd.env("KUBEWASM_RUNTIME_DIR", runtime_dir())
            .env("TMPDIR", tmp.path());
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), code, "{name}: {out:?}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{name}: left behind in TMPDIR: {left:?}");
    }
}

#[test]
fn output_larger_than_one_stream_write_reaches_stdout_whole() {
    let cluster = Cluster::admin();
    // The host's stdout takes 64 KiB per write; a larger print must not be cut there,
    // whichever way the script writes and however it ends.
    for (name, source, code, c) in [
        (
            "big.py",
            "import sys\nprint('a' * 100000)\nsys.stdout.write('b' * 70000)\nsys.stdout.buffer.write(b'c' * 70000)\nsys.exit(3)\n",
            3,
            70_000,
        ),
        (
            "big.js",
            "console.log('a'.repeat(100000));\nconsole.log('b'.repeat(70000) + 'c'.repeat(69999));\n",
            0,
            69_999,
        ),
    ] {
        let path = script(&cluster, name, source);
        let out = run_script(&cluster, &[], &path, &[]);
        assert_eq!(out.code(), code, "{name}: {}", out.stderr);
        let count = |c: char| out.stdout.chars().filter(|&x| x == c).count();
        assert_eq!(
            (out.stdout.len(), count('a'), count('b'), count('c')),
            (240_001, 100_000, 70_000, c),
            "{name}: {}",
            out.stderr
        );
    }
}

#[test]
fn python_script_sets_its_exit_code_and_status_errors_are_api_errors() {
    let cluster = Cluster::admin();
    let path = script(
        &cluster,
        "missing.py",
        "import sys, kubewasm\n\
         try:\n    kubewasm.get('/api/v1/namespaces/demo/pods/nope')\n\
         except kubewasm.ApiError as e:\n    print(e.code, e.reason, e.message)\n    sys.exit(7)\n",
    );
    let out = run_script(&cluster, &[], &path, &[]);
    assert_eq!(out.code(), 7, "{out:?}");
    assert_eq!(out.stdout, "404 NotFound pods \"nope\" not found\n");
}

#[test]
fn python_script_errors_are_one_line_naming_the_file() {
    let cluster = Cluster::admin();
    let cases = [
        ("syntax.py", "x = 1\nif x\n", ":2: SyntaxError: "),
        (
            "throws.py",
            "x = 1\nraise ValueError('bad value')\n",
            ":2: ValueError: bad value",
        ),
        (
            "missing_module.py",
            "import requests\n",
            ":1: ModuleNotFoundError: No module named 'requests'",
        ),
        ("passwd.py", "open('/etc/passwd').read()\n", "--dir"),
    ];
    for (name, source, expected) in cases {
        let path = script(&cluster, name, source);
        let out = run_script(&cluster, &[], &path, &[]);
        assert_eq!(out.code(), 1, "{name}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.starts_with(&format!("error: {}:", path.display())),
            "{name}: {out:?}"
        );
        assert!(line.contains(expected), "{name}: {out:?}");
    }
}

#[test]
fn python_script_denied_by_the_policy_gets_the_rule_that_would_allow_it() {
    let cluster = Cluster::admin();
    let path = script(
        &cluster,
        "secrets.py",
        "import kubewasm\n\
         try:\n    kubewasm.list('/api/v1/namespaces/demo/secrets')\n\
         except kubewasm.Denied as e:\n    print(e)\n\
         kubewasm.list('/api/v1/namespaces/demo/secrets')\n",
    );
    let out = run_script(&cluster, &[], &path, &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stdout.starts_with("denied: list secrets"), "{out:?}");
    assert!(out.stdout.contains("resources: [\"secrets\"]"), "{out:?}");
    assert!(
        out.stderr
            .starts_with(&format!("error: {}:6: denied: ", path.display())),
        "{out:?}"
    );
    assert!(
        !cluster.paths().iter().any(|p| p.contains("secrets")),
        "{:?}",
        cluster.paths()
    );
}

#[test]
fn python_script_reads_its_own_file_and_nothing_else_unless_granted() {
    let cluster = Cluster::admin();
    let dir = cluster.home.path().join("work");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("neighbour.txt"), "next door\n").unwrap();
    let path = dir.join("reader.py");
    std::fs::write(
        &path,
        "import os, sys\n\
         print(len(open(__file__).read().splitlines()), 'lines')\n\
         print(sorted(os.listdir(os.path.dirname(__file__))))\n\
         print(open(os.path.join(os.path.dirname(__file__), 'neighbour.txt')).read().strip())\n",
    )
    .unwrap();
    let out = run_script(&cluster, &[], &path, &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout, "4 lines\n['reader.py']\n", "{out:?}");
    assert!(one_line(&out).contains(":4: "), "{out:?}");

    let granted = run_script(&cluster, &["--dir", dir.to_str().unwrap()], &path, &[]);
    assert_eq!(granted.code(), 0, "{granted:?}");
    assert!(granted.stdout.ends_with("next door\n"), "{granted:?}");

    // The runtimes are code every later script runs in: never granted, even read-only.
    let runtimes = runtime_dir().to_str().unwrap();
    let refused = run_script(&cluster, &["--dir", runtimes], &path, &[]);
    assert_eq!(refused.code(), 1, "{refused:?}");
    assert!(
        one_line(&refused).contains("the script runtimes"),
        "{refused:?}"
    );
}

#[test]
fn a_file_that_is_neither_component_nor_script_is_refused_by_name() {
    let cluster = Cluster::admin();
    let path = script(&cluster, "foo.rb", "puts 1\n");
    let out = run_script_in(Path::new("/nonexistent"), &cluster, &[], &path, &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        one_line(&out),
        format!(
            "error: {}: cannot run a .rb file: host runs a component (.wasm), or a script: .py (Python) or .js (JavaScript, an ES module)",
            path.display()
        )
    );
}

/// `secs` since the epoch as RFC 3339 (UTC, whole seconds).
fn rfc3339(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Creates pod `name` in demo and sets its phase, finished `minutes_ago`.
fn finished_pod(cluster: &Cluster, name: &str, phase: &str, minutes_ago: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let finished = rfc3339(now - minutes_ago * 60);
    let started = rfc3339(now - minutes_ago * 60 - 30);
    cluster.add_demo_pod(
        name,
        r#"{"containers":[{"name":"job","image":"busybox"}]}"#,
        &format!(
            r#"{{"phase":"{phase}","containerStatuses":[{{"name":"job","image":"busybox","imageID":"","ready":false,"restartCount":0,"state":{{"terminated":{{"exitCode":0,"reason":"Completed","startedAt":"{started}","finishedAt":"{finished}"}}}}}}]}}"#
        ),
    );
}

#[test]
fn example_delete_succeeded_pods_deletes_only_old_succeeded_pods_under_its_role() {
    runtime_dir();
    let cluster = Cluster::admin();
    finished_pod(&cluster, "job-old", "Succeeded", 120);
    finished_pod(&cluster, "job-recent", "Succeeded", 5);
    finished_pod(&cluster, "job-failed", "Failed", 120);
    let examples = workspace().join("examples/scripts");
    let role = examples.join("delete-succeeded-pods.role.yaml");
    let audit = cluster.home.path().join("audit.jsonl");
    let out = run_script(
        &cluster,
        &[
            "--policy",
            role.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
        ],
        &examples.join("delete-succeeded-pods.py"),
        &["--older-than", "60"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    // The minutes count from the pod's finishedAt to the run: 120, or one more on a
    // slow machine.
    let report: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(report.len(), 1, "{out:?}");
    assert!(
        report[0].starts_with("pod/job-old deleted: finished 12")
            && report[0].ends_with(" minutes ago"),
        "{out:?}"
    );
    let left = cluster.server.get("/api/v1/namespaces/demo/pods").unwrap();
    assert!(!left.contains("\"job-old\""), "job-old is still there");
    for kept in ["job-recent", "job-failed", "demo-00000"] {
        assert!(left.contains(&format!("\"{kept}\"")), "{kept} was deleted");
    }
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["verb"].as_str().unwrap_or_default().to_string(),
                r["name"].as_str().unwrap_or_default().to_string(),
                r["decision"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("list".into(), "".into(), "allow".into()),
            ("delete".into(), "job-old".into(), "allow".into())
        ],
        "{records:?}"
    );
}

#[test]
fn example_rollout_status_follows_a_deployment_until_it_is_rolled_out() {
    let cluster = Cluster::admin();
    let deployments = "/apis/apps/v1/namespaces/demo/deployments";
    cluster
        .server
        .create(
            deployments,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}"#,
        )
        .unwrap();
    let set_status = |status: &str| {
        cluster
            .server
            .patch(
                &format!("{deployments}/web/status"),
                "merge",
                &format!(r#"{{"status":{status}}}"#),
            )
            .unwrap();
    };
    set_status(
        r#"{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"availableReplicas":0}"#,
    );
    let examples = workspace().join("examples/scripts");
    let role = examples.join("rollout-status.role.yaml");
    let mut cmd = cluster.command_with(
        &["--policy", role.to_str().unwrap()],
        examples.join("rollout-status.py"),
        &["web", "--timeout", "120"],
    );
    cmd.env("KUBEWASM_RUNTIME_DIR", runtime_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn host");
    let lines = crate::harness::lines_in_background(child.stdout.take().unwrap(), |l| l);
    let next = || {
        lines
            .recv_timeout(LIMIT)
            .expect("the script printed its progress")
    };
    assert_eq!(
        next(),
        r#"Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated..."#
    );
    set_status(r#"{"replicas":3,"updatedReplicas":3,"availableReplicas":1}"#);
    assert_eq!(
        next(),
        r#"Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available..."#
    );
    set_status(r#"{"availableReplicas":3,"readyReplicas":3}"#);
    assert_eq!(next(), r#"deployment "web" successfully rolled out"#);
    let status = crate::harness::wait_with_limit(&mut child, LIMIT);
    assert!(status.success(), "{status:?}");
}

#[test]
fn javascript_script_is_a_module_with_top_level_await_and_its_arguments() {
    let cluster = Cluster::admin();
    let path = script(
        &cluster,
        "count.js",
        "import { list, path, namespace } from \"kubewasm\";\n\
         import * as kubewasm from \"kubewasm\";\n\
         const pods = await list(path(\"v1\", \"pods\", { namespace: namespace() }), { limit: 20 });\n\
         console.log(pods.length, pods[0].metadata.name, JSON.stringify(process.argv.slice(2)));\n\
         try {\n  await kubewasm.get(\"/api/v1/namespaces/demo/pods/nope\");\n\
         } catch (e) {\n  console.log(e instanceof kubewasm.ApiError, e.code, e.reason);\n}\n\
         process.exitCode = 4;\n",
    );
    let out = run_script(&cluster, &[], &path, &["--flag", "x"]);
    assert_eq!(out.code(), 4, "{out:?}");
    assert_eq!(
        out.stdout, "50 demo-00000 [\"--flag\",\"x\"]\ntrue 404 NotFound\n",
        "{out:?}"
    );
    let paths = cluster.paths();
    assert_eq!(paths[0], "/api/v1/namespaces/demo/pods?limit=20");
    assert!(paths[1].contains("continue="), "{paths:?}");
}

#[test]
fn javascript_script_errors_are_one_line_naming_the_file() {
    let cluster = Cluster::admin();
    let cases = [
        (
            "syntax.js",
            "const x = 1;\nconst y = ;\n",
            ":2: SyntaxError: ",
        ),
        (
            "throws.js",
            "const x = 1;\nawait Promise.reject(new TypeError(\"bad value\"));\n",
            ":2: TypeError: bad value",
        ),
        (
            "fs.js",
            "import fs from \"fs\";\n",
            ":1: SyntaxError: cannot import \"fs\": a script can import only \"kubewasm\"",
        ),
        (
            "exit.js",
            "process.exit(9);\nconsole.log(\"not reached\");\n",
            "",
        ),
    ];
    for (name, source, expected) in cases {
        let path = script(&cluster, name, source);
        let out = run_script(&cluster, &[], &path, &[]);
        assert_eq!(out.stdout, "", "{name}: {out:?}");
        if expected.is_empty() {
            assert_eq!(out.code(), 9, "{name}: {out:?}");
            continue;
        }
        assert_eq!(out.code(), 1, "{name}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.starts_with(&format!("error: {}:", path.display())),
            "{name}: {out:?}"
        );
        assert!(line.contains(expected), "{name}: {out:?}");
    }

    // A denial is an exception naming the rule that would allow it.
    let path = script(
        &cluster,
        "secrets.js",
        "import { list } from \"kubewasm\";\nawait list(\"/api/v1/namespaces/demo/secrets\");\n",
    );
    let out = run_script(&cluster, &[], &path, &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "error: {}:2: denied: list secrets",
            path.display()
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("resources: [\"secrets\"]"), "{out:?}");
}

#[test]
fn example_pods_not_ready_prints_each_with_its_last_log_lines_under_its_role() {
    let cluster = Cluster::admin();
    cluster.add_demo_pod(
        "web-broken",
        r#"{"nodeName":"node-1","containers":[{"name":"app","image":"nginx"}]}"#,
        r#"{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}"#,
    );
    let examples = workspace().join("examples/scripts");
    let role = examples.join("pods-not-ready.role.yaml");
    let audit = cluster.home.path().join("audit.jsonl");
    let out = run_script(
        &cluster,
        &[
            "--policy",
            role.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
        ],
        &examples.join("pods-not-ready.js"),
        &[],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let report: Vec<&str> = out.stdout.lines().collect();
    let at = report
        .iter()
        .position(|l| *l == "pod/web-broken (Running):")
        .unwrap_or_else(|| panic!("web-broken is not reported: {out:?}"));
    let tail = &report[at + 1..at + 6];
    assert!(
        tail.iter()
            .all(|l| l.starts_with("  ") && l.contains("from demo/web-broken/app")),
        "{out:?}"
    );
    assert!(
        !report.iter().any(|l| l.starts_with("pod/demo-00001 ")),
        "a Ready pod is reported: {out:?}"
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        text.lines().all(|l| l.contains(r#""decision":"allow""#)),
        "{text}"
    );
}

#[test]
fn javascript_fetch_reaches_the_cluster_through_the_policy_and_nowhere_else() {
    let cluster = Cluster::admin();
    let path = script(
        &cluster,
        "fetch.js",
        "const r = await fetch(\"https://kubernetes.default.svc/api/v1/namespaces/demo/pods?limit=3\");\n\
         const list = await r.json();\n\
         console.log(r.status, list.items.length, list.items[0].metadata.name);\n\
         const denied = await fetch(\"https://kubernetes.default.svc/api/v1/namespaces/demo/secrets\").catch(e => e.name);\n\
         console.log(\"secrets:\", denied);\n\
         const foreign = await fetch(\"https://example.invalid/\").catch(e => e.name);\n\
         console.log(\"foreign:\", foreign);\n",
    );
    let out = run_script(&cluster, &[], &path, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stdout, "200 3 demo-00000\nsecrets: TypeError\nforeign: TypeError\n",
        "{out:?}"
    );
    // The host says why each refused fetch got no answer.
    assert!(out.stderr.contains("denied"), "{out:?}");
    assert!(out.stderr.contains("example.invalid"), "{out:?}");
    assert_eq!(
        cluster.paths(),
        vec!["/api/v1/namespaces/demo/pods?limit=3".to_string()],
        "only the allowed request reached the server"
    );
}
