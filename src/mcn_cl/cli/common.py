# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What the subcommands of `mcn-cl` share: the error type and its format, argument helpers, checks made before
the work starts, the checkpoint loader and the timeline writer.

Standard library only at import time (the command line parses its arguments without torch); `load_classifier`
and `write_timelines` import the heavy libraries when called.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote


class CLIError(Exception):
    """A bad argument or input file: printed as `mcn-cl <command>: error: ...` with exit status 2."""


EXIT_USAGE = 2


def error_message(command: str | None, err: BaseException) -> str:
    """The line printed for a `CLIError` of `command` (argparse's own format, `prog: error: message`)."""
    prog = f"mcn-cl {command}" if command else "mcn-cl"
    return f"{prog}: error: {err}\n"


# --------------------------------------------------------------------------------------------------- arguments


def positive_seconds(value: str) -> float:
    """argparse `type` of a duration: a finite number of seconds above 0 (refuses `nan`, `inf`, `0`, `-1`)."""
    try:
        seconds = float(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from err
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, not {value!r}")
    return seconds


def add_input_arguments(p: argparse.ArgumentParser, model_help: str, dialogue_help: str):
    """`predict`'s and `stream`'s checkpoint and conversation source arguments (read by `load_classifier` and
    `read_conversations`); returns the group of the mutually exclusive conversation sources."""
    p.add_argument("--model", required=True, help=model_help)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--conversation", help="JSON file: a conversation, a list of them or a demo manifest")
    source.add_argument("--clips", help="folder of utterance clips, described by --csv")
    p.add_argument("--csv", help="utterance table of --clips (default: CLIPS/conversation.csv)")
    p.add_argument("--dialogue", help=dialogue_help)
    return source


def add_prediction_arguments(p: argparse.ArgumentParser) -> None:
    """`predict`'s and `stream`'s --top_k, --on_error and --device."""
    p.add_argument(
        "--top_k", type=int, default=None, help="labels kept in each utterance's scores (default: all)"
    )
    p.add_argument(
        "--on_error",
        choices=["raise", "mask"],
        default="raise",
        help="missing / unreadable media: fail (raise), or predict from the remaining modalities (mask)",
    )
    p.add_argument(
        "--device", default=None, help="cpu, a GPU index (0) or cuda:1 (default: GPU 0 if available)"
    )


# ------------------------------------------------------------------------------------------- checks up front


def check_output(path: str | None, option: str = "--output") -> None:
    """Refuse an output file (`--output`, `--plot`) that cannot be written, before the work starts: a folder, a
    path under a file, or a folder that is not writable."""
    if path is None:
        return
    if os.path.isdir(path):
        example = os.path.join(path, "predictions.json" if option == "--output" else "timeline.png")
        raise CLIError(f"{option} {path}: is a folder; give a file name, e.g. {example}")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):  # the first existing ancestor must be a writable folder
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise CLIError(f"{option} {path}: {parent} is not a writable folder (it is a file)")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{option} {path}: {parent} is not a writable folder")


def check_model_path(args: argparse.Namespace) -> None:
    """A `--model` that looks like a local path (absolute, relative or not `owner/name`) must be a folder."""
    looks_local = os.path.isabs(args.model) or args.model.startswith(".") or args.model.count("/") != 1
    if looks_local and not os.path.isdir(args.model):
        raise CLIError(f"--model {args.model}: no such folder")


def read_conversations(args: argparse.Namespace, text: str | None = None) -> list[dict[str, Any]]:
    """The conversations of `--conversation` or `--clips` / `--csv`, only the one with id `--dialogue` if given;
    `text`: the file's content as already read (`stream --follow`), instead of opening it."""
    from .readers import read_clips_csv, read_conversation_json

    if args.conversation is not None:
        return read_conversation_json(args.conversation, args.dialogue, text=text)
    conversations = read_clips_csv(args.clips, args.csv, text=text)
    if args.dialogue is not None:
        conversations = [c for c in conversations if c["dialogue_id"] == args.dialogue]
        if not conversations:
            raise CLIError(f"no conversation with dialogue_id {args.dialogue!r} in the CSV")
    return conversations


# ------------------------------------------------------------------------------------------- model and device


def parse_device(value: str | None):
    """`--device` -> what `pipeline(device=...)` takes; a device this machine lacks is a `CLIError`."""
    if value is None:
        return None
    import torch

    device = int(value) if value.lstrip("-").isdigit() else value
    if isinstance(device, int) and device < 0:
        return device  # the pipeline's "CPU"
    try:
        parsed = torch.device(f"cuda:{device}" if isinstance(device, int) else device)
    except (RuntimeError, ValueError) as err:
        raise CLIError(f"--device {value}: not a device ({err})") from err
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"--device {value}: no CUDA GPU is available on this machine (use --device cpu)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise CLIError(f"--device {value}: only {torch.cuda.device_count()} CUDA GPU(s) on this machine")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise CLIError(f"--device {value}: MPS is not available on this machine (use --device cpu)")
    return device


def load_classifier(args: argparse.Namespace):
    """The `"multimodal-emotion-recognition"` pipeline of `--model` on `--device`, with the package's own classes
    (not the folder's copies of the code: no trust_remote_code needed). A missing folder, a device this machine
    lacks or a checkpoint that does not load is a `CLIError`."""
    check_model_path(args)
    from transformers import pipeline

    from ..pipeline_mcn_cl import TASK, MultimodalEmotionRecognitionPipeline

    device = parse_device(args.device)
    try:
        return pipeline(
            TASK, model=args.model, pipeline_class=MultimodalEmotionRecognitionPipeline, device=device
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as err:
        # a folder with a bogus config.json, a Hub id while offline, a checkpoint of another model, ...
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CLIError(
            f"--model {args.model}: cannot load the checkpoint ({type(err).__name__}: {reason})"
        ) from err


def gold(utterance: Mapping[str, Any], id2label: Mapping[int, str]) -> str:
    """The gold label name of an input utterance, or "" when it has none."""
    label = utterance.get("label")
    if label is None or (isinstance(label, int) and label < 0):
        return ""
    return id2label.get(label, str(label)) if isinstance(label, int) else str(label)


# --------------------------------------------------------------------------------------------------- timeline

PLOT_HELP = (
    "draw the emotion timeline (one lane per speaker, one bar per utterance) into this PNG; with several "
    "conversations, one PNG each, named PLOT_<dialogue_id>.png (characters other than letters, digits and "
    "_ . - ~ written as %%XX, so that two ids never share a file)"
)

_MAX_ID_CHARS = 96  # longer escaped ids are cut and end in a digest (file names stay under 255 bytes)


def timeline_paths(path: str, dialogue_ids: Sequence[str]) -> list[str]:
    """The PNG of each conversation: `path` itself for one, else `ROOT_<escaped id>EXT`, one distinct file per
    conversation. The id is percent-escaped (`a/b` -> `a%2Fb`, `a_b` stays), which is one-to-one; a repeated id
    gets `+2`, `+3` (`+` is always escaped in an id, so no id can produce it)."""
    if len(dialogue_ids) == 1:
        return [path]
    root, ext = os.path.splitext(path)
    ext = ext or ".png"
    out, seen = [], {}
    for dialogue_id in dialogue_ids:
        name = quote(str(dialogue_id), safe="")
        if len(name) > _MAX_ID_CHARS:
            digest = hashlib.sha256(str(dialogue_id).encode("utf-8")).hexdigest()[:16]
            name = f"{name[: _MAX_ID_CHARS - 17]}+{digest}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}+{seen[name]}"
        out.append(f"{root}_{name}{ext}")
    return out


def write_timelines(
    path: str,
    conversations: Sequence[Mapping[str, Any]],
    predictions: Sequence[Sequence[Mapping[str, Any]]],
    id2label: Mapping[int, str],
    online: bool,
) -> list[str]:
    """Write the emotion timeline of each conversation (`mcn_cl.plotting`), with the gold labels the input has;
    returns the files written (`timeline_paths`)."""
    from ..plotting import plot_emotion_timeline

    label_names = [id2label[k] for k in sorted(id2label)]
    paths = timeline_paths(path, [c["dialogue_id"] for c in conversations])
    written = []
    for conversation, preds, out in zip(conversations, predictions, paths):
        dialogue_id = conversation["dialogue_id"]
        labels = [u.get("label") for u in conversation["utterances"][: len(preds)]]
        mode = "online, past context only" if online else "offline, whole conversation"
        try:
            plot_emotion_timeline(
                preds,
                labels=labels if any(g is not None for g in labels) else None,
                path=out,
                title=f"Emotion timeline: conversation {dialogue_id} ({mode})",
                label_names=label_names,
            )
        except (ValueError, TypeError, IndexError, OSError) as err:
            raise CLIError(f"--plot {out}: {err}") from err
        sys.stdout.write(f"timeline written to {out}\n")
        written.append(out)
    return written


__all__ = [
    "CLIError",
    "EXIT_USAGE",
    "PLOT_HELP",
    "add_input_arguments",
    "add_prediction_arguments",
    "check_model_path",
    "check_output",
    "error_message",
    "gold",
    "load_classifier",
    "parse_device",
    "positive_seconds",
    "read_conversations",
    "timeline_paths",
    "write_timelines",
]
