#!/usr/bin/env bash
# Consumer test for the Meson build: install weft with Meson into a fresh prefix, then run the
# pkg-config consumer (run.sh) against it.
# Usage: meson_install.sh WEFT_SOURCE_DIR WORK_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work"
meson setup "$work/build" "$src" --prefix "$work/prefix" \
    -Dtests=disabled -Dexamples=disabled -Dbenchmarks=disabled
meson install -C "$work/build" --quiet
bash "$here/run.sh" "$work/prefix" "$work/consumer"
