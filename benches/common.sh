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
