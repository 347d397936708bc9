#!/usr/bin/env bash
# Builds js-component.wasm from app.js with the stock componentize-js CLI, no -d flags.
# Needs Node.js 20+ and componentize-js: by default the version runtimes/build.sh
# installs from runtimes/js/package-lock.json; COMPONENTIZE_JS names another.
set -euo pipefail
cd "$(dirname "$0")"
out=$(realpath -m "${1:-js-component.wasm}")
componentize_js=${COMPONENTIZE_JS:-../../runtimes/js/node_modules/.bin/componentize-js}
if [ ! -x "$componentize_js" ] && ! command -v "$componentize_js" >/dev/null; then
    echo "error: componentize-js is not installed: run \`runtimes/build.sh\` (or npm install @bytecodealliance/componentize-js and set COMPONENTIZE_JS)" >&2
    exit 1
fi
"$componentize_js" app.js --wit wit --world-name app -o "$out"
