//! kubewasm guest: the library for writing a Rust guest that talks to Kubernetes
//! through the kubewasm host, and the kubectl-like guest written on it.
//!
//! A guest is a `wasm32-wasip2` component. It reaches the API server only through the
//! host's `kubewasm:client/api` import: the host holds the credential, checks each
//! request against the operator's policy (a Kubernetes `Role`) and audits it.
//!
//! # Writing your own guest
//!
//! A binary crate depending on `kubewasm-guest` (and `serde` for your types):
//!
//! - [`Script`] ([`script`]) is the process: `Script::from_host().run(main)` gives `main`
//!   the host's [`Client`] and buffered `out`/`err`, prints an error the way kubectl does
//!   and exits with the code `main` returns;
//! - [`Client`] ([`client`]) sends requests: `get`, `list` (every page) and `for_each`
//!   (one object at a time) decode into your `Deserialize` type or `serde_json::Value`;
//!   `logs`, and `send`/`fetch` for any [`request::Request`];
//! - [`request::ResourceUrl`] builds paths: `ResourceUrl::from_parts("apps/v1",
//!   "deployments", Some(ns))`, and [`request`] the requests for writes, logs and
//!   watches;
//! - [`Error`] ([`error`]) is how a call fails: `Error::Client(ClientError::Denied(text))`
//!   ([`Error::denial`]) when the host's policy refused (the text names the Role rule
//!   that would allow the request; nothing reached the server), `Error::Server(status)`
//!   ([`Error::status`]) with the server's [`status::Status`] (`code`, `reason`,
//!   `message`, predicates such as `is_not_found`);
//! - for watches that survive the server ending them, [`watcher::Watcher`] runs over
//!   `client.transport()`.
//!
//! ```no_run
//! use std::io::Write;
//!
//! use kubewasm_guest::client::ClientError;
//! use kubewasm_guest::request::{ListParams, ResourceUrl};
//! use kubewasm_guest::{Error, Script};
//!
//! /// The fields this guest reads; serde skips the rest.
//! #[derive(serde::Deserialize)]
//! struct Pod {
//!     metadata: kubewasm_guest::meta::ObjectMeta,
//! }
//!
//! fn main() {
//!     Script::from_host().run(|script| {
//!         let namespace = script.client.namespace().to_string();
//!         let url = ResourceUrl::from_parts("v1", "pods", Some(&namespace))?;
//!         match script.client.list::<Pod>(&url, &ListParams::default()) {
//!             Ok(pods) => {
//!                 for pod in pods {
//!                     writeln!(script.out, "{}", pod.metadata.name)?;
//!                 }
//!                 Ok(0)
//!             }
//!             // The host's policy refused; its text has the Role rule that would allow it.
//!             Err(Error::Client(ClientError::Denied(text))) => {
//!                 writeln!(script.err, "not allowed: {text}")?;
//!                 Ok(3)
//!             }
//!             // Anything else is printed as kubectl prints it, and exits 1.
//!             Err(e) => Err(e),
//!         }
//!     })
//! }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (the output is a
//! component for the host's `script` world) and run it with
//! `host run --policy ROLE.yaml target/wasm32-wasip2/release/NAME.wasm ARGS...`.
//! `examples/rust-guest/` in the repository is a complete one, with its Role and its
//! end-to-end tests.
//!
//! # The modules
//!
//! The library is IO-free except for [`client`], which wraps the WIT import
//! `kubewasm:client/api`, and [`script`], which wraps the WASI process. Everything else
//! is pure and tested natively:
//!
//! - [`resource`]: resource types (`pods`, `deploy`, `crd`) and the discovery seam;
//! - [`discovery`]: what the server serves (aggregated discovery v2, v1 fallback);
//! - [`request`]: request building (paths, query parameters, `Accept` headers);
//! - [`retry`]: when a request is retried, and reconnection backoff;
//! - [`status`]: the server's `Status` errors, formatted as kubectl formats them;
//! - [`table`]: server-side tables and kubectl's table printer;
//! - [`liststream`]: list bodies decoded item by item as they arrive;
//! - [`logstream`]: log lines, and resuming a followed log without repeating lines;
//! - [`watch`]: the incremental watch-stream parser;
//! - [`watcher`]: list-then-watch that resumes, relists on `410 Gone` and backs off;
//! - [`output`]: `-o json`, `-o yaml`, `-o name`;
//! - [`manifest`]: the objects of a `-f` file (multi-document YAML or JSON);
//! - [`meta`]: the `meta/v1` metadata the printers decode;
//! - [`cli`] and [`commands`]: the kubectl-like script the `guest` binary runs;
//! - [`error`]: how a command fails.
#![deny(missing_docs)]

#[allow(missing_docs, clippy::all)]
pub mod bindings;
pub mod cli;
pub mod client;
pub mod commands;
pub mod discovery;
pub mod error;
mod golang;
pub mod liststream;
pub mod logstream;
pub mod manifest;
pub mod meta;
pub mod output;
pub mod request;
pub mod resource;
pub mod retry;
pub mod script;
pub mod status;
pub mod table;
pub mod watch;
pub mod watcher;

pub use client::Client;
pub use error::Error;
pub use script::Script;

#[cfg(test)]
mod testutil;
