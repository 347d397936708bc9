//! What every guest run of one host process shares, set up once: the policy, the
//! credential and its connection, the caches, the trusted paths no grant may reach, the
//! audit log and the limits. `host run` opens a [`Session`] and runs one guest in it;
//! `host mcp` opens one and runs a fresh guest per tool call, so a call costs what a
//! warm `host run` costs and decides requests exactly as it does.
//!
//! [`Session::load`] is the one place that turns a file into something to run: a
//! component (`.wasm`, or `.cwasm` with `allow_precompiled`), or a script (`.js`, `.py`)
//! in its language's runtime ([`crate::script`]), so `host run` and `host mcp --tool`
//! route every kind of file the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use wasmtime::Engine;

use crate::api::KubeCtxBuilder;
use crate::audit::AuditLog;
use crate::cache::{self, CacheKey};
use crate::credentials::{CredentialOptions, Credentials, Identity};
use crate::discovery::DiscoveryCache;
use crate::engine::{
    ComponentCache, LoadOptions, Optimize, PrecompiledDir, load_component, new_engine,
};
use crate::limits::{Limits, RateLimiter};
use crate::policy::{Policy, PolicyKind};
use crate::runner::{DirGrant, GuestEnv, PreparedScript, ScriptRunner};
use crate::script::{self, RuntimeDir, StagedScript};
use crate::transport::Transport;
use crate::trusted::{TrustedPath, TrustedPaths};

/// How to open a [`Session`]: the host options `host run` and `host mcp` share.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Where the API server is and which credential to use.
    pub credentials: CredentialOptions,
    /// `--policy`: a file of Role/ClusterRole YAML, `unrestricted`, or `None` for the
    /// read-only default.
    pub policy: Option<String>,
    /// `--no-implicit-discovery`.
    pub no_implicit_discovery: bool,
    /// `--audit`: a file appended to, or `-` for stderr.
    pub audit: Option<String>,
    /// Memory, time, response, stream, rate and request-size limits.
    pub limits: Limits,
    /// Host directories granted to every guest (`--dir`, `--dir-rw`).
    pub dirs: Vec<DirGrant>,
    /// Environment variables every guest sees (`--env`).
    pub env: Vec<(String, String)>,
    /// `--precompiled DIR`: the operator's precompiled guests.
    pub precompiled: Option<PathBuf>,
    /// `--allow-precompiled`: accept a `.cwasm` given as the guest.
    pub allow_precompiled: bool,
    /// `--runtime-dir`: where the script runtimes are (default: `runtimes/` beside the
    /// host binary).
    pub runtime_dir: Option<PathBuf>,
    /// The guest the caller will [`Session::load`] next, and how (its `tiered`): where
    /// the process may use another CPU, the engine is made and this guest (a script: its
    /// language's runtime) loaded there while the session reads the credential and
    /// connects, instead of after. `host run` sets it.
    pub preload: Option<(PathBuf, Option<Optimize>)>,
}

/// The loaded policy, credential, caches and audit log that guests run under.
pub struct Session {
    policy: Arc<Policy>,
    policy_file: Option<PathBuf>,
    credentials: Credentials,
    transport: Arc<Transport>,
    /// The discovery cache, opened once: every guest of the session shares it rather
    /// than reading the cache key again per run (per tool call, under `host mcp`).
    discovery: Option<DiscoveryCache>,
    component_cache: Option<ComponentCache>,
    precompiled: Option<PrecompiledDir>,
    engine: Engine,
    audit: Option<AuditLog>,
    limits: Limits,
    dirs: Vec<DirGrant>,
    env: Vec<(String, String)>,
    allow_precompiled: bool,
    /// The script runtimes' directory (`--runtime-dir`, or found on first use).
    runtimes: Runtimes,
    /// [`SessionOptions::preload`]'s component (a script's: its runtime), loaded while
    /// the session opened.
    preloaded: std::sync::Mutex<Option<Preloaded>>,
}

/// A component loaded while its session opened, with what it was loaded for.
struct Preloaded {
    path: PathBuf,
    tiered: Option<Optimize>,
    guest: anyhow::Result<Guest>,
}

/// A guest ready to run any number of times in its [`Session`].
#[derive(Clone)]
pub struct Guest {
    prepared: PreparedScript,
    /// The name the guest sees as its program (`argv[0]`): the file's stem, or for a
    /// script the script's path, which its runtime reads it from.
    pub program: String,
    /// For a script: its private read-only copy, granted to the runtime beside the
    /// session's directories, and kept while the guest lives.
    staged: Option<Arc<StagedScript>>,
}

impl Guest {
    /// The guest's full argument list for `args`: its program name, then `args`.
    pub fn argv(&self, args: impl IntoIterator<Item = String>) -> Vec<String> {
        std::iter::once(self.program.clone()).chain(args).collect()
    }

    /// The resolved component, to run with [`PreparedScript::run`].
    pub fn prepared(&self) -> &PreparedScript {
        &self.prepared
    }

    /// Ends the guest of a process that exits next: removes a script's private copy now,
    /// and leaves the compiled code mapped for the process's exit to release.
    pub(crate) fn release_at_exit(mut self) {
        drop(self.staged.take());
        std::mem::forget(self);
    }
}

/// The script runtimes' directory, located on first use ([`RuntimeDir::locate`]): a
/// Rust guest's run never needs it, and finding `runtimes/` beside the binary reads
/// `/proc/self/exe`.
struct Runtimes {
    /// `--runtime-dir`, if given.
    explicit: Option<PathBuf>,
    /// The directory, or why it could not be found (the text a script's load reports).
    found: std::sync::OnceLock<Result<RuntimeDir, String>>,
}

impl Runtimes {
    fn new(explicit: Option<PathBuf>) -> Self {
        Self {
            explicit,
            found: std::sync::OnceLock::new(),
        }
    }

    /// The directory, located now if it has not been yet, or why it cannot be found.
    fn get(&self) -> Result<&RuntimeDir, &str> {
        self.found
            .get_or_init(|| {
                RuntimeDir::locate(self.explicit.as_deref()).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Loads the component at `path` on `engine` (from `precompiled`, the `cache`, or compiled
/// now: [`load_component`]) and resolves its imports.
fn load_guest_component(
    engine: &Engine,
    path: &Path,
    tiered: Option<&Optimize>,
    precompiled: Option<&PrecompiledDir>,
    cache: Option<&ComponentCache>,
    allow_precompiled: bool,
) -> anyhow::Result<Guest> {
    let component = load_component(
        engine,
        path,
        LoadOptions {
            precompiled,
            cache,
            allow_precompiled,
            tiered,
        },
    )?;
    tracing::debug!("component loaded; resolving its imports");
    // A linker of what this component imports, on its engine (a first run may have
    // been compiled by Winch, on an engine of its own).
    let prepared = ScriptRunner::for_component(&component)?.prepare(&component)?;
    let program = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "guest".to_string());
    Ok(Guest {
        prepared,
        program,
        staged: None,
    })
}

/// Runs `work` on a new thread on another CPU than this thread's, and gives its result
/// to the returned receiver; `None` (nothing started) where this process may use only
/// one CPU. Linux puts a new thread on its parent's CPU, where it waits until the parent
/// blocks: on the 2-CPU machine of BENCHMARKS.md (e), a thread started to overlap its
/// parent's next 0.7 ms of work ran after it in every run, and moved to the other CPU
/// it ran beside it. Once there, the thread may run on any CPU the process may, and so
/// may the threads it starts.
fn spawn_beside<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Option<tokio::sync::oneshot::Receiver<anyhow::Result<T>>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::thread::JoinHandleExt;
        const SET: usize = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: plain system calls on a zeroed `cpu_set_t` this thread owns, and on
        // the thread just started, whose handle is alive (detached only at the end).
        unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, SET, &mut allowed) != 0 {
                return None;
            }
            let here = libc::sched_getcpu();
            let mut elsewhere = allowed;
            match usize::try_from(here) {
                Ok(here) if here < libc::CPU_SETSIZE as usize => {
                    libc::CPU_CLR(here, &mut elsewhere)
                }
                _ => return None,
            }
            if libc::CPU_COUNT(&elsewhere) == 0 {
                return None;
            }
            // The thread widens its CPUs back only once it has been moved: before, the
            // move could come after and narrow them for good.
            let (moved_tx, moved_rx) = std::sync::mpsc::sync_channel::<()>(1);
            let handle = std::thread::Builder::new()
                .name(name.to_string())
                // As much as the main thread has: a guest compiled on a cache miss is
                // compiled here.
                .stack_size(8 << 20)
                .spawn(move || {
                    let _ = moved_rx.recv();
                    libc::sched_setaffinity(0, SET, &allowed);
                    let _ = tx.send(work());
                })
                .ok()?;
            libc::pthread_setaffinity_np(handle.as_pthread_t(), SET, &elsewhere);
            let _ = moved_tx.send(());
            Some(rx)
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (name, work, tx);
        drop(rx);
        None
    }
}

/// Loads `--policy`: a YAML file, `unrestricted`, or (none) the read-only default. A
/// file's rules get the discovery URLs every authenticated user has under RBAC unless
/// `no_implicit_discovery`.
pub fn load_policy(policy: Option<&str>, no_implicit_discovery: bool) -> anyhow::Result<Policy> {
    Ok(match policy {
        None => Policy::default_read_only(),
        Some("unrestricted") => Policy::unrestricted(),
        Some(path) if no_implicit_discovery => Policy::load(Path::new(path))?,
        Some(path) => Policy::load(Path::new(path))?.with_implicit_discovery(),
    })
}

impl Session {
    /// Loads the policy and the credential, opens the caches and the audit log, and checks
    /// that no granted directory reaches trusted state. A Role policy confined to one
    /// namespace becomes the default namespace unless `-n` says otherwise. The connection
    /// to the API server is started ([`Transport::preconnect`]), for the first request.
    pub async fn open(options: SessionOptions) -> anyhow::Result<Self> {
        let policy = load_policy(options.policy.as_deref(), options.no_implicit_discovery)?;
        if policy.kind() == PolicyKind::Unrestricted {
            eprintln!(
                "warning: --policy unrestricted: the guest may do anything the credential can do"
            );
        }
        // What loading a guest needs, none of it the credential: the caches (one key for
        // both: reading it is a handful of system calls per run) and the operator's
        // precompiled guests.
        let cache_root = cache::default_root()?;
        let precompiled = options
            .precompiled
            .as_ref()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(PrecompiledDir::open)
            .transpose()?;
        let cache_key = cache_root.as_ref().and_then(|root| {
            CacheKey::open(root)
                .inspect_err(|e| {
                    tracing::warn!(
                        "not using the cache {root:?} (guests are compiled on every run, discovery answers are not kept): {e:#}"
                    )
                })
                .ok()
        });
        let component_cache = cache_root
            .as_ref()
            .map(|root| ComponentCache::with_key(root, cache_key.clone()));
        // Making the engine and loading the guest take about as long as reading the
        // credential and the TLS handshake; on another CPU they happen meanwhile. The
        // component to load is the guest, or a script's language runtime (the script is
        // staged by `load`); what cannot be told here, `load` finds again and reports. A
        // `.cwasm` given as the guest is native code, loaded only after the check below
        // that no grant reaches it.
        let runtimes = Runtimes::new(options.runtime_dir);
        let preload = options
            .preload
            .clone()
            .filter(|_| !options.allow_precompiled)
            .and_then(|(path, tiered)| {
                let component = match script::classify(&path).ok()? {
                    None => path,
                    Some(language) => runtimes.get().ok()?.component(language).ok()?,
                };
                Some((component, tiered))
            });
        let early = {
            let precompiled = precompiled.clone();
            let cache = component_cache.clone();
            spawn_beside("kubewasm-load", move || {
                let engine = new_engine()?;
                let preloaded = preload.map(|(path, tiered)| {
                    let guest = load_guest_component(
                        &engine,
                        &path,
                        tiered.as_ref(),
                        precompiled.as_ref(),
                        cache.as_ref(),
                        false,
                    );
                    Preloaded {
                        path,
                        tiered,
                        guest,
                    }
                });
                Ok((engine, preloaded))
            })
        };

        let mut credential_options = options.credentials.clone();
        if credential_options.namespace.is_none()
            && let Some([namespace]) = policy.confined_namespaces().as_deref()
        {
            credential_options.namespace = Some(namespace.to_string());
        }
        let credentials = Credentials::load(&credential_options).await?;
        let transport = Arc::new(Transport::new(&credentials)?);
        // The TCP and TLS handshakes proceed while the engine is made and the guest is
        // loaded, rather than after the guest's first request: on another CPU where there
        // is one (above), else on this thread, yielding to the runtime between steps so
        // that it drives the handshakes meanwhile.
        transport.preconnect();
        // Each yield lets the runtime poll the connection once: the TCP connect, then its
        // completion and the ClientHello, before this thread goes on with its own work.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }

        let mut trusted = TrustedPaths::new();
        for file in &credentials.trusted_files {
            trusted.add(file.clone());
        }
        if let Some(root) = &cache_root {
            trusted.add(TrustedPath::new(
                root,
                "the host's cache (compiled code, discovery, its key)",
            ));
        }
        let policy_file = options
            .policy
            .as_deref()
            .filter(|p| *p != "unrestricted")
            .map(PathBuf::from);
        if let Some(path) = &policy_file {
            trusted.add(TrustedPath::new(path, "the policy file"));
        }
        if let Some(path) = options.audit.as_deref().filter(|p| *p != "-") {
            trusted.add(TrustedPath::new(path, "the audit log"));
        }
        if let Some(dir) = &precompiled {
            trusted.add(TrustedPath::new(dir.path(), "the precompiled guests"));
        }
        // Only a grant can reach the runtimes: without one they are found when a script
        // needs them.
        if !options.dirs.is_empty()
            && let Ok(dir) = runtimes.get()
        {
            trusted.add(TrustedPath::new(dir.path(), "the script runtimes"));
        }
        trusted.check_all(&options.dirs)?;

        let discovery = cache_root.as_ref().map(|root| {
            DiscoveryCache::with_key(root, &credentials.identity.server, cache_key.clone())
        });
        let audit = match &options.audit {
            Some(target) => Some(
                AuditLog::open(target)
                    .with_context(|| format!("failed to open the audit log {target:?}"))?,
            ),
            None => None,
        };
        let (engine, preloaded) = match early {
            Some(early) => {
                // Awaited, not joined: the runtime drives the handshakes meanwhile.
                tracing::debug!("waiting for the engine and the guest");
                early.await.map_err(|_| {
                    anyhow::anyhow!("internal error: the thread loading the guest stopped")
                })??
            }
            None => {
                tokio::task::yield_now().await;
                tracing::debug!("making the engine");
                (new_engine()?, None)
            }
        };
        tracing::debug!("engine made");
        tokio::task::yield_now().await;
        Ok(Self {
            policy: Arc::new(policy),
            policy_file,
            credentials,
            transport,
            component_cache,
            discovery,
            precompiled,
            engine,
            audit,
            limits: options.limits,
            dirs: options.dirs,
            env: options.env,
            allow_precompiled: options.allow_precompiled,
            runtimes,
            preloaded: std::sync::Mutex::new(preloaded),
        })
    }

    /// Loads the guest at `path` and resolves its imports. `tiered`: where a guest
    /// neither precompiled nor cached gets its optimized code while a Winch-compiled
    /// first run goes ahead (`None`: compile with Cranelift now and wait).
    pub fn load(&self, path: &Path, tiered: Option<&Optimize>) -> anyhow::Result<Guest> {
        // A script runs in its language's runtime, which finds it as its program name.
        if let Some(language) = script::classify(path)? {
            let runtimes = self.runtimes.get().map_err(|e| {
                anyhow::anyhow!("{}: cannot find the script runtimes: {e}", path.display())
            })?;
            let mut guest = self.load_component(&runtimes.component(language)?, tiered)?;
            let staged = StagedScript::stage(path, &self.dirs)?;
            guest.program = staged.guest_path.clone();
            guest.staged = Some(Arc::new(staged));
            return Ok(guest);
        }
        if self.allow_precompiled {
            // The .cwasm given is native code this host will run: no grant may reach it.
            let mut trusted = TrustedPaths::new();
            trusted.add(TrustedPath::new(path, "the precompiled guest"));
            trusted.check_all(&self.dirs)?;
        }
        self.load_component(path, tiered)
    }

    /// The component at `path`, loaded as [`SessionOptions::preload`] asked if it did.
    fn load_component(&self, path: &Path, tiered: Option<&Optimize>) -> anyhow::Result<Guest> {
        let preloaded = self
            .preloaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(preloaded) = preloaded
            && preloaded.path == path
            && preloaded.tiered.as_ref() == tiered
        {
            return preloaded.guest;
        }
        load_guest_component(
            &self.engine,
            path,
            tiered,
            self.precompiled.as_ref(),
            self.component_cache.as_ref(),
            self.allow_precompiled,
        )
    }

    /// A kubewasm context builder with this session's policy, limits, discovery cache and
    /// audit log; `audit` replaces the log (one that names an MCP call, say).
    pub fn kube(&self, audit: Option<AuditLog>) -> KubeCtxBuilder {
        let mut kube =
            KubeCtxBuilder::new(self.credentials.identity.clone(), self.transport.clone());
        kube.limits(self.limits.clone()).policy(self.policy.clone());
        if let Some(discovery) = &self.discovery {
            kube.discovery_cache(discovery.clone());
        }
        if let Some(audit) = audit.or_else(|| self.audit.clone()) {
            kube.audit(audit);
        }
        kube
    }

    /// A rate limiter made from this session's `--qps` and `--burst`, to share between
    /// the guests of one client.
    pub fn rate_limiter(&self) -> Arc<RateLimiter> {
        Arc::new(RateLimiter::new(self.limits.qps, self.limits.burst))
    }

    /// What `guest` sees when run with `args`: its argument list, `--env`, `--dir` (and
    /// a script its own file). Stdio is inherited until the caller sets pipes.
    pub fn guest_env(&self, guest: &Guest, args: Vec<String>) -> GuestEnv {
        let mut dirs = self.dirs.clone();
        if let Some(grant) = guest.staged.as_ref().and_then(|s| s.grant.clone()) {
            dirs.push(grant);
        }
        GuestEnv {
            args: guest.argv(args),
            env: self.env.clone(),
            dirs,
            ..GuestEnv::default()
        }
    }

    /// The policy guests run under.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The policy file, if the policy came from one.
    pub fn policy_file(&self) -> Option<&Path> {
        self.policy_file.as_deref()
    }

    /// Who the guests act as (what `credentials.describe` tells them).
    pub fn identity(&self) -> &Identity {
        &self.credentials.identity
    }

    /// The session's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The session's audit log, if `--audit` was given.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }
}
