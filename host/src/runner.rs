//! Running a `kubewasm:client/script` guest: a WASI command with the kubewasm
//! capabilities and nothing else.
//!
//! The guest gets its arguments, the host's stdio, clocks and randomness. It gets no
//! environment variables, no directories and no network: wasmtime-wasi denies sockets
//! unless `inherit_network` is called, which this host never does, so the API server is
//! reachable only through `kubewasm:client/api` or `wasi:http` (which reaches the API
//! server and nothing else, through the same policy: [`crate::http`]).

use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{CallHook, Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{CommandPre, cli, clocks, filesystem, random, sockets};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_io::bindings::wasi::io;

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
        add_interfaces(&mut linker, INTERFACES)?;
        Ok(Self { linker })
    }

    /// A runner for `component` alone, on its engine: its linker has only the
    /// interfaces the component imports. The whole linker (all of WASI, `wasi:http` and
    /// kubewasm) took about 0.23 ms of a 4.7 ms warm `host run`, and the built-in guest
    /// imports 20 of its 31 interfaces (no sockets, no `wasi:http`). An import this host
    /// does not provide is left out here and reported by [`ScriptRunner::prepare`].
    pub fn for_component(component: &Component) -> anyhow::Result<Self> {
        let engine = component.engine();
        let mut linker = Linker::new(engine);
        let ty = component.component_type();
        let imported = ty
            .imports(engine)
            .filter_map(|(name, _)| providing(name.split_once('@').map_or(name, |(name, _)| name)));
        add_interfaces(&mut linker, imported)?;
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

/// One interface this host provides: its unversioned name, the group it is added with
/// (`wasi:http`'s two interfaces are added together, as are kubewasm's two), and what
/// adds that group to a linker.
struct Interface {
    name: &'static str,
    group: &'static str,
    add: fn(&mut Linker<ScriptState>) -> wasmtime::Result<()>,
}

/// `wasi:io`'s functions reach only the store's resource table.
struct HasTable;

impl wasmtime::component::HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// The store data every interface below is added for (short, for the table).
type S = ScriptState;

/// An interface added by itself.
macro_rules! interface {
    ($name:literal, $add:expr) => {
        Interface {
            name: $name,
            group: $name,
            add: $add,
        }
    };
}

/// Everything this host provides: the interfaces `wasmtime_wasi::p2::add_to_linker_async`
/// adds, then `wasi:http` and kubewasm's ([`crate::add_to_linker`]), and nothing else.
static INTERFACES: &[Interface] = &[
    interface!("wasi:io/error", |l| {
        io::error::add_to_linker::<S, HasTable>(l, |t| &mut t.table)
    }),
    interface!("wasi:io/poll", |l| {
        io::poll::add_to_linker::<S, HasTable>(l, |t| &mut t.table)
    }),
    interface!("wasi:io/streams", |l| {
        io::streams::add_to_linker::<S, HasTable>(l, |t| &mut t.table)
    }),
    interface!("wasi:clocks/wall-clock", |l| {
        clocks::wall_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)
    }),
    interface!("wasi:clocks/monotonic-clock", |l| {
        clocks::monotonic_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)
    }),
    interface!("wasi:filesystem/types", |l| {
        filesystem::types::add_to_linker::<S, WasiFilesystem>(l, S::filesystem)
    }),
    interface!("wasi:filesystem/preopens", |l| {
        filesystem::preopens::add_to_linker::<S, WasiFilesystem>(l, S::filesystem)
    }),
    interface!("wasi:random/random", |l| {
        random::random::add_to_linker::<S, WasiRandom>(l, S::random)
    }),
    interface!("wasi:random/insecure", |l| {
        random::insecure::add_to_linker::<S, WasiRandom>(l, S::random)
    }),
    interface!("wasi:random/insecure-seed", |l| {
        random::insecure_seed::add_to_linker::<S, WasiRandom>(l, S::random)
    }),
    interface!("wasi:cli/exit", |l| {
        cli::exit::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/environment", |l| {
        cli::environment::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/stdin", |l| {
        cli::stdin::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/stdout", |l| {
        cli::stdout::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/stderr", |l| {
        cli::stderr::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/terminal-input", |l| {
        cli::terminal_input::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/terminal-output", |l| {
        cli::terminal_output::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/terminal-stdin", |l| {
        cli::terminal_stdin::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/terminal-stdout", |l| {
        cli::terminal_stdout::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:cli/terminal-stderr", |l| {
        cli::terminal_stderr::add_to_linker::<S, WasiCli>(l, S::cli)
    }),
    interface!("wasi:sockets/tcp", |l| {
        sockets::tcp::add_to_linker::<S, WasiSockets>(l, S::sockets)
    }),
    interface!("wasi:sockets/tcp-create-socket", |l| {
        sockets::tcp_create_socket::add_to_linker::<S, WasiSockets>(l, S::sockets)
    }),
    interface!("wasi:sockets/udp", |l| {
        sockets::udp::add_to_linker::<S, WasiSockets>(l, S::sockets)
    }),
    interface!("wasi:sockets/udp-create-socket", |l| {
        sockets::udp_create_socket::add_to_linker::<S, WasiSockets>(l, S::sockets)
    }),
    interface!("wasi:sockets/instance-network", |l| {
        sockets::instance_network::add_to_linker::<S, WasiSockets>(l, S::sockets)
    }),
    interface!("wasi:sockets/network", |l| {
        let options = sockets::network::LinkOptions::default();
        sockets::network::add_to_linker::<S, WasiSockets>(l, &options, S::sockets)
    }),
    interface!("wasi:sockets/ip-name-lookup", |l| {
        sockets::ip_name_lookup::add_to_linker::<S, WasiSockets>(l, S::sockets)
    }),
    Interface {
        name: "wasi:http/types",
        group: "wasi:http",
        add: crate::http::add_to_linker,
    },
    Interface {
        name: "wasi:http/outgoing-handler",
        group: "wasi:http",
        add: crate::http::add_to_linker,
    },
    Interface {
        name: "kubewasm:client/api",
        group: "kubewasm:client",
        add: crate::api::add_to_linker,
    },
    Interface {
        name: "kubewasm:client/credentials",
        group: "kubewasm:client",
        add: crate::api::add_to_linker,
    },
];

/// Adds to `linker` the group of each interface in `interfaces`, each group once.
fn add_interfaces<'a>(
    linker: &mut Linker<ScriptState>,
    interfaces: impl IntoIterator<Item = &'a Interface>,
) -> wasmtime::Result<()> {
    let mut added: Vec<&str> = Vec::new();
    for interface in interfaces {
        if !added.contains(&interface.group) {
            (interface.add)(linker)?;
            added.push(interface.group);
        }
    }
    Ok(())
}

/// The interface `name` (without its `@version`), if this host provides it.
fn providing(name: &str) -> Option<&'static Interface> {
    INTERFACES.iter().find(|interface| interface.name == name)
}

/// A guest whose imports are resolved, ready to run any number of times, concurrently.
#[derive(Clone)]
pub struct PreparedScript {
    pre: CommandPre<ScriptState>,
}

impl PreparedScript {
    /// Runs one instance: see [`ScriptRunner::run`]. `limits.wall_time` covers the
    /// instantiation and the run together.
    pub async fn run(
        &self,
        guest_env: &GuestEnv,
        kube: KubeCtx,
        limits: &Limits,
    ) -> anyhow::Result<Outcome> {
        let mut store = self.new_store(wasi_ctx(WasiCtx::builder(), guest_env)?, kube, limits);
        let pre = &self.pre;
        let result = within_wall_time(limits.wall_time, async {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        })
        .await;
        Ok(outcome(result, &store))
    }

    /// Instantiates the guest now, to run later with [`ReadyGuest::run`]: a platform that
    /// starts a fresh instance per call can make the next call's instance while the
    /// current call waits for the API server, so that a call no longer waits for its
    /// instantiation. The instance belongs to `kube` (identity, policy, audit) and
    /// `limits` from now on; its arguments, environment, directories and stdio are the
    /// run's. It runs once. `limits.wall_time` covers the instantiation and, apart, the
    /// run.
    pub async fn instantiate(&self, kube: KubeCtx, limits: &Limits) -> ReadyGuest {
        let mut store = self.new_store(WasiCtx::builder().build(), kube, limits);
        let command = within_wall_time(limits.wall_time, self.pre.instantiate_async(&mut store))
            .await
            .map_err(|e| outcome(Err(e), &store));
        ReadyGuest {
            store,
            command: Some(command),
            wall_time: limits.wall_time,
            context: Some(WasiCtx::builder()),
        }
    }

    /// A store for one instance: `wasi` and `kube` as its context, `limits` enforced.
    fn new_store(&self, wasi: WasiCtx, kube: KubeCtx, limits: &Limits) -> Store<ScriptState> {
        let state = ScriptState {
            wasi,
            kube,
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(limits),
            cpu: CpuMeter::default(),
        };
        let mut store = Store::new(self.pre.engine(), state);
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
        store
    }
}

/// A guest instantiated ahead of its run by [`PreparedScript::instantiate`]. Dropping it
/// frees its instance (with the pooling allocator: resets its slot), which a platform
/// may do when it has nothing else to do rather than at the end of the call.
pub struct ReadyGuest {
    store: Store<ScriptState>,
    /// The instance, or how instantiating it ended; `None` once it has run.
    command: Option<Result<wasmtime_wasi::p2::bindings::Command, Outcome>>,
    /// `limits.wall_time` of its instantiation, for its run.
    wall_time: Option<Duration>,
    /// The run's WASI context, begun ahead too: a new builder seeds its random number
    /// generators from the system, which is work a call need not wait for.
    context: Option<WasiCtxBuilder>,
}

impl ReadyGuest {
    /// Runs the instance's `wasi:cli/run` with the arguments, environment, directories
    /// and stdio of `guest_env`, as [`PreparedScript::run`] does. If instantiating it
    /// failed (a trap in its start, a limit), that is the outcome. An instance runs once:
    /// a second call is an error.
    pub async fn run(&mut self, guest_env: &GuestEnv) -> anyhow::Result<Outcome> {
        const RAN: &str = "this guest instance has already run; instantiate another";
        anyhow::ensure!(self.command.is_some(), RAN);
        // Until now the instance has had only the placeholder context it was made with
        // (no arguments, directories or stdio), so a component that runs code while it
        // is instantiated saw nothing of any call; the run's context takes its place
        // before the guest runs. (Made before the instance is taken, so that a directory
        // that cannot be opened leaves it able to run.)
        let builder = self.context.take().unwrap_or_else(WasiCtx::builder);
        let wasi = wasi_ctx(builder, guest_env)?;
        let command = match self.command.take() {
            Some(Ok(command)) => command,
            Some(Err(outcome)) => return Ok(outcome),
            None => anyhow::bail!(RAN),
        };
        self.store.data_mut().wasi = wasi;
        self.store.set_epoch_deadline(1);
        let store = &mut self.store;
        let result = within_wall_time(self.wall_time, command.wasi_cli_run().call_run(store)).await;
        Ok(outcome(result, &self.store))
    }
}

/// The WASI context of `guest_env`, built on a new `wasi` builder: its arguments,
/// environment, directories and stdio.
fn wasi_ctx(mut wasi: WasiCtxBuilder, guest_env: &GuestEnv) -> anyhow::Result<WasiCtx> {
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
    Ok(wasi.build())
}

/// `work` (instantiating or running a guest), stopped at `wall_time` (`--timeout`):
/// then it is an error carrying [`LimitExceeded::WallTime`].
async fn within_wall_time<T>(
    wall_time: Option<Duration>,
    work: impl std::future::Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match wall_time {
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(wasmtime::Error::new(LimitExceeded::WallTime(limit))),
        },
        None => work.await,
    }
}

/// How a guest's instantiation or run ended, from what wasmtime returned.
fn outcome(result: wasmtime::Result<Result<(), ()>>, store: &Store<ScriptState>) -> Outcome {
    match result {
        Ok(Ok(())) => Outcome::Exited(0),
        Ok(Err(())) => Outcome::Exited(1),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                Outcome::Exited(exit.0)
            } else if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
                Outcome::Trapped(limit.to_string())
            } else if let Some(max_memory) = store.data().limiter.memory_exceeded() {
                // A failed allocation usually aborts the guest: report the cause.
                Outcome::Trapped(LimitExceeded::Memory(format_bytes(max_memory as u64)).to_string())
            } else if let Some(trap) = e.downcast_ref::<Trap>() {
                // With its wasm backtrace (captured at this log level).
                tracing::debug!("the guest trapped: {e:?}");
                Outcome::Trapped(format!("the guest trapped: {trap}"))
            } else {
                Outcome::Trapped(format!("the guest failed: {}", first_line(&e)))
            }
        }
    }
}

/// The top-level message of an error, without wasm backtraces.
fn first_line(e: &wasmtime::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_interface_is_found_by_its_unversioned_name() {
        let group = |name: &str| providing(name).map(|interface| interface.group);
        assert_eq!(group("wasi:cli/stdout"), Some("wasi:cli/stdout"));
        assert_eq!(group("wasi:http/types"), Some("wasi:http"));
        assert_eq!(group("wasi:http/outgoing-handler"), Some("wasi:http"));
        assert_eq!(group("kubewasm:client/api"), Some("kubewasm:client"));
        assert_eq!(group("wasi:cli/stdout@0.2.12"), None);
        assert_eq!(group("wasi:keyvalue/store"), None);
    }

    #[test]
    fn every_group_adds_to_a_linker_once_and_only_its_own_names() {
        let engine = Engine::default();
        let mut linker: Linker<ScriptState> = Linker::new(&engine);
        add_interfaces(&mut linker, INTERFACES).unwrap();
        // Each group adds names of its own: adding one again is a redefinition.
        for interface in INTERFACES {
            assert!(
                (interface.add)(&mut linker).is_err(),
                "{} added nothing",
                interface.name
            );
        }
    }

    #[test]
    fn every_wasi_interface_here_is_one_wasmtime_wasi_adds() {
        let engine = Engine::default();
        let mut theirs: Linker<ScriptState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut theirs).unwrap();
        let wasi = INTERFACES
            .iter()
            .filter(|interface| !interface.group.starts_with("wasi:http"))
            .filter(|interface| interface.name.starts_with("wasi:"));
        for interface in wasi {
            // Defining one of wasmtime-wasi's interfaces again is refused.
            assert!(
                (interface.add)(&mut theirs).is_err(),
                "{} is not in wasmtime-wasi's set",
                interface.name
            );
        }
    }
}
