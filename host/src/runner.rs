//! Running a `kubewasm:client/script` guest: a WASI command with the kubewasm
//! capabilities and nothing else.
//!
//! The guest gets its arguments, the host's stdio, clocks and randomness. It gets no
//! environment variables, no directories and no network: wasmtime-wasi denies sockets
//! unless `inherit_network` is called, which this host never does, so the API server is
//! reachable only through `kubewasm:client/api`.

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::api::{self, KubeCtx, KubeCtxView, KubeView};

/// The store data of a script guest.
pub struct ScriptState {
    wasi: WasiCtx,
    kube: KubeCtx,
    table: ResourceTable,
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
        api::add_to_linker(&mut linker)?;
        Ok(Self { linker })
    }

    /// Runs `component`'s `wasi:cli/run` with `args` (the first is the program name the
    /// guest sees) and the kubewasm context `kube`, until it returns, exits or traps.
    pub async fn run(
        &self,
        component: &Component,
        args: &[String],
        kube: KubeCtx,
    ) -> anyhow::Result<Outcome> {
        let pre = CommandPre::new(self.linker.instantiate_pre(component).map_err(|e| {
            anyhow::anyhow!(
                "the guest needs imports this host does not provide (is it a kubewasm script component?): {e:#}"
            )
        })?)?;
        let wasi = WasiCtx::builder().args(args).inherit_stdio().build();
        let state = ScriptState {
            wasi,
            kube,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(self.linker.engine(), state);
        let result = async {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        }
        .await;
        Ok(match result {
            Ok(Ok(())) => Outcome::Exited(0),
            Ok(Err(())) => Outcome::Exited(1),
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    Outcome::Exited(exit.0)
                } else if let Some(trap) = e.downcast_ref::<Trap>() {
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
