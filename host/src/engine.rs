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
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// How often the engine's epoch advances: the granularity of `--cpu-limit` and of
/// yielding a busy guest back to the async runtime.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Creates the engine every guest of this host shares: component model, Cranelift, and
/// epoch interruption driven by a background thread every [`EPOCH_TICK`] (so a guest
/// that computes forever can be stopped). Async support, which the tokio-based host
/// needs, is always on in wasmtime 48.
pub fn new_engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
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

/// Where compiled components are kept.
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// The default cache directory: `$KUBEWASM_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/kubewasm`, else `~/.cache/kubewasm`. `None` when none can be
    /// found (no `HOME`), in which case guests are compiled on every run.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("KUBEWASM_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("kubewasm"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("kubewasm"))
    }

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

        match self.trusted_dir() {
            Ok(()) if artifact.exists() => {
                // SAFETY: the artifact was written by this host (see `store`) into a
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
        if let Err(e) = self.store(&artifact, &compiled) {
            tracing::warn!("could not cache the compiled component: {e:#}");
        }
        // SAFETY: `compiled` was produced by `precompile_component` on this engine just now.
        unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| {
            anyhow::Error::from(e)
                .context(format!("failed to load compiled component {wasm_path:?}"))
        })
    }

    /// Creates the directory if needed and checks that only this user can write to it.
    fn trusted_dir(&self) -> anyhow::Result<()> {
        if !self.dir.exists() {
            create_private_dir(&self.dir)?;
        }
        check_private(&self.dir)
    }

    /// Writes the artifact atomically (temp file + rename), readable only by this user.
    fn store(&self, artifact: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        self.trusted_dir()?;
        let mut tmp = tempfile_in(&self.dir)?;
        tmp.1
            .write_all(bytes)
            .with_context(|| format!("failed to write {:?}", tmp.0))?;
        tmp.1.sync_all().ok();
        fs::rename(&tmp.0, artifact)
            .with_context(|| format!("failed to move {:?} to {artifact:?}", tmp.0))?;
        Ok(())
    }
}

/// `sha256(wasm)` plus the engine's compatibility hash, as hex.
fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hasher);
    let digest = Sha256::digest(wasm);
    let mut key = String::with_capacity(64 + 17);
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key.push('-');
    key.push_str(&format!("{:016x}", engine_hasher.finish()));
    key
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("failed to create cache directory {dir:?}"))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create cache directory {dir:?}"))
}

#[cfg(unix)]
fn check_private(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).with_context(|| format!("failed to inspect {dir:?}"))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid {
        bail!(
            "cache directory {dir:?} belongs to another user (uid {})",
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "cache directory {dir:?} is writable by other users (mode {:o}); run `chmod go-w {}`",
            meta.mode() & 0o777,
            dir.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// A new file in `dir` with a unique name, created exclusively with mode 0600.
fn tempfile_in(dir: &Path) -> anyhow::Result<(PathBuf, fs::File)> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for attempt in 0..16u32 {
        let path = dir.join(format!(".tmp-{}-{nanos:x}-{attempt}", std::process::id()));
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("failed to create {path:?}")),
        }
    }
    bail!("failed to create a temporary file in {dir:?}")
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

    #[cfg(unix)]
    #[test]
    fn refuses_a_cache_directory_others_can_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = ComponentCache::new(dir.path()).trusted_dir().unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");
    }
}
