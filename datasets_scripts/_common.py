# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Pieces shared by the IEMOCAP, MELD and feature-pickle loaders.

How the loaders build their `DatasetDict`: the annotations are parsed and validated eagerly in plain Python
(fast, and errors surface as :class:`DatasetFormatError` instead of being wrapped in `datasets`'
``DatasetGenerationError``), then each split is written by ``Dataset.from_generator(..., features=...,
fingerprint=...)``. ``from_generator`` keeps the on-disk Arrow cache; we pass our own ``fingerprint`` (a hash of
the parsed rows, the loader options and the media folders' signatures), so the cache is keyed on what the
split contains rather than on `datasets` hashing a large ``gen_kwargs`` object, and it is invalidated when an
annotation changes. A ``GeneratorBasedBuilder`` subclass would give the same cache with more code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from datasets import Dataset, DatasetDict, Features
from transformers.utils import logging

logger = logging.get_logger(__name__)

# Bump when the row layout or the media checks change: old caches then stop matching.
LOADER_VERSION = "1"


class DatasetFormatError(ValueError):
    """An input file does not have the expected format; the message names the file (and line or field)."""


def read_text_lenient(path: str | os.PathLike, what: str) -> str:
    """The text of an annotation file, decoded line by line: UTF-8 (a leading BOM dropped), and where a line is not
    valid UTF-8 its stray bytes read as cp1252 (0x92 -> ’). Bytes that cp1252 leaves undefined (0x81, 0x8D, 0x8F,
    0x90, 0x9D) become U+FFFD. One warning names `what`, the file and the lines of both kinds.

    Line ends are kept as they are (`csv` needs them; U+0085 is not a line break here).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines, repaired, unreadable = [], [], []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        text, pos, lost = [], 0, False
        while pos < len(raw):
            try:
                text.append(raw[pos:].decode("utf-8"))
                break
            except UnicodeDecodeError as err:
                text.append(raw[pos : pos + err.start].decode("utf-8"))
                for byte in raw[pos + err.start : pos + err.end]:
                    try:
                        text.append(bytes([byte]).decode("cp1252"))
                    except UnicodeDecodeError:
                        text.append("\ufffd")
                        lost = True
                pos += err.end
        (unreadable if lost else repaired).append(lineno)
        lines.append("".join(text))
    if repaired or unreadable:

        def listing(numbers: list[int]) -> str:
            shown = ", ".join(f"{path}:{n}" for n in numbers[:10])
            return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")

        parts = []
        if repaired:
            parts.append(
                f"{len(repaired)} line(s) not UTF-8, their stray bytes read as cp1252: {listing(repaired)}"
            )
        if unreadable:
            parts.append(
                f"{len(unreadable)} line(s) with bytes that are neither UTF-8 nor cp1252, replaced by U+FFFD: "
                f"{listing(unreadable)}"
            )
        logger.warning(f"{what}: " + "; ".join(parts))
    return "\n".join(lines)


MEDIA_WARNING_EXAMPLES = 5  # problems spelled out in the summarising warning; the rest are counted


def warn_masked_media(
    corpus: str,
    source: str | os.PathLike,
    problems: Sequence[tuple[str, str, str]],
    data_stats_args: str = "",
) -> None:
    """One warning summarising the media a loader masked (null path), however many there are.

    Args:
        corpus: `"IEMOCAP"`, `"MELD"`, ... (names the loader in the message).
        source: the folder that was loaded.
        problems: `(split, modalities, description)` per problem (a clip that masks audio and video is one
            problem with `modalities` `("audio", "video")`); `description` names the utterance, the problem and
            the file.
        data_stats_args: extra options of the `mcn-cl data-stats` command that lists them all.

    The warning gives the counts per modality and split, the first `MEDIA_WARNING_EXAMPLES` problems, and the
    command printing the full list (`mcn-cl data-stats SOURCE --list-missing`).
    """
    if not problems:
        return
    counts: dict[str, dict[str, int]] = {}
    for split, modalities, _ in problems:
        for modality in modalities:
            counts.setdefault(modality, {}).setdefault(split, 0)
            counts[modality][split] += 1
    per_modality = "; ".join(
        f"{modality} {sum(by_split.values())} ({', '.join(f'{s} {n}' for s, n in by_split.items())})"
        for modality, by_split in counts.items()
    )
    shown = [f"{split} {description}" for split, _, description in problems[:MEDIA_WARNING_EXAMPLES]]
    more = len(problems) - len(shown)
    command = f"mcn-cl data-stats {os.fspath(source)}{' ' + data_stats_args if data_stats_args else ''} --list-missing"
    logger.warning(
        f"{corpus} {os.fspath(source)}: media masked (null path; the utterances keep their rows): {per_modality}. "
        f"First {len(shown)} of {len(problems)}:\n  "
        + "\n  ".join(shown)
        + (f"\n  ... and {more} more" if more else "")
        + f"\nFull list: {command}"
    )


def content_fingerprint(*parts: Any) -> str:
    """A stable 32-hex-digit hash of JSON-serialisable `parts` (the cache key of one split)."""
    payload = json.dumps([LOADER_VERSION, *parts], sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def path_signature(path: str | os.PathLike | None) -> list[Any]:
    """`[path, size, mtime_ns]` of a file or folder (or `[path, None, None]` if absent), for cache keys."""
    if path is None:
        return [None, None, None]
    try:
        st = os.stat(path)
    except OSError:
        return [os.fspath(path), None, None]
    return [os.fspath(path), st.st_size, st.st_mtime_ns]


def split_validation(dialogue_ids: Iterable[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Carve a seeded `fraction` of `dialogue_ids` out as validation.

    Returns `(train_ids, validation_ids)`, both in sorted order. `round(fraction * n)` dialogues go to
    validation (at least one when `fraction > 0` and there are at least two dialogues).
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
    ids = sorted(set(dialogue_ids))
    n_val = round(fraction * len(ids))
    if fraction > 0 and n_val == 0 and len(ids) >= 2:
        n_val = 1
    val = set(random.Random(seed).sample(ids, n_val)) if n_val else set()
    return [i for i in ids if i not in val], [i for i in ids if i in val]


def _yield_rows(rows: Sequence[Mapping[str, Any]], transform: Callable | None = None) -> Iterator[dict]:
    """Generator given to ``Dataset.from_generator``: the parsed rows, optionally transformed one by one."""
    for row in rows:
        yield transform(row) if transform is not None else dict(row)


def build_dataset_dict(
    splits: Mapping[str, Sequence[Mapping[str, Any]]],
    features: Features,
    fingerprint_parts: Sequence[Any],
    cache_dir: str | os.PathLike | None = None,
    transform: Callable | None = None,
    row_key: str | None = None,
) -> DatasetDict:
    """One cached ``Dataset.from_generator`` per split.

    Args:
        splits: split name -> parsed rows (dicts matching `features`, before `transform`).
        features: the `datasets.Features` of every split.
        fingerprint_parts: JSON-serialisable options that change the output besides the rows (loader name,
            config, media folder signatures...).
        cache_dir: where the Arrow files go (defaults to the `datasets` cache).
        transform: optional picklable callable applied to each row inside the generator (e.g. the media
            probing of MELD, so that it is cached too).
        row_key: `None` puts the rows' content in the cache key. For rows holding large arrays, the name of a
            field that identifies a row (e.g. `"dialogue_id"`): then only that field enters the key, and
            `fingerprint_parts` must identify the source (e.g. its file signature).
    """
    out = {}
    for name, rows in splits.items():
        keyed = rows if row_key is None else [r[row_key] for r in rows]
        fp = content_fingerprint(list(fingerprint_parts), name, keyed, features.to_dict())
        out[name] = Dataset.from_generator(
            _yield_rows,
            features=features,
            # A tuple, not a list: `datasets` treats list-valued gen_kwargs as shards.
            gen_kwargs={"rows": tuple(rows), "transform": transform},
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            fingerprint=fp,
            split=name,
        )
    return DatasetDict(out)


def find_child_case_insensitive(parent: str, name: str) -> str | None:
    """`parent/<name>` matched case-insensitively (exact match first), or None."""
    exact = os.path.join(parent, name)
    if os.path.exists(exact):
        return exact
    try:
        entries = os.listdir(parent)
    except OSError:
        return None
    lowered = name.lower()
    for entry in entries:
        if entry.lower() == lowered:
            return os.path.join(parent, entry)
    return None


def dialogue_features(label_names: Sequence[str]) -> Features:
    """`Features` of a raw-loader row (docs/data_formats.md, section 1): one row = one dialogue.

    `start`/`end` are float32 seconds; `audio_path`/`video_path` are strings, null when the medium is masked;
    `label` is a `ClassLabel` over `label_names`, -1 for an unlabelled context utterance.
    """
    from datasets import ClassLabel, List, Value

    return Features(
        {
            "dialogue_id": Value("string"),
            "utterances": List(
                {
                    "utterance_id": Value("string"),
                    "text": Value("string"),
                    "speaker": Value("string"),
                    "label": ClassLabel(names=list(label_names)),
                    "start": Value("float32"),
                    "end": Value("float32"),
                    "audio_path": Value("string"),
                    "video_path": Value("string"),
                }
            ),
        }
    )


def label_names(dataset: Dataset | DatasetDict) -> list[str]:
    """The label names (in class-id order) of a raw-loader or feature-pickle dataset."""
    if isinstance(dataset, DatasetDict):
        dataset = next(iter(dataset.values()))
    feats = dataset.features
    if "utterances" in feats:
        return list(feats["utterances"].feature["label"].names)
    if "labels" in feats:
        return list(feats["labels"].feature.names)
    raise KeyError("dataset has neither an `utterances` nor a `labels` column")
