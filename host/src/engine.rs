//! The wasmtime `Engine` kubewasm runs guests on, and the on-disk cache of compiled
//! components.
//!
//! Compiling a guest with Cranelift takes far longer than running a `get pods`, so a
//! compiled component is kept on disk keyed by the SHA-256 of the guest's bytes and the
//! engine's compatibility hash (wasmtime version, target, settings). An unchanged guest
//! is compiled once; a changed guest or a new host gets a new key. Loading a cached
//! artifact maps native code into the process, so the cache only trusts a directory
//! that this user owns and nobody else can write to.

use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::cache;

/// How often the engine's epoch advances: the granularity of `--cpu-limit` and of
/// yielding a busy guest back to the async runtime.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Creates the engine every guest of this host shares: component model, Cranelift, and
/// epoch interruption driven by a background thread every [`EPOCH_TICK`] (so a guest
/// that computes forever can be stopped). Async support, which the tokio-based host
/// needs, is always on in wasmtime 48.
pub fn new_engine() -> anyhow::Result<Engine> {
    new_engine_with(&EngineOptions::default())
}

/// How an embedder wants the engine set up. `Default` is what `host run` uses.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Use wasmtime's pooling allocator with room for this many concurrent guests:
    /// memory and tables are reserved up front and reused, which makes instantiation
    /// much cheaper for platforms that start a guest per call. Off by default (a CLI run
    /// starts one guest).
    pub pooling_instances: Option<u32>,
}

/// Creates an engine with `options`; see [`new_engine`] for what every engine has.
pub fn new_engine_with(options: &EngineOptions) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if let Some(instances) = options.pooling_instances {
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        pooling
            .total_component_instances(instances)
            .total_core_instances(instances * 4)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .max_memory_size(crate::limits::Limits::default().max_memory);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    }
    let engine = Engine::new(&config)
        .map_err(|e| anyhow::Error::from(e).context("failed to create the wasmtime engine"))?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("kubewasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .context("failed to start the epoch thread")?;
    Ok(engine)
}

/// Loads the guest at `path`: a component (compiled, or taken from `cache`), or — only
/// with `allow_precompiled` — a `.cwasm` written by `host compile` for this engine.
pub fn load_component(
    engine: &Engine,
    path: &Path,
    cache: Option<&ComponentCache>,
    allow_precompiled: bool,
) -> anyhow::Result<Component> {
    let bytes =
        fs::read(path).with_context(|| format!("failed to read guest component {path:?}"))?;
    if Engine::detect_precompiled(&bytes).is_some() {
        if !allow_precompiled {
            anyhow::bail!(
                "{path:?} is a precompiled component (native code); run it with --allow-precompiled if this host compiled it, or pass the .wasm"
            );
        }
        // SAFETY: the operator vouched for the file with --allow-precompiled; wasmtime
        // checks that it was compiled by this wasmtime version with this configuration.
        return unsafe { Component::deserialize(engine, &bytes) }.map_err(|e| {
            anyhow::Error::from(e).context(format!(
                "cannot load {path:?}: it was not compiled by this host's engine (recompile it with `host compile`)"
            ))
        });
    }
    match cache {
        Some(cache) => cache.load(engine, path),
        None => Component::new(engine, &bytes).map_err(|e| {
            anyhow::Error::from(e).context(format!("failed to compile guest component {path:?}"))
        }),
    }
}

/// Compiles the component at `path` to this engine's native code (`host compile`).
pub fn compile_component(engine: &Engine, path: &Path) -> anyhow::Result<Vec<u8>> {
    let wasm =
        fs::read(path).with_context(|| format!("failed to read guest component {path:?}"))?;
    engine.precompile_component(&wasm).map_err(|e| {
        anyhow::Error::from(e).context(format!("failed to compile guest component {path:?}"))
    })
}

/// Where compiled components are kept: `components/` under [`cache::default_root`].
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Loads the component in `wasm`, from the cache when this engine compiled the same
    /// bytes before, else compiling it and storing the result. A cache that cannot be
    /// used (unsafe permissions, full disk) only costs a compile: it is reported at
    /// `warn` level, never an error.
    pub fn load(&self, engine: &Engine, wasm_path: &Path) -> anyhow::Result<Component> {
        let wasm = fs::read(wasm_path)
            .with_context(|| format!("failed to read guest component {wasm_path:?}"))?;
        let key = cache_key(engine, &wasm);
        let artifact = self.dir.join(format!("{key}.cwasm"));

        match cache::trusted_dir(&self.dir) {
            Ok(()) if artifact.exists() => {
                // SAFETY: the artifact was written by this host (`cache::write_atomic`) into a
                // directory only this user can write, under a key that includes the
                // engine's compatibility hash; wasmtime also checks the header.
                match unsafe { Component::deserialize_file(engine, &artifact) } {
                    Ok(component) => return Ok(component),
                    Err(e) => tracing::warn!(
                        "ignoring unusable cached component {artifact:?}: {e:#}; recompiling"
                    ),
                }
            }
            Ok(()) => {}
            Err(e) => tracing::warn!("not using the component cache: {e:#}"),
        }

        let compiled = engine.precompile_component(&wasm).map_err(|e| {
            anyhow::Error::from(e)
                .context(format!("failed to compile guest component {wasm_path:?}"))
        })?;
        if let Err(e) = cache::write_atomic(&self.dir, &artifact, &compiled) {
            tracing::warn!("could not cache the compiled component: {e:#}");
        }
        // SAFETY: `compiled` was produced by `precompile_component` on this engine just now.
        unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| {
            anyhow::Error::from(e)
                .context(format!("failed to load compiled component {wasm_path:?}"))
        })
    }
}

/// `sha256(wasm)` plus the engine's compatibility hash, as hex.
fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hasher);
    let mut key = cache::hex(&Sha256::digest(wasm));
    key.push('-');
    key.push_str(&format!("{:016x}", engine_hasher.finish()));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_changes_with_guest_bytes() {
        let engine = new_engine().unwrap();
        assert_ne!(cache_key(&engine, b"a"), cache_key(&engine, b"b"));
        assert_eq!(cache_key(&engine, b"a"), cache_key(&engine, b"a"));
    }
}
