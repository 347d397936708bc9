#!/usr/bin/env bash
# Prints the figures recorded in BENCHMARKS.md: whole-process wall time of
# `host run guest.wasm version` and `get pods` (50 pods) next to curl and kubectl (when
# installed), and embedding throughput (guest instantiations + one request each).
#
# Runs against the bundled demo API server (release build, 127.0.0.1); set
# BENCH_KUBECONFIG to measure against another cluster (token auth expected for curl).
# Needs hyperfine (`apt-get install hyperfine`).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-30}
command -v hyperfine >/dev/null || { echo "error: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest
cargo build --quiet --release -p kubewasm-host --bin host --example bench_embed
cargo build --quiet --release -p kubewasm-tests --bin demo-apiserver

work=$(mktemp -d)
cleanup() { [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ -n "${BENCH_KUBECONFIG:-}" ]; then
    kubeconfig=$BENCH_KUBECONFIG
else
    kubeconfig=$work/kubeconfig
    target/release/demo-apiserver --kubeconfig-out "$kubeconfig" --ready-file "$work/ready" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
fi

# curl gets the same server, CA and token as the host.
server=$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -1)
sed -n 's/^ *certificate-authority-data: *//p' "$kubeconfig" | head -1 | base64 -d > "$work/ca.pem"
token=$(sed -n 's/^ *token: *//p' "$kubeconfig" | head -1 | tr -d '"')

guest=target/wasm32-wasip2/release/guest.wasm
host="target/release/host run --kubeconfig $kubeconfig $guest"
export KUBEWASM_CACHE_DIR=$work/cache
$host version >/dev/null   # compile once into the cache, as every later run finds it
curl_cmd="curl -sS -o /dev/null --cacert $work/ca.pem -H 'Authorization: Bearer $token'"

echo "## machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(rustc --version)"
echo
echo "## version"
set -- "$host version" "$curl_cmd $server/version"
if command -v kubectl >/dev/null; then
    mkdir -p "$work/kubectl-home"
    set -- "$@" "HOME=$work/kubectl-home kubectl --kubeconfig $kubeconfig version"
fi
hyperfine --warmup 3 --runs "$runs" --export-markdown "$work/version.md" "$@" >/dev/null
cat "$work/version.md"
echo
echo "## get pods (50 pods, server-side Table)"
set -- "$host get pods -n demo" \
    "$curl_cmd -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json' $server/api/v1/namespaces/demo/pods?limit=500"
if command -v kubectl >/dev/null; then
    set -- "$@" "HOME=$work/kubectl-home kubectl --kubeconfig $kubeconfig get pods -n demo"
fi
hyperfine --warmup 3 --runs "$runs" --export-markdown "$work/pods.md" "$@" >/dev/null
cat "$work/pods.md"
echo
echo "## embedding"
target/release/examples/bench_embed "$guest" "$kubeconfig" "${BENCH_EMBED_N:-5000}"
