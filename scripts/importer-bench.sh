#!/usr/bin/env bash
# The importer benchmark behind docs/importer.md: builds benchmarks/importer/importer_bench
# (Release), runs it beside a private PostgreSQL with durable commits (fsync on), and prints the
# table of medians: the four methods at 10,000 rows; on generate's rows and on ~450-byte rows,
# the pipeline into a new and into an existing table, the writer alone, the C floors (indexed
# insert, load then index), reading alone, and weft-import's peak RSS. Each pipeline row says
# its ratio to the indexed-insert floor of the same database, shape and size.
# At 100,000 rows (--filter '/100000/') it takes a few minutes on 2 cores; the 1,000,000-row
# cases take minutes each.
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
    # Medians; with --repetitions 1 there are no aggregates, only the runs themselves.
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
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
    m = re.match(r"(?:Pipeline|LoadOnly|Floor)/(\w+)/(\w+)/(?:\w+/)?(\d+)$", name)
    floor = m and med.get(f"Floor/{m.group(1)}/{m.group(2)}/indexed/{m.group(3)}")
    if floor and not name.startswith(f"Floor/{m.group(1)}/{m.group(2)}/indexed/"):
        note = f"{ms / floor['real_time']:.2f}x the indexed-insert floor"
    print(f"| {name} | {b.get('rows', 0):,.0f} | {ms:,.0f} ms | {b.get('rows_per_s', 0):,.0f} | {note} |")
PY
