//! Running the `host` binary against the fake API server.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The `host` binary of this workspace. `cargo test --workspace` builds it before any
/// test runs; it sits beside the test binary's `deps/` directory.
pub fn host_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in target/<profile>/deps");
    let host = dir.join(format!("host{}", std::env::consts::EXE_SUFFIX));
    assert!(
        host.exists(),
        "{host:?} does not exist: run the tests with `cargo test --workspace` (or `cargo build -p kubewasm-host` first)"
    );
    host
}

/// One cache of compiled guests for all test runs, so each guest compiles once. It lives
/// under the target directory (entries are keyed by the guest's and engine's hashes, so
/// a rebuilt guest gets a new entry) rather than a per-run temporary directory that
/// nothing would remove.
pub fn cache_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kubewasm-e2e-cache");
    std::fs::create_dir_all(&dir).expect("create cache dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// A `host` command with a clean environment: no kubeconfig, no in-cluster variables,
/// `HOME` pointing at `home` (so `~/.kube/config` is whatever the test puts there).
pub fn host(home: &Path) -> Command {
    let mut cmd = Command::new(host_bin());
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBEWASM_CACHE_DIR", cache_dir())
        // Every guest compiled once with Cranelift, so cache entries do not change under
        // a test (the tiered first run has a test of its own).
        .env("KUBEWASM_OPTIMIZE_FIRST_RUN", "true")
        .stdin(Stdio::null());
    cmd
}

/// `host run --kubeconfig KUBECONFIG HOST-FLAGS... GUEST.wasm ARGS...` with `HOME` at
/// `home`. Host flags go before the component: everything after it is the guest's.
pub fn host_run(
    home: &Path,
    kubeconfig: &Path,
    host_flags: &[&str],
    wasm: impl AsRef<Path>,
    args: &[&str],
) -> Command {
    let mut cmd = host(home);
    cmd.arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(host_flags)
        .arg(wasm.as_ref())
        .args(args);
    cmd
}

/// Points `cmd` (a [`host`] command) at `server` as if it ran in a pod: the service
/// variables a pod gets, and `host run --service-account-dir SA_DIR`.
pub fn in_cluster_env(cmd: &mut Command, server: &kubewasm_tests::FakeApiServer, sa_dir: &Path) {
    let port = server.url().rsplit(':').next().unwrap().to_string();
    cmd.env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", port)
        .arg("run")
        .arg("--service-account-dir")
        .arg(sa_dir);
}

/// Reads `stdout` line by line on a thread and sends `each(line)` to the returned
/// channel, so that a test can wait for output with a deadline (a blocking read has
/// none). The thread ends with the output, or when the receiver is dropped.
pub fn lines_in_background<T: Send + 'static>(
    stdout: impl Read + Send + 'static,
    each: impl Fn(String) -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(each(line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// What a finished command printed.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status.code(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `cmd` to completion, killing it after `limit` (a hung host is a failure, not a
/// hung test run).
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host");
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let status = wait_with_limit(&mut child, limit);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs `cmd` with the default limit of 60 s.
pub fn run(cmd: Command) -> Output {
    run_with_limit(cmd, Duration::from_secs(60))
}

pub fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for host") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("host did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_in_background(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// A fake cluster with a kubeconfig for it in a temporary `HOME`.
pub struct Cluster {
    pub server: kubewasm_tests::FakeApiServer,
    pub home: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

/// The admin token every [`Cluster`] accepts.
pub const ADMIN_TOKEN: &str = "e2e-admin-token";
/// The token of `system:serviceaccount:demo:reader`, which may only read pods in `demo`.
pub const READER_TOKEN: &str = "e2e-reader-token";

impl Cluster {
    /// A TLS server with `config` (its tokens are replaced by [`ADMIN_TOKEN`] and
    /// [`READER_TOKEN`]) and a kubeconfig using `token`, default namespace `demo`.
    pub fn start_with(mut config: kubewasm_tests::ServerConfig, token: &str) -> Self {
        config.token = Some(ADMIN_TOKEN.to_string());
        config.reader_token = Some(READER_TOKEN.to_string());
        let server = kubewasm_tests::FakeApiServer::start(config).expect("start fake API server");
        let home = tempfile::tempdir().unwrap();
        let kubeconfig = home.path().join("kubeconfig");
        server
            .write_kubeconfig(
                &kubeconfig,
                kubewasm_tests::KubeconfigAuth::Token(token.to_string()),
                Some("demo"),
            )
            .unwrap();
        Self {
            server,
            home,
            kubeconfig,
        }
    }

    /// An admin cluster with default server settings.
    pub fn admin() -> Self {
        Self::start_with(kubewasm_tests::ServerConfig::default(), ADMIN_TOKEN)
    }

    /// `host run --kubeconfig K GUEST.wasm ARGS...`.
    pub fn guest(&self, wasm: impl AsRef<Path>, args: &[&str]) -> Command {
        self.command_with(&[], wasm, args)
    }

    /// `host run --kubeconfig K HOST-FLAGS... GUEST.wasm ARGS...`, for tests that spawn
    /// the host or change its environment.
    pub fn command_with(
        &self,
        host_flags: &[&str],
        wasm: impl AsRef<Path>,
        args: &[&str],
    ) -> Command {
        host_run(self.home.path(), &self.kubeconfig, host_flags, wasm, args)
    }

    /// Runs `host run --kubeconfig K HOST-FLAGS... GUEST.wasm ARGS...` to completion.
    pub fn run_with(&self, host_flags: &[&str], wasm: impl AsRef<Path>, args: &[&str]) -> Output {
        run(self.command_with(host_flags, wasm, args))
    }

    /// Spawns `host run --kubeconfig K GUEST.wasm ARGS...` (the real guest) with stdout
    /// piped, for tests that read its output as it comes.
    pub fn spawn_guest(&self, args: &[&str], stderr: Stdio) -> Child {
        self.guest(GUEST, args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn host")
    }

    /// Runs the real guest with `args` to completion.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        run(self.guest(GUEST, args))
    }

    /// Creates pod `name` in `demo` with `spec` (JSON), then sets its `status` (JSON)
    /// through the status subresource, as the kubelet would.
    pub fn add_demo_pod(&self, name: &str, spec: &str, status: &str) {
        let pods = "/api/v1/namespaces/demo/pods";
        let pod = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{spec}}}"#
        );
        self.server.create(pods, &pod).unwrap();
        self.server
            .patch(
                &format!("{pods}/{name}/status"),
                "merge",
                &format!(r#"{{"status":{status}}}"#),
            )
            .unwrap();
    }

    /// The paths (with query) the server received, in order.
    pub fn paths(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .map(|r| r.path_and_query)
            .collect()
    }
}
