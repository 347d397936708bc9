//! `pods/log`: deterministic container logs.
//!
//! No real log body was recorded (the recording cluster had no kubelets), so every container's
//! log is a fixed timeline of lines `line N from NAMESPACE/POD/CONTAINER`: `log_lines` lines
//! already written, the last at the cluster clock ([`CLUSTER_NOW`]) and each earlier one a
//! second before, then `log_follow_lines` more that a follower sees being written, one second
//! apart after it. Because every line has a fixed timestamp, a follower that lost its
//! connection and resumes with `sinceTime` (inclusive, to the nanosecond, as the kubelet
//! compares) gets exactly the lines from there on.
//!
//! Everything around the body follows the API server: option validation (422), pod lookup
//! (404), container choice (400 with the server's messages), `204 No Content` for a pod without
//! a node (recorded), then `tailLines` (of the lines already written), `sinceSeconds` (relative
//! to the cluster clock) / `sinceTime`, `timestamps`, `limitBytes`, `previous` and `follow`
//! (lines streamed `watch_event_interval` apart, then the stream closes as if the container
//! exited; `drop_log_follow_after_lines` cuts the connection instead).

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::api::{Call, Fail, Handled, Shared};
use crate::auth::query_bool;
use crate::clock::{self, CLUSTER_NOW};
use crate::cluster::Collection;
use crate::json::go_string;
use crate::response::{Chunk, Reply};

/// A 422 for invalid `PodLogOptions`, shaped like `apierrors.NewInvalid`.
fn invalid(pod: &str, field: &str, reason: &str, detail: &str) -> Fail {
    let message = format!("PodLogOptions \"{pod}\" is invalid: {field}: {detail}");
    let details = format!(
        "{{\"name\":{},\"kind\":\"PodLogOptions\",\"causes\":[{{\"reason\":{},\"message\":{},\"field\":{}}}]}}",
        go_string(pod),
        go_string(reason),
        go_string(detail),
        go_string(field)
    );
    Fail::Status {
        code: 422,
        reason: "Invalid",
        message,
        details: Some(details),
    }
}

fn int_param(call: &Call<'_>, name: &str) -> Result<Option<i64>, Fail> {
    match call.q(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            Fail::bad_request(format!(
                "unable to parse {name} {v:?}: strconv.ParseInt: parsing {v:?}: invalid syntax"
            ))
        }),
    }
}

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The container a log request reads, with the API server's `validateContainer` errors.
pub fn choose_container(pod: &Value, requested: Option<&str>) -> Result<String, Fail> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let regular = names(pod, "containers");
    let init = names(pod, "initContainers");
    match requested.filter(|c| !c.is_empty()) {
        Some(c) => {
            let known = [&regular, &init, &names(pod, "ephemeralContainers")]
                .iter()
                .any(|l| l.iter().any(|n| n == c));
            if known {
                Ok(c.to_string())
            } else {
                Err(Fail::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match regular.len() {
            1 => Ok(regular[0].clone()),
            0 => Err(Fail::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => {
                let mut msg = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    regular.join(" ")
                );
                if !init.is_empty() {
                    msg.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                Err(Fail::bad_request(msg))
            }
        },
    }
}

/// Serves `GET .../pods/NAME/log`.
pub fn pod_log(
    shared: &Shared,
    call: &Call<'_>,
    coll: &Collection,
    namespace: Option<&str>,
    name: &str,
) -> Handled {
    let follow = query_bool(call.q("follow"));
    let previous = query_bool(call.q("previous"));
    let timestamps = query_bool(call.q("timestamps"));
    let tail = int_param(call, "tailLines")?;
    let since_seconds = int_param(call, "sinceSeconds")?;
    let limit_bytes = int_param(call, "limitBytes")?;
    let since_time = match call.q("sinceTime").filter(|v| !v.is_empty()) {
        None => None,
        Some(t) => Some(
            clock::parse_rfc3339(t)
                .map_err(|e| Fail::bad_request(format!("unable to parse sinceTime: {e}")))?,
        ),
    };
    if since_seconds.is_some() && since_time.is_some() {
        return Err(invalid(
            name,
            "sinceTime",
            "FieldValueForbidden",
            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    if let Some(n) = tail.filter(|n| *n < 0) {
        return Err(invalid(
            name,
            "tailLines",
            "FieldValueInvalid",
            &format!("Invalid value: {n}: must be greater than or equal to 0"),
        ));
    }
    for (field, v) in [("sinceSeconds", since_seconds), ("limitBytes", limit_bytes)] {
        if let Some(n) = v.filter(|n| *n < 1) {
            return Err(invalid(
                name,
                field,
                "FieldValueInvalid",
                &format!("Invalid value: {n}: must be greater than 0"),
            ));
        }
    }

    let found = shared
        .store
        .lock()
        .map_err(|_| Fail::Internal(anyhow::anyhow!("the store lock is poisoned")))?
        .get(&coll.res_key(), &coll.object_key(namespace, name));
    let Some(pod) = found else {
        return Err(Fail::not_found(&coll.group, &coll.resource, name));
    };
    let container = choose_container(&pod.value, call.q("container"))?;
    if pod
        .value
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(Fail::Recorded("pods-log-no-node-204.http"));
    }
    if previous {
        let restarts = ["containerStatuses", "initContainerStatuses"]
            .iter()
            .flat_map(|k| {
                pod.value
                    .pointer(&format!("/status/{k}"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|s| s["name"].as_str() == Some(&container))
            .and_then(|s| s["restartCount"].as_i64())
            .unwrap_or(0);
        if restarts == 0 {
            return Err(Fail::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
    }

    let written = shared.config.log_lines as i64;
    let upcoming = if follow {
        shared.config.log_follow_lines as i64
    } else {
        0
    };
    let ns = pod.namespace.as_deref().unwrap_or_default();
    let line = |i: i64| {
        let at = CLUSTER_NOW - (written - i);
        let since_ok = since_seconds.is_none_or(|s| at >= CLUSTER_NOW - s)
            && since_time.is_none_or(|t| (at, 0) >= t);
        since_ok.then(|| {
            let prefix = if timestamps {
                format!("{} ", clock::format_rfc3339_nano_fixed(at, 0))
            } else {
                String::new()
            };
            let suffix = if previous { " (previous)" } else { "" };
            format!("{prefix}line {i} from {ns}/{name}/{container}{suffix}\n")
        })
    };
    let mut lines: Vec<String> = (1..=written).filter_map(line).collect();
    // tailLines counts back from what is written now; a follower then gets what comes next.
    if let Some(t) = tail {
        let t = t as usize;
        if lines.len() > t {
            lines.drain(..lines.len() - t);
        }
    }
    lines.extend((written + 1..=written + upcoming).filter_map(line));
    // limitBytes cuts the output, even mid-line, like the kubelet's LimitWriter.
    if let Some(limit) = limit_bytes {
        let mut left = limit as usize;
        let mut cut = Vec::new();
        for l in lines {
            if left == 0 {
                break;
            }
            let mut take = l.len().min(left);
            while !l.is_char_boundary(take) {
                take -= 1;
            }
            cut.push(l[..take].to_string());
            left -= take;
        }
        lines = cut;
    }

    let template = shared.cluster.fixture("healthz.http")?;
    let mut reply = if follow {
        let (tx, rx) = mpsc::channel::<Chunk>(8);
        let interval: Duration = shared.config.watch_event_interval;
        let drop_after = shared
            .faults
            .lock()
            .ok()
            .and_then(|f| f.faults.drop_log_follow_after_lines)
            .filter(|_| call.faults);
        tokio::spawn(async move {
            for (i, l) in lines.into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(interval).await;
                }
                if tx.send(Chunk::Data(Bytes::from(l))).await.is_err() {
                    return;
                }
                if drop_after.is_some_and(|n| i + 1 >= n) {
                    // Let the line reach the socket, then cut the connection under it.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = tx.send(Chunk::Abort).await;
                    return;
                }
            }
        });
        Reply::stream(&call.ctx, &template, 200, rx)
    } else {
        // Not flushed while copying, so Go's framing rule applies: small logs get a length.
        Reply::with_template(&call.ctx, &template, 200, lines.concat())
    };
    // The kubelet's stream is proxied as plain text; no nosniff header on it.
    reply
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("X-Content-Type-Options"));
    reply.set_header("Content-Type", "text/plain");
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(f: Fail) -> String {
        match f {
            Fail::Status { message, .. } => message,
            _ => panic!("not a Status"),
        }
    }

    #[test]
    fn container_choice_uses_the_apiserver_messages() {
        let multi = json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(
            message(choose_container(&multi, None).err().unwrap()),
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [init]"
        );
        assert_eq!(choose_container(&multi, Some("b")).ok(), Some("b".into()));
        assert_eq!(
            message(choose_container(&multi, Some("x")).err().unwrap()),
            "container x is not valid for pod p"
        );
        let single = json!({"metadata": {"name": "q"}, "spec": {"containers": [{"name": "main"}]}});
        assert_eq!(choose_container(&single, None).ok(), Some("main".into()));
    }
}
