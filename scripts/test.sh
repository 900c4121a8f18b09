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
# The native token streams (optional: skipped with a note when Rust is not installed).
./scripts/build_native.sh
# System packages, installed once when missing (as root; otherwise the command is printed):
# Java 17 and Maven for the Elasticsearch node the tests start with scripts/elasticsearch.sh
# (not needed when ELASTICSEARCH_URL names a running node), Debian's chromium and a CJK font
# for the browser tests.
missing=()
if [ -z "${ELASTICSEARCH_URL:-}" ]; then
    command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null 2>&1 || missing+=(maven)
fi
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-wqy-microhei)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "the tests need: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    fi
fi
exec .venv/bin/python -m pytest "$@"
