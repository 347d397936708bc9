//! The host's on-disk cache: compiled components (`components/`) and API discovery
//! responses (`discovery/`).
//!
//! Everything here is loaded back without re-checking its contents (a compiled component
//! is native code), so the cache trusts only a directory that this user owns and that
//! nobody else can write to, and writes each file atomically (temporary file + rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The cache root: `$KUBEWASM_CACHE_DIR`, else `$XDG_CACHE_HOME/kubewasm`, else
/// `~/.cache/kubewasm`. `None` when none can be found (no `HOME`), in which case nothing
/// is cached.
pub fn default_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBEWASM_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("kubewasm"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("kubewasm"))
}

/// Creates `dir` (mode 0700) if needed and checks that only this user can write to it.
pub fn trusted_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        create_private_dir(dir)?;
    }
    check_private(dir)
}

/// Writes `bytes` to `target` inside the trusted directory `dir`, atomically and readable
/// only by this user.
pub fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    trusted_dir(dir)?;
    let (tmp, mut file) = tempfile_in(dir)?;
    file.write_all(bytes)
        .with_context(|| format!("failed to write {tmp:?}"))?;
    file.sync_all().ok();
    fs::rename(&tmp, target).with_context(|| format!("failed to move {tmp:?} to {target:?}"))?;
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
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
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
