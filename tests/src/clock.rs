//! Time for the fake cluster: RFC 3339 parsing/formatting and kubectl's "age" rendering.
//!
//! The recorded cluster lives on 2026-11-28; its Tables say every demo pod is `12m` old. To keep
//! computed Table cells and log timestamps deterministic (and consistent with the recorded
//! rows) the fake server does not read the wall clock for them: it uses [`CLUSTER_NOW`], the
//! moment `pods-demo-table.http` was captured.

use anyhow::{Result, anyhow, bail};

/// The fake cluster's "now" (Unix seconds): `Date: Sat, 28 Nov 2026 15:27:03 GMT` of
/// `pods-demo-table.http`.
pub const CLUSTER_NOW: i64 = 1_795_879_623;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (`2026-11-28T15:14:34Z`, optional fraction and offset) into
/// Unix seconds and nanoseconds.
pub fn parse_rfc3339(s: &str) -> Result<(i64, u32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64> {
        let t = s
            .get(r)
            .ok_or_else(|| anyhow!("timestamp {s:?} is too short"))?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            bail!("timestamp {s:?} is not RFC 3339");
        }
        Ok(t.parse()?)
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        bail!("timestamp {s:?} is not RFC 3339");
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        bail!("timestamp {s:?} is out of range");
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            bail!("timestamp {s:?} has a bad fraction");
        }
        nanos = digits.parse::<u32>()? * 10u32.pow(9 - digits.len() as u32);
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => bail!("timestamp {s:?} has no valid zone"),
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Ok((secs, nanos))
}

/// `2026-11-28T15:27:03Z` (Go's `time.RFC3339` in UTC).
pub fn format_rfc3339(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// `2026-11-28T15:27:03.000000000Z`: the fixed-width form the kubelet prefixes log lines with.
pub fn format_rfc3339_nano_fixed(secs: i64, nanos: u32) -> String {
    let base = format_rfc3339(secs);
    format!("{}.{nanos:09}Z", &base[..base.len() - 1])
}

/// `_2026_11_28_15_27_03` style name component used by the kubelet's atomic writer.
pub fn format_atomic_writer(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}_{mo:02}_{d:02}_{:02}_{:02}_{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Go's `duration.HumanDuration` (k8s.io/apimachinery/pkg/util/duration), which renders the
/// AGE column and "(5m ago)" restart hints.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// kubectl's `translateTimestampSince`: `<unknown>` for a missing timestamp, else the age.
pub fn age(timestamp: Option<&str>, now: i64) -> String {
    match timestamp.and_then(|t| parse_rfc3339(t).ok()) {
        Some((secs, _)) => human_duration(now - secs),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_matches_the_capture_date() {
        assert_eq!(
            parse_rfc3339("2026-11-28T15:27:03Z").unwrap(),
            (CLUSTER_NOW, 0)
        );
        assert_eq!(format_rfc3339(CLUSTER_NOW), "2026-11-28T15:27:03Z");
        assert_eq!(
            parse_rfc3339("2026-11-28T16:27:03.5+01:00").unwrap(),
            (CLUSTER_NOW, 500_000_000)
        );
        assert_eq!(
            format_rfc3339_nano_fixed(CLUSTER_NOW, 7),
            "2026-11-28T15:27:03.000000007Z"
        );
        assert_eq!(format_atomic_writer(CLUSTER_NOW), "2026_11_28_15_27_03");
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2026-13-28T15:27:03Z").is_err());
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        assert_eq!(human_duration(-5), "<invalid>");
        assert_eq!(human_duration(-1), "0s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(12 * 60 + 29), "12m");
        assert_eq!(human_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(100 * 86400), "100d");
        assert_eq!(human_duration(3 * 365 * 86400 + 86400), "3y1d");
        assert_eq!(age(None, CLUSTER_NOW), "<unknown>");
        assert_eq!(age(Some("2026-11-28T15:14:34Z"), CLUSTER_NOW), "12m");
    }
}
