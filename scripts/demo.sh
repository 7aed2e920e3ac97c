#!/usr/bin/env bash
# Builds weft's examples and runs the main demo: the example executable named `demo`
# (examples/demo.cpp), or the one named on the command line.
# Usage: scripts/demo.sh [NAME [ARGS...]]
# Environment: WEFT_BUILD_ROOT (default <repo>/build; the demo build goes to demo/ below it),
#              WEFT_SKIP_SETUP=1 (do not run scripts/setup-debian.sh), JOBS (default 2)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WEFT_BUILD_ROOT:-$root/build}/demo
name=${1:-demo}
shift || true

if [[ ${WEFT_SKIP_SETUP:-0} != 1 ]]; then
    bash "$root/scripts/setup-debian.sh" >/dev/null
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}"

exe="$build/examples/$name"
if [[ ! -x "$exe" ]]; then
    echo "demo.sh: there is no example executable named '$name' (expected examples/$name.cpp)." >&2
    found=$(cd "$build/examples" && find . -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
    if [[ -n "$found" ]]; then
        echo "demo.sh: examples built: $(echo $found)   (run one with: scripts/demo.sh NAME)" >&2
    else
        echo "demo.sh: no examples were built (examples/*.cpp is empty)." >&2
    fi
    exit 1
fi
echo "=== $exe $*"
exec "$exe" "$@"
