//! Manifests: the objects in a file given to `create -f` or `apply -f`.
//!
//! Input is YAML (any number of `---`-separated documents) or JSON (one object, or a
//! stream of objects one after another), as kubectl accepts. Empty documents are
//! skipped and a `List` (`kind: List`, or any `*List` with `items`) is expanded into its
//! items, as kubectl's resource builder does. YAML is read by [`yaml`].

pub mod yaml;

use std::fmt;

use serde_json::Value;

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The source (`FILE` or `STDIN`).
    pub source: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing {}: {}", self.source, self.reason)
    }
}

impl std::error::Error for ManifestError {}

/// One object of a manifest, with the type information every write needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The whole object.
    pub object: Value,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if set.
    pub namespace: Option<String>,
}

/// Reads the objects in `text`, from `source` (for messages).
pub fn parse(text: &str, source: &str) -> Result<Vec<Manifest>, ManifestError> {
    let error = |reason: String| ManifestError {
        source: source.to_string(),
        reason,
    };
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let documents: Vec<Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::Deserializer::from_str(trimmed)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| error(e.to_string()))?
    } else {
        yaml::documents(text).map_err(error)?
    };
    let mut out = Vec::new();
    for document in documents {
        expand(document, &mut out, &error)?;
    }
    Ok(out)
}

fn expand(
    document: Value,
    out: &mut Vec<Manifest>,
    error: &dyn Fn(String) -> ManifestError,
) -> Result<(), ManifestError> {
    let object = match document {
        // An empty document (`---` at the end, a comment only).
        Value::Null => return Ok(()),
        Value::Object(object) => object,
        other => {
            return Err(error(format!(
                "a manifest must hold objects, found {}",
                json_type(&other)
            )));
        }
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion").to_string(), text("kind").to_string());
    if let (true, Some(Value::Array(items))) = (kind.ends_with("List"), object.get("items")) {
        for item in items.clone() {
            expand(item, out, error)?;
        }
        return Ok(());
    }
    if kind.is_empty() {
        return Err(error(format!(
            "Object 'Kind' is missing in '{}'",
            Value::Object(object)
        )));
    }
    if api_version.is_empty() {
        return Err(error(format!(
            "Object 'apiVersion' is missing in '{}'",
            Value::Object(object)
        )));
    }
    let metadata = |key: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = metadata("name").unwrap_or_default();
    let namespace = metadata("namespace");
    out.push(Manifest {
        api_version,
        kind,
        name,
        namespace,
        object: Value::Object(object),
    });
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_multi_document_yaml_skipping_empty_documents() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: demo\ndata:\n  k: \"1\"\n---\n# only a comment\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\n";
        let objects = parse(text, "x.yaml").unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(
            (
                objects[0].kind.as_str(),
                objects[0].name.as_str(),
                objects[0].namespace.as_deref()
            ),
            ("ConfigMap", "a", Some("demo"))
        );
        assert_eq!(objects[0].object["data"]["k"], "1");
        assert_eq!(objects[1].api_version, "apps/v1");
        assert_eq!(objects[1].namespace, None);
    }

    #[test]
    fn reads_json_objects_and_streams() {
        let text = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}"#;
        let names: Vec<String> = parse(text, "-")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn expands_lists() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let kinds: Vec<String> = parse(text, "-")
            .unwrap()
            .into_iter()
            .map(|m| m.kind)
            .collect();
        assert_eq!(kinds, ["ConfigMap", "Secret"]);
    }

    #[test]
    fn reports_broken_and_incomplete_manifests() {
        let err = parse("apiVersion: v1\nkind: [unclosed\n", "bad.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with("error parsing bad.yaml: "),
            "{err}"
        );
        let err = parse("metadata:\n  name: a\n", "x.yaml").unwrap_err();
        assert!(
            err.to_string().contains("Object 'Kind' is missing"),
            "{err}"
        );
        let err = parse("- a\n- b\n", "x.yaml").unwrap_err();
        assert_eq!(err.reason, "a manifest must hold objects, found a list");
    }
}
