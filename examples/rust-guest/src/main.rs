//! pods-not-ready [-n NAMESPACE]: the pods of a namespace that are not Ready, with their
//! restart counts. A custom guest on the `kubewasm-guest` library; README.md says how to
//! build and run it. Exit codes: 0 listed, 3 denied by the host's policy, 4 refused by the
//! API server, 1 anything else.

use std::io::Write;

use kubewasm_guest::request::{ListParams, ResourceUrl};
use kubewasm_guest::{Error, Script, client::ClientError, meta::ObjectMeta};
use serde::Deserialize;

/// The parts of a Pod this guest reads; serde skips the rest.
#[derive(Deserialize)]
struct Pod {
    metadata: ObjectMeta,
    status: PodStatus,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodStatus {
    phase: String,
    conditions: Vec<Condition>,
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize)]
struct Condition {
    r#type: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    restart_count: u32,
}

const USAGE: &str = "usage: pods-not-ready [-n NAMESPACE]";

fn main() {
    Script::from_host().run(pods_not_ready)
}

fn pods_not_ready(script: &mut Script) -> Result<u8, Error> {
    let namespace = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => script.client.namespace().to_string(),
        [flag, ns] if flag == "-n" || flag == "--namespace" => ns.clone(),
        _ => return Err(Error::Invalid(USAGE.into())),
    };
    let url = ResourceUrl::from_parts("v1", "pods", Some(&namespace))?;
    let (code, why) = match script.client.list::<Pod>(&url, &ListParams::default()) {
        Ok(pods) => return print(script, &pods),
        // The host's text names the request and the Role rule that would allow it.
        Err(Error::Client(ClientError::Denied(text))) => (3, text),
        Err(Error::Server(s)) => (4, format!("{} {}: {}", s.code, s.reason, s.message)),
        Err(e) => return Err(e),
    };
    writeln!(script.err, "cannot list pods in {namespace}: {why}")?;
    Ok(code)
}

fn print(script: &mut Script, pods: &[Pod]) -> Result<u8, Error> {
    let mut not_ready = 0;
    for Pod { metadata, status } in pods {
        let ready = |c: &Condition| c.r#type == "Ready" && c.status == "True";
        // A pod that ran to completion is never Ready, and that is no problem.
        if !status.conditions.iter().any(ready) && status.phase != "Succeeded" {
            not_ready += 1;
            let statuses = &status.container_statuses;
            let restarts: u32 = statuses.iter().map(|c| c.restart_count).sum();
            let (name, phase) = (&metadata.name, &status.phase);
            writeln!(script.out, "{name}: {phase}, {restarts} restarts")?;
        }
    }
    writeln!(script.out, "{not_ready} of {} pods not Ready", pods.len())?;
    Ok(0)
}
