#!/usr/bin/env bash
# Prints the figures recorded in BENCHMARKS.md, issue #5's cases:
#  (a) whole-process wall time of `host run guest.wasm version` and `get pods` (50 pods)
#      next to curl and kubectl (when installed);
#  (b) listing 10,000 pods in one request (`-o name`, `-o json`): wall time and peak RSS
#      next to kube-rs 5 (host/examples/kube_rs_peer.rs), kubectl and curl, and the
#      guest's decoding as WebAssembly next to the same code native (decode_bench);
#  (c) watch events per second through the host→guest boundary;
#  (d) embedding throughput (guest instantiations + one request each).
#
# Runs against the bundled demo API server (release build, 127.0.0.1) with a generated
# namespace `bulk` of 10,000 pods; set BENCH_KUBECONFIG to measure (a) and (d) against
# another cluster (token auth expected for curl). Needs hyperfine and GNU time
# (`apt-get install hyperfine time`).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

runs=${BENCH_RUNS:-30}
command -v hyperfine >/dev/null || { echo "error: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest
cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest --example decode_bench
cargo build --quiet --release -p kubewasm-host --bin host --example bench_embed --example kube_rs_peer
cargo build --quiet --release -p kubewasm-guest --example decode_bench
cargo build --quiet --release -p kubewasm-tests --bin demo-apiserver

pods=${BENCH_PODS:-10000}
events=${BENCH_EVENTS:-200000}

work=$(mktemp -d)
cleanup() { [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ -n "${BENCH_KUBECONFIG:-}" ]; then
    kubeconfig=$BENCH_KUBECONFIG
else
    kubeconfig=$work/kubeconfig
    target/release/demo-apiserver --kubeconfig-out "$kubeconfig" --ready-file "$work/ready" \
        --bulk-pods "$pods" --watch-churn "$events" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
fi

# curl gets the same server, CA and token as the host.
server=$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -1 | tr -d '"')
sed -n 's/^ *certificate-authority-data: *//p' "$kubeconfig" | head -1 | base64 -d > "$work/ca.pem"
token=$(sed -n 's/^ *token: *//p' "$kubeconfig" | head -1 | tr -d '"')

fresh_copies "$work" target/release/host target/release/examples/bench_embed \
    target/release/examples/kube_rs_peer target/release/examples/decode_bench
guest=target/wasm32-wasip2/release/guest.wasm
host="$bin/host run --kubeconfig $kubeconfig $guest"
export KUBEWASM_CACHE_DIR=$work/cache
# Compile once with Cranelift into the cache, as every later run finds it (a tiered
# first run would leave Winch code until its background optimizer finished).
KUBEWASM_OPTIMIZE_FIRST_RUN=true $host version >/dev/null
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
"$bin/bench_embed" "$guest" "$kubeconfig" "${BENCH_EMBED_N:-5000}"
if [ -n "${BENCH_KUBECONFIG:-}" ]; then
    exit 0
fi

list_runs=${BENCH_LIST_RUNS:-10}
peer="$bin/kube_rs_peer $kubeconfig"
bulk=$server/api/v1/namespaces/bulk/pods
meta_accept='Accept: application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json'
# curl's own User-Agent makes kube-apiserver pretty-print; kubectl's does not.
curl_bulk="$curl_cmd -A kubectl --compressed"
kubectl_cmd="HOME=$work/kubectl-home kubectl --kubeconfig $kubeconfig"
# For calls made here rather than through hyperfine's shell.
curl_direct() { curl -sS --cacert "$work/ca.pem" -H "Authorization: Bearer $token" -A kubectl "$@"; }
curl_direct -o "$work/pods.json" "$bulk"
curl_direct -H 'Accept-Encoding: gzip' -o "$work/pods.json.gz" "$bulk"
echo
echo "## (b) list $pods pods in one request"
echo "JSON body $(stat -c %s "$work/pods.json") bytes, gzip on the wire $(stat -c %s "$work/pods.json.gz") bytes"
for output in name json; do
    if [ $output = name ]; then
        set -- "$host get pods -n bulk -o name --chunk-size 0" "$peer list-names bulk" \
            "$curl_bulk -H '$meta_accept' $bulk"
    else
        set -- "$host get pods -n bulk -o json --chunk-size 0" "$peer list-json bulk" "$curl_bulk $bulk"
    fi
    if command -v kubectl >/dev/null; then
        set -- "$@" "$kubectl_cmd get pods -n bulk -o $output --chunk-size 0"
    fi
    hyperfine --warmup 1 --runs "$list_runs" --output=pipe --export-markdown "$work/list-$output.md" "$@" >/dev/null
    cat "$work/list-$output.md"
    echo
    echo "peak RSS (GNU time, one run each):"
    peak_rss "$@"
    echo
done
echo "guest decoding, WebAssembly vs native, same bytes (best of 5):"
"$bin/decode_bench" "$work/pods.json" 5
"$bin/host" run --dir "$work" --max-memory 2Gi \
    target/wasm32-wasip2/release/examples/decode_bench.wasm "$work/pods.json" 5
echo
# The server sends $events events on each watch and then ends it, as a watch timeout does;
# curl stops there, the clients (which watch again) are stopped by `head`.
echo "## (c) watch: $events MODIFIED events"
rv=$(curl_direct -H "$meta_accept" "$bulk?limit=1" | grep -o '"resourceVersion":"[0-9]*"' | head -1 | tr -dc 0-9)
metadata_watch='Accept: application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json'
set -- "$host get pods -n bulk -w --watch-only -o name | head -n $events" \
    "$host get pods -n bulk -w --watch-only | head -n $events" \
    "$peer watch-names bulk $events" \
    "$curl_cmd -A kubectl -N -H '$metadata_watch' '$bulk?watch=1&resourceVersion=$rv'" \
    "$curl_cmd -A kubectl -N '$bulk?watch=1&resourceVersion=$rv'"
if command -v kubectl >/dev/null; then
    set -- "$@" "$kubectl_cmd get pods -n bulk -w --watch-only -o name | head -n $events"
fi
hyperfine --warmup 1 --runs "${BENCH_WATCH_RUNS:-5}" --export-markdown "$work/watch.md" "$@" >/dev/null
cat "$work/watch.md"
