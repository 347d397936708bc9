//! `logs`: stream a container's log to stdout as it arrives.

use std::io::Write;

use super::{Context, send};
use crate::cli::LogsArgs;
use crate::client::Transport;
use crate::error::Error;
use crate::request::{self, LogParams, Method};
use crate::resource::ResourceResolver;
use crate::status::RequestContext;

pub(super) fn run(
    args: &LogsArgs,
    context: &Context,
    transport: &mut dyn Transport,
    resolver: &dyn ResourceResolver,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (pod, container) = match args.args.as_slice() {
        [pod] => (pod, args.container.clone()),
        // kubectl's old form: `logs POD CONTAINER`.
        [pod, container] if args.container.is_none() => (pod, Some(container.clone())),
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
            let resource = resolver.resolve(kind)?;
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
    let params = LogParams {
        container,
        follow: args.follow,
        tail_lines: args.tail,
        since_seconds: args.since_seconds,
        timestamps: args.timestamps,
        previous: args.previous,
    };
    let request = request::logs(&namespace, pod, &params)?;
    let request_context = RequestContext {
        method: Method::Get,
        resource: Some("pods"),
        name: Some(pod),
    };
    let mut response = send(transport, &request, &request_context)?;
    // 204: the pod has no node yet, so there is no log; kubectl prints nothing.
    if response.status == 204 {
        return Ok(());
    }
    while let Some(chunk) = response.body.next_chunk()? {
        out.write_all(&chunk)?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::client::ClientError;
    use crate::testutil::{FakeTransport, run_full, run_with};

    #[test]
    fn logs_stream_each_chunk_as_it_arrives() {
        let mut t = FakeTransport::new().text_chunks(
            "/api/v1/namespaces/demo/pods/demo-00001/log?follow=true",
            vec![
                b"line 1\nli".to_vec(),
                b"ne 2\n".to_vec(),
                b"line 3\n".to_vec(),
            ],
        );
        let run = run_full(&["logs", "-f", "demo-00001", "-n", "demo"], &mut t);
        assert_eq!((run.code, run.err.as_str()), (0, ""));
        assert_eq!(run.out, "line 1\nline 2\nline 3\n");
        assert!(run.flushes >= 3);
        assert_eq!(
            t.requests[0].header("accept"),
            Some("application/json, */*")
        );
    }

    #[test]
    fn logs_pass_every_option() {
        let mut t = FakeTransport::new().text_chunks(
            "/api/v1/namespaces/demo/pods/demo-00001/log?container=main&previous=true&sinceSeconds=5&tailLines=3&timestamps=true",
            vec![b"x\n".to_vec()],
        );
        let (code, out, _) = run_with(
            &[
                "logs",
                "pod/demo-00001",
                "-n",
                "demo",
                "-c",
                "main",
                "--tail=3",
                "--since=5s",
                "--timestamps",
                "-p",
            ],
            &mut t,
        );
        assert_eq!((code, out.as_str()), (0, "x\n"));
    }

    #[test]
    fn logs_of_a_pod_without_node_print_nothing() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods/demo-00000/log",
            include_str!("../../../tests/fixtures/pods-log-no-node-204.http"),
        );
        let (code, out, err) = run_with(&["logs", "demo-00000", "-n", "demo"], &mut t);
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    }

    #[test]
    fn logs_server_error_prints_the_status() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods/demo-00001/log",
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
            "/api/v1/namespaces/demo/pods/demo-00001/log?follow=true",
            vec![b"partial\n".to_vec()],
            ClientError::LimitExceeded("the response exceeded 1 MiB (--max-response-bytes)".into()),
        );
        let (code, out, err) = run_with(&["logs", "-f", "demo-00001", "-n", "demo"], &mut t);
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
        assert!(t.requests.is_empty());
    }
}
