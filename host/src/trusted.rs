//! The host's trusted state, and keeping it out of every directory granted to a guest.
//!
//! The host reads and writes files a guest must never reach: the credential (kubeconfig
//! files, token files, client keys, exec plugins, the pod's ServiceAccount directory),
//! what confines the guest (the policy file, the audit log) and native code it will run
//! (the compile cache, precompiled components). A `--dir` grant that contains one of
//! them, or lies inside one, would hand the guest the token, let it rewrite its own
//! policy or audit trail, or plant code the host later executes. [`TrustedPaths::check`]
//! refuses such grants, after resolving symlinks and `..` on both sides.
//!
//! What a granted directory links to is not a way around this: wasmtime-wasi opens every
//! guest path beneath its preopened directory and refuses symlinks that lead out of it.

use std::path::{Component, Path, PathBuf};

use crate::runner::DirGrant;

/// One file or directory the guest must not reach, and what it is (for the message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedPath {
    /// The path as configured (for the message).
    pub path: PathBuf,
    /// What it is: `the compile cache`, `the kubeconfig file`, ...
    pub what: String,
}

impl TrustedPath {
    /// `what` at `path`.
    pub fn new(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            what: what.into(),
        }
    }
}

/// The set of trusted paths of one host run; see the module documentation. Paths are
/// resolved when a grant is checked, so a run that grants no directory (most runs)
/// resolves none.
#[derive(Clone, Debug, Default)]
pub struct TrustedPaths {
    entries: Vec<TrustedPath>,
}

/// A grant that would give the guest trusted state.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} {host:?}: refused: it {relation} {what} {path:?}, which the host keeps from every guest; grant a directory that holds only the guest's own files"
)]
pub struct TrustedPathError {
    /// `--dir` or `--dir-rw`.
    pub flag: &'static str,
    /// The granted directory as given.
    pub host: PathBuf,
    /// `contains` or `is inside`.
    pub relation: &'static str,
    /// What the trusted path is.
    pub what: String,
    /// The trusted path as configured.
    pub path: PathBuf,
}

impl TrustedPaths {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `path` (a file or a directory; it need not exist yet).
    pub fn add(&mut self, trusted: TrustedPath) {
        self.entries.push(trusted);
    }

    /// The trusted paths added so far.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedPath> {
        self.entries.iter()
    }

    /// Refuses `grant` if the directory contains, or lies inside, a trusted path.
    pub fn check(&self, grant: &DirGrant) -> Result<(), TrustedPathError> {
        self.check_resolved(grant, &self.resolved())
    }

    /// [`TrustedPaths::check`] for every grant.
    pub fn check_all(&self, grants: &[DirGrant]) -> Result<(), TrustedPathError> {
        if grants.is_empty() {
            return Ok(());
        }
        let resolved = self.resolved();
        grants
            .iter()
            .try_for_each(|grant| self.check_resolved(grant, &resolved))
    }

    /// Every trusted path, resolved as [`resolve`] does, in the order added.
    fn resolved(&self) -> Vec<PathBuf> {
        self.entries.iter().map(|t| resolve(&t.path)).collect()
    }

    fn check_resolved(
        &self,
        grant: &DirGrant,
        resolved: &[PathBuf],
    ) -> Result<(), TrustedPathError> {
        let granted = resolve(&grant.host);
        for (resolved, trusted) in resolved.iter().zip(&self.entries) {
            let relation = if resolved.starts_with(&granted) {
                "contains"
            } else if granted.starts_with(resolved) {
                "is inside"
            } else {
                continue;
            };
            return Err(TrustedPathError {
                flag: if grant.writable { "--dir-rw" } else { "--dir" },
                host: grant.host.clone(),
                relation,
                what: trusted.what.clone(),
                path: trusted.path.clone(),
            });
        }
        Ok(())
    }
}

/// `path` made absolute, with symlinks resolved as far as it exists and `.`/`..`
/// resolved in the part that does not exist yet.
fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    // Canonicalize the longest existing prefix, then append the rest lexically.
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            let mut out = canonical;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Where `command` (an exec credential plugin) is: itself if it names a path, else the
/// first match on `PATH`, as the host would run it.
pub fn find_command(command: &str) -> Option<PathBuf> {
    if command.contains(std::path::MAIN_SEPARATOR) {
        return Some(PathBuf::from(command));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(path: &Path, writable: bool) -> DirGrant {
        DirGrant {
            host: path.to_path_buf(),
            guest: "/data".into(),
            writable,
        }
    }

    #[test]
    fn refuses_a_grant_that_contains_a_trusted_path_even_one_not_created_yet() {
        let home = tempfile::tempdir().unwrap();
        let mut trusted = TrustedPaths::new();
        trusted.add(TrustedPath::new(
            home.path().join(".cache/kubewasm"),
            "the compile cache",
        ));
        let err = trusted.check(&grant(home.path(), true)).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("--dir-rw "), "{text}");
        assert!(text.contains("contains the compile cache"), "{text}");
        assert!(
            trusted
                .check(&grant(&home.path().join("work"), true))
                .is_ok()
        );
    }

    #[test]
    fn refuses_a_grant_inside_a_trusted_directory() {
        let sa = tempfile::tempdir().unwrap();
        std::fs::create_dir(sa.path().join("sub")).unwrap();
        let mut trusted = TrustedPaths::new();
        trusted.add(TrustedPath::new(sa.path(), "the ServiceAccount directory"));
        let err = trusted
            .check(&grant(&sa.path().join("sub"), false))
            .unwrap_err();
        assert!(err.to_string().starts_with("--dir "), "{err}");
        assert!(err.to_string().contains("is inside"), "{err}");
        assert!(trusted.check(&grant(sa.path(), false)).is_err());
    }

    #[test]
    fn resolves_dot_dot_and_symlinks_before_comparing() {
        let root = tempfile::tempdir().unwrap();
        let secrets = root.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::write(secrets.join("token"), "t").unwrap();
        std::fs::create_dir(root.path().join("work")).unwrap();
        let mut trusted = TrustedPaths::new();
        trusted.add(TrustedPath::new(secrets.join("token"), "the token file"));
        // `work/..` is the root, which contains the token.
        let dotdot = root.path().join("work").join("..");
        assert!(trusted.check(&grant(&dotdot, false)).is_err());
        #[cfg(unix)]
        {
            let link = root.path().join("work").join("link");
            std::os::unix::fs::symlink(&secrets, &link).unwrap();
            let err = trusted.check(&grant(&link, false)).unwrap_err();
            assert!(err.to_string().contains("the token file"), "{err}");
        }
        assert!(
            trusted
                .check(&grant(&root.path().join("work"), false))
                .is_ok()
        );
    }

    #[test]
    fn a_relative_grant_is_resolved_against_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let mut trusted = TrustedPaths::new();
        trusted.add(TrustedPath::new(cwd.join("policy.yaml"), "the policy file"));
        assert!(trusted.check(&grant(Path::new("."), false)).is_err());
    }
}
