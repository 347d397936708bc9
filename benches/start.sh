#!/usr/bin/env bash
# Start-up figures for issue #10, each beside its yardstick in the same run:
#  - cold: `host run guest.wasm get pods -n demo` with an empty cache (default: a Winch
#    first run; and with --optimize-first-run), the image's precompiled guest, and
#    `kubectl get pods` with an empty cache dir;
#  - warm: whole-process `host run guest.wasm version` next to kube-rs 5 doing the same
#    request (host/examples/kube_rs_peer.rs) and kubectl;
#  - peak RSS of each (GNU time);
#  - embedding: guest instantiations + one request each (bench_embed) next to kube-rs's
#    sequential requests over one connection to the same server.
#
# Against the bundled demo API server (release build, 127.0.0.1); BENCH_KUBECONFIG points
# it at another cluster. Needs hyperfine and GNU time (`apt-get install hyperfine time`).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

runs=${BENCH_RUNS:-20}
command -v hyperfine >/dev/null || { echo "error: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then   # set it to measure the binaries already built
    cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest
    cargo build --quiet --release -p kubewasm-host --bin host --example bench_embed --example kube_rs_peer
    cargo build --quiet --release -p kubewasm-tests --bin demo-apiserver
fi

work=$(mktemp -d)
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null
    pkill -f '[h]ost optimize-cache' 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
demo_server target/release/demo-apiserver "$work"

guest=target/wasm32-wasip2/release/guest.wasm
hostbin=$PWD/target/release/host
host="$hostbin run --kubeconfig $kubeconfig"
peer="target/release/examples/kube_rs_peer $kubeconfig"
target/release/host compile --out-dir "$work/precompiled" "$guest" >/dev/null
# Between cold runs: an empty cache, and no background optimizer of the last run still
# using a core.
cat > "$work/fresh.sh" <<FRESH
pkill -f '[h]ost optimize-cache' || true
rm -rf $work/cold $work/kubectl-cold
FRESH
fresh="sh $work/fresh.sh"
# Commands run without a shell (-N): hyperfine's shell correction is coarser than a warm
# start. Environment variables are set with env(1).

echo "## machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(rustc --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "guest $(stat -c %s "$guest") bytes"
echo
echo "## cold: get pods -n demo, nothing compiled or cached"
set -- "env KUBEWASM_CACHE_DIR=$work/cold $host $guest get pods -n demo" \
    "env KUBEWASM_CACHE_DIR=$work/cold $host --optimize-first-run $guest get pods -n demo" \
    "env KUBEWASM_CACHE_DIR=$work/cold KUBEWASM_PRECOMPILED_DIR=$work/precompiled $host $guest get pods -n demo"
if command -v kubectl >/dev/null; then
    set -- "$@" "kubectl --cache-dir $work/kubectl-cold --kubeconfig $kubeconfig get pods -n demo"
fi
hyperfine -N --runs "$runs" --prepare "$fresh" --export-markdown "$work/cold.md" "$@" >/dev/null
cat "$work/cold.md"
echo
echo "peak RSS (GNU time, one run each, empty caches):"
peak_rss --before "$fresh" "$@"
$fresh
echo
echo "## warm: version (guest compiled by Cranelift and cached)"
export KUBEWASM_CACHE_DIR=$work/warm
KUBEWASM_OPTIMIZE_FIRST_RUN=true $host $guest version >/dev/null
set -- "$host $guest version" "$peer version default"
if command -v kubectl >/dev/null; then
    mkdir -p "$work/kubectl-home"
    set -- "$@" "env HOME=$work/kubectl-home kubectl --kubeconfig $kubeconfig version"
fi
hyperfine -N --warmup 5 --runs "$((runs * 2))" --export-markdown "$work/warm.md" "$@" >/dev/null
cat "$work/warm.md"
echo
echo "peak RSS (GNU time, one run each):"
peak_rss "$@"
echo
echo "## embedding: instantiations + one request each, vs kube-rs sequential requests"
n=${BENCH_EMBED_N:-5000}
for _ in 1 2 3; do
    target/release/examples/bench_embed "$guest" "$kubeconfig" "$n"
    $peer version-loop default "$n"
done
