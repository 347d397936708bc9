#!/usr/bin/env bash
# Builds the guest and the host, then runs `host run guest.wasm ARGS...`
# (default: `get pods -n demo`). With a script among the arguments
# (`./run.sh [HOST-OPTIONS] SCRIPT.py|SCRIPT.js [ARGS...]`) it builds the script
# runtimes instead and runs `host run HOST-OPTIONS SCRIPT ARGS...`; with a component
# (`./run.sh [HOST-OPTIONS] GUEST.wasm [ARGS...]`) it runs that one.
#
# It uses your cluster the way kubectl finds it ($KUBECONFIG, ~/.kube/config, or the
# pod's ServiceAccount). With no cluster configured it starts the bundled demo API
# server (recorded kube-apiserver v1.36 responses) on 127.0.0.1 and runs against that.
set -euo pipefail
cd "$(dirname "$0")"

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
echo "building guest.wasm and host (the first build takes a few minutes)..." >&2
cargo build --quiet --release --target wasm32-wasip2 -p kubewasm-guest
cargo build --quiet -p kubewasm-host -p kubewasm-tests --bin host --bin demo-apiserver

guest=target/wasm32-wasip2/release/guest.wasm
host=target/debug/host
if [ "$#" -eq 0 ]; then
    set -- get pods -n demo
fi
# A script runs in its language's runtime, and a component of your own (`*.wasm`)
# instead of the built-in guest; everything else is the guest's arguments.
for arg in "$@"; do
    case "$arg" in
        *.py | *.js)
            runtimes/build.sh target/debug/runtimes
            guest=
            break
            ;;
        *.wasm)
            guest=
            break
            ;;
    esac
done

cluster_configured() {
    if [ -n "${KUBECONFIG:-}" ]; then
        local IFS=:
        for f in $KUBECONFIG; do [ -f "$f" ] && return 0; done
    fi
    [ -f "${HOME:-/nonexistent}/.kube/config" ] && return 0
    [ -n "${KUBERNETES_SERVICE_HOST:-}" ] && [ -f /var/run/secrets/kubernetes.io/serviceaccount/token ] && return 0
    return 1
}

if cluster_configured; then
    exec "$host" run ${guest:+"$guest"} "$@"
fi

demo_dir=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$demo_dir"' EXIT
target/debug/demo-apiserver --kubeconfig-out "$demo_dir/kubeconfig" --ready-file "$demo_dir/ready" >/dev/null 2>"$demo_dir/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
    [ -f "$demo_dir/ready" ] && break
    sleep 0.05
done
[ -f "$demo_dir/ready" ] || { echo "error: the demo API server did not start:" >&2; cat "$demo_dir/server.log" >&2; exit 1; }
echo "no cluster configured: using the bundled demo API server ($(cat "$demo_dir/ready"))" >&2
set +e
"$host" run --kubeconfig "$demo_dir/kubeconfig" ${guest:+"$guest"} "$@"
status=$?
exit "$status"
