//! Embedding throughput: how many guest instantiations, each sending one request and
//! reading its response, one core sustains — the plugin-platform case (issue target:
//! at least 5,000 per second per core). Prints one line of figures.
//!
//! ```sh
//! cargo run --release -p kubewasm-host --example bench_embed -- GUEST.wasm KUBECONFIG [N]
//! ```
//!
//! The guest runs `get --raw /version` against the cluster in KUBECONFIG (the bundled
//! demo API server in BENCHMARKS.md), on a single-threaded runtime, with the pooling
//! allocator and a prepared (import-resolved) component, output captured in memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kubewasm_host::engine::{ComponentCache, EngineOptions, new_engine_with};
use kubewasm_host::{
    CredentialOptions, Credentials, GuestEnv, KubeCtx, Limits, ScriptRunner, Transport,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || anyhow::anyhow!("usage: bench_embed GUEST.wasm KUBECONFIG [N]");
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

    let run_once = || async {
        let stdout = MemoryOutputPipe::new(1 << 16);
        let guest_env = GuestEnv {
            args: ["guest", "get", "--raw", "/version"]
                .map(String::from)
                .to_vec(),
            stdout: Some(stdout.clone()),
            ..GuestEnv::default()
        };
        let mut ctx = KubeCtx::builder(credentials.identity.clone(), transport.clone());
        ctx.limits(limits.clone());
        let outcome = prepared.run(&guest_env, ctx.build(), &limits).await?;
        anyhow::ensure!(outcome.exit_code() == 0, "guest failed: {outcome:?}");
        anyhow::ensure!(!stdout.contents().is_empty(), "guest printed nothing");
        Ok::<_, anyhow::Error>(())
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
