//! Writes: POST (create), PUT (update), PATCH and DELETE, with the API server's status codes
//! and `Status` bodies.
//!
//! - create: 201 with the stored object (defaulted, admitted: see [`crate::admission`]);
//!   409 AlreadyExists, 422 Invalid with `details.causes`, 415 for a body that is neither JSON
//!   nor YAML, 404 when the namespace does not exist, `generateName`;
//! - update: 200; 409 Conflict when `metadata.resourceVersion` is stale; 404; status is
//!   ignored on the main resource and only status is taken through `/status`;
//! - patch: the four patch types of [`crate::patch`]; server-side apply needs `fieldManager`,
//!   creates missing objects (201) and reports ownership conflicts (409) unless `force=true`;
//! - delete: 200 with a `Status` (most resources) or with the object (Pods, and anything
//!   that is only marked: finalizers, a Namespace, a scheduled Pod's graceful deletion);
//!   `gracePeriodSeconds`, `preconditions`; 404;
//! - `dryRun=All`: everything is validated and the result returned, nothing is stored.
//!
//! Each stored change gets the next resourceVersion, `metadata` (uid, creationTimestamp,
//! generation, managedFields) and a watch event. An update that changes nothing is not
//! stored (same resourceVersion, no event), as on a real server. Without a kubelet a Pod's
//! graceful deletion never completes: it stays `Terminating` until deleted with
//! `gracePeriodSeconds=0`.

use std::sync::{Arc, MutexGuard};

use crate::admission::{self, Cause};
use crate::api::{Call, Fail, Handled, Shared};
use crate::auth::query_bool;
use crate::clock;
use crate::cluster::{Collection, Object};
use crate::json::go_string;
use crate::managed;
use crate::patch::{self, PATCH_TYPES, PatchError, PatchType};
use crate::response::details;
use crate::schema;
use crate::store::{EventType, ResKey, Store, new_uuid};
use crate::tree::Tree;

/// A write request as the handlers see it.
pub struct Write<'a> {
    /// The request.
    pub call: &'a Call<'a>,
    /// The collection written to.
    pub coll: &'a Collection,
    /// The namespace of the URL.
    pub namespace: Option<&'a str>,
    /// The object name of the URL (empty for create).
    pub name: &'a str,
    /// `status` for `/status` writes.
    pub subresource: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
}

/// Serves a write verb (`create`, `update`, `patch`, `delete`).
pub fn write(shared: &Arc<Shared>, w: &Write<'_>) -> Handled {
    let (code, body) = match w.call.info.verb.as_str() {
        "create" => create(shared, w)?,
        "update" => update(shared, w)?,
        "patch" => patch(shared, w)?,
        "delete" => delete(shared, w)?,
        _ => return Err(Fail::method_not_allowed()),
    };
    shared.json(&w.call.ctx, code, body)
}

/// Query options shared by the write verbs.
struct Options {
    dry_run: bool,
    manager: String,
    force: Option<bool>,
}

fn options(w: &Write<'_>, kind: &str) -> Result<Options, Fail> {
    let bad: Vec<&str> = w
        .call
        .query
        .iter()
        .filter(|(k, v)| k == "dryRun" && v != "All")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(v) = bad.first() {
        return Err(options_invalid(
            kind,
            "dryRun",
            "FieldValueNotSupported",
            &format!(
                "Unsupported value: {}: supported values: \"All\"",
                go_string(v)
            ),
        ));
    }
    let dry_run = w.call.query.iter().any(|(k, _)| k == "dryRun");
    // managerOrUserAgent: the fieldManager, else the User-Agent up to its first '/'.
    let manager = match w.call.q("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) => m.to_string(),
        None => w
            .call
            .header("user-agent")
            .and_then(|ua| ua.split('/').next())
            .filter(|p| !p.is_empty())
            .unwrap_or("unknown")
            .chars()
            .take(128)
            .collect(),
    };
    let force = w.call.q("force").map(|v| query_bool(Some(v)));
    Ok(Options {
        dry_run,
        manager,
        force,
    })
}

/// 422 for invalid `*Options.meta.k8s.io` (no object name, group `meta.k8s.io`).
fn options_invalid(kind: &str, field: &str, reason: &'static str, message: &str) -> Fail {
    Fail::Status {
        code: 422,
        reason: "Invalid",
        message: format!("{kind}.meta.k8s.io \"\" is invalid: {field}: {message}"),
        details: Some(format!(
            "{{\"group\":\"meta.k8s.io\",\"kind\":{},\"causes\":[{{\"reason\":{},\"message\":{},\"field\":{}}}]}}",
            go_string(kind),
            go_string(reason),
            go_string(message),
            go_string(field)
        )),
    }
}

fn qualified(coll: &Collection) -> String {
    if coll.group.is_empty() {
        coll.resource.clone()
    } else {
        format!("{}.{}", coll.resource, coll.group)
    }
}

/// 409 Conflict for a failed precondition (`apierrors.NewConflict`).
fn conflict(coll: &Collection, name: &str, why: &str) -> Fail {
    Fail::Status {
        code: 409,
        reason: "Conflict",
        message: format!(
            "Operation cannot be fulfilled on {} {}: {why}",
            qualified(coll),
            go_string(name)
        ),
        details: Some(details(name, &coll.group, &coll.resource)),
    }
}

const STALE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

fn lock(shared: &Shared) -> Result<MutexGuard<'_, Store>, Fail> {
    shared
        .store
        .lock()
        .map_err(|_| Fail::Internal(anyhow::anyhow!("the store lock is poisoned")))
}

/// Decodes a create or update body (`application/json` or `application/yaml`).
fn decode(w: &Write<'_>) -> Result<Tree, Fail> {
    let ct = w.call.header("content-type").unwrap_or_default();
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(w.body)
        .map_err(|_| Fail::bad_request("the request body is not UTF-8"))?;
    let parsed = match mime.as_str() {
        "application/json" => Tree::parse(text).map_err(|e| e.to_string()),
        "application/yaml" => Tree::parse_yaml(text),
        _ => return Err(Fail::Recorded("error-415-unsupported-media-type.http")),
    };
    match parsed {
        Ok(t @ Tree::Object(_)) => Ok(t),
        Ok(_) => Err(Fail::bad_request(
            "couldn't get version/kind; json parse error: the body is not a JSON object",
        )),
        Err(e) => Err(Fail::bad_request(format!(
            "couldn't get version/kind; json parse error: {e}"
        ))),
    }
}

/// Fills in `kind`/`apiVersion` from the URL (as the decoder's defaults do) and rejects others.
fn check_type(coll: &Collection, obj: &mut Tree) -> Result<(), Fail> {
    let av = coll.api_version();
    if let Some(v) = obj.str_at(&["apiVersion"]).filter(|v| *v != av) {
        return Err(Fail::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({av})"
        )));
    }
    if let Some(k) = obj.str_at(&["kind"]).filter(|k| *k != coll.kind) {
        return Err(Fail::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): {k} is not a {}",
            coll.kind, coll.kind
        )));
    }
    obj.set("kind", coll.kind.as_str().into());
    obj.set("apiVersion", av.as_str().into());
    Ok(())
}

/// Makes the body's namespace agree with the URL's (`EnsureObjectNamespaceMatchesRequest`).
fn check_namespace(w: &Write<'_>, obj: &mut Tree) -> Result<(), Fail> {
    let meta = obj.child_object("metadata");
    if !w.coll.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(ns) = w.namespace else {
        return Err(Fail::method_not_allowed());
    };
    match meta.str_at(&["namespace"]) {
        Some(body_ns) if !body_ns.is_empty() && body_ns != ns => Err(Fail::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            schema::place(&w.coll.kind, meta, &["metadata"], "namespace", ns.into());
            Ok(())
        }
    }
}

/// Pods and the objects of API groups (Deployments, Jobs, ...) count `metadata.generation`.
fn tracks_generation(coll: &Collection) -> bool {
    !coll.group.is_empty() || coll.resource == "pods"
}

fn set_meta(coll: &Collection, obj: &mut Tree, key: &str, value: Tree) {
    let meta = obj.child_object("metadata");
    schema::place(&coll.kind, meta, &["metadata"], key, value);
}

/// Encodes a tree as the stored object.
fn to_object(coll: &Collection, mut tree: Tree) -> Result<Object, Fail> {
    schema::canonicalize(&coll.kind, &mut tree);
    Ok(coll.object_from_raw(&tree.encode())?)
}

fn stored_tree(o: &Object) -> Result<Tree, Fail> {
    Tree::parse(&o.full_raw).map_err(|e| Fail::Internal(e.into()))
}

fn validated(coll: &Collection, obj: &Tree) -> Result<(), Fail> {
    let causes: Vec<Cause> = admission::validate(coll, obj);
    if causes.is_empty() {
        return Ok(());
    }
    let name = obj.str_at(&["metadata", "name"]).unwrap_or_default();
    Err(admission::invalid(&coll.group, &coll.kind, name, &causes))
}

/// How a write records its manager.
enum Op<'a> {
    /// Create, update, non-apply patch.
    Update,
    /// Server-side apply of this configuration.
    Apply(&'a Tree),
}

fn create(shared: &Arc<Shared>, w: &Write<'_>) -> Result<(u16, String), Fail> {
    let opts = options(w, "CreateOptions")?;
    let mut obj = decode(w)?;
    check_type(w.coll, &mut obj)?;
    let mut store = lock(shared)?;
    store_create(&mut store, w, obj, &opts, Op::Update)
}

/// Creates `obj` (already decoded and of the right type): metadata, defaults, managed fields,
/// admission, validation, then the store.
fn store_create(
    store: &mut Store,
    w: &Write<'_>,
    mut obj: Tree,
    opts: &Options,
    op: Op<'_>,
) -> Result<(u16, String), Fail> {
    let coll = w.coll;
    check_namespace(w, &mut obj)?;
    let meta = obj.child_object("metadata");
    for server_owned in [
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(server_owned);
    }
    if meta.str_at(&["name"]).is_none_or(str::is_empty)
        && let Some(prefix) = meta.str_at(&["generateName"]).filter(|g| !g.is_empty())
    {
        let name = format!("{prefix}{}", crate::store::random_suffix(5));
        schema::place(&coll.kind, meta, &["metadata"], "name", name.into());
    }
    let (now, _) = store.now();
    admission::default_fields(coll, &mut obj);
    // Managed fields see the defaulted object, not what admission adds afterwards.
    match op {
        Op::Update => managed::record_update(&coll.kind, None, &mut obj, &opts.manager, None, now),
        Op::Apply(applied) => {
            managed::record_apply(&coll.kind, None, &mut obj, applied, &opts.manager, now)
        }
    }
    admission::admit_create(coll, &mut obj);
    validated(coll, &obj)?;
    let name = obj
        .str_at(&["metadata", "name"])
        .unwrap_or_default()
        .to_string();
    if let Some(ns) = w.namespace.filter(|_| coll.namespaced) {
        match store.get(&ResKey::new("", "namespaces"), ns) {
            None => return Err(Fail::not_found("", "namespaces", ns)),
            Some(n) if n.value.pointer("/metadata/deletionTimestamp").is_some() => {
                return Err(Fail::Status {
                    code: 403,
                    reason: "Forbidden",
                    message: format!(
                        "{} {} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        qualified(coll),
                        go_string(&name)
                    ),
                    details: Some(format!(
                        "{{\"name\":{},\"kind\":{},\"causes\":[{{\"reason\":\"NamespaceTerminating\",\"message\":{},\"field\":\"metadata.namespace\"}}]}}",
                        go_string(&name),
                        go_string(&coll.resource),
                        go_string(&format!("namespace {ns} is being terminated"))
                    )),
                });
            }
            Some(_) => {}
        }
    }
    let res = coll.res_key();
    if store
        .get(&res, &coll.object_key(w.namespace, &name))
        .is_some()
    {
        return Err(Fail::Status {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} {} already exists", qualified(coll), go_string(&name)),
            details: Some(details(&name, &coll.group, &coll.resource)),
        });
    }
    set_meta(coll, &mut obj, "uid", new_uuid().into());
    set_meta(
        coll,
        &mut obj,
        "creationTimestamp",
        clock::format_rfc3339(now).into(),
    );
    if tracks_generation(coll) {
        set_meta(coll, &mut obj, "generation", 1.into());
    }
    // A dry-run create is never stored, so it gets no resourceVersion.
    if !opts.dry_run {
        set_meta(
            coll,
            &mut obj,
            "resourceVersion",
            store.next_rv().to_string().into(),
        );
    }
    let object = to_object(coll, obj)?;
    let raw = format!("{}\n", object.full_raw);
    if !opts.dry_run {
        store.commit(&res, EventType::Added, object);
    }
    Ok((201, raw))
}

fn update(shared: &Arc<Shared>, w: &Write<'_>) -> Result<(u16, String), Fail> {
    let opts = options(w, "UpdateOptions")?;
    let mut obj = decode(w)?;
    check_type(w.coll, &mut obj)?;
    let body_name = obj.str_at(&["metadata", "name"]).unwrap_or_default();
    if body_name != w.name {
        return Err(Fail::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            w.name
        )));
    }
    check_namespace(w, &mut obj)?;
    let mut store = lock(shared)?;
    let old = current(&store, w)?;
    if let Some(rv) = obj
        .str_at(&["metadata", "resourceVersion"])
        .filter(|v| !v.is_empty())
        && rv != old.resource_version
    {
        return Err(conflict(w.coll, w.name, STALE));
    }
    store_update(&mut store, w, &old, obj, &opts, Op::Update)
}

fn current(store: &Store, w: &Write<'_>) -> Result<Arc<Object>, Fail> {
    store
        .get(&w.coll.res_key(), &w.coll.object_key(w.namespace, w.name))
        .ok_or_else(|| Fail::not_found(&w.coll.group, &w.coll.resource, w.name))
}

/// Stores `new` as the next state of `old`: server-owned fields kept, defaults, managed
/// fields, validation; a change that changes nothing is not stored.
fn store_update(
    store: &mut Store,
    w: &Write<'_>,
    old: &Object,
    mut new: Tree,
    opts: &Options,
    op: Op<'_>,
) -> Result<(u16, String), Fail> {
    let coll = w.coll;
    let old_tree = stored_tree(old)?;
    let status_write = w.subresource == Some("status");
    if status_write {
        // Through /status only the status changes.
        let status = new.remove("status");
        new = old_tree.clone();
        match status {
            Some(s) => schema::place(&coll.kind, &mut new, &[], "status", s),
            None => {
                new.remove("status");
            }
        }
    } else if coll.has_subresource("status") {
        // On the main resource the status is the server's (the strategy resets it).
        match old_tree.get("status") {
            Some(s) => schema::place(&coll.kind, &mut new, &[], "status", s.clone()),
            None => {
                new.remove("status");
            }
        }
    }
    let old_meta = old_tree
        .get("metadata")
        .cloned()
        .unwrap_or_else(Tree::object);
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        let meta = new.child_object("metadata");
        match old_meta.get(key) {
            Some(v) => schema::place(&coll.kind, meta, &["metadata"], key, v.clone()),
            None => {
                meta.remove(key);
            }
        }
    }
    // Managed fields are the server's too: start from the stored ones.
    match old_meta.get("managedFields") {
        Some(m) => set_meta(coll, &mut new, "managedFields", m.clone()),
        None => {
            new.child_object("metadata").remove("managedFields");
        }
    }
    if !status_write {
        admission::default_fields(coll, &mut new);
    }
    let (now, _) = store.now();
    match op {
        Op::Update => managed::record_update(
            &coll.kind,
            Some(&old_tree),
            &mut new,
            &opts.manager,
            w.subresource,
            now,
        ),
        Op::Apply(applied) => managed::record_apply(
            &coll.kind,
            Some(&old_tree),
            &mut new,
            applied,
            &opts.manager,
            now,
        ),
    }
    validated(coll, &new)?;
    if tracks_generation(coll) && new.get("spec") != old_tree.get("spec") {
        let g = old_tree
            .at(&["metadata", "generation"])
            .and_then(Tree::as_i64);
        set_meta(coll, &mut new, "generation", (g.unwrap_or(0) + 1).into());
    }
    if unchanged(&old_tree, &new) {
        return Ok((200, format!("{}\n", old.full_raw)));
    }
    // Removing the last finalizer of an object being deleted completes the deletion.
    let finished = new.at(&["metadata", "deletionTimestamp"]).is_some()
        && !matches!(new.at(&["metadata", "finalizers"]), Some(Tree::Array(f)) if !f.is_empty());
    if !opts.dry_run {
        set_meta(
            coll,
            &mut new,
            "resourceVersion",
            store.next_rv().to_string().into(),
        );
    }
    let object = to_object(coll, new)?;
    let raw = format!("{}\n", object.full_raw);
    if !opts.dry_run {
        let event = if finished {
            EventType::Deleted
        } else {
            EventType::Modified
        };
        store.commit(&coll.res_key(), event, object);
    }
    Ok((200, raw))
}

/// Equal but for bookkeeping (resourceVersion, managedFields timestamps).
fn unchanged(old: &Tree, new: &Tree) -> bool {
    let strip = |t: &Tree| {
        let mut t = t.clone();
        let meta = t.child_object("metadata");
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        t.to_value()
    };
    strip(old) == strip(new)
}

fn patch(shared: &Arc<Shared>, w: &Write<'_>) -> Result<(u16, String), Fail> {
    let ct = w.call.header("content-type").unwrap_or_default();
    let Some(pt) = PatchType::from_content_type(ct) else {
        return Err(Fail::Status {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                PATCH_TYPES.join(", ")
            ),
            details: None,
        });
    };
    let opts = options(w, "PatchOptions")?;
    if pt != PatchType::Apply && opts.force.is_some() {
        return Err(options_invalid(
            "PatchOptions",
            "force",
            "FieldValueForbidden",
            "Forbidden: may not be specified for non-apply patch",
        ));
    }
    if pt == PatchType::Apply && w.call.q("fieldManager").is_none_or(str::is_empty) {
        return Err(options_invalid(
            "PatchOptions",
            "fieldManager",
            "FieldValueRequired",
            "Required value: is required for apply patch",
        ));
    }
    let text = std::str::from_utf8(w.body)
        .map_err(|_| Fail::bad_request("the request body is not UTF-8"))?;
    let body = match pt {
        PatchType::Apply => Tree::parse_yaml(text)
            .map_err(|e| Fail::bad_request(format!("error decoding YAML: {e}")))?,
        _ => Tree::parse(text).map_err(|e| Fail::bad_request(e.to_string()))?,
    };
    let mut store = lock(shared)?;
    let found = store.get(&w.coll.res_key(), &w.coll.object_key(w.namespace, w.name));
    if pt == PatchType::Apply {
        let mut applied = body;
        if !matches!(applied, Tree::Object(_)) {
            return Err(Fail::bad_request(
                "the object provided is unrecognized (must be of type Patch)",
            ));
        }
        check_type(w.coll, &mut applied)?;
        let applied_name = applied.str_at(&["metadata", "name"]).unwrap_or_default();
        if applied_name != w.name {
            return Err(Fail::bad_request(format!(
                "the name of the object ({applied_name}) does not match the name on the URL ({})",
                w.name
            )));
        }
        let Some(old) = found else {
            let obj = applied.clone();
            return store_create(&mut store, w, obj, &opts, Op::Apply(&applied));
        };
        let live = stored_tree(&old)?;
        managed::check_apply(
            &w.coll.kind,
            &live,
            &applied,
            &opts.manager,
            opts.force == Some(true),
        )
        .map_err(|c| apply_conflict(&c))?;
        let mut merged = live.clone();
        for path in managed::released_fields(&live, &applied, &w.coll.kind, &opts.manager) {
            managed::remove_path(&mut merged, &path);
        }
        let mut config = applied.clone();
        config.child_object("metadata").remove("managedFields");
        patch::strategic(&mut merged, &config);
        check_patched_rv(w, &old, &merged)?;
        return store_update(&mut store, w, &old, merged, &opts, Op::Apply(&applied));
    }
    let Some(old) = found else {
        return Err(Fail::not_found(&w.coll.group, &w.coll.resource, w.name));
    };
    let mut patched = stored_tree(&old)?;
    match pt {
        PatchType::Json => patch::json_patch(&mut patched, &body).map_err(|e| match e {
            PatchError::Malformed(m) => Fail::bad_request(m),
            // The API server drops the patch library's message here.
            PatchError::NotApplicable(_) => Fail::Status {
                code: 422,
                reason: "Invalid",
                message: "the server rejected our request due to an error in our request".into(),
                details: Some("{}".into()),
            },
        })?,
        PatchType::Merge | PatchType::Strategic => {
            if !matches!(body, Tree::Object(_)) {
                return Err(Fail::bad_request("Invalid JSON Patch"));
            }
            if pt == PatchType::Merge {
                patch::merge(&mut patched, &body);
            } else {
                patch::strategic(&mut patched, &body);
            }
        }
        PatchType::Apply => unreachable!("handled above"),
    }
    check_patched_rv(w, &old, &patched)?;
    store_update(&mut store, w, &old, patched, &opts, Op::Update)
}

/// A patch that sets `metadata.resourceVersion` makes it a precondition.
fn check_patched_rv(w: &Write<'_>, old: &Object, patched: &Tree) -> Result<(), Fail> {
    match patched.str_at(&["metadata", "resourceVersion"]) {
        Some(rv) if rv != old.resource_version => Err(conflict(w.coll, w.name, STALE)),
        _ => Ok(()),
    }
}

/// 409 for an apply that would take fields from other managers (`NewApplyConflict`).
fn apply_conflict(c: &managed::Conflicts) -> Fail {
    let causes: Vec<String> = c
        .causes()
        .iter()
        .map(|(message, field)| {
            format!(
                "{{\"reason\":\"FieldManagerConflict\",\"message\":{},\"field\":{}}}",
                go_string(message),
                go_string(field)
            )
        })
        .collect();
    Fail::Status {
        code: 409,
        reason: "Conflict",
        message: c.message(),
        details: Some(format!("{{\"causes\":[{}]}}", causes.join(","))),
    }
}

fn delete(shared: &Arc<Shared>, w: &Write<'_>) -> Result<(u16, String), Fail> {
    let opts = options(w, "DeleteOptions")?;
    let body = if w.body.iter().all(u8::is_ascii_whitespace) {
        Tree::object()
    } else {
        std::str::from_utf8(w.body)
            .ok()
            .and_then(|t| Tree::parse(t).ok())
            .ok_or_else(|| {
                Fail::bad_request("the body of the request is not valid DeleteOptions")
            })?
    };
    let grace_query = match w.call.q("gracePeriodSeconds").filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            Fail::bad_request(format!(
                "unable to parse gracePeriodSeconds {v:?}: strconv.ParseInt: parsing {v:?}: invalid syntax"
            ))
        })?),
        None => None,
    };
    let grace_option =
        grace_query.or_else(|| body.get("gracePeriodSeconds").and_then(Tree::as_i64));
    let dry_run =
        opts.dry_run || matches!(body.get("dryRun"), Some(Tree::Array(v)) if !v.is_empty());
    let coll = w.coll;
    let mut store = lock(shared)?;
    let old = current(&store, w)?;
    if let Some(uid) = body.str_at(&["preconditions", "uid"])
        && uid
            != old
                .value
                .pointer("/metadata/uid")
                .and_then(|u| u.as_str())
                .unwrap_or_default()
    {
        let actual = old.value.pointer("/metadata/uid").and_then(|u| u.as_str());
        return Err(conflict(
            coll,
            w.name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                actual.unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = body.str_at(&["preconditions", "resourceVersion"])
        && rv != old.resource_version
    {
        return Err(conflict(
            coll,
            w.name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                old.resource_version
            ),
        ));
    }
    let tree = stored_tree(&old)?;
    let is_pod = coll.group.is_empty() && coll.resource == "pods";
    let is_namespace = coll.group.is_empty() && coll.resource == "namespaces";
    let has_finalizers =
        matches!(tree.at(&["metadata", "finalizers"]), Some(Tree::Array(f)) if !f.is_empty());
    // A Pod that a kubelet runs gets a grace period; one without a node, or finished, is
    // deleted at once (the pod strategy's CheckGracefulDelete).
    let grace = if is_pod {
        let scheduled = tree
            .str_at(&["spec", "nodeName"])
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            tree.str_at(&["status", "phase"]),
            Some("Succeeded" | "Failed")
        );
        if scheduled && !finished {
            grace_option
                .or_else(|| {
                    tree.at(&["spec", "terminationGracePeriodSeconds"])
                        .and_then(Tree::as_i64)
                })
                .unwrap_or(30)
                .max(0)
        } else {
            0
        }
    } else {
        0
    };
    let (now, _) = store.now();
    let res = coll.res_key();
    let mark = |store: &Store, tree: &Tree, grace: i64| -> Result<Object, Fail> {
        let mut t = tree.clone();
        set_meta(
            coll,
            &mut t,
            "deletionTimestamp",
            clock::format_rfc3339(now + grace).into(),
        );
        set_meta(coll, &mut t, "deletionGracePeriodSeconds", grace.into());
        if tracks_generation(coll) {
            let g = tree.at(&["metadata", "generation"]).and_then(Tree::as_i64);
            set_meta(coll, &mut t, "generation", (g.unwrap_or(0) + 1).into());
        }
        if is_namespace {
            t.child_object("status").set("phase", "Terminating".into());
        }
        if !dry_run {
            set_meta(
                coll,
                &mut t,
                "resourceVersion",
                store.next_rv().to_string().into(),
            );
        }
        to_object(coll, t)
    };
    let pending = tree.at(&["metadata", "deletionTimestamp"]).is_some();
    if has_finalizers || is_namespace || grace > 0 {
        // Only marked: the object stays until its finalizers (or kubelet) are done.
        if pending {
            return Ok((200, format!("{}\n", old.full_raw)));
        }
        let marked = mark(&store, &tree, grace)?;
        let raw = format!("{}\n", marked.full_raw);
        if !dry_run {
            store.commit(&res, EventType::Modified, marked);
        }
        return Ok((200, raw));
    }
    let last = if is_pod {
        // The pod is updated with its deletion timestamp, then removed (two versions).
        let marked = mark(&store, &tree, 0)?;
        if !dry_run {
            store.commit(&res, EventType::Modified, marked.clone());
        }
        marked
    } else {
        (*old).clone()
    };
    let gone = if dry_run {
        last
    } else {
        let mut t = stored_tree(&last)?;
        set_meta(
            coll,
            &mut t,
            "resourceVersion",
            store.next_rv().to_string().into(),
        );
        let gone = to_object(coll, t)?;
        store.commit(&res, EventType::Deleted, gone.clone());
        gone
    };
    if is_pod {
        return Ok((200, format!("{}\n", gone.full_raw)));
    }
    let uid = gone
        .value
        .pointer("/metadata/uid")
        .and_then(|u| u.as_str())
        .unwrap_or_default();
    let mut d = details(w.name, &coll.group, &coll.resource);
    d.pop();
    if !uid.is_empty() {
        d.push_str(&format!(",\"uid\":{}", go_string(uid)));
    }
    d.push('}');
    Ok((
        200,
        format!(
            "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Success\",\"details\":{d}}}\n"
        ),
    ))
}
