//! kubewasm guest: a kubectl-like Kubernetes client that runs as a WebAssembly
//! component and reaches the cluster only through its host.
//!
//! The library is IO-free except for [`client`], which wraps the WIT import
//! `kubewasm:client/api`. Everything else is pure and tested natively:
//!
//! - [`resource`]: resource types (`pods`, `deploy`, `crd`) and the discovery seam;
//! - [`request`]: request building (paths, query parameters, `Accept` headers);
//! - [`status`]: the server's `Status` errors, formatted as kubectl formats them;
//! - [`table`]: server-side tables and kubectl's table printer;
//! - [`watch`]: the incremental watch-stream parser;
//! - [`output`]: `-o json`, `-o yaml`, `-o name`;
//! - [`meta`]: the `meta/v1` metadata the printers decode;
//! - [`cli`] and [`commands`]: the kubectl-like script the `guest` binary runs;
//! - [`error`]: how a command fails.
#![deny(missing_docs)]

#[allow(missing_docs, clippy::all)]
pub mod bindings;
pub mod cli;
pub mod client;
pub mod commands;
pub mod error;
mod golang;
pub mod meta;
pub mod output;
pub mod request;
pub mod resource;
pub mod status;
pub mod table;
pub mod watch;

#[cfg(test)]
mod testutil;
