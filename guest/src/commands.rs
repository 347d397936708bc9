//! The kubectl-like commands, run over any [`Transport`].
//!
//! [`run`] is the whole script: parse the arguments, run the command, print errors the
//! way kubectl does and return the exit code. It writes to the `out` and `err` it is
//! given and talks to the cluster only through `transport`, so the binary supplies the
//! host's streams and `api` import while tests supply recorded responses.

mod api_resources;
mod get;
mod logs;
mod raw;
mod version;
mod write;

use std::ffi::OsString;
use std::io::{self, Write};

use crate::cli::{self, Command, SHORT_USAGE, USAGE};
use crate::client::{Response, Transport};
pub(crate) use crate::client::{fetch, fetch_items};
use crate::discovery::Discoverer;
use crate::error::Error;
use crate::request::Request;
use crate::resource::{ResourceResolver, ResourceType};
use crate::retry;
use crate::status::RequestContext;

/// What the commands know about where they run (defined beside [`crate::client::Client`]).
pub use crate::client::Context;

/// Where `-f FILE` reads from.
pub trait Files {
    /// The text of `path`; `-` means standard input.
    fn read(&mut self, path: &str) -> io::Result<String>;
}

/// The guest's own filesystem (what the host preopened, if anything) and stdin.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiFiles;

impl Files for WasiFiles {
    fn read(&mut self, path: &str) -> io::Result<String> {
        if path == "-" {
            return io::read_to_string(io::stdin());
        }
        std::fs::read_to_string(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => io::Error::new(e.kind(), not_found_hint(granted_dirs())),
            _ => e,
        })
    }
}

/// Why a file is not found, and how to fix it. The host decides what a guest sees of the
/// filesystem (nothing unless `host run --dir`), and it does not read the guest's
/// arguments to guess which files to grant, so the guest says how.
fn not_found_hint(granted: usize) -> String {
    if granted == 0 {
        "the guest has no filesystem (the host grants none unless asked): run `host run --dir DIR ...` with the directory that holds it, or pass it on stdin with `-f -`".to_string()
    } else {
        "no such file or directory in the directories the host granted (--dir); a file elsewhere can be passed on stdin with `-f -`".to_string()
    }
}

/// How many directories the host preopened for this guest.
fn granted_dirs() -> usize {
    #[cfg(target_family = "wasm")]
    {
        wasip2::filesystem::preopens::get_directories().len()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        usize::MAX
    }
}

/// Runs the command line `args` (without the program name) and returns the exit code:
/// 0 on success (also when stdout was closed early), 1 on any error, after printing it
/// to `err`. `-f` reads through [`WasiFiles`].
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    context: &Context,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    run_with_files(args, context, transport, &mut WasiFiles, out, err)
}

/// [`run`], reading `-f` files through `files`.
pub fn run_with_files(
    args: impl IntoIterator<Item = OsString>,
    context: &Context,
    transport: &mut dyn Transport,
    files: &mut dyn Files,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut types = Types::Discover(Discoverer::new());
    let result = cli::parse(args)
        .and_then(|command| {
            let mut env = Env {
                context,
                transport,
                types: &mut types,
                files,
                out,
                err,
            };
            execute(command, &mut env)
        })
        .and_then(|()| out.flush().map_err(Error::Output));
    match result {
        Ok(()) => 0,
        Err(e) => {
            let hint = matches!(e, Error::Usage { .. }).then_some(SHORT_USAGE);
            e.finish(&context.server, hint, out, err)
        }
    }
}

/// Where a command's resource types come from.
pub enum Types<'r> {
    /// The server's discovery, fetched when a command first needs it (what [`run`]
    /// uses), with the built-in types as the fallback when discovery is refused.
    Discover(Discoverer),
    /// A fixed resolver, for embedders that know their types and want no discovery.
    Fixed(&'r dyn ResourceResolver),
}

impl Types<'_> {
    /// Resolves a type name the user typed (`po`, `deployments.apps`).
    pub fn resolve(
        &mut self,
        transport: &mut dyn Transport,
        warn: &mut dyn Write,
        name: &str,
    ) -> Result<ResourceType, Error> {
        match self {
            Types::Discover(d) => d.resolve(transport, warn, name),
            Types::Fixed(r) => Ok(r.resolve(name)?),
        }
    }

    /// Resolves a manifest's `apiVersion` and `kind`.
    pub fn resolve_kind(
        &mut self,
        transport: &mut dyn Transport,
        warn: &mut dyn Write,
        api_version: &str,
        kind: &str,
    ) -> Result<ResourceType, Error> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        match self {
            Types::Discover(d) => d.resolve_kind(transport, warn, group, version, kind),
            Types::Fixed(r) => Ok(r.resolve_kind(group, version, kind)?),
        }
    }
}

/// What a command runs with.
pub struct Env<'a, 'r> {
    /// The credential's defaults.
    pub context: &'a Context,
    /// The way to the API server.
    pub transport: &'a mut dyn Transport,
    /// Where resource types come from.
    pub types: &'a mut Types<'r>,
    /// Where `-f` reads from.
    pub files: &'a mut dyn Files,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error: warnings, and the error a command ends with.
    pub err: &'a mut dyn Write,
}

/// Runs a parsed command.
pub fn execute(command: Command, env: &mut Env<'_, '_>) -> Result<(), Error> {
    let Env {
        context,
        transport,
        types,
        files,
        out,
        err,
    } = env;
    let (context, transport, types, out, err) = (
        *context,
        &mut **transport,
        &mut **types,
        &mut **out,
        &mut **err,
    );
    match command {
        Command::Help => out.write_all(USAGE.as_bytes()).map_err(Error::Output),
        Command::Version(args) => version::run(&args, transport, out),
        Command::Get(args) => match &args.raw {
            Some(path) => raw::run(path, &args, transport, out),
            None => get::run(&args, context, transport, types, out, err),
        },
        Command::Logs(args) => logs::run(&args, context, transport, types, out, err),
        Command::ApiResources(args) => api_resources::run(&args, transport, types, out, err),
        Command::Create(args) => {
            write::create(&args, context, transport, types, &mut **files, out, err)
        }
        Command::Apply(args) => {
            write::apply(&args, context, transport, types, &mut **files, out, err)
        }
        Command::Delete(args) => write::delete(&args, context, transport, types, out, err),
        Command::Patch(args) => write::patch(&args, context, transport, types, out, err),
    }
}

/// Sends `request`, retrying when the server asks to (see [`retry`]). A non-2xx
/// response becomes the server's error.
fn send(
    transport: &mut dyn Transport,
    request: &Request,
    context: &RequestContext<'_>,
) -> Result<Response, Error> {
    retry::send(transport, request, context)
}

/// Ends a command that collected errors along the way (kubectl's `ContinueOnError`).
fn finish(mut errors: Vec<Error>) -> Result<(), Error> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::run;
    use crate::testutil::{FakeTransport, run_with, test_context};

    #[test]
    fn help_prints_usage_to_stdout() {
        let (code, out, err) = run_with(&["--help"], &mut FakeTransport::new());
        assert_eq!(code, 0);
        assert!(out.starts_with("kubewasm: a kubectl-like"));
        assert_eq!(err, "");
    }

    #[test]
    fn unknown_command_prints_an_error_and_short_usage() {
        let (code, out, err) = run_with(&["frobnicate"], &mut FakeTransport::new());
        assert_eq!(code, 1);
        assert_eq!(out, "");
        assert!(
            err.starts_with("error: unknown command \"frobnicate\" for \"kubewasm\"\n\nUsage:\n")
        );
    }

    #[test]
    fn unknown_flag_prints_an_error_and_short_usage() {
        let (code, _, err) = run_with(&["get", "pods", "--bogus"], &mut FakeTransport::new());
        assert_eq!(code, 1);
        assert!(
            err.starts_with("error: unknown flag: --bogus\n\nUsage:\n"),
            "{err}"
        );
    }

    #[test]
    fn closed_stdout_ends_quietly_with_exit_0() {
        struct ClosedPipe;
        impl std::io::Write for ClosedPipe {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
        }
        let mut transport = FakeTransport::new().fixture(
            "/api/v1/namespaces/default/pods?limit=500",
            include_str!("../../tests/fixtures/pods-demo-table.http"),
        );
        let mut err = Vec::new();
        let code = run(
            ["get", "pods"].map(std::ffi::OsString::from),
            &test_context(),
            &mut transport,
            &mut ClosedPipe,
            &mut err,
        );
        assert_eq!(code, 0);
        assert!(err.is_empty());
    }

    #[test]
    fn undecodable_response_is_reported_with_the_request() {
        let mut transport = FakeTransport::new().text(
            "/api/v1/namespaces/default/pods?limit=500",
            200,
            "<html>proxy login</html>",
        );
        let (code, _, err) = run_with(&["get", "pods"], &mut transport);
        assert_eq!(code, 1);
        assert!(
            err.starts_with("error: the server's response to GET /api/v1/namespaces/default/pods?limit=500 could not be decoded: "),
            "{err}"
        );
    }

    #[test]
    fn host_denial_is_printed_as_the_host_wrote_it() {
        let mut transport = FakeTransport::new().deny("GET secrets in demo is not allowed by the policy; a Role rule allowing it: {apiGroups: [\"\"], resources: [\"secrets\"], verbs: [\"list\"]}");
        let (code, out, err) = run_with(&["get", "secrets", "-n", "demo"], &mut transport);
        assert_eq!(code, 1);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "error: GET secrets in demo is not allowed by the policy; a Role rule allowing it: {apiGroups: [\"\"], resources: [\"secrets\"], verbs: [\"list\"]}\n"
        );
    }
}
