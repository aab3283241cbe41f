# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Never overwrite a user's file: the one rule of every writer into a folder the user names.

A writer (the demo corpus generator, `examples/train.py`'s output folder, ...) writes only into a folder that does
not exist yet, is empty, or that it created itself earlier, which it recognises by a marker file it leaves there.
Anything else is a `FileExistsError` naming the folder and a few of the files in it.

    >>> from mcn_cl.folders import claim_folder
    >>> claim_folder("runs/demo_corpus", ".mcn_cl_demo_corpus", "the demo corpus")
"""

from __future__ import annotations

import os
from collections.abc import Callable


def claim_folder(
    path: str | os.PathLike,
    marker: str,
    what: str,
    recognise: Callable[[str], bool] | None = None,
    create: bool = True,
) -> str:
    """Make `path` a folder this writer may write into, or raise `FileExistsError`.

    Args:
        path: the folder.
        marker: name of the marker file that says "written by this writer" (created in the folder).
        what: what the writer writes, for the error message (e.g. `"the demo corpus"`).
        recognise: optional test of a non-empty folder without the marker that this writer wrote before markers
            existed (e.g. the demo manifest); such a folder gets the marker.
        create: create the folder and the marker (False: only check, for processes that must not write).

    Returns:
        The folder's path.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"{path}: is a file, not a folder; {what} needs a folder of its own")
    entries = sorted(os.listdir(path)) if os.path.isdir(path) else []
    ours = not entries or marker in entries or (recognise is not None and recognise(path))
    if not ours:
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise FileExistsError(
            f"{path}: the folder is not empty ({shown}) and was not written by {what}; nothing was written. "
            "Give a new or empty folder."
        )
    if create:
        os.makedirs(path, exist_ok=True)
        marker_path = os.path.join(path, marker)
        if not os.path.exists(marker_path):
            with open(marker_path, "w", encoding="utf-8") as f:
                f.write(f"This folder holds {what}, written by mcn-cl; it may replace the files in it.\n")
    return path


__all__ = ["claim_folder"]
