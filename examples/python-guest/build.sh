#!/usr/bin/env bash
# Builds python-guest.wasm, a kubewasm `script` component, from app.py.
# Needs componentize-py: python3 -m pip install componentize-py==0.25.1
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-python-guest.wasm}"
componentize-py -d ../../wit -w script componentize -p . app -o "$out"
