#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup-debian.sh), then builds and tests
# weft twice, with CMake (Ninja) and with Meson: unit tests, compile-fail tests, examples and
# their expected output, benchmark smoke runs, and the consumer tests (find_package,
# add_subdirectory, Meson subproject, pkg-config).
#
# Usage: scripts/test.sh
# Environment:
#   WEFT_BUILD_ROOT   where the build trees go (default: <repo>/build); cmake/ and meson/ below it
#   WEFT_SKIP_SETUP=1 do not run scripts/setup-debian.sh
#   WEFT_SKIP_MESON=1 CMake only
#   WEFT_CMAKE_ARGS   extra arguments for the CMake configure step (word-split)
#   WEFT_MESON_ARGS   extra arguments for `meson setup`, e.g. -Dbenchmarks=disabled (word-split)
#   JOBS              parallel jobs (default 2)
#   CXX               compiler (default: the system c++)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_root=${WEFT_BUILD_ROOT:-$root/build}
jobs=${JOBS:-2}

if [[ ${WEFT_SKIP_SETUP:-0} != 1 ]]; then
    bash "$root/scripts/setup-debian.sh"
fi

echo "=== CMake: configure, build, test (${build_root}/cmake)"
# shellcheck disable=SC2086  # WEFT_CMAKE_ARGS is a list of words
cmake -S "$root" -B "$build_root/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release ${WEFT_CMAKE_ARGS:-}
status=0
# Keep going past a broken file: the tests that did build still run, the rest show as failed.
cmake --build "$build_root/cmake" -j "$jobs" -- -k 0 || { status=1; echo "*** CMake build FAILED"; }
ctest --test-dir "$build_root/cmake" --output-on-failure -j "$jobs" \
    2>&1 | tee "$build_root/cmake/ctest.log" || status=1

if [[ ${WEFT_SKIP_MESON:-0} != 1 ]]; then
    echo "=== Meson: configure, build, test (${build_root}/meson)"
    if [[ -f "$build_root/meson/meson-private/coredata.dat" ]]; then
        # --reconfigure picks up changed options and build files.
        # shellcheck disable=SC2086
        meson setup --reconfigure "$build_root/meson" "$root" ${WEFT_MESON_ARGS:-} ||
            meson setup --wipe "$build_root/meson" "$root" ${WEFT_MESON_ARGS:-}
    else
        # shellcheck disable=SC2086
        meson setup "$build_root/meson" "$root" ${WEFT_MESON_ARGS:-}
    fi
    ninja -C "$build_root/meson" -j "$jobs" -k 0 || { status=1; echo "*** Meson build FAILED"; }
    meson test -C "$build_root/meson" --no-rebuild --print-errorlogs --num-processes "$jobs" \
        2>&1 | tee "$build_root/meson/meson-test.log" || status=1
fi

echo "=== Summary"
echo "CMake/ctest: $(grep -E 'tests passed, [0-9]+ tests failed' "$build_root/cmake/ctest.log" | tail -1)"
if [[ ${WEFT_SKIP_MESON:-0} != 1 ]]; then
    echo "Meson: $(grep -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):' \
        "$build_root/meson/meson-test.log" | tr -s ' ' | paste -sd ' ')"
fi
exit "$status"
