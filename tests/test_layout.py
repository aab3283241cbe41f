"""One concern per file: no library module grows past ~600 lines (docs/DESIGN.md, "Decisions of the fourth round").

A file that reaches the limit is split by concept (the way `modeling_mcn_cl.py`, `modeling_mcihn.py`, the
processors' padding, `safe_pickle.py` and `recording/segmentation.py` were), not trimmed of docstrings. Scripts
(`examples/`, `benchmarks/`) and tests are not library code and are not counted.
"""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = ("modeling", "processing", "datasets_scripts", os.path.join("src", "mcn_cl"))
MAX_LINES = 600


def library_files() -> list[str]:
    found = []
    for root in LIBRARY:
        for folder, _, names in os.walk(os.path.join(REPO, root)):
            found += [os.path.join(folder, n) for n in names if n.endswith(".py")]
    return sorted(found)


def test_the_library_is_found():
    names = {os.path.relpath(p, REPO) for p in library_files()}
    assert os.path.join("modeling", "modeling_mcn_cl.py") in names
    assert os.path.join("src", "mcn_cl", "cli", "__init__.py") in names
    assert len(names) > 40


def test_no_library_file_over_the_limit():
    too_long = {}
    for path in library_files():
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        if lines > MAX_LINES:
            too_long[os.path.relpath(path, REPO)] = lines
    assert not too_long, f"split these by concept (over {MAX_LINES} lines): {too_long}"
