#!/usr/bin/env python3
"""Checks that the code quoted in the docs is the code that the test suite runs.

Usage: scripts/check-docs.py [FILE.md ...]   (default: README.md and docs/**/*.md)

A fenced code block is checked when the paragraph just before it names a file under
examples/ (the last one it names counts), e.g. "From [`examples/select.cpp`](...):". The block
must then appear verbatim, as consecutive lines, in that file: a .cpp or .go source, or a
.expected file holding a program's exact stdout. Blocks after a paragraph that names no such
file (illustrations, misuse snippets) are not checked. Links to other pages under docs/ must
point at files that exist, unless they are listed in PENDING (pages still being written).

Outside fenced blocks, two more kinds of error that render silently wrong on GitHub:
- tables (GitHub-flavoured Markdown): every row must have as many cells as the header (a
  `|` inside a cell is written `\|`), and a `|` row must belong to a table: one after a blank
  line, without a header and delimiter row of its own, is a table that a blank line broke in
  two (it renders as a paragraph of pipes);
- code spans that name a file of the repository (`benchmarks/floors_bench.cpp`,
  `include/weft/fan.hpp`, `weft/fan.hpp`) must name one that exists, unless the span is the
  text of a link (the link is checked) or the path is listed in ELSEWHERE (files of other
  projects, or ones the page says are planned).

Exit status: 0 when everything matches, 1 otherwise. Python 3 standard library only.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE_PATH = re.compile(r"examples/[\w./-]+\.(?:cpp|go|expected)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PENDING = {
    "docs/errors.md",  # weft's error model, written with weft/errors.hpp (issue 10)
}
# Paths in code spans that are not files of this repository, and why.
ELSEWHERE = {
    "runtime/chan.go": "Go's runtime, cited as the algorithm's source",
}
CODE_PATH = re.compile(r"(?<!\[)`([\w.-]+(?:/[\w.-]+)+\.(?:md|cpp|hpp|py|sh|cmake|txt|go|build|expected|in|json|mod))`(?!\]\()")
DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


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


def cells(row):
    """The cells of a table row, split on the pipes that are not escaped (GFM splits inside
    code spans too)."""
    s = row.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return re.split(r"(?<!\\)\|", s)


def prose(lines):
    """Yields (line number, line) for the lines outside fenced code blocks."""
    fence = None
    for lineno, line in enumerate(lines, 1):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif line.strip().startswith(fence):
                fence = None
            continue
        if fence is None:
            yield lineno, line


def check_tables(md, lines):
    errors = []
    where = md.relative_to(ROOT)
    text = list(prose(lines))
    header = None  # the cell count of the table being read; None outside a table
    i = 0
    while i < len(text):
        lineno, line = text[i]
        i += 1
        is_row = line.lstrip().startswith("|")
        if not line.strip():
            header = None
        elif header is not None:
            if DELIMITER.match(line):
                errors.append(f"{where}:{lineno}: a second delimiter row inside a table "
                              "(a blank line missing before the next table?)")
            elif is_row and len(cells(line)) != header:
                errors.append(f"{where}:{lineno}: table row has {len(cells(line))} cells, "
                              f"its header {header}")
        elif is_row and i < len(text) and text[i][0] == lineno + 1 and DELIMITER.match(text[i][1]):
            header = len(cells(line))
            if len(cells(text[i][1])) != header:
                errors.append(f"{where}:{text[i][0]}: delimiter row has "
                              f"{len(cells(text[i][1]))} cells, its header {header}")
            i += 1  # the delimiter row
        elif is_row:
            errors.append(f"{where}:{lineno}: table row outside a table (a blank line "
                          "breaks the table above, or the header row is missing)")
    return errors


def check_paths(md, lines):
    errors = []
    for lineno, line in prose(lines):
        for path in CODE_PATH.findall(line):
            if path in ELSEWHERE:
                continue
            bases = [ROOT, ROOT / "include", ROOT / "include" / "weft", md.parent]
            if not any((b / path).exists() for b in bases):
                errors.append(f"{md.relative_to(ROOT)}:{lineno}: names {path}, which the "
                              "repository does not have")
    return errors


def check(md):
    errors = []
    lines = md.read_text(encoding="utf-8").split("\n")
    errors += check_tables(md, lines)
    errors += check_paths(md, lines)
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
