//! `guest`: the kubectl-like script, run by `host run guest.wasm ARGS...`.
//!
//! A thin shell over [`kubewasm_guest::commands::run`]: it supplies the host's
//! capabilities (the `api` transport, the credential's default namespace, stdout and
//! stderr) and turns the result into the process exit code.

use std::io::{self, Write};

use kubewasm_guest::bindings::kubewasm::client::credentials;
use kubewasm_guest::client::HostApi;
use kubewasm_guest::commands::{self, Context};
use wasip2::io::streams::{OutputStream, StreamError};

fn main() {
    let identity = credentials::describe();
    let context = Context {
        namespace: identity.namespace,
        server: identity.server,
    };
    let mut out = HostOutput::new(wasip2::cli::stdout::get_stdout());
    let mut err = HostOutput::new(wasip2::cli::stderr::get_stderr());
    let code = commands::run(
        std::env::args_os().skip(1),
        &context,
        &mut HostApi,
        &mut out,
        &mut err,
    );
    // A closed stdout was already treated as success; nothing is left to report.
    let _ = out.flush();
    let _ = err.flush();
    // `std::process::exit` would report every failure as 1 whatever the code; this
    // passes the code through.
    wasip2::cli::exit::exit_with_code(code);
}

/// A buffered writer on a WASI output stream that reports a closed stream as
/// `BrokenPipe` (so `| head` ends the script quietly) and never panics.
struct HostOutput {
    stream: OutputStream,
    buf: Vec<u8>,
}

/// Flush when this much is buffered.
const BUFFER: usize = 64 * 1024;
/// The most `blocking-write-and-flush` accepts at once.
const MAX_WRITE: usize = 4096;

impl HostOutput {
    fn new(stream: OutputStream) -> Self {
        HostOutput {
            stream,
            buf: Vec::with_capacity(BUFFER),
        }
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
