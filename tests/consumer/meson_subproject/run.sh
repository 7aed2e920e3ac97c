#!/usr/bin/env bash
# Consumer test: build meson_subproject/ with weft as subprojects/weft (a symlink to the tree),
# run it, and check that none of weft's own targets (tests, examples, benchmarks) were built.
# Usage: run.sh WEFT_SOURCE_DIR WORK_DIR     (the compiler comes from $CXX, as Meson reads it)
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work/subprojects"
cp "$here/meson.build" "$here/main.cpp" "$work/"
ln -s "$src" "$work/subprojects/weft"

# --force-fallback-for: use the subproject even if a weft.pc is installed on this machine.
meson setup --force-fallback-for=weft "$work/build" "$work"
meson compile -C "$work/build"
meson test -C "$work/build" --print-errorlogs

targets=$(meson introspect --targets "$work/build")
if grep -q '"subproject": *"weft"' <<<"$targets"; then
    echo "FAIL: weft built its own targets as a subproject:" >&2
    echo "$targets" >&2
    exit 1
fi
echo "meson subproject consumer: OK"
