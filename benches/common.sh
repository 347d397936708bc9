# Shared by the bench scripts (sourced).

# peak_rss [--before CMD] COMMAND...: one run of each COMMAND (a shell command line,
# output discarded) under GNU time, printing its peak RSS; CMD runs before each one.
peak_rss() {
    local before=:
    if [ "${1:-}" = --before ]; then
        before=$2
        shift 2
    fi
    local cmd rss
    for cmd in "$@"; do
        sh -c "$before"
        rss=$(/usr/bin/time -f %M sh -c "$cmd > /dev/null" 2>&1 >/dev/null | tail -1)
        echo "- $((rss / 1024)) MiB: \`$cmd\`"
    done
}

# demo_server SERVER WORK [SERVER-ARGS...]: sets `kubeconfig` to $BENCH_KUBECONFIG, or
# starts the bundled demo API server (the binary SERVER) with its kubeconfig in WORK,
# waits until it is ready and sets `server_pid` (the caller's cleanup kills it).
demo_server() {
    local server=$1 work=$2
    shift 2
    if [ -n "${BENCH_KUBECONFIG:-}" ]; then
        kubeconfig=$BENCH_KUBECONFIG
        return
    fi
    kubeconfig=$work/kubeconfig
    "$server" --kubeconfig-out "$kubeconfig" --ready-file "$work/ready" "$@" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
}

# fresh_copies DIR FILE...: copies each FILE into DIR/bin and sets `bin` to it. Every
# binary a script measures is such a copy, made at the start of the run, so that all have
# the same history in the page cache: on this machine the same bytes ran 10% slower from
# the file the linker wrote than from a fresh copy, and a copy made 20 minutes earlier ran
# slower than a new one (BENCHMARKS.md (e)).
fresh_copies() {
    bin=$1/bin
    shift
    mkdir -p "$bin"
    cp "$@" "$bin/"
}
