//! A guest's process: its [`Client`], its stdout and stderr, and its exit code.
//!
//! Every command-line guest needs the same few things from WASI that `std` does not give
//! it the right way: output that is buffered and treats a closed pipe (`| head`) as the
//! end rather than a panic, and an exit code that reaches the host as it is (`std`
//! reports every failure as 1). [`Script`] bundles them with the host's [`Client`]; the
//! built-in kubectl-like guest (`guest/src/main.rs`) is written on it.
//!
//! These talk to the host's WASI imports: use them in a `wasm32-wasip2` component. They
//! compile on every target (so documentation examples are checked), but natively there
//! is no host and calling them panics.

use std::io::{self, Write};

use wasip2::io::streams::{OutputStream, StreamError};

use crate::client::Client;
use crate::error::Error;

/// What a guest runs with: the host's client and its standard output and error.
///
/// Write to `out` and `err` rather than with `println!`: they are buffered (one host call
/// per 64 KiB rather than per line), flushed at exit, and a closed stdout ends the guest
/// quietly.
#[derive(Debug)]
pub struct Script {
    /// The API server, through the host.
    pub client: Client,
    /// Standard output.
    pub out: HostOutput,
    /// Standard error.
    pub err: HostOutput,
}

impl Script {
    /// The host's client and the guest's stdout and stderr.
    pub fn from_host() -> Script {
        Script {
            client: Client::from_host(),
            out: HostOutput::stdout(),
            err: HostOutput::stderr(),
        }
    }

    /// Runs `main` and exits with the code it returns. An error is printed on stderr as
    /// kubectl prints it (`Error from server (NotFound): ...`, `error: ...` with the
    /// policy's text for a denial) and exits 1; a closed stdout exits 0.
    pub fn run(mut self, main: impl FnOnce(&mut Script) -> Result<u8, Error>) -> ! {
        let code = match main(&mut self) {
            Ok(code) => code,
            Err(e) => e.finish(
                &self.client.context().server,
                None,
                &mut self.out,
                &mut self.err,
            ),
        };
        self.exit(code)
    }

    /// Flushes stdout and stderr and ends the guest with `code`.
    pub fn exit(mut self, code: u8) -> ! {
        // A closed stdout was already treated as success; nothing is left to report.
        let _ = self.out.flush();
        let _ = self.err.flush();
        // `std::process::exit` would report every failure as 1 whatever the code; this
        // passes the code through.
        wasip2::cli::exit::exit_with_code(code);
        // The host ends the guest in `exit-with-code`; it never returns here.
        std::process::abort()
    }
}

/// A buffered writer on a WASI output stream that reports a closed stream as
/// `BrokenPipe` (so `| head` ends the guest quietly) and never panics. Flush it before
/// the guest ends ([`Script::exit`] does); dropping it does not.
pub struct HostOutput {
    stream: OutputStream,
    buf: Vec<u8>,
}

impl std::fmt::Debug for HostOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostOutput")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// Flush when this much is buffered.
const BUFFER: usize = 64 * 1024;
/// The most `blocking-write-and-flush` accepts at once.
const MAX_WRITE: usize = 4096;

impl HostOutput {
    /// A writer on `stream`.
    pub fn new(stream: OutputStream) -> Self {
        HostOutput {
            stream,
            buf: Vec::with_capacity(BUFFER),
        }
    }

    /// The guest's standard output.
    pub fn stdout() -> Self {
        Self::new(wasip2::cli::stdout::get_stdout())
    }

    /// The guest's standard error.
    pub fn stderr() -> Self {
        Self::new(wasip2::cli::stderr::get_stderr())
    }

    fn drain(&mut self) -> io::Result<()> {
        let result = self.buf.chunks(MAX_WRITE).try_for_each(|chunk| {
            self.stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| match e {
                    StreamError::Closed => io::Error::from(io::ErrorKind::BrokenPipe),
                    StreamError::LastOperationFailed(e) => io::Error::other(e.to_debug_string()),
                })
        });
        self.buf.clear();
        result
    }
}

impl Write for HostOutput {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUFFER {
            self.drain()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}
