#!/usr/bin/env python3
"""Runs a program and checks its stdout: the example tests of both builds.

Usage: scripts/run-and-compare.py EXPECTED PROGRAM [ARG ...]

Fails (exit 1) when PROGRAM exits non-zero, or when EXPECTED exists and PROGRAM's stdout is not
exactly its contents (line endings normalised to \\n; nothing else is forgiven). With no
EXPECTED file, only the exit status counts. stderr is passed through for diagnostics.
Python 3 standard library only.
"""
import pathlib
import subprocess
import sys


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    expected, cmd = pathlib.Path(argv[1]), argv[2:]
    run = subprocess.run(cmd, stdout=subprocess.PIPE)
    out = run.stdout.decode("utf-8", "replace").replace("\r\n", "\n")
    if run.returncode != 0:
        print(f"---- stdout of {cmd[0]} ----\n{out}----")
        print(f"{cmd[0]} exited with {run.returncode} (expected 0)")
        return 1
    if not expected.is_file():
        print(f"{cmd[0]} exited 0 (no {expected.name} to compare)")
        return 0
    want = expected.read_text(encoding="utf-8").replace("\r\n", "\n")
    if out == want:
        print(f"stdout matches {expected}")
        return 0
    got_lines, want_lines = out.split("\n"), want.split("\n")
    first = next((i for i, (a, b) in enumerate(zip(got_lines, want_lines)) if a != b), None)
    print(f"---- expected ({expected}) ----\n{want}---- actual stdout ----\n{out}----")
    if first is None:
        print(f"expected {len(want_lines)} line(s), got {len(got_lines)}")
    else:
        print(f"first difference at line {first + 1}:\n  expected: {want_lines[first]}\n"
              f"  actual:   {got_lines[first]}")
    print(f"stdout of {cmd[0]} differs from {expected}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
