//! kubewasm's host: runs WebAssembly guests that talk to a Kubernetes API server, while
//! the host keeps the credential, the TLS connection and the network to itself.
//!
//! A guest imports two interfaces from the `kubewasm:client` WIT package (`wit/`):
//! `credentials` (who it acts as — never secret bytes) and `api` (send one request, get a
//! streaming response or a typed error). This crate implements them in wasmtime-wasi's
//! style: build a [`KubeCtx`], lend it out of your store through [`KubeView`], and wire
//! it into your `Linker` with [`add_to_linker`] beside `wasmtime_wasi`.
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
pub mod inspect;
pub mod limits;
pub mod mcp;
/// The access policy (re-exported from the IO-free `kubewasm-policy` crate).
pub use kubewasm_policy as policy;
pub mod reauth;
pub mod runner;
pub mod sanitize;
pub mod session;
pub mod suggest;
pub mod transport;
pub mod trusted;

pub use api::{KubeCtx, KubeCtxBuilder, KubeCtxView, KubeView, add_to_linker};
pub use credentials::{CredentialOptions, Credentials, Identity};
pub use limits::Limits;
pub use runner::{DirGrant, GuestEnv, Outcome, ScriptRunner};
pub use transport::{ErrorCode, Transport};
