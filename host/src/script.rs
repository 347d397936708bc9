//! `host run script.py` and `host run script.js`: scripts that run with no build step.
//!
//! A script is data, not code, to the host: it runs inside a runtime component that
//! this repository builds from source (`runtimes/`: CPython through componentize-py,
//! StarlingMonkey through componentize-js). The runtime is an ordinary guest of the
//! `script` world, so it is compiled once per machine into the cache (or loaded from
//! the operator's precompiled directory) and confined by the same policy, limits and
//! WASI grants as any guest.
//!
//! The script reaches the runtime as a file: [`StagedScript`] copies it into a fresh
//! private directory that the guest gets read-only, seen at the script's own absolute
//! directory, and the runtime finds it as its first argument. So the script can read
//! itself and nothing else (granting its real directory would hand over its
//! neighbours), unless `--dir` grants more.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::runner::DirGrant;

/// The languages `host run` runs as scripts, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// `.py`: CPython, with the `kubewasm` module.
    Python,
    /// `.js` and `.mjs`: an ES module on StarlingMonkey, with global `fetch`.
    JavaScript,
}

impl Language {
    /// The language of `path` by its extension, if it is a script.
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "py" => Some(Self::Python),
            "js" | "mjs" => Some(Self::JavaScript),
            _ => None,
        }
    }

    /// The runtime component's file name in the runtime directory.
    pub fn runtime_file(self) -> &'static str {
        match self {
            Self::Python => "python.wasm",
            Self::JavaScript => "js.wasm",
        }
    }

    /// The language's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "Python",
            Self::JavaScript => "JavaScript",
        }
    }
}

/// Where the runtime components are: `--runtime-dir` / `$KUBEWASM_RUNTIME_DIR`, else
/// `runtimes/` beside the host binary (where `runtimes/build.sh` puts them for a build
/// in `target/`; the Docker image sets the variable).
#[derive(Clone, Debug)]
pub struct RuntimeDir {
    dir: PathBuf,
}

impl RuntimeDir {
    /// `explicit` if given, else `runtimes/` beside the running executable.
    pub fn locate(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let dir = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => std::env::current_exe()
                .context("cannot find the host binary to look for runtimes/ beside it")?
                .parent()
                .context("the host binary has no parent directory")?
                .join("runtimes"),
        };
        Ok(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The runtime component for `language`, which must exist.
    pub fn component(&self, language: Language) -> anyhow::Result<PathBuf> {
        let file = self.dir.join(language.runtime_file());
        if !file.is_file() {
            anyhow::bail!(
                "the {} runtime {file:?} is not there: build it with `runtimes/build.sh {}` (./test.sh does), or point --runtime-dir / KUBEWASM_RUNTIME_DIR at the directory that has it",
                language.name(),
                self.dir.display()
            );
        }
        Ok(file)
    }
}

/// A script prepared for its runtime: the directory grant that shows it to the guest,
/// and the path the guest opens it by. The private copy is removed on drop.
#[derive(Debug)]
pub struct StagedScript {
    /// The grant to add to the guest's directories (none when a `--dir` grant already
    /// shows the script's directory at the same guest path).
    pub grant: Option<DirGrant>,
    /// The script's path inside the guest: the runtime's first argument.
    pub guest_path: String,
    _copy: Option<tempfile::TempDir>,
}

impl StagedScript {
    /// Copies `script` into a private directory seen by the guest, read-only, at the
    /// script's absolute directory. When a `--dir` grant in `grants` is seen at that
    /// same guest path, the copy is left out if the grant is that very directory (the
    /// script is already there), and refused otherwise (two directories cannot be seen
    /// at one path).
    pub fn stage(script: &Path, grants: &[DirGrant]) -> anyhow::Result<Self> {
        let source = std::fs::read(script)
            .with_context(|| format!("cannot read the script {}", script.display()))?;
        let absolute = std::path::absolute(script)
            .with_context(|| format!("cannot resolve the script path {}", script.display()))?;
        let (Some(dir), Some(name)) = (absolute.parent(), absolute.file_name()) else {
            anyhow::bail!("{}: not a script file", script.display());
        };
        let guest_dir = dir.to_string_lossy().into_owned();
        let guest_path = absolute.to_string_lossy().into_owned();
        let same_guest_path =
            |grant: &&DirGrant| Path::new(&grant.guest).components().eq(dir.components());
        if let Some(grant) = grants.iter().find(same_guest_path) {
            let granted = std::fs::canonicalize(&grant.host).ok();
            if granted.is_some() && granted == std::fs::canonicalize(dir).ok() {
                return Ok(Self {
                    grant: None,
                    guest_path,
                    _copy: None,
                });
            }
            anyhow::bail!(
                "--dir {}::{}: the guest sees the script's own directory at {guest_dir}; give the grant another guest path",
                grant.host.display(),
                grant.guest
            );
        }
        let copy = tempfile::Builder::new()
            .prefix("kubewasm-script-")
            .tempdir()
            .context("cannot make a private directory for the script")?;
        std::fs::write(copy.path().join(name), source)
            .context("cannot copy the script into its private directory")?;
        Ok(Self {
            grant: Some(DirGrant {
                host: copy.path().to_path_buf(),
                guest: guest_dir,
                writable: false,
            }),
            guest_path,
            _copy: Some(copy),
        })
    }
}

/// What `host run PATH` runs: `Some(language)` for a script, `None` for a component
/// (a `.wasm`, a `.cwasm`, anything that starts as one, or a path with no extension,
/// which the component loader reports on). Any other file is an error that names it.
pub fn classify(path: &Path) -> anyhow::Result<Option<Language>> {
    if let Some(language) = Language::of(path) {
        return Ok(Some(language));
    }
    match path.extension().and_then(|e| e.to_str()) {
        None | Some("wasm" | "cwasm") => Ok(None),
        Some(_) if starts_like_a_component(path) => Ok(None),
        Some(_) => Err(unknown_kind(path)),
    }
}

/// Whether the file begins with the wasm preamble or is native code (a `.cwasm`).
fn starts_like_a_component(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"\0asm" || &magic == b"\x7fELF")
}

/// The error for a file that is neither a component nor a script `host run` knows.
fn unknown_kind(path: &Path) -> anyhow::Error {
    let what = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("a .{ext} file"),
        None => "not a WebAssembly component".to_string(),
    };
    anyhow::anyhow!(
        "{}: cannot run {what}: host runs a component (.wasm), or a script: .py (Python) or .js (JavaScript, an ES module)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_scripts_by_extension() {
        assert_eq!(Language::of(Path::new("a/list.py")), Some(Language::Python));
        assert_eq!(
            Language::of(Path::new("list.js")),
            Some(Language::JavaScript)
        );
        assert_eq!(Language::of(Path::new("list.rb")), None);
        assert_eq!(Language::of(Path::new("guest.wasm")), None);
    }

    #[test]
    fn an_unknown_file_kind_names_the_file_and_what_runs() {
        let err = classify(Path::new("foo.rb")).unwrap_err().to_string();
        assert_eq!(
            err,
            "foo.rb: cannot run a .rb file: host runs a component (.wasm), or a script: .py (Python) or .js (JavaScript, an ES module)"
        );
        assert_eq!(classify(Path::new("guest.wasm")).unwrap(), None);
        assert_eq!(classify(Path::new("guest")).unwrap(), None);
    }

    #[test]
    fn a_staged_script_is_a_private_copy_seen_at_its_own_path() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("list.py");
        std::fs::write(&script, "print(1)\n").unwrap();
        std::fs::write(dir.path().join("neighbour.txt"), "secret").unwrap();
        let staged = StagedScript::stage(&script, &[]).unwrap();
        let grant = staged.grant.clone().unwrap();
        assert!(!grant.writable);
        assert_eq!(Path::new(&grant.guest), dir.path());
        assert_eq!(Path::new(&staged.guest_path), script);
        let copied: Vec<_> = std::fs::read_dir(&grant.host)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(copied, ["list.py"], "only the script is granted");
        drop(staged);
        assert!(!grant.host.exists(), "the copy outlived the run");
    }

    #[test]
    fn a_grant_of_the_scripts_own_directory_shows_the_script_itself() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("list.py");
        std::fs::write(&script, "").unwrap();
        let spec = dir.path().to_str().unwrap();
        let same = DirGrant::parse(spec, false).unwrap();
        let staged = StagedScript::stage(&script, std::slice::from_ref(&same)).unwrap();
        assert!(staged.grant.is_none());
        let other = tempfile::tempdir().unwrap();
        let elsewhere =
            DirGrant::parse(&format!("{}::{spec}", other.path().display()), false).unwrap();
        let err = StagedScript::stage(&script, &[elsewhere]).unwrap_err();
        assert!(err.to_string().contains("another guest path"), "{err}");
    }

    #[test]
    fn a_missing_runtime_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let runtimes = RuntimeDir::locate(Some(dir.path())).unwrap();
        let err = runtimes.component(Language::Python).unwrap_err();
        assert!(err.to_string().contains("runtimes/build.sh"), "{err}");
    }
}
