"""Helpers of the MCIHN tests: a tiny config, generated utterance batches with a learnable structure, and generated
CMU-MOSI / CH-SIMS files in the exact layouts of the raw releases and of the MMSA processed pickles."""

from __future__ import annotations

import csv
import os
import pickle

import numpy as np
from conftest import TINY_TEXT_CONFIG

AUDIO_SIZE, VISUAL_SIZE, TEXT_SIZE = 5, 7, 24


def make_mcihn_config(**overrides):
    from mcn_cl import MCIHNConfig

    kwargs = dict(
        text_config=dict(TINY_TEXT_CONFIG),
        audio_feature_size=AUDIO_SIZE,
        visual_feature_size=VISUAL_SIZE,
        latent_size=8,
        autoencoder_hidden_size=16,
        discriminator_hidden_size=16,
        hidden_size=16,
        num_attention_heads=2,
        fusion_intermediate_size=32,
        classifier_hidden_size=16,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    kwargs.update(overrides)
    return MCIHNConfig(**kwargs)


def make_utterances(n: int, seed: int = 0, text: str = "features", vocab: int = 100) -> list[dict]:
    """`n` utterance feature rows whose score is carried by every modality (a sign times a fixed direction, plus
    noise); sequence lengths vary. `text`: "features" (text_features [T, 24]) or "tokens" (input_ids)."""
    rng = np.random.default_rng(seed)
    directions = {
        m: rng.normal(size=size) for m, size in (("t", TEXT_SIZE), ("a", AUDIO_SIZE), ("v", VISUAL_SIZE))
    }
    rows = []
    for _ in range(n):
        score = float(np.round(rng.uniform(-3, 3), 1))

        def seq(m, length, score=score):
            return (score / 3 * directions[m] + 0.5 * rng.normal(size=(length, directions[m].size))).astype(
                np.float32
            )

        row = {
            "audio_features": seq("a", int(rng.integers(3, 8))),
            "visual_features": seq("v", int(rng.integers(2, 6))),
            "label": score,
        }
        if text == "tokens":
            row["input_ids"] = [2, *rng.integers(4, vocab, size=int(rng.integers(2, 6))).tolist(), 3]
        else:
            row["text_features"] = seq("t", int(rng.integers(3, 9)))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------- MOSI / SIMS files

MOSI_LABEL_CSV_COLUMNS = ["video_id", "clip_id", "text", "label", "annotation", "mode"]
SIMS_LABEL_CSV_COLUMNS = [
    "video_id", "clip_id", "text", "label", "label_T", "label_A", "label_V", "annotation", "mode",
]  # fmt: skip
MOSI_WORDS = "i loved this movie it was great not good at all the plot so bad".split()


def _annotation(score: float) -> str:
    return "Positive" if score > 0 else "Negative" if score < 0 else "Neutral"


def make_raw_release(
    root: str, dataset: str = "mosi", clips: bool = True, missing: tuple[str, ...] = ()
) -> list[dict]:
    """`root/label.csv` + `root/Raw/<video_id>/<clip_id>.mp4` in the layout of the MOSI / SIMS raw releases (MMSA):
    two videos, 2-3 clips each, modes train / valid / test. Clips named in `missing` ("vid$_$clip") are not
    written. Returns the rows written."""
    from _fixtures_datasets import write_video

    os.makedirs(root, exist_ok=True)
    rows = []
    plan = [("vidA", 1, "train"), ("vidA", 2, "train"), ("vidA", 3, "valid"), ("vidB", 1, "train"),
            ("vidB", 2, "test"), ("vidB", 3, "test")]  # fmt: skip
    rng = np.random.default_rng(0)
    for video_id, clip_id, mode in plan:
        score = (
            float(np.round(rng.uniform(-3, 3), 1))
            if dataset == "mosi"
            else float(np.round(rng.uniform(-1, 1), 1))
        )
        text = " ".join(rng.choice(MOSI_WORDS, size=4)) if dataset == "mosi" else "我很喜欢这部电影"
        row = {"video_id": video_id, "clip_id": clip_id, "text": text, "label": score, "annotation": _annotation(score),
               "mode": mode}  # fmt: skip
        if dataset == "sims":
            row.update(label_T=score, label_A=-score, label_V=0.2)
        rows.append(row)
        if clips and f"{video_id}$_${clip_id}" not in missing:
            write_video(os.path.join(root, "Raw", video_id, f"{clip_id}.mp4"), seconds=0.4)
    columns = MOSI_LABEL_CSV_COLUMNS if dataset == "mosi" else SIMS_LABEL_CSV_COLUMNS
    with open(os.path.join(root, "label.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def make_mmsa_pickle(path: str, sizes=(3, 2, 2), seq=(6, 8, 5), dims=(AUDIO_SIZE, VISUAL_SIZE), vocab: int = 100,
                     seed: int = 0, with_lengths: bool = True, text_features: bool = True) -> dict:  # fmt: skip
    """An MMSA processed pickle (`unaligned_50.pkl` layout): `{"train", "valid", "test"}` dicts with `raw_text`,
    `id` ("video$_$clip"), `text_bert` [N, 3, T] (ids, mask, segments), `text` [N, T, 768-like] (here 24),
    `audio` [N, T_a, D_a], `vision` [N, T_v, D_v], `audio_lengths`, `vision_lengths`, `regression_labels`,
    `classification_labels`, `annotations`. The padded frames past each length are zeros. Returns the dict."""
    rng = np.random.default_rng(seed)
    t_len, a_len, v_len = seq
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        lengths_t = rng.integers(3, t_len + 1, size=n)
        ids = np.zeros((n, t_len))
        mask = np.zeros((n, t_len))  # noqa: E702
        for i, length in enumerate(lengths_t):
            ids[i, :length] = [2, *rng.integers(4, vocab, size=length - 2), 3]
            mask[i, :length] = 1
        audio_lengths = rng.integers(2, a_len + 1, size=n)
        vision_lengths = rng.integers(2, v_len + 1, size=n)
        audio = np.zeros((n, a_len, dims[0]), dtype=np.float32)
        vision = np.zeros((n, v_len, dims[1]), dtype=np.float32)
        for i in range(n):
            audio[i, : audio_lengths[i]] = rng.normal(size=(audio_lengths[i], dims[0]))
            vision[i, : vision_lengths[i]] = rng.normal(size=(vision_lengths[i], dims[1]))
        scores = np.round(rng.uniform(-3, 3, size=n), 1).astype(np.float32)
        entry = {
            "raw_text": np.array([" ".join(rng.choice(MOSI_WORDS, size=4)) for _ in range(n)]),
            "id": [f"vid{split}{i}$_${i + 1}" for i in range(n)],
            "text_bert": np.stack([ids, mask, np.zeros_like(ids)], axis=1).astype(np.float32),
            "audio": audio,
            "vision": vision,
            "regression_labels": scores,
            "classification_labels": (scores > 0).astype(np.float32),
            "annotations": [_annotation(s) for s in scores],
        }
        if text_features:
            entry["text"] = (rng.normal(size=(n, t_len, TEXT_SIZE)) * mask[..., None]).astype(np.float32)
        if with_lengths:
            entry["audio_lengths"] = audio_lengths.tolist()
            entry["vision_lengths"] = vision_lengths.tolist()
        data[split] = entry
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=4)
    return data
