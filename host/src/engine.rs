//! The wasmtime `Engine` kubewasm runs guests on, and the on-disk cache of compiled
//! components.
//!
//! Compiling a guest with Cranelift takes far longer than running a `get pods`, so a
//! compiled component is kept on disk keyed by the BLAKE3 hash of the guest's bytes and the
//! engine's compatibility hash (wasmtime version, target, settings). An unchanged guest
//! is compiled once; a changed guest or a new host gets a new key. Loading a cached
//! artifact maps native code into the process, so the cache only trusts a directory
//! that this user owns and nobody else can write to, and only entries sealed with its
//! key (see [`crate::cache`]).

use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::cache::{self, CacheKey, SealedFile};

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
    /// Compile for the baseline CPU of this architecture (x86-64: SSE2 only) rather than
    /// the features of the machine compiling, so that the code loads on any node of
    /// the architecture. `host compile` uses this; a run compiles for its own CPU.
    pub baseline_cpu: bool,
    /// Compile with Winch, wasmtime's baseline compiler: several times faster to compile
    /// than Cranelift, slower code (see [`ComponentCache::load_tiered`]).
    pub winch: bool,
    /// Use wasmtime's pooling allocator with room for this many concurrent guests:
    /// memory and tables are reserved up front and reused, which makes instantiation
    /// much cheaper for platforms that start a guest per call. A freed slot is reset by
    /// writing back what its instance changed ([`POOLED_MEMORY_KEEP_RESIDENT`]). Off by
    /// default (a CLI run starts one guest).
    pub pooling_instances: Option<u32>,
}

/// How much of each pooled linear memory a reset may keep resident
/// ([`EngineOptions::pooling_instances`]) where the kernel has PAGEMAP_SCAN: the pages
/// an instance changed within it are written back to the memory's initial contents
/// rather than dropped. With 64 slots, at most 64 MiB stays resident while they are idle.
pub const POOLED_MEMORY_KEEP_RESIDENT: usize = 1 << 20;

/// How much of each pooled table a reset zeroes in place rather than dropping with
/// `madvise` (only the part the table's size covers is touched: 8 bytes per element).
pub const POOLED_TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Creates an engine with `options`; see [`new_engine`] for what every engine has.
pub fn new_engine_with(options: &EngineOptions) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if options.winch {
        config.strategy(wasmtime::Strategy::Winch);
    }
    if options.baseline_cpu {
        // An explicit target turns off wasmtime's detection of the host CPU's features.
        config
            .target(&target_lexicon::HOST.to_string())
            .map_err(|e| anyhow::Error::from(e).context("failed to set the compile target"))?;
    }
    // A guest's exit is an error raised through wasm, and wasmtime captured and
    // symbolized a backtrace for each: 4% of an embedder's instantiate-and-request loop.
    // The host reports a trap in one line and never shows one, so they are captured
    // only when debug logging (KUBEWASM_LOG=debug) will print them.
    if !tracing::enabled!(tracing::Level::DEBUG) {
        config.wasm_backtrace_max_frames(None);
    }
    // Native unwind info (.eh_frame for the system unwinder) is registered with libgcc
    // function by function every time compiled code is loaded, on the warm start's
    // critical path. Nothing unwinds natively through guest frames here: wasmtime walks
    // guest stacks by frame pointer, and a host function's panic is caught before it
    // reaches them. (Compiled entries of other settings are not loaded: the setting is
    // part of the engine's compatibility hash in each entry's name.)
    config.native_unwind_info(false);
    if let Some(instances) = options.pooling_instances {
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        pooling
            .total_component_instances(instances)
            .total_core_instances(instances * 4)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .max_memory_size(crate::limits::Limits::default().max_memory)
            // A freed table is zeroed in place up to its used size (8 bytes an element),
            // not dropped with `madvise`: two system calls fewer per instance.
            .table_keep_resident(POOLED_TABLE_KEEP_RESIDENT);
        // A slot's memory is reset for its next instance by writing back what the last
        // one changed, found with Linux's PAGEMAP_SCAN (6.7 and later), instead of
        // dropping the pages with `madvise` and taking a page fault for each page the
        // next instance touches. Per `get --raw /version` instance, this took the
        // embedding benchmark from a `madvise` and 9 page faults to one scan, and its CPU
        // per call down by about 30% (BENCHMARKS.md (e)). Without the scan, wasmtime
        // would rewrite every kept byte on each reset, so memory is then reset as before.
        if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
            pooling
                .pagemap_scan(wasmtime::Enabled::Yes)
                .linear_memory_keep_resident(POOLED_MEMORY_KEEP_RESIDENT);
        }
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    }
    let engine = Engine::new(&config)
        .map_err(|e| anyhow::Error::from(e).context("failed to create the wasmtime engine"))?;
    tracing::debug!("engine created; starting its epoch thread");
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

/// Where [`load_component`] may take a guest's compiled code from.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions<'a> {
    /// The operator's precompiled guests, tried first.
    pub precompiled: Option<&'a PrecompiledDir>,
    /// The compile cache, tried next (and filled after a compile).
    pub cache: Option<&'a ComponentCache>,
    /// Accept a `.cwasm` file given as the guest itself (`--allow-precompiled`).
    pub allow_precompiled: bool,
    /// On a cache miss, compile with Winch for this run and optimize in this background
    /// ([`ComponentCache::load_tiered`]); `None`: compile with `engine` and wait.
    pub tiered: Option<&'a Optimize>,
}

/// Loads the guest at `path`: a component (from the operator's precompiled directory,
/// the cache, or compiled now), or — only with `allow_precompiled` — a `.cwasm` written
/// by `host compile` for this engine.
pub fn load_component(
    engine: &Engine,
    path: &Path,
    options: LoadOptions<'_>,
) -> anyhow::Result<Component> {
    // Read once for the guest's remembered hash and its compiled entry.
    let key = options.cache.and_then(ComponentCache::key);
    let guest = match options.cache {
        Some(cache) => cache.open_guest(key, path)?,
        None => GuestWasm::open(path)?,
    };
    let Some(guest) = guest else {
        let bytes =
            fs::read(path).with_context(|| format!("failed to read guest component {path:?}"))?;
        if Engine::detect_precompiled(&bytes).is_none() {
            // Neither WebAssembly nor native code: compiling it says what is wrong.
            return Component::new(engine, &bytes).map_err(|e| {
                anyhow::Error::from(e)
                    .context(format!("failed to compile guest component {path:?}"))
            });
        }
        if !options.allow_precompiled {
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
    };
    if let Some(component) = options
        .precompiled
        .and_then(|dir| dir.load_digest(engine, guest.digest()))
    {
        return Ok(component);
    }
    match options.cache {
        Some(cache) if let Some(background) = options.tiered => {
            cache.load_tiered_with(key, engine, winch_engine, &guest, background)
        }
        Some(cache) => cache.load_guest_with(key, engine, &guest),
        None => Component::new(engine, guest.bytes()?).map_err(|e| {
            anyhow::Error::from(e).context(format!("failed to compile guest component {path:?}"))
        }),
    }
}

/// A guest component file: its BLAKE3 hash, and its bytes once they are needed. A guest
/// that is precompiled or cached is found by its hash alone, which is streamed from the
/// file through a small buffer: reading a whole file into new memory costs a page fault
/// per 4 KiB (for the 14 MB JavaScript runtime, thousands on every run).
#[derive(Debug)]
pub struct GuestWasm {
    path: PathBuf,
    digest: String,
    bytes: std::sync::OnceLock<Vec<u8>>,
}

impl GuestWasm {
    /// Hashes the WebAssembly file at `path`; `None` if it does not start as
    /// WebAssembly does (`\0asm`), e.g. a precompiled `.cwasm`.
    pub fn open(path: &Path) -> anyhow::Result<Option<Self>> {
        Self::open_with(path, None)
    }

    /// [`GuestWasm::open`], the hash remembered in the cache at `root` under `key` by the
    /// file's identity ([`CacheKey::digest_of`]), so that an unchanged guest is not read.
    pub fn open_with(
        path: &Path,
        memo: Option<(&Path, &CacheKey)>,
    ) -> anyhow::Result<Option<Self>> {
        use std::io::Read;
        let context = || format!("failed to read guest component {path:?}");
        let mut file = fs::File::open(path).with_context(context)?;
        let mut magic = [0u8; 4];
        if file.read_exact(&mut magic).is_err() || magic != *b"\0asm" {
            return Ok(None);
        }
        let digest = match memo {
            Some((root, key)) => key.digest_of(root, path, &mut file, &magic),
            None => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&magic);
                hasher
                    .update_reader(&mut file)
                    .map(|hasher| hasher.finalize())
            }
        }
        .with_context(context)?;
        Ok(Some(Self {
            path: path.to_path_buf(),
            digest: digest.to_hex().to_string(),
            bytes: std::sync::OnceLock::new(),
        }))
    }

    /// The component `wasm`, read from `path` already.
    pub fn from_bytes(path: &Path, wasm: Vec<u8>) -> Self {
        Self {
            path: path.to_path_buf(),
            digest: cache::digest_hex(&wasm),
            bytes: std::sync::OnceLock::from(wasm),
        }
    }

    /// Where it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The BLAKE3 hash of its bytes, as hex (what `b3sum` prints).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Its bytes, read on first use. Should the file have changed since it was hashed,
    /// the bytes read are hashed again, so that what is compiled is what its hash says.
    pub fn bytes(&self) -> anyhow::Result<&[u8]> {
        if let Some(bytes) = self.bytes.get() {
            return Ok(bytes);
        }
        let bytes = fs::read(&self.path)
            .with_context(|| format!("failed to read guest component {:?}", self.path))?;
        if cache::digest_hex(&bytes) != self.digest {
            anyhow::bail!(
                "the guest component {:?} changed while it was being loaded; run it again",
                self.path
            );
        }
        Ok(self.bytes.get_or_init(|| bytes))
    }
}

/// The engine a tiered first run compiles with: [`new_engine`]'s settings, with Winch.
pub fn winch_engine() -> anyhow::Result<Engine> {
    new_engine_with(&EngineOptions {
        winch: true,
        ..EngineOptions::default()
    })
}

/// Compiled components an operator made ahead of time (`host compile --out-dir DIR`),
/// named `<BLAKE3 hash of the .wasm>.cwasm` (`b3sum`): `host run --precompiled DIR` (or
/// `$KUBEWASM_PRECOMPILED_DIR`, which the Dockerfile sets) loads a guest from here
/// without compiling it. Precompiled code is native code, so the directory must be one
/// the operator controls: owned by root or this user, writable by nobody else, and never
/// granted to a guest (see [`crate::trusted`]). Its files are not sealed (the operator
/// wrote them; wasmtime checks they fit this host's engine).
#[derive(Clone, Debug)]
pub struct PrecompiledDir {
    dir: PathBuf,
}

impl PrecompiledDir {
    /// The directory `dir`, if it is absolute and safe to load native code from.
    pub fn open(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let dir = dir.into();
        if !dir.is_absolute() {
            anyhow::bail!(
                "the precompiled directory {dir:?} is a relative path; give an absolute one"
            );
        }
        cache::check_operator_path(&dir)
            .with_context(|| format!("cannot load precompiled guests from {dir:?}"))?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where the compiled form of the component `wasm` is kept.
    pub fn artifact(&self, wasm: &[u8]) -> PathBuf {
        self.artifact_of(&cache::digest_hex(wasm))
    }

    /// Where the compiled form of the component whose BLAKE3 hash is `digest` is kept.
    fn artifact_of(&self, digest: &str) -> PathBuf {
        self.dir.join(Self::name_of(digest))
    }

    /// The file name of the compiled form of `wasm` (what `host compile --out-dir`
    /// writes): the BLAKE3 hash of its bytes.
    pub fn file_name(wasm: &[u8]) -> String {
        Self::name_of(&cache::digest_hex(wasm))
    }

    /// The one naming rule `host compile --out-dir` writes by and `host run` looks up by.
    fn name_of(digest: &str) -> String {
        format!("{digest}.cwasm")
    }

    /// The compiled form of `wasm` if there is one that this engine can load. One that
    /// cannot be loaded (another wasmtime, a CPU without the features it was compiled
    /// for) is reported once on stderr, and `None` is returned so the caller compiles.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Option<Component> {
        self.load_digest(engine, &cache::digest_hex(wasm))
    }

    /// [`PrecompiledDir::load`] for the component whose BLAKE3 hash is `digest`.
    fn load_digest(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let artifact = self.artifact_of(digest);
        if !artifact.exists() {
            return None;
        }
        // The directory was checked in `open`; a file in it that others may rewrite (or a
        // symlink to one) is not operator-controlled code.
        if let Err(e) = cache::check_operator_path(&artifact) {
            eprintln!(
                "warning: not loading the precompiled guest {artifact:?}: {e:#}; compiling it instead"
            );
            return None;
        }
        // SAFETY: the file and its directory are operator-controlled (checked above and in
        // `open`, and refused as a guest grant); wasmtime checks the artifact's version,
        // settings and CPU needs.
        match unsafe { Component::deserialize_file(engine, &artifact) } {
            Ok(component) => Some(component),
            Err(e) => {
                eprintln!(
                    "warning: the precompiled guest {artifact:?} cannot be used on this host ({e}); compiling it instead (recreate it with `host compile --out-dir`)"
                );
                None
            }
        }
    }
}

/// Compiles the component at `path` to this engine's native code (`host compile`).
pub fn compile_component(engine: &Engine, path: &Path) -> anyhow::Result<Vec<u8>> {
    let wasm =
        fs::read(path).with_context(|| format!("failed to read guest component {path:?}"))?;
    compile_wasm(engine, &wasm, path)
}

/// Where compiled components are kept: `components/` under a cache root such as
/// [`cache::default_root`], each entry sealed with the root's [`CacheKey`].
#[derive(Clone, Debug)]
pub struct ComponentCache {
    root: PathBuf,
    /// The root's key, read once: on the first load, or given by [`ComponentCache::with_key`].
    /// `None` inside when the root cannot be used (then nothing is cached).
    key: std::sync::OnceLock<Option<CacheKey>>,
}

impl ComponentCache {
    /// A cache under the root `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            key: std::sync::OnceLock::new(),
        }
    }

    /// A cache under `root` whose key the caller has already opened with
    /// [`CacheKey::open`] (`None`: the root cannot be used, so nothing is cached). A
    /// session shares one key between this cache and its discovery cache.
    pub fn with_key(root: impl Into<PathBuf>, key: Option<CacheKey>) -> Self {
        Self {
            root: root.into(),
            key: std::sync::OnceLock::from(key),
        }
    }

    /// Loads the component at `wasm_path`, from the cache when this engine compiled the
    /// same bytes before (found by the file's hash, which is remembered while the file is
    /// unchanged), else compiling it and storing the result. An entry is loaded only if
    /// its seal shows this host wrote it under this name. A cache that cannot be used
    /// (unsafe permissions, full disk, a planted or damaged entry) only costs a compile:
    /// it is reported at `warn` level, never an error.
    pub fn load(&self, engine: &Engine, wasm_path: &Path) -> anyhow::Result<Component> {
        let key = self.key();
        let guest = match self.open_guest(key, wasm_path)? {
            Some(guest) => guest,
            // Not WebAssembly: compiling it says what is wrong.
            None => {
                let wasm = fs::read(wasm_path)
                    .with_context(|| format!("failed to read guest component {wasm_path:?}"))?;
                GuestWasm::from_bytes(wasm_path, wasm)
            }
        };
        self.load_guest_with(key, engine, &guest)
    }

    /// [`GuestWasm::open`] for the guest at `path`, its hash remembered in this cache
    /// when there is a `key` ([`CacheKey::digest_of`]).
    fn open_guest(&self, key: Option<&CacheKey>, path: &Path) -> anyhow::Result<Option<GuestWasm>> {
        GuestWasm::open_with(path, key.map(|key| (self.root.as_path(), key)))
    }

    /// [`ComponentCache::load`] for `guest`, whose bytes are read only to compile it.
    pub fn load_guest(&self, engine: &Engine, guest: &GuestWasm) -> anyhow::Result<Component> {
        self.load_guest_with(self.key(), engine, guest)
    }

    fn load_guest_with(
        &self,
        key: Option<&CacheKey>,
        engine: &Engine,
        guest: &GuestWasm,
    ) -> anyhow::Result<Component> {
        if let Some(component) = self.lookup(key, engine, guest.digest()) {
            return Ok(component);
        }
        self.compile_and_store(key, engine, guest)
    }

    /// The fast first run: the optimized (Cranelift) entry if there is one; else the
    /// guest compiled by Winch, wasmtime's baseline compiler (several times faster to
    /// compile, slower to run), from the cache or compiled now and cached. In the second
    /// case the optimized code is compiled in the `background` at the lowest CPU
    /// priority and cached, replacing the Winch entry, so later runs get it. The
    /// component returned belongs to `engine` or to `winch`: run it on
    /// [`Component::engine`].
    pub fn load_tiered(
        &self,
        engine: &Engine,
        winch: impl FnOnce() -> anyhow::Result<Engine>,
        guest: &GuestWasm,
        background: &Optimize,
    ) -> anyhow::Result<Component> {
        self.load_tiered_with(self.key(), engine, winch, guest, background)
    }

    fn load_tiered_with(
        &self,
        key: Option<&CacheKey>,
        engine: &Engine,
        winch: impl FnOnce() -> anyhow::Result<Engine>,
        guest: &GuestWasm,
        background: &Optimize,
    ) -> anyhow::Result<Component> {
        if let Some(component) = self.lookup(key, engine, guest.digest()) {
            return Ok(component);
        }
        let Some(key) = key else {
            return self.load_guest_with(None, engine, guest);
        };
        let winch = winch()?;
        let component = match self.lookup(Some(key), &winch, guest.digest()) {
            Some(component) => component,
            None => {
                let started = std::time::Instant::now();
                let component = self.compile_and_store(Some(key), &winch, guest)?;
                tracing::info!(
                    "compiled {:?} with Winch in {:?} for this run; optimizing in the background",
                    guest.path(),
                    started.elapsed()
                );
                component
            }
        };
        match background {
            Optimize::InThread => self.optimize_in_thread(engine, winch, guest)?,
            Optimize::InProcess(exe) => self.spawn_optimizer(exe, &winch, guest),
            Optimize::InThisExecutable => match std::env::current_exe() {
                Ok(exe) => self.spawn_optimizer(&exe, &winch, guest),
                Err(e) => {
                    tracing::debug!("optimizing in a thread: cannot find this executable: {e}");
                    self.optimize_in_thread(engine, winch, guest)?;
                }
            },
        }
        Ok(component)
    }

    /// Compiles `wasm` with the optimizing `engine`, caches it and drops the `winch`
    /// entry (what `host optimize-cache` and the background thread do).
    pub fn optimize(
        &self,
        engine: &Engine,
        winch: &Engine,
        wasm: &[u8],
        wasm_path: &Path,
    ) -> anyhow::Result<()> {
        let key = CacheKey::open(&self.root)?;
        let digest = cache::digest_hex(wasm);
        if self.lookup(Some(&key), engine, &digest).is_none() {
            let compiled = compile_wasm(engine, wasm, wasm_path)?;
            self.store(Some(&key), engine, &digest, &compiled);
        }
        self.remove(winch, &digest);
        Ok(())
    }

    /// Makes `engine`'s code for `guest` in a low-priority thread of this process.
    fn optimize_in_thread(
        &self,
        engine: &Engine,
        winch: Engine,
        guest: &GuestWasm,
    ) -> anyhow::Result<()> {
        let (cache, engine) = (self.clone(), engine.clone());
        let (wasm, path) = (guest.bytes()?.to_vec(), guest.path().to_path_buf());
        let spawned = std::thread::Builder::new()
            .name("kubewasm-optimize".into())
            .spawn(move || {
                lower_thread_priority();
                if let Err(e) = cache.optimize(&engine, &winch, &wasm, &path) {
                    tracing::warn!("background optimization failed: {e:#}");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("could not start the background optimization: {e}");
        }
        Ok(())
    }

    /// Starts `exe optimize-cache GUEST.wasm` detached, unless one is already at work on
    /// this guest (a lock file younger than ten minutes), so the optimization outlives
    /// this short run.
    fn spawn_optimizer(&self, exe: &Path, winch: &Engine, guest: &GuestWasm) {
        let lock = self
            .entry(winch, guest.digest())
            .1
            .with_extension("optimizing");
        let fresh = fs::metadata(&lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < std::time::Duration::from_secs(600));
        if fresh {
            return;
        }
        if let Err(e) = fs::write(&lock, b"") {
            tracing::warn!("not optimizing in the background: {e}");
            return;
        }
        let mut command = std::process::Command::new(exe);
        command
            .arg("optimize-cache")
            .arg(guest.path())
            .env("KUBEWASM_CACHE_DIR", &self.root)
            .env("KUBEWASM_OPTIMIZE_LOCK", &lock)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        #[cfg(unix)]
        {
            // Its own process group: a Ctrl-C meant for this run does not stop it.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        if let Err(e) = command.spawn() {
            tracing::warn!("could not start the background optimization: {e}");
            fs::remove_file(&lock).ok();
        }
    }

    /// Compiles `guest` with `engine`, loads the result and caches it.
    fn compile_and_store(
        &self,
        key: Option<&CacheKey>,
        engine: &Engine,
        guest: &GuestWasm,
    ) -> anyhow::Result<Component> {
        let compiled = compile_wasm(engine, guest.bytes()?, guest.path())?;
        // Loaded from the entry just written, as a warm run loads it: mapped from the
        // file rather than copied (38 MB of code and heap image for the JS runtime).
        if self.store(key, engine, guest.digest(), &compiled)
            && let Some(component) = self.lookup(key, engine, guest.digest())
        {
            return Ok(component);
        }
        // SAFETY: `compiled` was produced by `precompile_component` on this engine just now.
        unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| {
            anyhow::Error::from(e).context(format!(
                "failed to load compiled component {:?}",
                guest.path()
            ))
        })
    }

    fn key(&self) -> Option<&CacheKey> {
        self.key
            .get_or_init(|| {
                CacheKey::open(&self.root)
                    .inspect_err(|e| tracing::warn!("not using the component cache: {e:#}"))
                    .ok()
            })
            .as_ref()
    }

    /// The entry name and file of the component with BLAKE3 hash `digest` compiled by
    /// `engine`.
    fn entry(&self, engine: &Engine, digest: &str) -> (String, PathBuf) {
        let name = format!("{}.cwasm", cache_key(engine, digest));
        let file = self.root.join("components").join(&name);
        (name, file)
    }

    /// The cached compiled form of the component with BLAKE3 hash `digest` for
    /// `engine`, if this host wrote it.
    fn lookup(&self, key: Option<&CacheKey>, engine: &Engine, digest: &str) -> Option<Component> {
        let key = key?;
        let (name, artifact) = self.entry(engine, digest);
        let sealed = match key.open_sealed_file(&name, &artifact) {
            Ok(Some(sealed)) => sealed,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("ignoring cached component {artifact:?}: {e:#}; recompiling");
                return None;
            }
        };
        // SAFETY: the seal shows this host wrote these bytes under this name (the output
        // of `precompile_component` for a guest with this hash, on an engine with this
        // compatibility hash); wasmtime also checks the header.
        match unsafe { deserialize_sealed(engine, &sealed) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(
                    "ignoring unusable cached component {artifact:?}: {e:#}; recompiling"
                );
                None
            }
        }
    }

    /// Caches `compiled`, the compiled form of the component with hash `digest` for
    /// `engine`; whether it was. Failing only costs a compile next time.
    fn store(
        &self,
        key: Option<&CacheKey>,
        engine: &Engine,
        digest: &str,
        compiled: &[u8],
    ) -> bool {
        let Some(key) = key else { return false };
        let (name, artifact) = self.entry(engine, digest);
        let dir = self.root.join("components");
        match key.write_sealed_file(&dir, &artifact, &name, compiled) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("could not cache the compiled component: {e:#}");
                false
            }
        }
    }

    /// Removes the cached compiled form of the component with hash `digest` for
    /// `engine`, if any.
    fn remove(&self, engine: &Engine, digest: &str) {
        let artifact = self.entry(engine, digest).1;
        fs::remove_file(cache::seal_path(&artifact)).ok();
        fs::remove_file(artifact).ok();
    }
}

/// Loads a sealed cache entry. On Linux wasmtime maps the very file whose seal was
/// checked (through `/proc/self/fd`) instead of copying its bytes: a warm run of the
/// JavaScript runtime (38 MB of code and heap image) then copies nothing, and its heap
/// image is mapped copy-on-write from the file rather than written into a new memfd.
///
/// # Safety
///
/// As [`Component::deserialize`]: `sealed` must hold this engine's output for the
/// component.
unsafe fn deserialize_sealed(engine: &Engine, sealed: &SealedFile) -> wasmtime::Result<Component> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", sealed.file().as_raw_fd()));
        // The same file, unless /proc is missing or is not procfs (then: the copy below).
        let same = |a: &fs::Metadata, b: &fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
        if let (Ok(ours), Ok(named)) = (sealed.file().metadata(), fs::metadata(&fd_path))
            && same(&ours, &named)
        {
            // SAFETY: the caller's contract; the file is the one the seal was checked on.
            return unsafe { Component::deserialize_file(engine, &fd_path) };
        }
    }
    // SAFETY: the caller's contract.
    unsafe { Component::deserialize(engine, sealed.bytes()?) }
}

/// Where [`ComponentCache::load_tiered`] makes the optimized code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Optimize {
    /// A thread of this process (an embedder that lives on).
    InThread,
    /// A detached `EXE optimize-cache GUEST.wasm` process (`host run`, which ends soon).
    InProcess(PathBuf),
    /// [`Optimize::InProcess`] of the running executable, looked up only when a compile
    /// happens (a warm run does not read `/proc/self/exe`); [`Optimize::InThread`] if it
    /// cannot be found.
    InThisExecutable,
}

/// Compiles `wasm` (read from `path`, for the message) with `engine`.
pub fn compile_wasm(engine: &Engine, wasm: &[u8], path: &Path) -> anyhow::Result<Vec<u8>> {
    engine.precompile_component(wasm).map_err(|e| {
        anyhow::Error::from(e).context(format!("failed to compile guest component {path:?}"))
    })
}

/// Puts the calling thread at the lowest CPU priority (Linux: per-thread nice 19; the
/// threads it starts inherit it), so background work never slows the guest.
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's id has no memory-safety preconditions; a
    // failure only leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// The component's BLAKE3 hash (`digest`) plus the engine's compatibility hash, as hex.
fn cache_key(engine: &Engine, digest: &str) -> String {
    let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hasher);
    let mut key = digest.to_string();
    key.push('-');
    key.push_str(&format!("{:016x}", engine_hasher.finish()));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the component-model preamble and nothing else.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    /// A core module with one exported memory `m` of one page, whose first byte the
    /// module's data sets to 42.
    const MEMORY_MODULE: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, at least 1 page
        0x07, 0x05, 0x01, 0x01, b'm', 0x02, 0x00, // export section: memory 0 as "m"
        0x0b, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 42, // data: [0] = 42
    ];

    #[test]
    fn a_pooled_slot_reused_by_the_next_instance_holds_nothing_of_the_last() {
        let engine = new_engine_with(&EngineOptions {
            pooling_instances: Some(1),
            ..EngineOptions::default()
        })
        .unwrap();
        let module = wasmtime::Module::new(&engine, MEMORY_MODULE).unwrap();
        let page = 64 << 10;
        for round in 0..3 {
            // One slot: every instance reuses the memory the last one wrote all over.
            let mut store = wasmtime::Store::new(&engine, ());
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            let memory = instance.get_memory(&mut store, "m").unwrap();
            let data = memory.data_mut(&mut store);
            assert_eq!(data.len(), page);
            assert_eq!(data[0], 42, "round {round}: the initial data is back");
            assert!(
                data[1..].iter().all(|&b| b == 0),
                "round {round}: bytes of the last instance are left"
            );
            data.fill(0xa5);
            // So is memory the last instance grew into.
            memory.grow(&mut store, 1).unwrap();
            let grown = &mut memory.data_mut(&mut store)[page..];
            assert!(
                grown.iter().all(|&b| b == 0),
                "round {round}: grown memory of the last instance is left"
            );
            grown.fill(0x5a);
        }
    }

    /// The same with a custom section, so its bytes (and cache key) differ.
    fn other_component() -> Vec<u8> {
        let mut wasm = EMPTY_COMPONENT.to_vec();
        wasm.extend_from_slice(&[0x00, 0x03, 0x01, b'x', b'y']);
        wasm
    }

    fn entries(root: &Path) -> Vec<PathBuf> {
        let mut entries: Vec<_> = fs::read_dir(root.join("components"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
            .collect();
        entries.sort();
        entries
    }

    #[test]
    fn a_compiled_component_is_cached_and_loaded_back() {
        let engine = new_engine().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("a.wasm");
        fs::write(&wasm, EMPTY_COMPONENT).unwrap();
        let cache = ComponentCache::new(dir.path().join("cache"));
        cache.load(&engine, &wasm).unwrap();
        let [entry] = entries(&dir.path().join("cache")).try_into().unwrap();
        let written = fs::metadata(&entry).unwrap().modified().unwrap();
        cache.load(&engine, &wasm).unwrap();
        assert_eq!(fs::metadata(&entry).unwrap().modified().unwrap(), written);
    }

    #[test]
    fn another_guests_entry_planted_under_a_key_is_not_loaded() {
        // The plant from issue 10: a compiled component written under the key of a
        // different guest. The seal binds each entry to its name, so the host recompiles
        // the right guest and overwrites the plant.
        let engine = new_engine().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.wasm"), dir.path().join("b.wasm"));
        fs::write(&a, EMPTY_COMPONENT).unwrap();
        fs::write(&b, other_component()).unwrap();
        let root = dir.path().join("cache");
        let cache = ComponentCache::new(&root);
        cache.load(&engine, &a).unwrap();
        let [a_entry] = entries(&root).try_into().unwrap();
        cache.load(&engine, &b).unwrap();
        let b_entry = entries(&root).into_iter().find(|e| *e != a_entry).unwrap();
        let b_bytes = fs::read(&b_entry).unwrap();
        fs::copy(&a_entry, &b_entry).unwrap();
        cache.load(&engine, &b).unwrap();
        assert_eq!(
            fs::read(&b_entry).unwrap(),
            b_bytes,
            "the plant was not replaced"
        );
        // The plant with its own seal copied beside it: the seal names the entry.
        fs::copy(&a_entry, &b_entry).unwrap();
        fs::copy(cache::seal_path(&a_entry), cache::seal_path(&b_entry)).unwrap();
        cache.load(&engine, &b).unwrap();
        assert_eq!(fs::read(&b_entry).unwrap(), b_bytes);
        // The plant with its seal removed: no entry, so compiled and sealed again.
        fs::copy(&a_entry, &b_entry).unwrap();
        fs::remove_file(cache::seal_path(&b_entry)).unwrap();
        cache.load(&engine, &b).unwrap();
        assert_eq!(fs::read(&b_entry).unwrap(), b_bytes);
        // An unsealed artifact (what `host compile` writes) planted there: the same.
        fs::write(
            &b_entry,
            engine.precompile_component(EMPTY_COMPONENT).unwrap(),
        )
        .unwrap();
        cache.load(&engine, &b).unwrap();
        assert_eq!(fs::read(&b_entry).unwrap(), b_bytes);
    }

    #[test]
    fn a_guest_compiled_for_the_baseline_cpu_loads_from_the_precompiled_directory() {
        let baseline = new_engine_with(&EngineOptions {
            baseline_cpu: true,
            ..EngineOptions::default()
        })
        .unwrap();
        let engine = new_engine().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let precompiled = PrecompiledDir::open(dir.path()).unwrap();
        let wasm = dir.path().join("guest.wasm");
        fs::write(&wasm, EMPTY_COMPONENT).unwrap();
        assert!(precompiled.load(&engine, EMPTY_COMPONENT).is_none());
        fs::write(
            precompiled.artifact(EMPTY_COMPONENT),
            baseline.precompile_component(EMPTY_COMPONENT).unwrap(),
        )
        .unwrap();
        assert!(precompiled.load(&engine, EMPTY_COMPONENT).is_some());
        // Another guest's bytes have another name: not found, so compiled.
        assert!(precompiled.load(&engine, &other_component()).is_none());
        // A file others may rewrite is not loaded, even in a safe directory.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let artifact = precompiled.artifact(EMPTY_COMPONENT);
            fs::set_permissions(&artifact, fs::Permissions::from_mode(0o666)).unwrap();
            assert!(precompiled.load(&engine, EMPTY_COMPONENT).is_none());
            fs::set_permissions(&artifact, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(precompiled.load(&engine, EMPTY_COMPONENT).is_some());
        }
        // Something that is not this engine's code is refused (and reported), not run.
        fs::write(precompiled.artifact(EMPTY_COMPONENT), b"not native code").unwrap();
        assert!(precompiled.load(&engine, EMPTY_COMPONENT).is_none());
        let options = LoadOptions {
            precompiled: Some(&precompiled),
            ..LoadOptions::default()
        };
        load_component(&engine, &wasm, options).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_precompiled_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = PrecompiledDir::open(dir.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("writable by other users"),
            "{err:#}"
        );
        assert!(PrecompiledDir::open("relative/dir").is_err());
    }

    #[test]
    fn a_guest_is_hashed_from_its_file_and_read_whole_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wasm");
        let wasm = other_component();
        fs::write(&path, &wasm).unwrap();
        let guest = GuestWasm::open(&path).unwrap().unwrap();
        assert_eq!(guest.digest(), cache::digest_hex(&wasm));
        // Changed after it was hashed: its bytes are refused, not compiled under the
        // old hash.
        fs::write(&path, EMPTY_COMPONENT).unwrap();
        let err = guest.bytes().unwrap_err();
        assert!(err.to_string().contains("changed while"), "{err}");
        let guest = GuestWasm::open(&path).unwrap().unwrap();
        assert_eq!(guest.bytes().unwrap(), EMPTY_COMPONENT);
        // Not WebAssembly (a .cwasm is ELF): none, for the caller to look at whole.
        fs::write(&path, b"\x7fELF and the rest").unwrap();
        assert!(GuestWasm::open(&path).unwrap().is_none());
        fs::write(&path, b"\0a").unwrap();
        assert!(GuestWasm::open(&path).unwrap().is_none());
        assert!(GuestWasm::open(&dir.path().join("missing.wasm")).is_err());
    }

    #[test]
    fn cache_key_changes_with_guest_bytes() {
        let engine = new_engine().unwrap();
        let key = |wasm: &[u8]| cache_key(&engine, &cache::digest_hex(wasm));
        assert_ne!(key(b"a"), key(b"b"));
        assert_eq!(key(b"a"), key(b"a"));
    }
}
