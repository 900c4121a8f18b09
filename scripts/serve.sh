#!/usr/bin/env bash
# Install casedigest (into .venv) and serve it on the embedded engine with the demo records.
# Usage: ./scripts/serve.sh [--host H] [--port P]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e .
./scripts/build_native.sh  # the native token streams (optional: skipped with a note without Rust)
exec .venv/bin/casedigest serve "$@"
