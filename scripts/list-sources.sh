#!/bin/sh
# list-sources.sh DIR PATTERN
# Prints the names (not paths) of the regular files in DIR that match the shell glob PATTERN,
# sorted, one per line; prints nothing when none match. Meson has no glob, so meson.build calls
# this through run_command() at configure time: after adding a file, run
#     meson setup --reconfigure BUILDDIR
# (CMake's file(GLOB CONFIGURE_DEPENDS) notices new files by itself).
set -eu
if [ "$#" -ne 2 ]; then
    echo "usage: $0 DIR PATTERN" >&2
    exit 2
fi
dir=$1
pattern=$2
[ -d "$dir" ] || exit 0
cd "$dir"
for f in $pattern; do
    [ -f "$f" ] && printf '%s\n' "$f"
done | LC_ALL=C sort
