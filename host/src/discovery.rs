//! The host's cache of API discovery responses.
//!
//! A guest resolves `po` or `deploy` through discovery (`GET /api`, `/apis`, and for the
//! v1 fallback `/api/v1`, `/apis/GROUP/VERSION`) before nearly every command. kubectl
//! keeps those answers in `~/.kube/cache/discovery` for six hours; the host does the same,
//! transparently: the guest sends the same GETs and gets the same bytes, and still goes
//! through the policy and the audit log. Caching in the host (rather than giving the guest
//! a writable directory) keeps the guest without a filesystem and shares the cache between
//! guests.
//!
//! A guest that needs fresh data (it met a type the cached answer does not know, as
//! kubectl does before re-discovering) sends `Cache-Control: no-cache`; the host then asks
//! the server and replaces the entry.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cache::{self, CacheKey};

/// How long a discovery answer is used, as kubectl's discovery cache.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(6 * 3600);

/// Largest discovery body the host caches (real ones are tens of KiB).
pub const MAX_CACHED_BODY: usize = 8 << 20;

/// A cached discovery response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedResponse {
    /// The response's `Content-Type`.
    pub content_type: String,
    /// The body as the server sent it.
    pub body: Vec<u8>,
}

/// Discovery answers of one API server, under `discovery/<hash of the server URL>/`.
/// Entries are sealed with the root's [`CacheKey`] like compiled components, so an answer
/// this host did not write is never handed to a guest.
#[derive(Clone, Debug)]
pub struct DiscoveryCache {
    dir: PathBuf,
    ttl: Duration,
    /// `None` when the root cannot be used (reported once, at `warn` level): then
    /// nothing is cached.
    key: Option<CacheKey>,
}

impl DiscoveryCache {
    /// The cache for `server` under the cache root `root`.
    pub fn new(root: &Path, server: &str) -> Self {
        let key = CacheKey::open(root)
            .inspect_err(|e| tracing::warn!("not caching discovery answers: {e:#}"))
            .ok();
        Self::with_key(root, server, key)
    }

    /// The cache for `server` under `root`, whose key the caller has already opened with
    /// [`CacheKey::open`] (`None`: the root cannot be used, so nothing is cached).
    pub fn with_key(root: &Path, server: &str, key: Option<CacheKey>) -> Self {
        let server_key = cache::hex(&blake3::hash(server.as_bytes()).as_bytes()[..12]);
        Self {
            dir: root.join("discovery").join(server_key),
            ttl: DISCOVERY_TTL,
            key,
        }
    }

    /// Whether a request is a discovery GET the cache may answer: `/api`, `/apis`,
    /// `/api/VERSION`, `/apis/GROUP` or `/apis/GROUP/VERSION`, without a query.
    pub fn is_discovery(method: &str, path_and_query: &str) -> bool {
        if method != "GET" || path_and_query.contains('?') {
            return false;
        }
        let segments: Vec<&str> = path_and_query.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["api"] | ["apis"] => true,
            ["api", version] => !version.is_empty(),
            ["apis", group] => !group.is_empty(),
            ["apis", group, version] => !group.is_empty() && !version.is_empty(),
            _ => false,
        }
    }

    /// The fresh cached answer to `path` asked with `accept`, if there is one.
    pub fn get(&self, path: &str, accept: &str) -> Option<CachedResponse> {
        let key = self.key.as_ref()?;
        let (name, file) = self.file(path, accept);
        let age = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())?;
        if age > self.ttl || cache::trusted_dir(&self.dir).is_err() {
            return None;
        }
        let sealed = std::fs::read(&file).ok()?;
        let Some(bytes) = key.open_sealed(&name, &sealed) else {
            tracing::warn!("ignoring cached discovery answer {file:?}: this host did not write it");
            return None;
        };
        let newline = bytes.iter().position(|&b| b == b'\n')?;
        Some(CachedResponse {
            content_type: String::from_utf8(bytes[..newline].to_vec()).ok()?,
            body: bytes[newline + 1..].to_vec(),
        })
    }

    /// Stores the answer to `path` asked with `accept`. Failing to cache only costs a
    /// request next time, so errors are logged, not returned.
    pub fn put(&self, path: &str, accept: &str, response: &CachedResponse) {
        let Some(key) = &self.key else { return };
        if response.body.len() > MAX_CACHED_BODY || response.content_type.contains('\n') {
            return;
        }
        let mut bytes = Vec::with_capacity(response.content_type.len() + 1 + response.body.len());
        bytes.extend_from_slice(response.content_type.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&response.body);
        let (name, file) = self.file(path, accept);
        if let Err(e) = cache::write_atomic(&self.dir, &file, &key.seal(&name, bytes)) {
            tracing::warn!("could not cache discovery response for {path}: {e:#}");
        }
    }

    /// The entry's name (sealed with it: it names the server, path and accept) and file.
    fn file(&self, path: &str, accept: &str) -> (String, PathBuf) {
        let mut hasher = blake3::Hasher::new();
        hasher.update(path.as_bytes());
        hasher.update(b"\n");
        hasher.update(accept.as_bytes());
        let file = self
            .dir
            .join(cache::hex(&hasher.finalize().as_bytes()[..16]));
        (file.display().to_string(), file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_discovery_paths_only() {
        for path in ["/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1"] {
            assert!(DiscoveryCache::is_discovery("GET", path), "{path}");
        }
        for path in [
            "/api/v1/pods",
            "/apis/apps/v1/deployments",
            "/api?timeout=32s",
            "/version",
            "/apis/",
        ] {
            assert!(!DiscoveryCache::is_discovery("GET", path), "{path}");
        }
        assert!(!DiscoveryCache::is_discovery("POST", "/api"));
    }

    #[test]
    fn cached_answer_is_keyed_by_path_and_accept() {
        let root = tempfile::tempdir().unwrap();
        let cache = DiscoveryCache::new(root.path(), "https://10.0.0.1:443");
        let v2 = CachedResponse {
            content_type: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
                .into(),
            body: br#"{"kind":"APIGroupDiscoveryList"}"#.to_vec(),
        };
        cache.put("/apis", "v2-accept", &v2);
        assert_eq!(cache.get("/apis", "v2-accept"), Some(v2));
        assert_eq!(cache.get("/apis", "application/json"), None);
        assert_eq!(cache.get("/api", "v2-accept"), None);
        let other = DiscoveryCache::new(root.path(), "https://10.0.0.2:443");
        assert_eq!(other.get("/apis", "v2-accept"), None);
    }

    #[test]
    fn an_answer_this_host_did_not_write_is_not_used() {
        let root = tempfile::tempdir().unwrap();
        let cache = DiscoveryCache::new(root.path(), "https://x");
        let response = CachedResponse {
            content_type: "application/json".into(),
            body: br#"{"kind":"APIGroupList"}"#.to_vec(),
        };
        cache.put("/apis", "a", &response);
        let (_, file) = cache.file("/apis", "a");
        let mut planted = std::fs::read(&file).unwrap();
        planted[20] ^= 1;
        std::fs::write(&file, planted).unwrap();
        assert_eq!(cache.get("/apis", "a"), None);
        // Moved under another request's name: refused too.
        cache.put("/apis", "a", &response);
        let (_, other) = cache.file("/api", "a");
        std::fs::copy(&file, &other).unwrap();
        assert_eq!(cache.get("/api", "a"), None);
        assert_eq!(cache.get("/apis", "a"), Some(response));
    }

    #[test]
    fn expired_answers_are_not_used() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = DiscoveryCache::new(root.path(), "https://x");
        let response = CachedResponse {
            content_type: "application/json".into(),
            body: b"{}".to_vec(),
        };
        cache.put("/api", "a", &response);
        cache.ttl = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(cache.get("/api", "a"), None);
    }
}
