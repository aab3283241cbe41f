# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The `mcn-cl` command line.

    mcn-cl predict --model runs/demo --conversation conversation.json [--output predictions.json] [--top_k 3]
    mcn-cl predict --model runs/demo --clips my_clips/ [--csv my_clips/conversation.csv] [--on_error mask]
    mcn-cl stream --model runs/demo_causal --conversation demo_corpus/manifest.json --dialogue demo014 [--follow]
    mcn-cl data-stats /data/MELD.Raw
    mcn-cl segment call.wav -o conversation.csv [--asr openai/whisper-small]
    mcn-cl predict --model runs/demo --recording call.mp4 --plot timeline.png --subtitles call.srt
    mcn-cl app --model runs/demo

One module per subcommand (`predict`, `stream`, `data_stats`), each with `register(subparsers)`, which adds its
parser without importing anything heavy and sets `func=run`, and `run(args) -> int`, which imports torch,
transformers, datasets, ... when it runs: `mcn-cl --help` and every `mcn-cl COMMAND --help` import no torch.
`readers` reads conversation files (the formats are in its docstring); `common` holds `CLIError` (printed as
`mcn-cl COMMAND: error: ...`, exit status 2), the shared arguments and the checks made before the work starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..recording.commands import register_app, register_segment
from . import data_stats, predict, stream
from .common import EXIT_USAGE, CLIError, error_message
from .common import write_timelines as _plot  # noqa: F401  (the name the timeline tests use)
from .predict import format_table
from .readers import read_clips_csv, read_conversation_json

COMMANDS = (predict, stream, data_stats)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcn-cl", description="MCN-CL: multimodal emotion recognition in conversation."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    register_segment(subparsers)  # mcn-cl segment RECORDING -o conversation.csv
    register_app(subparsers)  # mcn-cl app --model DIR (Gradio)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcn-cl` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return args.func(args)
    except CLIError as err:
        parser.exit(EXIT_USAGE, error_message(args.command, err))


__all__ = [
    "CLIError",
    "build_parser",
    "format_table",
    "main",
    "read_clips_csv",
    "read_conversation_json",
]
