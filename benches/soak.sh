#!/usr/bin/env bash
# Issue #13's fairness soak: one host process (host/examples/soak.rs, release build) runs
# 45 ordinary guests (listing and watching pods) for SOAK_SECONDS, then the same with 5
# hostile guests (a refusal flood, at-the-limit and oversized requests, 16 unread watch
# streams, a spinning guest, a memory bomb), against the bundled demo API server. Prints
# the ordinary guests' list latency (p50/p99) and throughput, and the host's peak RSS, for
# both phases: the run without hostile guests is the yardstick.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SOAK_SECONDS:-30}
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then   # set it to measure the binaries already built
    cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest
    cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-test-guests --bin adversary
    cargo build --quiet --release -p kubewasm-host --example soak
    cargo build --quiet --release -p kubewasm-tests --bin demo-apiserver
fi

work=$(mktemp -d)
cleanup() { [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
target/release/demo-apiserver --kubeconfig-out "$work/kubeconfig" --ready-file "$work/ready" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do [ -f "$work/ready" ] && break; sleep 0.05; done

echo "## machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(rustc --version)"
echo
echo "## soak: ${SOAK_ORDINARY:-45} ordinary + ${SOAK_HOSTILE:-5} hostile guests, ${seconds} s per phase"
TMPDIR=$work target/release/examples/soak target/wasm32-wasip2/release/guest.wasm \
    target/wasm32-wasip2/release/adversary.wasm "$work/kubeconfig" "$seconds" \
    "${SOAK_ORDINARY:-45}" "${SOAK_HOSTILE:-5}"
