//! The fake cluster's state: objects by resource, the cluster resourceVersion, and a bounded
//! history of watch events (the etcd + watch cache of a real API server, in one `Mutex`).
//!
//! It starts with the recorded objects at the recorded list's resourceVersion (8384). The
//! recorded watch (`watch-pods-demo.http`: pod `watch-demo` created, labelled, deleted at
//! 8394..8399) is seeded as history and applied, so the state after it equals the recorded
//! lists and a watch from 8384 replays it. While nothing else has changed, reads still report
//! 8384 (*pinned*): the state at 8384 and at 8399 are the same, and reporting 8384 keeps every
//! recorded list byte-identical. The first write (8400) or a compaction unpins it.
//!
//! Every write is one [`Event`] with the object before and after, so watches can apply
//! selectors the way the cacher does, and lists at an older resourceVersion (continue tokens,
//! `resourceVersionMatch=Exact`) are answered by undoing newer events. Events older than the
//! history window, or than [`Store::compact`], are gone: watches and lists from before then
//! get 410 Expired.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use tokio::sync::watch;

use crate::clock::CLUSTER_NOW;
use crate::cluster::{Cluster, Object};

/// How far back a watch may start when the store is fresh: the recorded cluster's history is
/// unknown, so the window reaches 100 resource versions before the recorded list, as a watch
/// cache of a quiet cluster would.
pub const INITIAL_WINDOW: u64 = 100;

/// Group and resource: objects are stored per resource, whatever version serves them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResKey {
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource name.
    pub resource: String,
}

impl ResKey {
    /// A key from its parts.
    pub fn new(group: &str, resource: &str) -> ResKey {
        ResKey {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to the store.
#[derive(Debug)]
pub struct Event {
    /// The resourceVersion the change got.
    pub rv: u64,
    /// Which resource changed.
    pub res: ResKey,
    /// What happened.
    pub event_type: EventType,
    /// The object after the change (for `Deleted`: its last state, at the delete's version).
    pub object: Arc<Object>,
    /// The object before the change (`None` for `Added`).
    pub prev: Option<Arc<Object>>,
    /// The event line as recorded, for recorded events (replayed byte for byte).
    pub recorded_line: Option<String>,
    /// Recorded events are replayed `watch_event_interval` apart, as if happening live.
    pub paced: bool,
}

/// Objects, resourceVersion and event history.
pub struct Store {
    objects: HashMap<ResKey, BTreeMap<String, Arc<Object>>>,
    /// The resourceVersion of the last change.
    rv: u64,
    /// What reads report while the state is the recorded one.
    pinned: Option<u64>,
    /// New watches and lists may not start before this (compaction).
    compacted: u64,
    /// The resourceVersion of the newest event dropped from the window.
    evicted: u64,
    history: VecDeque<Arc<Event>>,
    capacity: usize,
    started: Instant,
    changes: watch::Sender<u64>,
}

impl Store {
    /// The recorded state, with the recorded watch applied as history.
    pub fn new(cluster: &Cluster, capacity: usize, expire_below: Option<u64>) -> Result<Store> {
        let recorded_rv = cluster.recorded_rv;
        let mut store = Store {
            objects: HashMap::new(),
            rv: recorded_rv,
            pinned: Some(recorded_rv),
            compacted: recorded_rv.saturating_sub(INITIAL_WINDOW),
            evicted: 0,
            history: VecDeque::new(),
            capacity: capacity.max(1),
            started: Instant::now(),
            changes: watch::channel(recorded_rv).0,
        };
        for (res, items) in &cluster.recorded {
            let map = store.objects.entry(res.clone()).or_default();
            for o in items {
                map.insert(o.key.clone(), Arc::new(o.clone()));
            }
        }
        let pods = ResKey::new("", "pods");
        for e in &cluster.recorded_events {
            let rv: u64 = e.object.resource_version.parse().map_err(|_| {
                anyhow!(
                    "recorded event without a numeric resourceVersion: {}",
                    e.raw_line
                )
            })?;
            let event_type = match e.event_type.as_str() {
                "ADDED" => EventType::Added,
                "MODIFIED" => EventType::Modified,
                "DELETED" => EventType::Deleted,
                // Bookmarks are generated per watch, not stored.
                _ => continue,
            };
            store.commit_at(
                rv,
                &pods,
                event_type,
                e.object.clone(),
                Some(e.raw_line.clone()),
                true,
            );
        }
        store.pinned = Some(recorded_rv);
        if let Some(below) = expire_below {
            store.compacted = store.compacted.max(below);
        }
        store.check_pin();
        Ok(store)
    }

    /// The resourceVersion reads report (pinned to the recorded one while nothing changed).
    pub fn current_rv(&self) -> u64 {
        self.pinned.unwrap_or(self.rv)
    }

    /// The resourceVersion of the last change.
    pub fn latest_rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a new watch or list may start from.
    pub fn floor(&self) -> u64 {
        self.compacted.max(self.evicted)
    }

    /// One stored object by key (`namespace/name` or `name`).
    pub fn get(&self, res: &ResKey, key: &str) -> Option<Arc<Object>> {
        self.objects.get(res)?.get(key).cloned()
    }

    /// All objects of a resource, ordered by key (etcd's order).
    pub fn items(&self, res: &ResKey) -> Vec<Arc<Object>> {
        self.objects
            .get(res)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The objects of a resource as they were at `rv`, by undoing newer events; `Err(floor)`
    /// when `rv` is older than the history reaches.
    pub fn items_at(&self, res: &ResKey, rv: u64) -> Result<Vec<Arc<Object>>, u64> {
        if rv < self.floor() {
            return Err(self.floor());
        }
        let mut map = self.objects.get(res).cloned().unwrap_or_default();
        for e in self.history.iter().rev().take_while(|e| e.rv > rv) {
            if e.res != *res {
                continue;
            }
            match (e.event_type, &e.prev) {
                (EventType::Added, _) => {
                    map.remove(&e.object.key);
                }
                (_, Some(prev)) => {
                    map.insert(prev.key.clone(), prev.clone());
                }
                (_, None) => {}
            }
        }
        Ok(map.into_values().collect())
    }

    /// Events after `rv` (every resource), oldest first; `Err(())` when some of them have
    /// already left the window.
    pub fn events_after(&self, rv: u64) -> Result<Vec<Arc<Event>>, ()> {
        if rv < self.evicted {
            return Err(());
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Ok(self.history.range(start..).cloned().collect())
    }

    /// The resourceVersion the next change will get.
    pub fn next_rv(&self) -> u64 {
        self.rv + 1
    }

    /// Records a change made at [`Store::next_rv`]: stores or removes the object, appends the
    /// event to the history and wakes the watches. `object` must already carry the new
    /// resourceVersion.
    pub fn commit(&mut self, res: &ResKey, event_type: EventType, object: Object) -> Arc<Event> {
        let rv = self.next_rv();
        let e = self.commit_at(rv, res, event_type, object, None, false);
        self.pinned = None;
        e
    }

    fn commit_at(
        &mut self,
        rv: u64,
        res: &ResKey,
        event_type: EventType,
        object: Object,
        recorded_line: Option<String>,
        paced: bool,
    ) -> Arc<Event> {
        let object = Arc::new(object);
        let map = self.objects.entry(res.clone()).or_default();
        let prev = match event_type {
            EventType::Deleted => map.remove(&object.key),
            _ => map.insert(object.key.clone(), object.clone()),
        };
        let event = Arc::new(Event {
            rv,
            res: res.clone(),
            event_type,
            object,
            prev,
            recorded_line,
            paced,
        });
        self.rv = self.rv.max(rv);
        self.history.push_back(event.clone());
        while self.history.len() > self.capacity {
            if let Some(old) = self.history.pop_front() {
                self.evicted = old.rv;
            }
        }
        self.changes.send_replace(self.rv);
        event
    }

    /// Adds objects created before the server started, outside the history: as if they were
    /// created at their own resourceVersions up to `rv` and then etcd was compacted. The
    /// state is no longer the recorded one, so reads report `rv`, and watches or lists from
    /// before it get 410 Expired (they would otherwise miss the creations).
    pub fn preload(&mut self, rv: u64, objects: Vec<(ResKey, Object)>) {
        for (res, o) in objects {
            let map = self.objects.entry(res).or_default();
            map.insert(o.key.clone(), Arc::new(o));
        }
        self.rv = self.rv.max(rv);
        self.compacted = self.rv;
        self.pinned = None;
        self.changes.send_replace(self.rv);
    }

    /// Forgets all history: watches and lists from any resourceVersion before now get 410
    /// Expired (a client must relist). Watches already open keep streaming.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
        self.pinned = None;
    }

    /// Watches wait on this for new events.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The cluster clock: the recording's capture time plus the time this server has run.
    pub fn now(&self) -> (i64, u32) {
        let elapsed = self.started.elapsed();
        (
            CLUSTER_NOW + elapsed.as_secs() as i64,
            elapsed.subsec_nanos(),
        )
    }

    /// A pinned version below the floor would send clients into a relist loop (list at 8384,
    /// watch from 8384, 410, list at 8384, ...): report the real version then.
    fn check_pin(&mut self) {
        if self.pinned.is_some_and(|p| p < self.floor()) {
            self.pinned = None;
        }
    }

    /// How many events the window holds (tests).
    #[cfg(test)]
    pub fn history_len(&self) -> usize {
        self.history.len()
    }
}

/// A random RFC 4122 version 4 UUID, the shape of `metadata.uid` and `Audit-Id`.
pub fn new_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut bits = [0u64; 2];
    for (i, b) in bits.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_usize(i);
        *b = h.finish();
    }
    uuid_from_bits(bits[0], bits[1])
}

/// A version 4 UUID (the variant and version bits set) from 128 bits.
pub fn uuid_from_bits(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// `n` characters from the alphabet of apimachinery's `utilrand.String` (generated names,
/// `kube-api-access-xxxxx` volumes).
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let uuid = new_uuid().replace('-', "");
    let mut seed = u128::from_str_radix(&uuid, 16).unwrap_or(7);
    (0..n)
        .map(|_| {
            let c = ALPHABET[(seed % ALPHABET.len() as u128) as usize] as char;
            seed /= ALPHABET.len() as u128;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(&Cluster::load().unwrap(), 1000, None).unwrap()
    }

    fn pod(name: &str, rv: u64) -> Object {
        Object::from_raw(
            &format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"demo","resourceVersion":"{rv}"}}}}"#
            ),
            "Pod",
            "v1",
        )
        .unwrap()
    }

    #[test]
    fn fresh_store_reports_the_recorded_version_and_holds_the_recorded_watch() {
        let s = store();
        assert_eq!(s.current_rv(), 8384);
        assert_eq!(s.latest_rv(), 8399);
        assert_eq!(s.floor(), 8284);
        let pods = ResKey::new("", "pods");
        assert_eq!(s.items(&pods).len(), 50);
        let replay = s.events_after(8384).unwrap();
        assert_eq!(replay.len(), 5);
        assert!(replay.iter().all(|e| e.paced && e.recorded_line.is_some()));
        // At 8396 the watch-demo pod existed.
        let at = s.items_at(&pods, 8396).unwrap();
        assert!(at.iter().any(|o| o.name == "watch-demo"));
        assert_eq!(s.items_at(&pods, 1).err(), Some(8284));
    }

    #[test]
    fn commit_bumps_the_version_unpins_and_wakes_watchers() {
        let mut s = store();
        let mut rx = s.subscribe();
        let pods = ResKey::new("", "pods");
        let e = s.commit(&pods, EventType::Added, pod("new", 8400));
        assert_eq!((e.rv, s.current_rv()), (8400, 8400));
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 8400);
        assert!(s.get(&pods, "demo/new").is_some());
        let before = s.items_at(&pods, 8399).unwrap();
        assert!(!before.iter().any(|o| o.name == "new"));
    }

    #[test]
    fn history_window_and_compaction_raise_the_floor() {
        let cluster = Cluster::load().unwrap();
        let mut s = Store::new(&cluster, 3, None).unwrap();
        // Five recorded events in a window of three: the first two are gone.
        assert_eq!(s.history_len(), 3);
        assert_eq!(s.floor(), 8396);
        assert!(s.events_after(8394).is_err());
        assert_eq!(s.current_rv(), 8399, "a pin below the floor is dropped");
        s.compact();
        assert_eq!(s.floor(), 8399);
        let expired = Store::new(&cluster, 1000, Some(8390)).unwrap();
        assert_eq!(expired.floor(), 8390);
        assert_eq!(expired.current_rv(), 8399);
    }
}
