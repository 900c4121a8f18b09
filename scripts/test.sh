#!/usr/bin/env bash
# Install everything the tests need (into .venv) and run the whole suite.
# Usage: ./scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e '.[test]'
# Browser tests drive Debian's chromium and need a CJK font: install them once when missing.
if ! command -v chromium >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei
    else
        echo "browser tests need: sudo apt-get install -y --no-install-recommends chromium fonts-wqy-microhei" >&2
    fi
fi
exec .venv/bin/python -m pytest "$@"
