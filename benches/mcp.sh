#!/usr/bin/env bash
# `host mcp` figures for issue #12, each beside its yardstick in the same run:
#  - the latency of one tool call, `kubectl get pods -n demo`, and tool calls per second
#    (sequential, and with --max-concurrent-calls in flight), measured by a JSON-RPC
#    client that costs next to nothing (benches/mcp_client.py, standard library only);
#  - the same command as a whole `host run` process per call (what a tool server that
#    spawns kubectl pays at least), and kubectl itself if installed.
#
# Against the bundled demo API server (release build, 127.0.0.1); BENCH_KUBECONFIG points
# it at another cluster. Needs hyperfine (`apt-get install hyperfine`) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

runs=${BENCH_RUNS:-20}
calls=${BENCH_MCP_CALLS:-500}
command -v hyperfine >/dev/null || { echo "error: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then   # set it to measure the binaries already built
    cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest
    cargo build --quiet --release -p kubewasm-host --bin host
    cargo build --quiet --release -p kubewasm-tests --bin demo-apiserver
fi
target=${CARGO_TARGET_DIR:-target}

work=$(mktemp -d)
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
demo_server "$target/release/demo-apiserver" "$work"

guest=$target/wasm32-wasip2/release/guest.wasm
host=$target/release/host
export KUBEWASM_CACHE_DIR=$work/cache
# Compiled by Cranelift and cached once, as after the first run of an unchanged guest.
KUBEWASM_OPTIMIZE_FIRST_RUN=true "$host" run --kubeconfig "$kubeconfig" "$guest" version >/dev/null

echo "## machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(rustc --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## host mcp: tool calls over stdio"
echo "with --qps 0 (the default --qps 50 --burst 100 is one budget for all calls, so it caps a long run at 50 requests/s):"
python3 benches/mcp_client.py "$calls" 4 -- "$host" mcp --qps 0 --kubeconfig "$kubeconfig" "$guest"
echo
echo "## yardstick: a process per call"
set -- "$host run --kubeconfig $kubeconfig $guest get pods -n demo"
if command -v kubectl >/dev/null; then
    mkdir -p "$work/kubectl-home"
    set -- "$@" "env HOME=$work/kubectl-home kubectl --kubeconfig $kubeconfig get pods -n demo"
fi
hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$work/warm.md" "$@" >/dev/null
cat "$work/warm.md"
