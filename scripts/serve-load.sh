#!/usr/bin/env bash
# Load test of `weft-import serve` with wrk: how /health answers while imports run, how the
# service sheds a burst of uploads (429), and whether its memory stays bounded. Builds nothing.
#
#   (a) GET /health for DURATION s (wrk -t1 -c4 --latency) while two 100,000-row pipeline imports
#       run throughout: two curl loops, each uploading the workbook again as soon as its import
#       ends (--max-imports 2), so both slots are busy for the whole window. wrk asks as fast as
#       it can, so its own thread competes for the cores too; then, still during the imports, a
#       paced probe as a health checker asks: 100 requests/s on one connection (curl --rate),
#       each one timed. First, for comparison, both on the idle server for 5 s. The goal: p99
#       under 10 ms.
#   (b) a burst of small uploads: wrk -c32 POSTs a 200-row workbook (multipart, built in Lua)
#       to /upload?method=pipeline, each waiting for its import, against --max-imports 2
#       --max-queue 8: the uploads beyond the 10 slots get 429. Counts 2xx, 429 and others.
#   (c) the server's peak RSS (VmHWM) after (a) and after (b), beside that of a fresh server
#       that ran one 100,000-row import into an empty database, and one into the database (a)
#       filled (an import into a populated table keeps a 64 MiB SQLite page cache).
# Prints one markdown table, with the machine's nproc and load average.
#
# Usage: scripts/serve-load.sh [--db URL] [--duration S] [WEFT_IMPORT]
#   WEFT_IMPORT  default build/rel/examples/importer/weft-import; build it with
#                cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release
#                ninja -C build/rel -j2 weft-import
#   --db URL     the servers' database (default: a fresh SQLite file per server in a temporary
#                directory; two SQLite imports take turns at the write lock, two PostgreSQL
#                imports write at once: scripts/with-postgres.sh bash -c
#                'scripts/serve-load.sh --db "$WEFT_TEST_PG_URL"')
#   --duration S (a)'s and (b)'s length in seconds (default 15)
# Needs wrk and curl (scripts/setup-debian.sh installs them).
set -euo pipefail

exe=build/rel/examples/importer/weft-import
db=""
duration=15
while (($#)); do
    case $1 in
    --db) db=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "serve-load: unknown option $1" >&2; exit 2 ;;
    *) exe=$1; shift ;;
    esac
done
[[ -x $exe ]] || {
    echo "serve-load: no $exe: build it (cmake -S . -B build/rel -G Ninja" \
        "-DCMAKE_BUILD_TYPE=Release && ninja -C build/rel -j2 weft-import)" >&2
    exit 2
}
for p in wrk curl; do
    command -v "$p" >/dev/null || { echo "serve-load: $p is not installed" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/serve-load.XXXXXX")
server_pid=""
loops=()  # the server and the curl loops we started, still running: stopped on exit
cleanup() {
    touch "$work/stop"
    local p
    for p in $server_pid "${loops[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in $server_pid "${loops[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "serve-load: failed at line $LINENO" >&2' ERR

log() { echo "serve-load: $*" >&2; }

# start_server NAME [DBNAME]: a server on a free loopback port, on the SQLite file DBNAME.db
# (default NAME.db) or --db; sets server_pid and url.
start_server() {
    local name=$1 at
    if [[ -n $db ]]; then at=$db; else at="sqlite:$work/${2:-$name}.db"; fi
    : >"$work/$name.out"  # before the server opens it: the loop below reads it at once
    "$exe" serve --listen 127.0.0.1:0 --db "$at" --max-imports 2 --max-queue 8 \
        >"$work/$name.out" 2>"$work/$name.err" &
    server_pid=$!
    local i
    for ((i = 0; i < 200; i++)); do
        url=$(sed -n 's/^weft-import serve: listening on //p' "$work/$name.out")
        [[ -n $url ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    log "the server did not start: $(cat "$work/$name.err")"
    exit 1
}

# stop_server: SIGTERM, and the exit status must be 0.
stop_server() {
    kill -TERM "$server_pid"
    local rc=0
    wait "$server_pid" || rc=$?
    server_pid=""
    ((rc == 0)) || { log "the server exited $rc: $(cat "$work"/*.err)"; exit 1; }
}

peak_rss_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

metric() { curl -sf "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# wrk's summary: "Requests/sec: N" and the --latency percentiles, in ms.
# probe SECONDS: GET /health 100 times a second on one connection; each one's time, in s.
probe() {
    local args=() i
    for ((i = 0; i < $1 * 100; i++)); do args+=(-o /dev/null "$url/health"); done
    curl -sS --rate 100/s -w '%{http_code} %{time_total}\n' "${args[@]}"
}
# probe_summary FILE: "p50 ms, p99 ms" of the 200s, their count, and the other statuses' (curl's
# 000: no answer).
probe_summary() {
    local others
    others=$(awk '$1 != 200 { n[$1]++ } END { for (c in n) printf " %s: %d,", c, n[c] }' "$1")
    awk '$1 == 200 { print $2 * 1000 }' "$1" | sort -n | awk -v o="${others%,}" '
        { a[NR] = $1 } END { printf "%.2f ms, %.2f ms (%d answered 200%s)",
            a[int(NR * 0.5 + 0.5)], a[int(NR * 0.99 + 0.5)], NR, o == "" ? "" : ";" o }'
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
latency_ms() {
    awk -v p="$2%" '$1 == p {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
        printf "%.2f", v * f
    }' "$1"
}
socket_errors() {
    local e
    e=$(sed -n 's/^ *Socket errors: //p' "$1")
    echo "${e:-none}"
}

log "generating workbooks"
"$exe" generate --rows 100000 --invalid-rate 0.02 -q "$work/big.xlsx"
"$exe" generate --rows 200 --invalid-rate 0.02 -q "$work/small.xlsx"

# one_import NAME [DBNAME]: (c)'s reference, a server that runs one 100k import and nothing
# else; sets rss_ref to its peak RSS.
one_import() {
    start_server "$@"
    local code
    code=$(curl -sS -o "$work/$1.json" -w '%{http_code}' -F "file=@$work/big.xlsx" \
        "$url/upload?method=pipeline")
    [[ $code == 200 ]] || {
        log "the reference import answered $code: $(cat "$work/$1.json")"
        exit 1
    }
    rss_ref=$(peak_rss_mib "$server_pid")
    stop_server
}
one_import one
rss_one=$rss_ref

start_server load
log "server at $url; /health idle for 5 s"
wrk -t1 -c4 -d5s --latency "$url/health" >"$work/idle.txt"
probe 5 >"$work/idle-probe.txt"

# Two import loops: each uploads the big workbook, waits for its answer, and starts again.
import_loop() {
    local n=0
    while [[ ! -e $work/stop ]]; do
        curl -sS -o "$work/imp$1.$n.json" -w '%{http_code}\n' -F "file=@$work/big.xlsx" \
            "$url/upload?method=pipeline" >>"$work/imp$1.codes" || echo curl >>"$work/imp$1.codes"
        n=$((n + 1))
    done
}
import_loop 1 &
loops+=($!)
import_loop 2 &
loops+=($!)
for ((i = 0; i < 200; i++)); do
    [[ $(metric weft_import_imports_running) == 2 ]] && break
    sleep 0.05
done
[[ $(metric weft_import_imports_running) == 2 ]] || { log "the two imports did not start"; exit 1; }
log "/health for ${duration} s while two 100k-row imports run"
wrk -t1 -c4 -d"${duration}s" --latency "$url/health" >"$work/health.txt"
running_after=$(metric weft_import_imports_running)
log "paced /health probe for ${duration} s while they still run"
probe "$duration" >"$work/probe.txt"
running_after="$running_after, $(metric weft_import_imports_running)"
touch "$work/stop"
wait "${loops[@]}"
loops=()
imports_ok=$(cat "$work"/imp*.codes | grep -c '^200$' || true)
imports_all=$(cat "$work"/imp*.codes | wc -l)
[[ $imports_ok == "$imports_all" ]] ||
    log "not every import succeeded: $(sort "$work"/imp*.codes | uniq -c)"
rss_a=$(peak_rss_mib "$server_pid")
rows_per_s=$(cat "$work"/imp*.json | sed -n 's/.*"records_per_second":\([0-9]*\).*/\1/p' |
    sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }')

# (b): the burst. Each thread's Lua state counts the statuses; done() adds them up.
cat >"$work/upload.lua" <<'EOF'
local boundary = "serve-load-7d1f2c"
local f = assert(io.open(os.getenv("SERVE_LOAD_XLSX"), "rb"))
local xlsx = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
    "Content-Disposition: form-data; name=\"file\"; filename=\"small.xlsx\"\r\n" ..
    "Content-Type: application/octet-stream\r\n\r\n" .. xlsx .. "\r\n--" .. boundary .. "--\r\n"

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, busy, other = 0, 0, 0 end
function response(status, headers, body)
    if status >= 200 and status < 300 then ok = ok + 1
    elseif status == 429 then busy = busy + 1
    else other = other + 1 end
end
function done(summary, latency, requests)
    local o, b, x = 0, 0, 0
    for _, t in ipairs(threads) do
        o = o + t:get("ok"); b = b + t:get("busy"); x = x + t:get("other")
    end
    io.write(string.format("statuses: 2xx %d 429 %d other %d\n", o, b, x))
end
EOF
log "a burst of 200-row uploads for ${duration} s (32 connections, 10 slots)"
SERVE_LOAD_XLSX=$work/small.xlsx wrk -t2 -c32 -d"${duration}s" --latency -s "$work/upload.lua" \
    "$url/upload?method=pipeline" >"$work/burst.txt"
read -r b_ok b_busy b_other < <(sed -n \
    's/^statuses: 2xx \([0-9]*\) 429 \([0-9]*\) other \([0-9]*\)$/\1 \2 \3/p' "$work/burst.txt")
sleep 0.5  # the uploads wrk left queued when it stopped
rss_load=$(peak_rss_mib "$server_pid")
stop_server
rows_before='?'
if [[ -z $db ]] && command -v sqlite3 >/dev/null; then
    rows_before=$(sqlite3 "$work/load.db" 'SELECT count(*) FROM businesses')
fi
one_import populated load
rss_populated=$rss_ref

p99=$(latency_ms "$work/health.txt" 99)
verdict() { awk -v p="$1" 'BEGIN { print (p < 10) ? "met" : sprintf("missed (%.1fx)", p / 10) }'; }
goal=$(verdict "$p99")
probe_goal=$(verdict "$(probe_summary "$work/probe.txt" | sed 's/^[0-9.]* ms, \([0-9.]*\) ms (.*/\1/')")
cat <<EOF

| serve-load ($(basename "$exe"), db ${db:-sqlite file}, ${duration} s) | value |
|---|---|
| machine | nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg) |
| (a) /health idle, wrk: requests/s, p50, p99 | $(rps "$work/idle.txt"), $(latency_ms "$work/idle.txt" 50) ms, $(latency_ms "$work/idle.txt" 99) ms |
| (a) /health idle, paced probe: p50, p99 | $(probe_summary "$work/idle-probe.txt") |
| (a) /health, 2 imports running, wrk: requests/s | $(rps "$work/health.txt") |
| (a) /health, 2 imports running, wrk: p50, p99 | $(latency_ms "$work/health.txt" 50) ms, $p99 ms |
| (a) /health, 2 imports running, paced probe: p50, p99 | $(probe_summary "$work/probe.txt") |
| (a) goal "p99 under 10 ms" (wrk; paced) | $goal; $probe_goal |
| (a) 100k imports finished meanwhile (all 200), median rows/s | $imports_ok of $imports_all, $rows_per_s |
| (a) imports running when wrk ended, when the probe ended | $running_after |
| (b) burst: requests/s, p50, p99 | $(rps "$work/burst.txt"), $(latency_ms "$work/burst.txt" 50) ms, $(latency_ms "$work/burst.txt" 99) ms |
| (b) burst: 2xx, 429, other | $b_ok, $b_busy, $b_other |
| (b) burst: wrk socket errors | $(socket_errors "$work/burst.txt") |
| (c) peak RSS after (a); after (a) and (b) | $rss_a MiB; $rss_load MiB |
| (c) peak RSS, one 100k import only: into an empty database; into (a)'s ($rows_before rows) | $rss_one MiB; $rss_populated MiB |
EOF
