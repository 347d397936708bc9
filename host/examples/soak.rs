//! Fairness soak for embedders: one host process runs many guests at once, most of them
//! ordinary (listing and watching pods), a few hostile (flooding refusals, sending
//! oversized and at-the-limit requests, holding unread watch streams, spinning,
//! allocating without end). It runs once without the hostile guests and once with them,
//! and prints the ordinary guests' latency and the host's memory for both.
//!
//! ```sh
//! cargo run --release -p kubewasm-host --example soak -- \
//!     target/wasm32-wasip2/release/guest.wasm target/wasm32-wasip2/release/adversary.wasm \
//!     KUBECONFIG [SECONDS] [ORDINARY] [HOSTILE]
//! ```
//!
//! Defaults: 30 seconds per phase, 45 ordinary guests, 5 hostile ones. Exits 1 if any
//! ordinary guest's run failed. `benches/soak.sh` runs it against the demo API server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubewasm_host::engine::{ComponentCache, EngineOptions, new_engine_with};
use kubewasm_host::runner::PreparedScript;
use kubewasm_host::{
    CredentialOptions, Credentials, GuestEnv, KubeCtx, Limits, Outcome, ScriptRunner, Transport,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// What an ordinary guest does, round after round.
#[derive(Clone, Copy)]
enum Ordinary {
    /// `get pods -n demo -o name`: one list; its latency is measured.
    List,
    /// `get pods -n demo -w` for two seconds: the list, then a watch held open.
    Watch,
}

/// What a hostile guest does, round after round.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Asks for secrets until `--max-refusals` stops it.
    FloodRefusals,
    /// One request at the header and body limits, then one over them.
    Oversized,
    /// Opens 16 watches and never reads them.
    HoldStreams,
    /// Computes until `--cpu-limit` stops it.
    Spin,
    /// Allocates until `--max-memory` stops it.
    MemoryBomb,
}

const HOSTILE: [Hostile; 5] = [
    Hostile::FloodRefusals,
    Hostile::Oversized,
    Hostile::HoldStreams,
    Hostile::Spin,
    Hostile::MemoryBomb,
];

/// Shared by every guest of a run: what they run and how.
struct Rig {
    guest: PreparedScript,
    adversary: PreparedScript,
    credentials: Credentials,
    transport: Arc<Transport>,
}

/// What one phase saw.
#[derive(Default)]
struct Stats {
    list_latencies: Mutex<Vec<Duration>>,
    watches: AtomicU64,
    failures: Mutex<Vec<String>>,
    hostile_runs: Mutex<Vec<String>>,
    peak_rss: AtomicU64,
}

impl Rig {
    async fn run(
        &self,
        script: &PreparedScript,
        args: &[&str],
        limits: &Limits,
    ) -> (Outcome, String) {
        let stdout = MemoryOutputPipe::new(1 << 20);
        let stderr = MemoryOutputPipe::new(1 << 16);
        let env = GuestEnv {
            args: std::iter::once("guest")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
            stdout: Some(stdout.clone()),
            stderr: Some(stderr.clone()),
            ..GuestEnv::default()
        };
        let mut ctx = KubeCtx::builder(self.credentials.identity.clone(), self.transport.clone());
        ctx.limits(limits.clone());
        let outcome = match script.run(&env, ctx.build(), limits).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Trapped(format!("host error: {e:#}")),
        };
        let out = String::from_utf8_lossy(&stdout.contents()).into_owned()
            + &String::from_utf8_lossy(&stderr.contents());
        (outcome, out)
    }

    async fn ordinary(&self, kind: Ordinary, stats: &Stats, stop: &AtomicBool) {
        let limits = Limits::default();
        let watch_limits = Limits {
            wall_time: Some(Duration::from_secs(2)),
            ..Limits::default()
        };
        while !stop.load(Ordering::Relaxed) {
            match kind {
                Ordinary::List => {
                    let started = Instant::now();
                    let (outcome, out) = self
                        .run(
                            &self.guest,
                            &["get", "pods", "-n", "demo", "-o", "name"],
                            &limits,
                        )
                        .await;
                    let took = started.elapsed();
                    if outcome == Outcome::Exited(0) && out.lines().count() == 50 {
                        stats.list_latencies.lock().unwrap().push(took);
                    } else {
                        stats
                            .failures
                            .lock()
                            .unwrap()
                            .push(format!("list: {outcome:?}: {}", first_line(&out)));
                    }
                }
                Ordinary::Watch => {
                    let (outcome, out) = self
                        .run(
                            &self.guest,
                            &["get", "pods", "-n", "demo", "-w"],
                            &watch_limits,
                        )
                        .await;
                    // The watch runs until its two-second deadline stops it.
                    let ended_by_deadline =
                        matches!(&outcome, Outcome::Trapped(t) if t.contains("--timeout"));
                    if ended_by_deadline && out.contains("demo-00001") {
                        stats.watches.fetch_add(1, Ordering::Relaxed);
                    } else {
                        stats
                            .failures
                            .lock()
                            .unwrap()
                            .push(format!("watch: {outcome:?}: {}", first_line(&out)));
                    }
                }
            }
        }
    }

    async fn hostile(&self, kind: Hostile, stats: &Stats, stop: &AtomicBool) {
        let limits = Limits {
            max_memory: 64 << 20,
            cpu_time: Some(Duration::from_secs(2)),
            wall_time: Some(Duration::from_secs(10)),
            max_refusals: 200,
            ..Limits::default()
        };
        let body_limit = limits.max_request_body_bytes.to_string();
        let over_limit = (limits.max_request_body_bytes + 1).to_string();
        while !stop.load(Ordering::Relaxed) {
            let configmaps = "/api/v1/namespaces/demo/configmaps";
            let watch = "/api/v1/namespaces/demo/pods?watch=true";
            let (outcome, out) = match kind {
                Hostile::FloodRefusals => {
                    let args = ["flood", "100000", "GET", "/api/v1/namespaces/demo/secrets"];
                    self.run(&self.adversary, &args, &limits).await
                }
                Hostile::Oversized => {
                    // 63 headers of 16,000 bytes (just under 1 MiB) and a 3 MiB body.
                    let at = ["big-request", "63", "16000", &body_limit, configmaps];
                    self.run(&self.adversary, &at, &limits).await;
                    let over = ["big-request", "1", "16", &over_limit, configmaps];
                    self.run(&self.adversary, &over, &limits).await
                }
                Hostile::HoldStreams => {
                    let args = ["hold-streams", "16", watch, "5"];
                    self.run(&self.adversary, &args, &limits).await
                }
                Hostile::Spin => self.run(&self.adversary, &["spin"], &limits).await,
                Hostile::MemoryBomb => self.run(&self.adversary, &["memory-bomb"], &limits).await,
            };
            let how = match outcome {
                Outcome::Exited(code) => format!("exit {code}: {}", first_line(&out)),
                Outcome::Trapped(text) => text,
            };
            stats
                .hostile_runs
                .lock()
                .unwrap()
                .push(format!("{kind:?}: {how}"));
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The process's resident set size, from `/proc/self/statm`.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

async fn phase(rig: &Arc<Rig>, seconds: u64, ordinary: usize, hostile: usize) -> Arc<Stats> {
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..ordinary {
        // Two in three list, one in three watches.
        let kind = if i % 3 == 2 {
            Ordinary::Watch
        } else {
            Ordinary::List
        };
        let (rig, stats, stop) = (rig.clone(), stats.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            rig.ordinary(kind, &stats, &stop).await
        }));
    }
    for i in 0..hostile {
        let kind = HOSTILE[i % HOSTILE.len()];
        let (rig, stats, stop) = (rig.clone(), stats.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            rig.hostile(kind, &stats, &stop).await
        }));
    }
    let sampler = {
        let (stats, stop) = (stats.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                stats.peak_rss.fetch_max(rss_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a guest task panicked");
    }
    sampler.await.expect("the sampler panicked");
    stats
}

fn report(name: &str, stats: &Stats, seconds: u64) -> usize {
    let mut latencies = stats.list_latencies.lock().unwrap().clone();
    latencies.sort();
    let failures = stats.failures.lock().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: {} lists ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} watches; {} failed; peak RSS {} MiB",
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
        stats.watches.load(Ordering::Relaxed),
        failures.len(),
        stats.peak_rss.load(Ordering::Relaxed) >> 20,
    );
    for failure in failures.iter().take(5) {
        println!("  failed: {failure}");
    }
    let hostile = stats.hostile_runs.lock().unwrap();
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for run in hostile.iter() {
        // Counted by kind and how it ended: the limit's flag, if the text names one.
        let (kind, how) = run.split_once(": ").unwrap_or((run, ""));
        let flags: Vec<&str> = how
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--"))
            .collect();
        let key = match flags.as_slice() {
            [] => format!("{kind}: {}", how.chars().take(60).collect::<String>()),
            flags => format!("{kind}: stopped or refused by {}", flags.join(", ")),
        };
        match kinds.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => kinds.push((key, 1)),
        }
    }
    for (kind, n) in kinds {
        println!("  hostile x{n}: {kind}");
    }
    failures.len()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [guest, adversary, kubeconfig, rest @ ..] = args.as_slice() else {
        anyhow::bail!(
            "usage: soak GUEST.wasm ADVERSARY.wasm KUBECONFIG [SECONDS] [ORDINARY] [HOSTILE]"
        );
    };
    let number = |i: usize, default: u64| -> anyhow::Result<u64> {
        rest.get(i).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| anyhow::anyhow!("{s:?} is not a number"))
        })
    };
    let seconds = number(0, 30)?;
    let ordinary = number(1, 45)? as usize;
    let hostile = number(2, 5)? as usize;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = CredentialOptions {
            kubeconfig: Some(PathBuf::from(kubeconfig)),
            ..CredentialOptions::default()
        };
        let credentials = Credentials::load(&options).await?;
        let transport = Arc::new(Transport::new(&credentials)?);
        let engine = new_engine_with(&EngineOptions {
            pooling_instances: Some(u32::try_from(ordinary + hostile)? * 2 + 8),
            ..EngineOptions::default()
        })?;
        let cache = ComponentCache::new(std::env::temp_dir().join("kubewasm-soak-cache"));
        let runner = ScriptRunner::new(&engine)?;
        let rig = Arc::new(Rig {
            guest: runner.prepare(&cache.load(&engine, guest.as_ref())?)?,
            adversary: runner.prepare(&cache.load(&engine, adversary.as_ref())?)?,
            credentials,
            transport,
        });
        println!(
            "{ordinary} ordinary guests (2/3 list, 1/3 watch) for {seconds} s, then the same with {hostile} hostile guests; RSS before: {} MiB",
            rss_bytes() >> 20
        );
        let quiet = phase(&rig, seconds, ordinary, 0).await;
        let mut failed = report("without hostile guests", &quiet, seconds);
        let loud = phase(&rig, seconds, ordinary, hostile).await;
        failed += report("with hostile guests", &loud, seconds);
        anyhow::ensure!(failed == 0, "{failed} ordinary guest runs failed");
        Ok(())
    })
}
