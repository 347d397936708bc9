//! Embedding throughput: how many guest instantiations, each sending one request and
//! reading its response, one core sustains — the plugin-platform case (issue target:
//! at least 5,000 per second per core). Prints one line of figures.
//!
//! ```sh
//! cargo run --release -p kubewasm-host --example bench_embed -- GUEST.wasm KUBECONFIG [N] [--at-call]
//! ```
//!
//! The guest runs `get --raw /version` against the cluster in KUBECONFIG (the bundled
//! demo API server in BENCHMARKS.md), on a single-threaded runtime, with the pooling
//! allocator and a prepared (import-resolved) component, output captured in memory.
//!
//! Every call runs a fresh instance, never one that ran before. As a platform would, the
//! loop makes the next call's instance ([`PreparedScript::instantiate`]) and frees the
//! last one while the current call waits for the API server, on the same thread. With
//! `--at-call`, each call instantiates its guest when it starts and frees it when it
//! ends ([`PreparedScript::run`]).
//!
//! [`PreparedScript::instantiate`]: kubewasm_host::runner::PreparedScript::instantiate
//! [`PreparedScript::run`]: kubewasm_host::runner::PreparedScript::run

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kubewasm_host::engine::{ComponentCache, EngineOptions, new_engine_with};
use kubewasm_host::{
    CredentialOptions, Credentials, GuestEnv, KubeCtx, Limits, Outcome, ReadyGuest, ScriptRunner,
    Transport,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let (flags, args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let usage = || anyhow::anyhow!("usage: bench_embed GUEST.wasm KUBECONFIG [N] [--at-call]");
    let at_call = match flags.as_slice() {
        [] => false,
        [flag] if flag == "--at-call" => true,
        _ => return Err(usage()),
    };
    let mut args = args.into_iter();
    let guest = PathBuf::from(args.next().ok_or_else(usage)?);
    let kubeconfig = PathBuf::from(args.next().ok_or_else(usage)?);
    let n: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(2000);

    let credentials = Credentials::load(&CredentialOptions {
        kubeconfig: Some(kubeconfig),
        ..CredentialOptions::default()
    })
    .await?;
    let transport = Arc::new(Transport::new(&credentials)?);
    let engine = new_engine_with(&EngineOptions {
        pooling_instances: Some(64),
        ..EngineOptions::default()
    })?;
    let cache = ComponentCache::new(std::env::temp_dir().join("kubewasm-bench-cache"));
    let prepared = ScriptRunner::new(&engine)?.prepare(&cache.load(&engine, &guest)?)?;
    let limits = Limits {
        qps: 0.0,
        ..Limits::default()
    };
    let kube = || {
        let mut ctx = KubeCtx::builder(credentials.identity.clone(), transport.clone());
        ctx.limits(limits.clone());
        ctx.build()
    };
    let guest_env = |stdout: &MemoryOutputPipe| GuestEnv {
        args: ["guest", "get", "--raw", "/version"]
            .map(String::from)
            .to_vec(),
        stdout: Some(stdout.clone()),
        ..GuestEnv::default()
    };
    let check = |outcome: Outcome, stdout: &MemoryOutputPipe| {
        anyhow::ensure!(outcome.exit_code() == 0, "guest failed: {outcome:?}");
        anyhow::ensure!(
            stdout
                .contents()
                .windows(b"\"gitVersion\"".len())
                .any(|w| w == b"\"gitVersion\""),
            "the guest did not print the server's version"
        );
        Ok(())
    };

    let mut next = Some(prepared.instantiate(kube(), &limits).await);
    let mut spent: Option<ReadyGuest> = None;
    let mut run_once = async || {
        let stdout = MemoryOutputPipe::new(1 << 16);
        if at_call {
            let outcome = prepared.run(&guest_env(&stdout), kube(), &limits).await?;
            return check(outcome, &stdout);
        }
        let mut guest = next
            .take()
            .expect("the next instance is made during each call");
        let last = spent.take();
        let env = guest_env(&stdout);
        let (outcome, upcoming) = tokio::join!(guest.run(&env), async {
            // Only once the guest's request has gone out: the guest's side hands it to
            // the connection's task and waits, and this yield lets that task write it
            // before this side runs again.
            tokio::task::yield_now().await;
            drop(last);
            prepared.instantiate(kube(), &limits).await
        });
        next = Some(upcoming);
        spent = Some(guest);
        check(outcome?, &stdout)
    };
    // Warm up: connection established, pool slots touched.
    for _ in 0..50 {
        run_once().await?;
    }
    let start = Instant::now();
    for _ in 0..n {
        run_once().await?;
    }
    let elapsed = start.elapsed();
    println!(
        "{n} instantiations + 1 request each in {:.3} s: {:.0}/s on one thread ({:.1} µs each)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
    Ok(())
}
