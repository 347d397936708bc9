//! A fake kube-apiserver for kubewasm's tests and demo.
//!
//! It answers with the bytes a real kube-apiserver v1.36 sent (recorded in `tests/fixtures/`,
//! embedded at build time): discovery, lists with selectors and paging, Tables, watches with
//! bookmarks and 410 Gone, pods/log, and the server's own 401/403/404/410 Status errors. TLS,
//! bearer tokens and client certificates work as on a real cluster, and every request is
//! recorded so tests can assert what a client sent.
//!
//! The cluster is stateful: creates, updates, patches (merge, JSON, strategic, server-side
//! apply) and deletes change an in-memory store with a resourceVersion counter, and live
//! watches stream the resulting events. Unchanged state is served byte for byte as recorded.
//! Faults (429 with Retry-After, dropped or closed watches, compaction, slow bodies) are
//! injected on demand through [`Faults`].
//!
//! ```no_run
//! use std::time::Duration;
//! use kubewasm_tests::{FakeApiServer, Faults, ServerConfig, Throttle};
//! let server = FakeApiServer::start(ServerConfig {
//!     watch_timeout: Duration::from_secs(30),
//!     faults: Faults {
//!         throttle: vec![Throttle::new("/api/v1/namespaces/demo/pods", 1, 2)],
//!         close_watch_after_events: Some(3),
//!         ..Faults::default()
//!     },
//!     ..ServerConfig::default()
//! })?;
//! // ... start a client watching pods in demo, then change the cluster under it:
//! server.create(
//!     "/api/v1/namespaces/demo/configmaps",
//!     r#"{"metadata":{"name":"new"},"data":{"k":"v"}}"#,
//! )?;
//! server.delete("/api/v1/namespaces/demo/pods/demo-00001")?;
//! server.compact(); // watches from before now get 410 Expired
//! # anyhow::Ok(())
//! ```
//!
//! For benchmarks at scale, [`ServerConfig::bulk_pods`] (`demo-apiserver --bulk-pods N`) adds
//! a namespace `bulk` of N generated pods cloned from the recorded ones (about 4.3 KB each,
//! real v1.36 shapes; lists, selectors, paging, Tables and metadata-only lists work on them as
//! on `demo`), and [`ServerConfig::watch_churn`] (`--watch-churn N`) makes every watch on pods
//! in `bulk` stream N `MODIFIED` events as fast as the client reads, then end. As kube-apiserver
//! does, a response body over 128 KiB is gzipped when the client sends `Accept-Encoding: gzip`
//! ([`ServerConfig::gzip`]; never watches or logs), and [`RecordedRequest::response_gzipped`]
//! says whether it was.
//!
//! ```no_run
//! use kubewasm_tests::{BulkPods, FakeApiServer, ServerConfig};
//! let server = FakeApiServer::start(ServerConfig {
//!     bulk_pods: Some(BulkPods::new(10_000)),
//!     watch_churn: Some(200_000),
//!     ..ServerConfig::default()
//! })?;
//! // GET /api/v1/namespaces/bulk/pods: 10,000 pods, about 43 MB (3.6 MB gzipped).
//! # anyhow::Ok(())
//! ```
//!
//! Module map: `server` (the handle, config, TLS), `api` (filter chain and routing), `store`
//! (objects, resourceVersions, event history), `lists` / `watch` / `logs` / `discovery`
//! (reads), `writes` (write verbs), `patch` (patch types), `managed` (managedFields),
//! `admission` (defaulting, admission, validation), `schema` (Go field order, merge keys),
//! `tree` (ordered JSON), `faults`, `table`, `selectors`, `auth`, `response` (headers, framing,
//! gzip), `fixtures`, `bulk` (the generated bulk namespace), `crd` (a CustomResourceDefinition's
//! custom resources, not recorded: `crontabs.stable.example.com` in `demo`).
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

pub mod faults;
pub mod fixtures;
pub mod pki;
pub mod server;

mod admission;
mod api;
mod auth;
mod bulk;
mod clock;
mod cluster;
mod crd;
mod discovery;
mod json;
mod lists;
mod logs;
mod managed;
mod patch;
mod response;
mod schema;
mod selectors;
mod store;
mod table;
mod tree;
mod watch;
mod writes;

#[cfg(test)]
mod bulk_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod testclient;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;

pub use bulk::{BulkPods, MAX_BULK_PODS};
pub use faults::{Faults, SlowBody, Throttle, ThrottleStyle};
pub use server::{ApiError, FakeApiServer, KubeconfigAuth, RecordedRequest, ServerConfig};
