//! `labelSelector` and `fieldSelector` parsing and matching, following the grammar of
//! `k8s.io/apimachinery/pkg/labels` and `.../fields`.
//!
//! Label requirements: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`,
//! `k<n`; a comma between requirements means AND. Field requirements: `f=v`, `f==v`, `f!=v`,
//! comma = AND, `\,` `\=` `\\` escapes. A field the resource does not support is rejected the way
//! the API server rejects it (`field label not supported: X`).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum LabelOp {
    Exists,
    DoesNotExist,
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<(String, LabelOp)>,
}

impl LabelSelector {
    /// Parses the `labelSelector` query value. The error is the message for a 400 Status.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_outside_parens(s) {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(format!(
                    "unable to parse requirement: found ',', expected: identifier in {s:?}"
                ));
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { reqs })
    }

    /// True when every requirement holds for these labels (`metadata.labels`, may be absent).
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|(key, op)| match op {
            LabelOp::Exists => get(key).is_some(),
            LabelOp::DoesNotExist => get(key).is_none(),
            LabelOp::Equals(v) => get(key) == Some(v.as_str()),
            LabelOp::NotEquals(v) => get(key) != Some(v.as_str()),
            LabelOp::In(set) => get(key).is_some_and(|x| set.iter().any(|v| v == x)),
            LabelOp::NotIn(set) => !get(key).is_some_and(|x| set.iter().any(|v| v == x)),
            LabelOp::Gt(n) => get(key)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            LabelOp::Lt(n) => get(key)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }

    /// True when the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

fn split_outside_parens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_requirement(r: &str) -> Result<(String, LabelOp), String> {
    let bad = |why: &str| Err(format!("unable to parse requirement: {why} in {r:?}"));
    if let Some(rest) = r.strip_prefix('!') {
        let key = rest.trim();
        if !valid_key(key) {
            return bad("invalid label key");
        }
        return Ok((key.to_string(), LabelOp::DoesNotExist));
    }
    let key_end = r
        .find(|c: char| c.is_whitespace() || "=!<>(),".contains(c))
        .unwrap_or(r.len());
    let key = &r[..key_end];
    if !valid_key(key) {
        return bad("invalid label key");
    }
    let rest = r[key_end..].trim_start();
    let op = if rest.is_empty() {
        LabelOp::Exists
    } else if let Some(v) = rest.strip_prefix("==") {
        LabelOp::Equals(value(v)?)
    } else if let Some(v) = rest.strip_prefix("!=") {
        LabelOp::NotEquals(value(v)?)
    } else if let Some(v) = rest.strip_prefix('=') {
        LabelOp::Equals(value(v)?)
    } else if let Some(v) = rest.strip_prefix('>') {
        LabelOp::Gt(
            v.trim()
                .parse()
                .map_err(|_| format!("unable to parse requirement: {v:?} is not an integer"))?,
        )
    } else if let Some(v) = rest.strip_prefix('<') {
        LabelOp::Lt(
            v.trim()
                .parse()
                .map_err(|_| format!("unable to parse requirement: {v:?} is not an integer"))?,
        )
    } else if let Some(v) = rest.strip_prefix("notin") {
        LabelOp::NotIn(set(v, r)?)
    } else if let Some(v) = rest.strip_prefix("in") {
        LabelOp::In(set(v, r)?)
    } else {
        return bad("found unexpected operator");
    };
    Ok((key.to_string(), op))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn value(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.len() > 63
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "unable to parse requirement: invalid label value: {v:?}"
        ));
    }
    Ok(v.to_string())
}

fn set(v: &str, r: &str) -> Result<Vec<String>, String> {
    let v = v.trim();
    let inner = v
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: found {v:?}, expected: '(' in {r:?}")
        })?;
    let values: Vec<String> = inner.split(',').map(value).collect::<Result<_, _>>()?;
    if inner.trim().is_empty() {
        return Err(format!(
            "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty in {r:?}"
        ));
    }
    Ok(values)
}

/// A parsed field selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    /// (field path, must equal?, value)
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query value. The error is the message for a 400 Status.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        if s.is_empty() {
            return Ok(FieldSelector { terms });
        }
        for part in split_unescaped(s, ',') {
            let (field, eq, val) = split_term(&part)
                .ok_or_else(|| format!("invalid selector: '{s}'; can't understand '{part}'"))?;
            terms.push((unescape(field), eq, unescape(val)));
        }
        Ok(FieldSelector { terms })
    }

    /// Rejects fields outside `supported`, with the API server's message.
    pub fn check_supported(&self, supported: &[&str]) -> Result<(), String> {
        for (f, _, _) in &self.terms {
            if !supported.contains(&f.as_str()) {
                return Err(format!("field label not supported: {f}"));
            }
        }
        Ok(())
    }

    /// True when every term holds for the object.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(f, eq, v)| {
            let actual = field_value(obj, f);
            (actual == *v) == *eq
        })
    }

    /// The name when the selector pins `metadata.name=X` (used for authorization and watches).
    pub fn exact_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }

    /// True when the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The string value the API server's field-label conversion yields for `path`; booleans become
/// `"true"`/`"false"`, absent fields the empty string (or `"false"` for booleans).
fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => {
                return match path {
                    "spec.hostNetwork" | "spec.unschedulable" => "false".into(),
                    _ => String::new(),
                };
            }
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn split_term(t: &str) -> Option<(&str, bool, &str)> {
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'!' if b.get(i + 1) == Some(&b'=') => return Some((&t[..i], false, &t[i + 2..])),
            b'=' if b.get(i + 1) == Some(&b'=') => return Some((&t[..i], true, &t[i + 2..])),
            b'=' => return Some((&t[..i], true, &t[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_grammar_matches_apimachinery() {
        let l = json!({"app": "bench", "tier": "web", "index": "3"});
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(m("tier=web,index in (0,3,6)"));
        assert!(m("tier==web"));
        assert!(!m("tier!=web"));
        assert!(m("app"));
        assert!(!m("!app"));
        assert!(m("!missing"));
        assert!(m("index notin (1, 2)"));
        assert!(m("missing notin (1)"));
        assert!(m("index>2,index<4"));
        assert!(m(""));
        assert!(!m("missing=x"));
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a=(").is_err());
        assert!(LabelSelector::parse("a in ()").is_err());
        assert!(LabelSelector::parse("=x").is_err());
    }

    #[test]
    fn field_selector_supports_equality_inequality_and_escapes() {
        let pod = json!({"metadata": {"name": "a,b"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&pod);
        assert!(m(r"metadata.name=a\,b"));
        assert!(m("spec.nodeName==node-1,status.phase!=Pending"));
        assert!(!m("status.phase=Pending"));
        assert!(m("spec.hostNetwork=false"));
        let s = FieldSelector::parse("metadata.name=x").unwrap();
        assert_eq!(s.exact_name(), Some("x"));
        assert_eq!(
            FieldSelector::parse("foo=bar")
                .unwrap()
                .check_supported(&["metadata.name"]),
            Err("field label not supported: foo".to_string())
        );
        assert_eq!(
            FieldSelector::parse("nonsense"),
            Err("invalid selector: 'nonsense'; can't understand 'nonsense'".to_string())
        );
    }
}
