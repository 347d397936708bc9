//! kubewasm's host: runs WebAssembly guests that talk to a Kubernetes API server, while
//! the host keeps the credential, the TLS connection and the network to itself.
//!
//! A guest imports two interfaces from the `kubewasm:client` WIT package (`wit/`):
//! `credentials` (who it acts as — never secret bytes) and `api` (send one request, get a
//! streaming response or a typed error). Or it uses its language's HTTP client over
//! `wasi:http/outgoing-handler` with `https://kubernetes.default.svc` ([`http`]). Both
//! doors lead into one pipeline (policy, credential, transport, audit, limits). This
//! crate implements them in wasmtime-wasi's style: build a [`KubeCtx`], lend it out of
//! your store through [`KubeView`], and wire it into your `Linker` with
//! [`add_to_linker`] beside `wasmtime_wasi`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kubewasm_host::{Credentials, CredentialOptions, GuestEnv, KubeCtx, Limits, ScriptRunner, Transport};
//! use kubewasm_host::engine::{ComponentCache, new_engine};
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let credentials = Credentials::load(&CredentialOptions::default()).await?;
//! let transport = Arc::new(Transport::new(&credentials)?);
//! let engine = new_engine()?;
//! let component = ComponentCache::new("/var/cache/kubewasm")
//!     .load(&engine, "guest.wasm".as_ref())?;
//! let runner = ScriptRunner::new(&engine)?;
//! let guest_env = GuestEnv {
//!     args: ["guest", "get", "pods"].map(String::from).to_vec(),
//!     ..GuestEnv::default()
//! };
//! let limits = Limits::default();
//! let mut kube = KubeCtx::builder(credentials.identity.clone(), transport);
//! kube.limits(limits.clone());
//! let outcome = runner.run(&component, &guest_env, kube.build(), &limits).await?;
//! std::process::exit(outcome.exit_code());
//! # }
//! ```

#![deny(missing_docs)]

pub mod api;
pub mod audit;
pub mod bindings;
pub mod body;
pub mod cache;
pub mod cli;
pub mod credentials;
pub mod discovery;
pub mod engine;
pub mod http;
pub mod inspect;
pub mod limits;
pub mod mcp;
mod pipeline;
/// The access policy (re-exported from the IO-free `kubewasm-policy` crate).
pub use kubewasm_policy as policy;
pub mod reauth;
pub mod runner;
pub mod sanitize;
pub mod script;
pub mod session;
pub mod suggest;
pub mod transport;
pub mod trusted;

pub use api::{KubeCtx, KubeCtxBuilder, KubeCtxView, KubeView};

/// Adds everything a kubewasm guest may import besides WASI to a linker whose store data
/// implements [`KubeView`]: `kubewasm:client/credentials` and `kubewasm:client/api`
/// ([`api::add_to_linker`]) and `wasi:http/outgoing-handler` with `wasi:http/types`
/// ([`http::add_to_linker`]), both served by the store's [`KubeCtx`]. The linker must
/// also have wasmtime-wasi (`wasmtime_wasi::p2::add_to_linker_async`); the engine must
/// have async support. Components import only what they use, so a guest without
/// `wasi:http` costs nothing more to instantiate.
pub fn add_to_linker<T: KubeView + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    api::add_to_linker(linker)?;
    http::add_to_linker(linker)
}
pub use credentials::{CredentialOptions, Credentials, Identity};
pub use limits::Limits;
pub use runner::{DirGrant, GuestEnv, Outcome, ReadyGuest, ScriptRunner};
pub use transport::{ErrorCode, Transport, TransportOptions};
