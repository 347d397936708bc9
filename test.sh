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
# The `host mcp` end-to-end tests drive the server with the official MCP Python SDK,
# pinned in tests/mcp/requirements.txt, in a virtualenv under the target directory (so
# nothing is installed into the system Python and `cargo clean` removes it).
mcp_venv="${CARGO_TARGET_DIR:-target}/mcp-venv"
if ! cmp -s tests/mcp/requirements.txt "$mcp_venv/requirements.txt" 2>/dev/null; then
    rm -rf "$mcp_venv"
    python3 -m venv "$mcp_venv"
    "$mcp_venv/bin/python" -m pip install --quiet -r tests/mcp/requirements.txt
    cp tests/mcp/requirements.txt "$mcp_venv/requirements.txt"
fi
# The end-to-end tests run the `host` binary and the embedding example: build them first
# (cargo builds a package's binaries only for that package's own integration tests).
cargo build --workspace --bins --examples
exec cargo test --workspace "$@"
