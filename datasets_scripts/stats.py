# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Per-split statistics of a loaded dataset, to check a local copy against the published numbers.

`data_stats(dataset_dict)` returns a printable table; `run(args)` is the body of ``mcn-cl data-stats DIR`` (its
arguments: `mcn_cl.cli.data_stats`), `main(argv)` the same from an argument list.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from datasets import Dataset, DatasetDict

from ._common import label_names

# Published sizes (docs/DESIGN.md): split -> (dialogues, utterances). IEMOCAP's train includes validation.
PUBLISHED = {
    ("iemocap", "6class"): {"train+validation": (120, 5810), "test": (31, 1623)},
    ("meld", "emotion"): {"train": (1038, 9989), "validation": (114, 1109), "test": (280, 2610)},
    ("meld", "sentiment"): {"train": (1038, 9989), "validation": (114, 1109), "test": (280, 2610)},
}


def compute_stats(dataset: DatasetDict) -> dict[str, dict[str, Any]]:
    """split -> {dialogues, utterances, unlabelled, labels: {name: count}, missing_audio, missing_video}.

    Works on raw-loader rows (`utterances` column; missing media = null paths) and on feature rows (`labels`
    column; `missing_audio`/`missing_video` are None: such rows hold no media paths).
    """
    names = label_names(dataset)
    out = {}
    for split, ds in dataset.items():
        counts: Counter = Counter()
        n_utt = unlabelled = 0
        missing_audio: int | None = None
        missing_video: int | None = None
        if "utterances" in ds.column_names:
            missing_audio = missing_video = 0
            for utterances in ds["utterances"]:
                for u in utterances:
                    n_utt += 1
                    if u["label"] is None or u["label"] < 0:
                        unlabelled += 1
                    else:
                        counts[names[u["label"]]] += 1
                    missing_audio += u["audio_path"] is None
                    missing_video += u["video_path"] is None
        else:
            for labels in ds["labels"]:
                for label in labels:
                    n_utt += 1
                    if label is None or label < 0:
                        unlabelled += 1
                    else:
                        counts[names[label]] += 1
        out[split] = {
            "dialogues": len(ds),
            "utterances": n_utt,
            "unlabelled": unlabelled,
            "labels": {name: counts.get(name, 0) for name in names},
            "missing_audio": missing_audio,
            "missing_video": missing_video,
        }
    return out


def data_stats(dataset: DatasetDict | Dataset) -> str:
    """A printable table: one line per split (dialogues, utterances, per-label counts, missing media)."""
    if isinstance(dataset, Dataset):
        dataset = DatasetDict({str(dataset.split or "data"): dataset})
    stats = compute_stats(dataset)
    names = label_names(dataset)
    header = ["split", "dialogues", "utterances", *names, "unlabelled", "no_audio", "no_video"]
    lines = []
    for split, s in stats.items():
        cells = [split, s["dialogues"], s["utterances"], *(s["labels"][n] for n in names), s["unlabelled"]]
        cells += ["-" if s[k] is None else s[k] for k in ("missing_audio", "missing_video")]
        lines.append([str(c) for c in cells])
    total = ["total"] + [
        str(sum(int(line[i]) for line in lines)) if all(line[i] != "-" for line in lines) else "-"
        for i in range(1, len(header))
    ]
    lines.append(total)
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines[:-1]), rule, fmt(lines[-1])])


def published_comparison(dataset: DatasetDict, name: str, config: str) -> str | None:
    """Lines comparing dialogue/utterance counts with the published ones, or None when none are known."""
    ref = PUBLISHED.get((name, config))
    if ref is None:
        return None
    stats = compute_stats(dataset)
    lines = [f"published {name} ({config}): dialogues / utterances"]
    for split, (dia, utt) in ref.items():
        parts = split.split("+")
        got_d = sum(stats[p]["dialogues"] for p in parts if p in stats)
        got_u = sum(stats[p]["utterances"] - stats[p]["unlabelled"] for p in parts if p in stats)
        mark = "ok" if (got_d, got_u) == (dia, utt) else "DIFFERS"
        lines.append(f"  {split}: expected {dia} / {utt}, got {got_d} / {got_u}  [{mark}]")
    return "\n".join(lines)


class DataStatsError(Exception):
    """A path that is not a known dataset: `mcn-cl data-stats: error: ...`, exit status 2."""


def _detect(path: str) -> str:
    from .conversations import is_conversation_folder

    if is_conversation_folder(path):
        return "conversations"
    if os.path.isfile(path):
        return "pickle"
    if os.path.isfile(os.path.join(path, "dataset_dict.json")):
        return "saved"
    if os.path.isdir(os.path.join(path, "Session1")):
        return "iemocap"
    if os.path.isfile(os.path.join(path, "train_sent_emo.csv")):
        return "meld"
    raise DataStatsError(
        f"cannot tell what {path} is (expected IEMOCAP_full_release with Session1/, a MELD folder "
        "with train_sent_emo.csv, a feature .pkl, a folder of your own conversations with conversation.csv / "
        "conversation.jsonl or train.csv, or a folder saved with DatasetDict.save_to_disk); "
        "use --dataset"
    )


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Arguments of ``mcn-cl data-stats`` (pass a sub-parser to fill it); defined in `mcn_cl.cli.data_stats`."""
    from ..cli.data_stats import DESCRIPTION, add_arguments

    return add_arguments(parser or argparse.ArgumentParser(prog="mcn-cl data-stats", description=DESCRIPTION))


def missing_media(dataset: DatasetDict) -> list[tuple[str, str, str]]:
    """`(split, modality, utterance_id)` of every masked medium (null `audio_path` / `video_path`) of raw-loader
    rows; empty for feature rows, which hold no media paths."""
    out = []
    for split, ds in dataset.items():
        if "utterances" not in ds.column_names:
            continue
        for row in ds:
            for u in row["utterances"]:
                for modality in ("audio", "video"):
                    if u.get(f"{modality}_path") is None:
                        out.append((split, modality, str(u.get("utterance_id"))))
    return out


def run(args: argparse.Namespace) -> int:
    """Load what `args.path` holds and write the table (and the published comparison) to stdout. A path that
    cannot be read as a dataset (unknown layout, a format error naming file:line, a missing file) prints
    `mcn-cl data-stats: error: ...` to stderr and returns 2."""
    from ._common import DatasetFormatError

    try:
        return _run(args)
    except (DataStatsError, DatasetFormatError, FileNotFoundError) as err:
        sys.stderr.write(f"mcn-cl data-stats: error: {err}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    from datasets import load_from_disk

    kind = _detect(args.path) if args.dataset == "auto" else args.dataset
    config = args.config
    if kind == "iemocap":
        from .iemocap import load_iemocap

        config = config or "6class"
        ds = load_iemocap(
            args.path, config=config, keep_unlabelled=args.keep_unlabelled, cache_dir=args.cache_dir
        )
    elif kind == "meld":
        from .meld import load_meld

        config = config or "emotion"
        ds = load_meld(
            args.path,
            config=config,
            csv_dir=args.csv_dir,
            check_media=not args.no_check_media,
            max_clip_seconds=args.max_clip_seconds,
            cache_dir=args.cache_dir,
        )
    elif kind == "conversations":
        from .conversations import load_conversations

        ds = load_conversations(args.path, cache_dir=args.cache_dir)
    elif kind == "pickle":
        from .feature_pickles import feature_sizes, load_feature_pickle

        ds = load_feature_pickle(args.path, dataset=args.pickle_dataset, cache_dir=args.cache_dir)
    else:
        ds = load_from_disk(args.path)
        if isinstance(ds, Dataset):
            ds = DatasetDict({"data": ds})
    out = [f"{kind}: {args.path}" + (f" (config {config})" if config else ""), data_stats(ds)]
    if kind == "pickle":
        out.append(f"feature sizes: {feature_sizes(ds)}")
    comparison = published_comparison(ds, kind, config) if config else None
    if comparison:
        out.append(comparison)
    if getattr(args, "list_missing", False):
        missing = missing_media(ds)
        out.append(f"masked media ({len(missing)}): split, modality, utterance")
        out.extend(f"{split}\t{modality}\t{utterance}" for split, modality, utterance in missing)
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``mcn-cl data-stats DIR [options]``; returns the exit status."""
    return run(build_parser().parse_args(argv))


__all__ = [
    "build_parser",
    "compute_stats",
    "data_stats",
    "main",
    "missing_media",
    "published_comparison",
    "run",
]
