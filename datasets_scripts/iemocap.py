# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""IEMOCAP (the `IEMOCAP_full_release` folder) as a `datasets.DatasetDict`, one row per dialogue.

Layout read (exactly that of the release)::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt      turn lines "[6.2901 - 8.2357]\\t<turn>\\t<code>\\t[v, a, d]"
    Session{1..5}/dialog/transcriptions/<dialog>.txt     "<turn> [006.2901-008.2357]: <text>"
    Session{1..5}/sentences/wav/<dialog>/<turn>.wav      one wav per turn (audio_path)
    Session{1..5}/dialog/avi/DivX/<dialog>.avi           one video per dialogue (video_path; looked up
                                                         case-insensitively); the turn's times are `start`/`end`

Conventions (docs/DESIGN.md, "Decisions"): config ``"6class"`` keeps hap, sad, neu, ang, exc, fru (exc is not
merged; 7433 utterances in 151 dialogues for the full release); ``"4class"`` merges exc into hap and keeps
hap, sad, neu, ang. Other utterances are dropped, or kept as unlabelled context (label -1) with
``keep_unlabelled=True``. Speaker = the letter of the last id segment (``Ses01F_impro01_M012`` -> ``"M"``).
Utterances are ordered by start time. Splits: sessions 1-4 are ``train`` minus a seeded ``validation_fraction``
of their dialogues (``validation``), session 5 is ``test``.

Caching: ``Dataset.from_generator`` with an explicit fingerprint (see ``_common.py`` for why).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from datasets import DatasetDict
from transformers.utils import logging

from ._common import (
    DatasetFormatError,
    build_dataset_dict,
    dialogue_features,
    find_child_case_insensitive,
    read_text_lenient,
    split_validation,
    warn_masked_media,
)

logger = logging.get_logger(__name__)

IEMOCAP_LABELS_6 = ("hap", "sad", "neu", "ang", "exc", "fru")
IEMOCAP_LABELS_4 = ("hap", "sad", "neu", "ang")
# Every emotion code the release uses ("xxx" = no majority among the evaluators).
IEMOCAP_CODES = frozenset({"neu", "fru", "sad", "sur", "ang", "hap", "exc", "fea", "dis", "oth", "xxx"})
IEMOCAP_CONFIGS = {
    "6class": (IEMOCAP_LABELS_6, {c: c for c in IEMOCAP_LABELS_6}),
    "4class": (IEMOCAP_LABELS_4, {"hap": "hap", "exc": "hap", "sad": "sad", "neu": "neu", "ang": "ang"}),
}
SESSIONS = (1, 2, 3, 4, 5)
TEST_SESSIONS = (5,)

_TURN_ID = re.compile(r"^Ses\d{2}[MF]_\S+_[MF]\d{3}$")
_EVAL_LINE = re.compile(r"^\[(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\]\t(\S+)\t(\S+)\t\[.*\]\s*$")
_TRANS_LINE = re.compile(r"^(\S+)\s+\[(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\]:\s?(.*)$")


def speaker_of(utterance_id: str) -> str:
    """The speaker letter of an IEMOCAP turn id: the first letter of its last segment (``..._M012`` -> ``M``)."""
    return utterance_id.rsplit("_", 1)[-1][0]


def _txt_files(folder: str) -> list[str]:
    return sorted(
        os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".txt") and not f.startswith(".")
    )


def _parse_evaluation(path: str, seen: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Turn id -> {code, start, end, where} from one EmoEvaluation file; validates codes and duplicates."""
    turns: dict[str, dict[str, Any]] = {}
    for lineno, line in enumerate(read_text_lenient(path, "IEMOCAP").split("\n"), 1):
        line = line.rstrip("\r")
        where = f"{path}:{lineno}"
        m = _EVAL_LINE.match(line)
        if m is None:
            if line.startswith(
                "["
            ):  # a turn line; header "% [...", evaluator lines "C-E1:\t..." and blanks are not
                raise DatasetFormatError(
                    f"{where}: malformed turn line {line[:80]!r}; expected '[START - END]<TAB>TURN<TAB>CODE<TAB>[V, A, D]'"
                )
            continue
        start, end, turn, code = float(m[1]), float(m[2]), m[3], m[4]
        if start > end:
            raise DatasetFormatError(f"{where}: turn {turn} starts after it ends ([{m[1]} - {m[2]}])")
        if code not in IEMOCAP_CODES:
            raise DatasetFormatError(
                f"{where}: emotion code {code!r} of turn {turn} is not an IEMOCAP code "
                f"(expected one of {sorted(IEMOCAP_CODES)})"
            )
        if turn in seen:
            raise DatasetFormatError(f"{where}: duplicate utterance id {turn} (first at {seen[turn]})")
        seen[turn] = where
        turns[turn] = {"code": code, "start": start, "end": end, "where": where}
    return turns


def _parse_transcription(path: str) -> list[tuple[str, str, int]]:
    """`(turn id, text, line number)` for each utterance line of one transcription file."""
    out = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(read_text_lenient(path, "IEMOCAP").split("\n"), 1):
        m = _TRANS_LINE.match(line.strip())
        if m is None or not _TURN_ID.match(m[1]):
            continue  # "M: breathing", "Ses01F_impro01_MXX0 [...]: ..." are not utterances
        if m[1] in seen:
            raise DatasetFormatError(
                f"{path}:{lineno}: duplicate utterance id {m[1]} (first at line {seen[m[1]]})"
            )
        seen[m[1]] = lineno
        out.append((m[1], m[4].strip(), lineno))
    return out


def parse_iemocap(
    data_dir: str | os.PathLike,
    config: str = "6class",
    keep_unlabelled: bool = False,
    sessions: Sequence[int] = SESSIONS,
) -> tuple[dict[int, list[dict[str, Any]]], list[str]]:
    """Parse and validate the release into rows (docs/data_formats.md, section 1), grouped by session.

    Returns `(rows_by_session, missing_media)` where `missing_media` lists `"<turn>: <which> (<path>)"` for
    every medium that is not on disk (its path is null in the rows).

    Raises:
        DatasetFormatError: a session folder is missing, a transcription turn has no label (or a labelled
            turn no transcription), a code is not an IEMOCAP code, or an utterance id appears twice.
    """
    if config not in IEMOCAP_CONFIGS:
        raise ValueError(f"unknown IEMOCAP config {config!r}; expected one of {list(IEMOCAP_CONFIGS)}")
    names, mapping = IEMOCAP_CONFIGS[config]
    label_id = {n: i for i, n in enumerate(names)}
    root = os.fspath(data_dir)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"IEMOCAP folder {root} does not exist")
    missing_sessions = [s for s in sessions if not os.path.isdir(os.path.join(root, f"Session{s}"))]
    if missing_sessions:
        raise DatasetFormatError(
            f"{root}: missing session folder(s) "
            + ", ".join(os.path.join(root, f"Session{s}") for s in missing_sessions)
            + " (expected the IEMOCAP_full_release layout Session1..Session5)"
        )

    rows_by_session: dict[int, list[dict[str, Any]]] = {}
    missing_media: list[str] = []
    seen_turns: dict[str, str] = {}
    for s in sessions:
        sess = os.path.join(root, f"Session{s}")
        eval_dir = os.path.join(sess, "dialog", "EmoEvaluation")
        trans_dir = os.path.join(sess, "dialog", "transcriptions")
        for folder in (eval_dir, trans_dir):
            if not os.path.isdir(folder):
                raise DatasetFormatError(f"{sess}: missing folder {folder}")
        wav_root = os.path.join(sess, "sentences", "wav")
        avi_dir = None
        dialog_dir = os.path.join(sess, "dialog")
        avi = find_child_case_insensitive(dialog_dir, "avi")
        if avi is not None:
            avi_dir = find_child_case_insensitive(avi, "DivX")
        avi_names = {}
        if avi_dir is not None and os.path.isdir(avi_dir):
            avi_names = {
                f.lower(): os.path.join(avi_dir, f) for f in os.listdir(avi_dir) if not f.startswith(".")
            }

        rows = []
        for eval_path in _txt_files(eval_dir):
            dialog = os.path.splitext(os.path.basename(eval_path))[0]
            turns = _parse_evaluation(eval_path, seen_turns)
            trans_path = os.path.join(trans_dir, f"{dialog}.txt")
            if not os.path.isfile(trans_path):
                raise DatasetFormatError(
                    f"{eval_path}: no transcription file {trans_path} for dialogue {dialog}"
                )
            texts = {}
            for turn, text, lineno in _parse_transcription(trans_path):
                if turn not in turns:
                    raise DatasetFormatError(
                        f"{trans_path}:{lineno}: utterance {turn} has no label in {eval_path}"
                    )
                texts[turn] = text
            for turn, info in turns.items():
                if turn not in texts:
                    raise DatasetFormatError(
                        f"{info['where']}: labelled turn {turn} has no line in {trans_path}"
                    )

            video = avi_names.get(f"{dialog}.avi".lower())
            utterances = []
            n_labelled = 0
            for turn in sorted(turns, key=lambda t: (turns[t]["start"], turns[t]["end"], t)):
                info = turns[turn]
                mapped = mapping.get(info["code"])
                if mapped is None and not keep_unlabelled:
                    continue
                label = label_id[mapped] if mapped is not None else -1
                n_labelled += mapped is not None
                wav = os.path.join(wav_root, dialog, f"{turn}.wav")
                if not os.path.isfile(wav):
                    missing_media.append(f"{turn}: audio ({wav})")
                    wav = None
                if video is None:
                    missing_media.append(
                        f"{turn}: video ({os.path.join(dialog_dir, 'avi', 'DivX', dialog + '.avi')})"
                    )
                utterances.append(
                    {
                        "utterance_id": turn,
                        "text": texts[turn],
                        "speaker": speaker_of(turn),
                        "label": label,
                        "start": info["start"],
                        "end": info["end"],
                        "audio_path": wav,
                        "video_path": video,
                    }
                )
            if n_labelled == 0:
                logger.info(f"IEMOCAP dialogue {dialog} has no utterance in config {config!r}; skipped")
                continue
            rows.append({"dialogue_id": dialog, "utterances": utterances})
        rows_by_session[s] = rows
    return rows_by_session, missing_media


def load_iemocap(
    data_dir: str | os.PathLike,
    config: str = "6class",
    keep_unlabelled: bool = False,
    validation_fraction: float = 0.1,
    seed: int = 42,
    cache_dir: str | os.PathLike | None = None,
) -> DatasetDict:
    """Load IEMOCAP_full_release as a `DatasetDict` with `train`, `validation` and `test` splits.

    Args:
        data_dir: the `IEMOCAP_full_release` folder (holding `Session1` ... `Session5`).
        config: `"6class"` (hap, sad, neu, ang, exc, fru) or `"4class"` (exc merged into hap).
        keep_unlabelled: keep utterances whose code is outside the config as context, with label -1.
        validation_fraction: fraction of the session 1-4 dialogues moved to `validation` (0 = no validation
            split).
        seed: seed of the validation draw.
        cache_dir: `datasets` cache folder for the Arrow files.

    Returns:
        `DatasetDict`; each row `{"dialogue_id": str, "utterances": [{utterance_id, text, speaker, label,
        start, end (float32 s), audio_path, video_path}, ...]}`, utterances ordered by start time.
    """
    rows_by_session, missing = parse_iemocap(data_dir, config=config, keep_unlabelled=keep_unlabelled)
    train_rows = [r for s in SESSIONS if s not in TEST_SESSIONS for r in rows_by_session[s]]
    test_rows = [r for s in TEST_SESSIONS for r in rows_by_session[s]]
    train_ids, val_ids = split_validation([r["dialogue_id"] for r in train_rows], validation_fraction, seed)
    by_id = {r["dialogue_id"]: r for r in train_rows}
    splits = {"train": [by_id[i] for i in train_ids]}
    if val_ids:
        splits["validation"] = [by_id[i] for i in val_ids]
    splits["test"] = test_rows
    names = IEMOCAP_CONFIGS[config][0]
    described = {}  # (turn, modality) -> "<turn>: <modality> (<path>)" from parse_iemocap
    for line in missing:
        turn, rest = line.split(": ", 1)
        described[(turn, rest.split(" ", 1)[0])] = line
    problems = [
        (split, [modality], described.get((u["utterance_id"], modality), f"{u['utterance_id']}: {modality}"))
        for split, rows in splits.items()
        for modality in ("audio", "video")
        for row in rows
        for u in row["utterances"]
        if u[f"{modality}_path"] is None
    ]
    options = f"--config {config}" + (" --keep-unlabelled" if keep_unlabelled else "")
    warn_masked_media("IEMOCAP", data_dir, problems, options)
    return build_dataset_dict(
        splits,
        dialogue_features(names),
        fingerprint_parts=["iemocap", config, keep_unlabelled, validation_fraction, seed],
        cache_dir=cache_dir,
    )


__all__ = ["IEMOCAP_LABELS_4", "IEMOCAP_LABELS_6", "load_iemocap", "parse_iemocap", "speaker_of"]
