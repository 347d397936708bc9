//! The tools `host mcp` offers: their typed inputs, the guest command line each call
//! becomes, and the annotations the policy allows them.
//!
//! Typed tools only build argument lists for the built-in guest; they decide nothing.
//! What a call may do is decided request by request by the policy, as for `host run`.
//! Values an agent fills in go to the guest as `--flag=VALUE` or as a positional that
//! may not start with `-`, so no field can smuggle in a flag of its own.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::policy::Effect;

/// The most lines `logs` asks for, and the default.
pub const MAX_TAIL_LINES: u64 = 10_000;
/// `logs` without `tailLines`: the last this many lines.
pub const DEFAULT_TAIL_LINES: u64 = 200;

/// `kubectl`: any command line of the built-in guest.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubectlInput {
    /// The arguments after `kubectl`, one per item, e.g. ["get", "pods", "-n", "demo"].
    /// Commands: get (incl. --raw /PATH and -w), logs, api-resources, version, create -f -,
    /// apply -f -, delete, patch. There is no config, exec, cp, proxy, port-forward or
    /// attach: this client has no credential to show and no shell to open.
    pub args: Vec<String>,
    /// Text the command reads on standard input (`apply -f -`, `create -f -`).
    #[serde(default)]
    pub stdin: Option<String>,
    /// Stop after this many seconds and return what was printed (for -w and logs -f);
    /// at most the server's per-call limit, which is also the default.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// `get`: list objects of a type, or get one.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetInput {
    /// The type: plural, singular, kind or short name, optionally TYPE.GROUP (pods, deploy,
    /// crontabs.stable.example.com); several may be comma-separated.
    pub resource: String,
    /// One object's name; omit it to list.
    #[serde(default)]
    pub name: Option<String>,
    /// The namespace (default: the server's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// List across all namespaces.
    #[serde(default)]
    pub all_namespaces: bool,
    /// Only objects whose labels match, e.g. "app=web,tier in (a,b)".
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Only objects whose fields match, e.g. "status.phase=Running".
    #[serde(default)]
    pub field_selector: Option<String>,
    /// How to print the result (default: the server's table).
    #[serde(default)]
    pub output: Option<GetOutput>,
    /// After listing, print changes until timeoutSeconds (or the per-call limit) ends
    /// the call.
    #[serde(default)]
    pub watch: bool,
    /// With watch: how many seconds to watch (at most the per-call limit, the default).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// `get`'s output formats.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GetOutput {
    /// The server's table (the default).
    Table,
    /// The table with more columns.
    Wide,
    /// The objects as JSON.
    Json,
    /// The objects as YAML.
    Yaml,
    /// TYPE/NAME, one a line.
    Name,
}

/// `describe`: one object, whole.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DescribeInput {
    /// The type, as for get (pods, deploy, ...).
    pub resource: String,
    /// The object's name.
    pub name: String,
    /// The namespace (default: the server's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// yaml (the default) or json.
    #[serde(default)]
    pub format: Option<ObjectFormat>,
}

/// `describe`'s formats.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectFormat {
    /// YAML (the default).
    Yaml,
    /// JSON.
    Json,
}

/// `logs`: a container's log, bounded.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogsInput {
    /// The pod's name.
    pub pod: String,
    /// The namespace (default: the server's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container (default: the pod's default container, or its only one).
    #[serde(default)]
    pub container: Option<String>,
    /// Only the last N lines (default 200, at most 10000).
    #[serde(default)]
    pub tail_lines: Option<u64>,
    /// Only lines newer than this duration, e.g. "5m", "1h".
    #[serde(default)]
    pub since: Option<String>,
    /// Stop after this many bytes (default and most: the server's output limit).
    #[serde(default)]
    pub limit_bytes: Option<u64>,
    /// The previous, terminated container's log.
    #[serde(default)]
    pub previous: bool,
    /// Prefix each line with its timestamp.
    #[serde(default)]
    pub timestamps: bool,
    /// Keep printing new lines until timeoutSeconds (or the per-call limit) ends the call.
    #[serde(default)]
    pub follow: bool,
    /// With follow: how many seconds to follow (at most the per-call limit, the default).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// `api_resources`: the types the server knows.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiResourcesInput {
    /// Only this API group ("" for the core group).
    #[serde(default)]
    pub api_group: Option<String>,
    /// Only namespaced (true) or cluster-scoped (false) types.
    #[serde(default)]
    pub namespaced: Option<bool>,
    /// Add the verbs and categories of each type.
    #[serde(default)]
    pub wide: bool,
}

/// A script tool (`--tool NAME=FILE`): its arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScriptInput {
    /// The script's arguments, one per item.
    #[serde(default)]
    pub args: Vec<String>,
    /// Text the script reads on standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Stop after this many seconds and return what was printed; at most the server's
    /// per-call limit, which is also the default.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// What every tool returns, as structured content (the text content says the same).
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CallOutput {
    /// What the command printed on standard output.
    pub stdout: String,
    /// What it printed on standard error: errors, and for a refused request the reason and
    /// the RBAC rule that would allow it.
    pub stderr: String,
    /// The exit code (0 for success); null when the call was stopped before it exited.
    pub exit_code: Option<i32>,
    /// Why the call ended before the command did (its time was up, its output too large,
    /// a limit of the sandbox), or null.
    pub stopped: Option<String>,
}

/// A guest command line, and what else the call needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The arguments after the program name.
    pub args: Vec<String>,
    /// Standard input, if any.
    pub stdin: Option<String>,
    /// The call's own time limit, if it asked for one.
    pub timeout_seconds: Option<u64>,
}

/// Limits a typed tool needs to build its command line.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// The most output a call returns per stream (`--max-output-bytes`).
    pub max_output_bytes: u64,
}

/// Parses a tool's arguments into its input type; a wrong shape is a message for the
/// agent naming what is wrong.
pub fn parse<T: for<'de> Deserialize<'de>>(
    tool: &str,
    arguments: Option<JsonObject>,
) -> Result<T, String> {
    let value = serde_json::Value::Object(arguments.unwrap_or_default());
    serde_json::from_value(value).map_err(|e| format!("invalid arguments for {tool}: {e}"))
}

impl KubectlInput {
    /// The guest command line: the arguments as given.
    pub fn invocation(self) -> Result<Invocation, String> {
        Ok(Invocation {
            args: self.args,
            stdin: self.stdin,
            timeout_seconds: self.timeout_seconds,
        })
    }
}

impl ScriptInput {
    /// The script's command line: the arguments as given.
    pub fn invocation(self) -> Invocation {
        Invocation {
            args: self.args,
            stdin: self.stdin,
            timeout_seconds: self.timeout_seconds,
        }
    }
}

/// A value that goes to the guest as a positional argument: not empty, not a flag.
fn positional(field: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.starts_with('-') {
        return Err(format!("{field} must not start with '-' (got {value:?})"));
    }
    Ok(value.to_string())
}

/// `--flag=VALUE` for an optional, non-empty value: joined, so VALUE is never read as a
/// flag.
fn flag(
    args: &mut Vec<String>,
    name: &str,
    field: &str,
    value: Option<&str>,
) -> Result<(), String> {
    match value {
        None => Ok(()),
        Some("") => Err(format!("{field} must not be empty (omit it instead)")),
        Some(value) => {
            args.push(format!("--{name}={value}"));
            Ok(())
        }
    }
}

impl GetInput {
    /// `get TYPE [NAME] [--namespace=NS | --all-namespaces] [--selector=...]
    /// [--field-selector=...] [--output=...] [--watch]`.
    pub fn invocation(self) -> Result<Invocation, String> {
        let mut args = vec!["get".to_string(), positional("resource", &self.resource)?];
        if let Some(name) = &self.name {
            args.push(positional("name", name)?);
        }
        if self.all_namespaces {
            if self.namespace.is_some() || self.name.is_some() {
                return Err(
                    "allNamespaces lists every namespace: give neither namespace nor name with it"
                        .into(),
                );
            }
            args.push("--all-namespaces".into());
        }
        flag(
            &mut args,
            "namespace",
            "namespace",
            self.namespace.as_deref(),
        )?;
        flag(
            &mut args,
            "selector",
            "labelSelector",
            self.label_selector.as_deref(),
        )?;
        flag(
            &mut args,
            "field-selector",
            "fieldSelector",
            self.field_selector.as_deref(),
        )?;
        let output = match self.output {
            None | Some(GetOutput::Table) => None,
            Some(GetOutput::Wide) => Some("wide"),
            Some(GetOutput::Json) => Some("json"),
            Some(GetOutput::Yaml) => Some("yaml"),
            Some(GetOutput::Name) => Some("name"),
        };
        flag(&mut args, "output", "output", output)?;
        if self.watch {
            args.push("--watch".into());
        } else if self.timeout_seconds.is_some() {
            return Err("timeoutSeconds is for watch: a get without it ends by itself".into());
        }
        Ok(Invocation {
            args,
            stdin: None,
            timeout_seconds: self.timeout_seconds,
        })
    }
}

impl DescribeInput {
    /// `get TYPE NAME [--namespace=NS] --output=yaml|json`.
    pub fn invocation(self) -> Result<Invocation, String> {
        let mut args = vec![
            "get".to_string(),
            positional("resource", &self.resource)?,
            positional("name", &self.name)?,
        ];
        flag(
            &mut args,
            "namespace",
            "namespace",
            self.namespace.as_deref(),
        )?;
        let format = match self.format {
            None | Some(ObjectFormat::Yaml) => "yaml",
            Some(ObjectFormat::Json) => "json",
        };
        args.push(format!("--output={format}"));
        Ok(Invocation {
            args,
            ..Invocation::default()
        })
    }
}

impl LogsInput {
    /// `logs POD [--namespace=NS] [--container=C] --tail=N [--since=D] --limit-bytes=N
    /// [--previous] [--timestamps] [--follow]`: always bounded by lines and bytes.
    pub fn invocation(self, bounds: Bounds) -> Result<Invocation, String> {
        let mut args = vec!["logs".to_string(), positional("pod", &self.pod)?];
        flag(
            &mut args,
            "namespace",
            "namespace",
            self.namespace.as_deref(),
        )?;
        flag(
            &mut args,
            "container",
            "container",
            self.container.as_deref(),
        )?;
        let tail = self.tail_lines.unwrap_or(DEFAULT_TAIL_LINES);
        if tail == 0 || tail > MAX_TAIL_LINES {
            return Err(format!(
                "tailLines must be 1 to {MAX_TAIL_LINES} (got {tail})"
            ));
        }
        args.push(format!("--tail={tail}"));
        flag(&mut args, "since", "since", self.since.as_deref())?;
        let bytes = self.limit_bytes.unwrap_or(bounds.max_output_bytes);
        if bytes == 0 || bytes > bounds.max_output_bytes {
            return Err(format!(
                "limitBytes must be 1 to {} (the server's --max-output-bytes; got {bytes})",
                bounds.max_output_bytes
            ));
        }
        args.push(format!("--limit-bytes={bytes}"));
        if self.previous {
            args.push("--previous".into());
        }
        if self.timestamps {
            args.push("--timestamps".into());
        }
        if self.follow {
            args.push("--follow".into());
        } else if self.timeout_seconds.is_some() {
            return Err("timeoutSeconds is for follow: a log without it ends by itself".into());
        }
        Ok(Invocation {
            args,
            stdin: None,
            timeout_seconds: self.timeout_seconds,
        })
    }
}

impl ApiResourcesInput {
    /// `api-resources [--api-group=G] [--namespaced=BOOL] [--output=wide]`.
    pub fn invocation(self) -> Result<Invocation, String> {
        let mut args = vec!["api-resources".to_string()];
        if let Some(group) = &self.api_group {
            // "" is the core group, which the guest takes as `--api-group=`.
            args.push(format!("--api-group={group}"));
        }
        if let Some(namespaced) = self.namespaced {
            args.push(format!("--namespaced={namespaced}"));
        }
        if self.wide {
            args.push("--output=wide".into());
        }
        Ok(Invocation {
            args,
            ..Invocation::default()
        })
    }
}

/// The JSON schema of `T` as an MCP tool schema: draft 2020-12, an object, without the
/// root's title (the Rust type's name is noise to an agent).
pub fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    schema_object::<T>(schemars::generate::SchemaSettings::draft2020_12())
}

/// The schema of what `T` serializes to, for `outputSchema`.
pub fn output_schema<T: JsonSchema>() -> Arc<JsonObject> {
    schema_object::<T>(schemars::generate::SchemaSettings::draft2020_12().for_serialize())
}

fn schema_object<T: JsonSchema>(settings: schemars::generate::SchemaSettings) -> Arc<JsonObject> {
    let schema = settings.into_generator().into_root_schema_for::<T>();
    match serde_json::to_value(schema) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.remove("title");
            Arc::new(object)
        }
        // Every input type here is a struct, whose schema is an object.
        _ => Arc::new(JsonObject::new()),
    }
}

/// A tool that only reads: `get`, `describe`, `logs`, `api_resources` send nothing but
/// GETs of resources, whatever the policy.
pub fn read_tool(
    name: &'static str,
    title: &str,
    description: String,
    schema: Arc<JsonObject>,
) -> Tool {
    let mut tool = Tool::new(name, description, schema);
    tool.output_schema = Some(output_schema::<CallOutput>());
    tool.annotations = Some(
        ToolAnnotations::with_title(title)
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    );
    tool
}

/// A tool that runs whatever command line it is given (`kubectl`, a script): it can do
/// what the policy allows, and its hints say exactly that.
pub fn command_tool(
    name: impl Into<Cow<'static, str>>,
    title: &str,
    description: String,
    schema: Arc<JsonObject>,
    effect: Effect,
) -> Tool {
    let mut tool = Tool::new(name, description, schema);
    tool.output_schema = Some(output_schema::<CallOutput>());
    tool.annotations = Some(
        ToolAnnotations::with_title(title)
            .read_only(effect == Effect::ReadOnly)
            .destructive(effect == Effect::Destructive)
            .open_world(false),
    );
    tool
}

/// Whether `name` can be a tool's name: 1 to 64 of `A-Z a-z 0-9 _ - .` (what MCP clients
/// accept everywhere).
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(inv: Result<Invocation, String>) -> Vec<String> {
        inv.unwrap().args
    }

    fn object(value: serde_json::Value) -> Option<JsonObject> {
        match value {
            serde_json::Value::Object(o) => Some(o),
            _ => None,
        }
    }

    const BOUNDS: Bounds = Bounds {
        max_output_bytes: 1 << 20,
    };

    #[test]
    fn get_builds_joined_flags_so_values_are_never_flags() {
        let input: GetInput = parse(
            "get",
            object(json!({
                "resource": "pods", "namespace": "demo", "labelSelector": "app=web",
                "fieldSelector": "status.phase=Running", "output": "wide"
            })),
        )
        .unwrap();
        assert_eq!(
            args(input.invocation()),
            [
                "get",
                "pods",
                "--namespace=demo",
                "--selector=app=web",
                "--field-selector=status.phase=Running",
                "--output=wide"
            ]
        );
        let sneaky: GetInput = parse(
            "get",
            object(json!({"resource": "pods", "namespace": "--raw=/api/v1/secrets"})),
        )
        .unwrap();
        assert_eq!(
            args(sneaky.invocation()),
            ["get", "pods", "--namespace=--raw=/api/v1/secrets"]
        );
    }

    #[test]
    fn get_refuses_a_flag_as_resource_or_name() {
        for (field, value) in [("resource", "--raw"), ("name", "-A")] {
            let mut input = json!({"resource": "pods"});
            input[field] = json!(value);
            let input: GetInput = parse("get", object(input)).unwrap();
            let err = input.invocation().unwrap_err();
            assert!(err.contains(field) && err.contains("'-'"), "{err}");
        }
    }

    #[test]
    fn unknown_or_mistyped_arguments_are_refused_with_their_name() {
        let err = parse::<GetInput>("get", object(json!({"resource": "pods", "verb": "delete"})))
            .unwrap_err();
        assert!(err.contains("verb"), "{err}");
        let err = parse::<GetInput>("get", object(json!({"resource": 3}))).unwrap_err();
        assert!(err.contains("invalid arguments for get"), "{err}");
        let err = parse::<GetInput>("get", None).unwrap_err();
        assert!(err.contains("resource"), "{err}");
    }

    #[test]
    fn describe_is_get_of_one_object_as_yaml() {
        let input: DescribeInput = parse(
            "describe",
            object(json!({"resource": "pod", "name": "web-0"})),
        )
        .unwrap();
        assert_eq!(
            args(input.invocation()),
            ["get", "pod", "web-0", "--output=yaml"]
        );
    }

    #[test]
    fn logs_are_always_bounded_by_lines_and_bytes() {
        let input: LogsInput = parse("logs", object(json!({"pod": "web-0"}))).unwrap();
        assert_eq!(
            args(input.invocation(BOUNDS)),
            ["logs", "web-0", "--tail=200", "--limit-bytes=1048576"]
        );
        let input: LogsInput = parse(
            "logs",
            object(json!({"pod": "web-0", "tailLines": 100_000})),
        )
        .unwrap();
        assert!(input.invocation(BOUNDS).unwrap_err().contains("tailLines"));
        let input: LogsInput = parse(
            "logs",
            object(json!({"pod": "web-0", "limitBytes": 1u64 << 30})),
        )
        .unwrap();
        assert!(
            input
                .invocation(BOUNDS)
                .unwrap_err()
                .contains("--max-output-bytes")
        );
    }

    #[test]
    fn watch_and_follow_take_a_timeout_and_nothing_else_does() {
        let input: LogsInput = parse(
            "logs",
            object(json!({"pod": "web-0", "follow": true, "timeoutSeconds": 2, "since": "5m"})),
        )
        .unwrap();
        let inv = input.invocation(BOUNDS).unwrap();
        assert_eq!(inv.timeout_seconds, Some(2));
        assert!(
            inv.args.contains(&"--follow".to_string())
                && inv.args.contains(&"--since=5m".to_string())
        );
        let input: GetInput = parse(
            "get",
            object(json!({"resource": "pods", "timeoutSeconds": 2})),
        )
        .unwrap();
        assert!(input.invocation().unwrap_err().contains("watch"));
    }

    #[test]
    fn api_resources_flags() {
        let input: ApiResourcesInput = parse(
            "api_resources",
            object(json!({"apiGroup": "apps", "namespaced": true, "wide": true})),
        )
        .unwrap();
        assert_eq!(
            args(input.invocation()),
            [
                "api-resources",
                "--api-group=apps",
                "--namespaced=true",
                "--output=wide"
            ]
        );
    }

    #[test]
    fn command_tools_say_what_the_policy_allows() {
        let schema = input_schema::<KubectlInput>();
        for (effect, read_only, destructive) in [
            (Effect::ReadOnly, true, false),
            (Effect::Additive, false, false),
            (Effect::Destructive, false, true),
        ] {
            let tool = command_tool("kubectl", "kubectl", String::new(), schema.clone(), effect);
            let hints = tool.annotations.unwrap();
            assert_eq!(hints.read_only_hint, Some(read_only), "{effect:?}");
            assert_eq!(hints.destructive_hint, Some(destructive), "{effect:?}");
        }
    }

    #[test]
    fn input_schemas_are_objects_that_name_their_fields() {
        let schema = input_schema::<GetInput>();
        assert_eq!(schema["type"], "object");
        assert!(schema.get("title").is_none());
        assert_eq!(schema["required"], json!(["resource"]));
        assert!(schema["properties"]["labelSelector"]["description"].is_string());
    }

    #[test]
    fn tool_names_are_what_clients_accept() {
        assert!(valid_tool_name("list-pods_v2.1"));
        for bad in ["", "has space", "slash/name", &"x".repeat(65)] {
            assert!(!valid_tool_name(bad), "{bad:?}");
        }
    }
}
