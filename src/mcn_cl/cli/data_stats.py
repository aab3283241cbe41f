# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`mcn-cl data-stats DIR`: per-split label, dialogue, utterance and missing-media counts of a dataset copy.

The arguments live here (parsed without importing `datasets`); the work is `mcn_cl.datasets_scripts.stats.run`.
"""

from __future__ import annotations

import argparse

DESCRIPTION = "Per-split label, dialogue, utterance and missing-media counts."


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of `mcn-cl data-stats` (also `mcn_cl.datasets_scripts.stats.build_parser`'s)."""
    parser.add_argument(
        "path",
        help="IEMOCAP_full_release folder, MELD.Raw folder, feature .pkl, folder of your own conversations "
        "(conversation.csv), or saved dataset",
    )
    parser.add_argument(
        "--dataset", choices=["auto", "iemocap", "meld", "pickle", "conversations", "saved"], default="auto"
    )
    parser.add_argument("--config", default=None, help="iemocap: 6class|4class; meld: emotion|sentiment")
    parser.add_argument("--keep-unlabelled", action="store_true", help="iemocap: keep other codes as context")
    parser.add_argument("--csv-dir", default=None, help="meld: folder of the CSVs if not in PATH")
    parser.add_argument("--no-check-media", action="store_true", help="meld: do not open the clips")
    parser.add_argument("--max-clip-seconds", type=float, default=60.0, help="meld: longer clips are masked")
    parser.add_argument("--pickle-dataset", choices=["iemocap", "meld"], default=None, help="pickle: layout")
    parser.add_argument("--cache-dir", default=None, help="datasets cache folder")
    parser.add_argument(
        "--list-missing",
        action="store_true",
        help="also list every utterance whose audio or video is masked (null path), one per line",
    )
    return parser


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `data-stats` parser (no heavy import) with `func=run`."""
    p = subparsers.add_parser(
        "data-stats",
        help="per-split label, dialogue, utterance and missing-media counts of a dataset copy",
        description=DESCRIPTION,
    )
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..datasets_scripts import stats
    from ..datasets_scripts._common import DatasetFormatError
    from .common import CLIError

    try:
        return stats._run(args)
    except (stats.DataStatsError, DatasetFormatError, OSError, ValueError) as err:
        # a path it cannot classify, a format error naming file:line, a missing folder or file
        raise CLIError(str(err)) from err


__all__ = ["DESCRIPTION", "add_arguments", "register", "run"]
