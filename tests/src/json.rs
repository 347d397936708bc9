//! Byte-faithful JSON helpers.
//!
//! The fake server answers with the API server's own bytes. Decoding an object into a
//! `serde_json::Value` and encoding it again would reorder keys (serde_json sorts them unless the
//! `preserve_order` feature is on, which would leak into every crate of the workspace) and change
//! string escaping. So items are cut out of the recorded documents as raw slices, and the few
//! values the fake writes itself are encoded the way Go's `encoding/json` encodes them.

use anyhow::{Result, anyhow, bail};

/// Returns the raw text of each element of a JSON array.
pub fn array_items(raw: &str) -> Result<Vec<&str>> {
    let b = raw.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        bail!("expected a JSON array");
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let end = value_end(b, i)?;
        out.push(&raw[i..end]);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return Ok(out),
            _ => bail!("malformed JSON array at byte {i}"),
        }
    }
}

/// Returns the (decoded key, raw value) pairs of a JSON object, in document order.
pub fn object_entries(raw: &str) -> Result<Vec<(String, &str)>> {
    let b = raw.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        bail!("expected a JSON object");
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b'}') {
        return Ok(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            bail!("expected an object key at byte {i}");
        }
        let key_end = value_end(b, i)?;
        let key: String = serde_json::from_str(&raw[i..key_end])?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            bail!("expected ':' at byte {i}");
        }
        i = skip_ws(b, i + 1);
        let end = value_end(b, i)?;
        out.push((key, &raw[i..end]));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(out),
            _ => bail!("malformed JSON object at byte {i}"),
        }
    }
}

/// The raw value of one top-level key of a JSON object.
pub fn field<'a>(raw: &'a str, key: &str) -> Result<Option<&'a str>> {
    Ok(object_entries(raw)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v))
}

/// Like [`field`], but the key must be present.
pub fn required_field<'a>(raw: &'a str, key: &str) -> Result<&'a str> {
    field(raw, key)?.ok_or_else(|| anyhow!("JSON object has no {key:?} field"))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the JSON value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Result<usize> {
    match b.get(i) {
        None => bail!("unexpected end of JSON"),
        Some(b'"') => {
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' => return Ok(j + 1),
                    _ => j += 1,
                }
            }
            bail!("unterminated JSON string")
        }
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = value_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            bail!("unterminated JSON container")
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            if j == i {
                bail!("empty JSON value at byte {i}");
            }
            Ok(j)
        }
    }
}

/// Encodes a string exactly as Go's `encoding/json` does (HTML-safe escaping of `<`, `>`, `&`,
/// and of U+2028/U+2029), so that messages the fake writes look like the server's.
pub fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (kubeconfig `*-data` fields).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= n {
                out.push(B64[((v >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// URL-safe base64 without padding, as Go's `base64.RawURLEncoding` (continue tokens).
pub fn base64_url_encode(data: &[u8]) -> String {
    base64_encode(data)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// Decodes standard or URL-safe base64, with or without padding.
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for (pos, c) in s.trim_end_matches('=').bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => bail!("illegal base64 data at input byte {pos}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_items_and_fields_are_exact_slices() {
        let doc = r#"{"a":1,"b":[{"x":"y,]}"},{"z":[1,2]}],"c":"q\"x"}"#;
        let b = field(doc, "b").unwrap().unwrap();
        assert_eq!(
            array_items(b).unwrap(),
            vec![r#"{"x":"y,]}"}"#, r#"{"z":[1,2]}"#]
        );
        assert_eq!(field(doc, "c").unwrap(), Some(r#""q\"x""#));
        assert_eq!(field(doc, "a").unwrap(), Some("1"));
        assert_eq!(field(doc, "nope").unwrap(), None);
        assert!(array_items("[]").unwrap().is_empty());
    }

    #[test]
    fn go_string_escapes_like_encoding_json() {
        assert_eq!(
            go_string(r#"pods "x" <&>"#),
            r#""pods \"x\" \u003c\u0026\u003e""#
        );
        assert_eq!(go_string("a\nb"), r#""a\nb""#);
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
            assert_eq!(
                base64_decode(&base64_url_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("a*b").is_err());
    }
}
