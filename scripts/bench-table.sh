#!/bin/sh
# Run weft's channel benchmarks (C++ and Go twins) and print one Markdown table of medians.
# All the work is in bench-table.py (Python 3 standard library only); see --help.
#   scripts/bench-table.sh                       # build by hand, 5 repetitions, ~30 min on 2 cores
#   scripts/bench-table.sh --quick               # smoke test: 1 repetition, short runs
#   scripts/bench-table.sh --build-dir build     # use build/benchmarks/{channel,floors}_bench
exec python3 "$(dirname "$0")/bench-table.py" "$@"
