#!/usr/bin/env bash
# Runs every test: unit tests of the guest library and the host, and the end-to-end
# tests that run the real host and guest against the fake API server (127.0.0.1 only).
set -euo pipefail
cd "$(dirname "$0")"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
exec cargo test --workspace "$@"
