//! The four PATCH content types, applied to a stored object.
//!
//! - `application/merge-patch+json`: RFC 7386 (objects merge, `null` deletes, anything else
//!   replaces);
//! - `application/json-patch+json`: RFC 6902 (`add`, `remove`, `replace`, `move`, `copy`,
//!   `test`), with the API server's errors: an undecodable patch is a 400, an operation that
//!   does not apply a 422 "the server rejected our request due to an error in our request";
//! - `application/strategic-merge-patch+json`: a merge patch, except that lists with a merge
//!   key in [`crate::schema::merge_key`] (`containers` by `name`, ...) merge item by item, and
//!   `{"$patch":"delete"}` items and `$deleteFromPrimitiveList/...` remove entries.
//!   Simplified: `$retainKeys`, `$setElementOrder` and `$patch: replace` on maps are not
//!   interpreted (directives are dropped; the maps merge), other lists are replaced whole;
//! - `application/apply-patch+yaml`: server-side apply, merged like a strategic merge patch;
//!   ownership and conflicts are in [`crate::managed`].

use crate::schema;
use crate::tree::Tree;

/// A PATCH body type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902.
    Json,
    /// RFC 7386.
    Merge,
    /// Kubernetes strategic merge patch.
    Strategic,
    /// Server-side apply.
    Apply,
}

/// The patch media types, in the order the API server lists them in its 415 message.
pub const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

impl PatchType {
    /// The patch type of a `Content-Type` (parameters such as `charset` ignored).
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let mime = ct.split(';').next().unwrap_or_default().trim();
        match mime.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Why a patch failed.
#[derive(Debug, PartialEq, Eq)]
pub enum PatchError {
    /// The patch itself is malformed (400 BadRequest with this message).
    Malformed(String),
    /// The patch does not apply to the object (422).
    NotApplicable(String),
}

/// RFC 7386 merge patch.
pub fn merge(target: &mut Tree, patch: &Tree) {
    let Tree::Object(entries) = patch else {
        *target = patch.clone();
        return;
    };
    if !matches!(target, Tree::Object(_)) {
        *target = Tree::object();
    }
    for (k, v) in entries {
        match v {
            Tree::Null => {
                target.remove(k);
            }
            Tree::Object(_) => {
                let mut child = target.get(k).cloned().unwrap_or(Tree::Null);
                merge(&mut child, v);
                target.set(k, child);
            }
            _ => target.set(k, v.clone()),
        }
    }
}

/// Strategic merge patch (see the module docs for what is simplified).
pub fn strategic(target: &mut Tree, patch: &Tree) {
    strategic_at(target, patch, &mut Vec::new());
}

fn strategic_at(target: &mut Tree, patch: &Tree, path: &mut Vec<String>) {
    let Tree::Object(entries) = patch else {
        *target = without_directives(patch);
        return;
    };
    if !matches!(target, Tree::Object(_)) {
        *target = Tree::object();
    }
    for (k, v) in entries {
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Tree::Array(items)), Tree::Array(gone)) = (target.get_mut(list), v) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        path.push(k.clone());
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match v {
            Tree::Null => {
                target.remove(k);
            }
            Tree::Object(_) => {
                let mut child = target.get(k).cloned().unwrap_or(Tree::Null);
                strategic_at(&mut child, v, path);
                target.set(k, child);
            }
            Tree::Array(items) => match (schema::merge_key(&p), target.get(k)) {
                (Some(keys), Some(Tree::Array(current))) => {
                    let merged = merge_keyed(current.clone(), items, keys[0], path);
                    target.set(k, Tree::Array(merged));
                }
                _ => target.set(k, without_directives(v)),
            },
            _ => target.set(k, v.clone()),
        }
        path.pop();
    }
}

fn merge_keyed(
    mut current: Vec<Tree>,
    patch_items: &[Tree],
    key: &str,
    path: &mut Vec<String>,
) -> Vec<Tree> {
    for item in patch_items {
        let id = item.get(key).cloned();
        let pos = id
            .as_ref()
            .and_then(|id| current.iter().position(|c| c.get(key) == Some(id)));
        if item.str_at(&["$patch"]) == Some("delete") {
            if let Some(i) = pos {
                current.remove(i);
            }
            continue;
        }
        path.push("*".into());
        match pos {
            Some(i) => strategic_at(&mut current[i], item, path),
            None => current.push(without_directives(item)),
        }
        path.pop();
    }
    current
}

fn without_directives(v: &Tree) -> Tree {
    match v {
        Tree::Object(e) => Tree::Object(
            e.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        Tree::Array(a) => Tree::Array(a.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(target: &mut Tree, patch: &Tree) -> Result<(), PatchError> {
    let Tree::Array(ops) = patch else {
        return Err(PatchError::Malformed(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            go_type(patch)
        )));
    };
    for op in ops {
        let kind = op.str_at(&["op"]).unwrap_or_default();
        let path = op
            .str_at(&["path"])
            .ok_or_else(|| PatchError::NotApplicable("operation missing path".into()))?;
        let path = pointer(path)?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| PatchError::NotApplicable(format!("missing value for {kind}")))
        };
        let from = || {
            op.str_at(&["from"])
                .ok_or_else(|| PatchError::NotApplicable(format!("missing from for {kind}")))
                .and_then(pointer)
        };
        match kind {
            "add" => add(target, &path, value()?)?,
            "remove" => {
                remove(target, &path)?;
            }
            "replace" => {
                get(target, &path)?;
                remove(target, &path)?;
                add(target, &path, value()?)?;
            }
            "move" => {
                let from = from()?;
                let v = remove(target, &from)?;
                add(target, &path, v)?;
            }
            "copy" => {
                let v = get(target, &from()?)?.clone();
                add(target, &path, v)?;
            }
            "test" => {
                if get(target, &path)?.to_value() != value()?.to_value() {
                    return Err(PatchError::NotApplicable(format!(
                        "testing value {} failed",
                        op.str_at(&["path"]).unwrap_or_default()
                    )));
                }
            }
            other => {
                return Err(PatchError::NotApplicable(format!(
                    "Unexpected kind: {other}"
                )));
            }
        }
    }
    Ok(())
}

fn go_type(v: &Tree) -> &'static str {
    match v {
        Tree::Object(_) => "object",
        Tree::String(_) => "string",
        Tree::Number(_) => "number",
        Tree::Bool(_) => "bool",
        Tree::Null | Tree::Array(_) => "array",
    }
}

/// An RFC 6901 pointer as reference tokens.
fn pointer(p: &str) -> Result<Vec<String>, PatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(PatchError::NotApplicable(format!(
            "invalid JSON pointer {p:?}"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn missing(path: &[String]) -> PatchError {
    PatchError::NotApplicable(format!("path /{} does not exist", path.join("/")))
}

fn get<'a>(t: &'a Tree, path: &[String]) -> Result<&'a Tree, PatchError> {
    let mut node = t;
    for tok in path {
        node = match node {
            Tree::Object(_) => node.get(tok),
            Tree::Array(items) => tok.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(|| missing(path))?;
    }
    Ok(node)
}

fn parent_mut<'a>(t: &'a mut Tree, path: &[String]) -> Result<&'a mut Tree, PatchError> {
    let mut node = t;
    for tok in &path[..path.len().saturating_sub(1)] {
        node = match node {
            Tree::Object(_) => node.get_mut(tok),
            Tree::Array(items) => tok.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| missing(path))?;
    }
    Ok(node)
}

fn add(t: &mut Tree, path: &[String], v: Tree) -> Result<(), PatchError> {
    let Some(last) = path.last() else {
        *t = v;
        return Ok(());
    };
    match parent_mut(t, path)? {
        obj @ Tree::Object(_) => obj.set(last, v),
        Tree::Array(items) => {
            let i = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| missing(path))?
            };
            items.insert(i, v);
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(t: &mut Tree, path: &[String]) -> Result<Tree, PatchError> {
    let Some(last) = path.last() else {
        return Err(missing(path));
    };
    match parent_mut(t, path)? {
        obj @ Tree::Object(_) => obj.remove(last).ok_or_else(|| missing(path)),
        Tree::Array(items) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < items.len())
                .ok_or_else(|| missing(path))?;
            Ok(items.remove(i))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Tree {
        Tree::parse(s).unwrap()
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = t(r#"{"a":"b","c":{"d":"e","f":"g"}}"#);
        merge(&mut doc, &t(r#"{"a":"z","c":{"f":null},"n":[1]}"#));
        assert_eq!(doc.encode(), r#"{"a":"z","c":{"d":"e"},"n":[1]}"#);
    }

    #[test]
    fn json_patch_adds_removes_replaces_and_tests() {
        let mut doc = t(r#"{"data":{"a":"1"},"list":[1,2]}"#);
        let ops = t(
            r#"[{"op":"test","path":"/data/a","value":"1"},{"op":"replace","path":"/data/a","value":"10"},{"op":"add","path":"/data/b~1c","value":"x"},{"op":"add","path":"/list/-","value":3},{"op":"remove","path":"/list/0"}]"#,
        );
        json_patch(&mut doc, &ops).unwrap();
        assert_eq!(
            doc.encode(),
            r#"{"data":{"a":"10","b/c":"x"},"list":[2,3]}"#
        );
        let failed = json_patch(
            &mut doc,
            &t(r#"[{"op":"test","path":"/data/a","value":"1"}]"#),
        );
        assert!(matches!(failed, Err(PatchError::NotApplicable(_))));
        let missing = json_patch(
            &mut doc,
            &t(r#"[{"op":"replace","path":"/nope","value":1}]"#),
        );
        assert!(matches!(missing, Err(PatchError::NotApplicable(_))));
        assert_eq!(
            json_patch(&mut doc, &t(r#"{"op":"add"}"#)),
            Err(PatchError::Malformed(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into()
            ))
        );
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut pod = t(
            r#"{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}],"tolerations":[{"key":"k"}]}}"#,
        );
        strategic(
            &mut pod,
            &t(
                r#"{"spec":{"containers":[{"name":"b","image":"z"},{"name":"a","$patch":"delete"},{"name":"c","image":"w"}],"tolerations":[]}}"#,
            ),
        );
        assert_eq!(
            pod.encode(),
            r#"{"spec":{"containers":[{"name":"b","image":"z"},{"name":"c","image":"w"}],"tolerations":[]}}"#
        );
    }
}
