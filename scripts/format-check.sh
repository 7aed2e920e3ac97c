#!/usr/bin/env bash
# Checks that the C++ sources follow .clang-format (clang-format --dry-run --Werror).
# Usage: scripts/format-check.sh          check; lists the files that differ; exit 1 if any
#        scripts/format-check.sh --fix    reformat those files in place
# Environment: CLANG_FORMAT (default clang-format-19; 14 mishandles C++20, see .clang-format)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cf=${CLANG_FORMAT:-clang-format-19}
if ! command -v "$cf" >/dev/null; then
    echo "format-check: $cf not found (Debian: apt-get install clang-format-19, or scripts/setup-debian.sh)" >&2
    exit 2
fi

dirs=(include tests examples benchmarks)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked files plus new ones not yet added (but not ignored ones, e.g. build trees)
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${dirs[@]}" |
        grep -E '\.(hpp|cpp|h|cc|ipp)$' | sort -u | while read -r f; do [[ -f $f ]] && echo "$f"; done)
else
    mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \
        -o -name '*.cc' -o -name '*.ipp' \) 2>/dev/null | sort)
fi
if ((${#files[@]} == 0)); then
    echo "format-check: no C++ files"
    exit 0
fi

if [[ ${1:-} == --fix ]]; then
    "$cf" -i "${files[@]}"
    echo "format-check: reformatted ${#files[@]} files with $("$cf" --version)"
    exit 0
fi

bad=()
for f in "${files[@]}"; do
    if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
        bad+=("$f")
    fi
done
if ((${#bad[@]} == 0)); then
    echo "format-check: ${#files[@]} files OK ($("$cf" --version))"
    exit 0
fi
echo "format-check: ${#bad[@]} of ${#files[@]} files differ from .clang-format:"
for f in "${bad[@]}"; do
    echo "  $f ($("$cf" --dry-run "$f" 2>&1 | grep -c 'warning:') places)"
done
echo "first differences:"
"$cf" --dry-run --Werror "${bad[0]}" 2>&1 | head -20 || true
echo "fix with: scripts/format-check.sh --fix"
exit 1
