//! YAML to JSON, the way kubectl reads manifests (`sigs.k8s.io/yaml`, go-yaml v2).
//!
//! Events from `granit-parser` become `serde_json::Value`s. Plain scalars are resolved
//! as go-yaml v2 resolves them, so a manifest means what it means to kubectl: `~`,
//! `null` and empty are null; `true`/`false` and YAML 1.1's `yes`/`no`/`on`/`off`/`y`/`n`
//! are booleans; decimal, `0x` hex, `0o` and leading-zero octal are integers; decimal
//! floats are numbers. Quoted and block scalars, and `!!str`, are always strings.
//! Anchors and aliases work; a duplicated mapping key is an error (as in kubectl). Not
//! supported: merge keys (`<<`), complex (non-scalar) keys, `.inf`/`.nan` (JSON has no
//! such numbers).

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// Parses every document of `text` (an empty document is `null`).
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| e.to_string())?;
        builder
            .event(event)
            .map_err(|e| format!("{e} (line {})", span.start.line()))?;
    }
    Ok(builder.documents)
}

/// A collection being built.
enum Open {
    /// The items so far, the anchor.
    Sequence(Vec<Value>, usize),
    /// The map, the key waiting for its value, the anchor.
    Mapping(Map<String, Value>, Option<String>, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Value>,
    /// The root of the current document, once complete.
    root: Option<Value>,
    documents: Vec<Value>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::DocumentStart(..) => {
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => {
                self.documents.push(self.root.take().unwrap_or(Value::Null));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let core = tag
                    .as_ref()
                    .filter(|t| t.handle() == "tag:yaml.org,2002:")
                    .map(|t| t.suffix().to_string());
                let value = scalar(&text, style, tag.is_some(), core.as_deref())?;
                self.value(value, anchor)?;
            }
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| "unknown anchor".to_string())?;
                self.value(value, 0)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.stack.push(Open::Sequence(Vec::new(), anchor))
            }
            Event::MappingStart(_, anchor, _) => {
                self.stack.push(Open::Mapping(Map::new(), None, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Open::Sequence(items, anchor)) => (Value::Array(items), anchor),
                    Some(Open::Mapping(map, _, anchor)) => (Value::Object(map), anchor),
                    None => return Err("unbalanced collection end".into()),
                };
                self.value(value, anchor)?;
            }
            // Stream markers, comments, anchor metadata: nothing to build.
            _ => {}
        }
        Ok(())
    }

    /// Places a complete node: in the open collection, or as the document's root.
    fn value(&mut self, value: Value, anchor: usize) -> Result<(), String> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Open::Sequence(items, _)) => items.push(value),
            Some(Open::Mapping(map, key, _)) => match key.take() {
                None => {
                    // JSON keys are strings: a scalar key keeps its text.
                    let name = match value {
                        Value::String(s) => s,
                        Value::Null => "null".into(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err("a mapping key must be a scalar".into());
                        }
                    };
                    if map.contains_key(&name) {
                        return Err(format!("mapping key {name:?} already defined"));
                    }
                    *key = Some(name);
                }
                Some(name) => {
                    map.insert(name, value);
                }
            },
        }
        Ok(())
    }
}

/// Resolves a scalar (see the module docs). `core` is the suffix of a
/// `tag:yaml.org,2002:` tag (`!!str`, `!!int`...).
fn scalar(
    text: &str,
    style: ScalarStyle,
    tagged: bool,
    core: Option<&str>,
) -> Result<Value, String> {
    match core {
        Some("str") | Some("binary") => return Ok(Value::String(text.to_string())),
        Some("null") => return Ok(Value::Null),
        Some(kind @ ("bool" | "int" | "float")) => {
            return match resolve_plain(text)? {
                Value::String(_) => Err(format!("cannot decode {text:?} as !!{kind}")),
                value => Ok(value),
            };
        }
        _ => {}
    }
    if style != ScalarStyle::Plain || tagged {
        return Ok(Value::String(text.to_string()));
    }
    resolve_plain(text)
}

fn resolve_plain(text: &str) -> Result<Value, String> {
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | "+.Inf" | "-.Inf" | ".nan" | ".NaN"
        | ".NAN" => return Err(format!("{text} cannot be represented in JSON")),
        _ => integer(text)
            .or_else(|| float(text))
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_string())),
    })
}

fn integer(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(octal) = digits.strip_prefix("0o") {
        (8, octal)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude).map(Number::from)
    } else {
        Some(Number::from(magnitude))
    }
}

fn float(text: &str) -> Option<Number> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = !mantissa.is_empty()
        && mantissa != "."
        && mantissa.matches('.').count() <= 1
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.');
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    if !(mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())) {
        return None;
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let mut docs = documents(text).unwrap();
        assert_eq!(docs.len(), 1, "{text}");
        docs.remove(0)
    }

    #[test]
    fn scalars_resolve_like_go_yaml_v2() {
        let v = one(
            "a: 1\nb: -2\nc: 0x1F\nd: 0777\ne: 1.5\nf: 1e3\ng: yes\nh: off\ni: ~\nj:\nk: '1'\nl: \"true\"\nm: 1.2.3\nq: !!str 10\no: 0o17\np: v1\n",
        );
        assert_eq!(
            v,
            json!({"a": 1, "b": -2, "c": 31, "d": 511, "e": 1.5, "f": 1000.0, "g": true, "h": false,
                   "i": null, "j": null, "k": "1", "l": "true", "m": "1.2.3", "q": "10", "o": 15, "p": "v1"})
        );
    }

    #[test]
    fn block_scalars_sequences_flow_and_anchors() {
        let v = one(
            "script: |\n  echo a\n  echo b\nfolded: >\n  a\n  b\nlist:\n- &x {name: c, ports: [80, 443]}\n- *x\n",
        );
        assert_eq!(v["script"], "echo a\necho b\n");
        assert_eq!(v["folded"], "a b\n");
        assert_eq!(v["list"][0], json!({"name": "c", "ports": [80, 443]}));
        assert_eq!(v["list"][1], v["list"][0]);
    }

    #[test]
    fn documents_are_separated_and_empty_ones_are_null() {
        let docs = documents("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs, [json!({"a": 1}), Value::Null, json!({"b": 2})]);
        assert!(documents("").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_problem() {
        let dup = documents("a: 1\na: 2\n").unwrap_err();
        assert!(dup.contains("mapping key \"a\" already defined"), "{dup}");
        assert!(documents("a: [1\n").is_err());
        let inf = documents("a: .inf\n").unwrap_err();
        assert!(inf.contains("cannot be represented in JSON"), "{inf}");
    }
}
