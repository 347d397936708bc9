//! The host's on-disk cache: compiled components (`components/`) and API discovery
//! responses (`discovery/`).
//!
//! A compiled component is native code the host maps and runs, so a file here must never
//! be loaded unless this host wrote it:
//! - the cache trusts only a directory that this user owns and nobody else can write to,
//!   at an absolute path (never one relative to the current directory);
//! - every entry is sealed with a keyed BLAKE3 hash (a MAC) over its name and bytes,
//!   keyed by 32 random bytes in `<root>/key` (mode 0600), and an entry whose tag does
//!   not match is ignored and rewritten. A file planted by someone without the key, or
//!   an entry copied under another entry's name, is never loaded. Small entries
//!   (discovery) end with their seal; a compiled component keeps it in a file beside it
//!   (`NAME.seal`), so that the component itself is exactly what wasmtime maps from
//!   disk ([`SealedFile`]);
//! - the host refuses to grant a guest any directory that contains or lies inside the
//!   cache (see [`crate::trusted`]), so no guest can read the key;
//! - files are written atomically (temporary file + rename).
//!
//! Checking a seal reads the whole entry (38 MB for a script runtime), so an entry
//! whose seal checked out is also *stamped* ([`FileStamp`]): its seal file then carries
//! a second keyed hash over the content tag and the entry's identity as the kernel keeps
//! it (device, inode, size, mtime and ctime, which no unprivileged process can set
//! back). A later load whose entry still has that identity skips the read. Rewriting or
//! replacing the entry changes its ctime or inode, and the full check runs again. As
//! git and ccache do, only a file untouched for [`SETTLED`] is stamped, so that a write
//! within the filesystem's timestamp granularity cannot go unseen. Guests (hashed to
//! find their entry) are remembered the same way, in `digests/` ([`CacheKey::digest_of`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The cache root: `$KUBEWASM_CACHE_DIR`, else `$XDG_CACHE_HOME/kubewasm`, else
/// `~/.cache/kubewasm`. `Ok(None)` when none can be found (no absolute `HOME`), in which
/// case nothing is cached. A relative `KUBEWASM_CACHE_DIR` is an error; a relative
/// `XDG_CACHE_HOME` is ignored, as the XDG base directory specification says.
pub fn default_root() -> anyhow::Result<Option<PathBuf>> {
    if let Some(dir) = std::env::var_os("KUBEWASM_CACHE_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            bail!(
                "KUBEWASM_CACHE_DIR={dir:?} is a relative path; set an absolute one (the cache holds native code the host runs, so it must not depend on the current directory)"
            );
        }
        return Ok(Some(dir));
    }
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    if let Some(dir) = absolute("XDG_CACHE_HOME") {
        return Ok(Some(dir.join("kubewasm")));
    }
    Ok(absolute("HOME").map(|home| home.join(".cache").join("kubewasm")))
}

/// Entries this large are hashed on every core: two cores check a compiled script
/// runtime (38 MB) in about half the time. A smaller one (a 2.6 MB guest) is not worth
/// starting the thread pool for.
const PARALLEL_HASH_BYTES: usize = 16 << 20;

/// How long a file must have been left alone before its identity is stamped: far above
/// any filesystem's ctime granularity (a kernel tick; one or two seconds on old ones).
pub const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// A file's identity as the kernel keeps it: if any byte of the file is written, the
/// file truncated, linked or replaced, one of these changes (ctime cannot be set by an
/// unprivileged process). Read from an open file, so it is the file that is then read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The identity of the open `file`; `None` where there is no inode change time.
    #[cfg(unix)]
    pub fn of(file: &fs::File) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        Some(FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    /// The identity of the open `file`; `None` where there is no inode change time.
    #[cfg(not(unix))]
    pub fn of(_file: &fs::File) -> Option<FileStamp> {
        None
    }

    /// Whether the file was last changed at least [`SETTLED`] before `now` (a change
    /// time in the future, after the clock was set back, is not settled).
    pub fn settled(&self, now: std::time::SystemTime) -> bool {
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let changed = std::time::Duration::new(
            u64::try_from(self.ctime.0).unwrap_or(u64::MAX),
            u32::try_from(self.ctime.1).unwrap_or(0),
        );
        now.checked_sub(changed).is_some_and(|age| age >= SETTLED)
    }

    fn bytes(&self) -> [u8; 56] {
        let mut out = [0u8; 56];
        let fields = [
            self.dev,
            self.ino,
            self.size,
            self.mtime.0 as u64,
            self.mtime.1 as u64,
            self.ctime.0 as u64,
            self.ctime.1 as u64,
        ];
        for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        out
    }
}

/// The length of an entry's seal (a keyed BLAKE3 hash).
const SEAL_LEN: usize = blake3::OUT_LEN;
/// The length of a seal followed by its stamp ([`FileStamp`]).
const STAMPED_SEAL_LEN: usize = 2 * SEAL_LEN;

/// The key that seals a cache's entries, kept in `<root>/key`. A seal is a keyed BLAKE3
/// hash (a MAC, as HMAC-SHA256 is, and four times faster here: a warm run checks a
/// 2.6 MB entry in 0.55 ms instead of 2.2 ms).
#[derive(Clone)]
pub struct CacheKey([u8; blake3::KEY_LEN]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

impl CacheKey {
    /// Reads the key of the cache at `root`, creating the directory and a new random key
    /// if there is none. Fails if the directory or the key file could be changed by
    /// another user, or the key file is not one this host wrote.
    pub fn open(root: &Path) -> anyhow::Result<CacheKey> {
        trusted_dir(root)?;
        let path = root.join("key");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(root, &path)?,
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read the cache key {path:?}"));
            }
        };
        check_private_file(&path)?;
        let bytes = if bytes.len() == blake3::KEY_LEN {
            bytes
        } else {
            // Torn by a crash (it is not synced): a new key, which only costs every
            // entry a rewrite.
            fs::remove_file(&path)
                .with_context(|| format!("failed to replace the damaged cache key {path:?}"))?;
            create_key(root, &path)?
        };
        let mut key = [0u8; blake3::KEY_LEN];
        key.copy_from_slice(&bytes);
        Ok(CacheKey(key))
    }

    /// A keyed hasher that has taken the entry's `name`: the bytes come next.
    fn hasher(&self, name: &str) -> blake3::Hasher {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"kubewasm-cache-v2\0");
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher
    }

    fn tag(&self, name: &str, bytes: &[u8]) -> blake3::Hash {
        let mut hasher = self.hasher(name);
        hasher.update(bytes);
        hasher.finalize()
    }

    /// The keyed hash that vouches for `content` (a seal or a digest) of the file `name`
    /// while the file keeps the identity `stamp`.
    fn stamp_tag(&self, kind: &str, name: &str, stamp: &FileStamp, content: &[u8]) -> blake3::Hash {
        let mut hasher = self.hasher(name);
        hasher.update(b"\0stamp\0");
        hasher.update(kind.as_bytes());
        hasher.update(b"\0");
        hasher.update(&stamp.bytes());
        hasher.update(content);
        hasher.finalize()
    }

    /// Opens the entry `name` at `path`, sealed in the file beside it
    /// ([`seal_path`]), and checks the seal over the file's bytes as mapped, unless the
    /// seal file also carries this key's stamp of the file's present identity
    /// ([`FileStamp`]); a settled entry that had none gets one. `Ok(None)`: there is no
    /// entry (the file or its seal is missing). An error: the entry is there but must
    /// not be loaded (its seal does not match, or it cannot be read).
    pub fn open_sealed_file(&self, name: &str, path: &Path) -> anyhow::Result<Option<SealedFile>> {
        self.open_sealed_file_at(name, path, std::time::SystemTime::now())
    }

    /// [`CacheKey::open_sealed_file`] at the time `now`.
    fn open_sealed_file_at(
        &self,
        name: &str,
        path: &Path,
        now: std::time::SystemTime,
    ) -> anyhow::Result<Option<SealedFile>> {
        let not_found = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("failed to open {path:?}")),
        };
        let seal_file = seal_path(path);
        let seal = match fs::read(&seal_file) {
            Ok(seal) => seal,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("failed to read {seal_file:?}")),
        };
        let stamp = FileStamp::of(&file);
        let sealed_file = SealedFile {
            file,
            map: std::sync::OnceLock::new(),
        };
        let (tag, stamped) = match seal.len() {
            SEAL_LEN => (seal.as_slice(), None),
            STAMPED_SEAL_LEN => (&seal[..SEAL_LEN], Some(&seal[SEAL_LEN..])),
            _ => bail!("its seal does not match, so this host did not write it"),
        };
        // `blake3::Hash` compares in constant time.
        if let (Some(stamp), Some(stamped)) = (&stamp, stamped)
            && let Ok(stamped) = <[u8; SEAL_LEN]>::try_from(stamped)
            && self.stamp_tag("entry", name, stamp, tag) == stamped
        {
            // Checked by identity: a loader maps the file itself, so nothing is mapped here.
            return Ok(Some(sealed_file));
        }
        let map = sealed_file
            .bytes()
            .with_context(|| format!("failed to map {path:?}"))?;
        let mut hasher = self.hasher(name);
        if map.len() >= PARALLEL_HASH_BYTES {
            hasher.update_rayon(map);
        } else {
            hasher.update(map);
        }
        let sealed = <[u8; SEAL_LEN]>::try_from(tag).is_ok_and(|tag| hasher.finalize() == tag);
        if !sealed {
            bail!("its seal does not match, so this host did not write it");
        }
        if let Some(stamp) = stamp.filter(|stamp| stamp.settled(now)) {
            let mut stamped = tag.to_vec();
            stamped.extend_from_slice(self.stamp_tag("entry", name, &stamp, tag).as_bytes());
            if let Some(dir) = seal_file.parent()
                && let Err(e) = write_atomic(dir, &seal_file, &stamped)
            {
                tracing::debug!("could not stamp the cache entry {path:?}: {e:#}");
            }
        }
        Ok(Some(sealed_file))
    }

    /// The BLAKE3 hash of the open `file` (read from `path`), remembered under the cache
    /// `root` in `digests/` by the file's identity: a file with the identity it had
    /// when it was hashed is not read again ([`FileStamp`]). `head`: the bytes already
    /// read from the start of `file`.
    pub fn digest_of(
        &self,
        root: &Path,
        path: &Path,
        file: &mut fs::File,
        head: &[u8],
    ) -> std::io::Result<blake3::Hash> {
        self.digest_of_at(root, path, file, head, std::time::SystemTime::now())
    }

    /// [`CacheKey::digest_of`] at the time `now`.
    fn digest_of_at(
        &self,
        root: &Path,
        path: &Path,
        file: &mut fs::File,
        head: &[u8],
        now: std::time::SystemTime,
    ) -> std::io::Result<blake3::Hash> {
        let stamp = FileStamp::of(file);
        let dir = root.join("digests");
        // One memo per path (an editor that saves by rename reuses it).
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let name = blake3::hash(absolute.as_os_str().as_encoded_bytes())
            .to_hex()
            .to_string();
        let memo = dir.join(&name);
        if let Some(stamp) = &stamp
            && let Ok(saved) = fs::read(&memo)
            && saved.len() == 2 * SEAL_LEN
        {
            let (digest, stamped) = saved.split_at(SEAL_LEN);
            if let Ok(stamped) = <[u8; SEAL_LEN]>::try_from(stamped)
                && self.stamp_tag("digest", &name, stamp, digest) == stamped
                && let Ok(digest) = <[u8; SEAL_LEN]>::try_from(digest)
            {
                return Ok(blake3::Hash::from_bytes(digest));
            }
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(head);
        hasher.update_reader(file)?;
        let digest = hasher.finalize();
        if let Some(stamp) = stamp.filter(|stamp| stamp.settled(now)) {
            let mut saved = digest.as_bytes().to_vec();
            saved.extend_from_slice(
                self.stamp_tag("digest", &name, &stamp, digest.as_bytes())
                    .as_bytes(),
            );
            if let Err(e) = write_atomic(&dir, &memo, &saved) {
                tracing::debug!("could not remember the hash of {path:?}: {e:#}");
            }
        }
        Ok(digest)
    }

    /// Writes `bytes` as the entry `name` at `path` in the cache directory `dir`, and its
    /// seal beside it (each atomically; the seal last, so a reader never finds a seal
    /// for bytes that are not there yet).
    pub fn write_sealed_file(
        &self,
        dir: &Path,
        path: &Path,
        name: &str,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        write_atomic(dir, path, bytes)?;
        write_atomic(dir, &seal_path(path), self.tag(name, bytes).as_bytes())
    }

    /// `bytes` followed by their seal as the entry `name`.
    pub fn seal(&self, name: &str, mut bytes: Vec<u8>) -> Vec<u8> {
        let tag = self.tag(name, &bytes);
        bytes.extend_from_slice(tag.as_bytes());
        bytes
    }

    /// The contents of a sealed entry `name`, if its seal is this key's for this name.
    pub fn open_sealed<'a>(&self, name: &str, sealed: &'a [u8]) -> Option<&'a [u8]> {
        let split = sealed.len().checked_sub(SEAL_LEN)?;
        let (bytes, tag) = sealed.split_at(split);
        let tag: [u8; SEAL_LEN] = tag.try_into().ok()?;
        // `blake3::Hash` compares in constant time, so the comparison says nothing of the
        // right tag.
        (self.tag(name, bytes) == tag).then_some(bytes)
    }
}

/// The file that holds the seal of the entry at `path`: `path` with `.seal` appended.
pub fn seal_path(path: &Path) -> PathBuf {
    let mut seal = path.as_os_str().to_owned();
    seal.push(".seal");
    PathBuf::from(seal)
}

/// A cache entry whose seal checked out: the open file, and its bytes as mapped (the
/// bytes the seal was checked over, or mapped when first asked for if the entry was
/// checked by its stamp). A loader that maps the file again should map this open file
/// ([`SealedFile::file`]), not the path, which may name another file by then.
#[derive(Debug)]
pub struct SealedFile {
    file: fs::File,
    map: std::sync::OnceLock<memmap2::Mmap>,
}

impl SealedFile {
    /// The entry's bytes.
    pub fn bytes(&self) -> std::io::Result<&[u8]> {
        if let Some(map) = self.map.get() {
            return Ok(map);
        }
        // SAFETY: a private, read-only mapping. The cache's files are replaced by rename,
        // never rewritten in place, and only this user can write to the directory
        // (`trusted_dir`), so the bytes do not change under the mapping; a process of
        // this user that did so could as well write to this process's memory.
        let map = unsafe { memmap2::Mmap::map(&self.file) }?;
        Ok(self.map.get_or_init(|| map))
    }

    /// The open file the bytes were mapped from.
    pub fn file(&self) -> &fs::File {
        &self.file
    }
}

/// Creates `dir` (mode 0700) if needed and checks that only this user can write to it.
pub fn trusted_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        create_private_dir(dir)?;
    }
    check_private(dir)
}

/// Writes `bytes` to `target` inside the trusted directory `dir`, atomically and readable
/// only by this user. Not synced to disk: every entry can be made again, and one torn by
/// a crash fails its seal and is rewritten (an fsync cost a fresh pod ~40 ms).
pub fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    trusted_dir(dir)?;
    let (tmp, mut file) = tempfile_in(dir)?;
    file.write_all(bytes)
        .with_context(|| format!("failed to write {tmp:?}"))?;
    fs::rename(&tmp, target).with_context(|| format!("failed to move {tmp:?} to {target:?}"))?;
    Ok(())
}

/// Writes a new random key to `path` so that no reader ever sees a partial key: the
/// bytes go to a temporary file that is then hard-linked into place, which fails if
/// another process got there first (its key is then read and used).
fn create_key(root: &Path, path: &Path) -> anyhow::Result<Vec<u8>> {
    use ring::rand::SecureRandom;
    let mut key = vec![0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| anyhow::anyhow!("failed to generate a cache key"))?;
    let (tmp, mut file) = tempfile_in(root)?;
    let written = file
        .write_all(&key)
        .with_context(|| format!("failed to write {tmp:?}"));
    let linked = written.and_then(|()| {
        fs::hard_link(&tmp, path).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e).with_context(|| format!("failed to create the cache key {path:?}")),
        })
    });
    fs::remove_file(&tmp).ok();
    linked?;
    fs::read(path).with_context(|| format!("failed to read the cache key {path:?}"))
}

/// The effective user id of this process: who the cache's files must belong to.
#[cfg(unix)]
fn this_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(unix)]
fn check_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path).with_context(|| format!("failed to inspect {path:?}"))?;
    let uid = this_uid();
    if !meta.file_type().is_file() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        bail!(
            "the cache key {path:?} is not a private file of this user (it must be a regular file with mode 0600); remove the cache directory {:?}",
            path.parent().unwrap_or(path)
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_file(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Lowercase hex of the BLAKE3 hash of `bytes` (what `b3sum` prints): the content
/// address of a guest, which is hashed on every run (1 MB in 0.2 ms, a quarter of
/// SHA-256's time here).
pub fn digest_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Checks that native code may be loaded from the operator's `path` (a directory of
/// precompiled guests, or one of them): it exists, and neither it (symlinks resolved) nor
/// any directory above it can be changed by anyone but root or this user.
#[cfg(unix)]
pub fn check_operator_path(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let uid = this_uid();
    let canonical = fs::canonicalize(path).with_context(|| format!("{path:?} cannot be read"))?;
    for ancestor in canonical.ancestors() {
        let meta =
            fs::metadata(ancestor).with_context(|| format!("failed to inspect {ancestor:?}"))?;
        if meta.uid() != 0 && meta.uid() != uid {
            bail!(
                "{ancestor:?} belongs to another user (uid {}); keep precompiled guests where only root or this user can change them",
                meta.uid()
            );
        }
        // Sticky, world-writable directories such as /tmp cannot have entries replaced
        // by others, but the entry itself is checked at its own level.
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !(sticky && ancestor != canonical) {
            bail!(
                "{ancestor:?} is writable by other users (mode {:o}); run `chmod go-w {}`",
                meta.mode() & 0o7777,
                ancestor.display()
            );
        }
    }
    Ok(())
}

/// Checks that native code may be loaded from `path` (it exists).
#[cfg(not(unix))]
pub fn check_operator_path(path: &Path) -> anyhow::Result<()> {
    fs::metadata(path).with_context(|| format!("{path:?} cannot be read"))?;
    Ok(())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("failed to create cache directory {dir:?}"))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create cache directory {dir:?}"))
}

#[cfg(unix)]
fn check_private(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).with_context(|| format!("failed to inspect {dir:?}"))?;
    let uid = this_uid();
    if meta.uid() != uid {
        bail!(
            "cache directory {dir:?} belongs to another user (uid {})",
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "cache directory {dir:?} is writable by other users (mode {:o}); run `chmod go-w {}`",
            meta.mode() & 0o777,
            dir.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// A new file in `dir` with a unique name, created exclusively with mode 0600.
fn tempfile_in(dir: &Path) -> anyhow::Result<(PathBuf, fs::File)> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for attempt in 0..16u32 {
        let path = dir.join(format!(".tmp-{}-{nanos:x}-{attempt}", std::process::id()));
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("failed to create {path:?}")),
        }
    }
    bail!("failed to create a temporary file in {dir:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn refuses_a_cache_directory_others_can_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = trusted_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");
    }

    #[test]
    fn a_sealed_entry_opens_only_with_its_own_name_and_key() {
        let root = tempfile::tempdir().unwrap();
        let key = CacheKey::open(root.path()).unwrap();
        let sealed = key.seal("a.cwasm", b"native code".to_vec());
        assert_eq!(
            key.open_sealed("a.cwasm", &sealed),
            Some(&b"native code"[..])
        );
        // Copied under another entry's name: refused.
        assert_eq!(key.open_sealed("b.cwasm", &sealed), None);
        // Changed by one bit, or cut short: refused.
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert_eq!(key.open_sealed("a.cwasm", &flipped), None);
        assert_eq!(key.open_sealed("a.cwasm", &sealed[..10]), None);
        // A file written without the key (what a planted artifact is): refused.
        assert_eq!(
            key.open_sealed("a.cwasm", b"native code plus 32 bytes of anything!!"),
            None
        );
        // The same key is read back by the next run; another cache has another key.
        let again = CacheKey::open(root.path()).unwrap();
        assert!(again.open_sealed("a.cwasm", &sealed).is_some());
        let other = tempfile::tempdir().unwrap();
        assert!(
            CacheKey::open(other.path())
                .unwrap()
                .open_sealed("a.cwasm", &sealed)
                .is_none()
        );
    }

    #[test]
    fn a_torn_key_is_replaced_and_old_entries_no_longer_open() {
        let root = tempfile::tempdir().unwrap();
        let sealed = CacheKey::open(root.path())
            .unwrap()
            .seal("a", b"x".to_vec());
        fs::write(root.path().join("key"), b"short").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(root.path().join("key"), fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        let key = CacheKey::open(root.path()).unwrap();
        assert_eq!(fs::read(root.path().join("key")).unwrap().len(), 32);
        assert_eq!(key.open_sealed("a", &sealed), None);
    }

    #[test]
    fn a_sealed_file_opens_only_with_its_seal_beside_it_for_its_own_name() {
        let root = tempfile::tempdir().unwrap();
        let key = CacheKey::open(root.path()).unwrap();
        let dir = root.path().join("components");
        let (a, b) = (dir.join("a.cwasm"), dir.join("b.cwasm"));
        assert!(key.open_sealed_file("a.cwasm", &a).unwrap().is_none());
        key.write_sealed_file(&dir, &a, "a.cwasm", b"native code")
            .unwrap();
        let opened = key.open_sealed_file("a.cwasm", &a).unwrap().unwrap();
        assert_eq!(opened.bytes().unwrap(), b"native code");
        // Under another name (the entry and its seal copied there): refused.
        fs::copy(&a, &b).unwrap();
        fs::copy(seal_path(&a), seal_path(&b)).unwrap();
        let err = key.open_sealed_file("b.cwasm", &b).unwrap_err();
        assert!(err.to_string().contains("seal does not match"), "{err}");
        // Bytes changed after sealing: refused.
        fs::write(&a, b"native codf").unwrap();
        assert!(key.open_sealed_file("a.cwasm", &a).is_err());
        // A seal of the wrong length: refused. No seal: no entry.
        fs::write(seal_path(&b), b"short").unwrap();
        assert!(key.open_sealed_file("b.cwasm", &b).is_err());
        fs::remove_file(seal_path(&b)).unwrap();
        assert!(key.open_sealed_file("b.cwasm", &b).unwrap().is_none());
    }

    #[cfg(unix)]
    /// A time at which every file just written counts as settled.
    fn later() -> std::time::SystemTime {
        std::time::SystemTime::now() + SETTLED + std::time::Duration::from_secs(1)
    }

    /// Waits until a change made now gets a change time other than `path`'s present one
    /// (the kernel's timestamps advance by ticks).
    fn next_tick(path: &Path) {
        let file = fs::File::open(path).unwrap();
        let before = FileStamp::of(&file).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_eq!(FileStamp::of(&file).unwrap(), before);
    }

    #[cfg(unix)]
    #[test]
    fn a_settled_entry_is_stamped_and_a_change_to_it_is_still_caught() {
        let root = tempfile::tempdir().unwrap();
        let key = CacheKey::open(root.path()).unwrap();
        let dir = root.path().join("components");
        let (a, b) = (dir.join("a.cwasm"), dir.join("b.cwasm"));
        key.write_sealed_file(&dir, &a, "a.cwasm", b"native code")
            .unwrap();
        // Just written: not stamped (a write in the same tick could go unseen).
        key.open_sealed_file("a.cwasm", &a).unwrap().unwrap();
        assert_eq!(fs::read(seal_path(&a)).unwrap().len(), SEAL_LEN);
        // Settled: stamped, and it opens by its stamp.
        key.open_sealed_file_at("a.cwasm", &a, later())
            .unwrap()
            .unwrap();
        assert_eq!(fs::read(seal_path(&a)).unwrap().len(), STAMPED_SEAL_LEN);
        let opened = key.open_sealed_file("a.cwasm", &a).unwrap().unwrap();
        assert_eq!(opened.bytes().unwrap(), b"native code");
        // Linked under another name with its stamped seal: refused.
        fs::hard_link(&a, &b).unwrap();
        fs::copy(seal_path(&a), seal_path(&b)).unwrap();
        assert!(key.open_sealed_file("b.cwasm", &b).is_err());
        // Rewritten in place, same length: its identity moved, so it is read and
        // refused.
        next_tick(&a);
        fs::write(&a, b"native codf").unwrap();
        let err = key.open_sealed_file("a.cwasm", &a).unwrap_err();
        assert!(err.to_string().contains("seal does not match"), "{err}");
        // A stamp of its present identity made with another key is no stamp.
        let other = tempfile::tempdir().unwrap();
        let other_key = CacheKey::open(other.path()).unwrap();
        let tag = fs::read(seal_path(&a)).unwrap()[..SEAL_LEN].to_vec();
        let stamp = FileStamp::of(&fs::File::open(&a).unwrap()).unwrap();
        let mut forged = tag.clone();
        forged.extend_from_slice(
            other_key
                .stamp_tag("entry", "a.cwasm", &stamp, &tag)
                .as_bytes(),
        );
        fs::write(seal_path(&a), &forged).unwrap();
        assert!(key.open_sealed_file("a.cwasm", &a).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_guest_hash_is_remembered_until_the_file_changes() {
        let root = tempfile::tempdir().unwrap();
        let key = CacheKey::open(root.path()).unwrap();
        let guest = root.path().join("guest.wasm");
        fs::write(&guest, b"\0asm one").unwrap();
        let digest = |now| {
            let mut file = fs::File::open(&guest).unwrap();
            key.digest_of_at(root.path(), &guest, &mut file, b"", now)
                .unwrap()
        };
        let memos = || fs::read_dir(root.path().join("digests")).map_or(0, |d| d.count());
        assert_eq!(
            digest(std::time::SystemTime::now()),
            blake3::hash(b"\0asm one")
        );
        assert_eq!(memos(), 0, "a file just written is not remembered");
        assert_eq!(digest(later()), blake3::hash(b"\0asm one"));
        assert_eq!(memos(), 1);
        assert_eq!(digest(later()), blake3::hash(b"\0asm one"));
        // Rewritten in place with as many bytes: hashed again.
        next_tick(&guest);
        fs::write(&guest, b"\0asm two").unwrap();
        assert_eq!(digest(later()), blake3::hash(b"\0asm two"));
        // Replaced by another file: hashed again.
        let new = root.path().join("new.wasm");
        fs::write(&new, b"\0asm three").unwrap();
        fs::rename(&new, &guest).unwrap();
        assert_eq!(digest(later()), blake3::hash(b"\0asm three"));
        assert_eq!(memos(), 1, "one memo per path");
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        CacheKey::open(root.path()).unwrap();
        let key = root.path().join("key");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = CacheKey::open(root.path()).unwrap_err();
        assert!(err.to_string().contains("not a private file"), "{err}");
    }

    #[test]
    fn no_cache_at_a_relative_path() {
        // Run in one test: the environment is process-wide.
        let saved: Vec<_> = ["KUBEWASM_CACHE_DIR", "XDG_CACHE_HOME", "HOME"]
            .map(|v| (v, std::env::var_os(v)))
            .into();
        // SAFETY: no other test in this crate reads these variables.
        unsafe {
            std::env::set_var("KUBEWASM_CACHE_DIR", "rel/cache");
            let err = default_root().unwrap_err();
            assert!(err.to_string().contains("relative path"), "{err}");
            std::env::remove_var("KUBEWASM_CACHE_DIR");
            std::env::set_var("XDG_CACHE_HOME", "rel");
            std::env::set_var("HOME", "");
            assert_eq!(default_root().unwrap(), None);
            std::env::set_var("HOME", "/home/me");
            assert_eq!(
                default_root().unwrap(),
                Some(PathBuf::from("/home/me/.cache/kubewasm"))
            );
            for (var, value) in saved {
                match value {
                    Some(v) => std::env::set_var(var, v),
                    None => std::env::remove_var(var),
                }
            }
        }
    }

    #[test]
    fn atomic_write_creates_a_private_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sub");
        write_atomic(&dir, &dir.join("f"), b"hello").unwrap();
        assert_eq!(fs::read(dir.join("f")).unwrap(), b"hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
    }
}
