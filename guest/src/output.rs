//! `-o json`, `-o yaml` and `-o name`, printed the way kubectl prints them.
//!
//! kubectl's JSON printer is Go's `json.MarshalIndent(obj, "", "    ")` (keys sorted,
//! `<`, `>`, `&` escaped as `\u003c`...), its YAML printer is go-yaml v2 behind
//! `sigs.k8s.io/yaml` (see [`to_yaml`]), and `-o name` prints `kind.group/name`. Several
//! objects are wrapped in a `List` (`{"apiVersion": "v1", "items": [...], "kind": "List",
//! "metadata": {"resourceVersion": ""}}`).

mod jsonpath;
mod yaml;

use serde_json::{Map, Value};

use crate::golang;
use crate::resource::ResourceType;

pub use jsonpath::Template;
pub use yaml::to_yaml;

/// The output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// The server's table, priority-0 columns (the default).
    #[default]
    Table,
    /// `-o wide`: the server's table with every column.
    Wide,
    /// `-o json`.
    Json,
    /// `-o yaml`.
    Yaml,
    /// `-o name`.
    Name,
    /// `-o jsonpath=TEMPLATE`. Parsed once per run and leaked, so the format stays
    /// `Copy`.
    JsonPath(&'static Template),
}

impl OutputFormat {
    /// Parses an `-o` value.
    pub fn parse(value: &str) -> Option<OutputFormat> {
        match value {
            "wide" => Some(OutputFormat::Wide),
            "json" => Some(OutputFormat::Json),
            "yaml" => Some(OutputFormat::Yaml),
            "name" => Some(OutputFormat::Name),
            _ => None,
        }
    }

    /// Parses `get`'s `-o` value, including `jsonpath=TEMPLATE`; the error is kubectl's.
    pub fn parse_for_get(value: &str) -> Result<OutputFormat, String> {
        if let Some(format) = OutputFormat::parse(value) {
            return Ok(format);
        }
        let template = match value.split_once('=') {
            Some(("jsonpath", template)) => template,
            None if value == "jsonpath" => "",
            _ => {
                return Err(format!(
                    "unable to match a printer suitable for the output format {value:?}, allowed formats are: json,jsonpath,name,wide,yaml"
                ));
            }
        };
        if template.is_empty() {
            return Err("template format specified but no template given".into());
        }
        let template = Template::parse(template)
            .map_err(|e| format!("error parsing jsonpath {template}, {e}"))?;
        Ok(OutputFormat::JsonPath(Box::leak(Box::new(template))))
    }

    /// Whether this is a table (`-o wide` or no `-o`).
    pub fn is_table(self) -> bool {
        matches!(self, OutputFormat::Table | OutputFormat::Wide)
    }
}

/// `v` as kubectl's JSON printer writes it: 4-space indent, keys sorted, Go's escaping,
/// a final newline.
pub fn to_json(v: &Value) -> String {
    to_json_indented(v, "    ")
}

/// `v` as Go's `json.MarshalIndent(v, "", indent)` writes it, plus a final newline.
pub fn to_json_indented(v: &Value, indent: &str) -> String {
    let mut out = String::new();
    write_json(v, indent, 0, &mut out);
    out.push('\n');
    out
}

fn write_json(v: &Value, indent: &str, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&golang::number_to_string(n, golang::format_float_json)),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push('{');
            for (i, (key, value)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json_string(key, out);
                out.push_str(": ");
                write_json(value, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

/// Object entries sorted by key bytes, as Go sorts map keys (whatever order the map
/// itself keeps).
fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// A JSON string with `encoding/json`'s escaping (HTML-safe: `<`, `>`, `&`, U+2028 and
/// U+2029 as `\u` escapes; `\b` and `\f` short forms as in Go 1.22+).
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A `metav1.WatchEvent` as kubectl's JSON printer writes it with
/// `--output-watch-events`: a Go struct, so `type` comes before `object` (the object's
/// own keys are sorted).
pub fn watch_event_to_json(event_type: &str, object: &Value) -> String {
    let mut out = String::from("{\n    \"type\": ");
    write_json_string(event_type, &mut out);
    out.push_str(",\n    \"object\": ");
    write_json(object, "    ", 1, &mut out);
    out.push_str("\n}\n");
    out
}

/// A `metav1.WatchEvent` as a map, for the YAML printer (which sorts the keys, as
/// `sigs.k8s.io/yaml` does: `object` before `type`).
pub fn watch_event_object(event_type: &str, object: Value) -> Value {
    let mut map = Map::new();
    map.insert("object".into(), object);
    map.insert("type".into(), Value::String(event_type.into()));
    Value::Object(map)
}

/// Gives a list item the `apiVersion` and `kind` the server leaves out of list items
/// (`PodList` items are `Pod`s), as kubectl's decoding adds them. An item that has
/// either already is left alone.
pub fn add_item_type(item: &mut Value, api_version: Option<&str>, list_kind: Option<&str>) {
    let Value::Object(fields) = item else {
        return;
    };
    if fields.contains_key("apiVersion") || fields.contains_key("kind") {
        return;
    }
    if let Some(v) = api_version {
        fields.insert("apiVersion".into(), Value::String(v.into()));
    }
    if let Some(k) = list_kind {
        let kind = k.strip_suffix("List").unwrap_or(k);
        fields.insert("kind".into(), Value::String(kind.into()));
    }
}

/// The `List` kubectl prints for several objects (or a list response).
pub fn list_object(items: Vec<Value>) -> Value {
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), Value::String(String::new()));
    let mut list = Map::new();
    list.insert("apiVersion".into(), Value::String("v1".into()));
    list.insert("items".into(), Value::Array(items));
    list.insert("kind".into(), Value::String("List".into()));
    list.insert("metadata".into(), Value::Object(metadata));
    Value::Object(list)
}

/// Prints a kubectl `List` (`-o json`, `-o yaml`) one item at a time, so that a long
/// list is never held whole: the bytes are those of printing [`list_object`] of all the
/// items at once. kubectl's keys are sorted, so `apiVersion` and `items` come before the
/// items and `kind` and `metadata` after them.
#[derive(Debug)]
pub struct ListPrinter {
    yaml: bool,
    items: usize,
}

impl ListPrinter {
    /// A printer of a JSON (`yaml: false`) or YAML list.
    pub fn new(yaml: bool) -> Self {
        ListPrinter { yaml, items: 0 }
    }

    /// Prints the next item.
    pub fn item(&mut self, item: &Value, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut text = String::new();
        if self.yaml {
            if self.items == 0 {
                text.push_str("apiVersion: v1\nitems:\n");
            }
            // A sequence item under a top-level key: go-yaml does not indent the `- `.
            for (i, line) in to_yaml(item).lines().enumerate() {
                match (i, line.is_empty()) {
                    (0, _) => text.push_str("- "),
                    (_, false) => text.push_str("  "),
                    (_, true) => {}
                }
                text.push_str(line);
                text.push('\n');
            }
        } else {
            text.push_str(if self.items == 0 {
                "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n        "
            } else {
                ",\n        "
            });
            write_json(item, "    ", 2, &mut text);
        }
        self.items += 1;
        out.write_all(text.as_bytes())
    }

    /// Ends the list (an empty one is printed whole here).
    pub fn finish(self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let text = match (self.items, self.yaml) {
            (0, false) => to_json(&list_object(Vec::new())),
            (0, true) => to_yaml(&list_object(Vec::new())),
            (_, false) => "\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n".to_string(),
            (_, true) => "kind: List\nmetadata:\n  resourceVersion: \"\"\n".to_string(),
        };
        out.write_all(text.as_bytes())
    }
}

/// One `-o name` line: `pod/demo-00001`, `deployment.apps/web`.
pub fn name_line(resource: &ResourceType, name: &str) -> String {
    format!("{}/{}\n", resource.kind_prefix(), name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{BuiltinResources, ResourceResolver};
    use crate::testutil::fixture_body;
    use serde_json::json;

    /// The items of a list response, each typed by [`add_item_type`] as the printers
    /// type them.
    fn list_items(list: Value) -> Vec<Value> {
        let Value::Object(mut list) = list else {
            return Vec::new();
        };
        let Some(Value::Array(mut items)) = list.remove("items") else {
            return Vec::new();
        };
        let api_version = list.get("apiVersion").and_then(Value::as_str);
        let list_kind = list.get("kind").and_then(Value::as_str);
        for item in &mut items {
            add_item_type(item, api_version, list_kind);
        }
        items
    }

    #[test]
    fn json_uses_four_space_indent_and_sorted_keys() {
        let v = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "x", "labels": {}}, "spec": {"containers": []}, "n": [1, 2]});
        assert_eq!(
            to_json(&v),
            "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"labels\": {},\n        \"name\": \"x\"\n    },\n    \"n\": [\n        1,\n        2\n    ],\n    \"spec\": {\n        \"containers\": []\n    }\n}\n"
        );
    }

    #[test]
    fn json_escapes_like_go() {
        let v = json!("<none> & \"q\" \\ \n\t\u{1}\u{8}\u{c}\u{2028} é");
        assert_eq!(
            to_json(&v),
            "\"\\u003cnone\\u003e \\u0026 \\\"q\\\" \\\\ \\n\\t\\u0001\\b\\f\\u2028 é\"\n"
        );
    }

    #[test]
    fn json_numbers_print_like_go() {
        let v: Value =
            serde_json::from_str("[1, -2, 1.0, 2.5, 1e21, 1e-7, 18446744073709551615]").unwrap();
        assert_eq!(
            to_json_indented(&v, ""),
            "[\n1,\n-2,\n1,\n2.5,\n1e+21,\n1e-7,\n18446744073709551615\n]\n"
        );
    }

    #[test]
    fn json_round_trips_a_real_pod() {
        let pod: Value = serde_json::from_slice(fixture_body(include_str!(
            "../../tests/fixtures/pod-get.http"
        )))
        .unwrap();
        let printed = to_json(&pod);
        assert!(printed.starts_with(
            "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n"
        ));
        let back: Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(back, pod);
    }

    #[test]
    fn list_items_get_the_kind_and_api_version_of_the_list() {
        let list: Value = serde_json::from_slice(fixture_body(include_str!(
            "../../tests/fixtures/pods-demo-limit5.http"
        )))
        .unwrap();
        let items = list_items(list);
        assert_eq!(items.len(), 5);
        assert_eq!(items[0]["kind"], "Pod");
        assert_eq!(items[0]["apiVersion"], "v1");
        assert_eq!(items[0]["metadata"]["name"], "demo-00000");
    }

    #[test]
    fn list_object_is_what_kubectl_prints_for_several_objects() {
        assert_eq!(
            to_json(&list_object(vec![])),
            "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        );
    }

    #[test]
    fn name_lines_use_the_lowercase_kind_and_group() {
        let pods = BuiltinResources.resolve("po").unwrap();
        assert_eq!(name_line(&pods, "demo-00001"), "pod/demo-00001\n");
        let deploy = BuiltinResources.resolve("deploy").unwrap();
        assert_eq!(name_line(&deploy, "web"), "deployment.apps/web\n");
    }

    #[test]
    fn output_formats_parse() {
        assert_eq!(OutputFormat::parse("wide"), Some(OutputFormat::Wide));
        assert_eq!(OutputFormat::parse("yaml"), Some(OutputFormat::Yaml));
        assert_eq!(OutputFormat::parse("jsonpath={.x}"), None);
        assert!(OutputFormat::Wide.is_table());
        assert!(!OutputFormat::Name.is_table());
    }

    /// The streamed list printed with `ListPrinter`, and the same list printed whole.
    fn streamed_and_whole(items: &[Value], yaml: bool) -> (String, String) {
        let mut streamed = Vec::new();
        let mut printer = ListPrinter::new(yaml);
        for item in items {
            printer.item(item, &mut streamed).unwrap();
        }
        printer.finish(&mut streamed).unwrap();
        let list = list_object(items.to_vec());
        let whole = if yaml { to_yaml(&list) } else { to_json(&list) };
        (String::from_utf8(streamed).unwrap(), whole)
    }

    #[test]
    fn streamed_lists_print_the_same_bytes_as_whole_lists() {
        let pods = list_items(
            serde_json::from_slice(fixture_body(include_str!(
                "../../tests/fixtures/pods-demo-list.http"
            )))
            .unwrap(),
        );
        let odd = [
            json!({"kind": "ConfigMap", "data": {"script": "line 1\n\n  indented\n", "empty": ""}}),
            json!({"a": [], "b": {}, "c": [[1, 2], {"d": null}], "e": "<&>"}),
            json!("a string item"),
        ];
        for items in [&pods[..], &pods[..1], &odd[..], &[]] {
            for yaml in [false, true] {
                let (streamed, whole) = streamed_and_whole(items, yaml);
                assert_eq!(streamed, whole, "yaml: {yaml}, {} items", items.len());
            }
        }
    }
}
