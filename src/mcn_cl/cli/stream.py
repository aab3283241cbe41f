# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`mcn-cl stream`: predict utterance by utterance, as a live conversation arrives (causal checkpoints).

    mcn-cl stream --model runs/demo_causal --conversation demo_corpus/manifest.json --dialogue demo014 [--follow]

Feeds one conversation to a causal checkpoint (`"causal": true` in its config) one utterance at a time
(`mcn_cl.streaming`) and prints each prediction as soon as it is computed, with its latency; `--follow` then keeps
reading the CSV / JSON file for utterances appended to the conversation, until `--timeout` seconds pass without one
(or Ctrl-C). `--follow` reads whole CSV lines only (a row still being written is read once its line ends) and
stops with an error when the file is replaced, truncated or rewritten (rotated, or another conversation written
over it): the predictions so far are kept, and a new `mcn-cl stream` streams the new file. `--output` and `--plot` are checked before the model loads and written with what was streamed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..recording.commands import add_recording_arguments
from .common import (
    CLIError,
    add_input_arguments,
    add_prediction_arguments,
    check_output,
    gold,
    load_classifier,
    positive_seconds,
    read_conversations,
    write_timelines,
)


def _load_model_and_processor(args: argparse.Namespace):
    """The checkpoint's model (eval mode, on `--device`) and processor, loaded as `predict` loads them."""
    classifier = load_classifier(args)
    return classifier.model, classifier.processor


def _stream_source(args: argparse.Namespace) -> str:
    """The file that holds the streamed conversation (the one `--follow` watches)."""
    if args.conversation is not None:
        return args.conversation
    return args.csv if args.csv is not None else os.path.join(args.clips, "conversation.csv")


def _read_stream_conversation(args: argparse.Namespace, text: str | None = None) -> dict[str, Any]:
    """The one conversation `stream` feeds: `--dialogue`, or the only one of the file (or of its `text` as read by
    `--follow`)."""
    conversations = read_conversations(args, text=text)
    if len(conversations) > 1:
        ids = ", ".join(c["dialogue_id"] for c in conversations[:10]) + (
            ", ..." if len(conversations) > 10 else ""
        )
        raise CLIError(
            f"{_stream_source(args)} holds {len(conversations)} conversations ({ids}): pick one with --dialogue"
        )
    return conversations[0]


class _FileWatch:
    """Reads a followed CSV / JSON file for `--follow`: whole lines only, and never two conversations mixed.

    [`read`] returns the file's text up to its last line break (CSV; a writer that paused mid-line is read when
    the line is complete) or its whole text once it parses (JSON), and None while nothing new is complete. A CSV
    replaced by another file (a new inode: rotated or moved over), shrunk (truncated) or rewritten (the part
    already read changed) raises a `CLIError`: its rows would no longer continue the streamed conversation. A
    JSON file is rewritten as a whole at every change (often by renaming a new file over it), so it is checked by
    its content: `run` refuses one whose conversation no longer starts with the utterances already streamed."""

    def __init__(self, path: str):
        self.path = path
        self.is_json = path.lower().endswith(".json")
        self.identity: tuple[int, int] | None = None  # (device, inode) of the CSV read
        self.read_size = 0  # bytes of the CSV read (whole lines)
        self.read_digest = hashlib.sha256(b"").digest()
        self.last_stat: tuple[int, int, int, int] | None = None

    def _replaced(self, why: str) -> CLIError:
        return CLIError(
            f"{self.path} {why} while following: its rows no longer continue the streamed conversation, so "
            "streaming stopped (the predictions so far are kept); run `mcn-cl stream` again to stream the new file"
        )

    def read(self) -> str | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None  # being replaced (or gone): look again at the next poll
        stat = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if not self.is_json and self.identity is not None:
            if (st.st_dev, st.st_ino) != self.identity:
                raise self._replaced("was replaced by another file (rotated or moved over: a new inode)")
            if st.st_size < self.read_size:
                raise self._replaced(f"shrank from {self.read_size} to {st.st_size} bytes (truncated)")
        if stat == self.last_stat:
            return None
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        self.last_stat = stat
        if self.is_json:
            try:
                text = data.decode("utf-8")
                json.loads(text)
            except (ValueError, RecursionError):
                return None  # being written: look again at the next poll
            return text
        if self.identity is not None and (
            len(data) < self.read_size or hashlib.sha256(data[: self.read_size]).digest() != self.read_digest
        ):
            raise self._replaced(
                f"was rewritten (its first {self.read_size} bytes, already streamed, changed)"
            )
        complete = data[: data.rfind(b"\n") + 1]
        if self.identity is not None and len(complete) == self.read_size:
            return None  # nothing new, or a line still being written
        self.identity = (st.st_dev, st.st_ino)
        self.read_size, self.read_digest = len(complete), hashlib.sha256(complete).digest()
        try:
            return complete.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CLIError(
                f"{self.path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})"
            ) from err


_MODALITY_NAMES = {"text": "text", "audio": "audio", "video": "visual", "visual": "visual"}


def modality_list(value: str) -> tuple[str, ...]:
    """`--modalities`: "text,audio" -> ("text", "audio") (video or visual both name the visual modality)."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in _MODALITY_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list among text, audio, video, got {value!r}"
        )
    return tuple(dict.fromkeys(_MODALITY_NAMES[n] for n in names))


_STREAM_COLUMNS = (("utterance", 9), ("speaker", 12), ("emotion", 12), ("confidence", 10), ("latency", 10))


def _stream_header(with_gold: bool) -> str:
    cells = [name.ljust(width) for name, width in _STREAM_COLUMNS]
    return "  ".join(cells + (["gold".ljust(12)] if with_gold else []) + ["text"])


def format_stream_row(
    prediction: Mapping[str, Any], utterance: Mapping[str, Any], id2label, with_gold: bool
) -> str:
    """One streamed prediction: index, speaker, emotion, confidence, latency (ms), gold label, text."""
    text = str(utterance.get("text") or "")
    text = text if len(text) <= 48 else text[:45] + "..."
    if prediction.get("skipped"):
        text += f"  [no {'/'.join(prediction['skipped'])}]"
    values = [
        str(prediction["utterance"]),
        str(prediction["speaker"] or ""),
        prediction["label"],
        f"{prediction['score']:.3f}",
        f"{1000 * prediction['latency_s']:.0f} ms",
    ]
    cells = [v.ljust(width) for v, (_, width) in zip(values, _STREAM_COLUMNS)]
    if with_gold:
        cells.append((gold(utterance, id2label) or "-").ljust(12))
    return "  ".join(cells + [text]).rstrip()


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `stream` parser (no heavy import) with `func=run`."""
    p = subparsers.add_parser(
        "stream",
        help="predict utterance by utterance, as a live conversation arrives (causal checkpoints)",
        description="Feed one conversation (a JSON file or a folder of clips with a CSV, as for predict) to a "
        "causal MCN-CL checkpoint one utterance at a time and print each prediction as soon as it is computed, "
        "with its latency. With --follow, keep reading the file for utterances appended to the conversation.",
    )
    source = add_input_arguments(
        p,
        model_help="causal checkpoint folder (or Hub id): model and processor",
        dialogue_help="the conversation with this dialogue_id (needed when the file has several)",
    )
    p.add_argument(
        "--follow",
        action="store_true",
        help="after the last utterance, keep reading the CSV / JSON file for new ones (Ctrl-C stops)",
    )
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        help="with --follow: stop after this many seconds without a new utterance (default: until Ctrl-C)",
    )
    p.add_argument(
        "--poll", type=positive_seconds, default=0.2, help="with --follow: seconds between looks at the file"
    )
    p.add_argument(
        "--modalities",
        type=modality_list,
        default=None,
        help="comma-separated modalities fed to the model, among text, audio, video (default: all three, as "
        "predict); an utterance bringing another one is an error (skipped with --on_error mask)",
    )
    p.add_argument("--output", help="write the predictions (with their latency_s) to this JSON file")
    p.add_argument("--plot", help="draw the emotion timeline of the streamed predictions into this PNG")
    add_prediction_arguments(p)
    add_recording_arguments(p, source)  # --recording, --asr, --subtitles (mcn_cl.recording)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if getattr(args, "recording", None):
        from ..recording.commands import run_stream_recording

        return run_stream_recording(args)
    import time

    from ..streaming import MCNCLStreamingSession

    if args.timeout is not None and not args.follow:
        raise CLIError("--timeout bounds --follow: give --follow too")
    check_output(args.output)
    check_output(args.plot, "--plot")
    source = _stream_source(args)
    # with --follow every read goes through the watch (whole lines only); what is appended while the model loads
    # is new too
    watch = _FileWatch(source) if args.follow else None
    conversation = _read_stream_conversation(args, watch.read() if watch is not None else None)
    model, processor = _load_model_and_processor(args)
    try:
        session = MCNCLStreamingSession(
            model,
            processor,
            on_error=args.on_error,
            top_k=args.top_k,
            modalities=args.modalities,
            dialogue_id=conversation["dialogue_id"],
        )
    except (ValueError, TypeError) as err:  # a bidirectional checkpoint, or code without online mode
        raise CLIError(f"--model {args.model}: {err}") from err
    id2label = model.config.id2label
    with_gold = any(gold(u, id2label) for u in conversation["utterances"])
    streamed: list[Mapping[str, Any]] = []  # the utterances fed so far

    def feed(utterances: Sequence[Mapping[str, Any]]) -> None:
        for utterance in utterances:
            try:
                prediction = session.add(utterance)
            except (ValueError, TypeError) as err:  # bad media / utterance: the message names the utterance
                raise CLIError(str(err)) from err
            streamed.append(utterance)
            sys.stdout.write(format_stream_row(prediction, utterance, id2label, with_gold) + "\n")
            sys.stdout.flush()

    sys.stdout.write(
        f"conversation {conversation['dialogue_id']} (online: each emotion from the past only)\n"
    )
    sys.stdout.write(_stream_header(with_gold).rstrip() + "\n")
    sys.stdout.flush()
    try:
        feed(conversation["utterances"])
        if watch is not None:
            sys.stdout.write(
                f"following {source} for new utterances"
                + (f" (stops after {args.timeout:g} s without one)" if args.timeout else " (Ctrl-C stops)")
                + "\n"
            )
            sys.stdout.flush()
            last_new = time.monotonic()
            while args.timeout is None or time.monotonic() - last_new < args.timeout:
                time.sleep(args.poll)
                text = watch.read()
                if text is None:
                    continue
                conversation = _read_stream_conversation(args, text)
                if conversation["utterances"][: len(streamed)] != streamed:
                    raise watch._replaced("now holds another conversation (the utterances streamed changed)")
                new = conversation["utterances"][len(streamed) :]
                if new:
                    feed(new)
                    last_new = time.monotonic()
    except KeyboardInterrupt:
        sys.stdout.write(f"\nstopped: {len(streamed)} utterances streamed\n")
    finally:  # what was predicted is kept, also when a later utterance failed
        if streamed:
            result = {**conversation, "utterances": streamed}
            _write_stream_outputs(args, result, session.predictions, id2label)
    return 0


def _write_stream_outputs(args, conversation, predictions, id2label) -> None:
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            out = [{"dialogue_id": conversation["dialogue_id"], "predictions": list(predictions)}]
            json.dump(out, f, indent=2, ensure_ascii=False)
        sys.stdout.write(f"predictions written to {args.output}\n")
    if args.plot:
        write_timelines(args.plot, [conversation], [predictions], id2label, online=True)


__all__ = ["format_stream_row", "register", "run"]
