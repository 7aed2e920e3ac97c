#!/usr/bin/env bash
# Consumer test: compile main.cpp with only what `pkg-config weft` says, against an installed
# prefix, and run it.
# Usage: run.sh PREFIX WORK_DIR     (compiler: $CXX, default c++)
set -euo pipefail
prefix=$(cd "$1" && pwd)
work=$2
here=$(cd "$(dirname "$0")" && pwd)
cxx=${CXX:-c++}

rm -rf "$work"
mkdir -p "$work"
# PKG_CONFIG_LIBDIR replaces the default search path: only the weft under test can be found.
export PKG_CONFIG_LIBDIR="$prefix/share/pkgconfig"
unset PKG_CONFIG_PATH

version=$(pkg-config --modversion weft)
cflags=$(pkg-config --cflags weft)
libs=$(pkg-config --libs weft)
includedir=$(pkg-config --variable=includedir weft)
echo "weft $version: cflags '$cflags' libs '$libs' includedir '$includedir'"
if [[ ! -f "$includedir/weft/weft.hpp" ]]; then
    echo "FAIL: includedir '$includedir' has no weft/weft.hpp" >&2
    exit 1
fi

# shellcheck disable=SC2086  # the flags are meant to be split
"$cxx" -std=c++20 $cflags "$here/main.cpp" -o "$work/consumer" $libs
"$work/consumer"
echo "pkg-config consumer: OK"
