//! Two guests with different policies in one process, sharing one engine, one compiled
//! component and one connection to the API server — what a plugin platform does.
//!
//! ```sh
//! cargo run -p kubewasm-host --example two_guests -- target/wasm32-wasip2/release/guest.wasm [KUBECONFIG]
//! ```
//!
//! Guest "reader" runs with the default read-only policy; guest "confined" with a Role
//! that only allows reading pods in `demo`, so its `get secrets` is denied by the host.
//! Its `get pods` runs on an instance made before the call, as a platform that makes the
//! next call's instance ahead would.

use std::path::PathBuf;
use std::sync::Arc;

use kubewasm_host::engine::{ComponentCache, EngineOptions, new_engine_with};
use kubewasm_host::policy::Policy;
use kubewasm_host::{
    CredentialOptions, Credentials, GuestEnv, KubeCtx, Limits, ScriptRunner, Transport,
};

const CONFINED: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: confined, namespace: demo}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let guest = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: two_guests GUEST.wasm [KUBECONFIG]"))?,
    );
    let options = CredentialOptions {
        kubeconfig: args.next().map(PathBuf::from),
        ..CredentialOptions::default()
    };

    // Shared by every guest: the credential, the connection pool, the engine (with the
    // pooling allocator, as a platform instantiating per call would use), the compiled
    // component and its resolved imports.
    let credentials = Credentials::load(&options).await?;
    let transport = Arc::new(Transport::new(&credentials)?);
    let engine = new_engine_with(&EngineOptions {
        pooling_instances: Some(16),
        ..EngineOptions::default()
    })?;
    let cache = ComponentCache::new(std::env::temp_dir().join("kubewasm-example-cache"));
    let component = cache.load(&engine, &guest)?;
    let prepared = ScriptRunner::new(&engine)?.prepare(&component)?;

    let confined = Arc::new(Policy::from_yaml_str(CONFINED, "confined.yaml")?);
    let limits = Limits::default();
    let guest_env = |args: &[&str]| GuestEnv {
        args: std::iter::once("guest")
            .chain(args.iter().copied())
            .map(String::from)
            .collect(),
        ..GuestEnv::default()
    };

    let reader_env = guest_env(&["get", "nodes"]);
    let reader = {
        let mut ctx = KubeCtx::builder(credentials.identity.clone(), transport.clone());
        ctx.limits(limits.clone());
        prepared.run(&reader_env, ctx.build(), &limits)
    };
    let denied_env = guest_env(&["get", "secrets", "-n", "demo"]);
    let denied = {
        let mut ctx = KubeCtx::builder(credentials.identity.clone(), transport.clone());
        ctx.limits(limits.clone()).policy(confined.clone());
        prepared.run(&denied_env, ctx.build(), &limits)
    };
    let (reader, denied) = tokio::join!(reader, denied);
    println!("reader: exit {}", reader?.exit_code());
    println!("confined: exit {}", denied?.exit_code());

    // An instance made before its call (a platform makes the next call's instance while
    // the current call waits for the API server): the call brings its arguments; the
    // instance runs once.
    let mut ctx = KubeCtx::builder(credentials.identity.clone(), transport);
    ctx.limits(limits.clone()).policy(confined);
    let mut ahead = prepared.instantiate(ctx.build(), &limits).await;
    let pods = guest_env(&["get", "pods", "-n", "demo", "-o", "name"]);
    println!(
        "confined, pods: exit {}",
        ahead.run(&pods).await?.exit_code()
    );
    match ahead.run(&pods).await {
        Ok(outcome) => println!("confined, pods again: ran twice ({outcome:?})"),
        Err(e) => println!("confined, pods again: {e}"),
    }
    Ok(())
}
