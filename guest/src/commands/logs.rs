//! `logs`: stream a container's log to stdout as it arrives; a follow survives a
//! dropped connection (see [`crate::logstream`]).

use std::io::Write;

use serde::Deserialize;

use super::{Context, Types, fetch, send};
use crate::cli::LogsArgs;
use crate::client::{ClientError, Transport};
use crate::error::Error;
use crate::logstream::LogLines;
use crate::meta::nullable;
use crate::request::{self, Format, LogParams, Method, ResourceUrl};
use crate::resource::{BuiltinResources, ResourceResolver};
use crate::retry::Backoff;
use crate::status::RequestContext;

/// The annotation naming the container `kubectl logs` and `exec` use by default.
const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// A followed log gives up after this many consecutive failed reconnections that
/// printed nothing.
pub const MAX_FAILURES: u32 = 10;

pub(super) fn run(
    args: &LogsArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let (pod, container) = match args.args.as_slice() {
        [pod] => (pod, args.container.clone()),
        // kubectl's old form: `logs POD CONTAINER`.
        [pod, container] if args.container.is_none() && !args.all_containers => {
            (pod, Some(container.clone()))
        }
        [_, _] => {
            return Err(Error::Invalid(
                "only one of -c or an inline [CONTAINER] arg is allowed".into(),
            ));
        }
        _ => {
            return Err(Error::Invalid(
                "expected POD or TYPE/NAME is a required argument for the logs command".into(),
            ));
        }
    };
    let pod = match pod.split_once('/') {
        Some((kind, name)) => {
            let resource = types.resolve(transport, err, kind)?;
            if !(resource.group.is_empty() && resource.plural == "pods") {
                return Err(Error::Invalid(format!(
                    "logs of {} are not supported yet; name a pod",
                    resource.group_resource()
                )));
            }
            name
        }
        None => pod.as_str(),
    };
    let namespace = args
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| context.namespace.clone());
    let containers = match container {
        Some(container) => vec![container],
        None => {
            let spec = get_pod(transport, &namespace, pod)?;
            if args.all_containers {
                spec.all_containers()
            } else {
                vec![spec.default_container(pod, err)?]
            }
        }
    };
    if args.follow && containers.len() > 1 {
        return Err(Error::Invalid(format!(
            "following {} containers at once is not supported; follow one with -c (choose one of: [{}])",
            containers.len(),
            containers.join(" ")
        )));
    }
    for container in containers {
        let params = LogParams {
            container: Some(container.clone()),
            follow: args.follow,
            tail_lines: args.tail,
            since_seconds: args.since_seconds,
            since_time: args.since_time.clone(),
            limit_bytes: args.limit_bytes,
            timestamps: args.timestamps,
            previous: args.previous,
        };
        let prefix = args.prefix.then(|| format!("[pod/{pod}/{container}] "));
        stream(transport, &namespace, pod, &params, prefix, out)?;
    }
    Ok(())
}

/// Streams one container's log, resuming a follow after a dropped connection.
fn stream(
    transport: &mut dyn Transport,
    namespace: &str,
    pod: &str,
    params: &LogParams,
    prefix: Option<String>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let context = RequestContext {
        method: Method::Get,
        resource: Some("pods"),
        name: Some(pod),
    };
    let mut lines = LogLines::new(params, prefix);
    let mut request_params = lines.first_request(params);
    let mut backoff = Backoff::new();
    let mut failures = 0;
    loop {
        let failure = match read_once(
            transport,
            namespace,
            pod,
            &request_params,
            &context,
            &mut lines,
            out,
        ) {
            Ok(()) => return Ok(()),
            Err(e) if lines.resumable() && is_retryable(&e) => e,
            Err(e) => return Err(e),
        };
        if lines.printed() > 0 {
            failures = 0;
            backoff.reset();
        }
        failures += 1;
        if failures >= MAX_FAILURES {
            return Err(Error::Invalid(format!(
                "giving up on following the log of pod {pod} after {MAX_FAILURES} attempts in a row without progress: {}",
                failure.to_string().trim_start_matches("error: ")
            )));
        }
        transport.backoff(backoff.next_delay());
        request_params = lines.resume_request(params);
    }
}

/// One request: prints its lines until the body ends (`Ok`) or breaks.
fn read_once(
    transport: &mut dyn Transport,
    namespace: &str,
    pod: &str,
    params: &LogParams,
    context: &RequestContext<'_>,
    lines: &mut LogLines,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let request = request::logs(namespace, pod, params)?;
    let mut response = send(transport, &request, context)?;
    // 204: the pod has no node yet, so there is no log; kubectl prints nothing.
    if response.status == 204 {
        return Ok(());
    }
    while let Some(chunk) = response.body.next_chunk()? {
        out.write_all(&lines.feed(&chunk))?;
        out.flush()?;
    }
    out.write_all(&lines.finish())?;
    out.flush()?;
    Ok(())
}

/// Whether a broken follow is worth resuming: a dropped or refused connection, or the
/// server (or kubelet) failing for now. Not a host limit or a refusal.
fn is_retryable(error: &Error) -> bool {
    match error {
        Error::Client(e) => matches!(
            e,
            ClientError::Connect(_) | ClientError::Timeout | ClientError::Body(_)
        ),
        Error::Server(status) => status.code == 429 || status.code >= 500,
        _ => false,
    }
}

/// The parts of a Pod that choose the container.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pod {
    metadata: PodMeta,
    spec: PodSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PodMeta {
    #[serde(deserialize_with = "nullable")]
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodSpec {
    #[serde(deserialize_with = "nullable")]
    containers: Vec<Named>,
    #[serde(deserialize_with = "nullable")]
    init_containers: Vec<Named>,
    #[serde(deserialize_with = "nullable")]
    ephemeral_containers: Vec<Named>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    name: String,
}

fn names(containers: &[Named]) -> Vec<String> {
    containers.iter().map(|c| c.name.clone()).collect()
}

impl Pod {
    /// Init containers, containers, ephemeral containers: kubectl's
    /// `--all-containers` order.
    fn all_containers(&self) -> Vec<String> {
        let spec = &self.spec;
        [
            &spec.init_containers,
            &spec.containers,
            &spec.ephemeral_containers,
        ]
        .into_iter()
        .flat_map(|c| names(c))
        .collect()
    }

    /// The annotated default container, else the only one, else an error listing them.
    fn default_container(&self, pod: &str, err: &mut dyn Write) -> Result<String, Error> {
        let containers = names(&self.spec.containers);
        if let Some(wanted) = self.metadata.annotations.get(DEFAULT_CONTAINER_ANNOTATION) {
            if containers.contains(wanted) || names(&self.spec.init_containers).contains(wanted) {
                return Ok(wanted.clone());
            }
            // kubectl warns and goes on without the annotation.
            writeln!(
                err,
                "Warning: default container name \"{wanted}\" not found in pod {pod}"
            )?;
        }
        match containers.as_slice() {
            [only] => Ok(only.clone()),
            _ => {
                let mut message = format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    containers.join(" ")
                );
                if !self.spec.init_containers.is_empty() {
                    message.push_str(&format!(
                        " or one of the init containers: [{}]",
                        names(&self.spec.init_containers).join(" ")
                    ));
                }
                Err(Error::Invalid(message))
            }
        }
    }
}

fn get_pod(transport: &mut dyn Transport, namespace: &str, pod: &str) -> Result<Pod, Error> {
    let pods = BuiltinResources.resolve("pods")?;
    let request = ResourceUrl::new(&pods, Some(namespace))?.get(pod, Format::Json)?;
    let context = RequestContext {
        method: Method::Get,
        resource: Some("pods"),
        name: Some(pod),
    };
    fetch(transport, &request, &context)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::client::ClientError;
    use crate::testutil::{FakeTransport, run_full, run_with};

    const POD: &str = include_str!("../../../tests/fixtures/pod-get.http");
    const LOG: &str = "/api/v1/namespaces/demo/pods/demo-00001/log";

    /// A pod `p` in `demo` with `containers`, `init` containers and annotations.
    fn pod(containers: &[&str], init: &[&str], default: Option<&str>) -> String {
        let list = |names: &[&str]| {
            names
                .iter()
                .map(|n| format!(r#"{{"name":"{n}","image":"x"}}"#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let annotations = default
            .map(|d| {
                format!(r#""annotations":{{"kubectl.kubernetes.io/default-container":"{d}"}},"#)
            })
            .unwrap_or_default();
        format!(
            r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{{annotations}"name":"p","namespace":"demo"}},"spec":{{"containers":[{}],"initContainers":[{}]}}}}"#,
            list(containers),
            list(init)
        )
    }

    #[test]
    fn logs_stream_each_line_as_it_arrives_without_the_internal_timestamps() {
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods/demo-00001", POD)
            .text_chunks(
                &format!("{LOG}?container=main&follow=true&timestamps=true"),
                vec![
                    b"2026-11-28T15:27:03.1Z line 1\n2026-11-28T15:27:03.2Z li".to_vec(),
                    b"ne 2\n".to_vec(),
                    b"2026-11-28T15:27:04Z line 3\n".to_vec(),
                ],
            );
        let run = run_full(&["logs", "-f", "demo-00001", "-n", "demo"], &mut t);
        assert_eq!((run.code, run.err.as_str()), (0, ""));
        assert_eq!(run.out, "line 1\nline 2\nline 3\n");
        assert!(run.flushes >= 3);
        assert_eq!(
            t.requests[1].header("accept"),
            Some("application/json, */*")
        );
    }

    #[test]
    fn logs_follow_resumes_with_since_time_without_repeating_lines() {
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods/demo-00001", POD)
            .failing_text(
                &format!("{LOG}?container=main&follow=true&tailLines=2&timestamps=true"),
                vec![b"2026-11-28T15:27:03Z a\n2026-11-28T15:27:04Z b\n2026-11-28T15:27:05Z cu".to_vec()],
                ClientError::Body("connection reset by peer".into()),
            )
            .fail(
                &format!("{LOG}?container=main&follow=true&sinceTime=2026-11-28T15%3A27%3A04Z&timestamps=true"),
                ClientError::Connect("dial tcp 127.0.0.1:6443: connect: connection refused".into()),
            )
            .text_chunks(
                &format!("{LOG}?container=main&follow=true&sinceTime=2026-11-28T15%3A27%3A04Z&timestamps=true"),
                vec![b"2026-11-28T15:27:04Z b\n2026-11-28T15:27:05Z cut\n2026-11-28T15:27:06Z d\n".to_vec()],
            );
        let (code, out, err) = run_with(
            &[
                "logs",
                "-f",
                "demo-00001",
                "-n",
                "demo",
                "--tail",
                "2",
                "--prefix",
            ],
            &mut t,
        );
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(
            out,
            "[pod/demo-00001/main] a\n[pod/demo-00001/main] b\n[pod/demo-00001/main] cut\n[pod/demo-00001/main] d\n"
        );
        assert_eq!(
            t.sleeps,
            [Duration::from_millis(200), Duration::from_millis(400)]
        );
    }

    #[test]
    fn logs_follow_gives_up_after_ten_attempts_without_progress() {
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods/demo-00001", POD)
            .fail(
                &format!("{LOG}?container=main&follow=true&timestamps=true"),
                ClientError::Timeout,
            );
        let (code, _, err) = run_with(&["logs", "-f", "demo-00001", "-n", "demo"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "error: giving up on following the log of pod demo-00001 after 10 attempts in a row without progress: Unable to connect to the server: timeout: the server did not answer in time\n"
        );
        assert_eq!(t.sleeps.len(), 9);
    }

    #[test]
    fn logs_pass_every_option() {
        let mut t = FakeTransport::new().text_chunks(
            &format!("{LOG}?container=main&limitBytes=100&previous=true&sinceTime=2026-11-28T15%3A27%3A03Z&tailLines=3&timestamps=true"),
            vec![b"2026-11-28T15:27:03Z x\n".to_vec()],
        );
        let (code, out, err) = run_with(
            &[
                "logs",
                "pod/demo-00001",
                "-n",
                "demo",
                "-c",
                "main",
                "--tail=3",
                "--since-time=2026-11-28T15:27:03Z",
                "--limit-bytes=100",
                "--timestamps",
                "-p",
            ],
            &mut t,
        );
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "2026-11-28T15:27:03Z x\n", "")
        );
        // -c names the container: no need to read the pod.
        assert_eq!(t.requests.len(), 1);
    }

    #[test]
    fn logs_use_the_annotated_default_container() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods/p",
                200,
                &pod(&["a", "b"], &[], Some("b")),
            )
            .text_chunks(
                "/api/v1/namespaces/demo/pods/p/log?container=b",
                vec![b"from b\n".to_vec()],
            );
        let (code, out, _) = run_with(&["logs", "p", "-n", "demo"], &mut t);
        assert_eq!((code, out.as_str()), (0, "from b\n"));
    }

    #[test]
    fn logs_of_a_pod_with_several_containers_list_them() {
        let mut t = FakeTransport::new().json(
            "/api/v1/namespaces/demo/pods/p",
            200,
            &pod(&["a", "b"], &["init"], None),
        );
        let (code, _, err) = run_with(&["logs", "p", "-n", "demo"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "error: a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [init]\n"
        );
        let mut t = FakeTransport::new().json(
            "/api/v1/namespaces/demo/pods/p",
            200,
            &pod(&["a", "b"], &[], Some("gone")),
        );
        let (_, _, err) = run_with(&["logs", "p", "-n", "demo"], &mut t);
        assert_eq!(
            err,
            "Warning: default container name \"gone\" not found in pod p\nerror: a container name must be specified for pod p, choose one of: [a b]\n"
        );
    }

    #[test]
    fn logs_all_containers_with_prefix_in_kubectls_order() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods/p",
                200,
                &pod(&["a", "b"], &["init"], None),
            )
            .text_chunks(
                "/api/v1/namespaces/demo/pods/p/log?container=init",
                vec![b"i\n".to_vec()],
            )
            .text_chunks(
                "/api/v1/namespaces/demo/pods/p/log?container=a",
                vec![b"x\ny".to_vec()],
            )
            .text_chunks(
                "/api/v1/namespaces/demo/pods/p/log?container=b",
                vec![b"z\n".to_vec()],
            );
        let (code, out, _) = run_with(
            &["logs", "p", "-n", "demo", "--all-containers", "--prefix"],
            &mut t,
        );
        assert_eq!(code, 0);
        assert_eq!(out, "[pod/p/init] i\n[pod/p/a] x\n[pod/p/a] y[pod/p/b] z\n");
        let (code, _, err) = run_with(
            &["logs", "p", "-n", "demo", "--all-containers", "-f"],
            &mut t,
        );
        assert_eq!(code, 1);
        assert!(
            err.starts_with("error: following 3 containers at once is not supported"),
            "{err}"
        );
    }

    #[test]
    fn logs_of_a_pod_without_node_print_nothing() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods/demo-00000/log?container=main",
            include_str!("../../../tests/fixtures/pods-log-no-node-204.http"),
        );
        let (code, out, err) =
            run_with(&["logs", "demo-00000", "-n", "demo", "-c", "main"], &mut t);
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    }

    #[test]
    fn logs_server_error_prints_the_status() {
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods/demo-00001", POD)
            .fixture(
                &format!("{LOG}?container=main"),
                include_str!("../../../tests/fixtures/error-500-pods-log-kubelet-unreachable.http"),
            );
        let (code, _, err) = run_with(&["logs", "demo-00001", "-n", "demo"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "Error from server: Get \"https://127.0.10.2:10250/containerLogs/demo/demo-00001/main\": dial tcp 127.0.10.2:10250: connect: connection refused\n"
        );
    }

    #[test]
    fn logs_stream_that_breaks_reports_the_hosts_reason() {
        let mut t = FakeTransport::new().failing_text(
            &format!("{LOG}?container=main&follow=true&timestamps=true"),
            vec![b"2026-11-28T15:27:03Z partial\n".to_vec()],
            ClientError::LimitExceeded("the response exceeded 1 MiB (--max-response-bytes)".into()),
        );
        let (code, out, err) = run_with(
            &["logs", "-f", "demo-00001", "-n", "demo", "-c", "main"],
            &mut t,
        );
        assert_eq!(code, 1);
        assert_eq!(out, "partial\n");
        assert_eq!(
            err,
            "error: the response exceeded 1 MiB (--max-response-bytes)\n"
        );
    }

    #[test]
    fn logs_argument_errors() {
        let mut t = FakeTransport::new();
        let (code, _, err) = run_with(&["logs"], &mut t);
        assert_eq!(code, 1);
        assert!(err.starts_with("error: expected POD or TYPE/NAME"), "{err}");
        let (_, _, err) = run_with(&["logs", "deploy/web"], &mut t);
        assert_eq!(
            err,
            "error: logs of deployments.apps are not supported yet; name a pod\n"
        );
        let (_, _, err) = run_with(&["logs", "a", "b", "-c", "c"], &mut t);
        assert_eq!(
            err,
            "error: only one of -c or an inline [CONTAINER] arg is allowed\n"
        );
        let (_, _, err) = run_with(&["logs", "a", "-c", "c", "--all-containers"], &mut t);
        assert_eq!(
            err,
            "error: --all-containers=true should not be specified with container name c\n"
        );
        let (_, _, err) = run_with(
            &[
                "logs",
                "a",
                "--since=1m",
                "--since-time=2026-11-28T15:27:03Z",
            ],
            &mut t,
        );
        assert_eq!(
            err,
            "error: at most one of `sinceTime` or `sinceSeconds` may be specified\n"
        );
        let (_, _, err) = run_with(&["logs", "a", "--since-time=yesterday"], &mut t);
        assert!(
            err.starts_with("error: --since-time must be an RFC 3339 time"),
            "{err}"
        );
        assert!(t.requests.is_empty());
    }
}
