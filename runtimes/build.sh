#!/usr/bin/env bash
# Builds the script runtimes that `host run SCRIPT.py` and `host run SCRIPT.js` run
# scripts in, from this repository's sources and pinned tools, into DIR (default:
# target/debug/runtimes, where target/debug/host looks):
#   python.wasm  CPython with the `kubewasm` module (componentize-py, pinned below)
#   js.wasm      StarlingMonkey with the `kubewasm` SDK (componentize-js, pinned in
#                runtimes/js/package-lock.json; `npm ci` installs it)
# Usage: runtimes/build.sh [DIR] [python|js]...   (default: both)
# A runtime whose sources and tool version are unchanged since its last build is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/debug/runtimes}
shift || true
languages=("$@")
[ ${#languages[@]} -gt 0 ] || languages=(python js)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"

COMPONENTIZE_PY_VERSION=0.25.1

# The inputs' digest: a runtime is rebuilt only when it changes.
digest() {
    sha256sum "$@" | sha256sum | cut -d' ' -f1
}

build_python() {
    local py=${COMPONENTIZE_PY:-componentize-py}
    local version
    version=$("$py" --version 2>/dev/null) || {
        echo "error: componentize-py is not installed: python3 -m pip install componentize-py==$COMPONENTIZE_PY_VERSION" >&2
        return 1
    }
    local inputs stamp="$out/python.wasm.inputs"
    inputs="$(digest runtimes/python/*.py wit/*.wit wit/deps/*.wit) $version"
    if [ -f "$out/python.wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
        return 0
    fi
    echo "building the Python runtime ($version)..." >&2
    local work
    work=$(mktemp -d)
    # A copy, so componentize-py's __pycache__ stays out of the source tree.
    cp "$root"/runtimes/python/*.py "$work/"
    (cd "$work" && "$py" --quiet -d "$root/wit" -w script componentize -p . runner -o python.wasm)
    mv "$work/python.wasm" "$out/python.wasm"
    rm -rf "$work"
    echo "$inputs" >"$stamp"
}

build_js() {
    local js="$root/runtimes/js"
    command -v node >/dev/null || { echo "error: building the JavaScript runtime needs Node.js 20 or later" >&2; return 1; }
    local inputs stamp="$out/js.wasm.inputs"
    inputs="$(digest runtimes/js/*.js runtimes/js/package-lock.json runtimes/js/wit/*.wit wit/deps/*.wit) $(node --version)"
    if [ -f "$out/js.wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
        return 0
    fi
    if [ ! -d "$js/node_modules/@bytecodealliance/componentize-js" ] \
        || ! cmp -s "$js/package-lock.json" "$js/node_modules/.package-lock.json.ci"; then
        echo "installing componentize-js (npm ci)..." >&2
        (cd "$js" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.package-lock.json.ci)
    fi
    echo "building the JavaScript runtime..." >&2
    (cd "$js" && node build.mjs "$out/js.wasm.tmp")
    mv "$out/js.wasm.tmp" "$out/js.wasm"
    echo "$inputs" >"$stamp"
}

for language in "${languages[@]}"; do
    case "$language" in
        python) build_python ;;
        js) build_js ;;
        *) echo "error: unknown runtime $language (python, js)" >&2; exit 2 ;;
    esac
done
