#!/usr/bin/env bash
# compile-cost.sh - what including one public weft header costs: for each header, the time and
# peak memory of compiling a file that contains only `#include <weft/NAME.hpp>`, and the number
# of lines it preprocesses to.
#
# Usage: scripts/compile-cost.sh [--runs N] [--include DIR]... [HEADER...]
#   --runs N       compile each header N times and report the median time and memory (default 3)
#   --include DIR  the include directory to measure (default: this checkout's include/); give it
#                  twice (e.g. a checkout of main, then this one) for a before/after table
#   HEADER...      names under weft/ (channel.hpp, pipeline/stages.hpp); default: every public
#                  header (include/weft/*.hpp and include/weft/pipeline/*.hpp)
# Environment: CXX (default c++), CXXFLAGS (default -std=c++20 -O0, the usual Debug build).
#
# Measured with /usr/bin/time -f '%e %U %S %M' around one compiler process (-c, the object
# written to /dev/null): `seconds` is the elapsed time, `cpu` the user + system time (what the
# compiler itself spent: less disturbed by other work on a busy machine), `MiB` the peak
# resident set. Compare numbers from one run, and look at the load average it prints.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=3
incs=()
headers=()
while (($#)); do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --include) incs+=("$(cd "$2" && pwd)"); shift 2 ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compile-cost: unknown option $1" >&2; exit 2 ;;
    *) headers+=("$1"); shift ;;
    esac
done
((${#incs[@]})) || incs=("$root/include")
if [[ ! -x /usr/bin/time ]]; then
    echo "compile-cost: /usr/bin/time not found (Debian: apt-get install time)" >&2
    exit 2
fi
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
    echo "compile-cost: --runs needs a positive number" >&2
    exit 2
fi
cxx=${CXX:-c++}
read -r -a flags <<<"${CXXFLAGS:--std=c++20 -O0}"

if ((${#headers[@]} == 0)); then
    for inc in "${incs[@]}"; do
        for h in "$inc"/weft/*.hpp "$inc"/weft/pipeline/*.hpp; do
            [[ -f $h ]] && headers+=("${h#"$inc"/weft/}")
        done
    done
    mapfile -t headers < <(printf '%s\n' "${headers[@]}" | LC_ALL=C sort -u)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { LC_ALL=C sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "compiler: $($cxx --version | head -n 1); flags: ${flags[*]}; median of $runs"
echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg) on $(nproc) cores"
printf '%-24s %-28s %8s %6s %5s %7s\n' header include seconds cpu MiB lines
for h in "${headers[@]}"; do
    for inc in "${incs[@]}"; do
        label=$inc
        ((${#label} > 28)) && label="...${label: -25}"
        if [[ ! -f $inc/weft/$h ]]; then
            printf '%-24s %-28s %8s %6s %5s %7s\n' "$h" "$label" - - - -
            continue
        fi
        printf '#include <weft/%s>\n' "$h" >"$tmp/tu.cpp"
        lines=$("$cxx" "${flags[@]}" -pthread -I "$inc" -E "$tmp/tu.cpp" | wc -l)
        : >"$tmp/times"
        : >"$tmp/cpus"
        : >"$tmp/mems"
        for ((i = 0; i < runs; i++)); do
            /usr/bin/time -f '%e %U %S %M' -o "$tmp/m" \
                "$cxx" "${flags[@]}" -pthread -I "$inc" -c "$tmp/tu.cpp" -o /dev/null
            read -r sec usr sys kib <"$tmp/m"
            echo "$sec" >>"$tmp/times"
            awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f\n", u + s }' >>"$tmp/cpus"
            echo "$kib" >>"$tmp/mems"
        done
        sec=$(median <"$tmp/times")
        cpu=$(median <"$tmp/cpus")
        mib=$(median <"$tmp/mems" | awk '{ printf "%.0f", $1 / 1024 }')
        printf '%-24s %-28s %8s %6s %5s %7s\n' "$h" "$label" "$sec" "$cpu" "$mib" "$lines"
    done
done
echo "load average at end:   $(cut -d ' ' -f 1-3 /proc/loadavg)"
