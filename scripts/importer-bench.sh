#!/usr/bin/env bash
# The importer benchmark behind docs/importer.md: builds benchmarks/importer/importer_bench
# (Release), runs it beside a private PostgreSQL with durable commits (fsync on), and prints the
# table of medians: the four methods at 10,000 rows, pipeline at 100,000 and 1,000,000 rows,
# the two floors (reading alone, loading alone), pipeline / loading-alone, and the peak RSS of
# weft-import on the 100,000-row file. About 10 minutes on 2 cores with the default 3 repetitions.
#
# Usage: scripts/importer-bench.sh [--quick] [--repetitions N] [--filter REGEX]
#   --quick         workbooks of 1/100 the size (a smoke test of the script)
# Environment: WEFT_BUILD_ROOT (default <repo>/build; the build goes to bench/ below it), JOBS
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WEFT_BUILD_ROOT:-$root/build}/bench
reps=3
filter=.
quick=()
while (($#)); do
    case $1 in
        --quick) quick=(--quick) ;;
        --repetitions) reps=$2; shift ;;
        --filter) filter=$2; shift ;;
        *) echo "usage: $0 [--quick] [--repetitions N] [--filter REGEX]" >&2; exit 2 ;;
    esac
    shift
done

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
    -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target importer_bench weft-import
out=$(mktemp)
trap 'rm -f "$out"' EXIT
WEFT_PG_DURABLE=1 bash "$root/scripts/with-postgres.sh" "$build/benchmarks/importer_bench" \
    "${quick[@]}" --benchmark_filter="$filter" --benchmark_repetitions="$reps" \
    --benchmark_report_aggregates_only=true --benchmark_format=json --benchmark_out="$out" \
    --benchmark_out_format=json >/dev/null
python3 - "$out" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
med = {}
for b in doc["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = re.sub(r"/iterations:.*", "", b["run_name"])
    med[name] = b
ctx = doc["context"]
print(f"{ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, {ctx.get('date')}; "
      f"medians of {doc['benchmarks'][0].get('repetitions', '?')} runs\n")
print("| benchmark | rows written | time | rows/s | note |")
print("|---|---:|---:|---:|---|")
for name, b in med.items():
    ms = b["real_time"] if b["time_unit"] == "ms" else b["real_time"] / 1e6
    note = ""
    if "peak_rss_mb" in b:
        print(f"| {name} | | | | peak RSS {b['peak_rss_mb']:.0f} MB |")
        continue
    m = re.match(r"Method/(\w+)/pipeline/(\d+)$", name)
    if m and f"LoadOnly/{m.group(1)}/{m.group(2)}" in med:
        floor = med[f"LoadOnly/{m.group(1)}/{m.group(2)}"]["real_time"]
        note = f"{ms / floor:.2f}x loading alone"
    print(f"| {name} | {b.get('rows', 0):,.0f} | {ms:,.0f} ms | {b.get('rows_per_s', 0):,.0f} | {note} |")
PY
