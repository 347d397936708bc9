//! The command line: kubectl's commands and flags, parsed without IO.
//!
//! Flags may come before or after positional arguments, in every form kubectl accepts
//! (`-n demo`, `-ndemo`, `--namespace=demo`, `-Aw`, `--watch=false`). `-n`/`--namespace`
//! and `-h`/`--help` are global; the other flags belong to their command, so `get -f`
//! is an unknown flag as it is in kubectl (where `-f` means a file).

use std::ffi::OsString;

use lexopt::Arg;

use crate::error::Error;
use crate::output::OutputFormat;
use crate::request::PatchType;

/// The name the CLI uses for itself in messages.
pub const PROGRAM: &str = "kubewasm";

/// The usage text (`--help`).
pub const USAGE: &str = "\
kubewasm: a kubectl-like Kubernetes client in a WebAssembly sandbox.

Usage:
  kubewasm get TYPE[.GROUP][,TYPE...] [NAME...] [flags]
  kubewasm get TYPE/NAME... [flags]
  kubewasm get --raw /PATH
  kubewasm logs [-f] [-c CONTAINER | --all-containers] [--tail N] [--since D | --since-time T]
                [--timestamps] [--previous] [--limit-bytes N] [--prefix] POD
  kubewasm version [--client] [-o json|yaml]
  kubewasm api-resources [--api-group G] [--namespaced=BOOL] [--verbs V,...] [-o wide|name]
  kubewasm create -f FILE|- [--dry-run=server]
  kubewasm apply -f FILE|- [--force-conflicts] [--dry-run=server]   (server-side apply)
  kubewasm delete TYPE NAME... | TYPE/NAME... [--dry-run=server]
  kubewasm patch TYPE NAME | TYPE/NAME -p PATCH [--type strategic|merge|json] [--dry-run=server]

Flags for get:
  -n, --namespace NS          the namespace (default: the credential's namespace)
  -A, --all-namespaces        list across all namespaces
  -l, --selector SELECTOR     filter by labels (app=web,tier in (a,b))
      --field-selector SEL    filter by fields (status.phase=Running)
  -o, --output FORMAT         wide, json, yaml, name or jsonpath=TEMPLATE
                              (e.g. -o jsonpath='{.items[*].metadata.name}')
  -w, --watch                 after listing, print changes as they happen (resumes
                              when the server ends the watch or the connection drops)
      --watch-only            print changes only, not the list first
      --output-watch-events   print each change's event (ADDED, MODIFIED, DELETED)
      --no-headers            do not print the table header
      --show-labels           add a LABELS column
      --chunk-size N          list in pages of N items, printing each page as it
                              arrives (default 500; 0 lists everything at once)
      --raw /PATH             GET a raw API path and print the body

Flags for logs:
  -c, --container NAME        the container (required when the pod has several)
  -f, --follow                stream new lines as they are written (resumes after a
                              dropped connection without repeating lines)
      --tail N                only the last N lines
      --since DURATION        only lines newer than 5s, 2m, 1h...
      --since-time TIME       only lines written at or after an RFC 3339 time
      --limit-bytes N         stop after N bytes
      --all-containers        every container of the pod, one after the other
      --prefix                start each line with [pod/NAME/CONTAINER]
      --timestamps            prefix lines with their timestamps
  -p, --previous              the previous, terminated container
";

/// The short usage printed after a command-line error.
pub const SHORT_USAGE: &str = "\
Usage:
  kubewasm get TYPE[.GROUP] [NAME...] | TYPE/NAME... [-n NS | -A] [-l SEL] [-o wide|json|yaml|name] [-w]
  kubewasm get --raw /PATH
  kubewasm logs [-f] [-c CONTAINER] [--tail N] [--since DURATION] POD
  kubewasm version
Run 'kubewasm --help' for more.
";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `--help`, `help`, or no arguments.
    Help,
    /// `version`.
    Version(VersionArgs),
    /// `get`.
    Get(GetArgs),
    /// `logs`.
    Logs(LogsArgs),
    /// `api-resources`.
    ApiResources(ApiResourcesArgs),
    /// `create -f`.
    Create(WriteArgs),
    /// `apply -f` (always server-side).
    Apply(WriteArgs),
    /// `delete TYPE NAME...`.
    Delete(WriteArgs),
    /// `patch TYPE NAME -p PATCH`.
    Patch(WriteArgs),
}

/// The arguments of the write commands (`create`, `apply`, `delete`, `patch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteArgs {
    /// `TYPE NAME...` or `TYPE/NAME...` (`delete`, `patch`).
    pub args: Vec<String>,
    /// `-n`.
    pub namespace: Option<String>,
    /// `-f FILE` (repeatable); `-` is stdin.
    pub filenames: Vec<String>,
    /// `--dry-run=server`.
    pub dry_run: bool,
    /// `--force-conflicts` (apply).
    pub force_conflicts: bool,
    /// `-p`, `--patch` (patch).
    pub patch: Option<String>,
    /// `--type` (patch); kubectl's default is strategic.
    pub patch_type: PatchType,
}

impl Default for WriteArgs {
    fn default() -> Self {
        WriteArgs {
            args: Vec::new(),
            namespace: None,
            filenames: Vec::new(),
            dry_run: false,
            force_conflicts: false,
            patch: None,
            patch_type: PatchType::Strategic,
        }
    }
}

/// `api-resources -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiResourcesOutput {
    /// `-o wide`: add VERBS and CATEGORIES.
    Wide,
    /// `-o name`: `resource.group` only.
    Name,
}

/// `api-resources --sort-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiResourcesSort {
    /// By resource name.
    Name,
    /// By kind.
    Kind,
}

/// `api-resources`' arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiResourcesArgs {
    /// `-o wide|name`.
    pub output: Option<ApiResourcesOutput>,
    /// `--no-headers`.
    pub no_headers: bool,
    /// `--namespaced=BOOL`: only namespaced (or only cluster-scoped) types; unset: all.
    pub namespaced: Option<bool>,
    /// `--api-group G`: only this group (`--api-group=` is the core group); unset: all.
    pub api_group: Option<String>,
    /// `--sort-by name|kind`; unset: by group, then name.
    pub sort_by: Option<ApiResourcesSort>,
    /// `--verbs v1,v2`: only types supporting all of them.
    pub verbs: Vec<String>,
}

/// `get`'s arguments, before the resource types are resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetArgs {
    /// `TYPE [NAME...]` or `TYPE/NAME...`.
    pub args: Vec<String>,
    /// `-n`.
    pub namespace: Option<String>,
    /// `-A`.
    pub all_namespaces: bool,
    /// `-l`.
    pub label_selector: Option<String>,
    /// `--field-selector`.
    pub field_selector: Option<String>,
    /// `-o`.
    pub output: OutputFormat,
    /// `-w`.
    pub watch: bool,
    /// `--watch-only`: watch without printing the list first.
    pub watch_only: bool,
    /// `--output-watch-events`: print the event type of each change.
    pub output_watch_events: bool,
    /// `--raw PATH`.
    pub raw: Option<String>,
    /// `--no-headers`.
    pub no_headers: bool,
    /// `--show-labels`.
    pub show_labels: bool,
    /// `--chunk-size`: the page size of lists; `None` is kubectl's default (500), `Some(0)`
    /// turns paging off.
    pub chunk_size: Option<u32>,
}

/// `logs`' arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsArgs {
    /// `POD` or `pod/POD`, optionally followed by the container (kubectl's old form).
    pub args: Vec<String>,
    /// `-n`.
    pub namespace: Option<String>,
    /// `-c`.
    pub container: Option<String>,
    /// `-f`.
    pub follow: bool,
    /// `--tail`; `None` (or -1) means every line.
    pub tail: Option<i64>,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--previous`.
    pub previous: bool,
    /// `--since`, in whole seconds (rounded up, like kubectl).
    pub since_seconds: Option<i64>,
    /// `--since-time`: an RFC 3339 time.
    pub since_time: Option<String>,
    /// `--limit-bytes`.
    pub limit_bytes: Option<i64>,
    /// `--all-containers`.
    pub all_containers: bool,
    /// `--prefix`: start each line with `[pod/NAME/CONTAINER] `.
    pub prefix: bool,
}

/// `version`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionArgs {
    /// `-o json` or `-o yaml`.
    pub output: Option<OutputFormat>,
    /// `--client`: do not ask the server.
    pub client_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Get,
    Logs,
    Version,
    ApiResources,
    Create,
    Apply,
    Delete,
    Patch,
    Help,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Get => "get",
            Cmd::Logs => "logs",
            Cmd::Version => "version",
            Cmd::ApiResources => "api-resources",
            Cmd::Create => "create",
            Cmd::Apply => "apply",
            Cmd::Delete => "delete",
            Cmd::Patch => "patch",
            Cmd::Help => "help",
        }
    }
}

/// A flag as typed, owned so the parser can be asked for its value.
enum Flag {
    Short(char),
    Long(String),
}

impl Flag {
    fn is(&self, short: Option<char>, long: &str) -> bool {
        match self {
            Flag::Short(c) => short == Some(*c),
            Flag::Long(l) => l == long,
        }
    }

    fn display(&self) -> String {
        match self {
            Flag::Short(c) => format!("-{c}"),
            Flag::Long(l) => format!("--{l}"),
        }
    }

    fn unknown(&self, cmd: Option<Cmd>) -> Error {
        let message = match self {
            Flag::Short(c) => format!("unknown shorthand flag: '{c}' in -{c}"),
            Flag::Long(l) => format!("unknown flag: --{l}"),
        };
        usage(message, cmd)
    }
}

fn usage(message: String, cmd: Option<Cmd>) -> Error {
    Error::Usage {
        message,
        command: cmd.map(|c| c.name().to_string()),
    }
}

/// Every flag value, whichever command it belongs to.
#[derive(Default)]
struct Flags {
    get: GetArgs,
    logs: LogsArgs,
    version: VersionArgs,
    api_resources: ApiResourcesArgs,
    write: WriteArgs,
    dry_run: Option<String>,
    patch_type: Option<String>,
    sort_by: Option<String>,
    namespace: Option<String>,
    output: Option<String>,
    tail: Option<String>,
    since: Option<String>,
    limit_bytes: Option<String>,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, Error> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut cmd: Option<Cmd> = None;
    let mut help = false;
    let mut positionals: Vec<String> = Vec::new();
    let mut flags = Flags::default();
    loop {
        let arg = parser.next().map_err(|e| lexopt_error(e, cmd))?;
        let flag = match arg {
            None => break,
            Some(Arg::Value(value)) => {
                let value = utf8(value, cmd)?;
                match cmd {
                    None => cmd = Some(command(&value)?),
                    Some(_) => positionals.push(value),
                }
                continue;
            }
            Some(Arg::Short(c)) => Flag::Short(c),
            Some(Arg::Long(l)) => Flag::Long(l.to_string()),
        };
        if flag.is(Some('h'), "help") {
            help = true;
        } else if flag.is(Some('n'), "namespace") {
            flags.namespace = Some(value(&mut parser, &flag, cmd)?);
        } else {
            command_flag(cmd, &flag, &mut parser, &mut flags)?;
        }
    }
    let Some(cmd) = cmd else {
        return Ok(Command::Help);
    };
    if help || cmd == Cmd::Help {
        return Ok(Command::Help);
    }
    match cmd {
        Cmd::Get => {
            let mut get = flags.get;
            get.args = positionals;
            get.namespace = flags.namespace;
            if let Some(output) = flags.output {
                get.output = OutputFormat::parse_for_get(&output).map_err(Error::Invalid)?;
            }
            Ok(Command::Get(get))
        }
        Cmd::Logs => {
            let mut logs = flags.logs;
            logs.args = positionals;
            logs.namespace = flags.namespace;
            if let Some(tail) = flags.tail {
                let n: i64 = tail.parse().map_err(|_| {
                    usage(
                        format!("invalid argument {tail:?} for \"--tail\" flag: not an integer"),
                        Some(cmd),
                    )
                })?;
                if n < -1 {
                    return Err(Error::Invalid(
                        "--tail must be greater than or equal to -1".into(),
                    ));
                }
                logs.tail = (n >= 0).then_some(n);
            }
            if let Some(since) = flags.since {
                let nanos = parse_go_duration(&since).ok_or_else(|| {
                    usage(
                        format!(
                            "invalid argument {since:?} for \"--since\" flag: time: invalid duration {since:?}"
                        ),
                        Some(cmd),
                    )
                })?;
                if nanos < 0 {
                    return Err(Error::Invalid("--since must be greater than 0".into()));
                }
                if nanos > 0 {
                    // kubectl rounds up to whole seconds.
                    let seconds = (nanos + 999_999_999) / 1_000_000_000;
                    logs.since_seconds = Some(i64::try_from(seconds).unwrap_or(i64::MAX));
                }
            }
            if let Some(limit) = flags.limit_bytes {
                let n: i64 = limit.parse().map_err(|_| {
                    usage(
                        format!(
                            "invalid argument {limit:?} for \"--limit-bytes\" flag: not an integer"
                        ),
                        Some(cmd),
                    )
                })?;
                if n < 0 {
                    return Err(Error::Invalid(
                        "--limit-bytes must be greater than 0".into(),
                    ));
                }
                // kubectl: 0 means no limit.
                logs.limit_bytes = (n > 0).then_some(n);
            }
            if let Some(time) = &logs.since_time {
                if logs.since_seconds.is_some() {
                    return Err(Error::Invalid(
                        "at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
                    ));
                }
                if !crate::logstream::is_rfc3339(time) {
                    return Err(Error::Invalid(format!(
                        "--since-time must be an RFC 3339 time such as 2006-01-02T15:04:05Z, got {time:?}"
                    )));
                }
            }
            if let (true, Some(container)) = (logs.all_containers, &logs.container) {
                return Err(Error::Invalid(format!(
                    "--all-containers=true should not be specified with container name {container}"
                )));
            }
            Ok(Command::Logs(logs))
        }
        Cmd::Version => {
            let mut version = flags.version;
            if let Some(output) = flags.output {
                version.output = match output.as_str() {
                    "json" => Some(OutputFormat::Json),
                    "yaml" => Some(OutputFormat::Yaml),
                    _ => return Err(Error::Invalid("--output must be 'yaml' or 'json'".into())),
                };
            }
            if let Some(extra) = positionals.first() {
                return Err(usage(format!("unexpected argument {extra:?}"), Some(cmd)));
            }
            Ok(Command::Version(version))
        }
        Cmd::ApiResources => {
            let mut api = flags.api_resources;
            api.output = match flags.output.as_deref() {
                None | Some("") => None,
                Some("wide") => Some(ApiResourcesOutput::Wide),
                Some("name") => Some(ApiResourcesOutput::Name),
                Some(other) => {
                    return Err(Error::Invalid(format!("--output {other} is not available")));
                }
            };
            api.sort_by = match flags.sort_by.as_deref() {
                None | Some("") => None,
                Some("name") => Some(ApiResourcesSort::Name),
                Some("kind") => Some(ApiResourcesSort::Kind),
                Some(_) => {
                    return Err(Error::Invalid("--sort-by accepts only name or kind".into()));
                }
            };
            if let Some(extra) = positionals.first() {
                return Err(usage(format!("unexpected argument {extra:?}"), Some(cmd)));
            }
            Ok(Command::ApiResources(api))
        }
        Cmd::Create | Cmd::Apply | Cmd::Delete | Cmd::Patch => {
            let mut write = flags.write;
            write.args = positionals;
            write.namespace = flags.namespace;
            write.dry_run = match flags.dry_run.as_deref() {
                None | Some("none") => false,
                Some("server") => true,
                Some("client") => {
                    return Err(Error::Invalid(
                        "--dry-run=client is not supported: the guest does not compute objects locally; use --dry-run=server".into(),
                    ));
                }
                Some(other) => {
                    return Err(Error::Invalid(format!(
                        "Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."
                    )));
                }
            };
            match cmd {
                Cmd::Create | Cmd::Apply => {
                    if write.filenames.is_empty() {
                        return Err(Error::Invalid("must specify one of -f and -k".into()));
                    }
                    if let Some(extra) = write.args.first() {
                        return Err(usage(format!("unexpected argument {extra:?}"), Some(cmd)));
                    }
                }
                Cmd::Delete => {
                    if write.args.is_empty() {
                        return Err(Error::Invalid(
                            "You must provide one or more resources by argument.".into(),
                        ));
                    }
                }
                _ => {
                    if write.patch.is_none() {
                        return Err(Error::Invalid("must specify -p to patch".into()));
                    }
                    if let Some(t) = flags.patch_type {
                        write.patch_type = match t.as_str() {
                            "json" => PatchType::Json,
                            "merge" => PatchType::Merge,
                            "strategic" => PatchType::Strategic,
                            _ => {
                                return Err(Error::Invalid(format!(
                                    "--type must be one of [json merge strategic], not {t:?}"
                                )));
                            }
                        };
                    }
                }
            }
            Ok(match cmd {
                Cmd::Create => Command::Create(write),
                Cmd::Apply => Command::Apply(write),
                Cmd::Delete => Command::Delete(write),
                _ => Command::Patch(write),
            })
        }
        Cmd::Help => Ok(Command::Help),
    }
}

fn command(name: &str) -> Result<Cmd, Error> {
    match name {
        "get" => Ok(Cmd::Get),
        "logs" | "log" => Ok(Cmd::Logs),
        "version" => Ok(Cmd::Version),
        "api-resources" => Ok(Cmd::ApiResources),
        "create" => Ok(Cmd::Create),
        "apply" => Ok(Cmd::Apply),
        "delete" => Ok(Cmd::Delete),
        "patch" => Ok(Cmd::Patch),
        "help" => Ok(Cmd::Help),
        other => {
            let mut message = format!("unknown command {other:?} for \"{PROGRAM}\"");
            if let Some(why) = absent_on_purpose(other) {
                message.push_str(&format!(" ({why})"));
            }
            Err(usage(message, None))
        }
    }
}

/// Why a kubectl command an agent or a user may reach for does not exist here. These are
/// the commands that hand over the credential or a workload; leaving them out is not the
/// boundary (the host's policy refuses what they would send), but saying why saves a
/// search.
fn absent_on_purpose(command: &str) -> Option<&'static str> {
    Some(match command {
        "config" => {
            "the kubeconfig, token and CA stay with the host, outside the sandbox; \
             this client can tell who it acts as, never show the credential"
        }
        "proxy" => {
            "this client opens no listening socket and has no credential to lend; the host's \
             policy refuses the proxy subresources unless it grants them"
        }
        "exec" | "attach" | "cp" | "port-forward" | "debug" => {
            "this client opens no stream into a container; the host's policy refuses the exec, \
             attach and portforward subresources unless it grants them"
        }
        _ => return None,
    })
}

/// Applies a flag that belongs to `cmd`.
fn command_flag(
    cmd: Option<Cmd>,
    flag: &Flag,
    parser: &mut lexopt::Parser,
    flags: &mut Flags,
) -> Result<(), Error> {
    match cmd {
        Some(Cmd::Get) => {
            let get = &mut flags.get;
            if flag.is(Some('A'), "all-namespaces") {
                get.all_namespaces = switch(parser, flag, cmd)?;
            } else if flag.is(Some('l'), "selector") {
                get.label_selector = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "field-selector") {
                get.field_selector = Some(value(parser, flag, cmd)?);
            } else if flag.is(Some('o'), "output") {
                flags.output = Some(value(parser, flag, cmd)?);
            } else if flag.is(Some('w'), "watch") {
                get.watch = switch(parser, flag, cmd)?;
            } else if flag.is(None, "watch-only") {
                get.watch_only = switch(parser, flag, cmd)?;
            } else if flag.is(None, "output-watch-events") {
                get.output_watch_events = switch(parser, flag, cmd)?;
            } else if flag.is(None, "raw") {
                get.raw = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "no-headers") {
                get.no_headers = switch(parser, flag, cmd)?;
            } else if flag.is(None, "show-labels") {
                get.show_labels = switch(parser, flag, cmd)?;
            } else if flag.is(None, "chunk-size") {
                let size = value(parser, flag, cmd)?;
                get.chunk_size = Some(size.parse().map_err(|_| {
                    usage(
                        format!(
                            "invalid argument {size:?} for \"--chunk-size\" flag: not a non-negative integer"
                        ),
                        cmd,
                    )
                })?);
            } else {
                return Err(flag.unknown(cmd));
            }
        }
        Some(Cmd::Logs) => {
            let logs = &mut flags.logs;
            if flag.is(Some('c'), "container") {
                logs.container = Some(value(parser, flag, cmd)?);
            } else if flag.is(Some('f'), "follow") {
                logs.follow = switch(parser, flag, cmd)?;
            } else if flag.is(None, "tail") {
                flags.tail = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "since") {
                flags.since = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "since-time") {
                logs.since_time = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "limit-bytes") {
                flags.limit_bytes = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "all-containers") {
                logs.all_containers = switch(parser, flag, cmd)?;
            } else if flag.is(None, "prefix") {
                logs.prefix = switch(parser, flag, cmd)?;
            } else if flag.is(None, "timestamps") {
                logs.timestamps = switch(parser, flag, cmd)?;
            } else if flag.is(Some('p'), "previous") {
                logs.previous = switch(parser, flag, cmd)?;
            } else {
                return Err(flag.unknown(cmd));
            }
        }
        Some(Cmd::Version) => {
            if flag.is(Some('o'), "output") {
                flags.output = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "client") {
                flags.version.client_only = switch(parser, flag, cmd)?;
            } else {
                return Err(flag.unknown(cmd));
            }
        }
        Some(Cmd::ApiResources) => {
            let api = &mut flags.api_resources;
            if flag.is(Some('o'), "output") {
                flags.output = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "no-headers") {
                api.no_headers = switch(parser, flag, cmd)?;
            } else if flag.is(None, "namespaced") {
                api.namespaced = Some(switch(parser, flag, cmd)?);
            } else if flag.is(None, "api-group") {
                api.api_group = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "sort-by") {
                flags.sort_by = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "verbs") {
                let verbs = value(parser, flag, cmd)?;
                api.verbs.extend(
                    verbs
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(str::to_string),
                );
            } else {
                return Err(flag.unknown(cmd));
            }
        }
        Some(c @ (Cmd::Create | Cmd::Apply | Cmd::Delete | Cmd::Patch)) => {
            let write = &mut flags.write;
            if flag.is(None, "dry-run") {
                // A bare `--dry-run` means `client` in kubectl.
                flags.dry_run = Some(match parser.optional_value() {
                    Some(v) => utf8(v, cmd)?,
                    None => "client".into(),
                });
            } else if flag.is(Some('f'), "filename") && matches!(c, Cmd::Create | Cmd::Apply) {
                write.filenames.push(value(parser, flag, cmd)?);
            } else if flag.is(None, "force-conflicts") && c == Cmd::Apply {
                write.force_conflicts = switch(parser, flag, cmd)?;
            } else if flag.is(None, "server-side") && c == Cmd::Apply {
                if !switch(parser, flag, cmd)? {
                    return Err(Error::Invalid(
                        "client-side apply is not supported: kubewasm always applies server-side"
                            .into(),
                    ));
                }
            } else if flag.is(Some('p'), "patch") && c == Cmd::Patch {
                write.patch = Some(value(parser, flag, cmd)?);
            } else if flag.is(None, "type") && c == Cmd::Patch {
                flags.patch_type = Some(value(parser, flag, cmd)?);
            } else {
                return Err(flag.unknown(cmd));
            }
        }
        Some(Cmd::Help) | None => return Err(flag.unknown(cmd)),
    }
    Ok(())
}

/// The value of a flag that takes one (`-n demo`, `-ndemo`, `--namespace=demo`).
fn value(parser: &mut lexopt::Parser, flag: &Flag, cmd: Option<Cmd>) -> Result<String, Error> {
    match parser.value() {
        Ok(v) => utf8(v, cmd),
        Err(lexopt::Error::MissingValue { .. }) => Err(usage(
            match flag {
                Flag::Short(c) => format!("flag needs an argument: '{c}' in -{c}"),
                Flag::Long(l) => format!("flag needs an argument: --{l}"),
            },
            cmd,
        )),
        Err(e) => Err(lexopt_error(e, cmd)),
    }
}

/// A boolean flag: `--watch`, or `--watch=false` as Go's flag package allows.
fn switch(parser: &mut lexopt::Parser, flag: &Flag, cmd: Option<Cmd>) -> Result<bool, Error> {
    // Only the long form takes a value: in `-Aw`, `w` is the next flag.
    if matches!(flag, Flag::Short(_)) {
        return Ok(true);
    }
    let Some(value) = parser.optional_value() else {
        return Ok(true);
    };
    let value = utf8(value, cmd)?;
    match value.as_str() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(usage(
            format!(
                "invalid argument {value:?} for \"{}\" flag: strconv.ParseBool: parsing {value:?}: invalid syntax",
                flag.display()
            ),
            cmd,
        )),
    }
}

fn utf8(value: OsString, cmd: Option<Cmd>) -> Result<String, Error> {
    value
        .into_string()
        .map_err(|v| usage(format!("argument {v:?} is not valid UTF-8"), cmd))
}

fn lexopt_error(e: lexopt::Error, cmd: Option<Cmd>) -> Error {
    usage(e.to_string(), cmd)
}

/// Go's `time.ParseDuration`, in nanoseconds: a sequence of decimal numbers with units
/// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), optionally signed (`1h30m`, `1.5s`, `-2m`).
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * unit;
    }
    if !total.is_finite() || total > i64::MAX as f64 {
        return None;
    }
    let nanos = total.round() as i128;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, Error> {
        parse(args.iter().map(OsString::from))
    }

    fn get(args: &[&str]) -> GetArgs {
        match parse_str(args).unwrap() {
            Command::Get(get) => get,
            other => panic!("not a get: {other:?}"),
        }
    }

    fn logs(args: &[&str]) -> LogsArgs {
        match parse_str(args).unwrap() {
            Command::Logs(logs) => logs,
            other => panic!("not logs: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        parse_str(args).unwrap_err().to_string()
    }

    #[test]
    fn flags_may_come_before_or_after_positionals() {
        let want = GetArgs {
            args: vec!["pods".into(), "demo-00001".into()],
            namespace: Some("demo".into()),
            output: OutputFormat::Wide,
            ..Default::default()
        };
        assert_eq!(
            get(&["get", "pods", "demo-00001", "-n", "demo", "-o", "wide"]),
            want
        );
        assert_eq!(
            get(&["get", "-n", "demo", "pods", "-owide", "demo-00001"]),
            want
        );
        assert_eq!(
            get(&["-n", "demo", "get", "--output=wide", "pods", "demo-00001"]),
            want
        );
        assert_eq!(
            get(&["--namespace=demo", "get", "pods", "demo-00001", "-o=wide"]),
            want
        );
    }

    #[test]
    fn get_output_jsonpath_in_every_form() {
        for args in [
            &["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"][..],
            &["get", "pods", "-o=jsonpath={.items[*].metadata.name}"],
            &[
                "get",
                "pods",
                "--output",
                "jsonpath={.items[*].metadata.name}",
            ],
        ] {
            let OutputFormat::JsonPath(t) = get(args).output else {
                panic!("{args:?} is not jsonpath");
            };
            assert_eq!(t.source(), "{.items[*].metadata.name}");
        }
    }

    #[test]
    fn get_flags_in_every_form() {
        let g = get(&[
            "get",
            "po",
            "-Aw",
            "-l",
            "app=web",
            "--field-selector",
            "status.phase=Running",
            "--no-headers",
            "--show-labels",
            "-o",
            "json",
        ]);
        assert!(g.all_namespaces && g.watch && g.no_headers && g.show_labels);
        assert_eq!(g.label_selector.as_deref(), Some("app=web"));
        assert_eq!(g.field_selector.as_deref(), Some("status.phase=Running"));
        assert_eq!(g.output, OutputFormat::Json);
        let g = get(&["get", "pods", "--watch=false", "--all-namespaces=true"]);
        assert!(!g.watch && g.all_namespaces);
        assert_eq!(
            get(&["get", "--raw", "/healthz"]).raw.as_deref(),
            Some("/healthz")
        );
    }

    #[test]
    fn logs_flags_and_durations() {
        let l = logs(&[
            "logs",
            "-f",
            "demo-00001",
            "-c",
            "main",
            "--tail",
            "10",
            "--timestamps",
            "--previous",
            "--since",
            "2m",
            "-n",
            "demo",
        ]);
        assert_eq!(
            l,
            LogsArgs {
                args: vec!["demo-00001".into()],
                namespace: Some("demo".into()),
                container: Some("main".into()),
                follow: true,
                tail: Some(10),
                timestamps: true,
                previous: true,
                since_seconds: Some(120),
                ..Default::default()
            }
        );
        assert_eq!(logs(&["logs", "x", "--tail=-1"]).tail, None);
        assert_eq!(
            logs(&["logs", "x", "--since=1500ms"]).since_seconds,
            Some(2)
        );
        assert_eq!(
            logs(&["logs", "x", "--since=1h30m"]).since_seconds,
            Some(5400)
        );
    }

    #[test]
    fn go_durations_parse_like_time_parse_duration() {
        assert_eq!(parse_go_duration("5s"), Some(5_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("2µs"), Some(2_000));
        assert_eq!(parse_go_duration("-1m"), Some(-60_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "5", "s", "5x", "1h-2m", ".s", "abc"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn invalid_flag_values_are_reported() {
        assert_eq!(
            error(&["logs", "x", "--since", "5 minutes"]),
            r#"error: invalid argument "5 minutes" for "--since" flag: time: invalid duration "5 minutes""#
        );
        assert_eq!(
            error(&["logs", "x", "--tail", "ten"]),
            r#"error: invalid argument "ten" for "--tail" flag: not an integer"#
        );
        assert_eq!(
            error(&["get", "pods", "-o", "go-template={{.x}}"]),
            r#"error: unable to match a printer suitable for the output format "go-template={{.x}}", allowed formats are: json,jsonpath,name,wide,yaml"#
        );
        assert_eq!(
            error(&["get", "pods", "-o", "jsonpath={.x"]),
            "error: error parsing jsonpath {.x, unclosed action"
        );
        assert_eq!(
            error(&["get", "pods", "-o=jsonpath="]),
            "error: template format specified but no template given"
        );
        assert_eq!(
            error(&["get", "pods", "--watch=maybe"]),
            r#"error: invalid argument "maybe" for "--watch" flag: strconv.ParseBool: parsing "maybe": invalid syntax"#
        );
    }

    #[test]
    fn commands_left_out_on_purpose_say_why() {
        let err = error(&["config", "view", "--raw"]);
        assert!(
            err.starts_with(r#"error: unknown command "config" for "kubewasm" (the kubeconfig"#),
            "{err}"
        );
        for command in ["exec", "cp", "proxy", "port-forward", "attach"] {
            let err = error(&[command, "web-0"]);
            assert!(err.contains("policy refuses"), "{command}: {err}");
        }
    }

    #[test]
    fn unknown_command_and_flags_are_usage_errors() {
        assert_eq!(
            error(&["frobnicate"]),
            r#"error: unknown command "frobnicate" for "kubewasm""#
        );
        assert_eq!(
            error(&["get", "pods", "--frobnicate"]),
            "error: unknown flag: --frobnicate"
        );
        assert_eq!(
            error(&["get", "pods", "-f", "x.yaml"]),
            "error: unknown shorthand flag: 'f' in -f"
        );
        assert_eq!(
            error(&["-A", "get", "pods"]),
            "error: unknown shorthand flag: 'A' in -A"
        );
        assert_eq!(
            error(&["get", "pods", "-n"]),
            "error: flag needs an argument: 'n' in -n"
        );
        assert_eq!(
            error(&["get", "pods", "--selector"]),
            "error: flag needs an argument: --selector"
        );
        assert!(matches!(
            parse_str(&["logs", "--watch"]),
            Err(Error::Usage { command: Some(c), .. }) if c == "logs"
        ));
    }

    #[test]
    fn help_in_every_form() {
        for args in [
            &[][..],
            &["--help"],
            &["-h"],
            &["help"],
            &["get", "--help"],
            &["help", "get"],
        ] {
            assert_eq!(parse_str(args).unwrap(), Command::Help, "{args:?}");
        }
    }

    #[test]
    fn version_flags() {
        assert_eq!(
            parse_str(&["version", "-o", "json", "--client"]).unwrap(),
            Command::Version(VersionArgs {
                output: Some(OutputFormat::Json),
                client_only: true
            })
        );
        assert_eq!(
            error(&["version", "-o", "wide"]),
            "error: --output must be 'yaml' or 'json'"
        );
    }

    #[test]
    fn double_dash_ends_flags() {
        assert_eq!(get(&["get", "--", "pods", "-x"]).args, ["pods", "-x"]);
    }
}
