//! Retries: when the server asks to be asked again later, and backoff for reconnecting.
//!
//! The policy, after client-go's `rest.Request` (`checkWait`): a response is retried only
//! when the server says when to come back — a `Retry-After` header with whole seconds —
//! on `429 Too Many Requests` or a `5xx`; at most [`MAX_ATTEMPTS`] attempts in all.
//!
//! - `429` is retried for every method, as client-go does: API Priority and Fairness
//!   and the max-in-flight filter reject the request before any handler runs, so a
//!   create or a patch was not applied and replaying it is safe.
//! - `5xx` is retried only for requests that are idempotent: `GET`, `HEAD`, `PUT`,
//!   `DELETE` and server-side apply. client-go also replays `POST` and other patches,
//!   but a `5xx` (a `504` timeout in particular) can arrive after the write committed;
//!   replaying a create would then report a misleading `AlreadyExists` and replaying a
//!   JSON patch could apply it twice, so those fail with the server's error instead.
//! - Transport failures (refused connection, TLS) are not retried here: the host
//!   already reports them precisely, and watches and followed logs have their own
//!   resumption.
//!
//! The wait is the server's `Retry-After`, at least the exponential [`Backoff`] step and
//! at most [`MAX_RETRY_AFTER`].

use std::time::Duration;

use crate::client::{Response, Transport};
use crate::error::Error;
use crate::request::{Method, Request};
use crate::status::{RequestContext, Status};

/// The most attempts one request gets (the first one included).
pub const MAX_ATTEMPTS: u32 = 5;

/// The longest `Retry-After` honoured; a longer one is shortened to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Exponential backoff: 200 ms, doubling up to 5 s, reset after progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// The first wait.
    pub const INITIAL: Duration = Duration::from_millis(200);
    /// The longest wait.
    pub const MAX: Duration = Duration::from_secs(5);

    /// A backoff at its first step.
    pub fn new() -> Self {
        Backoff {
            next: Self::INITIAL,
        }
    }

    /// The wait before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    /// Back to the first step, after an attempt made progress.
    pub fn reset(&mut self) {
        self.next = Self::INITIAL;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether replaying `request` cannot apply it twice.
pub fn is_idempotent(request: &Request) -> bool {
    match request.method {
        Method::Get | Method::Head | Method::Put | Method::Delete => true,
        Method::Patch => request.header("content-type") == Some(crate::request::CONTENT_APPLY),
        Method::Post => false,
    }
}

/// The `Retry-After` of a response, in whole seconds (the only form the API server
/// sends; an HTTP date is ignored, as client-go ignores it).
pub fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// How long to wait before retrying `request` after a response with `status` and
/// `retry_after`, or `None` if it must not be retried.
pub fn retry_delay(
    request: &Request,
    status: u16,
    retry_after: Option<Duration>,
    backoff: &mut Backoff,
) -> Option<Duration> {
    let retry_after = retry_after?;
    let retryable = status == 429 || (status >= 500 && is_idempotent(request));
    retryable.then(|| retry_after.min(MAX_RETRY_AFTER).max(backoff.next_delay()))
}

/// Sends `request`, retrying as the module describes. A non-2xx response becomes the
/// server's error: its `Status`, or one synthesized from the code the way client-go does.
pub fn send(
    transport: &mut dyn Transport,
    request: &Request,
    context: &RequestContext<'_>,
) -> Result<Response, Error> {
    let mut backoff = Backoff::new();
    let mut attempt = 1;
    loop {
        let mut response = transport.send(request)?;
        if response.is_success() {
            return Ok(response);
        }
        let delay = retry_delay(
            request,
            response.status,
            retry_after(&response),
            &mut backoff,
        )
        .filter(|_| attempt < MAX_ATTEMPTS);
        let content_type = response.header("content-type").map(str::to_string);
        let body = response.read_body()?;
        match delay {
            Some(delay) => {
                transport.backoff(delay);
                attempt += 1;
            }
            None => {
                return Err(Error::from(Status::from_response(
                    response.status,
                    content_type.as_deref(),
                    &body,
                    context,
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{self, CONTENT_APPLY, CONTENT_MERGE_PATCH};
    use crate::testutil::FakeTransport;

    const TOO_MANY: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}"#;
    const UNAVAILABLE: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}"#;

    fn with_method(method: Method, content_type: Option<&str>) -> Request {
        let mut r = request::version();
        r.method = method;
        if let Some(ct) = content_type {
            r.headers.push(("content-type".into(), ct.into()));
        }
        r
    }

    #[test]
    fn retries_get_on_429_honouring_retry_after() {
        let mut t = FakeTransport::new()
            .json_with_headers("/version", 429, &[("retry-after", "2")], TOO_MANY)
            .json_with_headers("/version", 429, &[("retry-after", "1")], TOO_MANY)
            .json("/version", 200, "{}");
        let mut response = send(&mut t, &request::version(), &RequestContext::NONE).unwrap();
        assert_eq!(response.read_body().unwrap(), b"{}");
        assert_eq!(t.requests.len(), 3);
        assert_eq!(t.sleeps, [Duration::from_secs(2), Duration::from_secs(1)]);
    }

    #[test]
    fn gives_up_after_five_attempts_with_the_servers_error() {
        let mut t = FakeTransport::new().json_with_headers(
            "/version",
            429,
            &[("retry-after", "1")],
            TOO_MANY,
        );
        let err = send(&mut t, &request::version(), &RequestContext::NONE).unwrap_err();
        assert_eq!(t.requests.len(), MAX_ATTEMPTS as usize);
        assert_eq!(t.sleeps.len(), MAX_ATTEMPTS as usize - 1);
        // The waits grow once the backoff exceeds the server's hint.
        assert_eq!(t.sleeps[3], Duration::from_millis(1600));
        assert_eq!(
            err.to_string(),
            "Error from server (TooManyRequests): Too many requests, please try again later."
        );
    }

    #[test]
    fn does_not_retry_without_retry_after() {
        let mut t = FakeTransport::new().json("/version", 503, UNAVAILABLE);
        let err = send(&mut t, &request::version(), &RequestContext::NONE).unwrap_err();
        assert_eq!(t.requests.len(), 1);
        assert!(t.sleeps.is_empty());
        assert_eq!(
            err.to_string(),
            "Error from server (ServiceUnavailable): the server is currently unable to handle the request"
        );
    }

    #[test]
    fn retries_503_only_for_idempotent_requests() {
        let mut b = Backoff::new();
        let hint = Some(Duration::from_secs(1));
        for (method, ct, retried) in [
            (Method::Get, None, true),
            (Method::Put, None, true),
            (Method::Delete, None, true),
            (Method::Patch, Some(CONTENT_APPLY), true),
            (Method::Patch, Some(CONTENT_MERGE_PATCH), false),
            (Method::Post, None, false),
        ] {
            let r = with_method(method, ct);
            assert_eq!(
                retry_delay(&r, 503, hint, &mut b).is_some(),
                retried,
                "{method:?} {ct:?}"
            );
            // 429 means the server did nothing: every method is retried.
            assert!(retry_delay(&r, 429, hint, &mut b).is_some());
        }
        assert_eq!(
            retry_delay(&with_method(Method::Get, None), 404, hint, &mut b),
            None
        );
    }

    #[test]
    fn long_retry_after_is_capped() {
        let mut b = Backoff::new();
        assert_eq!(
            retry_delay(
                &request::version(),
                429,
                Some(Duration::from_secs(3600)),
                &mut b
            ),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn backoff_doubles_to_five_seconds_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(200));
    }
}
