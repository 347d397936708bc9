//! GET of collections and objects: content negotiation (JSON, Table, PartialObjectMetadata),
//! selectors, `limit`/`continue` paging with the API server's continue-token format, and
//! `resourceVersion` checks.

use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::api::{Call, Fail, Handled, Shared};
use crate::cluster::{Collection, Object};
use crate::faults::SlowBody;
use crate::json::{self, go_string};
use crate::response::{Chunk, Reply, ResponseBody};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::Store;
use crate::table::{self, IncludeObject, RowInput};

/// The representation a client negotiated with `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain JSON objects / lists.
    Json,
    /// `as=Table`; the value is the Table's apiVersion (`meta.k8s.io/v1` or `/v1beta1`).
    Table(&'static str),
    /// `as=PartialObjectMetadata[List]`; the value is its apiVersion.
    Meta(&'static str),
}

/// One media range of an `Accept` header.
pub struct MediaRange {
    /// `type/subtype`, lowercase.
    pub mime: String,
    /// Parameters (`as`, `g`, `v`, `q`, ...), keys lowercase.
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    /// Value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits an `Accept` header into media ranges, dropping `q=0` ones.
pub fn media_ranges(accept: &str) -> Vec<MediaRange> {
    accept
        .split(',')
        .filter_map(|r| {
            let mut parts = r.split(';');
            let mime = parts.next()?.trim().to_ascii_lowercase();
            if mime.is_empty() {
                return None;
            }
            let params: Vec<(String, String)> = parts
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_string(),
                    ))
                })
                .collect();
            let range = MediaRange { mime, params };
            if range
                .param("q")
                .is_some_and(|q| q.parse::<f32>() == Ok(0.0))
            {
                return None;
            }
            Some(range)
        })
        .collect()
}

/// Picks the first acceptable representation, as the API server's negotiation does. `list`
/// selects between `PartialObjectMetadataList` (lists) and `PartialObjectMetadata` (objects,
/// watch events). `None` means 406 Not Acceptable. YAML, protobuf and CBOR are not offered by
/// this fake (nothing of them was recorded except one protobuf pod).
pub fn negotiate(accept: Option<&str>, list: bool) -> Option<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Format::Json);
    };
    for r in media_ranges(accept) {
        if !matches!(
            r.mime.as_str(),
            "application/json" | "application/*" | "*/*"
        ) {
            continue;
        }
        let version = match r.param("v") {
            Some("v1") => "meta.k8s.io/v1",
            Some("v1beta1") => "meta.k8s.io/v1beta1",
            _ => "",
        };
        let meta_group = r.param("g") == Some("meta.k8s.io") && !version.is_empty();
        match r.param("as") {
            None => return Some(Format::Json),
            Some("Table") if meta_group => return Some(Format::Table(version)),
            Some("PartialObjectMetadataList") if meta_group && list => {
                return Some(Format::Meta(version));
            }
            Some("PartialObjectMetadata") if meta_group && !list => {
                return Some(Format::Meta(version));
            }
            _ => continue,
        }
    }
    None
}

/// List options common to list and watch.
pub struct ListQuery {
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
    /// `includeObject` for Tables.
    pub include: IncludeObject,
}

impl ListQuery {
    /// Parses and validates the list options for a collection.
    pub fn parse(call: &Call<'_>, coll: &Collection) -> Result<ListQuery, Fail> {
        let labels = LabelSelector::parse(call.q("labelSelector").unwrap_or_default())
            .map_err(Fail::bad_request)?;
        let fields = FieldSelector::parse(call.q("fieldSelector").unwrap_or_default())
            .map_err(Fail::bad_request)?;
        fields
            .check_supported(&coll.field_labels)
            .map_err(Fail::bad_request)?;
        let limit = match call.q("limit").filter(|l| !l.is_empty()) {
            None => 0,
            Some(l) => l.parse::<i64>().map_err(|_| {
                Fail::bad_request(format!(
                    "unable to parse the limit parameter {l:?}: strconv.ParseInt: parsing {l:?}: invalid syntax"
                ))
            })?,
        };
        let include = IncludeObject::parse(call.q("includeObject")).map_err(Fail::bad_request)?;
        Ok(ListQuery {
            labels,
            fields,
            limit: usize::try_from(limit).unwrap_or(0),
            continue_token: call
                .q("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            resource_version: call
                .q("resourceVersion")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            resource_version_match: call
                .q("resourceVersionMatch")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            include,
        })
    }

    /// True when the object passes both selectors.
    pub fn matches(&self, obj: &Object) -> bool {
        self.labels.matches(obj.value.pointer("/metadata/labels"))
            && self.fields.matches(&obj.value)
    }

    /// True when any selector is set (the server then omits `remainingItemCount`).
    pub fn has_selectors(&self) -> bool {
        !self.labels.is_empty() || !self.fields.is_empty()
    }
}

/// The decoded form of a continue token (`k8s.io/apiserver/pkg/storage/continue.go`).
#[derive(Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

const CONTINUE_VERSION: &str = "meta.k8s.io/v1";

/// Encodes a continue token exactly as the API server does.
pub fn encode_continue(rv: i64, start_key: &str) -> String {
    let start = format!("{start_key}\u{0}");
    let raw = format!(
        "{{\"v\":\"{CONTINUE_VERSION}\",\"rv\":{rv},\"start\":{}}}",
        go_string(&start)
    );
    json::base64_url_encode(raw.as_bytes())
}

/// Where a continue token says to resume: (the key after which to start, the token's
/// resourceVersion; -1 for an "inconsistent" continue), or a 400.
fn decode_continue(token: &str) -> Result<(String, i64), Fail> {
    let bytes = json::base64_decode(token)
        .map_err(|e| Fail::bad_request(format!("continue key is not valid: {e}")))?;
    let t: ContinueToken = serde_json::from_slice(&bytes)
        .map_err(|e| Fail::bad_request(format!("continue key is not valid: {e}")))?;
    if t.v != CONTINUE_VERSION {
        return Err(Fail::bad_request(
            "continue key is not valid: server does not recognize this encoded version",
        ));
    }
    if t.rv == 0 {
        return Err(Fail::bad_request(format!(
            "continue key is not valid: incorrect encoded start resourceVersion (version {CONTINUE_VERSION})"
        )));
    }
    let key = t.start.trim_end_matches('\u{0}');
    let key = key.strip_prefix('/').unwrap_or(key).to_string();
    if key.split('/').any(|s| s == "..") {
        return Err(Fail::bad_request(
            "continue key is not valid: path traversal attempt",
        ));
    }
    Ok((key, t.rv))
}

/// The 410 for a continue token from before the compaction, with a fresh "inconsistent
/// continue" token (rv -1) that resumes at the current state.
fn expired_continue(key: &str) -> Fail {
    let fresh = json::base64_url_encode(
        format!(
            "{{\"v\":\"{CONTINUE_VERSION}\",\"rv\":-1,\"start\":{}}}",
            go_string(&format!("{key}\u{0}"))
        )
        .as_bytes(),
    );
    let body = format!(
        "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{\"continue\":{}}},\"status\":\"Failure\",\"message\":{},\"reason\":\"Expired\",\"code\":410}}\n",
        go_string(&fresh),
        go_string(EXPIRED_CONTINUE)
    );
    Fail::Body {
        code: 410,
        body,
        template: "error-410-expired-continue.http",
    }
}

const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Reads the collection from the store at the version the query asks for, then applies
/// selectors and paging; returns (items, list metadata JSON).
///
/// Like etcd, the store answers at older versions within its history (continue tokens,
/// `resourceVersionMatch=Exact`); older than that is 410 Expired.
pub fn select(
    store: &Store,
    coll: &Collection,
    namespace: Option<&str>,
    q: &ListQuery,
) -> Result<(Vec<Arc<Object>>, String), Fail> {
    let latest = store.latest_rv();
    let mut at: Option<u64> = None;
    if let Some(rv) = &q.resource_version {
        if q.continue_token.is_some() && rv != "0" {
            return Err(Fail::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let n: u64 = rv.parse().map_err(|_| {
            Fail::bad_request(format!(
                "invalid resource version: strconv.ParseUint: parsing {rv:?}: invalid syntax"
            ))
        })?;
        if n > latest {
            return Err(Fail::Status {
                code: 504,
                reason: "Timeout",
                message: format!("Timeout: Too large resource version: {n}, current: {latest}"),
                details: Some(
                    "{\"causes\":[{\"reason\":\"ResourceVersionTooLarge\",\"message\":\"Too large resource version\"}],\"retryAfterSeconds\":1}"
                        .into(),
                ),
            });
        }
        if q.resource_version_match.as_deref() == Some("Exact") {
            if n < store.floor() {
                return Err(Fail::Recorded(
                    "error-410-list-resourceversion-exact-compacted.http",
                ));
            }
            at = Some(n);
        }
    }
    let res = coll.res_key();
    let mut after = None;
    if let Some(t) = &q.continue_token {
        let (key, rv) = decode_continue(t)?;
        if rv != -1 {
            if rv < 0 || (rv as u64) < store.floor() {
                return Err(expired_continue(&key));
            }
            at = Some(rv as u64);
        }
        after = Some(key);
    }
    let (all, list_rv) = match at {
        Some(rv) => (
            store.items_at(&res, rv).map_err(|_| {
                Fail::Recorded("error-410-list-resourceversion-exact-compacted.http")
            })?,
            rv,
        ),
        None => (store.items(&res), store.current_rv()),
    };
    let single_ns = namespace.is_some();
    let candidates: Vec<Arc<Object>> = all
        .into_iter()
        .filter(|o| namespace.is_none() || o.namespace.as_deref() == namespace)
        .collect();
    let start = match &after {
        Some(after) => candidates
            .iter()
            .position(|o| o.list_key(single_ns) > after.as_str())
            .unwrap_or(candidates.len()),
        None => 0,
    };
    let mut out = Vec::new();
    let mut last_index = None;
    for (i, o) in candidates.iter().enumerate().skip(start) {
        if q.limit > 0 && out.len() == q.limit {
            break;
        }
        if q.matches(o) {
            out.push(o.clone());
            last_index = Some(i);
        }
    }
    let mut meta = format!("{{\"resourceVersion\":{}", go_string(&list_rv.to_string()));
    if q.limit > 0
        && out.len() == q.limit
        && let Some(last) = last_index
        && last + 1 < candidates.len()
    {
        let key = format!("/{}", candidates[last].list_key(single_ns));
        meta.push_str(&format!(
            ",\"continue\":{}",
            go_string(&encode_continue(list_rv as i64, &key))
        ));
        if !q.has_selectors() {
            meta.push_str(&format!(
                ",\"remainingItemCount\":{}",
                candidates.len() - last - 1
            ));
        }
    }
    meta.push('}');
    Ok((out, meta))
}

/// `GET` of a collection.
pub fn list(
    shared: &Shared,
    call: &Call<'_>,
    coll: &Collection,
    namespace: Option<&str>,
) -> Handled {
    let format = negotiate(call.header("accept"), true)
        .ok_or(Fail::Recorded("error-406-not-acceptable.http"))?;
    let q = ListQuery::parse(call, coll)?;
    let (items, meta) = {
        let store = shared.store.lock().map_err(|_| poisoned())?;
        select(&store, coll, namespace, &q)?
    };
    let body = match format {
        Format::Json if coll.unstructured => crate::crd::unstructured_list(
            &coll.kind,
            &coll.api_version(),
            &crate::crd::unstructured_list_meta(&meta).map_err(Fail::Internal)?,
            &items
                .iter()
                .map(|o| o.item_raw.as_str())
                .collect::<Vec<_>>(),
        ),
        Format::Json => format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{meta},\"items\":[{}]}}\n",
            go_string(&format!("{}List", coll.kind)),
            go_string(&coll.api_version()),
            items
                .iter()
                .map(|o| o.item_raw.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        Format::Table(version) => {
            let rows = items
                .iter()
                .map(|o| row(coll, o, q.include, version, table::now_for(&o.value)))
                .collect::<Result<Vec<_>, _>>()?;
            table::document(version, &meta, Some(&coll.table.columns), &rows)
        }
        Format::Meta(version) => format!(
            "{{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":{},\"metadata\":{meta},\"items\":[{}]}}\n",
            go_string(version),
            items
                .iter()
                .map(|o| partial(version, &o.metadata_raw))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    let reply = shared.json(&call.ctx, 200, body)?;
    let slow = shared
        .faults
        .lock()
        .ok()
        .and_then(|f| f.faults.slow_body)
        .filter(|_| call.faults);
    Ok(match slow {
        Some(slow) => slowed(reply, slow),
        None => reply,
    })
}

fn poisoned() -> Fail {
    Fail::Internal(anyhow::anyhow!("the store lock is poisoned"))
}

/// Fault injection: the body goes out `chunk_bytes` at a time, `delay` apart.
fn slowed(mut reply: Reply, slow: SlowBody) -> Reply {
    let body = match std::mem::replace(&mut reply.body, ResponseBody::Empty) {
        ResponseBody::Full(Some(b)) | ResponseBody::Chunked(Some(b)) => b,
        other => {
            reply.body = other;
            return reply;
        }
    };
    let size = slow.chunk_bytes.max(1);
    if body.len() <= size {
        reply.body = ResponseBody::Full(Some(body));
        return reply;
    }
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    tokio::spawn(async move {
        let mut offset = 0;
        while offset < body.len() {
            if offset > 0 {
                tokio::time::sleep(slow.delay).await;
            }
            let end = (offset + size).min(body.len());
            if tx.send(Chunk::Data(body.slice(offset..end))).await.is_err() {
                return;
            }
            offset = end;
        }
    });
    reply.body = ResponseBody::Stream(rx);
    reply
}

/// One Table row for a stored object.
pub fn row(
    coll: &Collection,
    o: &Object,
    include: IncludeObject,
    version: &str,
    now: i64,
) -> Result<String, Fail> {
    let input = RowInput {
        key: &o.key,
        full_raw: &o.full_raw,
        metadata_raw: &o.metadata_raw,
        value: &o.value,
        pristine: o.pristine,
    };
    Ok(coll.table.row(&input, include, version, now)?)
}

/// A `PartialObjectMetadata` object.
pub fn partial(version: &str, metadata_raw: &str) -> String {
    format!(
        "{{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":{},\"metadata\":{metadata_raw}}}",
        go_string(version)
    )
}

/// `GET` of one object.
pub fn get(
    shared: &Shared,
    call: &Call<'_>,
    coll: &Collection,
    namespace: Option<&str>,
    name: &str,
) -> Handled {
    let format = negotiate(call.header("accept"), false)
        .ok_or(Fail::Recorded("error-406-not-acceptable.http"))?;
    let found = shared
        .store
        .lock()
        .map_err(|_| poisoned())?
        .get(&coll.res_key(), &coll.object_key(namespace, name));
    let Some(o) = found else {
        return Err(Fail::not_found(&coll.group, &coll.resource, name));
    };
    let body = match format {
        Format::Json => format!("{}\n", o.full_raw),
        Format::Table(version) => {
            let include =
                IncludeObject::parse(call.q("includeObject")).map_err(Fail::bad_request)?;
            let meta = format!("{{\"resourceVersion\":{}}}", go_string(&o.resource_version));
            let r = row(coll, &o, include, version, table::now_for(&o.value))?;
            table::document(version, &meta, Some(&coll.table.columns), &[r])
        }
        Format::Meta(version) => format!("{}\n", partial(version, &o.metadata_raw)),
    };
    shared.json(&call.ctx, 200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_match_the_recorded_ones() {
        assert_eq!(
            encode_continue(8384, "/demo-00004"),
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODM4NCwic3RhcnQiOiIvZGVtby0wMDAwNFx1MDAwMCJ9"
        );
        assert_eq!(
            encode_continue(8384, "/demo/demo-00001"),
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODM4NCwic3RhcnQiOiIvZGVtby9kZW1vLTAwMDAxXHUwMDAwIn0"
        );
        assert_eq!(
            decode_continue(&encode_continue(8384, "/demo-00004")).ok(),
            Some(("demo-00004".to_string(), 8384))
        );
    }

    #[test]
    fn accept_negotiation_picks_first_servable_range() {
        let t = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(t), true),
            Some(Format::Table("meta.k8s.io/v1"))
        );
        assert_eq!(negotiate(None, true), Some(Format::Json));
        assert_eq!(negotiate(Some("application/xml"), true), None);
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf, application/json"),
                false
            ),
            Some(Format::Json)
        );
        let m = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(
            negotiate(Some(m), true),
            Some(Format::Meta("meta.k8s.io/v1"))
        );
        assert_eq!(negotiate(Some(m), false), Some(Format::Json));
        assert_eq!(
            negotiate(Some("application/json;as=Table;v=v2;g=meta.k8s.io"), true),
            None
        );
    }
}
