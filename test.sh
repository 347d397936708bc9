#!/usr/bin/env bash
# Runs every test: unit tests of the guest library and the host, and the end-to-end
# tests that run the real host and guest against the fake API server (127.0.0.1 only).
set -euo pipefail
cd "$(dirname "$0")"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
# The polyglot end-to-end test builds a Python guest with componentize-py (from PyPI).
if ! command -v componentize-py >/dev/null 2>&1; then
    python3 -m pip install --quiet componentize-py==0.25.1
fi
# `host run SCRIPT.py|SCRIPT.js` runs scripts in runtime components built from source:
# componentize-py (above) and componentize-js (npm ci, pinned by
# runtimes/js/package-lock.json; needs Node.js 20+). runtimes/build.sh puts them beside
# the host binary, where it looks, and keeps them while their sources are unchanged.
runtimes/build.sh "${CARGO_TARGET_DIR:-target}/debug/runtimes"
# The end-to-end tests run the `host` binary and the embedding example: build them first
# (cargo builds a package's binaries only for that package's own integration tests).
cargo build --workspace --bins --examples
exec cargo test --workspace "$@"
