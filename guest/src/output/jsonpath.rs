//! `-o jsonpath=TEMPLATE`, as kubectl implements it (`k8s.io/client-go/util/jsonpath`).
//!
//! A template is text with `{...}` actions. An action is a path (`.a.b`, `['a.b']`,
//! `[n]`, `[-n]`, `[*]`, `.*`, `[start:end]`, `..name`, `[?(@.x=="y")]`), a string
//! literal (`{"\n"}`) or `{range PATH}...{end}`. The results of one action are joined by
//! a space; strings print raw, numbers as Go prints them, objects and arrays as compact
//! JSON. kubectl allows missing keys by default (`--allow-missing-template-keys`): a
//! missing key prints nothing.

use std::cmp::Ordering;

use serde_json::Value;

use crate::golang;

/// A parsed template.
#[derive(Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

#[derive(Debug, PartialEq, Eq)]
enum Node {
    Text(String),
    Path(Vec<Step>),
    Range(Vec<Step>, Vec<Node>),
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Field(String),
    Wildcard,
    Recursive,
    Index(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Box<Filter>),
}

#[derive(Debug, PartialEq, Eq)]
struct Filter {
    left: Operand,
    /// `None`: an existence test (`[?(@.x)]`).
    cmp: Option<(Cmp, Operand)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Template {
    /// Parses a template; the error reads like client-go's (`unclosed action`...).
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut p = Parser {
            chars: source.chars().collect(),
            pos: 0,
        };
        // Open `{range}` bodies; the bottom one is the template itself.
        let mut stack: Vec<(Vec<Step>, Vec<Node>)> = vec![(Vec::new(), Vec::new())];
        while p.pos < p.chars.len() {
            let start = p.pos;
            while p.peek().is_some_and(|c| c != '{') {
                p.pos += 1;
            }
            if p.pos > start {
                let text = p.chars[start..p.pos].iter().collect();
                push(&mut stack, Node::Text(text));
            }
            if p.eat('{') {
                p.skip_spaces();
                if p.peek_word("range") {
                    p.pos += 5;
                    let path = p.path()?;
                    p.close()?;
                    stack.push((path, Vec::new()));
                } else if p.peek_word("end") {
                    p.pos += 3;
                    p.close()?;
                    if stack.len() < 2 {
                        return Err("not in range, nothing to end".into());
                    }
                    let (path, body) = stack.pop().unwrap_or_default();
                    push(&mut stack, Node::Range(path, body));
                } else if matches!(p.peek(), Some('"' | '\'')) {
                    let text = p.quoted()?;
                    p.close()?;
                    push(&mut stack, Node::Text(text));
                } else {
                    let path = p.path()?;
                    p.close()?;
                    push(&mut stack, Node::Path(path));
                }
            }
        }
        if stack.len() > 1 {
            return Err("unclosed range, missing {end}".into());
        }
        let nodes = stack.pop().map(|(_, nodes)| nodes).unwrap_or_default();
        Ok(Template {
            source: source.to_string(),
            nodes,
        })
    }

    /// The template as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the template on `data`. With `allow_missing_keys` false, a missing key is an
    /// error (`KEY is not found`).
    pub fn execute(&self, data: &Value, allow_missing_keys: bool) -> Result<String, String> {
        let mut out = String::new();
        run(&self.nodes, data, allow_missing_keys, &mut out)?;
        Ok(out)
    }
}

fn push(stack: &mut [(Vec<Step>, Vec<Node>)], node: Node) {
    if let Some((_, nodes)) = stack.last_mut() {
        nodes.push(node);
    }
}

fn run(nodes: &[Node], data: &Value, allow: bool, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Path(path) => {
                let values = eval(path, data, allow)?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    print_value(v, out);
                }
            }
            Node::Range(path, body) => {
                let values = eval(path, data, allow)?;
                let items: Vec<&Value> = match values.as_slice() {
                    [Value::Array(items)] => items.iter().collect(),
                    _ => values,
                };
                for item in items {
                    run(body, item, allow, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval<'a>(path: &[Step], data: &'a Value, allow: bool) -> Result<Vec<&'a Value>, String> {
    let mut cur = vec![data];
    for step in path {
        let mut next = Vec::new();
        for v in &cur {
            match step {
                Step::Field(name) => {
                    if let Some(found) = v.as_object().and_then(|m| m.get(name)) {
                        next.push(found);
                    }
                }
                Step::Wildcard => match v {
                    Value::Object(m) => next.extend(m.values()),
                    Value::Array(items) => next.extend(items.iter()),
                    _ => {}
                },
                Step::Recursive => descend(v, &mut next),
                Step::Index(i) => {
                    let Value::Array(items) = v else { continue };
                    let len = items.len() as i64;
                    let at = if *i < 0 { i + len } else { *i };
                    if (0..len).contains(&at) {
                        next.push(&items[at as usize]);
                    } else if !allow {
                        return Err(format!(
                            "array index out of bounds: index {i}, length {len}"
                        ));
                    }
                }
                Step::Slice(start, end, step) => {
                    let Value::Array(items) = v else { continue };
                    let len = items.len() as i64;
                    let clamp = |n: i64| (if n < 0 { n + len } else { n }).clamp(0, len);
                    let from = clamp(start.unwrap_or(0));
                    let to = clamp(end.unwrap_or(len));
                    let by = step.unwrap_or(1).max(1) as usize;
                    if from < to {
                        next.extend(items[from as usize..to as usize].iter().step_by(by));
                    }
                }
                Step::Filter(filter) => {
                    let Value::Array(items) = v else {
                        return Err(format!("{} is not array or slice", compact(v)));
                    };
                    for item in items {
                        if filter.matches(item)? {
                            next.push(item);
                        }
                    }
                }
            }
        }
        if next.is_empty()
            && !allow
            && let Step::Field(name) = step
        {
            return Err(format!("{name} is not found"));
        }
        cur = next;
    }
    Ok(cur)
}

fn descend<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    match v {
        Value::Object(m) => m.values().for_each(|c| descend(c, out)),
        Value::Array(items) => items.iter().for_each(|c| descend(c, out)),
        _ => {}
    }
}

impl Filter {
    fn matches(&self, item: &Value) -> Result<bool, String> {
        let operand = |o: &Operand| -> Result<Option<Value>, String> {
            Ok(match o {
                Operand::Literal(v) => Some(v.clone()),
                Operand::Path(p) => eval(p, item, true)?.first().map(|v| (*v).clone()),
            })
        };
        let left = operand(&self.left)?;
        let Some((cmp, right)) = &self.cmp else {
            return Ok(left.is_some());
        };
        let (Some(left), Some(right)) = (left, operand(right)?) else {
            return Ok(false);
        };
        let order = match (&left, &right) {
            (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            _ if left == right => Some(Ordering::Equal),
            _ => None,
        };
        Ok(match cmp {
            Cmp::Eq => order == Some(Ordering::Equal),
            Cmp::Ne => order != Some(Ordering::Equal),
            Cmp::Lt => order == Some(Ordering::Less),
            Cmp::Gt => order == Some(Ordering::Greater),
            Cmp::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
            Cmp::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        })
    }
}

/// A value as client-go prints it: strings raw, scalars as Go's `fmt`, objects and
/// arrays as compact JSON (`json.Marshal`).
fn print_value(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&golang::number_to_string(n, golang::format_float_g)),
        _ => write_compact(v, out),
    }
}

fn compact(v: &Value) -> String {
    let mut out = String::new();
    write_compact(v, &mut out);
    out
}

fn write_compact(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => out.push_str(&golang::number_to_string(n, golang::format_float_json)),
        Value::String(s) => super::write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                super::write_json_string(k, out);
                out.push(':');
                write_compact(item, out);
            }
            out.push('}');
        }
        other => print_value(other, out),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    /// Whether `word` follows as a whole identifier.
    fn peek_word(&self, word: &str) -> bool {
        let end = self.pos + word.len();
        end <= self.chars.len()
            && self.chars[self.pos..end].iter().copied().eq(word.chars())
            && !self
                .chars
                .get(end)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    }

    fn close(&mut self) -> Result<(), String> {
        self.skip_spaces();
        match self.peek() {
            Some('}') => {
                self.pos += 1;
                Ok(())
            }
            None => Err("unclosed action".into()),
            Some(c) => Err(format!("unrecognized character in action: {}", go_rune(c))),
        }
    }

    /// A path, up to (not including) `}` or, inside a filter, a comparison or `)`.
    fn path(&mut self) -> Result<Vec<Step>, String> {
        self.skip_spaces();
        let mut steps = Vec::new();
        if matches!(self.peek(), Some('$' | '@')) {
            self.pos += 1;
        } else if self.peek().is_some_and(is_field_char) {
            // `{items}` is `{.items}`.
            steps.push(self.field());
        }
        loop {
            match self.peek() {
                Some('.') if self.chars.get(self.pos + 1) == Some(&'.') => {
                    self.pos += 2;
                    steps.push(Step::Recursive);
                    if self.peek().is_some_and(is_field_char) {
                        steps.push(self.field());
                    }
                }
                Some('.') => {
                    self.pos += 1;
                    if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else if self.peek().is_some_and(is_field_char) {
                        steps.push(self.field());
                    }
                }
                Some('[') => {
                    self.pos += 1;
                    steps.push(self.bracket()?);
                }
                _ => return Ok(steps),
            }
        }
    }

    fn field(&mut self) -> Step {
        let start = self.pos;
        while self.peek().is_some_and(is_field_char) {
            self.pos += 1;
        }
        Step::Field(self.chars[start..self.pos].iter().collect())
    }

    /// After `[`: an index, slice, `*`, quoted key or filter, and the closing `]`.
    fn bracket(&mut self) -> Result<Step, String> {
        let step = if self.eat('?') {
            if !self.eat('(') {
                return Err("unterminated filter".into());
            }
            let left = self.operand()?;
            self.skip_spaces();
            let cmp = if self.peek() == Some(')') {
                None
            } else {
                let cmp = self.cmp()?;
                Some((cmp, self.operand()?))
            };
            self.skip_spaces();
            if !self.eat(')') {
                return Err("unterminated filter".into());
            }
            Step::Filter(Box::new(Filter { left, cmp }))
        } else if self.eat('*') {
            Step::Wildcard
        } else if matches!(self.peek(), Some('"' | '\'')) {
            Step::Field(self.quoted()?)
        } else {
            let text: String = self.chars[self.pos..]
                .iter()
                .take_while(|c| !matches!(c, ']' | '}'))
                .collect();
            self.pos += text.chars().count();
            let parts: Vec<&str> = text.split(':').map(str::trim).collect();
            let number = |s: &str| -> Result<Option<i64>, String> {
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse()
                    .map(Some)
                    .map_err(|_| format!("invalid array index {text}"))
            };
            match parts.as_slice() {
                [one] => Step::Index(number(one)?.ok_or(format!("invalid array index {text}"))?),
                [a, b] => Step::Slice(number(a)?, number(b)?, None),
                [a, b, c] => Step::Slice(number(a)?, number(b)?, number(c)?),
                _ => return Err(format!("invalid array index {text}")),
            }
        };
        if !self.eat(']') {
            return Err("unterminated array".into());
        }
        Ok(step)
    }

    fn cmp(&mut self) -> Result<Cmp, String> {
        let two: String = self.chars[self.pos..].iter().take(2).collect();
        let (cmp, len) = match two.as_str() {
            "==" => (Cmp::Eq, 2),
            "!=" => (Cmp::Ne, 2),
            "<=" => (Cmp::Le, 2),
            ">=" => (Cmp::Ge, 2),
            _ if two.starts_with('<') => (Cmp::Lt, 1),
            _ if two.starts_with('>') => (Cmp::Gt, 1),
            _ => return Err(format!("unrecognized filter operator in {two:?}")),
        };
        self.pos += len;
        Ok(cmp)
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_spaces();
        match self.peek() {
            Some('"' | '\'') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E')
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let number: f64 = text
                    .parse()
                    .map_err(|_| format!("cannot parse number {text}"))?;
                Ok(Operand::Literal(serde_json::json!(number)))
            }
            Some(_) if self.peek_word("true") || self.peek_word("false") => {
                let value = self.peek_word("true");
                self.pos += if value { 4 } else { 5 };
                Ok(Operand::Literal(Value::Bool(value)))
            }
            Some('@' | '$' | '.') => Ok(Operand::Path(self.path()?)),
            None => Err("unterminated filter".into()),
            Some(c) => Err(format!("unrecognized character in action: {}", go_rune(c))),
        }
    }

    /// A `"..."` or `'...'` literal with Go's backslash escapes.
    fn quoted(&mut self) -> Result<String, String> {
        let quote = self.peek().unwrap_or('"');
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some(c @ ('\\' | '"' | '\'')) => c,
                        _ => return Err("invalid syntax in quoted string".into()),
                    };
                    text.push(escaped);
                    self.pos += 1;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/')
}

/// `c` as Go's `%#U` prints it: `U+0025 '%'`.
fn go_rune(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: &str, data: &Value) -> String {
        Template::parse(template)
            .unwrap()
            .execute(data, true)
            .unwrap()
    }

    fn pods() -> Value {
        json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"app": "web"}}, "status": {"phase": "Running"},
             "spec": {"containers": [{"name": "c1", "image": "nginx"}, {"name": "c2", "image": "busybox"}]}},
            {"metadata": {"name": "b"}, "status": {"phase": "Pending"},
             "spec": {"containers": [{"name": "c3", "image": "redis"}], "priority": 5}},
            {"metadata": {"name": "c"}, "status": {"phase": "Running"}, "spec": {"priority": 1.5}}
        ]})
    }

    #[test]
    fn jsonpath_lists_item_names() {
        assert_eq!(run("{.items[*].metadata.name}", &pods()), "a b c");
        assert_eq!(
            run("names: {$.items[0].metadata.name}!", &pods()),
            "names: a!"
        );
        assert_eq!(run("{.items[-1].metadata.name}", &pods()), "c");
        assert_eq!(run("{.items[0:2].metadata.name}", &pods()), "a b");
        assert_eq!(run("{.items[1:].metadata.name}", &pods()), "b c");
        assert_eq!(run("{items[0].metadata['name']}", &pods()), "a");
    }

    #[test]
    fn jsonpath_range_with_newlines() {
        assert_eq!(
            run(
                r#"{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#,
                &pods()
            ),
            "a\tRunning\nb\tPending\nc\tRunning\n"
        );
        assert_eq!(
            run(
                "{range .items[*]}[{range .spec.containers[*]}{.name},{end}]{end}",
                &pods()
            ),
            "[c1,c2,][c3,][]"
        );
    }

    #[test]
    fn jsonpath_filter_selects_running_pods() {
        let data = pods();
        assert_eq!(
            run(
                r#"{.items[?(@.status.phase=="Running")].metadata.name}"#,
                &data
            ),
            "a c"
        );
        assert_eq!(
            run(
                "{.items[?(@.status.phase!='Running')].metadata.name}",
                &data
            ),
            "b"
        );
        assert_eq!(
            run("{.items[?(@.spec.priority > 1)].metadata.name}", &data),
            "b c"
        );
        assert_eq!(
            run("{.items[?(@.spec.priority<=1.5)].metadata.name}", &data),
            "c"
        );
        assert_eq!(
            run("{.items[?(@.metadata.labels)].metadata.name}", &data),
            "a"
        );
    }

    #[test]
    fn jsonpath_missing_key_prints_nothing() {
        assert_eq!(run("x{.items[0].nope.deeper}y", &pods()), "xy");
        assert_eq!(run("{.items[9].metadata.name}", &pods()), "");
        let t = Template::parse("{.items[0].nope}").unwrap();
        assert_eq!(t.execute(&pods(), false).unwrap_err(), "nope is not found");
    }

    #[test]
    fn jsonpath_recursive_descent() {
        assert_eq!(run("{..image}", &pods()), "nginx busybox redis");
        assert_eq!(run("{.items[1]..name}", &pods()), "b c3");
    }

    #[test]
    fn jsonpath_prints_values_like_kubectl() {
        let data = json!({"o": {"b": [1, "<x>"], "a": true}, "n": 3, "f": 2.5, "z": null});
        assert_eq!(run("{.o}", &data), r#"{"a":true,"b":[1,"\u003cx\u003e"]}"#);
        assert_eq!(run("{.n} {.f} {.o.a} {.z}", &data), "3 2.5 true null");
        assert_eq!(run("{['o']['a']}", &json!({"o": {"a": "k"}})), "k");
        assert_eq!(run("{['a.b']}", &json!({"a.b": "dotted"})), "dotted");
        assert_eq!(run("{.o.*}", &data), r#"true [1,"\u003cx\u003e"]"#);
    }

    #[test]
    fn jsonpath_parse_errors_are_clear() {
        let err = |t: &str| Template::parse(t).unwrap_err();
        assert_eq!(err("{.items"), "unclosed action");
        assert_eq!(err("{.items[0}"), "unterminated array");
        assert_eq!(
            err("{.a %}"),
            "unrecognized character in action: U+0025 '%'"
        );
        assert_eq!(err("{end}"), "not in range, nothing to end");
        assert_eq!(err("{range .items[*]}x"), "unclosed range, missing {end}");
        assert_eq!(
            err("{.items[?(@.a=)]}"),
            "unrecognized filter operator in \"=)\""
        );
        assert_eq!(err("{.items[x]}"), "invalid array index x");
        assert_eq!(err(r#"{"abc}"#), "unterminated quoted string");
    }
}
