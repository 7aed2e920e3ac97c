#!/usr/bin/env python3
"""Checks that the code quoted in the docs is the code that the test suite runs.

Usage: scripts/check-docs.py [FILE.md ...]   (default: README.md and docs/**/*.md)

A fenced code block is checked when the paragraph just before it names a file under
examples/ (the last one it names counts), e.g. "From [`examples/select.cpp`](...):". The block
must then appear verbatim, as consecutive lines, in that file: a .cpp or .go source, or a
.expected file holding a program's exact stdout. Blocks after a paragraph that names no such
file (illustrations, misuse snippets) are not checked. Links to other pages under docs/ must
point at files that exist, unless they are listed in PENDING (pages still being written).

Exit status: 0 when everything matches, 1 otherwise. Python 3 standard library only.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE_PATH = re.compile(r"examples/[\w./-]+\.(?:cpp|go|expected)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PENDING = {
}


def blocks(lines):
    """Yields (line number, the paragraph before the fence, the block's lines)."""
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not m or not m.group(2):
            i += 1
            continue
        indent = len(m.group(1))
        para = []
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        while j >= 0 and lines[j].strip():
            para.insert(0, lines[j])
            j -= 1
        body = []
        k = i + 1
        while k < len(lines) and lines[k].strip() != "```":
            body.append(lines[k][indent:] if lines[k][:indent].strip() == "" else lines[k])
            k += 1
        yield i + 1, " ".join(para), body
        i = k + 1


def contains(haystack, needle):
    n = len(needle)
    return any(haystack[s : s + n] == needle for s in range(len(haystack) - n + 1))


def check(md):
    errors = []
    lines = md.read_text(encoding="utf-8").split("\n")
    for lineno, para, body in blocks(lines):
        named = EXAMPLE_PATH.findall(para)
        if not named:
            continue
        src = ROOT / named[-1]
        where = f"{md.relative_to(ROOT)}:{lineno}"
        if not src.is_file():
            errors.append(f"{where}: quotes {named[-1]}, which does not exist")
            continue
        text = [l.rstrip() for l in src.read_text(encoding="utf-8").split("\n")]
        if not contains(text, [l.rstrip() for l in body]):
            errors.append(f"{where}: block is not a verbatim excerpt of {named[-1]}")
    for lineno, line in enumerate(lines, 1):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            path = (md.parent / target).resolve()
            rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
            if not path.exists() and rel not in PENDING:
                errors.append(f"{md.relative_to(ROOT)}:{lineno}: broken link {target}")
    return errors


def main(argv):
    files = [pathlib.Path(a).resolve() for a in argv[1:]]
    if not files:
        files = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
    files = [f for f in files if f.is_file()]
    errors = [e for f in files for e in check(f)]
    for e in errors:
        print(e)
    print(f"check-docs: {len(files)} page(s), {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
