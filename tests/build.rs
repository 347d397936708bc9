//! Builds the guest components the end-to-end tests run: the real `guest`, the test
//! guests in `tests/guests` (misbehaving ones, and a `wasi:http` client) and the Rust
//! guest example in `examples/rust-guest`, for wasm32-wasip2 in release mode, in a
//! target directory of their own (a nested cargo must not wait on the outer build's lock).
//! Their paths become constants in `$OUT_DIR/guests.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("tests/ is inside the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = out_dir.join("wasm-target");

    for path in [
        "guest",
        "tests/guests",
        "examples/rust-guest",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["-p", "kubewasm-guest", "-p", "kubewasm-test-guests"])
        .args(["-p", "kubewasm-example-rust-guest"])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags are for the host target, not for wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to run cargo to build the test guests");
    if !status.success() {
        panic!(
            "building the guests for wasm32-wasip2 failed (status {status}); \
             if the target is missing, run `rustup target add wasm32-wasip2`"
        );
    }

    let wasm_dir = target_dir.join("wasm32-wasip2").join("release");
    let mut consts = String::new();
    for (name, file) in [
        ("GUEST", "guest"),
        ("TRAP_GUEST", "trap"),
        ("EXIT_CODE_GUEST", "exit_code"),
        ("ADVERSARY_GUEST", "adversary"),
        ("HTTP_GUEST", "http_client"),
        ("PODS_NOT_READY_GUEST", "pods-not-ready"),
    ] {
        let path = wasm_dir.join(format!("{file}.wasm"));
        assert!(path.exists(), "{path:?} was not built");
        consts.push_str(&format!(
            "/// Path of the `{file}` component.\npub const {name}: &str = {:?};\n",
            path_str(&path)
        ));
    }
    fs::write(out_dir.join("guests.rs"), consts).expect("failed to write guests.rs");
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("target paths are UTF-8").to_string()
}
