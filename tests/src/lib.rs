//! A fake kube-apiserver for kubewasm's tests and demo.
//!
//! It answers with the bytes a real kube-apiserver v1.36 sent (recorded in `tests/fixtures/`,
//! embedded at build time): discovery, lists with selectors and paging, Tables, watches with
//! bookmarks and 410 Gone, pods/log, and the server's own 401/403/404/410 Status errors. TLS,
//! bearer tokens and client certificates work as on a real cluster, and every request is
//! recorded so tests can assert what a client sent.
//!
//! ```no_run
//! use kubewasm_tests::{FakeApiServer, KubeconfigAuth, ServerConfig};
//! let server = FakeApiServer::start(ServerConfig::default())?;
//! server.write_kubeconfig(
//!     std::path::Path::new("/tmp/kubeconfig"),
//!     KubeconfigAuth::Token("kubewasm-demo-admin-token".into()),
//!     Some("demo"),
//! )?;
//! // ... run a client against server.url() ...
//! assert!(server.requests().iter().all(|r| r.header("authorization").is_some()));
//! # anyhow::Ok(())
//! ```

pub mod fixtures;
pub mod pki;
pub mod server;

mod api;
mod auth;
mod clock;
mod cluster;
mod discovery;
mod json;
mod lists;
mod logs;
mod response;
mod selectors;
mod table;
mod watch;

#[cfg(test)]
mod testclient;
#[cfg(test)]
mod tests;

pub use server::{FakeApiServer, KubeconfigAuth, RecordedRequest, ServerConfig};
