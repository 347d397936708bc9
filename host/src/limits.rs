//! Limits on what one guest may consume: memory, CPU time, wall time, response bytes,
//! concurrent streams, request rate (refused requests included), and the size of each
//! request it sends (headers, path, body).
//!
//! Each limit has a safe default and a flag; breaking one stops the guest (or fails the
//! request) with a message naming the limit and its flag, never the host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The limits for one guest run. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest linear memory (and total memories) a guest may have, in bytes
    /// (`--max-memory`, default 256 MiB).
    pub max_memory: usize,
    /// CPU time the guest may spend executing its own code (`--cpu-limit`, default 60 s).
    /// Time spent waiting for the API server does not count, so a long watch is fine.
    pub cpu_time: Option<Duration>,
    /// Wall-clock time for the whole run (`--timeout`, default none: watches and
    /// followed logs run until stopped).
    pub wall_time: Option<Duration>,
    /// Largest body of a non-streaming response (`--max-response-bytes`, default
    /// 1 GiB). Watches and followed logs are not capped.
    pub max_response_bytes: u64,
    /// Response bodies a guest may hold open at once (`--max-streams`, default 16).
    pub max_streams: usize,
    /// Sustained requests per second (`--qps`, default 50), like client-go's QPS.
    pub qps: f64,
    /// Requests allowed in a burst above `qps` (`--burst`, default 100).
    pub burst: u32,
    /// Largest request body (`--max-request-body-bytes`, default 3 MiB: kube-apiserver
    /// refuses larger ones).
    pub max_request_body_bytes: u64,
    /// Largest total of the request's header names and values plus its path and query
    /// (`--max-request-header-bytes`, default 1 MiB: Go's `http.DefaultMaxHeaderBytes`,
    /// which kube-apiserver serves with).
    pub max_request_header_bytes: u64,
    /// Most headers on one request (`--max-request-headers`, default 64; kubectl sends
    /// fewer than ten).
    pub max_request_headers: usize,
    /// Longest path and query (`--max-path-bytes`, default 64 KiB).
    pub max_path_bytes: u64,
    /// Refused requests (denied by the policy, invalid, or over a request limit) after
    /// which the guest is stopped (`--max-refusals`, default 1000; 0 for no limit).
    /// Refusals are paced by `--qps`/`--burst` first, so this ends a guest that keeps
    /// asking for what it may not have instead of letting it probe forever.
    pub max_refusals: u64,
    /// Memory the host may hold on the guest's behalf (`--max-host-memory`, default
    /// 64 MiB), beside the guest's own `max_memory`: the request being sent (its copy,
    /// header map and body) and, for each response body the guest holds open, what the
    /// host may buffer for it unread (one HTTP/2 stream window, the body's read-ahead
    /// buffer and its pending audit record). See [`HostMemory`].
    pub max_host_memory: u64,
}

impl Limits {
    /// Refuses a request that is larger than these limits allow, naming the limit and its
    /// flag; checked before the host copies or parses any of it.
    pub fn check_request(
        &self,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<(), String> {
        let over = |what: &str, size: u64, limit: u64, flag: &str| {
            format!(
                "the request's {what} is {size} bytes, over the limit of {} ({flag})",
                format_bytes(limit)
            )
        };
        let path = path_and_query.len() as u64;
        if path > self.max_path_bytes {
            return Err(over(
                "path and query",
                path,
                self.max_path_bytes,
                "--max-path-bytes",
            ));
        }
        if headers.len() > self.max_request_headers {
            return Err(format!(
                "the request has {} headers, over the limit of {} (--max-request-headers)",
                headers.len(),
                self.max_request_headers
            ));
        }
        let header_bytes = path
            + headers
                .iter()
                .map(|(n, v)| (n.len() + v.len()) as u64)
                .sum::<u64>();
        if header_bytes > self.max_request_header_bytes {
            return Err(over(
                "head (headers and path)",
                header_bytes,
                self.max_request_header_bytes,
                "--max-request-header-bytes",
            ));
        }
        let body = body.map_or(0, |b| b.len() as u64);
        if body > self.max_request_body_bytes {
            return Err(over(
                "body",
                body,
                self.max_request_body_bytes,
                "--max-request-body-bytes",
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory: 256 << 20,
            cpu_time: Some(Duration::from_secs(60)),
            wall_time: None,
            max_response_bytes: 1 << 30,
            max_streams: 16,
            qps: 50.0,
            burst: 100,
            max_request_body_bytes: 3 << 20,
            max_request_header_bytes: 1 << 20,
            max_request_headers: 64,
            max_path_bytes: 64 << 10,
            max_refusals: 1000,
            max_host_memory: 64 << 20,
        }
    }
}

/// Counts one guest's refused requests against `--max-refusals`.
#[derive(Debug)]
pub struct RefusalBudget {
    max: u64,
    refused: AtomicU64,
}

impl RefusalBudget {
    /// A budget of `max` refusals (0: no limit).
    pub fn new(max: u64) -> Self {
        Self {
            max,
            refused: AtomicU64::new(0),
        }
    }

    /// Counts one refusal.
    pub fn spend(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The error that stops the guest, once it has been refused more than the budget.
    pub fn check(&self) -> Result<(), LimitExceeded> {
        if self.max > 0 && self.refused.load(Ordering::Relaxed) > self.max {
            return Err(LimitExceeded::Refusals(self.max));
        }
        Ok(())
    }
}

/// A limit the guest broke, as the error that stops it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// The guest tried to grow its memory past `--max-memory`.
    #[error("the guest tried to use more than {0} of memory (raise it with --max-memory)")]
    Memory(String),
    /// The guest computed for longer than `--cpu-limit`.
    #[error("the guest used more than {0:?} of CPU time (raise it with --cpu-limit)")]
    CpuTime(Duration),
    /// The run took longer than `--timeout`.
    #[error("the guest ran for longer than {0:?} (raise it with --timeout)")]
    WallTime(Duration),
    /// The host refused more of the guest's requests than `--max-refusals` allows.
    #[error(
        "the guest was stopped after the host refused more than {0} of its requests (denied \
         by the policy, invalid or over a request limit; see the audit log, or raise it with \
         --max-refusals)"
    )]
    Refusals(u64),
}

/// Formats a byte count as kubectl-style binary units (`256Mi`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// A byte count for a message: exact in kubectl's units when it is a multiple of one,
/// else in MiB or KiB to one decimal.
fn approx_bytes(bytes: u64) -> String {
    let exact = format_bytes(bytes);
    if !exact.ends_with("bytes") {
        exact
    } else if bytes >= 1 << 20 {
        format!("{:.1}Mi", bytes as f64 / f64::from(1 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1}Ki", bytes as f64 / f64::from(1 << 10))
    } else {
        exact
    }
}

/// Parses a byte size: a number with an optional `Ki`, `Mi`, `Gi`, `Ti` (or `K`, `M`,
/// `G`, `T`, decimal) suffix, as Kubernetes quantities are written.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: use e.g. 256Mi or 1Gi"))?;
    let factor: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit: use Ki, Mi, Gi or Ti"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a duration like kubectl's: `30s`, `5m`, `1h`, `1h30m`, `250ms`, or plain
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let err = || format!("{text:?} is not a duration: use e.g. 30s, 5m or 1h30m");
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => return Err(err()),
        };
    }
    Ok(total)
}

/// The wasmtime resource limiter of one guest: caps memory and remembers whether the
/// guest hit the cap, so the trap that usually follows (a failed allocation aborts) can
/// be reported as the limit it is.
pub struct GuestLimiter {
    max_memory: usize,
    hit: bool,
}

impl GuestLimiter {
    /// A limiter for `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            max_memory: limits.max_memory,
            hit: false,
        }
    }

    /// The memory limit, if the guest has asked for more than it.
    pub fn memory_exceeded(&self) -> Option<usize> {
        self.hit.then_some(self.max_memory)
    }
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any real guest.
        Ok(desired <= 1_000_000)
    }
}

/// What the host holds on one guest's behalf, counted against `--max-host-memory`.
/// Charges are upper bounds taken before the memory is used (a response body is charged
/// its whole stream window when it opens), so the budget holds whatever the guest does.
#[derive(Clone, Debug)]
pub struct HostMemory {
    held: Arc<AtomicU64>,
    max: u64,
}

/// Bytes charged to a guest's [`HostMemory`], given back on drop.
#[derive(Debug)]
pub struct Charge {
    held: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

impl HostMemory {
    /// A budget of `max` bytes.
    pub fn new(max: u64) -> Self {
        Self {
            held: Arc::new(AtomicU64::new(0)),
            max,
        }
    }

    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// Charges `bytes` for `what`, or says why not (naming the flag).
    pub fn charge(&self, bytes: u64, what: &str) -> Result<Charge, String> {
        let mut current = self.held.load(Ordering::Acquire);
        loop {
            let total = current.saturating_add(bytes);
            if total > self.max {
                return Err(format!(
                    "{what} needs {} of host memory, and the host already holds {} for this guest; the limit is {} (raise it with --max-host-memory, or drop bodies the guest has read)",
                    approx_bytes(bytes),
                    approx_bytes(current),
                    format_bytes(self.max)
                ));
            }
            match self
                .held
                .compare_exchange(current, total, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Ok(Charge {
                        held: self.held.clone(),
                        bytes,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }
}

/// Counts open response streams against `--max-streams`.
#[derive(Clone, Debug)]
pub struct StreamSlots {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// An occupied stream slot, released on drop with the host memory charged for it.
#[derive(Debug)]
pub struct StreamSlot {
    open: Arc<AtomicUsize>,
    charge: Option<Charge>,
}

impl StreamSlot {
    /// Holds `charge` (the memory the host may buffer for this body) with the slot.
    pub fn hold(&mut self, charge: Charge) {
        self.charge = Some(charge);
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl StreamSlots {
    /// Slots for at most `max` concurrent streams.
    pub fn new(max: usize) -> Self {
        Self {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Takes a slot, or says why not.
    pub fn acquire(&self) -> Result<StreamSlot, String> {
        let mut current = self.open.load(Ordering::Acquire);
        loop {
            if current >= self.max {
                return Err(format!(
                    "the guest already has {current} response bodies open, the limit (raise it with --max-streams, or drop bodies it has read)"
                ));
            }
            match self.open.compare_exchange(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(StreamSlot {
                        open: self.open.clone(),
                        charge: None,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `qps` per second. Like
/// client-go's, it delays requests over the rate instead of failing them.
#[derive(Debug)]
pub struct RateLimiter {
    qps: f64,
    burst: f64,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A bucket that starts full.
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps,
            burst,
            state: tokio::sync::Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits until a request may be sent. `qps <= 0` means no limit.
    pub async fn acquire(&self) {
        if self.qps <= 0.0 {
            return;
        }
        let mut state = self.state.lock().await;
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.qps).min(self.burst);
        *last = now;
        if *tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.qps);
            tokio::time::sleep(wait).await;
            *tokens = 1.0;
            *last = Instant::now();
        }
        *tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_limits_pass_at_the_limit_and_refuse_one_byte_over_naming_the_flag() {
        let limits = Limits::default();
        let header = |n: usize| vec![("x-a".to_string(), "v".repeat(n))];
        // Body: 3 MiB passes, one byte more does not.
        let body = vec![0u8; 3 << 20];
        assert!(limits.check_request("/api", &[], Some(&body)).is_ok());
        let body = vec![0u8; (3 << 20) + 1];
        let err = limits.check_request("/api", &[], Some(&body)).unwrap_err();
        assert!(
            err.contains("--max-request-body-bytes") && err.contains("3Mi"),
            "{err}"
        );
        // Head: path plus header names and values, 1 MiB in all.
        let at = (1 << 20) - "/api".len() - "x-a".len();
        assert!(limits.check_request("/api", &header(at), None).is_ok());
        let err = limits
            .check_request("/api", &header(at + 1), None)
            .unwrap_err();
        assert!(err.contains("--max-request-header-bytes"), "{err}");
        // Header count.
        let many: Vec<_> = (0..64).map(|i| (format!("x-{i}"), String::new())).collect();
        assert!(limits.check_request("/api", &many, None).is_ok());
        let more: Vec<_> = (0..65).map(|i| (format!("x-{i}"), String::new())).collect();
        let err = limits.check_request("/api", &more, None).unwrap_err();
        assert!(
            err.contains("65 headers") && err.contains("--max-request-headers"),
            "{err}"
        );
        // Path and query.
        let path = format!("/api?{}", "a".repeat((64 << 10) - 5));
        assert!(limits.check_request(&path, &[], None).is_ok());
        let err = limits
            .check_request(&format!("{path}a"), &[], None)
            .unwrap_err();
        assert!(err.contains("--max-path-bytes"), "{err}");
    }

    #[test]
    fn parses_kubernetes_style_sizes() {
        assert_eq!(parse_bytes("256Mi"), Ok(256 << 20));
        assert_eq!(parse_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("2M"), Ok(2_000_000));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("").is_err());
    }

    #[test]
    fn parses_kubectl_style_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn formats_binary_sizes() {
        assert_eq!(format_bytes(256 << 20), "256Mi");
        assert_eq!(format_bytes(1000), "1000 bytes");
    }

    #[test]
    fn host_memory_refuses_past_its_budget_names_the_flag_and_frees_on_drop() {
        let memory = HostMemory::new(10 << 20);
        let a = memory.charge(6 << 20, "a response body").unwrap();
        let _b = memory.charge(4 << 20, "a request").unwrap();
        assert_eq!(memory.held(), 10 << 20, "at the limit is allowed");
        let err = memory.charge(1, "a request").unwrap_err();
        assert!(err.contains("--max-host-memory"), "{err}");
        assert!(
            err.contains("already holds 10Mi") && err.contains("limit is 10Mi"),
            "{err}"
        );
        drop(a);
        assert_eq!(memory.held(), 4 << 20);
        memory.charge(6 << 20, "a response body").unwrap();
    }

    #[test]
    fn stream_slots_refuse_past_the_limit_and_free_on_drop() {
        let slots = StreamSlots::new(2);
        let a = slots.acquire().unwrap();
        let _b = slots.acquire().unwrap();
        let err = slots.acquire().unwrap_err();
        assert!(err.contains("--max-streams"), "{err}");
        drop(a);
        assert!(slots.acquire().is_ok());
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn rate_limiter_delays_requests_beyond_the_burst() {
        let limiter = RateLimiter::new(10.0, 2);
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            limiter.acquire().await;
        }
        // Two from the burst, then two at 10/s: about 200 ms of (virtual) waiting.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(190), "{waited:?}");
    }
}
