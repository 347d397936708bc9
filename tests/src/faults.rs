//! Fault injection: what a client must survive on a real cluster, on demand.
//!
//! All faults are off by default. Tests set them in [`crate::ServerConfig::faults`] or swap them
//! while the server runs with [`crate::FakeApiServer::set_faults`]. Each one reproduces a real
//! server behaviour with its real wire shape:
//! - [`Throttle`]: `429 Too Many Requests` with `Retry-After`, either as the `Status` the API
//!   server's storage layer returns while its watch cache (re)initializes
//!   (`apierrors.NewTooManyRequests("storage is (re)initializing", N)`: reason
//!   `TooManyRequests`, `details.retryAfterSeconds`), or as the plain-text rejection of API
//!   Priority and Fairness (`tooManyRequests` in `k8s.io/apiserver/pkg/server/filters`);
//! - `drop_watch_after_events` / `drop_log_follow_after_lines`: the connection is cut, as when a
//!   load balancer or the server dies: no final chunk, no TLS close_notify;
//! - `close_watch_after_events`: the server ends the watch cleanly early, as it does at its
//!   request timeout (every 5-10 minutes on a real cluster);
//! - `expire_watch_rv_below`: the history before that resourceVersion is compacted, so a watch
//!   or list from an older version gets 410 Expired and the client must relist;
//! - [`SlowBody`]: a large list trickles in, chunk by chunk.

use std::time::Duration;

use bytes::Bytes;

use crate::fixtures::Fixture;
use crate::response::{Ctx, Reply, ResponseBody, status_body};

/// Which faults the server injects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Requests to throttle with `429 Too Many Requests`.
    pub throttle: Vec<Throttle>,
    /// Cut the connection of every watch after this many events (`ADDED`, `MODIFIED`,
    /// `DELETED`; bookmarks do not count): no final chunk, as if the network failed.
    pub drop_watch_after_events: Option<usize>,
    /// End every watch cleanly after this many events, as the server does at its timeout (a
    /// final `BOOKMARK` first when the client allowed bookmarks).
    pub close_watch_after_events: Option<usize>,
    /// History before this resourceVersion is compacted: watches (and exact or continued lists)
    /// from an older version get 410 Expired. [`crate::FakeApiServer::compact`] does the same
    /// at runtime for everything before the current version.
    pub expire_watch_rv_below: Option<u64>,
    /// Cut the connection of every followed log (`follow=true`) after this many lines.
    pub drop_log_follow_after_lines: Option<usize>,
    /// Send list bodies larger than one chunk slowly.
    pub slow_body: Option<SlowBody>,
}

/// Throttles the first `count` requests whose path (with query) starts with `path_prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttle {
    /// Matched against the request's path and query, e.g. `/api/v1/namespaces/demo/pods` or
    /// `/api/v1/namespaces/demo/pods?watch`.
    pub path_prefix: String,
    /// How many matching requests are rejected; later ones are served.
    pub count: usize,
    /// `Retry-After` (and `details.retryAfterSeconds`), in seconds.
    pub retry_after_secs: u64,
    /// The shape of the 429.
    pub style: ThrottleStyle,
}

impl Throttle {
    /// Rejects the first `count` requests under `path_prefix` with a 429 `Status`.
    pub fn new(path_prefix: impl Into<String>, count: usize, retry_after_secs: u64) -> Throttle {
        Throttle {
            path_prefix: path_prefix.into(),
            count,
            retry_after_secs,
            style: ThrottleStyle::Status,
        }
    }

    /// The same, answered the way API Priority and Fairness rejects (plain text).
    pub fn priority_and_fairness(mut self) -> Throttle {
        self.style = ThrottleStyle::PriorityAndFairness;
        self
    }
}

impl<S: Into<String>> From<(S, usize, u64)> for Throttle {
    fn from((prefix, count, secs): (S, usize, u64)) -> Throttle {
        Throttle::new(prefix, count, secs)
    }
}

/// The body of a 429.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThrottleStyle {
    /// `{"kind":"Status",...,"message":"storage is (re)initializing","reason":"TooManyRequests",
    /// "details":{"retryAfterSeconds":N},"code":429}`, `Content-Type: application/json`.
    #[default]
    Status,
    /// `Too many requests, please try again later.` as `text/plain; charset=utf-8`.
    PriorityAndFairness,
}

/// A list body sent `chunk_bytes` at a time with `delay` between chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowBody {
    /// Bytes per chunk.
    pub chunk_bytes: usize,
    /// Pause before each chunk after the first.
    pub delay: Duration,
}

/// Faults plus how many requests each throttle has rejected.
#[derive(Debug, Default)]
pub struct FaultState {
    /// The faults in force.
    pub faults: Faults,
    rejected: Vec<usize>,
}

impl FaultState {
    /// Fresh counters for `faults`.
    pub fn new(faults: Faults) -> FaultState {
        let rejected = vec![0; faults.throttle.len()];
        FaultState { faults, rejected }
    }

    /// Counts the request against the first matching throttle that still rejects; returns it.
    pub fn throttle(&mut self, path_and_query: &str) -> Option<Throttle> {
        for (t, n) in self.faults.throttle.iter().zip(self.rejected.iter_mut()) {
            if path_and_query.starts_with(&t.path_prefix) && *n < t.count {
                *n += 1;
                return Some(t.clone());
            }
        }
        None
    }
}

/// The 429 for a throttled request. `status_template` is a recorded `Status` error, whose
/// headers (with this request's Audit-Id and flow schema) the reply reuses.
pub fn too_many_requests(ctx: &Ctx, status_template: &Fixture, t: &Throttle) -> Reply {
    let secs = t.retry_after_secs.to_string();
    let mut reply = match t.style {
        ThrottleStyle::Status => {
            let details = format!("{{\"retryAfterSeconds\":{secs}}}");
            let body = status_body(
                429,
                "TooManyRequests",
                "storage is (re)initializing",
                Some(&details),
            );
            Reply::with_template(ctx, status_template, 429, body)
        }
        ThrottleStyle::PriorityAndFairness => {
            // `http.Error`: plain text, nosniff, the message and a newline.
            let mut r = Reply::with_template(ctx, status_template, 429, String::new());
            r.set_header("Content-Type", "text/plain; charset=utf-8");
            r.set_header("X-Content-Type-Options", "nosniff");
            r.body = ResponseBody::Full(Some(Bytes::from_static(
                b"Too many requests, please try again later.\n",
            )));
            r
        }
    };
    reply.set_header("Retry-After", &secs);
    // Go writes header names sorted (`Header.Write`); keep that order.
    reply.headers.sort_by(|a, b| a.0.cmp(&b.0));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_count_down_per_prefix() {
        let mut s = FaultState::new(Faults {
            throttle: vec![("/api/v1/namespaces/demo/pods", 2, 3).into()],
            ..Faults::default()
        });
        assert!(s.throttle("/api/v1/namespaces/demo/pods?limit=1").is_some());
        assert!(s.throttle("/api/v1/nodes").is_none());
        assert!(s.throttle("/api/v1/namespaces/demo/pods").is_some());
        assert!(s.throttle("/api/v1/namespaces/demo/pods").is_none());
    }
}
