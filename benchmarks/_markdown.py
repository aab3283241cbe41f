# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The one writer of the generated sections of BENCHMARKS.md, shared by the benchmark scripts."""

from __future__ import annotations

import os


def write_markdown(path: str, section: str, body: str) -> None:
    """Replace the text between `<!-- {section}:begin -->` and `<!-- {section}:end -->` in `path`."""
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------------- main
