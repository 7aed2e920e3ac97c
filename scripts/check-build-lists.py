#!/usr/bin/env python3
"""Checks that CMake and Meson build the same files: every source in the directories below is
named in the build files that list that directory's sources, in both builds.

Neither build globs (Meson cannot; CMake's glob hides a file that one build drops), so a new
test, example or benchmark is one line in each build file, and this check, run by both test
suites, fails until both have it.

Usage: scripts/check-build-lists.py     exit 0 when every file is listed, 1 otherwise.
Python 3 standard library only.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# (directory, glob, the build files that must name each of its files[, base]). A file is named
# by its path relative to the build file's directory, or to `base` when the rule gives one.
RULES = [
    ("tests", "*.cpp", ["tests/CMakeLists.txt", "tests/meson.build"]),
    ("tests/compile_fail", "*.cpp", ["tests/compile_fail/CMakeLists.txt", "tests/meson.build"]),
    ("examples", "*.cpp", ["examples/CMakeLists.txt", "examples/meson.build"]),
    ("examples/patterns", "*.cpp", ["examples/CMakeLists.txt", "examples/meson.build"]),
    ("benchmarks", "*.cpp", ["benchmarks/CMakeLists.txt", "benchmarks/meson.build"]),
    ("benchmarks/importer", "*.cpp", ["benchmarks/CMakeLists.txt", "benchmarks/meson.build"]),
    ("examples/importer", "*.cpp",
     ["examples/importer/CMakeLists.txt", "examples/importer/meson.build"]),
    ("examples/importer/tests", "*.cpp",
     ["examples/importer/CMakeLists.txt", "examples/importer/meson.build"]),
    ("examples/importer/tests", "*.py",
     ["examples/importer/CMakeLists.txt", "examples/importer/meson.build"]),
    ("examples/chat", "*.cpp", ["examples/chat/CMakeLists.txt", "examples/chat/meson.build"]),
    ("examples/chat/tests", "*.cpp",
     ["examples/chat/CMakeLists.txt", "examples/chat/meson.build"]),
    ("examples/importer/fuzz", "*.cpp",
     ["examples/importer/CMakeLists.txt", "examples/importer/meson.build"]),
    # Public headers, each compiled alone by the header_alone tests; named from include/.
    ("include/weft", "*.hpp", ["tests/compile_fail/CMakeLists.txt", "tests/meson.build"],
     "include"),
    ("include/weft/pipeline", "*.hpp", ["tests/compile_fail/CMakeLists.txt", "tests/meson.build"],
     "include"),
]


def listed(build_file, name):
    """True when `name` (a path relative to the build file's directory) appears in it as a
    whole token, outside comments."""
    text = "\n".join(line.split("#", 1)[0] for line in build_file.read_text().split("\n"))
    return re.search(r"(?<![\w/.-])" + re.escape(name) + r"(?![\w.-])", text) is not None


def main():
    errors = []
    checked = 0
    for directory, pattern, build_files, *base in RULES:
        for src in sorted((ROOT / directory).glob(pattern)):
            checked += 1
            for build_file in (ROOT / f for f in build_files):
                name = src.relative_to(ROOT / base[0] if base else build_file.parent).as_posix()
                if not listed(build_file, name):
                    errors.append(f"{src.relative_to(ROOT)} is not listed in "
                                  f"{build_file.relative_to(ROOT)} (as {name})")
    for e in errors:
        print(e)
    print(f"check-build-lists: {checked} source(s), {len(errors)} missing")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
