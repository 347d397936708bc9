//! [`Tree`]: a JSON document that keeps object keys in order, for objects the server writes.
//!
//! Stored objects are replayed as the raw bytes the API server sent (see `json.rs`). Once a
//! client changes one (create, update, patch) the fake has to encode it itself, and it should
//! come out the way the API server would encode it: Go's `encoding/json` writes struct fields in
//! declaration order and map keys sorted. `serde_json::Value` sorts every object, and its
//! `preserve_order` feature would change every crate of the workspace, so objects being written
//! are edited as a `Tree`: keys keep the order they arrived in (recorded objects are already in
//! Go's order), [`crate::schema`] puts new keys where Go would, and [`Tree::encode`] escapes
//! strings like Go.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::json::go_string;

/// A JSON value whose objects keep their key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as serde_json holds it (integers stay exact).
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Tree>),
    /// An object, keys in order.
    Object(Vec<(String, Tree)>),
}

impl Tree {
    /// An empty object.
    pub fn object() -> Tree {
        Tree::Object(Vec::new())
    }

    /// Parses JSON text.
    pub fn parse(text: &str) -> Result<Tree, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Parses one YAML document (kubectl sends server-side apply bodies as YAML).
    pub fn parse_yaml(text: &str) -> Result<Tree, String> {
        serde_saphyr::from_str::<Tree>(text).map_err(|e| e.to_string())
    }

    /// The same document as a `serde_json::Value` (for selectors, printers, comparisons).
    pub fn to_value(&self) -> Value {
        match self {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(*b),
            Tree::Number(n) => Value::Number(n.clone()),
            Tree::String(s) => Value::String(s.clone()),
            Tree::Array(a) => Value::Array(a.iter().map(Tree::to_value).collect()),
            Tree::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }

    /// Compact JSON, as Go's encoder writes it (no trailing newline).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut String) {
        match self {
            Tree::Null => out.push_str("null"),
            Tree::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Tree::Number(n) => out.push_str(&n.to_string()),
            Tree::String(s) => out.push_str(&go_string(s)),
            Tree::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.encode_into(out);
                }
                out.push(']');
            }
            Tree::Object(o) => {
                out.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&go_string(k));
                    out.push(':');
                    v.encode_into(out);
                }
                out.push('}');
            }
        }
    }

    /// The value of `key` when this is an object.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Object(o) => o.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Mutable access to the value of `key` when this is an object.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Tree> {
        match self {
            Tree::Object(o) => o.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows object keys.
    pub fn at(&self, path: &[&str]) -> Option<&Tree> {
        path.iter().try_fold(self, |t, k| t.get(k))
    }

    /// The string value at `path`, if it is one.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        match self.at(path) {
            Some(Tree::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Sets `key`: replaced in place when present, appended otherwise (see
    /// [`crate::schema::place`] for putting it where Go would). Turns a non-object into an
    /// empty object first, as a JSON merge patch does.
    pub fn set(&mut self, key: &str, value: Tree) {
        if !matches!(self, Tree::Object(_)) {
            *self = Tree::object();
        }
        if let Tree::Object(o) = self {
            match o.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => o.push((key.to_string(), value)),
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Tree> {
        match self {
            Tree::Object(o) => {
                let i = o.iter().position(|(k, _)| k == key)?;
                Some(o.remove(i).1)
            }
            _ => None,
        }
    }

    /// The object below `key`, created (empty) when missing or not an object.
    pub fn child_object(&mut self, key: &str) -> &mut Tree {
        let fresh = !matches!(self.get(key), Some(Tree::Object(_)));
        if fresh {
            self.set(key, Tree::object());
        }
        self.get_mut(key).expect("just set")
    }

    /// The entries when this is an object.
    pub fn entries(&self) -> Option<&[(String, Tree)]> {
        match self {
            Tree::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Tree::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// True for an object with no keys.
    pub fn is_empty_object(&self) -> bool {
        matches!(self, Tree::Object(o) if o.is_empty())
    }
}

impl From<&str> for Tree {
    fn from(s: &str) -> Tree {
        Tree::String(s.to_string())
    }
}

impl From<String> for Tree {
    fn from(s: String) -> Tree {
        Tree::String(s)
    }
}

impl From<i64> for Tree {
    fn from(n: i64) -> Tree {
        Tree::Number(n.into())
    }
}

impl From<bool> for Tree {
    fn from(b: bool) -> Tree {
        Tree::Bool(b)
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Tree, E> {
        Ok(Tree::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Tree, E> {
        Ok(Tree::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Tree, E> {
        Number::from_f64(n)
            .map(Tree::Number)
            .ok_or_else(|| E::custom(format!("{n} is not a JSON number")))
    }

    fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
        Ok(Tree::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Tree, E> {
        Ok(Tree::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Tree>()? {
            out.push(v);
        }
        Ok(Tree::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut out: Vec<(String, Tree)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Tree>()? {
            // Duplicate keys: the last one wins, as in Go's decoder.
            match out.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Ok(Tree::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode_keep_key_order_and_go_escaping() {
        let raw = r#"{"z":1,"a":{"y":"<&>","b":[true,null,-3,1.5]}}"#;
        let t = Tree::parse(raw).unwrap();
        assert_eq!(
            t.encode(),
            r#"{"z":1,"a":{"y":"\u003c\u0026\u003e","b":[true,null,-3,1.5]}}"#
        );
        assert_eq!(t.str_at(&["a", "y"]), Some("<&>"));
    }

    #[test]
    fn recorded_pod_round_trips_byte_for_byte() {
        let f = crate::fixtures::get("pod-get.http").unwrap();
        let body = f.body_str().unwrap().trim_end();
        assert_eq!(Tree::parse(body).unwrap().encode(), body);
    }

    #[test]
    fn yaml_documents_keep_their_key_order() {
        // `yes` is a boolean, as for the API server's YAML 1.1 decoder.
        let t = Tree::parse_yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  c: \"3\"\n  b: yes\n",
        )
        .unwrap();
        assert_eq!(
            t.encode(),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"c":"3","b":true}}"#
        );
    }

    #[test]
    fn set_replaces_in_place_and_appends_new_keys() {
        let mut t = Tree::parse(r#"{"a":1,"b":2}"#).unwrap();
        t.set("a", 5.into());
        t.set("c", "x".into());
        assert_eq!(t.encode(), r#"{"a":5,"b":2,"c":"x"}"#);
        assert_eq!(t.remove("b"), Some(Tree::from(2)));
        assert_eq!(t.encode(), r#"{"a":5,"c":"x"}"#);
    }
}
