//! The `host` command line: a thin shell over the library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use std::time::Duration;

use crate::cache;
use crate::credentials::{CredentialOptions, ExecPluginPolicy};
use crate::engine::{
    ComponentCache, EngineOptions, Optimize, PrecompiledDir, compile_wasm, new_engine,
    new_engine_with,
};
use crate::limits::{self, Limits};
use crate::mcp::{HttpOptions, McpOptions, McpServer, ScriptTool, serve_http};
use crate::policy::{Decision, RequestInfo};
use crate::runner::{DirGrant, Outcome};
use crate::session::{Session, SessionOptions, load_policy};

/// Run untrusted Kubernetes scripts in a WebAssembly sandbox.
///
/// The host owns the credentials, the TLS connection and the network; the guest gets
/// only a request capability.
#[derive(Debug, Parser)]
#[command(name = "host", version = concat!(env!("CARGO_PKG_VERSION"), " (WIT kubewasm:client@0.1.0)"))]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Only the given subcommand's arguments are built (clap's `defer`): building every
/// subcommand's took 0.24-0.32 ms of each `host run`'s start, and 0.16 ms with this
/// (BENCHMARKS.md (e)). A deferred subcommand's `Args` structs are applied after its
/// variant's doc comment, and theirs would replace it: they have plain comments.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Run a guest component or a script: `host run [HOST-OPTIONS] GUEST.wasm|SCRIPT.py|SCRIPT.js [ARGS...]`.
    ///
    /// Host options come before the component or script; everything after it goes to
    /// the guest. A .py or .js script runs in the host's runtime for its language, with
    /// no build step: it may read its own file, and nothing else unless --dir grants it.
    ///
    /// Examples:
    ///   host run guest.wasm get pods -n kube-system
    ///   host run --policy role.yaml cleanup.py --older-than 60
    ///   host run --server http://127.0.0.1:8001 guest.wasm version
    ///   host run --kubeconfig ./admin.conf --context prod guest.wasm get nodes
    #[command(
        verbatim_doc_comment,
        override_usage = "host run [OPTIONS] <GUEST.wasm|SCRIPT> [GUEST-ARGS]..."
    )]
    Run(Box<RunArgs>),

    /// Serve Kubernetes tools to an AI agent over the Model Context Protocol:
    /// `host mcp [HOST-OPTIONS] [GUEST.wasm]`.
    ///
    /// Speaks MCP on stdin/stdout (an agent starts it), or over streamable HTTP with
    /// --listen. Tools: kubectl, get, describe, logs, api_resources, and each --tool.
    /// Every call runs a fresh guest under the same policy, limits and audit log as
    /// `host run`; with no --policy the tools are read-only. Without GUEST.wasm the
    /// built-in guest is used (guest.wasm beside `host`, the workspace's release build,
    /// or /opt/kubewasm/guest.wasm).
    ///
    /// Examples:
    ///   host mcp --kubeconfig ~/.kube/config --policy reader.yaml --audit agent.jsonl
    ///   host mcp --tool crons=./crons.wasm guest.wasm
    ///   host mcp --listen 127.0.0.1:8808 --token-file ~/.config/kubewasm/mcp-token
    #[command(verbatim_doc_comment)]
    Mcp(Box<McpArgs>),

    /// Inspect access policies.
    #[command(subcommand)]
    Policy(PolicyCommand),

    /// Show what a guest imports and exports, and the RBAC rules it declares it needs.
    Inspect {
        /// The guest component (.wasm).
        #[arg(value_name = "GUEST.wasm")]
        guest: PathBuf,
    },

    /// Compile a guest ahead of time, for the baseline CPU of this architecture (so it
    /// loads on any node): with --out-dir, `host run --precompiled DIR GUEST.wasm` then
    /// starts it without compiling; with -o, `host run --allow-precompiled OUT.cwasm`.
    ///
    /// Example (what the Dockerfile does):
    ///   host compile --out-dir /opt/kubewasm/precompiled /opt/kubewasm/guest.wasm
    #[command(verbatim_doc_comment)]
    Compile {
        /// The guest component (.wasm).
        #[arg(value_name = "GUEST.wasm")]
        guest: PathBuf,
        /// Where to write the compiled component.
        #[arg(
            short,
            long,
            value_name = "OUT.cwasm",
            required_unless_present = "out_dir",
            conflicts_with = "out_dir"
        )]
        output: Option<PathBuf>,
        /// A directory of precompiled guests to add it to, named by the guest's BLAKE3 hash.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },

    /// Compile a guest with the optimizing compiler into the cache (what `host run`
    /// starts in the background after a first run compiled with Winch).
    #[command(hide = true)]
    OptimizeCache {
        /// The guest component (.wasm).
        guest: PathBuf,
    },

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Say whether a policy allows a request, and which rule decides it.
    ///
    /// Exits 0 when allowed, 1 when denied. Examples:
    ///   host policy check --policy role.yaml --method GET --path /api/v1/namespaces/demo/pods
    ///   host policy check --method POST --path /api/v1/namespaces/demo/pods/web-0/exec
    #[command(verbatim_doc_comment)]
    Check {
        /// Role/ClusterRole YAML, or `unrestricted` (default: the read-only default policy).
        #[arg(long, value_name = "FILE")]
        policy: Option<String>,
        /// The HTTP method of the request.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The request's path and query, e.g. `/api/v1/namespaces/demo/pods?watch=true`.
        #[arg(long)]
        path: String,
        /// Check as `host run --no-implicit-discovery` would.
        #[arg(long)]
        no_implicit_discovery: bool,
    },

    /// Print Role/ClusterRole YAML that allows exactly what an audit log shows.
    ///
    /// Example:
    ///   host run --audit audit.jsonl --policy unrestricted guest.wasm get pods
    ///   host policy suggest --audit audit.jsonl > policy.yaml
    #[command(verbatim_doc_comment)]
    Suggest {
        /// An audit log written by `host run --audit FILE`.
        #[arg(long, value_name = "FILE")]
        audit: PathBuf,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    host: HostArgs,

    /// When the guest is neither precompiled nor cached, compile it with the optimizing
    /// compiler (Cranelift) before running it. By default such a first run is compiled
    /// with the baseline compiler (Winch: ~5x faster to compile, slower code) and the
    /// optimized code is made in the background for later runs.
    #[arg(long, env = "KUBEWASM_OPTIMIZE_FIRST_RUN")]
    optimize_first_run: bool,

    /// The guest component (.wasm, or .cwasm with --allow-precompiled) or a script (.py,
    /// .js), then its arguments. Everything after it is the guest's, `--help` included.
    // One positional, not two: with a separate GUEST, an option right after it
    // (`host run x.py --help`) was still taken as the host's.
    #[arg(
        value_names = ["GUEST.wasm|SCRIPT", "GUEST-ARGS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

impl RunArgs {
    /// The guest (or script) and its arguments, taken out of the command line.
    fn take_command(&mut self) -> anyhow::Result<(PathBuf, Vec<String>)> {
        let mut command = std::mem::take(&mut self.command).into_iter();
        // clap requires one value, and a hyphen value is one only because it comes first.
        let guest = command.next().unwrap_or_default();
        if guest.is_empty() || guest.starts_with('-') {
            anyhow::bail!(
                "unknown host option {guest:?}: see `host run --help` for the host's options, which come before the guest; the guest's own options come after it"
            );
        }
        Ok((PathBuf::from(guest), command.collect()))
    }
}

#[derive(Debug, Args)]
struct McpArgs {
    #[command(flatten)]
    host: HostArgs,

    /// Expose a script as a tool of its own: NAME=FILE (a guest component, or a .js or
    /// .py script), with an argument list as input. Repeatable.
    #[arg(long = "tool", value_name = "NAME=FILE", value_parser = ScriptTool::parse)]
    tools: Vec<ScriptTool>,

    /// The longest one tool call may run: then its guest is stopped and the call returns
    /// what it had printed (how `get -w` and `logs -f` end).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    max_call_seconds: u64,

    /// The most of each of stdout and stderr one call returns; the rest is cut.
    #[arg(long, value_name = "SIZE", default_value = "1Mi", value_parser = limits::parse_bytes)]
    max_output_bytes: u64,

    /// Tool calls that run at once; more wait for a turn.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    max_concurrent_calls: u64,

    /// Serve MCP over streamable HTTP at http://ADDR/mcp instead of stdio. ADDR must be
    /// loopback (127.0.0.1:8808) unless --listen-remote; requires --token-file.
    #[arg(long, value_name = "ADDR", requires = "token_file")]
    listen: Option<SocketAddr>,

    /// The bearer token HTTP clients must send (`Authorization: Bearer TOKEN`), read from
    /// FILE (at least 16 characters).
    #[arg(long, value_name = "FILE", requires = "listen")]
    token_file: Option<PathBuf>,

    /// Allow --listen on an address other than loopback (only the token protects it: put
    /// TLS in front).
    #[arg(long, requires = "listen")]
    listen_remote: bool,

    /// The guest the built-in tools run (default: the built-in guest).
    #[arg(value_name = "GUEST.wasm")]
    guest: Option<PathBuf>,
}

// The host options `host run` and `host mcp` share: one struct, so both commands take
// the same flags with the same defaults and mean the same by them.
#[derive(Debug, Args)]
struct HostArgs {
    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    sandbox: SandboxArgs,

    /// Accept a component compiled ahead of time with `host compile` (a .cwasm is native
    /// code: only run files you made with this host).
    #[arg(long)]
    allow_precompiled: bool,

    /// Load guests compiled ahead of time by `host compile --out-dir DIR` from DIR (a
    /// directory only root or this user can change; the image sets it). A guest not
    /// found there is compiled, or taken from the cache, as usual.
    #[arg(long, value_name = "DIR", env = "KUBEWASM_PRECOMPILED_DIR")]
    precompiled: Option<PathBuf>,

    /// Where the script runtimes (python.wasm, js.wasm) are. Default: runtimes/ beside
    /// the host binary.
    #[arg(long, value_name = "DIR", env = "KUBEWASM_RUNTIME_DIR")]
    runtime_dir: Option<PathBuf>,
}

impl HostArgs {
    /// The session these flags describe.
    fn session_options(&self) -> anyhow::Result<SessionOptions> {
        Ok(SessionOptions {
            credentials: self.cluster.options(),
            policy: self.sandbox.policy.clone(),
            no_implicit_discovery: self.sandbox.no_implicit_discovery,
            audit: self.sandbox.audit.clone(),
            limits: self.sandbox.limits()?,
            dirs: self.sandbox.dirs()?,
            env: self.sandbox.env(),
            precompiled: self.precompiled.clone(),
            allow_precompiled: self.allow_precompiled,
            runtime_dir: self.runtime_dir.clone(),
            preload: None,
        })
    }
}

// Where the API server is and which credential to use. With none of these, the host
// looks at $KUBECONFIG, ~/.kube/config, the pod's ServiceAccount, then
// http://localhost:8080.
#[derive(Debug, Args)]
struct ClusterArgs {
    /// Use only this kubeconfig file.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: current-context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,

    /// The API server URL. Alone, a `kubectl proxy` that authenticates for the host (no
    /// credential is sent); with --kubeconfig or --context, overrides the cluster's server.
    #[arg(long, value_name = "URL")]
    server: Option<String>,

    /// Use the pod's ServiceAccount token and CA, ignoring kubeconfig files.
    #[arg(long)]
    in_cluster: bool,

    /// Where the pod's ServiceAccount files (token, ca.crt, namespace) are.
    #[arg(long, value_name = "DIR", default_value = crate::credentials::SERVICE_ACCOUNT_DIR)]
    service_account_dir: PathBuf,

    /// The namespace the guest uses when it names none.
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,

    /// Do not verify the API server's certificate. Anyone on the network path can then
    /// read the credential; for throwaway test clusters only.
    #[arg(long)]
    insecure_skip_tls_verify: bool,

    /// Which exec credential plugins a kubeconfig may make the host run.
    #[arg(long, value_enum, default_value = "allow-all", value_name = "POLICY")]
    exec_plugins: ExecPlugins,

    /// Allow this exec credential plugin (full path or file name); implies
    /// `--exec-plugins allowlist`. Repeatable.
    #[arg(long, value_name = "COMMAND")]
    exec_plugin_allow: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ExecPlugins {
    /// Run any plugin the kubeconfig names (kubectl's default).
    AllowAll,
    /// Run none.
    DenyAll,
    /// Run only those given with --exec-plugin-allow.
    Allowlist,
}

// What the guest may use besides the API capability, and how much.
#[derive(Debug, Args)]
struct SandboxArgs {
    /// Which requests the guest may send: a file of Role/ClusterRole YAML documents
    /// (rules narrow what the credential can do; a Role confines the guest to its
    /// namespace and becomes its default namespace), or `unrestricted`. Default:
    /// get/list/watch on everything except secrets, plus discovery; no writes, no exec,
    /// attach, port-forward or proxy.
    #[arg(long, value_name = "FILE|unrestricted")]
    policy: Option<String>,

    /// Do not add, to a --policy file's rules, GET on the discovery, OpenAPI, version
    /// and health URLs that kube-apiserver grants every authenticated user
    /// (`system:discovery`, `system:public-info-viewer`). Without them the guest cannot
    /// resolve resource names such as `deploy` or custom resources.
    #[arg(long)]
    no_implicit_discovery: bool,

    /// Write one JSON line per guest request to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE")]
    audit: Option<String>,

    /// Most memory the guest may use.
    #[arg(long, value_name = "SIZE", default_value = "256Mi", value_parser = limits::parse_bytes)]
    max_memory: u64,

    /// CPU time the guest may spend in its own code (waiting for the server does not
    /// count); 0 for no limit.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = limits::parse_duration)]
    cpu_limit: Duration,

    /// Wall-clock limit for the whole run (default: none, so watches run until stopped).
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    timeout: Option<Duration>,

    /// Largest body of a non-streaming response (watches and followed logs are not capped).
    #[arg(long, value_name = "SIZE", default_value = "1Gi", value_parser = limits::parse_bytes)]
    max_response_bytes: u64,

    /// Response bodies the guest may hold open at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_streams: usize,

    /// Requests per second the guest may send on average (0 for no limit); requests over
    /// the rate wait, as with client-go.
    #[arg(long, value_name = "N", default_value_t = 50.0)]
    qps: f64,

    /// Requests the guest may send in a burst above --qps. Refused and denied requests
    /// take their turn too, so a flood of them is slowed like any other.
    #[arg(long, value_name = "N", default_value_t = 100)]
    burst: u32,

    /// Largest request body the guest may send (kube-apiserver refuses over 3Mi).
    #[arg(long, value_name = "SIZE", default_value = "3Mi", value_parser = limits::parse_bytes)]
    max_request_body_bytes: u64,

    /// Largest request head: header names and values plus path and query (Go's and
    /// kube-apiserver's limit is 1Mi).
    #[arg(long, value_name = "SIZE", default_value = "1Mi", value_parser = limits::parse_bytes)]
    max_request_header_bytes: u64,

    /// Most headers on one request (kubectl sends fewer than ten).
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_request_headers: usize,

    /// Longest path and query of one request.
    #[arg(long, value_name = "SIZE", default_value = "64Ki", value_parser = limits::parse_bytes)]
    max_path_bytes: u64,

    /// Refused requests (denied, invalid or over a request limit) after which the guest
    /// is stopped (0 for no limit).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_refusals: u64,

    /// Memory the host may hold for the guest beside its own: the request being sent,
    /// and what it may buffer for each response body held open unread.
    #[arg(long, value_name = "SIZE", default_value = "64Mi", value_parser = limits::parse_bytes)]
    max_host_memory: u64,

    /// Give the guest read-only access to a host directory, seen as GUEST (default: the
    /// same path). The guest has no filesystem otherwise.
    #[arg(long, value_name = "HOST[::GUEST]")]
    dir: Vec<String>,

    /// Like --dir, but writable.
    #[arg(long, value_name = "HOST[::GUEST]")]
    dir_rw: Vec<String>,

    /// Set an environment variable in the guest (KEY=VALUE, or KEY to pass the host's
    /// value). The guest sees no host environment otherwise.
    #[arg(long, value_name = "KEY[=VALUE]")]
    env: Vec<String>,
}

impl SandboxArgs {
    fn limits(&self) -> anyhow::Result<Limits> {
        Ok(Limits {
            max_memory: usize::try_from(self.max_memory)
                .context("--max-memory is larger than this machine's address space")?,
            cpu_time: (!self.cpu_limit.is_zero()).then_some(self.cpu_limit),
            wall_time: self.timeout,
            max_response_bytes: self.max_response_bytes,
            max_streams: self.max_streams,
            qps: self.qps,
            burst: self.burst,
            max_request_body_bytes: self.max_request_body_bytes,
            max_request_header_bytes: self.max_request_header_bytes,
            max_request_headers: self.max_request_headers,
            max_path_bytes: self.max_path_bytes,
            max_refusals: self.max_refusals,
            max_host_memory: self.max_host_memory,
        })
    }

    fn dirs(&self) -> anyhow::Result<Vec<DirGrant>> {
        let mut dirs = Vec::new();
        for (specs, writable) in [(&self.dir, false), (&self.dir_rw, true)] {
            for spec in specs {
                let flag = if writable { "--dir-rw" } else { "--dir" };
                dirs.push(
                    DirGrant::parse(spec, writable).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?,
                );
            }
        }
        Ok(dirs)
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|spec| match spec.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (spec.clone(), std::env::var(spec).unwrap_or_default()),
            })
            .collect()
    }
}

impl ClusterArgs {
    fn options(&self) -> CredentialOptions {
        CredentialOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            server: self.server.clone(),
            in_cluster: self.in_cluster,
            service_account_dir: Some(self.service_account_dir.clone()),
            namespace: self.namespace.clone(),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            exec_plugins: match self.exec_plugins {
                _ if !self.exec_plugin_allow.is_empty() => {
                    ExecPluginPolicy::Allowlist(self.exec_plugin_allow.clone())
                }
                ExecPlugins::AllowAll => ExecPluginPolicy::AllowAll,
                ExecPlugins::DenyAll => ExecPluginPolicy::DenyAll,
                ExecPlugins::Allowlist => ExecPluginPolicy::Allowlist(Vec::new()),
            },
        }
    }
}

/// Parses the process arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_tracing();
    // A server runs guests for concurrent calls: give them every core. A single run
    // needs one thread, and starts faster without a pool.
    let mut builder = if matches!(cli.command, Command::Mcp(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(*args).await,
            Command::Mcp(args) => mcp(*args).await,
            Command::Policy(PolicyCommand::Check {
                policy,
                method,
                path,
                no_implicit_discovery,
            }) => policy_check(policy.as_deref(), no_implicit_discovery, &method, &path),
            Command::Policy(PolicyCommand::Suggest { audit }) => {
                let text = std::fs::read_to_string(&audit)
                    .with_context(|| format!("failed to read the audit log {audit:?}"))?;
                emit(&crate::suggest::suggest(&text)?)?;
                Ok(0)
            }
            Command::Inspect { guest } => inspect(&guest),
            Command::Compile {
                guest,
                output,
                out_dir,
            } => compile(&guest, output.as_deref(), out_dir.as_deref()),
            Command::OptimizeCache { guest } => optimize_cache(&guest),
            Command::Completions { shell } => {
                use clap::CommandFactory;
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "host", &mut script);
                emit(&String::from_utf8_lossy(&script))?;
                Ok(0)
            }
        }
    });
    // The process exits next: let the kernel reclaim the runtime's idle blocking threads
    // rather than wake and join each (what dropping the runtime does).
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn policy_check(
    policy: Option<&str>,
    no_implicit_discovery: bool,
    method: &str,
    path: &str,
) -> anyhow::Result<i32> {
    let policy = load_policy(policy, no_implicit_discovery)?;
    let info = RequestInfo::parse(method, path)?;
    let decision = policy.decide(&info);
    let allowed = decision.is_allowed();
    let mut text = match decision {
        Decision::Allow { rule_text, .. } => {
            format!("allow: {}\nby {rule_text}\n", info.describe())
        }
        Decision::Deny { reason, suggestion } => format!("deny: {reason}\n{suggestion}\n"),
    };
    for grant in policy.implicit_grants() {
        text.push_str(&format!(
            "implicit grant in this policy: {}\n",
            grant.describe()
        ));
    }
    emit(&text)?;
    Ok(if allowed { 0 } else { 1 })
}

async fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    let (guest_path, guest_args) = args.take_command()?;
    let tiered = (!args.optimize_first_run).then_some(Optimize::InThisExecutable);
    let options = SessionOptions {
        preload: Some((guest_path.clone(), tiered.clone())),
        ..args.host.session_options()?
    };
    tracing::debug!("opening the session");
    let session = Session::open(options).await?;
    tracing::debug!("session open; loading {guest_path:?}");
    let guest = session.load(&guest_path, tiered.as_ref())?;
    tracing::debug!("guest loaded and linked; running it");
    let guest_env = session.guest_env(&guest, guest_args);
    let outcome = guest
        .prepared()
        .run(&guest_env, session.kube(None).build(), session.limits())
        .await?;
    tracing::debug!("guest finished");
    if let Outcome::Trapped(message) = &outcome {
        eprintln!("error: {message}");
    }
    // The process exits next, and what must happen first has happened: the guest's store
    // is gone (with its audit line for repeated failures), audit records are flushed as
    // they are written, and `exit` flushes stdout. The rest of the teardown (unmapping the
    // compiled code and the engine, closing the connection) is left to the kernel's exit
    // (BENCHMARKS.md (e)).
    guest.release_at_exit();
    std::mem::forget(session);
    Ok(outcome.exit_code())
}

async fn mcp(args: McpArgs) -> anyhow::Result<i32> {
    let options = McpOptions {
        max_call: Duration::from_secs(args.max_call_seconds),
        max_output_bytes: usize::try_from(args.max_output_bytes)
            .context("--max-output-bytes is larger than this machine's address space")?,
        max_concurrent_calls: usize::try_from(args.max_concurrent_calls).unwrap_or(usize::MAX),
    };
    let http = match (&args.listen, &args.token_file) {
        (Some(listen), Some(token_file)) => {
            Some(HttpOptions::new(*listen, token_file, args.listen_remote)?)
        }
        _ => None,
    };
    let session = Session::open(args.host.session_options()?).await?;
    let guest_path = match &args.guest {
        Some(path) => path.clone(),
        None => crate::mcp::find_builtin_guest()?,
    };
    // A server lives on: compile optimized code once now rather than run Winch's.
    let guest = session.load(&guest_path, None)?;
    let mut scripts = Vec::new();
    for tool in args.tools {
        let script = session
            .load(&tool.file, None)
            .with_context(|| format!("--tool {}", tool.name))?;
        scripts.push((tool, script));
    }
    let server = McpServer::new(session, guest, scripts, options)?;
    match http {
        Some(http) => serve_http(server, http).await?,
        None => server.serve_stdio().await?,
    }
    Ok(0)
}

/// Writes the host's own output. A closed pipe (`host ... | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("failed to write to stdout")
        }
        _ => Ok(()),
    }
}

fn inspect(guest: &Path) -> anyhow::Result<i32> {
    let wasm = std::fs::read(guest)
        .with_context(|| format!("failed to read guest component {guest:?}"))?;
    let found =
        crate::inspect::inspect(&wasm).with_context(|| format!("failed to inspect {guest:?}"))?;
    let mut text = String::from("imports:\n");
    for import in &found.imports {
        text.push_str(&format!("  {import}\n"));
    }
    text.push_str("exports:\n");
    for export in &found.exports {
        text.push_str(&format!("  {export}\n"));
    }
    match &found.declared_policy {
        Some(yaml) => text.push_str(&format!(
            "declared policy (section {:?}; --policy decides, not this):\n{yaml}\n",
            crate::inspect::POLICY_SECTION
        )),
        None => text.push_str("declared policy: none\n"),
    }
    text.push_str(&format!(
        "implicit with a --policy file (unless --no-implicit-discovery): GET {} ({})\n",
        crate::policy::rbac::IMPLICIT_DISCOVERY_URLS.join(", "),
        crate::policy::rbac::IMPLICIT_DISCOVERY_SOURCE
    ));
    emit(&text)?;
    Ok(0)
}

fn optimize_cache(guest: &Path) -> anyhow::Result<i32> {
    crate::engine::lower_thread_priority();
    let result = (|| {
        let root = cache::default_root()?.context("no cache directory")?;
        let wasm = std::fs::read(guest)
            .with_context(|| format!("failed to read guest component {guest:?}"))?;
        ComponentCache::new(root).optimize(
            &new_engine()?,
            &crate::engine::winch_engine()?,
            &wasm,
            guest,
        )
    })();
    if let Some(lock) = std::env::var_os("KUBEWASM_OPTIMIZE_LOCK") {
        std::fs::remove_file(lock).ok();
    }
    result.map(|()| 0)
}

fn compile(guest: &Path, output: Option<&Path>, out_dir: Option<&Path>) -> anyhow::Result<i32> {
    let engine = new_engine_with(&EngineOptions {
        baseline_cpu: true,
        ..EngineOptions::default()
    })?;
    let wasm = std::fs::read(guest)
        .with_context(|| format!("failed to read guest component {guest:?}"))?;
    let compiled = compile_wasm(&engine, &wasm, guest)?;
    let output = match (output, out_dir) {
        (Some(output), _) => output.to_path_buf(),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create the directory {dir:?}"))?;
            dir.join(PrecompiledDir::file_name(&wasm))
        }
        (None, None) => anyhow::bail!("give -o OUT.cwasm or --out-dir DIR"),
    };
    std::fs::write(&output, compiled).with_context(|| format!("failed to write {output:?}"))?;
    emit(&format!("{}\n", output.display()))?;
    Ok(0)
}

/// Logs go to stderr, filtered by `KUBEWASM_LOG` (e.g. `debug`); off unless set, so the
/// common path pays nothing for them.
fn init_tracing() {
    let Some(filter) = std::env::var_os("KUBEWASM_LOG") else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::new(filter.to_string_lossy());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_passes_clap_checks() {
        Cli::command().debug_assert();
    }

    #[test]
    fn each_subcommand_help_starts_with_its_own_summary_though_its_arguments_are_deferred() {
        for (command, summary) in [
            (&["run"][..], "Run a guest component or a script"),
            (&["mcp"], "Serve Kubernetes tools to an AI agent"),
            (&["compile"], "Compile a guest ahead of time"),
            (&["inspect"], "Show what a guest imports and exports"),
            (
                &["policy", "check"],
                "Say whether a policy allows a request",
            ),
        ] {
            let argv = ["host"].iter().chain(command).chain(&["--help"]);
            let err = Cli::try_parse_from(argv).expect_err("--help ends parsing");
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
            let help = err.render().to_string();
            assert!(help.starts_with(summary), "{command:?} --help:\n{help}");
        }
    }

    #[test]
    fn completions_include_the_deferred_subcommands_flags() {
        let mut script = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "host",
            &mut script,
        );
        let script = String::from_utf8(script).unwrap();
        for flag in [
            "--kubeconfig",
            "--dir-rw",
            "--max-call-seconds",
            "--out-dir",
        ] {
            assert!(script.contains(flag), "{flag} missing from the completions");
        }
    }
}
