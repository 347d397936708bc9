//! `guest`: the kubectl-like script, run by `host run guest.wasm ARGS...`.
//!
//! A thin shell over [`kubewasm_guest::commands::run`], written like any guest on this
//! library: [`Script`] supplies the host's client (the `api` transport, the credential's
//! default namespace), stdout and stderr, and passes the exit code through.

use kubewasm_guest::Script;
use kubewasm_guest::commands;

fn main() {
    Script::from_host().run(|script| {
        let (context, transport) = script.client.split();
        Ok(commands::run(
            std::env::args_os().skip(1),
            context,
            transport,
            &mut script.out,
            &mut script.err,
        ))
    })
}
