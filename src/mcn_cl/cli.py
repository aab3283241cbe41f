# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The `mcn-cl` command line.

    mcn-cl predict --model runs/demo --conversation conversation.json [--output predictions.json] [--top_k 3]
    mcn-cl predict --model runs/demo --clips my_clips/ [--csv my_clips/conversation.csv] [--on_error mask]
    mcn-cl stream --model runs/demo_causal --conversation demo_corpus/manifest.json --dialogue demo014 [--follow]
    mcn-cl data-stats /data/MELD.Raw

`predict` reads a conversation from a JSON file or a folder of clips with a CSV, runs the
`"multimodal-emotion-recognition"` pipeline and prints one row per utterance (speaker, predicted emotion,
confidence); `--output` writes the predictions as JSON, `--plot` draws the emotion timeline (`mcn_cl.plotting`).

`stream` feeds one conversation to a causal checkpoint (`"causal": true` in its config) one utterance at a time
(`mcn_cl.streaming`) and prints each prediction as soon as it is computed, with its latency; `--follow` then keeps
reading the CSV / JSON file for utterances appended to the conversation, until `--timeout` seconds pass without one
(or Ctrl-C).

Conversation JSON (`--conversation`): a list of utterance dicts (`text`, `speaker`, `audio`, `video`, `start`, `end`;
the processor's format), a dict with such a list under `utterances` (with an optional `dialogue_id`), a list of such
dicts (several conversations), or the `manifest.json` of the demo corpus (`mcn_cl.demo`); `--dialogue ID` picks one
conversation by its `dialogue_id`. `audio_path` / `video_path` (the loaders' names) work as `audio` / `video`.
Relative media paths are relative to the JSON file's folder.

Clip folder (`--clips DIR`): a CSV (`--csv`, default `DIR/conversation.csv`), one row per utterance in the
conversation's order, with the columns

    clip         video file of the utterance, relative to DIR (its audio track is the utterance's audio)
    speaker      speaker name (optional)
    text         transcript of the utterance (optional)
    audio        separate audio file, relative to DIR (optional; default: the clip's audio track)
    start, end   window in seconds inside the clip (optional; default: the whole clip)
    dialogue_id  rows with the same id form one conversation (optional; default: one conversation)

Empty cells are missing values; every row needs at least a clip, an audio file or a text.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

CSV_COLUMNS = ("clip", "speaker", "text", "audio", "start", "end", "dialogue_id")
_MEDIA_KEYS = ("audio", "video", "audio_path", "video_path")


class CLIError(Exception):
    """A bad argument or input file: printed as `mcn-cl: error: ...` with exit status 2."""


# ---------------------------------------------------------------------------------------------------- inputs


def _resolve_media(utterance: Mapping[str, Any], folder: str) -> dict[str, Any]:
    out = dict(utterance)
    for key in _MEDIA_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = os.path.join(folder, value)
    return out


def _dialogue(value: Any, index: int, folder: str) -> dict[str, Any]:
    if isinstance(value, Mapping) and isinstance(value.get("utterances"), list):
        utterances, dialogue_id = value["utterances"], value.get("dialogue_id")
    elif isinstance(value, list) and all(isinstance(u, Mapping) for u in value):
        utterances, dialogue_id = value, None
    else:
        raise CLIError(
            f"conversation {index}: expected a list of utterance dicts or a dict with 'utterances'"
        )
    for i, u in enumerate(utterances):
        if not isinstance(u, Mapping):
            raise CLIError(
                f"conversation {index}, utterance {i}: expected a JSON object, got {type(u).__name__}"
            )
    return {
        "dialogue_id": str(dialogue_id) if dialogue_id is not None else str(index),
        "utterances": [_resolve_media(u, folder) for u in utterances],
    }


def _unreadable(path: str, err: OSError | UnicodeDecodeError) -> CLIError:
    """The error of an input file that cannot be opened or is not UTF-8 text (naming the first bad byte)."""
    if isinstance(err, UnicodeDecodeError):
        return CLIError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})")
    return CLIError(f"{path}: cannot be read ({err.strerror or err})")


def read_conversation_json(path: str | os.PathLike, dialogue: str | None = None) -> list[dict[str, Any]]:
    """The conversations of a JSON file (see the module docstring), as `{"dialogue_id", "utterances"}` dicts with
    media paths made relative to the file's folder; `dialogue` keeps only the one with that id."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as err:
        raise CLIError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise CLIError(f"{path}: is a folder, not a JSON file") from err
    except (OSError, UnicodeDecodeError) as err:
        raise _unreadable(path, err) from err
    except json.JSONDecodeError as err:
        raise CLIError(f"{path}: not valid JSON ({err})") from err
    folder = os.path.dirname(os.path.abspath(path))
    if isinstance(data, Mapping) and isinstance(data.get("splits"), Mapping):  # the demo corpus manifest
        items = [d for split in data["splits"].values() for d in split]
    elif isinstance(data, list) and data and all(isinstance(d, Mapping) and "utterances" in d for d in data):
        items = data
    else:
        items = [data]
    conversations = [_dialogue(item, i, folder) for i, item in enumerate(items)]
    if dialogue is not None:
        conversations = [c for c in conversations if c["dialogue_id"] == dialogue]
        if not conversations:
            ids = ", ".join(str(c.get("dialogue_id")) for c in items if isinstance(c, Mapping))
            raise CLIError(f"{path}: no conversation with dialogue_id {dialogue!r} (ids: {ids or 'none'})")
    return conversations


def _optional_float(value: str, where: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError as err:
        raise CLIError(f"{where}: not a number: {value!r}") from err


def read_clips_csv(
    folder: str | os.PathLike, csv_path: str | os.PathLike | None = None
) -> list[dict[str, Any]]:
    """The conversations of a folder of clips described by a CSV (columns in the module docstring)."""
    folder = os.path.abspath(os.fspath(folder))
    if not os.path.isdir(folder):
        raise CLIError(f"{folder}: no such folder")
    csv_path = os.fspath(csv_path) if csv_path is not None else os.path.join(folder, "conversation.csv")
    if not os.path.isfile(csv_path):
        raise CLIError(f"{csv_path}: no such file (give the utterance table with --csv)")
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            unknown = sorted(set(columns) - set(CSV_COLUMNS))
            if unknown or not {"clip", "audio", "text"} & set(columns):
                raise CLIError(
                    f"{csv_path}: columns {columns}; expected some of {list(CSV_COLUMNS)} "
                    f"(unknown: {unknown}; at least one of clip, audio, text)"
                )
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except (OSError, UnicodeDecodeError) as err:
        raise _unreadable(csv_path, err) from err
    except csv.Error as err:
        raise CLIError(f"{csv_path}: not a valid CSV ({err})") from err
    conversations: dict[str, list[dict[str, Any]]] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{csv_path}, line {line}"
        if not (row.get("clip") or row.get("audio") or row.get("text")):
            raise CLIError(f"{where}: the row has no clip, audio or text")
        utterance: dict[str, Any] = {"speaker": row.get("speaker") or None, "text": row.get("text") or None}
        clip = row.get("clip")
        if clip:
            utterance["video"] = os.path.join(folder, clip)
        audio = row.get("audio") or clip
        if audio:
            utterance["audio"] = os.path.join(folder, audio)
        for key in ("start", "end"):
            value = _optional_float(row.get(key), f"{where}, column {key}")
            if value is not None:
                utterance[key] = value
        conversations.setdefault(row.get("dialogue_id") or "0", []).append(utterance)
    if not conversations:
        raise CLIError(f"{csv_path}: no utterance rows")
    return [{"dialogue_id": d, "utterances": u} for d, u in conversations.items()]


# --------------------------------------------------------------------------------------------------- output


def _gold(utterance: Mapping[str, Any], id2label: Mapping[int, str]) -> str:
    label = utterance.get("label")
    if label is None or (isinstance(label, int) and label < 0):
        return ""
    return id2label.get(label, str(label)) if isinstance(label, int) else str(label)


def format_table(conversation: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], id2label) -> str:
    """One row per utterance: index, speaker, predicted emotion, confidence (and the gold label and text when the
    input has them)."""
    utterances = conversation["utterances"]
    gold = [_gold(u, id2label) for u in utterances]
    header = ["utterance", "speaker", "emotion", "confidence"] + (["gold"] if any(gold) else []) + ["text"]
    rows = []
    for p, u, g in zip(predictions, utterances, gold):
        text = str(u.get("text") or "")
        text = text if len(text) <= 48 else text[:45] + "..."
        row = [str(p["utterance"]), str(p["speaker"] or ""), p["label"], f"{p['score']:.3f}"]
        if p.get("skipped"):
            row[3] += f" (no {'/'.join(p['skipped'])})"
        rows.append(row + ([g] if any(gold) else []) + [text])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"conversation {conversation['dialogue_id']}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- commands


def _device(value: str | None):
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


def _check_output(path: str | None) -> None:
    """Refuse an `--output` that cannot be written before the prediction runs."""
    if path is None:
        return
    if os.path.isdir(path):
        raise CLIError(
            f"--output {path}: is a folder; give a file name, e.g. {os.path.join(path, 'predictions.json')}"
        )
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):  # the first existing ancestor must be a writable folder
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise CLIError(f"--output {path}: {parent} is not a writable folder")


def _check_model_path(args: argparse.Namespace) -> None:
    """A `--model` that looks like a local path (absolute, relative or not `owner/name`) must be a folder."""
    looks_local = os.path.isabs(args.model) or args.model.startswith(".") or args.model.count("/") != 1
    if looks_local and not os.path.isdir(args.model):
        raise CLIError(f"--model {args.model}: no such folder")


def _read_conversations(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The conversations of `--conversation` or `--clips` / `--csv`, only the one with id `--dialogue` if given."""
    if args.conversation is not None:
        return read_conversation_json(args.conversation, args.dialogue)
    conversations = read_clips_csv(args.clips, args.csv)
    if args.dialogue is not None:
        conversations = [c for c in conversations if c["dialogue_id"] == args.dialogue]
        if not conversations:
            raise CLIError(f"no conversation with dialogue_id {args.dialogue!r} in the CSV")
    return conversations


def _load_classifier(args: argparse.Namespace):
    """The `"multimodal-emotion-recognition"` pipeline of `--model` on `--device`, with the package's own classes
    (not the folder's copies of the code: no trust_remote_code needed). A missing folder, a device this machine
    lacks or a checkpoint that does not load is a `CLIError`."""
    from transformers import pipeline

    from .pipeline_mcn_cl import TASK, MultimodalEmotionRecognitionPipeline

    _check_model_path(args)
    device = _device(args.device)
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


def predict(args: argparse.Namespace) -> int:
    _check_model_path(args)
    conversations = _read_conversations(args)
    _check_output(args.output)
    classifier = _load_classifier(args)
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
        _plot(args.plot, conversations, predictions, id2label, online=False)
    return 0


# ------------------------------------------------------------------------------------------------- timeline

_PLOT_HELP = (
    "draw the emotion timeline (one lane per speaker, one bar per utterance) into this PNG; with several "
    "conversations, one PNG each, named PLOT_<dialogue_id>.png"
)


def _plot(
    path: str,
    conversations: Sequence[Mapping[str, Any]],
    predictions: Sequence[Sequence[Mapping[str, Any]]],
    id2label: Mapping[int, str],
    online: bool,
) -> list[str]:
    """Write the emotion timeline of each conversation (`mcn_cl.plotting`), with the gold labels the input has."""
    from .plotting import plot_emotion_timeline

    root, ext = os.path.splitext(path)
    label_names = [id2label[k] for k in sorted(id2label)]
    written = []
    for conversation, preds in zip(conversations, predictions):
        dialogue_id = conversation["dialogue_id"]
        out = path
        if len(conversations) > 1:
            out = f"{root}_{''.join(c if c.isalnum() or c in '-_.' else '_' for c in dialogue_id)}{ext or '.png'}"
        gold = [u.get("label") for u in conversation["utterances"][: len(preds)]]
        mode = "online, past context only" if online else "offline, whole conversation"
        try:
            plot_emotion_timeline(
                preds,
                labels=gold if any(g is not None for g in gold) else None,
                path=out,
                title=f"Emotion timeline: conversation {dialogue_id} ({mode})",
                label_names=label_names,
            )
        except (ValueError, TypeError, IndexError, OSError) as err:
            raise CLIError(f"--plot {out}: {err}") from err
        sys.stdout.write(f"timeline written to {out}\n")
        written.append(out)
    return written


# --------------------------------------------------------------------------------------------------- stream


def _load_model_and_processor(args: argparse.Namespace):
    """The checkpoint's model (eval mode, on `--device`) and processor, loaded as `predict` loads them."""
    classifier = _load_classifier(args)
    return classifier.model, classifier.processor


def _stream_source(args: argparse.Namespace) -> str:
    """The file that holds the streamed conversation (the one `--follow` watches)."""
    if args.conversation is not None:
        return args.conversation
    return args.csv if args.csv is not None else os.path.join(args.clips, "conversation.csv")


def _read_stream_conversation(args: argparse.Namespace) -> dict[str, Any]:
    """The one conversation `stream` feeds: `--dialogue`, or the only one of the file."""
    conversations = _read_conversations(args)
    if len(conversations) > 1:
        ids = ", ".join(c["dialogue_id"] for c in conversations[:10]) + (
            ", ..." if len(conversations) > 10 else ""
        )
        raise CLIError(
            f"{_stream_source(args)} holds {len(conversations)} conversations ({ids}): pick one with --dialogue"
        )
    return conversations[0]


class _FileWatch:
    """Tells when a followed file has changed and can be read: a CSV that ends with a line break, a JSON file that
    parses, or either one unchanged since the previous look (a writer that stopped mid-line)."""

    def __init__(self, path: str):
        self.path = path
        self.seen = self._stat()
        self.pending = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _complete(self) -> bool:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return False
        if self.path.lower().endswith(".json"):
            try:
                json.loads(data)
            except ValueError:
                return False
            return True
        return data.endswith(b"\n")

    def changed(self) -> bool:
        stat = self._stat()
        if stat is None or stat == self.seen:
            return False
        if stat != self.pending and not self._complete():
            self.pending = stat  # being written: look again at the next poll
            return False
        self.seen, self.pending = stat, None
        return True


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
        cells.append((_gold(utterance, id2label) or "-").ljust(12))
    return "  ".join(cells + [text]).rstrip()


def stream(args: argparse.Namespace) -> int:
    import time

    from .streaming import MCNCLStreamingSession

    if args.timeout is not None and not args.follow:
        raise CLIError("--timeout bounds --follow: give --follow too")
    if args.timeout is not None and args.timeout <= 0 or args.poll <= 0:
        raise CLIError("--timeout and --poll must be positive numbers of seconds")
    source = _stream_source(args)
    # the file's state as read: what is appended while the model loads is new too
    watch = _FileWatch(source) if args.follow else None
    conversation = _read_stream_conversation(args)
    model, processor = _load_model_and_processor(args)
    try:
        session = MCNCLStreamingSession(
            model,
            processor,
            on_error=args.on_error,
            top_k=args.top_k,
            dialogue_id=conversation["dialogue_id"],
        )
    except (ValueError, TypeError) as err:  # a bidirectional checkpoint, or code without online mode
        raise CLIError(f"--model {args.model}: {err}") from err
    id2label = model.config.id2label
    with_gold = any(_gold(u, id2label) for u in conversation["utterances"])
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

    source = _stream_source(args)
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
                if not watch.changed():
                    continue
                conversation = _read_stream_conversation(args)
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
        _plot(args.plot, [conversation], [predictions], id2label, online=True)


def _add_input_arguments(p: argparse.ArgumentParser, model_help: str, dialogue_help: str) -> None:
    """`predict`'s and `stream`'s checkpoint and conversation source arguments (read by `_load_classifier` and
    `_read_conversations`)."""
    p.add_argument("--model", required=True, help=model_help)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--conversation", help="JSON file: a conversation, a list of them or a demo manifest")
    source.add_argument("--clips", help="folder of utterance clips, described by --csv")
    p.add_argument("--csv", help="utterance table of --clips (default: CLIPS/conversation.csv)")
    p.add_argument("--dialogue", help=dialogue_help)


def _add_prediction_arguments(p: argparse.ArgumentParser) -> None:
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


def _add_stream_parser(commands) -> None:
    p = commands.add_parser(
        "stream",
        help="predict utterance by utterance, as a live conversation arrives (causal checkpoints)",
        description="Feed one conversation (a JSON file or a folder of clips with a CSV, as for predict) to a "
        "causal MCN-CL checkpoint one utterance at a time and print each prediction as soon as it is computed, "
        "with its latency. With --follow, keep reading the file for utterances appended to the conversation.",
    )
    _add_input_arguments(
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
        type=float,
        default=None,
        help="with --follow: stop after this many seconds without a new utterance (default: until Ctrl-C)",
    )
    p.add_argument("--poll", type=float, default=0.2, help="with --follow: seconds between looks at the file")
    p.add_argument("--output", help="write the predictions (with their latency_s) to this JSON file")
    p.add_argument("--plot", help="draw the emotion timeline of the streamed predictions into this PNG")
    _add_prediction_arguments(p)
    p.set_defaults(func=stream)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcn-cl", description="MCN-CL: multimodal emotion recognition in conversation."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = commands.add_parser(
        "predict",
        help="predict the emotion of every utterance of a conversation",
        description="Predict the emotion of every utterance of one or more conversations (a JSON file, or a "
        "folder of clips with a CSV of clip, speaker, text, audio, start, end, dialogue_id columns) "
        "with a saved MCN-CL checkpoint, and print a table.",
    )
    _add_input_arguments(
        p,
        model_help="checkpoint folder (or Hub id) holding model and processor",
        dialogue_help="only the conversation with this dialogue_id",
    )
    p.add_argument("--output", help="write the predictions to this JSON file")
    _add_prediction_arguments(p)
    p.add_argument("--batch_size", type=int, default=1, help="conversations per forward pass")
    p.add_argument("--plot", help=_PLOT_HELP)
    p.set_defaults(func=predict)
    _add_stream_parser(commands)
    # `data-stats` parses its own arguments (mcn_cl.datasets_scripts.stats); listed here for --help
    commands.add_parser(
        "data-stats",
        help="per-split label, dialogue, utterance and missing-media counts of a dataset copy",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcn-cl` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["data-stats"]:
        from .datasets_scripts import stats

        return stats.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CLIError as err:
        parser.exit(2, f"mcn-cl {args.command}: error: {err}\n")


__all__ = [
    "build_parser",
    "format_table",
    "main",
    "predict",
    "read_clips_csv",
    "read_conversation_json",
    "stream",
]
