"""The repository stands alone: no tracked file cites a path outside it, and the design document it cites is its own
(docs/DESIGN.md)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Recorded command lines of past benchmark runs (kept verbatim: they say how each figure was made, on that machine).
RECORDS = ("benchmarks/results/",)
OUTSIDE = re.compile(r"\.\./shared\b|/work/shared\b|\.\./\.\./")
DESIGN = re.compile(r"(?<![\w/.-])(?:[\w.-]+/)*DESIGN\.md")


def _tracked_text_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = []
    for name in out.decode().split("\0"):
        if not name or name.startswith(RECORDS):
            continue
        path = os.path.join(REPO, name)
        try:
            with open(path, encoding="utf-8") as f:
                files.append((name, f.read()))
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary (figures) or deleted in the work tree
    return files


def _hits(pattern: re.Pattern, keep=lambda match: True) -> list[str]:
    hits = []
    for name, text in _tracked_text_files():
        for number, line in enumerate(text.splitlines(), start=1):
            hits += [f"{name}:{number}: {m.group(0)}" for m in pattern.finditer(line) if keep(m)]
    return hits


def test_no_tracked_file_cites_a_path_outside_the_repository():
    hits = [h for h in _hits(OUTSIDE) if not h.startswith("tests/test_references.py:")]
    assert not hits, "paths outside the repository (use a placeholder such as /path/to/meld):\n" + "\n".join(
        hits
    )


def test_every_design_document_reference_is_docs_design_md():
    assert os.path.isfile(os.path.join(REPO, "docs", "DESIGN.md"))
    hits = [
        h
        for h in _hits(DESIGN, keep=lambda m: m.group(0) != "docs/DESIGN.md")
        if not h.startswith("tests/test_references.py:")
    ]
    assert not hits, "cite the design document as docs/DESIGN.md:\n" + "\n".join(hits)


def test_the_patterns_catch_what_they_are_for():
    assert OUTSIDE.search("--meld_dir ../shared/data/meld") and OUTSIDE.search("see /work/shared/docs")
    assert not OUTSIDE.search("--meld_dir /path/to/meld")
    found = [m.group(0) for m in DESIGN.finditer("docs/DESIGN.md, ../shared/docs/DESIGN.md and DESIGN.md")]
    assert found == ["docs/DESIGN.md", "../shared/docs/DESIGN.md", "DESIGN.md"]
