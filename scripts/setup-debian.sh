#!/usr/bin/env bash
# Installs every Debian 12 package that weft's build, tests, benchmarks, sanitizer builds,
# Meson build and format check need. Idempotent: when all are installed it runs no apt
# command at all; otherwise it runs `apt-get update` once and installs only what is missing.
# Usage: scripts/setup-debian.sh            (as root, or with sudo available)
#        scripts/setup-debian.sh --list     (print the package list and exit)
set -euo pipefail

packages=(
    # toolchain and build systems
    build-essential g++ cmake ninja-build meson pkg-config python3
    # tests
    doctest-dev
    # benchmarks: Google Benchmark and the optional peers (oneTBB, moodycamel, Boost)
    libbenchmark-dev libtbb-dev libconcurrentqueue-dev libreaderwriterqueue-dev
    libboost1.81-dev libboost-fiber1.81-dev libboost-context1.81-dev libboost-thread1.81-dev
    # Go: the reference numbers in benchmarks/go, and the Go originals of the examples
    # (errgroup, semaphore and rate come from golang.org/x/sync and x/time)
    golang-go golang-golang-x-sync-dev golang-golang-x-time-dev
    # sanitizer builds: clang (ThreadSanitizer) and GCC's sanitizer runtimes (ASan+UBSan)
    clang libclang-rt-14-dev libasan8 libtsan2 libubsan1
    # setarch (ASLR off for TSan on kernels with high mmap entropy)
    util-linux
    # GNU time: the importer's CLI tests measure weft-import's peak RSS with it
    time
    # the importer (examples/importer): xlsx reading, databases, sample workbooks, its CLI, and
    # a private PostgreSQL server for its tests (scripts/with-postgres.sh); Boost.JSON for its
    # --json output
    libzip-dev libexpat1-dev libsqlite3-dev libpq-dev libxlsxwriter-dev libcli11-dev
    libboost-json1.81-dev
    sqlite3 postgresql
    # the importer's service: its upload page in headless Chromium (importer.serve_browser), and
    # wrk for its load test (scripts/serve-load.sh)
    chromium chromium-driver python3-selenium wrk
    # curl: the tutorial's upload lines, run as they are by the service's tests
    curl
    # format check (clang-format 14 mangles C++20 requires-clauses; 19 is in bookworm)
    clang-format-19
)

if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "setup-debian: all ${#packages[@]} packages already installed"
    exit 0
fi

echo "setup-debian: installing ${missing[*]}"
sudo=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "setup-debian: run as root (or install sudo)" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
