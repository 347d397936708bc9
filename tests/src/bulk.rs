//! A generated large namespace for benchmarks ([`crate::ServerConfig::bulk_pods`]).
//!
//! Every bulk pod is a clone of one of the 50 recorded `demo` pods (bulk pod `i` copies
//! `demo-000(i % 50)`, so every fifth one is Pending, the rest Running on `node-1..3`, with
//! the recorded mix of tiers and zones), so its bytes are a real v1.36 pod's. Only the values
//! that differ between pods are replaced: name (`bulk-00001`...), namespace, uid,
//! resourceVersion, the timestamps (creation, managedFields, conditions, start times), pod IP,
//! the `index` label, the `POD_INDEX` env value, the ServiceAccount volume's random suffix and
//! the container ID.
//!
//! Cloning works on text: each template is cut once at the values to replace, and a pod is the
//! concatenation of the pieces with its own values. That keeps 10,000 pods (about 43 MB of
//! JSON) fast to build; only the decoded `Value` every stored object carries costs a parse.

use anyhow::{Result, bail};

use crate::clock::{self, CLUSTER_NOW};
use crate::cluster::{Cluster, Object};
use crate::store::ResKey;

/// A generated namespace full of pods, filled in when the server starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkPods {
    /// The namespace (created as well, like the recorded `demo` one).
    pub namespace: String,
    /// How many pods: `bulk-00001` to `bulk-NNNNN` (more digits past 99,999).
    pub count: usize,
}

impl BulkPods {
    /// `count` pods in namespace `bulk`, as `demo-apiserver --bulk-pods N` makes them.
    pub fn new(count: usize) -> BulkPods {
        BulkPods {
            namespace: "bulk".into(),
            count,
        }
    }
}

/// Pod IPs are `127.(245 + i / 65536).x.y`: loopback like the recorded ones, and clear of the
/// recorded `127.244.0.0/16`. Ten /16s is the room there is below 127.255.
pub const MAX_BULK_PODS: usize = 10 * 65_536 - 1;

/// A value that differs between clones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
    Uid,
    ResourceVersion,
    Time,
    PodIp,
    PodIpEscaped,
    IndexLabel,
    IndexEnv,
    Volume,
    ContainerId,
}

/// One recorded pod cut at the values each clone replaces.
struct Template {
    parts: Vec<(String, Option<Field>)>,
    /// Byte length of the template, to size each clone's buffer.
    len: usize,
}

impl Template {
    fn new(pod: &Object) -> Result<Template> {
        let raw = pod.item_raw.as_str();
        let meta = pod.value.get("metadata");
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let mut needles: Vec<(String, Field)> = vec![
            (format!("\"name\":\"{}\"", pod.name), Field::Name),
            (
                format!(
                    "\"namespace\":\"{}\"",
                    pod.namespace.as_deref().unwrap_or("")
                ),
                Field::Namespace,
            ),
            (
                format!("\"resourceVersion\":\"{}\"", pod.resource_version),
                Field::ResourceVersion,
            ),
        ];
        if let Some(uid) = text(meta.and_then(|m| m.get("uid"))) {
            needles.push((format!("\"uid\":\"{uid}\""), Field::Uid));
        }
        if let Some(t) = text(meta.and_then(|m| m.get("creationTimestamp"))) {
            needles.push((format!("\"{t}\""), Field::Time));
        }
        if let Some(ip) = text(pod.value.pointer("/status/podIP")) {
            needles.push((format!("\"{ip}\""), Field::PodIp));
            needles.push((format!("\\\"{ip}\\\""), Field::PodIpEscaped));
        }
        if let Some(i) = text(meta.and_then(|m| m.pointer("/labels/index"))) {
            needles.push((format!("\"index\":\"{i}\""), Field::IndexLabel));
            needles.push((format!("\"POD_INDEX\",\"value\":\"{i}\""), Field::IndexEnv));
        }
        let volume = pod
            .value
            .pointer("/spec/volumes")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .find(|n| n.starts_with("kube-api-access-"));
        if let Some(v) = volume {
            needles.push((v.to_string(), Field::Volume));
        }
        if let Some(id) = text(pod.value.pointer("/status/containerStatuses/0/containerID")) {
            needles.push((format!("\"containerID\":\"{id}\""), Field::ContainerId));
        }
        let mut hits: Vec<(usize, usize, Field)> = needles
            .iter()
            .flat_map(|(n, f)| {
                raw.match_indices(n.as_str())
                    .map(|(at, m)| (at, m.len(), *f))
            })
            .collect();
        hits.sort_by_key(|h| h.0);
        for f in [
            Field::Name,
            Field::Namespace,
            Field::Uid,
            Field::ResourceVersion,
        ] {
            if !hits.iter().any(|h| h.2 == f) {
                bail!("recorded pod {} has no {f:?} to replace", pod.key);
            }
        }
        let mut parts = Vec::new();
        let mut at = 0;
        for (start, len, field) in hits {
            if start < at {
                continue; // overlaps a value already cut
            }
            parts.push((raw[at..start].to_string(), Some(field)));
            at = start + len;
        }
        parts.push((raw[at..].to_string(), None));
        Ok(Template {
            parts,
            len: raw.len(),
        })
    }

    fn render(&self, v: &Values<'_>) -> String {
        let mut out = String::with_capacity(self.len + 64);
        for (lit, field) in &self.parts {
            out.push_str(lit);
            let Some(field) = field else { continue };
            match field {
                Field::Name => push_pair(&mut out, "name", &v.name),
                Field::Namespace => push_pair(&mut out, "namespace", v.namespace),
                Field::Uid => push_pair(&mut out, "uid", &v.uid),
                Field::ResourceVersion => push_pair(&mut out, "resourceVersion", &v.rv),
                Field::Time => {
                    out.push('"');
                    out.push_str(&v.time);
                    out.push('"');
                }
                Field::PodIp => {
                    out.push('"');
                    out.push_str(&v.ip);
                    out.push('"');
                }
                Field::PodIpEscaped => {
                    out.push_str("\\\"");
                    out.push_str(&v.ip);
                    out.push_str("\\\"");
                }
                Field::IndexLabel => push_pair(&mut out, "index", &v.index),
                Field::IndexEnv => {
                    out.push_str("\"POD_INDEX\",\"value\":\"");
                    out.push_str(&v.index);
                    out.push('"');
                }
                Field::Volume => out.push_str(&v.volume),
                Field::ContainerId => push_pair(&mut out, "containerID", &v.container_id),
            }
        }
        out
    }
}

fn push_pair(out: &mut String, key: &str, value: &str) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":\"");
    out.push_str(value);
    out.push('"');
}

/// The per-pod values of one clone (all plain ASCII: no JSON escaping needed).
struct Values<'a> {
    name: String,
    namespace: &'a str,
    uid: String,
    rv: String,
    time: String,
    ip: String,
    index: String,
    volume: String,
    container_id: String,
}

/// SplitMix64: a fixed, well-spread sequence, so the same server start gives the same uids.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A version 4 UUID derived from `n`.
fn uuid(n: u64) -> String {
    crate::store::uuid_from_bits(mix(n), mix(n ^ 0x5bd1_e995))
}

/// `utilrand.String(5)`-shaped suffix derived from `n`.
fn suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = mix(n ^ 0x0123_4567);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// The namespace object and the pods of a bulk namespace whose objects get resourceVersions
/// `first_rv`, `first_rv + 1`, ... (the namespace first). Creation times are spread over up to
/// a day before the cluster clock, one pod every `86400 / count` seconds (at least 1 s), in
/// name order, as if created by a loop.
pub fn generate(
    cluster: &Cluster,
    spec: &BulkPods,
    first_rv: u64,
) -> Result<(Object, Vec<Object>)> {
    if spec.count > MAX_BULK_PODS {
        bail!(
            "at most {MAX_BULK_PODS} bulk pods are supported, not {}",
            spec.count
        );
    }
    if spec.namespace.is_empty() || spec.namespace == "demo" {
        bail!(
            "the bulk namespace must be a new namespace, not {:?}",
            spec.namespace
        );
    }
    let pods = cluster
        .recorded
        .get(&ResKey::new("", "pods"))
        .map(|v| v.as_slice())
        .unwrap_or_default();
    let templates = pods
        .iter()
        .filter(|p| p.namespace.as_deref() == Some("demo") && p.name.starts_with("demo-"))
        .map(Template::new)
        .collect::<Result<Vec<_>>>()?;
    if templates.is_empty() {
        bail!("no recorded demo pods to clone");
    }
    let step = (86_400 / spec.count.max(1) as i64).max(1);
    let n = spec.count as i64;
    let ns = namespace_object(
        cluster,
        &spec.namespace,
        first_rv,
        CLUSTER_NOW - (n + 1) * step,
    )?;
    let width = spec.count.to_string().len().max(5);
    let build = |i: usize| -> Result<Object> {
        let time = clock::format_rfc3339(CLUSTER_NOW - (n - i as i64 + 1) * step);
        let values = Values {
            name: format!("bulk-{i:0width$}"),
            namespace: &spec.namespace,
            uid: uuid(i as u64),
            rv: (first_rv + i as u64).to_string(),
            time,
            ip: format!("127.{}.{}.{}", 245 + i / 65_536, (i / 256) % 256, i % 256),
            index: i.to_string(),
            volume: format!("kube-api-access-{}", suffix(i as u64)),
            container_id: format!("containerd://{:016x}{:048x}", mix(i as u64), i),
        };
        let raw = templates[i % templates.len()].render(&values);
        Object::from_raw(&raw, "Pod", "v1")
    };
    // Decoding ~4 KB of JSON per pod is most of the cost: use both cores.
    let ids: Vec<usize> = (1..=spec.count).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let per = ids.len().div_ceil(threads).max(1);
    let objects = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(per)
            .map(|chunk| s.spawn(|| chunk.iter().map(|&i| build(i)).collect::<Result<Vec<_>>>()))
            .collect();
        let mut all = Vec::with_capacity(spec.count);
        for h in handles {
            match h.join() {
                Ok(part) => all.extend(part?),
                Err(_) => bail!("a bulk pod builder thread panicked"),
            }
        }
        Ok(all)
    })?;
    Ok((ns, objects))
}

/// The recorded `demo` Namespace, renamed.
fn namespace_object(cluster: &Cluster, name: &str, rv: u64, created: i64) -> Result<Object> {
    let Some(demo) = cluster
        .recorded
        .get(&ResKey::new("", "namespaces"))
        .and_then(|v| v.iter().find(|o| o.name == "demo"))
    else {
        bail!("the recorded namespace demo is missing");
    };
    let meta = &demo.value["metadata"];
    let time = meta["creationTimestamp"].as_str().unwrap_or_default();
    let uid = meta["uid"].as_str().unwrap_or_default();
    let raw = demo
        .full_raw
        .replacen(
            "\"name\":\"demo\"",
            &format!("\"name\":{}", crate::json::go_string(name)),
            1,
        )
        .replace(
            "\"kubernetes.io/metadata.name\":\"demo\"",
            &format!(
                "\"kubernetes.io/metadata.name\":{}",
                crate::json::go_string(name)
            ),
        )
        .replacen(uid, &uuid(u64::MAX), 1)
        .replacen(
            &format!("\"resourceVersion\":\"{}\"", demo.resource_version),
            &format!("\"resourceVersion\":\"{rv}\""),
            1,
        )
        .replace(time, &clock::format_rfc3339(created));
    Object::from_raw(&raw, "Namespace", "v1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn clones_differ_only_in_their_own_values_and_stay_real_pods() {
        let cluster = Cluster::load().unwrap();
        let (ns, pods) = generate(&cluster, &BulkPods::new(120), 9000).unwrap();
        assert_eq!(ns.name, "bulk");
        assert_eq!(ns.resource_version, "9000");
        assert_eq!(
            ns.value
                .pointer("/metadata/labels/kubernetes.io~1metadata.name"),
            Some(&"bulk".into())
        );
        assert_eq!(pods.len(), 120);
        assert_eq!(pods[0].name, "bulk-00001");
        assert_eq!(pods[119].name, "bulk-00120");
        let distinct =
            |f: &dyn Fn(&Object) -> String| pods.iter().map(f).collect::<HashSet<_>>().len();
        assert_eq!(distinct(&|o| o.value["metadata"]["uid"].to_string()), 120);
        assert_eq!(distinct(&|o| o.resource_version.clone()), 120);
        assert_eq!(
            distinct(&|o| o.value["metadata"]["creationTimestamp"].to_string()),
            120
        );
        let p = &pods[0]; // a clone of demo-00001 (Running on node-2)
        assert_eq!(p.key, "bulk/bulk-00001");
        assert_eq!(p.resource_version, "9001");
        assert_eq!(p.value["metadata"]["labels"]["index"], "1");
        assert_eq!(p.value["metadata"]["labels"]["tier"], "api");
        assert_eq!(p.value["status"]["podIP"], "127.245.0.1");
        assert_eq!(p.value["status"]["podIPs"][0]["ip"], "127.245.0.1");
        assert_eq!(p.value["spec"]["containers"][0]["env"][0]["value"], "1");
        assert!(p.item_raw.contains(r#"k:{\"ip\":\"127.245.0.1\"}"#));
        assert!(!p.item_raw.contains("demo"));
        let created = p.value["metadata"]["creationTimestamp"].as_str().unwrap();
        assert_eq!(p.value["status"]["startTime"], created);
        let vol = p.value["spec"]["volumes"][0]["name"].as_str().unwrap();
        assert_eq!(
            p.value["spec"]["containers"][0]["volumeMounts"][0]["name"],
            vol
        );
        assert!(pods[4].value["status"]["phase"] == "Pending");
        assert!(pods[4].value["status"].get("podIP").is_none());
        // Same length as the recorded pod, give or take the replaced values.
        let demo = &cluster.recorded[&ResKey::new("", "pods")]
            .iter()
            .find(|o| o.name == "demo-00001")
            .unwrap()
            .item_raw;
        assert!(p.item_raw.len().abs_diff(demo.len()) < 20);
        assert!(generate(&cluster, &BulkPods::new(MAX_BULK_PODS + 1), 1).is_err());
    }
}
