#!/usr/bin/env bash
# Build the native token streams (indexing/text/native/, a Rust extension over jieba-rs) and
# install them into .venv. They are optional: without a Rust toolchain this says so and exits 0,
# and the index streams are built by the Python code (same tokens, about twice the CPU).
# Usage: ./scripts/build_native.sh        (scripts/test.sh and scripts/serve.sh run it; it does
# nothing when the installed build is newer than the crate's sources)
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo >/dev/null 2>&1; then
    echo "build_native.sh: no Rust toolchain (cargo), so the index streams are built in Python;" \
         "install Rust (https://rustup.rs) and run this again to build them natively" >&2
    exit 0
fi
crate=indexing/text/native
installed=$(.venv/bin/python -c 'import casedigest_native; print(casedigest_native.__file__)' 2>/dev/null || true)
if [ -n "$installed" ] && [ -z "$(find "$crate/src" "$crate/Cargo.toml" "$crate/Cargo.lock" -newer "$installed")" ]; then
    exit 0  # built and installed after the last change of its sources
fi
build() {
    .venv/bin/python -m pip install --quiet 'maturin>=1.5,<2' &&
    rm -rf "$crate/target/wheels" &&
    .venv/bin/maturin build --release --quiet --interpreter .venv/bin/python --manifest-path "$crate/Cargo.toml" \
        --out "$crate/target/wheels" &&
    .venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$crate"/target/wheels/casedigest_native-*.whl &&
    .venv/bin/python -c "from casedigest_native import StreamBuilder"
}
# A failed build (no crates.io, say) leaves the Python streams in use: the same tokens, slower.
if build; then
    echo "build_native.sh: native token streams installed"
else
    echo "build_native.sh: the native token streams did not build (see above); the index streams" \
         "are built in Python, and the tests of the extension are skipped" >&2
fi
