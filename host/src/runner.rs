//! Running a `kubewasm:client/script` guest: a WASI command with the kubewasm
//! capabilities and nothing else.
//!
//! The guest gets its arguments, the host's stdio, clocks and randomness. It gets no
//! environment variables, no directories and no network: wasmtime-wasi denies sockets
//! unless `inherit_network` is called, which this host never does, so the API server is
//! reachable only through `kubewasm:client/api` or `wasi:http` (which reaches the API
//! server and nothing else, through the same policy: [`crate::http`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{CallHook, Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::api::{KubeCtx, KubeCtxView, KubeView};
use crate::limits::{GuestLimiter, LimitExceeded, Limits, format_bytes};

/// The store data of a script guest.
pub struct ScriptState {
    wasi: WasiCtx,
    kube: KubeCtx,
    table: ResourceTable,
    limiter: GuestLimiter,
    cpu: CpuMeter,
}

/// Time spent executing guest code, kept by the store's call hook: the clock runs from
/// entering wasm (or returning to it from the host) until leaving it.
#[derive(Default)]
struct CpuMeter {
    used: Duration,
    entered: Option<Instant>,
}

impl CpuMeter {
    fn transition(&mut self, hook: CallHook) {
        if hook.entering_host() {
            if let Some(since) = self.entered.take() {
                self.used += since.elapsed();
            }
        } else {
            self.entered = Some(Instant::now());
        }
    }

    fn total(&self) -> Duration {
        self.used + self.entered.map_or(Duration::ZERO, |since| since.elapsed())
    }
}

impl WasiView for ScriptState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl KubeView for ScriptState {
    fn kube(&mut self) -> KubeCtxView<'_> {
        KubeCtxView {
            ctx: &mut self.kube,
            table: &mut self.table,
        }
    }
}

/// A host directory the guest may see (`--dir`, `--dir-rw`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: std::path::PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Whether the guest may write to it.
    pub writable: bool,
}

impl DirGrant {
    /// Parses `HOST[::GUEST]` (the guest path defaults to the host path).
    pub fn parse(spec: &str, writable: bool) -> Result<Self, String> {
        let (host, guest) = match spec.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (spec, spec),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(format!("{spec:?} is not HOST[::GUEST]"));
        }
        Ok(Self {
            host: host.into(),
            guest: guest.to_string(),
            writable,
        })
    }
}

/// What the guest sees of the host besides the kubewasm capabilities: its arguments,
/// environment and directories. Stdio is inherited unless a pipe is given; there are no
/// sockets.
#[derive(Clone, Debug, Default)]
pub struct GuestEnv {
    /// The arguments; the first is the program name the guest sees.
    pub args: Vec<String>,
    /// Environment variables (none by default: the host's are not passed through).
    pub env: Vec<(String, String)>,
    /// Directories (none by default).
    pub dirs: Vec<DirGrant>,
    /// What the guest reads on stdin: `None` (default) inherits the host's; a pipe gives it
    /// these bytes and then end of file (`host mcp` must: its own stdin is the protocol).
    pub stdin: Option<MemoryInputPipe>,
    /// Where the guest's stdout goes: `None` (default) inherits the host's; a pipe
    /// captures it (an embedder keeps a clone and reads `contents()`).
    pub stdout: Option<MemoryOutputPipe>,
    /// Where the guest's stderr goes, like `stdout`.
    pub stderr: Option<MemoryOutputPipe>,
}

/// How a guest run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The guest returned or called `exit` with this code.
    Exited(i32),
    /// The guest trapped (a bug or a deliberate abort in the guest); the text says how.
    Trapped(String),
}

impl Outcome {
    /// The process exit code for this outcome: the guest's own code, or 134 for a trap
    /// (what `wasmtime run` uses, the code of an aborted process).
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(code) => *code,
            Outcome::Trapped(_) => 134,
        }
    }
}

/// Runs script guests: a linker with WASI and the kubewasm interfaces, built once.
pub struct ScriptRunner {
    linker: Linker<ScriptState>,
}

impl ScriptRunner {
    /// A runner for guests compiled with `engine` (which must have async support).
    pub fn new(engine: &Engine) -> anyhow::Result<Self> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // wasi:http is always linked: a component resolves only the imports it has, so
        // a guest without wasi:http instantiates as fast (measured: linker build and
        // store + instantiate of such a guest differ by less than the run-to-run noise).
        crate::add_to_linker(&mut linker)?;
        Ok(Self { linker })
    }

    /// Runs `component`'s `wasi:cli/run` with the arguments, environment and directories
    /// of `guest_env` and the kubewasm context `kube`, until it returns, exits, traps or
    /// breaks one of `limits` (memory, CPU time, wall time).
    pub async fn run(
        &self,
        component: &Component,
        guest_env: &GuestEnv,
        kube: KubeCtx,
        limits: &Limits,
    ) -> anyhow::Result<Outcome> {
        self.prepare(component)?.run(guest_env, kube, limits).await
    }

    /// Resolves `component`'s imports against this runner's linker once, so that many
    /// runs (an embedder instantiating the same guest per call) skip that work.
    pub fn prepare(&self, component: &Component) -> anyhow::Result<PreparedScript> {
        let pre = CommandPre::new(self.linker.instantiate_pre(component).map_err(|e| {
            anyhow::anyhow!(
                "the guest needs imports this host does not provide (is it a kubewasm script component?): {e:#}"
            )
        })?)?;
        Ok(PreparedScript { pre })
    }
}

/// A guest whose imports are resolved, ready to run any number of times, concurrently.
#[derive(Clone)]
pub struct PreparedScript {
    pre: CommandPre<ScriptState>,
}

impl PreparedScript {
    /// Runs one instance: see [`ScriptRunner::run`].
    pub async fn run(
        &self,
        guest_env: &GuestEnv,
        kube: KubeCtx,
        limits: &Limits,
    ) -> anyhow::Result<Outcome> {
        let pre = &self.pre;
        let mut wasi = WasiCtx::builder();
        wasi.args(&guest_env.args)
            .envs(&guest_env.env)
            .inherit_stdio();
        if let Some(pipe) = &guest_env.stdin {
            wasi.stdin(pipe.clone());
        }
        if let Some(pipe) = &guest_env.stdout {
            wasi.stdout(pipe.clone());
        }
        if let Some(pipe) = &guest_env.stderr {
            wasi.stderr(pipe.clone());
        }
        for dir in &guest_env.dirs {
            let perms = if dir.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| {
                    anyhow::Error::from(e).context(format!(
                        "failed to give the guest the directory {:?}",
                        dir.host
                    ))
                })?;
        }
        let wasi = wasi.build();
        let memory_hit = Arc::new(AtomicBool::new(false));
        let state = ScriptState {
            wasi,
            kube,
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(limits, memory_hit.clone()),
            cpu: CpuMeter::default(),
        };
        let mut store = Store::new(pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.call_hook(|mut store, hook| {
            store.data_mut().cpu.transition(hook);
            Ok(())
        });
        // Checked every epoch tick while guest code runs: stop a guest over its CPU
        // budget, otherwise yield so the host's own I/O keeps moving.
        let cpu_limit = limits.cpu_time;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |store| {
            let state = store.data();
            if let Some(limit) = cpu_limit.filter(|limit| state.cpu.total() > *limit) {
                return Err(wasmtime::Error::new(LimitExceeded::CpuTime(limit)));
            }
            // A guest refused too often through `wasi:http` (whose errors cannot trap)
            // is stopped here; through `api.send` it is stopped at once.
            state.kube.refused_too_often()?;
            // tokio's own yield puts the guest at the back of the run queue; wasmtime's
            // plain `Yield` wakes it at once, and tokio then runs it again first (its
            // LIFO slot), so a spinning guest starved the others on its worker.
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });

        let run = async {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        let result = match limits.wall_time {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(result) => result,
                Err(_) => {
                    return Ok(Outcome::Trapped(LimitExceeded::WallTime(limit).to_string()));
                }
            },
            None => run.await,
        };
        Ok(match result {
            Ok(Ok(())) => Outcome::Exited(0),
            Ok(Err(())) => Outcome::Exited(1),
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    Outcome::Exited(exit.0)
                } else if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
                    Outcome::Trapped(limit.to_string())
                } else if memory_hit.load(Ordering::Relaxed) {
                    // A failed allocation usually aborts the guest: report the cause.
                    Outcome::Trapped(
                        LimitExceeded::Memory(format_bytes(limits.max_memory as u64)).to_string(),
                    )
                } else if let Some(trap) = e.downcast_ref::<Trap>() {
                    // With its wasm backtrace (captured at this log level).
                    tracing::debug!("the guest trapped: {e:?}");
                    Outcome::Trapped(format!("the guest trapped: {trap}"))
                } else {
                    Outcome::Trapped(format!("the guest failed: {}", first_line(&e)))
                }
            }
        })
    }
}

/// The top-level message of an error, without wasm backtraces.
fn first_line(e: &wasmtime::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
