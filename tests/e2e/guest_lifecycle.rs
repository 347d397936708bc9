//! Exit codes, traps and the compiled-component cache.

use crate::harness::{ADVERSARY_GUEST, Cluster, EXIT_CODE_GUEST, GUEST, TRAP_GUEST, run};

#[test]
fn guest_exit_code_becomes_the_process_exit_code() {
    let cluster = Cluster::admin();
    let out = run(cluster.guest(EXIT_CODE_GUEST, &["7"]));
    assert_eq!(out.code(), 7, "{out:?}");
    assert_eq!(out.stdout, "exiting with 7\n");
}

#[test]
fn trapping_guest_prints_one_line_and_exits_nonzero() {
    let cluster = Cluster::admin();
    let out = run(cluster.guest(TRAP_GUEST, &[]));
    assert_eq!(out.code(), 134, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("error: the guest trapped: "),
        "{out:?}"
    );
    assert!(out.stderr.contains("unreachable"), "{out:?}");
    assert!(!out.stderr.contains("backtrace"), "{out:?}");
}

#[test]
fn unchanged_guest_is_compiled_once_and_then_loaded_from_cache() {
    let cluster = Cluster::admin();
    let cache = tempfile::tempdir().unwrap();
    let list = || {
        let mut entries: Vec<_> = std::fs::read_dir(cache.path().join("components"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), e.metadata().unwrap().modified().unwrap())
            })
            .collect();
        entries.sort();
        entries
    };
    let version = || {
        let mut cmd = cluster.guest(GUEST, &["version"]);
        cmd.env("KUBEWASM_CACHE_DIR", cache.path());
        run(cmd)
    };
    // Each entry is the compiled component and its seal beside it.
    let names = |entries: &[(std::ffi::OsString, std::time::SystemTime)]| -> Vec<String> {
        let name = |e: &(std::ffi::OsString, _)| e.0.to_string_lossy().into_owned();
        entries.iter().map(name).collect()
    };
    for _ in 0..2 {
        let out = version();
        assert_eq!(out.code(), 0, "{out:?}");
        if list().len() == 2 {
            break;
        }
    }
    let before = list();
    let entry = names(&before);
    assert!(
        entry.len() == 2
            && entry[0].ends_with(".cwasm")
            && entry[1] == format!("{}.seal", entry[0]),
        "{before:?}"
    );
    assert_eq!(version().code(), 0);
    assert_eq!(
        list()[0],
        before[0],
        "the second run compiled the guest again"
    );
    // Once the entry has been left alone for two seconds, a run stamps its seal with the
    // entry's identity (64 bytes instead of 32), and later runs load it by that stamp.
    let seal = cache.path().join("components").join(&entry[1]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(version().code(), 0);
    assert_eq!(std::fs::metadata(&seal).unwrap().len(), 64);
    let out = version();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Server Version"), "{out:?}");
    let after = list();
    assert_eq!(after[0], before[0], "a stamped entry was compiled again");
}

#[test]
fn guest_arguments_after_the_component_are_not_host_options() {
    let cluster = Cluster::admin();
    // `--kubeconfig` after the component belongs to the guest, which rejects it.
    let out = cluster.kubectl(&["get", "pods", "--kubeconfig", "/etc/passwd"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(!out.stderr.contains("failed to read kubeconfig"), "{out:?}");
}

#[test]
fn discovery_answers_are_cached_by_the_host_until_the_guest_asks_for_fresh_ones() {
    let cluster = Cluster::admin();
    let cache = tempfile::tempdir().unwrap();
    let request = |extra: &[&str]| {
        let args = [&["request", "GET", "/apis"], extra].concat();
        let mut cmd = cluster.guest(ADVERSARY_GUEST, &args);
        cmd.env("KUBEWASM_CACHE_DIR", cache.path());
        let out = run(cmd);
        assert_eq!(out.stdout.trim_end(), "status 200", "{out:?}");
    };
    let discovery_requests = || cluster.paths().iter().filter(|p| *p == "/apis").count();
    request(&[]);
    request(&[]);
    assert_eq!(
        discovery_requests(),
        1,
        "the second answer should come from the cache"
    );
    request(&["Cache-Control=no-cache"]);
    assert_eq!(discovery_requests(), 2, "no-cache must go to the server");
}

#[test]
fn a_guest_compiled_ahead_of_time_runs_without_compiling_or_caching() {
    let cluster = Cluster::admin();
    let precompiled = tempfile::tempdir().unwrap();
    let mut compile = crate::harness::host(cluster.home.path());
    compile
        .args(["compile", "--out-dir"])
        .arg(precompiled.path())
        .arg(GUEST);
    let out = run(compile);
    assert_eq!(out.code(), 0, "{out:?}");
    let artifact = std::path::PathBuf::from(out.stdout.trim_end());
    assert!(artifact.starts_with(precompiled.path()), "{out:?}");
    let cache = tempfile::tempdir().unwrap();
    let version = |extra_env: Option<&std::path::Path>| {
        let mut cmd = cluster.guest(GUEST, &["version"]);
        cmd.env("KUBEWASM_CACHE_DIR", cache.path());
        if let Some(dir) = extra_env {
            cmd.env("KUBEWASM_PRECOMPILED_DIR", dir);
        }
        run(cmd)
    };
    let out = version(Some(precompiled.path()));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert!(
        !cache.path().join("components").exists(),
        "the guest was compiled although a precompiled one was there"
    );
    // An artifact this host cannot load is said once, then the guest is compiled.
    std::fs::write(&artifact, b"not native code").unwrap();
    let out = version(Some(precompiled.path()));
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stderr.matches("cannot be used on this host").count(),
        1,
        "{out:?}"
    );
    assert!(cache.path().join("components").exists());
    // The directory is native code the host runs: never granted to a guest.
    let grant = format!("{}::/p", precompiled.path().display());
    let mut cmd = cluster.command_with(&["--dir-rw", &grant], GUEST, &["version"]);
    cmd.env("KUBEWASM_PRECOMPILED_DIR", precompiled.path());
    let out = run(cmd);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("the precompiled guests"), "{out:?}");
}

#[test]
fn a_first_run_uses_the_baseline_compiler_and_a_background_process_optimizes_it() {
    let cluster = Cluster::admin();
    let cache = tempfile::tempdir().unwrap();
    let entries = || -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(cache.path().join("components"))
            .map(|dir| {
                dir.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    };
    let tiered = |args: &[&str]| {
        let mut cmd = cluster.guest(GUEST, args);
        cmd.env("KUBEWASM_CACHE_DIR", cache.path())
            .env_remove("KUBEWASM_OPTIMIZE_FIRST_RUN");
        cmd
    };
    let lock_files = || {
        std::fs::read_dir(cache.path().join("components"))
            .map(|dir| {
                dir.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "optimizing")
                })
                .count()
            })
            .unwrap_or(0)
    };
    // The first run is compiled by Winch and starts the optimizer in the background.
    let mut first = tiered(&["version"]);
    first.env("KUBEWASM_LOG", "kubewasm_host=info");
    let out = run(first);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("with Winch"), "{out:?}");
    // The optimizer outlives the run, replaces the Winch entry and removes its lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while (lock_files() > 0 || entries().len() != 1) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let optimized = entries();
    assert_eq!(optimized.len(), 1, "{optimized:?}");
    assert_eq!(lock_files(), 0);
    // Later runs load the optimized code: no Winch compile, nothing changes.
    let mut later = tiered(&["version"]);
    later.env("KUBEWASM_LOG", "kubewasm_host=info");
    let out = run(later);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!out.stderr.contains("Winch"), "{out:?}");
    assert_eq!(entries(), optimized);
    assert_eq!(lock_files(), 0);
}

/// `cmd` (a host command) run under `taskset -c CPUS`, with the same arguments and
/// environment.
fn on_cpus(cpus: &str, cmd: &std::process::Command) -> std::process::Command {
    let mut pinned = std::process::Command::new("taskset");
    pinned
        .env_clear()
        .args(["-c", cpus])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(std::process::Stdio::null());
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            pinned.env(key, value);
        }
    }
    pinned
}

#[test]
fn a_run_loads_its_guest_on_another_cpu_while_connecting_and_on_one_cpu_after() {
    let cluster = Cluster::admin();
    let mut cmd = cluster.guest(GUEST, &["version"]);
    cmd.env("KUBEWASM_LOG", "debug");
    let two_cpus = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let (beside, after) = ("waiting for the engine and the guest", "making the engine");
    let runs = [
        // Where the machine has a second CPU, the guest is loaded there.
        two_cpus.then(|| ("two CPUs", on_cpus("0,1", &cmd), beside, after)),
        // Confined to one CPU, the host loads it itself, after the session is open.
        Some(("one CPU", on_cpus("0", &cmd), after, beside)),
    ];
    for (what, cmd, step, not_step) in runs.into_iter().flatten() {
        let out = run(cmd);
        assert_eq!(out.code(), 0, "{what}: {out:?}");
        assert!(
            out.stdout.contains("Server Version: v1.36.2"),
            "{what}: {out:?}"
        );
        assert!(out.stderr.contains(step), "{what}: {out:?}");
        assert!(!out.stderr.contains(not_step), "{what}: {out:?}");
    }
}
