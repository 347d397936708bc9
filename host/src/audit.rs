//! The audit log: one JSON line per guest request.
//!
//! Each line says what the guest asked for (verb, group, resource, subresource,
//! namespace, name, path), what the host decided and why (the matching rule or the
//! denial reason), and what came back (HTTP status, body bytes, duration). A request
//! line is written when its response body is finished or dropped, so a watch appears
//! when it ends. Credentials are never part of a request the guest can build, so
//! they cannot appear here.
//!
//! A guest that repeats a failed request does not grow the log with it: [`FailureAudit`]
//! records the first one, then one record with a `count` for the identical ones that
//! follow (at most one per request every [`REPEAT_WINDOW`], and when the guest ends).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

/// Where audit lines go. Cloning shares the destination.
#[derive(Clone)]
pub struct AuditLog {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    /// The MCP tool call every record written through this handle belongs to.
    call: Option<Arc<McpCall>>,
}

/// The MCP tool call a request was made for (`host mcp`): the tool's name and the
/// JSON-RPC id of the `tools/call` request, as the client sent it (number or string), so
/// that an operator can match each request to what the agent asked for.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct McpCall {
    /// The tool's name (`kubectl`, `get`, ...).
    pub tool: String,
    /// The JSON-RPC id of the `tools/call` request.
    pub request_id: serde_json::Value,
}

/// One MCP tool call as a whole, written when it ends, after the lines of the requests it
/// made (`"event": "mcp-call"`): what the agent asked for and how it ended. A call that
/// made no request (a refused argument, an unknown command) still leaves this line.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct McpCallRecord {
    /// When the call ended (RFC 3339, UTC).
    pub time: String,
    /// Always `mcp-call`; request lines have no `event`.
    pub event: &'static str,
    /// Which call.
    pub mcp: McpCall,
    /// The tool's arguments as the client sent them (cut at 4096 bytes of JSON).
    pub arguments: String,
    /// The guest's exit code, if it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// How the call ended when not by the guest's exit: refused arguments, a trap, a
    /// limit, the per-call deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Milliseconds from the call until its result.
    pub duration_ms: u64,
}

impl AuditLog {
    /// Writes audit lines to `sink` (a file, stderr, or a buffer in tests).
    pub fn new(sink: Box<dyn Write + Send>) -> Self {
        Self {
            sink: Arc::new(Mutex::new(sink)),
            call: None,
        }
    }

    /// The same destination, with every request record naming `call` (`"mcp": {...}`).
    pub fn for_call(&self, call: McpCall) -> Self {
        Self {
            sink: self.sink.clone(),
            call: Some(Arc::new(call)),
        }
    }

    /// Opens `--audit` targets: `-` is stderr, anything else a file appended to.
    pub fn open(target: &str) -> std::io::Result<Self> {
        if target == "-" {
            return Ok(Self::new(Box::new(std::io::stderr())));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(target)?;
        Ok(Self::new(Box::new(std::io::LineWriter::new(file))))
    }

    /// Writes one record as a JSON line, naming this handle's MCP call if it has one. A
    /// failing audit sink is reported once per record on stderr; it does not fail the
    /// guest's request.
    pub fn record(&self, record: &AuditRecord) {
        match &self.call {
            Some(call) if record.mcp.is_none() => self.write_line(&AuditRecord {
                mcp: Some(McpCall::clone(call)),
                ..record.clone()
            }),
            _ => self.write_line(record),
        }
    }

    /// Writes the line that ends an MCP tool call.
    pub fn record_call(&self, record: &McpCallRecord) {
        self.write_line(record);
    }

    fn write_line(&self, record: &impl Serialize) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                eprintln!("warning: could not encode an audit record: {e}");
                return;
            }
        };
        line.push(b'\n');
        let mut sink = match self.sink.lock() {
            Ok(sink) => sink,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = sink.write_all(&line).and_then(|()| sink.flush()) {
            eprintln!("warning: could not write the audit log: {e}");
        }
    }
}

/// One audited request.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the request was made (RFC 3339, UTC).
    pub time: String,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, ...) or the HTTP method in
    /// lowercase for non-resource URLs.
    pub verb: String,
    /// The API group (`""` for core).
    #[serde(rename = "apiGroup")]
    pub api_group: String,
    /// The resource (`pods`), empty for non-resource URLs.
    pub resource: String,
    /// The subresource (`log`, `status`), if any.
    pub subresource: String,
    /// The namespace, if any.
    pub namespace: String,
    /// The object name, if any.
    pub name: String,
    /// The path and query as the guest sent it.
    pub path: String,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The rule that allowed it, or why it was refused.
    pub reason: String,
    /// The HTTP status, when the server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The HTTP version the server answered with (`HTTP/2.0`, `HTTP/1.1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<&'static str>,
    /// Response body bytes the guest received.
    pub bytes: u64,
    /// Milliseconds from the request until its body was finished or dropped.
    pub duration_ms: u64,
    /// Why the request failed without a response (TLS, connect, limit), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// On a record that stands for repeats: how many identical failed requests it
    /// stands for (the first of them was recorded on its own line before). `time` and
    /// `duration_ms` are the last one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The MCP tool call the request was made for, under `host mcp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpCall>,
}

impl AuditRecord {
    /// Ends the record of a request made `elapsed` ago: sets `duration_ms`, and `time`
    /// unless it is set. The host starts a request's record with no time and has it
    /// written here, when the record is about to be written: a host that audits nothing
    /// then formats no time per request.
    pub fn finish(&mut self, elapsed: Duration) {
        self.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        if self.time.is_empty() {
            let now = SystemTime::now();
            self.time = rfc3339(now.checked_sub(elapsed).unwrap_or(now));
        }
    }
}

/// How long identical failed requests are counted before a record with their count is
/// written (one is also written when the guest ends).
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10);

/// Distinct failed requests whose repeats one guest's [`FailureAudit`] counts at a time;
/// past it, every pending count is written out and counting starts afresh, so the
/// memory held is bounded whatever the guest sends.
const MAX_TRACKED: usize = 256;

/// The audit of one guest's failed requests (denied, invalid, over a limit, or not
/// answered): the first of a kind is recorded at once, identical ones after it are
/// counted and recorded as one line with a `count`. Every distinct request still gets a
/// line of its own. Dropping it (the guest ended) writes what is still counted.
pub struct FailureAudit {
    log: AuditLog,
    hasher: RandomState,
    repeats: Mutex<HashMap<u64, Repeat>>,
}

/// Identical failed requests counted since the last line written for them.
struct Repeat {
    last: AuditRecord,
    pending: u64,
    written: Instant,
}

impl FailureAudit {
    /// Audits one guest's failed requests to `log`.
    pub fn new(log: AuditLog) -> Self {
        Self {
            log,
            hasher: RandomState::new(),
            repeats: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failed request, or counts it if an identical one was recorded before.
    /// Requests are identical when everything but the time and duration is.
    pub fn record(&self, record: AuditRecord) {
        let key = self.key(&record);
        let now = Instant::now();
        let mut repeats = match self.repeats.lock() {
            Ok(repeats) => repeats,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(repeat) = repeats.get_mut(&key) {
            repeat.pending += 1;
            repeat.last = record;
            if now.duration_since(repeat.written) >= REPEAT_WINDOW {
                write_pending(&self.log, repeat);
                repeat.written = now;
            }
            return;
        }
        if repeats.len() >= MAX_TRACKED {
            for repeat in repeats.values_mut() {
                write_pending(&self.log, repeat);
            }
            repeats.clear();
        }
        self.log.record(&record);
        repeats.insert(
            key,
            Repeat {
                last: record,
                pending: 0,
                written: now,
            },
        );
    }

    fn key(&self, record: &AuditRecord) -> u64 {
        let mut h = self.hasher.build_hasher();
        let AuditRecord {
            time: _,
            verb,
            api_group,
            resource,
            subresource,
            namespace,
            name,
            path,
            decision,
            reason,
            status,
            http_version,
            bytes,
            duration_ms: _,
            error,
            count: _,
            mcp,
        } = record;
        (
            verb,
            api_group,
            resource,
            subresource,
            namespace,
            name,
            path,
            decision,
        )
            .hash(&mut h);
        (reason, status, http_version, bytes, error).hash(&mut h);
        // Repeats within one MCP call collapse; another call's are its own.
        mcp.as_ref()
            .map(|call| (&call.tool, call.request_id.to_string()))
            .hash(&mut h);
        h.finish()
    }
}

/// Writes one line for the repeats counted so far, if there are any.
fn write_pending(log: &AuditLog, repeat: &mut Repeat) {
    if repeat.pending == 0 {
        return;
    }
    let mut line = repeat.last.clone();
    line.count = Some(repeat.pending);
    log.record(&line);
    repeat.pending = 0;
}

impl Drop for FailureAudit {
    fn drop(&mut self) {
        let repeats = match self.repeats.get_mut() {
            Ok(repeats) => repeats,
            Err(poisoned) => poisoned.into_inner(),
        };
        for repeat in repeats.values_mut() {
            write_pending(&self.log, repeat);
        }
    }
}

/// The current time as RFC 3339 in UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `time` as RFC 3339 in UTC with millisecond precision.
fn rfc3339(time: SystemTime) -> String {
    let now = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let millis = now.subsec_millis();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_time_is_given_the_time_its_request_was_made() {
        let mut record = AuditRecord::default();
        let before = now_rfc3339();
        record.finish(Duration::from_secs(3600));
        let after = now_rfc3339();
        assert_eq!(record.duration_ms, 3_600_000);
        // An hour before now, not now: the time the request was made.
        assert!(
            record.time < before,
            "{} should be before {before}",
            record.time
        );
        assert_eq!(record.time.len(), after.len());
        // A record that has a time keeps it.
        let mut timed = AuditRecord {
            time: "2026-01-01T00:00:00.000Z".into(),
            ..AuditRecord::default()
        };
        timed.finish(Duration::from_millis(5));
        assert_eq!(timed.time, "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_785), (2026, 11, 28));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn lines(&self) -> Vec<serde_json::Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }
    }

    fn denied(path: &str) -> AuditRecord {
        AuditRecord {
            time: now_rfc3339(),
            verb: "get".into(),
            resource: "secrets".into(),
            path: path.into(),
            decision: "deny",
            reason: "secrets are not allowed".into(),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn identical_failed_requests_collapse_into_one_counted_record() {
        let buf = Buf::default();
        let audit = FailureAudit::new(AuditLog::new(Box::new(buf.clone())));
        for _ in 0..20_000 {
            audit.record(denied("/api/v1/namespaces/demo/secrets/a"));
        }
        assert_eq!(buf.lines().len(), 1, "the first is recorded at once");
        drop(audit);
        let lines = buf.lines();
        assert_eq!(
            lines.len(),
            2,
            "the repeats are one line when the guest ends"
        );
        assert!(lines[0].get("count").is_none());
        assert_eq!(lines[1]["count"], 19_999);
        assert_eq!(lines[1]["path"], "/api/v1/namespaces/demo/secrets/a");
    }

    #[test]
    fn every_distinct_failed_request_gets_its_own_record() {
        let buf = Buf::default();
        let audit = FailureAudit::new(AuditLog::new(Box::new(buf.clone())));
        for i in 0..1_000 {
            audit.record(denied(&format!("/api/v1/namespaces/demo/secrets/s{i}")));
            audit.record(denied(&format!("/api/v1/namespaces/demo/secrets/s{i}")));
        }
        drop(audit);
        let lines = buf.lines();
        let first: Vec<_> = lines.iter().filter(|l| l.get("count").is_none()).collect();
        let counted: u64 = lines.iter().filter_map(|l| l["count"].as_u64()).sum();
        assert_eq!(first.len(), 1_000, "each distinct request once");
        assert_eq!(counted, 1_000, "and each repeat counted once");
    }

    #[test]
    fn repeats_are_written_out_once_per_window() {
        let buf = Buf::default();
        let audit = FailureAudit::new(AuditLog::new(Box::new(buf.clone())));
        audit.record(denied("/a"));
        audit.record(denied("/a"));
        // Pretend the window has passed since the last line.
        for repeat in audit.repeats.lock().unwrap().values_mut() {
            repeat.written -= REPEAT_WINDOW;
        }
        audit.record(denied("/a"));
        let lines = buf.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["count"], 2);
        drop(audit);
        assert_eq!(buf.lines().len(), 2, "nothing left to write");
    }

    #[test]
    fn records_written_for_an_mcp_call_name_the_tool_and_request_id() {
        let buf = Buf::default();
        let log = AuditLog::new(Box::new(buf.clone()));
        let call = McpCall {
            tool: "get".into(),
            request_id: serde_json::json!(7),
        };
        log.for_call(call.clone()).record(&AuditRecord {
            verb: "list".into(),
            ..AuditRecord::default()
        });
        log.record(&AuditRecord::default());
        log.record_call(&McpCallRecord {
            time: now_rfc3339(),
            event: "mcp-call",
            mcp: call,
            arguments: "{}".into(),
            exit_code: Some(0),
            stopped: None,
            duration_ms: 1,
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0]["mcp"],
            serde_json::json!({"tool": "get", "request_id": 7})
        );
        assert!(lines[1].get("mcp").is_none(), "{text}");
        assert_eq!(lines[2]["event"], "mcp-call");
        assert_eq!(lines[2]["mcp"]["tool"], "get");
    }

    #[test]
    fn audit_record_is_one_json_line() {
        let buf = Buf::default();
        let log = AuditLog::new(Box::new(buf.clone()));
        log.record(&AuditRecord {
            verb: "list".into(),
            resource: "pods".into(),
            decision: "allow",
            status: Some(200),
            ..AuditRecord::default()
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["verb"], "list");
        assert_eq!(v["apiGroup"], "");
        assert_eq!(v["status"], 200);
    }
}
