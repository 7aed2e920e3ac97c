#!/usr/bin/env bash
# The main demo: builds weft's examples and weft-import, generates the tutorial's 10,000-row business
# directory (.xlsx), imports it into SQLite with each of the four methods, and prints the
# comparison table beside the tutorial's numbers (Go + PostgreSQL). Then one ordinary import,
# as a user would run it.
#
# Usage: scripts/demo.sh              the importer demo
#        scripts/demo.sh NAME [ARGS]  build the examples and run examples/NAME.cpp instead
# Environment: WEFT_BUILD_ROOT (default <repo>/build; the demo build goes to demo/ below it),
#              WEFT_SKIP_SETUP=1 (do not run scripts/setup-debian.sh), JOBS (default 2),
#              ROWS (default 10000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WEFT_BUILD_ROOT:-$root/build}/demo

if [[ ${WEFT_SKIP_SETUP:-0} != 1 ]]; then
    bash "$root/scripts/setup-debian.sh" >/dev/null
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCHMARKS=OFF >/dev/null

if [[ $# -gt 0 ]]; then
    name=$1
    shift
    cmake --build "$build" -j "${JOBS:-2}" --target "$name"
    exe="$build/examples/$name"
    [[ -x $exe ]] || exe="$build/examples/patterns/$name"
    echo "=== $name $*"
    exec "$exe" "$@"
fi

cmake --build "$build" -j "${JOBS:-2}"  # the examples and weft-import
import="$build/examples/importer/weft-import"
data="$build/importer-demo"
rows=${ROWS:-10000}
mkdir -p "$data"
"$import" generate --rows "$rows" --seed 1 "$data/businesses.xlsx"
echo
for m in sequential concurrent batch pipeline; do
    rm -f "$data/$m.db" "$data/$m.db-wal" "$data/$m.db-shm"
    "$import" "$data/businesses.xlsx" --db "sqlite:$data/$m.db" --method "$m" --json --quiet \
        >"$data/$m.json"
done
python3 - "$data" "$rows" <<'PY'
import json, sys
data, rows = sys.argv[1], int(sys.argv[2])
tutorial = {"sequential": "45.2 s", "concurrent": "8.7 s", "batch": "3.1 s", "pipeline": "-"}
runs = {m: json.load(open(f"{data}/{m}.json")) for m in tutorial}
base = runs["sequential"]["duration_ms"] or 1
print(f"{rows:,} rows into SQLite (the tutorial: 10,000 rows into PostgreSQL, in Go)\n")
print(f"| method | imported | rejected | time | rows/s | speed-up | tutorial |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
for m, r in runs.items():
    ms = r["duration_ms"]
    print(f"| {m} | {r['success_count']:,} | {r['error_count']:,} | {ms:,} ms | "
          f"{r['records_per_second']:,} | {base / max(ms, 1):.1f}x | {tutorial[m]} |")
PY
echo
echo "=== weft-import $data/businesses.xlsx --db sqlite:$data/businesses.db"
rm -f "$data/businesses.db" "$data/businesses.db-wal" "$data/businesses.db-shm"
"$import" "$data/businesses.xlsx" --db "sqlite:$data/businesses.db" --rejects "$data/rejects.csv"
echo "(rejected rows with their reasons: $data/rejects.csv)"
