//! Server-side Tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).
//!
//! Rows of recorded objects are replayed from the recorded Tables (`pods-demo-table.http`,
//! `nodes-table.http`). Objects that have no recorded row (the pod of the watch fixture) get
//! cells computed by a port of the API server's printers (`pkg/printers/internalversion`), which
//! the unit tests check against every recorded row.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::clock;
use crate::json::{self, go_string};

/// What each Table row carries in `object` (`?includeObject=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// `None`: `"object":null`.
    None,
    /// `Metadata` (the default): a `PartialObjectMetadata`.
    Metadata,
    /// `Object`: the whole object.
    Object,
}

impl IncludeObject {
    /// Parses `includeObject`; unknown values are a 400 in the real server.
    pub fn parse(v: Option<&str>) -> Result<Self, String> {
        match v {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "unsupported includeObject value: {other:?}, expected one of \"None\", \"Metadata\", \"Object\""
            )),
        }
    }
}

/// Which printer renders cells for a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printer {
    /// NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES.
    Pod,
    /// Only recorded rows exist (nodes).
    RecordedOnly,
    /// NAME STATUS AGE.
    Namespace,
    /// NAME DATA AGE.
    ConfigMap,
    /// NAME SECRETS AGE.
    ServiceAccount,
    /// The API server's default convertor: NAME, CREATED AT.
    Default,
    /// apiextensions' convertor for a CRD without printer columns: NAME, AGE (type date).
    CustomResource,
}

/// Columns and row sources for one resource.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Raw JSON array of `columnDefinitions`.
    pub columns: String,
    /// How to compute cells.
    pub printer: Printer,
    /// Recorded rows by object key (`ns/name` or `name`).
    pub recorded: HashMap<String, &'static str>,
}

/// One table row source: the object's raw JSON (with kind/apiVersion) and its decoded value.
pub struct RowInput<'a> {
    /// Key into recorded rows.
    pub key: &'a str,
    /// The object including `kind` and `apiVersion`.
    pub full_raw: &'a str,
    /// Raw `metadata` object.
    pub metadata_raw: &'a str,
    /// Decoded object.
    pub value: &'a Value,
    /// The object is exactly as recorded, so its recorded row (if any) is still right.
    pub pristine: bool,
}

impl TableSpec {
    /// Renders one row as raw JSON.
    pub fn row(
        &self,
        input: &RowInput<'_>,
        include: IncludeObject,
        meta_api_version: &str,
        now: i64,
    ) -> Result<String> {
        let recorded = self.recorded.get(input.key).copied();
        if let (Some(raw), true, IncludeObject::Metadata, "meta.k8s.io/v1") =
            (recorded, input.pristine, include, meta_api_version)
        {
            return Ok(raw.to_string());
        }
        // A changed object gets computed cells; resources without a printer port keep their
        // recorded cells (their printed columns are not ones clients change).
        let replay = recorded.filter(|_| input.pristine || self.printer == Printer::RecordedOnly);
        let (cells, conditions) = match replay {
            Some(raw) => (
                json::required_field(raw, "cells")?.to_string(),
                json::field(raw, "conditions")?.map(str::to_string),
            ),
            None => self.compute(input.value, now)?,
        };
        let object = match include {
            IncludeObject::None => "null".to_string(),
            IncludeObject::Metadata => format!(
                r#"{{"kind":"PartialObjectMetadata","apiVersion":{},"metadata":{}}}"#,
                go_string(meta_api_version),
                input.metadata_raw
            ),
            IncludeObject::Object => input.full_raw.to_string(),
        };
        Ok(match conditions {
            Some(c) => format!(r#"{{"cells":{cells},"conditions":{c},"object":{object}}}"#),
            None => format!(r#"{{"cells":{cells},"object":{object}}}"#),
        })
    }

    /// Computes (cells, conditions) for an object without a recorded row.
    fn compute(&self, obj: &Value, now: i64) -> Result<(String, Option<String>)> {
        let name = str_at(obj, &["metadata", "name"]);
        let created = obj
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str);
        let cells: Vec<Cell> = match self.printer {
            Printer::Pod => return pod_row(obj, now),
            Printer::RecordedOnly => {
                bail!("no recorded table row for {name:?} and no printer for this resource")
            }
            Printer::Namespace => vec![
                Cell::S(name),
                Cell::S(str_at(obj, &["status", "phase"])),
                Cell::S(clock::age(created, now)),
            ],
            Printer::ConfigMap => {
                let n = |k: &str| obj.get(k).and_then(Value::as_object).map_or(0, |m| m.len());
                vec![
                    Cell::S(name),
                    Cell::I((n("data") + n("binaryData")) as i64),
                    Cell::S(clock::age(created, now)),
                ]
            }
            Printer::ServiceAccount => vec![
                Cell::S(name),
                Cell::I(
                    obj.get("secrets")
                        .and_then(Value::as_array)
                        .map_or(0, |a| a.len()) as i64,
                ),
                Cell::S(clock::age(created, now)),
            ],
            // The default convertor puts the raw timestamp in a "date" column.
            Printer::Default => vec![Cell::S(name), Cell::S(created.unwrap_or("").to_string())],
            // `cellForJSONValue("date", ...)`: `ConvertToHumanReadableDateType`, the age.
            Printer::CustomResource => vec![Cell::S(name), Cell::S(clock::age(created, now))],
        };
        Ok((cells_json(&cells), None))
    }
}

/// A table cell: Go's printers emit strings and int64s.
enum Cell {
    S(String),
    I(i64),
}

fn cells_json(cells: &[Cell]) -> String {
    let parts: Vec<String> = cells
        .iter()
        .map(|c| match c {
            Cell::S(s) => go_string(s),
            Cell::I(i) => i.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

fn str_at(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return String::new(),
        }
    }
    cur.as_str().unwrap_or_default().to_string()
}

fn ts(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_str)
        .and_then(|s| clock::parse_rfc3339(s).ok())
        .map(|(s, _)| s)
}

/// Port of `printPod` (always "wide", as the server's TableConvertor is).
fn pod_row(pod: &Value, now: i64) -> Result<(String, Option<String>)> {
    let spec = pod.get("spec").context("pod without spec")?;
    let status = pod.get("status").cloned().unwrap_or(Value::Null);
    let empty = Vec::new();
    let arr = |v: &Value, k: &str| v.get(k).and_then(Value::as_array).unwrap_or(&empty).clone();
    let containers = arr(spec, "containers");
    let init_specs = arr(spec, "initContainers");
    let conditions = arr(&status, "conditions");
    let phase = str_at(&status, &["phase"]);

    let mut restarts: i64 = 0;
    let mut restartable_init_restarts: i64 = 0;
    let mut total = containers.len() as i64;
    let mut ready: i64 = 0;
    let mut last_restart: Option<i64> = None;
    let mut last_restartable_init_restart: Option<i64> = None;
    let later = |cur: Option<i64>, t: Option<i64>| match (cur, t) {
        (Some(c), Some(t)) if t > c => Some(t),
        (None, t) => t,
        (c, _) => c,
    };

    let mut reason = phase.clone();
    if let Some(r) = status.get("reason").and_then(Value::as_str)
        && !r.is_empty()
    {
        reason = r.to_string();
    }
    for c in &conditions {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }

    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
    };
    total += init_specs
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count() as i64;

    let mut initializing = false;
    for (i, c) in arr(&status, "initContainerStatuses").iter().enumerate() {
        let count = c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        restarts += count;
        let finished = ts(c.pointer("/lastState/terminated/finishedAt"));
        last_restart = later(last_restart, finished);
        let name = str_at(c, &["name"]);
        if restartable(&name) {
            restartable_init_restarts += count;
            last_restartable_init_restart = later(last_restartable_init_restart, finished);
        }
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
        let started = c.get("started").and_then(Value::as_bool).unwrap_or(false);
        if let Some(t) = terminated
            && t.get("exitCode").and_then(Value::as_i64).unwrap_or(0) == 0
        {
            continue;
        }
        if restartable(&name) && started {
            if c.get("ready").and_then(Value::as_bool).unwrap_or(false) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = str_at(t, &["reason"]);
            reason = if r.is_empty() {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                if signal != 0 {
                    format!("Init:Signal:{signal}")
                } else {
                    let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                    format!("Init:ExitCode:{code}")
                }
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .any(|c| str_at(c, &["type"]) == "Initialized" && str_at(c, &["status"]) == "True");
    if !initializing || initialized {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for c in arr(&status, "containerStatuses").iter().rev() {
            restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            last_restart = later(
                last_restart,
                ts(c.pointer("/lastState/terminated/finishedAt")),
            );
            let waiting = str_at(c, &["state", "waiting", "reason"]);
            let terminated = c.pointer("/state/terminated");
            let term_reason = terminated.map(|t| str_at(t, &["reason"]));
            if !waiting.is_empty() {
                reason = waiting;
            } else if let Some(r) = term_reason.as_ref().filter(|r| !r.is_empty()) {
                reason = r.clone();
            } else if let Some(t) = terminated {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                reason = if signal != 0 {
                    format!("Signal:{signal}")
                } else {
                    format!(
                        "ExitCode:{}",
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                    )
                };
            } else if c.get("ready").and_then(Value::as_bool).unwrap_or(false)
                && c.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }

    let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
    if deleting && str_at(&status, &["reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => {
            format!("{restarts} ({} ago)", clock::human_duration(now - t))
        }
        _ => restarts.to_string(),
    };
    let created = pod
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str);
    let or_none = |s: String| if s.is_empty() { "<none>".into() } else { s };
    let pod_ip = arr(&status, "podIPs")
        .first()
        .map(|p| str_at(p, &["ip"]))
        .unwrap_or_default();
    let gates = arr(spec, "readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = str_at(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == t)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let cells = vec![
        Cell::S(str_at(pod, &["metadata", "name"])),
        Cell::S(format!("{ready}/{total}")),
        Cell::S(reason),
        Cell::S(restarts_str),
        Cell::S(clock::age(created, now)),
        Cell::S(or_none(pod_ip)),
        Cell::S(or_none(str_at(spec, &["nodeName"]))),
        Cell::S(or_none(str_at(&status, &["nominatedNodeName"]))),
        Cell::S(readiness_gates),
    ];
    let conditions = match phase.as_str() {
        "Succeeded" => Some(
            r#"[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}]"#
                .to_string(),
        ),
        "Failed" => Some(
            r#"[{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}]"#
                .to_string(),
        ),
        _ => None,
    };
    Ok((cells_json(&cells), conditions))
}

/// The "now" to render an object's age with: the cluster clock, or the object's own latest
/// timestamp when it is younger (objects of the watch fixture were created after the capture
/// the cluster clock comes from).
pub fn now_for(obj: &Value) -> i64 {
    let mut now = clock::CLUSTER_NOW;
    let meta = obj.get("metadata");
    let mut consider = |v: Option<&Value>| {
        if let Some(t) = ts(v) {
            now = now.max(t);
        }
    };
    consider(meta.and_then(|m| m.get("creationTimestamp")));
    if let Some(fields) = meta
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    {
        for f in fields {
            consider(f.get("time"));
        }
    }
    now
}

/// Builds a Table document (with trailing newline, as the server's encoder writes it).
/// `columns` = `None` writes `"columnDefinitions":null` (watch events after the first).
pub fn document(
    meta_api_version: &str,
    list_meta: &str,
    columns: Option<&str>,
    rows: &[String],
) -> String {
    format!(
        "{{\"kind\":\"Table\",\"apiVersion\":{},\"metadata\":{},\"columnDefinitions\":{},\"rows\":[{}]}}\n",
        go_string(meta_api_version),
        list_meta,
        columns.unwrap_or("null"),
        rows.join(",")
    )
}

/// Column definitions of printers whose Tables were not recorded, built from the recorded Name
/// and Age columns plus the descriptions upstream uses (`metav1.ObjectMeta` / core/v1 docs).
pub fn derived_columns(pod_columns: &str, printer: Printer) -> Result<String> {
    let cols = json::array_items(pod_columns)?;
    let (name_col, age_col) = match (cols.first(), cols.get(4)) {
        (Some(n), Some(a)) => (*n, *a),
        _ => bail!("recorded pod columns are missing Name/Age"),
    };
    let age_desc = json::required_field(age_col, "description")?;
    let col = |name: &str, ty: &str, desc: &str| {
        format!(
            r#"{{"name":{},"type":{},"format":"","description":{},"priority":0}}"#,
            go_string(name),
            go_string(ty),
            desc
        )
    };
    let middle = match printer {
        Printer::Namespace => col(
            "Status",
            "string",
            &go_string("The status of the namespace"),
        ),
        Printer::ConfigMap => col("Data", "string", &go_string(CONFIGMAP_DATA_DOC)),
        Printer::ServiceAccount => col("Secrets", "string", &go_string(SERVICEACCOUNT_SECRETS_DOC)),
        Printer::Default => {
            return Ok(format!(
                "[{name_col},{}]",
                col("Created At", "date", age_desc)
            ));
        }
        // `serveDefaultColumnsIfEmpty`: Age, type date, creationTimestamp's description.
        Printer::CustomResource => {
            return Ok(format!("[{name_col},{}]", col("Age", "date", age_desc)));
        }
        Printer::Pod | Printer::RecordedOnly => bail!("{printer:?} columns are recorded"),
    };
    Ok(format!("[{name_col},{middle},{age_col}]"))
}

const CONFIGMAP_DATA_DOC: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";

const SERVICEACCOUNT_SECRETS_DOC: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn computed_pod_cells_match_every_recorded_row() {
        let list = fixtures::get("pods-demo-list.http").unwrap();
        let table = fixtures::get("pods-demo-table.http").unwrap();
        let items =
            json::array_items(json::required_field(list.body_str().unwrap(), "items").unwrap())
                .unwrap();
        let rows =
            json::array_items(json::required_field(table.body_str().unwrap(), "rows").unwrap())
                .unwrap();
        assert_eq!(items.len(), 50);
        for (item, row) in items.iter().zip(rows) {
            let v: Value = serde_json::from_str(item).unwrap();
            let (cells, conditions) = pod_row(&v, clock::CLUSTER_NOW).unwrap();
            assert_eq!(cells, json::required_field(row, "cells").unwrap());
            assert!(conditions.is_none());
        }
    }

    #[test]
    fn terminating_pod_renders_terminating() {
        let v: Value = serde_json::from_str(
            r#"{"metadata":{"name":"p","creationTimestamp":"2026-11-28T15:27:00Z","deletionTimestamp":"2026-11-28T15:27:30Z"},
                "spec":{"nodeName":"node-1","containers":[{"name":"a"},{"name":"b"}]},
                "status":{"phase":"Running","podIPs":[{"ip":"10.0.0.1"}],"containerStatuses":[
                  {"name":"a","ready":true,"restartCount":2,"state":{"running":{}},"lastState":{"terminated":{"finishedAt":"2026-11-28T15:26:00Z"}}},
                  {"name":"b","ready":false,"restartCount":0,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}"#,
        )
        .unwrap();
        let (cells, _) = pod_row(&v, clock::CLUSTER_NOW).unwrap();
        assert_eq!(
            cells,
            r#"["p","1/2","Terminating","2 (63s ago)","3s","10.0.0.1","node-1","\u003cnone\u003e","\u003cnone\u003e"]"#
        );
    }
}
