//! Log streams: lines out of `pods/log` bodies, and what a followed log needs to resume
//! after its connection drops without printing a line twice.
//!
//! A followed log (`-f`) is requested with `timestamps=true` even when the user did not
//! ask for timestamps: the kubelet prefixes every line with its RFC 3339 time, which
//! [`LogLines`] strips again before printing. When the connection breaks, the follow is
//! requested again with `sinceTime` = the time of the last printed line. The server
//! returns lines at or after that time, so lines that share the last timestamp come
//! again: [`LogLines`] remembers the lines printed with the last timestamp and skips
//! them (and anything older, should the server round `sinceTime` down).
//!
//! Without `--follow`, or with `--limit-bytes` (whose count would include the internal
//! timestamps), lines pass through unchanged and a broken stream is an error.

use crate::request::LogParams;

/// The time of a log line, comparable: seconds part (`2026-11-28T15:27:03`) and
/// nanoseconds (RFC 3339 fractions have any number of digits, so text order is wrong).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    seconds: String,
    nanos: u32,
}

impl Timestamp {
    /// Parses the kubelet's timestamp (`2026-11-28T15:27:03.123456789Z`). Only UTC
    /// (`Z`), which is what the kubelet writes.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let body = text.strip_suffix('Z')?;
        let (seconds, fraction) = match body.split_once('.') {
            Some((s, f)) => (s, f),
            None => (body, ""),
        };
        let b = seconds.as_bytes();
        let shape_ok = b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok || fraction.len() > 9 || !fraction.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let nanos = format!("{fraction:0<9}").parse().ok()?;
        Some(Timestamp {
            seconds: seconds.to_string(),
            nanos,
        })
    }
}

/// Whether `text` is an RFC 3339 time the API server accepts for `sinceTime`.
pub fn is_rfc3339(text: &str) -> bool {
    let Some((seconds, zone)) = text.split_at_checked(19) else {
        return false;
    };
    let zone_ok = |zone: &str| {
        zone == "Z"
            || (zone.len() == 6
                && matches!(zone.as_bytes()[0], b'+' | b'-')
                && zone.as_bytes()[3] == b':')
    };
    let zone = match zone.strip_prefix('.') {
        Some(rest) => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            &rest[digits..]
        }
        None => zone,
    };
    zone_ok(zone) && Timestamp::parse(&format!("{seconds}Z")).is_some()
}

/// Splits a log body into lines, strips the internal timestamps and drops lines
/// already printed before a reconnection.
#[derive(Debug, Default)]
pub struct LogLines {
    /// The request carries `timestamps=true` for resumption.
    internal_timestamps: bool,
    /// The user asked for `--timestamps`: keep them in the output.
    keep_timestamps: bool,
    /// `[pod/NAME/CONTAINER] ` (`--prefix`).
    prefix: String,
    /// Bytes of a line not yet complete.
    partial: Vec<u8>,
    /// The timestamp (text and value) of the last printed line.
    last: Option<(String, Timestamp)>,
    /// Lines printed with the last timestamp (a resumed stream repeats them).
    at_last: Vec<Vec<u8>>,
    /// After a reconnection, until a newer line arrives: the last printed time and the
    /// lines printed with it, which the server sends again.
    replay: Option<(Timestamp, Vec<Vec<u8>>)>,
    /// Lines printed since the stream (re)started: progress, for the retry budget.
    printed: usize,
}

impl LogLines {
    /// Lines of a log requested with `params` as the user gave them; `follow` streams
    /// add internal timestamps (see the module docs).
    pub fn new(params: &LogParams, prefix: Option<String>) -> Self {
        LogLines {
            internal_timestamps: params.follow && params.limit_bytes.is_none(),
            keep_timestamps: params.timestamps,
            prefix: prefix.unwrap_or_default(),
            ..Default::default()
        }
    }

    /// Whether the stream can be resumed after a broken connection.
    pub fn resumable(&self) -> bool {
        self.internal_timestamps
    }

    /// The parameters of the first request.
    pub fn first_request(&self, params: &LogParams) -> LogParams {
        let mut params = params.clone();
        params.timestamps |= self.internal_timestamps;
        params
    }

    /// The parameters of a request that resumes after a broken connection: from the
    /// last printed line's time, with `--tail` and `--since` done.
    pub fn resume_request(&mut self, params: &LogParams) -> LogParams {
        self.partial.clear();
        self.printed = 0;
        let mut params = self.first_request(params);
        if let Some((text, stamp)) = &self.last {
            self.replay = Some((stamp.clone(), self.at_last.clone()));
            params.since_time = Some(text.clone());
            params.since_seconds = None;
            params.tail_lines = None;
        }
        params
    }

    /// Lines printed since the last (re)start.
    pub fn printed(&self) -> usize {
        self.printed
    }

    /// Adds a chunk of the body; returns the text to print.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        if !self.internal_timestamps && self.prefix.is_empty() {
            // Nothing to do per line: print as it arrives.
            self.printed += chunk.iter().filter(|&&b| b == b'\n').count();
            return chunk.to_vec();
        }
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        let mut out = Vec::new();
        for line in complete.split_inclusive(|&b| b == b'\n') {
            self.line(line, &mut out);
        }
        out
    }

    /// The end of the body: the last line, even without a newline.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.partial);
        let mut out = Vec::new();
        if !rest.is_empty() {
            self.line(&rest, &mut out);
        }
        out
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let mut text = line;
        if self.internal_timestamps {
            let space = line.iter().position(|&b| b == b' ');
            let stamp = space
                .and_then(|i| std::str::from_utf8(&line[..i]).ok())
                .and_then(|s| Timestamp::parse(s).map(|t| (s.to_string(), t)));
            if let (Some(i), Some((stamp_text, stamp))) = (space, stamp) {
                if let Some((last, seen)) = &mut self.replay {
                    if stamp < *last {
                        return;
                    }
                    if stamp == *last {
                        if let Some(at) = seen.iter().position(|l| l == line) {
                            // Printed before the reconnection; each copy skips once.
                            seen.swap_remove(at);
                            return;
                        }
                    } else {
                        self.replay = None;
                    }
                }
                if self.last.as_ref().is_none_or(|(_, last)| stamp != *last) {
                    self.last = Some((stamp_text, stamp));
                    self.at_last.clear();
                }
                self.at_last.push(line.to_vec());
                if !self.keep_timestamps {
                    text = &line[i + 1..];
                }
            }
        }
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(text);
        self.printed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow() -> LogParams {
        LogParams {
            follow: true,
            ..Default::default()
        }
    }

    #[test]
    fn timestamps_compare_by_value_not_text() {
        let a = Timestamp::parse("2026-11-28T15:27:03.1Z").unwrap();
        let b = Timestamp::parse("2026-11-28T15:27:03.12Z").unwrap();
        let c = Timestamp::parse("2026-11-28T15:27:03Z").unwrap();
        assert!(c < a && a < b);
        assert_eq!(Timestamp::parse("2026-11-28 15:27:03Z"), None);
        assert_eq!(Timestamp::parse("2026-11-28T15:27:03.1234567891Z"), None);
    }

    #[test]
    fn rfc3339_times_are_recognized() {
        for ok in [
            "2026-11-28T15:27:03Z",
            "2026-11-28T15:27:03.5Z",
            "2026-11-28T15:27:03+02:00",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2026-11-28",
            "yesterday",
            "2026-11-28T15:27:03",
            "2026-11-28T15:27:03.Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn follow_requests_timestamps_and_strips_them() {
        let params = follow();
        let mut lines = LogLines::new(&params, None);
        assert!(lines.first_request(&params).timestamps);
        let out = lines.feed(b"2026-11-28T15:27:03.1Z one\n2026-11-28T15:27:0");
        assert_eq!(out, b"one\n");
        assert_eq!(lines.feed(b"4Z two\n"), b"two\n");
        assert_eq!(lines.printed(), 2);
    }

    #[test]
    fn resume_skips_lines_already_printed_with_the_last_timestamp() {
        let mut params = follow();
        params.tail_lines = Some(10);
        let mut lines = LogLines::new(&params, Some("[pod/p/c] ".into()));
        let out = lines.feed(b"2026-11-28T15:27:03Z a\n2026-11-28T15:27:04Z b\n2026-11-28T15:27:04Z b\n2026-11-28T15:27:05Z par");
        assert_eq!(out, b"[pod/p/c] a\n[pod/p/c] b\n[pod/p/c] b\n");
        let resumed = lines.resume_request(&params);
        assert_eq!(resumed.since_time.as_deref(), Some("2026-11-28T15:27:04Z"));
        assert_eq!(resumed.tail_lines, None);
        // The server repeats everything from 15:27:04 (and, rounding, one older line).
        let out = lines.feed(b"2026-11-28T15:27:03Z a\n2026-11-28T15:27:04Z b\n2026-11-28T15:27:04Z b\n2026-11-28T15:27:04Z b\n2026-11-28T15:27:05Z partial\n");
        assert_eq!(out, b"[pod/p/c] b\n[pod/p/c] partial\n");
    }

    #[test]
    fn user_timestamps_are_kept() {
        let mut params = follow();
        params.timestamps = true;
        let mut lines = LogLines::new(&params, None);
        assert_eq!(
            lines.feed(b"2026-11-28T15:27:03Z a\n"),
            b"2026-11-28T15:27:03Z a\n"
        );
    }

    #[test]
    fn without_follow_lines_pass_through_and_cannot_resume() {
        let mut lines = LogLines::new(&LogParams::default(), None);
        assert!(!lines.resumable());
        assert_eq!(lines.feed(b"no newline"), b"no newline");
        let mut params = follow();
        params.limit_bytes = Some(100);
        assert!(!LogLines::new(&params, None).resumable());
    }

    #[test]
    fn last_line_without_newline_is_printed_at_the_end() {
        let mut lines = LogLines::new(&LogParams::default(), Some("[x] ".into()));
        assert_eq!(lines.feed(b"a\nb"), b"[x] a\n");
        assert_eq!(lines.finish(), b"[x] b");
    }
}
