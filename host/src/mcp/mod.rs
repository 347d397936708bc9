//! `host mcp`: the Model Context Protocol server, over stdio or streamable HTTP, built on
//! the official Rust SDK (`rmcp`).
//!
//! An agent gets tools ([`tools`]): `kubectl` (any command line of the built-in guest),
//! typed `get`, `describe`, `logs` and `api_resources`, and the operator's scripts
//! (`--tool NAME=FILE`). Every call runs a fresh guest instance in the same
//! [`Session`] as `host run` would: the same policy, limits and audit log, one shared
//! `--qps` budget, and nothing carried over but the host's caches. So the boundary is the
//! policy, request by request, never a reading of the agent's command line:
//! - a tool's `readOnlyHint`/`destructiveHint` come from [`Policy::effect`](crate::policy::Policy::effect);
//! - a refused request ends the call as a tool error whose text has the reason and the
//!   RBAC rule that would allow it (the guest prints the host's `denied` error);
//! - no tool, resource or prompt shows the credential: an agent learns at most what
//!   `credentials.describe` says (who, which server, which namespace), in the server's
//!   instructions;
//! - every call ends: after `--max-call-seconds` (or the call's own `timeoutSeconds`)
//!   the guest is stopped and the call returns what it had printed; output past
//!   `--max-output-bytes` is cut;
//! - the audit log names the call: each request line has `"mcp": {"tool", "request_id"}`
//!   and each call ends with an `"event": "mcp-call"` line.

mod http;
pub mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

pub use http::{HttpOptions, serve_http};

use crate::audit::{AuditLog, McpCall, McpCallRecord, now_rfc3339};
use crate::credentials::Source;
use crate::limits::{RateLimiter, format_bytes};
use crate::policy::{Effect, PolicyKind};
use crate::runner::Outcome;
use crate::session::{Guest, Session};
use tools::{
    ApiResourcesInput, Bounds, CallOutput, DescribeInput, GetInput, Invocation, KubectlInput,
    LogsInput, ScriptInput,
};

/// How `host mcp` runs tool calls.
#[derive(Clone, Debug)]
pub struct McpOptions {
    /// The longest a call may run (`--max-call-seconds`): then its guest is stopped and
    /// the call returns what it had.
    pub max_call: Duration,
    /// The most of each of stdout and stderr a call returns (`--max-output-bytes`).
    pub max_output_bytes: usize,
    /// Calls that run at once (`--max-concurrent-calls`); more wait their turn.
    pub max_concurrent_calls: usize,
}

impl Default for McpOptions {
    fn default() -> Self {
        Self {
            max_call: Duration::from_secs(30),
            max_output_bytes: 1 << 20,
            max_concurrent_calls: 4,
        }
    }
}

/// A script the operator exposes as a tool (`--tool NAME=FILE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptTool {
    /// The tool's name.
    pub name: String,
    /// The file: a guest component (`.wasm`).
    pub file: PathBuf,
}

impl ScriptTool {
    /// Parses `NAME=FILE`, refusing a name MCP clients would not accept.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, file) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?} is not NAME=FILE"))?;
        if !tools::valid_tool_name(name) {
            return Err(format!(
                "tool name {name:?} must be 1 to 64 letters, digits, '_', '-' or '.'"
            ));
        }
        if file.is_empty() {
            return Err(format!("{spec:?} names no file"));
        }
        Ok(Self {
            name: name.to_string(),
            file: PathBuf::from(file),
        })
    }
}

/// What a tool runs.
enum Action {
    Kubectl,
    Get,
    Describe,
    Logs,
    ApiResources,
    Script(Guest),
}

struct ToolEntry {
    tool: Tool,
    action: Action,
}

struct Inner {
    session: Session,
    guest: Guest,
    tools: Vec<ToolEntry>,
    options: McpOptions,
    calls: tokio::sync::Semaphore,
    rate: Arc<RateLimiter>,
    instructions: String,
}

/// The MCP server: cheap to clone (the streamable HTTP transport makes one per session).
#[derive(Clone)]
pub struct McpServer {
    inner: Arc<Inner>,
}

/// Names the built-in tools take, which `--tool` may not reuse.
pub const BUILT_IN_TOOLS: &[&str] = &["kubectl", "get", "describe", "logs", "api_resources"];

impl McpServer {
    /// A server whose built-in tools run `guest` and whose `scripts` are tools of their
    /// own, all in `session`.
    pub fn new(
        session: Session,
        guest: Guest,
        scripts: Vec<(ScriptTool, Guest)>,
        options: McpOptions,
    ) -> anyhow::Result<Self> {
        let effect = session.policy().effect();
        let policy_text = policy_summary(&session, effect);
        let mut tools = vec![
            ToolEntry {
                tool: tools::command_tool(
                    "kubectl",
                    "kubectl (sandboxed)",
                    format!(
                        "Run a kubectl command line in a sandbox that holds no credential. \
                         Commands: get (also --raw /PATH, -w), logs, api-resources, version, \
                         create -f -, apply -f -, delete, patch; give manifests as stdin. \
                         There is no config, exec, cp, proxy, port-forward or attach. {policy_text}"
                    ),
                    tools::input_schema::<KubectlInput>(),
                    effect,
                ),
                action: Action::Kubectl,
            },
            ToolEntry {
                tool: tools::read_tool(
                    "get",
                    "Get or list objects",
                    format!(
                        "List objects of a type, or get one by name, as a table or as \
                         json/yaml/name. With watch, print changes until the call's time is \
                         up. {policy_text}"
                    ),
                    tools::input_schema::<GetInput>(),
                ),
                action: Action::Get,
            },
            ToolEntry {
                tool: tools::read_tool(
                    "describe",
                    "Show one object",
                    format!(
                        "Show one object whole (spec, status, metadata) as YAML or JSON. \
                         {policy_text}"
                    ),
                    tools::input_schema::<DescribeInput>(),
                ),
                action: Action::Describe,
            },
            ToolEntry {
                tool: tools::read_tool(
                    "logs",
                    "Container logs",
                    format!(
                        "Read a container's log: the last lines (tailLines, default {}), \
                         newer than since, at most limitBytes; with follow, until the call's \
                         time is up. {policy_text}",
                        tools::DEFAULT_TAIL_LINES
                    ),
                    tools::input_schema::<LogsInput>(),
                ),
                action: Action::Logs,
            },
            ToolEntry {
                tool: tools::read_tool(
                    "api_resources",
                    "Resource types",
                    "List the resource types the API server serves: name, short names, \
                     group/version, namespaced, kind."
                        .to_string(),
                    tools::input_schema::<ApiResourcesInput>(),
                ),
                action: Action::ApiResources,
            },
        ];
        for (script, guest) in scripts {
            if BUILT_IN_TOOLS.contains(&script.name.as_str())
                || tools.iter().any(|t| t.tool.name == script.name)
            {
                anyhow::bail!("--tool {}: a tool of that name exists already", script.name);
            }
            let file = script
                .file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            tools.push(ToolEntry {
                tool: tools::command_tool(
                    script.name.clone(),
                    &script.name,
                    format!(
                        "Run the operator's script {file} with these arguments, in the same \
                         sandbox. {policy_text}"
                    ),
                    tools::input_schema::<ScriptInput>(),
                    effect,
                ),
                action: Action::Script(guest),
            });
        }
        let instructions = instructions(&session, &policy_text, &options);
        Ok(Self {
            inner: Arc::new(Inner {
                rate: session.rate_limiter(),
                calls: tokio::sync::Semaphore::new(options.max_concurrent_calls.max(1)),
                session,
                guest,
                tools,
                options,
                instructions,
            }),
        })
    }

    /// Serves MCP on this process's stdin and stdout until the client closes them.
    pub async fn serve_stdio(self) -> anyhow::Result<()> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| anyhow::anyhow!("the MCP client's initialization failed: {e}"))?;
        running
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("the MCP server stopped: {e}"))?;
        Ok(())
    }

    /// Runs one tool call: builds the guest's command line, runs a fresh instance with
    /// captured output under the call's deadline, and audits the call.
    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let start = Instant::now();
        let inner = &self.inner;
        let name = request.name.to_string();
        let arguments = request.arguments.clone().map(serde_json::Value::Object);
        let call = McpCall {
            tool: name.clone(),
            request_id: serde_json::to_value(&context.id).unwrap_or_default(),
        };
        let audit = inner.session.audit().map(|log| log.for_call(call.clone()));
        let result = match self.invocation(&name, request.arguments) {
            Err(message) => Err(message),
            Ok((invocation, guest)) => {
                Ok(self.run(invocation, guest, audit.clone(), &context).await)
            }
        };
        let (output, result) = match result {
            Ok(output) => {
                let result = output.to_result();
                (Some(output), result)
            }
            Err(message) => (
                None,
                CallToolResult::error(vec![ContentBlock::text(message)]),
            ),
        };
        if let Some(log) = inner.session.audit() {
            log.record_call(&McpCallRecord {
                time: now_rfc3339(),
                event: "mcp-call",
                mcp: call,
                arguments: audited_arguments(arguments.as_ref()),
                exit_code: output.as_ref().and_then(|o| o.exit_code),
                stopped: match &output {
                    Some(o) => o.stopped.clone(),
                    None => Some("refused: invalid arguments".to_string()),
                },
                duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
        result
    }

    /// The guest command line for a call of tool `name`, and the guest that runs it.
    fn invocation(
        &self,
        name: &str,
        arguments: Option<rmcp::model::JsonObject>,
    ) -> Result<(Invocation, &Guest), String> {
        let inner = &self.inner;
        let entry = inner
            .tools
            .iter()
            .find(|t| t.tool.name == name)
            .ok_or_else(|| format!("there is no tool named {name:?}"))?;
        let bounds = Bounds {
            max_output_bytes: inner.options.max_output_bytes as u64,
        };
        let builtin = &inner.guest;
        Ok(match &entry.action {
            Action::Kubectl => (
                tools::parse::<KubectlInput>(name, arguments)?.invocation()?,
                builtin,
            ),
            Action::Get => (
                tools::parse::<GetInput>(name, arguments)?.invocation()?,
                builtin,
            ),
            Action::Describe => (
                tools::parse::<DescribeInput>(name, arguments)?.invocation()?,
                builtin,
            ),
            Action::Logs => (
                tools::parse::<LogsInput>(name, arguments)?.invocation(bounds)?,
                builtin,
            ),
            Action::ApiResources => (
                tools::parse::<ApiResourcesInput>(name, arguments)?.invocation()?,
                builtin,
            ),
            Action::Script(guest) => (
                tools::parse::<ScriptInput>(name, arguments)?.invocation(),
                guest,
            ),
        })
    }

    /// Runs a fresh instance of `guest` for one call.
    async fn run(
        &self,
        invocation: Invocation,
        guest: &Guest,
        audit: Option<AuditLog>,
        context: &RequestContext<RoleServer>,
    ) -> CallOutput {
        let inner = &self.inner;
        let max_call = inner.options.max_call;
        let deadline = match invocation.timeout_seconds {
            Some(secs) => Duration::from_secs(secs).min(max_call),
            None => max_call,
        };
        // Waiting for a turn is not the call's time: the deadline starts with the guest.
        let Ok(_turn) = inner.calls.acquire().await else {
            return CallOutput::stopped("the server is shutting down");
        };
        let stdout = MemoryOutputPipe::new(inner.options.max_output_bytes);
        let stderr = MemoryOutputPipe::new(inner.options.max_output_bytes);
        let mut guest_env = inner.session.guest_env(guest, invocation.args);
        guest_env.stdin = Some(MemoryInputPipe::new(invocation.stdin.unwrap_or_default()));
        guest_env.stdout = Some(stdout.clone());
        guest_env.stderr = Some(stderr.clone());
        let mut kube = inner.session.kube(audit);
        kube.rate_limiter(inner.rate.clone());
        let run = guest
            .prepared()
            .run(&guest_env, kube.build(), inner.session.limits());
        // Dropping the run drops the guest's store: the instance ends where it is, and
        // its open response bodies write their audit lines as they are dropped.
        let (exit_code, mut stopped) = tokio::select! {
            outcome = tokio::time::timeout(deadline, run) => match outcome {
                Ok(Ok(Outcome::Exited(code))) => (Some(code), None),
                Ok(Ok(Outcome::Trapped(message))) => (None, Some(message)),
                Ok(Err(e)) => (None, Some(format!("the guest could not start: {e:#}"))),
                Err(_) => (None, Some(format!(
                    "stopped after {}s{}: the output is what the command printed until then",
                    deadline.as_secs_f64(),
                    if deadline == max_call { " (--max-call-seconds)" } else { " (timeoutSeconds)" },
                ))),
            },
            () = context.ct.cancelled() => (None, Some("cancelled by the client".to_string())),
        };
        let stdout = stdout.contents();
        let stderr = stderr.contents();
        if stopped.is_none()
            && (stdout.len() >= inner.options.max_output_bytes
                || stderr.len() >= inner.options.max_output_bytes)
        {
            stopped = Some(format!(
                "the output was cut at {} (--max-output-bytes)",
                format_bytes(inner.options.max_output_bytes as u64)
            ));
        }
        CallOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            exit_code,
            stopped,
        }
    }
}

impl CallOutput {
    fn stopped(why: &str) -> Self {
        CallOutput {
            stdout: String::new(),
            stderr: String::new(),
            exit_code: None,
            stopped: Some(why.to_string()),
        }
    }

    /// The MCP result: text blocks for the agent (stdout; stderr; how it ended) and the
    /// same as structured content. An error when the command failed or the sandbox
    /// stopped it; not when only its time was up or its output cut, which is how a watch
    /// or a followed log ends.
    fn to_result(&self) -> CallToolResult {
        let mut content = Vec::new();
        if !self.stdout.is_empty() {
            content.push(ContentBlock::text(self.stdout.clone()));
        }
        if !self.stderr.is_empty() {
            content.push(ContentBlock::text(format!("stderr:\n{}", self.stderr)));
        }
        match (self.exit_code, &self.stopped) {
            (_, Some(why)) => content.push(ContentBlock::text(format!("stopped: {why}"))),
            (Some(code), None) if code != 0 => {
                content.push(ContentBlock::text(format!("exit code {code}")))
            }
            _ => {}
        }
        if content.is_empty() {
            content.push(ContentBlock::text("(no output)"));
        }
        let ended_on_time = self.exit_code.is_none()
            && self
                .stopped
                .as_deref()
                .is_some_and(|s| s.starts_with("stopped after"));
        let failed = match self.exit_code {
            Some(code) => code != 0,
            None => !ended_on_time,
        };
        let mut result = if failed {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        };
        result.structured_content = serde_json::to_value(self).ok();
        result
    }
}

/// The call's arguments for the audit line, cut at 4096 bytes.
fn audited_arguments(arguments: Option<&serde_json::Value>) -> String {
    const MAX: usize = 4096;
    let text = arguments
        .map(|a| a.to_string())
        .unwrap_or_else(|| "{}".to_string());
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
        None => text,
    }
}

/// One sentence on what the policy allows, for tool descriptions.
fn policy_summary(session: &Session, effect: Effect) -> String {
    let policy = session.policy();
    let scope = match policy.confined_namespaces() {
        Some(namespaces) if !namespaces.is_empty() => {
            format!(" in namespace {}", namespaces.join(", "))
        }
        _ => String::new(),
    };
    let what = match (policy.kind(), effect) {
        (PolicyKind::DefaultReadOnly, _) => {
            "read-only (get, list, watch on everything but secrets; no exec, attach, \
             port-forward or proxy)"
                .to_string()
        }
        (PolicyKind::Unrestricted, _) => "unrestricted: anything the credential may do".to_string(),
        (PolicyKind::Rules, Effect::ReadOnly) => {
            format!("the operator's RBAC rules{scope}, read-only")
        }
        (PolicyKind::Rules, Effect::Additive) => {
            format!("the operator's RBAC rules{scope}, which allow creating objects")
        }
        (PolicyKind::Rules, Effect::Destructive) => {
            format!("the operator's RBAC rules{scope}, which allow changing or deleting objects")
        }
    };
    format!(
        "The host decides every API request by its policy: {what}. A refused request fails \
         with the reason and the RBAC rule that would allow it."
    )
}

/// The server's instructions: who the tools act as (what `credentials.describe` says, no
/// more), the policy, and the limits of a call.
fn instructions(session: &Session, policy_text: &str, options: &McpOptions) -> String {
    let id = session.identity();
    let source = match id.source {
        Source::Kubeconfig => "a kubeconfig",
        Source::InCluster => "a pod's ServiceAccount",
        Source::Proxy => "a kubectl proxy",
        Source::Anonymous => "no credential",
    };
    let user = id
        .user
        .as_deref()
        .map(|u| format!(" as {u}"))
        .unwrap_or_default();
    format!(
        "Kubernetes tools for the API server {server}{user} (through {source}), default \
         namespace {namespace}. The credential stays in the host; no tool shows it. \
         {policy_text} Every call runs in a fresh sandbox and ends within {secs}s, returning \
         what it printed by then (at most {bytes} per stream).",
        server = id.server,
        namespace = id.namespace,
        secs = options.max_call.as_secs(),
        bytes = format_bytes(options.max_output_bytes as u64),
    )
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::from_build_env();
        implementation.name = "kubewasm".to_string();
        implementation.version = env!("CARGO_PKG_VERSION").to_string();
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions(self.inner.instructions.clone());
        config.server_info = implementation;
        config
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.inner.tools.iter().map(|t| t.tool.clone()).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner
            .tools
            .iter()
            .find(|t| t.tool.name == name)
            .map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.get_tool(&request.name).is_none() {
            return Err(ErrorData::invalid_params(
                format!("there is no tool named {:?}", request.name),
                None,
            ));
        }
        Ok(self.call(request, context).await.into())
    }
}

/// Where `host mcp` finds the built-in guest when none is given: `guest.wasm` beside the
/// `host` executable (an install), the workspace's release build next to a `host` in
/// `target/<profile>/` (`cargo build --release --target wasm32-wasip2 -p
/// kubewasm-guest`), then the image's `/opt/kubewasm/guest.wasm`.
pub fn builtin_guest_candidates(exe: &Path) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = exe.parent() {
        candidates.push(dir.join("guest.wasm"));
        if let Some(target) = dir.parent() {
            candidates.push(target.join("wasm32-wasip2/release/guest.wasm"));
        }
    }
    candidates.push(PathBuf::from("/opt/kubewasm/guest.wasm"));
    candidates
}

/// The first of [`builtin_guest_candidates`] that exists, or an error listing where it
/// looked and how to build it.
pub fn find_builtin_guest() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().unwrap_or_default();
    let candidates = builtin_guest_candidates(&exe);
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|p| format!("{p:?}")).collect();
            anyhow::anyhow!(
                "no GUEST.wasm given and no built-in guest found (looked at {}); pass the \
                 guest, or build it with `cargo build --release --target wasm32-wasip2 -p \
                 kubewasm-guest`",
                looked.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tools_are_name_equals_file() {
        assert_eq!(
            ScriptTool::parse("list-crons=./crons.wasm").unwrap(),
            ScriptTool {
                name: "list-crons".into(),
                file: "./crons.wasm".into()
            }
        );
        assert!(
            ScriptTool::parse("crons.wasm")
                .unwrap_err()
                .contains("NAME=FILE")
        );
        assert!(
            ScriptTool::parse("bad name=x.wasm")
                .unwrap_err()
                .contains("letters")
        );
        assert!(ScriptTool::parse("x=").unwrap_err().contains("no file"));
    }

    #[test]
    fn builtin_guest_is_looked_for_beside_the_host_and_in_the_workspace_build() {
        let candidates = builtin_guest_candidates(Path::new("/w/target/debug/host"));
        assert_eq!(
            candidates,
            [
                PathBuf::from("/w/target/debug/guest.wasm"),
                PathBuf::from("/w/target/wasm32-wasip2/release/guest.wasm"),
                PathBuf::from("/opt/kubewasm/guest.wasm"),
            ]
        );
    }

    #[test]
    fn a_call_stopped_on_time_is_not_an_error_but_a_failure_or_trap_is() {
        let output = |exit_code, stopped: Option<&str>| CallOutput {
            stdout: "out".into(),
            stderr: String::new(),
            exit_code,
            stopped: stopped.map(String::from),
        };
        let is_error = |o: CallOutput| o.to_result().is_error;
        assert_eq!(is_error(output(Some(0), None)), Some(false));
        assert_eq!(is_error(output(Some(1), None)), Some(true));
        assert_eq!(
            is_error(output(None, Some("stopped after 2s (timeoutSeconds): ..."))),
            Some(false)
        );
        assert_eq!(
            is_error(output(None, Some("the guest trapped: unreachable"))),
            Some(true)
        );
        let result = output(Some(1), None).to_result();
        assert_eq!(result.structured_content.unwrap()["exitCode"], 1);
    }
}
