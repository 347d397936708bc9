//! Go's formatting of numbers and strings, where kubectl's output depends on it.
//!
//! kubectl is a Go program: its tables print cells with `fmt.Sprint`, its JSON comes from
//! `encoding/json` and its YAML from go-yaml. Matching it byte for byte means formatting
//! floats and quoting strings the way Go does.

use serde_json::{Number, Value};

/// `strconv.FormatFloat(f, 'g', -1, 64)`, which is also what `fmt.Sprint` prints: the
/// shortest representation, in exponent form when the exponent is < -4 or >= 6
/// (`1e+06`, `1.5e-05`), positional otherwise.
pub(crate) fn format_float_g(f: f64) -> String {
    if let Some(special) = non_finite(f) {
        return special.to_string();
    }
    let (digits, exp) = shortest_digits(f);
    if !(-4..6).contains(&exp) {
        exponent_form(f.is_sign_negative(), &digits, exp, true)
    } else {
        // Rust's Display is the shortest positional form, like Go's 'f' with precision -1.
        format!("{f}")
    }
}

/// `encoding/json`'s float encoding: positional between 1e-6 and 1e21, otherwise
/// exponent form with the exponent's leading zero dropped (`1e-7`, `1e+21`).
pub(crate) fn format_float_json(f: f64) -> String {
    if let Some(special) = non_finite(f) {
        // JSON cannot carry these; Go refuses to encode them. Never produced from parsed JSON.
        return special.to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest_digits(f);
        exponent_form(f.is_sign_negative(), &digits, exp, false)
    } else {
        format!("{f}")
    }
}

/// A JSON number as Go's unstructured decoding then `fmt`/`encoding/json` print it:
/// integers stay integers; anything else is a float64.
pub(crate) fn number_to_string(n: &Number, float: fn(f64) -> String) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        n.as_f64().map(float).unwrap_or_else(|| n.to_string())
    }
}

/// `fmt.Sprint(v)` of a value decoded from JSON into `interface{}`: `[a b]` for arrays,
/// `map[k:v]` (keys sorted) for objects, `<nil>` for null.
pub(crate) fn sprint(v: &Value) -> String {
    let mut out = String::new();
    sprint_into(v, &mut out);
    out
}

fn sprint_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_to_string(n, format_float_g)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                if let Some(value) = map.get(key) {
                    sprint_into(value, out);
                }
            }
            out.push(']');
        }
    }
}

fn non_finite(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        None
    }
}

/// The shortest round-tripping decimal digits of `f` and its decimal exponent
/// (`1234.5` → `("12345", 3)`).
fn shortest_digits(f: f64) -> (String, i32) {
    // `{:e}` is the shortest representation in the form `-1.2345e3`.
    let formatted = format!("{:e}", f.abs());
    let (mantissa, exp) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// `d.ddde±XX` as Go's `%e` writes it; `two_digit_exp` keeps Go's minimum of two exponent
/// digits (strconv), otherwise a single-digit negative exponent loses its zero (JSON).
fn exponent_form(negative: bool, digits: &str, exp: i32, two_digit_exp: bool) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    let (first, rest) = digits.split_at(1.min(digits.len()));
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let magnitude = exp.unsigned_abs();
    if two_digit_exp && magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
    out
}

/// Go's `%q`: double-quoted, with Go escapes for what is not printable.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_g_switches_to_exponent_form_like_go() {
        for (f, want) in [
            (0.0, "0"),
            (1.5, "1.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(format_float_g(f), want, "{f}");
        }
    }

    #[test]
    fn float_json_matches_encoding_json() {
        for (f, want) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (-3.25, "-3.25"),
        ] {
            assert_eq!(format_float_json(f), want, "{f}");
        }
    }

    #[test]
    fn sprint_formats_like_fmt_sprint() {
        assert_eq!(sprint(&json!(5)), "5");
        assert_eq!(sprint(&json!(-5)), "-5");
        assert_eq!(sprint(&json!(2.5)), "2.5");
        assert_eq!(sprint(&json!(true)), "true");
        assert_eq!(sprint(&json!(null)), "<nil>");
        assert_eq!(sprint(&json!(["a", 1, null])), "[a 1 <nil>]");
        assert_eq!(sprint(&json!({"b": 1, "a": "x"})), "map[a:x b:1]");
    }

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(quote("\u{1}é"), "\"\\x01é\"");
    }
}
