//! kubewasm guest: a kubectl-like Kubernetes client that runs as a WebAssembly
//! component and reaches the cluster only through its host.
//!
//! The library is IO-free except for [`client`], which wraps the WIT import
//! `kubewasm:client/api`. Everything else is pure and tested natively:
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
pub mod status;
pub mod table;
pub mod watch;
pub mod watcher;

#[cfg(test)]
mod testutil;
