#!/usr/bin/env python3
"""Run weft's channel benchmarks and Go's twins, print one Markdown table of medians.

    scripts/bench-table.sh [--build-dir DIR] [--quick] [options]

C++: benchmarks/channel_bench.cpp and benchmarks/floors_bench.cpp (Google Benchmark). With
--build-dir, the binaries are taken from DIR or DIR/benchmarks (e.g. a CMake build tree);
otherwise they are compiled by hand with g++ -O2 (CXX overrides) into --work-dir, with every
peer found on this machine (oneTBB, moodycamel, Boost.Fiber, Boost.Thread) switched on.
Each binary runs with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
--benchmark_enable_random_interleaving=true (repetitions of all workloads in random order) and
its JSON goes to --work-dir (console progress goes to stderr).

Go: benchmarks/go, `go test -run '^$' -bench . -count=5` with GOMAXPROCS=2.

Table: one row per workload (benchmark name without the queue), columns Go, weft, weft/Go
and one per peer; a cell is the median real time per iteration in ns (one iteration = one
item, round trip, send+receive or Go op - see the unit column). "–" = not run or not
possible (peer absent, no rendezvous, no select). --quick: 1 repetition, short runs (smoke
test, numbers are rough). Python 3 standard library only.

--coro: the coroutine table of issue 12 instead. C++: benchmarks/coro_bench.cpp (tasks on 1
and 2 OS threads: rows "<workload>/<peer>/<threads>t") and Floor/spin of floors_bench, same
run. Go: the same workloads with `go test -cpu 1,2` (GOMAXPROCS 1 and 2). Park/<N> (N tasks
parked on receives; RSS per task, time to wake all by one close; N = $WEFT_BENCH_PARK_N,
default 100000) runs in a fresh process per row and repetition, for both languages, so that no
earlier row's freed memory (or Go's dead goroutines) hides its RSS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
GO_DIR = BENCH_DIR / "go"
CPP_BINARIES = ["channel_bench", "floors_bench", "context_bench"]
CORO_BINARIES = ["coro_bench", "floors_bench"]
PEER_COLUMNS = ["mutexcv", "tbb", "moodycamel", "boost_fiber", "boost_thread"]
DASH = "–"

# Peers: macro, test program, extra flags. Found = the test program compiles and links.
PEERS = [
    ("WEFT_BENCH_HAVE_TBB", "#include <oneapi/tbb/concurrent_queue.h>\n"
     "int main(){tbb::concurrent_bounded_queue<int> q; q.set_capacity(1); return 0;}", [], ["-ltbb"]),
    ("WEFT_BENCH_HAVE_MOODYCAMEL", "#include <blockingconcurrentqueue.h>\n#include <lightweightsemaphore.h>\n"
     "int main(){moodycamel::BlockingConcurrentQueue<int> q; return 0;}", None, []),
    ("WEFT_BENCH_HAVE_READERWRITERQUEUE", "#include <readerwritercircularbuffer.h>\n"
     "int main(){moodycamel::BlockingReaderWriterCircularBuffer<int> q(1); return 0;}", None, []),
    ("WEFT_BENCH_HAVE_BOOST_FIBER", "#include <boost/fiber/buffered_channel.hpp>\n"
     "int main(){boost::fibers::buffered_channel<int> c(2); return 0;}", [], ["-lboost_fiber", "-lboost_context"]),
    ("WEFT_BENCH_HAVE_BOOST_THREAD", "#include <boost/thread/concurrent_queues/sync_bounded_queue.hpp>\n"
     "int main(){boost::concurrent::sync_bounded_queue<int> q(1); return 0;}", [], ["-lboost_thread"]),
]
# Where the moodycamel headers live (Debian, upstream/vcpkg layouts); None above = search these.
MOODYCAMEL_DIRS = {
    "WEFT_BENCH_HAVE_MOODYCAMEL": ["concurrentqueue/moodycamel", "concurrentqueue", "moodycamel"],
    "WEFT_BENCH_HAVE_READERWRITERQUEUE": ["readerwriterqueue", ""],
}


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log("+", " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, **kw)


# --------------------------------------------------------------------------------------------
# Building by hand

def try_compile(cxx: str, src: str, flags: list[str], libs: list[str], tmp: Path) -> bool:
    f = tmp / "probe.cpp"
    f.write_text(src)
    r = subprocess.run([cxx, "-std=c++20", *flags, str(f), "-o", str(tmp / "probe"), *libs, "-lpthread"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def detect_peers(cxx: str) -> tuple[list[str], list[str], list[str]]:
    """Returns (defines, include flags, libs) for the peers that compile and link here."""
    defines, incs, libs = [], [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for macro, src, flags, plibs in PEERS:
            candidates = [flags] if flags is not None else [
                ["-isystem", str(Path(root) / sub)] if sub else []
                for sub in MOODYCAMEL_DIRS[macro] for root in ("/usr/include", "/usr/local/include")
                if not sub or (Path(root) / sub).is_dir()]
            for cand in candidates:
                if try_compile(cxx, src, cand, plibs, tmp):
                    defines.append(f"-D{macro}=1")
                    incs += cand
                    libs += plibs
                    log(f"peer found: {macro} {' '.join(cand)}")
                    break
            else:
                log(f"peer not found: {macro} (its column will show {DASH})")
    return defines, incs, libs


def build(work: Path, binaries: list[str]) -> Path:
    cxx = os.environ.get("CXX", "g++")
    defines, incs, libs = detect_peers(cxx)
    if "coro_bench" in binaries:
        with tempfile.TemporaryDirectory() as d:
            if not try_compile(cxx, "#include <boost/asio/experimental/concurrent_channel.hpp>\n"
                               "int main(){return 0;}", [], [], Path(d)):
                sys.exit("bench-table: --coro needs Boost.Asio (Debian: libboost1.81-dev)")
        defines.append("-DWEFT_BENCH_HAVE_BOOST_ASIO=1")
    out = work / "bin"
    out.mkdir(parents=True, exist_ok=True)
    extra = os.environ.get("CXXFLAGS", "").split()
    procs = []
    for name in binaries:
        cmd = [cxx, "-O2", "-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion",
               *extra, "-I", str(ROOT / "include"), *incs, *defines, str(BENCH_DIR / f"{name}.cpp"),
               "-o", str(out / name), "-lbenchmark", *libs, "-lpthread"]
        log("+", " ".join(cmd))
        procs.append((name, subprocess.Popen(cmd)))
    for name, p in procs:
        if p.wait() != 0:
            sys.exit(f"bench-table: building {name} failed")
    return out


def find_binaries(build_dir: Path, binaries: list[str]) -> dict[str, Path]:
    found = {}
    for name in binaries:
        for d in (build_dir, build_dir / "benchmarks"):
            if (d / name).is_file() and os.access(d / name, os.X_OK):
                found[name] = d / name
                break
        else:
            log(f"bench-table: no {name} in {build_dir} or {build_dir / 'benchmarks'}; skipped")
    return found


# --------------------------------------------------------------------------------------------
# Running and parsing

SUFFIX = re.compile(r"/(real_time|manual_time|process_time|threads:\d+|min_time:[^/]+|"
                    r"iterations:\d+|repeats:\d+)$")
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def strip_suffixes(name: str) -> str:
    while True:
        new = SUFFIX.sub("", name)
        if new == name:
            return name
        name = new


def run_cpp(binary: Path, args: argparse.Namespace, work: Path) -> tuple[dict, list]:
    """Returns ({(workload, queue): ns or 'ERR'}, [workload order])."""
    out = work / f"{binary.name}.json"
    cmd = [str(binary), f"--benchmark_repetitions={args.repetitions}",
           "--benchmark_report_aggregates_only=true", f"--benchmark_out={out}",
           "--benchmark_out_format=json"]
    if args.repetitions > 1:
        # Repetitions in random order across workloads: a burst of load on the (shared,
        # virtualised) machine then spoils single repetitions of several rows, which the
        # median discards, instead of all repetitions of one row.
        cmd.append("--benchmark_enable_random_interleaving=true")
    if args.min_time is not None:
        cmd.append(f"--benchmark_min_time={args.min_time}")
    if args.filter:
        cmd.append(f"--benchmark_filter={args.filter}")
    r = run(cmd, stdout=sys.stderr)
    if r.returncode != 0 or not out.is_file():
        log(f"bench-table: {binary.name} exited with {r.returncode}")
        if not out.is_file():
            return {}, []
    data = json.loads(out.read_text() or "{}")
    samples: dict[tuple[str, str], list[float]] = {}
    medians: dict[tuple[str, str], float | str] = {}
    order: list[str] = []
    for b in data.get("benchmarks", []):
        full = strip_suffixes(b.get("run_name", b["name"]))
        workload, _, queue = full.rpartition("/")
        if full.startswith("Floor/") or not workload:  # floors_bench: no queue part
            workload, queue = full, "floor"
        if workload not in order:
            order.append(workload)
        key = (workload, queue)
        if b.get("error_occurred"):
            medians[key] = "ERR"
            continue
        ns = float(b["real_time"]) * UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[key] = ns
        else:
            samples.setdefault(key, []).append(ns)
    for key, vals in samples.items():
        medians.setdefault(key, statistics.median(vals))
    # Interleaved runs come out shuffled: list the rows in the binary's registration order.
    listed = [strip_suffixes(n).rpartition("/")[0] or strip_suffixes(n)
              for n in run([str(binary), "--benchmark_list_tests"] +
                           ([f"--benchmark_filter={args.filter}"] if args.filter else []),
                           capture_output=True, text=True).stdout.split()]
    rank = {w: i for i, w in reversed(list(enumerate(listed)))}
    order.sort(key=lambda w: rank.get(w, len(rank)))
    return medians, order


GO_LINE = re.compile(r"^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op")


def run_go(args: argparse.Namespace, work: Path) -> dict[str, float]:
    go = shutil.which("go")
    if not go:
        log("bench-table: no `go` on PATH; Go column skipped")
        return {}
    cmd = [go, "test", "-run", "^$", "-bench", args.go_filter or ".", f"-count={args.repetitions}",
           "-timeout", "0"]
    if args.go_benchtime:
        cmd.append(f"-benchtime={args.go_benchtime}")
    env = dict(os.environ, GOMAXPROCS="2")
    r = run(cmd, cwd=GO_DIR, env=env, stdout=subprocess.PIPE, text=True)
    (work / "go.txt").write_text(r.stdout)
    sys.stderr.write(r.stdout)
    if r.returncode != 0:
        log(f"bench-table: go test exited with {r.returncode}")
    vals: dict[str, list[float]] = {}
    for line in r.stdout.splitlines():
        m = GO_LINE.match(line)
        if m:
            vals.setdefault(m.group(1), []).append(float(m.group(2)))
    return {k: statistics.median(v) for k, v in vals.items()}


# --------------------------------------------------------------------------------------------
# The table

def fmt(v: float | str | None) -> str:
    if v is None:
        return DASH
    if isinstance(v, str):
        return v
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def ratio(a: float | str | None, b: float | str | None) -> str:
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        return DASH
    r = a / b
    return (f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:,.0f}") + "×"


def unit_of(workload: str) -> str:
    if workload.startswith(("ProdCons/", "Crossbeam/")):
        return "item"
    if workload.startswith("PingPong/"):
        return "round trip"
    if workload.startswith("Context/CancelFanout/"):
        return "woken waiter"
    if workload.startswith("Context/SendRecv"):
        return "send+recv"
    if workload.startswith("Uncontended/"):
        return "send+recv"
    if workload.startswith("Floor/"):
        return "round trip"
    return "op"


def go_value(go: dict[str, float], workload: str) -> tuple[float | None, str]:
    if workload in go:
        return go[workload], ""
    base = workload.removesuffix("_select")
    if base != workload and base in go:
        return go[base], "¹"  # Go compiles a one-case select+default to the same operation
    return None, ""


def table(go: dict[str, float], cpp: dict, order: list[str]) -> str:
    queues_seen = {q for (_, q) in cpp if q != "floor"}
    peers = PEER_COLUMNS + sorted(q for q in queues_seen if q not in PEER_COLUMNS and q != "weft")
    header = ["workload", "unit", "Go", "weft", "weft/Go", *peers]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [w for w in order if not w.startswith("Floor/")]
    rows += [w for w in go if w not in rows and w + "_select" not in rows]
    for w in rows:
        g, mark = go_value(go, w)
        wv = cpp.get((w, "weft"))
        cells = [w, unit_of(w), fmt(g) + mark, fmt(wv), ratio(wv, g)]
        cells += [fmt(cpp.get((w, p))) for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    floors = [w for w in order if w.startswith("Floor/")]
    if floors:
        lines += ["", "| floor (no queue: a cross-thread round trip; Floor/cas: one locked instruction) | ns |", "|---|---|"]
        for w in floors:
            v = cpp.get((w, "floor"))
            lines.append(f"| {w} | {fmt(v)} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# --coro: tasks on 1 and 2 threads beside Go -cpu 1,2

CORO_ROW = re.compile(r"^(.*)/([^/]+)/(\d+)t$")
CORO_PEERS = ["weft_coro", "asio_cc", "fiber"]  # weft_coro: <weft/asio.hpp>, added by its rows
CORO_WORKLOADS = r"^(PingPong|ProdCons|ChanPopular|Context)/"
# go test -bench matches each /-separated level, and a benchmark with fewer levels than the
# pattern does not run: one pattern per shape (rows C++ does not have are left out of the table).
CORO_GO_BENCH = [r"^BenchmarkPingPong$/^cap0$", r"^BenchmarkProdCons$/^(1p1c|2p2c|8p8c)$/^(cap0|cap100)$",
                 r"^BenchmarkChanPopular$", r"^BenchmarkContext$/^CancelFanout$/^1000$"]
GO_CPU_LINE = re.compile(r"^Benchmark(\S+?)(?:-(\d+))?\s+\d+\s+([\d.]+) ns/op(.*)$")


def run_json(binary: Path, filt: str, reps: int, min_time: float | None, out: Path) -> list[dict]:
    """Runs one Google Benchmark binary, returns its JSON 'benchmarks' entries."""
    cmd = [str(binary), f"--benchmark_filter={filt}", f"--benchmark_repetitions={reps}",
           "--benchmark_report_aggregates_only=true", f"--benchmark_out={out}", "--benchmark_out_format=json"]
    if reps > 1:
        cmd.append("--benchmark_enable_random_interleaving=true")
    if min_time is not None:
        cmd.append(f"--benchmark_min_time={min_time}")
    r = run(cmd, stdout=sys.stderr)
    if r.returncode != 0:
        log(f"bench-table: {binary.name} exited with {r.returncode}")
    if not out.is_file():
        return []
    return json.loads(out.read_text() or "{}").get("benchmarks", [])


def medians_of(entries: list[dict]) -> dict[str, dict[str, float | str]]:
    """{row name: {'ns': ..., counter: ...}} from median aggregates, or medians of single runs."""
    runs: dict[str, list[dict]] = {}
    res: dict[str, dict[str, float | str]] = {}
    for b in entries:
        name = strip_suffixes(b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            res[name] = {"ns": "ERR"}
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        runs.setdefault(name, []).append(b)
    for name, bs in runs.items():
        if name in res:
            continue
        agg = [b for b in bs if b.get("run_type") == "aggregate"] or bs
        cell: dict[str, float | str] = {
            "ns": statistics.median(float(b["real_time"]) * UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
                                    for b in agg)}
        for k in ("rss_B_per_task", "wake_all_ms"):
            if k in agg[0]:
                cell[k] = statistics.median(float(b[k]) for b in agg)
        res[name] = cell
    return res


def go_cpu_lines(text: str) -> dict[tuple[str, int], list[dict[str, float]]]:
    """{(name, GOMAXPROCS): [{'ns': ..., metric: ...} per run]} from go test output."""
    out: dict[tuple[str, int], list[dict[str, float]]] = {}
    for line in text.splitlines():
        m = GO_CPU_LINE.match(line)
        if not m:
            continue
        cell = {"ns": float(m.group(3))}
        for val, unit in re.findall(r"([\d.e+]+) (\S+)", m.group(4)):
            cell[unit] = float(val)
        out.setdefault((m.group(1), int(m.group(2) or 1)), []).append(cell)
    return out


def run_go_coro(args: argparse.Namespace, work: Path) -> dict[tuple[str, int], dict[str, float]]:
    go = shutil.which("go")
    if not go:
        log("bench-table: no `go` on PATH; Go columns skipped")
        return {}
    text = ""
    for pattern in [args.go_filter] if args.go_filter else CORO_GO_BENCH:
        cmd = [go, "test", "-run", "^$", "-bench", pattern, "-cpu", "1,2", f"-count={args.repetitions}",
               "-timeout", "0"]
        if args.go_benchtime:
            cmd.append(f"-benchtime={args.go_benchtime}")
        text += run(cmd, cwd=GO_DIR, stdout=subprocess.PIPE, text=True).stdout
    for procs in (1, 2):  # Park: one fresh process per -cpu value and repetition
        for _ in range(args.park_repetitions):
            p = run([go, "test", "-run", "^$", "-bench", "^BenchmarkPark$", "-benchtime=1x", "-count=1",
                     "-cpu", str(procs), "-timeout", "0"], cwd=GO_DIR, stdout=subprocess.PIPE, text=True)
            text += p.stdout
    (work / "go-coro.txt").write_text(text)
    sys.stderr.write(text)
    res = {}
    for key, cells in go_cpu_lines(text).items():
        res[key] = {k: statistics.median(c[k] for c in cells if k in c) for k in cells[0]}
    return res


def coro_table(go: dict, cpp: dict, order: list[str], args: argparse.Namespace) -> str:
    cols = [f"{p}/{t}t" for p in CORO_PEERS for t in (1, 2)]
    cols = [c for c in cols if c.startswith("weft_coro") or any(k[1] == c for k in cpp)]
    header = ["workload", "unit", "Go -cpu 1", "Go -cpu 2", *cols, "weft_coro/1t ÷ Go 1", "weft_coro/2t ÷ Go 2"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    park = [w for w in order if w.startswith("Park/")]
    for w in order:
        if w in park:
            continue
        g1, g2 = (go.get((w, p), {}).get("ns") for p in (1, 2))
        cells = [w, unit_of(w), fmt(g1), fmt(g2)] + [fmt(cpp.get((w, c), {}).get("ns")) for c in cols]
        cells += [ratio(cpp.get((w, "weft_coro/1t"), {}).get("ns"), g1),
                  ratio(cpp.get((w, "weft_coro/2t"), {}).get("ns"), g2)]
        lines.append("| " + " | ".join(cells) + " |")
    for w in park:
        lines += ["", f"{w}: RSS per parked task (B) · wake all by one close: ns per task (whole, ms); "
                  f"each cell a median of {args.park_repetitions} fresh process(es)", "",
                  "| tasks on | RSS B/task | wake ns/task | wake all ms |", "|---|---|---|---|"]
        for p in (1, 2):
            g = go.get((w, p))
            if g:
                lines.append(f"| Go -cpu {p} (goroutines) | {fmt(g.get('B/goroutine'))} | {fmt(g.get('ns'))} | "
                             f"{fmt(g.get('wake_all_ms'))} |")
        for c in cols:
            v = cpp.get((w, c))
            if v:
                lines.append(f"| {c} | {fmt(v.get('rss_B_per_task'))} | {fmt(v.get('ns'))} | "
                             f"{fmt(v.get('wake_all_ms'))} |")
    spin = cpp.get(("Floor/spin", "floor"), {}).get("ns")
    lines += ["", f"Floor/spin of this run (one cache line bounced between two threads, round trip): "
              f"{fmt(spin)} ns"]
    return "\n".join(lines)


def main_coro(args: argparse.Namespace, work: Path) -> str:
    cpp: dict = {}
    order: list[str] = []
    if not args.no_cpp:
        bins = find_binaries(args.build_dir, CORO_BINARIES) if args.build_dir else \
            {n: build(work, CORO_BINARIES) / n for n in CORO_BINARIES}
        if "coro_bench" in bins:
            coro = bins["coro_bench"]
            res = medians_of(run_json(coro, args.filter or CORO_WORKLOADS, args.repetitions, args.min_time,
                                      work / "coro_bench.json"))
            parks = [n for n in run([str(coro), "--benchmark_list_tests", "--benchmark_filter=^Park/"],
                                    capture_output=True, text=True).stdout.split()]
            if args.filter and not re.search(args.filter, "Park/"):
                parks = []
            for name in parks:
                row_name = strip_suffixes(name)
                runs = []
                for i in range(args.park_repetitions):
                    runs += run_json(coro, "^" + re.escape(row_name) + "(/|$)", 1, None,
                                     work / f"park-{row_name.replace('/', '_')}-{i}.json")
                res.update(medians_of(runs))
            for name, cell in res.items():
                m = CORO_ROW.match(name)
                if m:
                    cpp[(m.group(1), f"{m.group(2)}/{m.group(3)}t")] = cell
                    if m.group(1) not in order:
                        order.append(m.group(1))
            listed = [CORO_ROW.match(strip_suffixes(n)) for n in run(
                [str(coro), "--benchmark_list_tests"], capture_output=True, text=True).stdout.split()]
            rank = {}
            for m in listed:
                if m:
                    rank.setdefault(m.group(1), len(rank))
            order.sort(key=lambda w: rank.get(w, len(rank)))
        if "floors_bench" in bins:
            for name, cell in medians_of(run_json(bins["floors_bench"], "^Floor/spin(/|$)", args.repetitions,
                                                  args.min_time, work / "floors_bench.json")).items():
                cpp[(name, "floor")] = cell
    go = {} if args.no_go else run_go_coro(args, work)
    return coro_table(go, cpp, order, args)



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", type=Path, help="take channel_bench/floors_bench from DIR or DIR/benchmarks")
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "weft-bench-table",
                    help="where hand-built binaries and raw results go (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="1 repetition, short runs: a smoke test")
    ap.add_argument("--repetitions", type=int, default=None, help="default 5 (1 with --quick)")
    ap.add_argument("--min-time", type=float, default=None, help="Google Benchmark min time per benchmark, s")
    ap.add_argument("--go-benchtime", default=None, help="go test -benchtime (default Go's 1s; 100ms with --quick)")
    ap.add_argument("--filter", default=None, help="--benchmark_filter regex for the C++ binaries")
    ap.add_argument("--go-filter", default=None, help="go test -bench regex (default .)")
    ap.add_argument("--no-go", action="store_true", help="skip the Go benchmarks")
    ap.add_argument("--no-cpp", action="store_true", help="skip the C++ benchmarks")
    ap.add_argument("--coro", action="store_true",
                    help="the coroutine table (coro_bench beside Go -cpu 1,2, Park rows, Floor/spin)")
    ap.add_argument("--park-repetitions", type=int, default=None,
                    help="--coro: fresh processes per Park row (default: --repetitions)")
    args = ap.parse_args()
    if args.repetitions is None:
        args.repetitions = 1 if args.quick else 5
    if args.quick:
        if args.min_time is None:
            args.min_time = 0.02
        if args.go_benchtime is None:
            args.go_benchtime = "100ms"
    if args.park_repetitions is None:
        args.park_repetitions = args.repetitions
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    load_before = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    if load_before and float(load_before[0]) > 0.5 * (os.cpu_count() or 1):
        log(f"bench-table: WARNING: load average {load_before[0]} on {os.cpu_count()} CPUs - "
            "other work on this machine will distort the numbers (spinning hand-offs most)")

    if args.coro:
        body = main_coro(args, work)
        load_after = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        print(f"weft coroutine benchmarks, {datetime.datetime.now().isoformat(timespec='minutes')}, "
              f"{os.cpu_count()} CPUs, medians of {args.repetitions} "
              f"{'(--quick) ' if args.quick else ''}run(s); ns per unit, lower is better; "
              f"load average before/after: {' '.join(load_before)} / {' '.join(load_after)}")
        print()
        print(body)
        print()
        print("<peer>/<K>t: tasks on K OS threads (an io_context run by K threads; Boost.Fiber: K threads, "
              "shared_work for 2); Go -cpu K: GOMAXPROCS=K.  fiber cap100 holds 127 (2^k-1); "
              "fiber has no select (no ChanPopular).  "
              f"Raw results: {work}")
        return

    cpp: dict = {}
    order: list[str] = []
    if not args.no_cpp:
        if args.build_dir:
            bins = find_binaries(args.build_dir, CPP_BINARIES)
        else:
            out = build(work, CPP_BINARIES)
            bins = {n: out / n for n in CPP_BINARIES}
        for name in CPP_BINARIES:
            if name in bins:
                res, o = run_cpp(bins[name], args, work)
                cpp.update(res)
                order += [w for w in o if w not in order]
    go = {} if args.no_go else run_go(args, work)

    load_after = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"weft channel benchmarks, {datetime.datetime.now().isoformat(timespec='minutes')}, "
          f"{os.cpu_count()} CPUs, GOMAXPROCS=2, medians of {args.repetitions} "
          f"{'(--quick) ' if args.quick else ''}run(s); ns per unit, lower is better; "
          f"load average before/after: {' '.join(load_before)} / {' '.join(load_after)}")
    print()
    print(table(go, cpp, order))
    print()
    print("¹ Go column repeats the row without `_select`: Go compiles a one-case select with default "
          "to that same non-blocking operation.  "
          "Peers without a rendezvous show – in cap0 rows; select rows are weft-only; "
          "ChanNonblocking polls an empty queue of the smallest capacity a peer has (1).  "
          "boost_fiber capacities are 2^k-1 (see the `cap` counter in the JSON).  "
          f"Raw results: {work}")


if __name__ == "__main__":
    main()
