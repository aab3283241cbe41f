# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`mcn-cl predict`: the emotion of every utterance of one or more conversations, as a table.

    mcn-cl predict --model runs/demo --conversation conversation.json [--output predictions.json] [--top_k 3]
    mcn-cl predict --model runs/demo --clips my_clips/ [--csv my_clips/conversation.csv] [--on_error mask]

Reads the conversations (`mcn_cl.cli.readers`), runs the `"multimodal-emotion-recognition"` pipeline and prints
one row per utterance (speaker, predicted emotion, confidence); `--output` writes the predictions as JSON, `--plot`
draws the emotion timeline (`mcn_cl.plotting`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..recording.commands import add_recording_arguments
from .common import (
    PLOT_HELP,
    CLIError,
    add_input_arguments,
    add_prediction_arguments,
    check_model_path,
    check_output,
    gold,
    load_classifier,
    read_conversations,
    write_timelines,
)


def format_table(conversation: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], id2label) -> str:
    """One row per utterance: index, speaker, predicted emotion, confidence (and the gold label and text when the
    input has them)."""
    utterances = conversation["utterances"]
    golds = [gold(u, id2label) for u in utterances]
    header = ["utterance", "speaker", "emotion", "confidence"] + (["gold"] if any(golds) else []) + ["text"]
    rows = []
    for p, u, g in zip(predictions, utterances, golds):
        text = str(u.get("text") or "")
        text = text if len(text) <= 48 else text[:45] + "..."
        row = [str(p["utterance"]), str(p["speaker"] or ""), p["label"], f"{p['score']:.3f}"]
        if p.get("skipped"):
            row[3] += f" (no {'/'.join(p['skipped'])})"
        rows.append(row + ([g] if any(golds) else []) + [text])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"conversation {conversation['dialogue_id']}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `predict` parser (no heavy import) with `func=run`."""
    p = subparsers.add_parser(
        "predict",
        help="predict the emotion of every utterance of a conversation",
        description="Predict the emotion of every utterance of one or more conversations (a JSON file, or a "
        "folder of clips with a CSV of clip, speaker, text, audio, start, end, dialogue_id columns) "
        "with a saved MCN-CL checkpoint, and print a table.",
    )
    source = add_input_arguments(
        p,
        model_help="checkpoint folder (or Hub id) holding model and processor",
        dialogue_help="only the conversation with this dialogue_id",
    )
    p.add_argument("--output", help="write the predictions to this JSON file")
    add_prediction_arguments(p)
    p.add_argument("--batch_size", type=int, default=1, help="conversations per forward pass")
    p.add_argument("--plot", help=PLOT_HELP)
    add_recording_arguments(p, source)  # --recording, --asr, --subtitles (mcn_cl.recording)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if getattr(args, "recording", None):
        from ..recording.commands import run_predict_recording

        return run_predict_recording(args)
    check_model_path(args)
    conversations = read_conversations(args)
    check_output(args.output)
    check_output(args.plot, "--plot")
    classifier = load_classifier(args)
    kwargs = {"on_error": args.on_error, "batch_size": args.batch_size}
    if args.top_k is not None:
        kwargs["top_k"] = args.top_k
    try:
        predictions = classifier([c["utterances"] for c in conversations], **kwargs)
    except (
        ValueError,
        TypeError,
    ) as err:  # bad media / conversation: the message names the file and utterance
        raise CLIError(str(err)) from err
    id2label = classifier.model.config.id2label
    tables = [format_table(c, p, id2label) for c, p in zip(conversations, predictions)]
    sys.stdout.write("\n\n".join(tables) + "\n")
    if args.output:
        out = [
            {"dialogue_id": c["dialogue_id"], "predictions": p} for c, p in zip(conversations, predictions)
        ]
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2, ensure_ascii=False)
        sys.stdout.write(f"predictions written to {args.output}\n")
    if args.plot:
        write_timelines(args.plot, conversations, predictions, id2label, online=False)
    return 0


__all__ = ["format_table", "register", "run"]
