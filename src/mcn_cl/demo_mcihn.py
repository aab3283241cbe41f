# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A generated sentiment corpus for MCIHN: the MCN-CL demo generator's utterances (`mcn_cl.demo`: words, tone and
moving shape per emotion, real wav / mp4 files) as single utterances with a sentiment score.

    >>> from mcn_cl.demo_mcihn import make_sentiment_demo
    >>> ds = make_sentiment_demo("demo_corpus")  # DatasetDict train / validation / test of utterance rows

Scores follow the emotion the tone and the picture show: joy +2, neutral 0, sadness -1.5, anger -2.5 (in MOSI's
[-3, 3]), with a seeded jitter of +-0.3. `conflict_share` > 0 makes the modalities partly disagree: that share of
the non-neutral utterances gets the words of an emotion of the opposite polarity (e.g. "we won the game" spoken in
the angry tone, with the angry picture) while the score stays the tone's and the picture's, so that text alone
cannot be right on them (the CGMM / MMD ablation of `benchmarks/mcihn_ablation.py`).
"""

from __future__ import annotations

import os

import numpy as np

from .demo import _PHRASES, DEMO_LABELS, load_demo_corpus, make_demo_corpus

SENTIMENT = {"neutral": 0.0, "joy": 2.0, "sadness": -1.5, "anger": -2.5}
OPPOSITE = {"joy": ("sadness", "anger"), "sadness": ("joy",), "anger": ("joy",)}


def sentiment_rows(dialogues, conflict_share: float = 0.0, seed: int = 0, jitter: float = 0.3) -> list[dict]:
    """Utterance rows `{id, text, audio_path, video_path, label, emotion, conflict}` of demo dialogue rows."""
    if not 0.0 <= conflict_share <= 1.0:
        raise ValueError(f"conflict_share must be in [0, 1], got {conflict_share!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for dialogue in dialogues:
        for u in dialogue["utterances"]:
            emotion = DEMO_LABELS[u["label"]]
            text, conflict = u["text"], False
            if emotion in OPPOSITE and rng.random() < conflict_share:
                text, conflict = str(rng.choice(_PHRASES[str(rng.choice(OPPOSITE[emotion]))])), True
            score = SENTIMENT[emotion] + float(rng.uniform(-jitter, jitter))
            rows.append({"id": u["utterance_id"], "text": text, "audio_path": u["audio_path"],
                         "video_path": u["video_path"], "label": round(score, 2), "emotion": emotion,
                         "conflict": conflict})  # fmt: skip
    return rows


def make_sentiment_demo(
    out_dir: str | os.PathLike, num_dialogues: int = 40, seed: int = 0, conflict_share: float = 0.0, **kwargs
):
    """Write (or reuse) the demo corpus in `out_dir` with `mcn_cl.demo.make_demo_corpus` and return its utterances
    as a `DatasetDict` (train / validation / test, the demo's dialogue split) of sentiment rows (`sentiment_rows`).
    `kwargs` go to `make_demo_corpus` (durations, frame size, ...)."""
    from datasets import Dataset, DatasetDict

    make_demo_corpus(out_dir, num_dialogues=num_dialogues, seed=seed, **kwargs)
    dialogues = load_demo_corpus(out_dir)
    return DatasetDict(
        {
            split: Dataset.from_list(sentiment_rows(dialogues[split], conflict_share, seed=seed + k))
            for k, split in enumerate(("train", "validation", "test"))
        }
    )


__all__ = ["OPPOSITE", "SENTIMENT", "make_sentiment_demo", "sentiment_rows"]
