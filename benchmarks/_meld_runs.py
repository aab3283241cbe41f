# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""One run of `benchmarks/meld_text.py`: the corpora (MELD and the derived small_dyadic), an MCN-CL run through
`examples/train.py`, and the frozen-MiniLM + BiGRU baseline."""

from __future__ import annotations

import collections
import copy
import csv
import json
import os
import shlex
import sys
import time

from _common import SELECT_ON_DEV_ARGS, remove_weights
from _meld_settings import REPO, max_text_length

# ------------------------------------------------------------------------------------------------ corpora


def _read_rows(path: str) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def make_small_dyadic(meld_dir: str, out_dir: str, train_dialogues: int = 120, min_length: int = 50) -> str:
    """Write the `small_dyadic` corpus (MELD CSV format) into `out_dir` and return it (see the module docstring).

    Consecutive dialogues of each MELD split (in Dialogue_ID order) are chained until the chain holds at least
    `min_length` utterances; train keeps its first `train_dialogues` chains, dev and test all of theirs. Speakers of
    a chain other than its two most frequent are renamed "Other" (the target corpus is dyadic).
    """
    os.makedirs(out_dir, exist_ok=True)
    for name in ("train_sent_emo.csv", "dev_sent_emo.csv", "test_sent_emo.csv"):
        header, rows = _read_rows(os.path.join(meld_dir, name))
        dialogues = collections.defaultdict(list)
        for row in rows:
            dialogues[int(row["Dialogue_ID"])].append(row)
        chains, current = [], []
        for dia in sorted(dialogues):
            current += sorted(dialogues[dia], key=lambda r: int(r["Utterance_ID"]))
            if len(current) >= min_length:
                chains.append(current)
                current = []
        if current:
            chains.append(current)
        if name.startswith("train"):
            chains = chains[:train_dialogues]
        out_rows = []
        for c, chain in enumerate(chains):
            top = {s for s, _ in collections.Counter(r["Speaker"] for r in chain).most_common(2)}
            for u, row in enumerate(chain):
                row = dict(row, Dialogue_ID=str(c), Utterance_ID=str(u))
                if row["Speaker"] not in top:
                    row["Speaker"] = "Other"
                out_rows.append(row)
        tmp = os.path.join(out_dir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(out_rows)
        os.replace(tmp, os.path.join(out_dir, name))
    return out_dir


def corpus_dir(args, corpus: str) -> str:
    if corpus == "meld":
        return args.meld_dir
    if corpus == "small_dyadic":
        return os.path.join(args.work_dir, "corpora", "small_dyadic")
    raise ValueError(f"unknown corpus {corpus!r}")


def corpus_stats(folder: str) -> dict:
    """Dialogues / utterances per split and the dev weighted F1 of always predicting the most frequent train class
    (the class prior a learning curve must leave)."""
    from sklearn.metrics import f1_score

    stats = {}
    labels = {}
    for split, name in (("train", "train"), ("validation", "dev"), ("test", "test")):
        _, rows = _read_rows(os.path.join(folder, f"{name}_sent_emo.csv"))
        stats[split] = {"dialogues": len({r["Dialogue_ID"] for r in rows}), "utterances": len(rows)}
        labels[split] = [r["Emotion"].strip().lower() for r in rows]
    majority = collections.Counter(labels["train"]).most_common(1)[0][0]
    dev = labels["validation"]
    stats["dev_prior_weighted_f1"] = float(
        f1_score(dev, [majority] * len(dev), average="weighted", zero_division=0)
    )
    stats["majority_class"] = majority
    return stats


# ------------------------------------------------------------------------------------------- one MCN-CL run


def text_encoder_path(name: str) -> str:
    sys.path.insert(0, os.path.join(REPO, "examples"))
    import train  # examples/train.py

    return train.resolve_text_encoder(name)


def train_arguments(args, hp: dict, seed: int, run_dir: str) -> list[str]:
    """The `examples/train.py` command line of one run (current config defaults: no initializer_range)."""
    overrides = {
        "visual_backbone": None,
        "text_pooling": hp["pooling"],
        "context_encoder": hp["context_encoder"],
    }
    if not hp["mcn"]:
        overrides["use_mcn"] = False
    if hp["causal"]:
        overrides["causal"] = True
    values = {
        "dataset": "meld",
        "data_dir": corpus_dir(args, hp["corpus"]),
        "text_encoder": args.text_encoder,
        "visual_weights": "none",
        "config_overrides": json.dumps(overrides),
        "max_text_length": max_text_length(hp),
        "text_context_past": hp["ctx_past"],
        "text_context_future": hp["ctx_future"],
        "text_speaker_names": "true" if hp["speakers"] else "false",
        "text_context_past_only": "true" if hp["causal"] else "false",
        "hard_negative_ratio": hp["rho"],
        "contrastive_temperature": hp["tau"],
        "contrastive_weight_text": hp["alpha"],
        "class_weights": hp["cw"],
        "output_dir": run_dir,
        "num_train_epochs": hp["epochs"],
        "per_device_train_batch_size": hp["bs"],
        "utterances_per_batch": 0,  # bs dialogues per batch, as these runs were measured (train.py's default: 40)
        "per_device_eval_batch_size": 16,
        "learning_rate": hp["lr"],
        "encoder_learning_rate": hp["elr"],
        "weight_decay": hp["wd"],
        "warmup_steps": hp["warmup"],
        "lr_scheduler_type": "linear",
        "max_grad_norm": 1.0,
        # dev after every epoch: the learning curve, and the candidates of the checkpoint selection
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "save_only_model": "true",
        **SELECT_ON_DEV_ARGS,
        "seed": seed,
        "use_cpu": "true" if args.device == "cpu" else "false",
    }
    if args.bf16:
        values["bf16"] = "true"
    if args.max_dialogues:
        values["max_train_dialogues"] = args.max_dialogues
        values["max_eval_dialogues"] = args.max_dialogues
    return [item for key, value in values.items() for item in (f"--{key}", str(value))]


def command_line(argv: list[str]) -> str:
    return "python examples/train.py " + " ".join(shlex.quote(a) for a in argv)


def run_mcn_cl(args, setting: str, hp: dict, seed: int, run_dir: str) -> dict:
    import torch

    sys.path.insert(0, os.path.join(REPO, "examples"))
    import train  # examples/train.py

    argv = train_arguments(args, hp, seed, run_dir)
    start = time.time()
    test = train.main(argv)
    wall = time.time() - start
    with open(os.path.join(run_dir, "train_results.json"), encoding="utf-8") as f:
        train_metrics = json.load(f)
    with open(os.path.join(run_dir, "trainer_state.json"), encoding="utf-8") as f:
        state = json.load(f)
    dev_curve = [
        {
            "epoch": round(e["epoch"], 3),
            "weighted_f1": e["eval_weighted_f1"],
            "macro_f1": e.get("eval_macro_f1"),
        }
        for e in state["log_history"]
        if "eval_weighted_f1" in e
    ]
    record = {
        **_test_fields(test, test["label_names"], prefix="test_"),
        "dev_weighted_f1_best": test["best_validation_metric"],
        "dev_curve": dev_curve,
        "best_checkpoint": os.path.basename(test["best_model_checkpoint"] or ""),
        "train_runtime_s": train_metrics.get("train_runtime"),
        "wall_s": round(wall, 1),
        "torch_threads": torch.get_num_threads(),
        "command": command_line(argv),
    }
    if not args.keep_checkpoints:  # the weights are not needed for the figures
        remove_weights(run_dir)
    return record


def _test_fields(metrics: dict, names: list[str], prefix: str) -> dict:
    return {
        "test_weighted_f1": metrics[f"{prefix}weighted_f1"],
        "test_macro_f1": metrics[f"{prefix}macro_f1"],
        "test_accuracy": metrics.get(f"{prefix}accuracy"),
        "test_num_utterances": metrics.get(f"{prefix}num_utterances"),
        "test_per_class_f1": {name: metrics[f"{prefix}f1_{name}"] for name in names},
    }


# ----------------------------------------------------------------------------------------- frozen baseline


def embed_split(split, tokenizer, encoder, device, batch_size: int = 256):
    """Frozen MiniLM, mean-pooled over the attention mask: one 384-d vector per utterance of each dialogue."""
    import torch

    texts = [u["text"] for row in split["utterances"] for u in row]
    vectors = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[i : i + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt"
            ).to(device)
            hidden = encoder(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vectors.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu())
    flat = torch.cat(vectors)
    dialogues, offset = [], 0
    for row in split:
        n = len(row["utterances"])
        labels = [u["label"] for u in row["utterances"]]
        dialogues.append((flat[offset : offset + n], torch.tensor(labels)))
        offset += n
    return dialogues


def run_baseline(args, hp: dict, seed: int) -> dict:
    """Frozen MiniLM mean-pooled embeddings + a BiGRU over each dialogue, AdamW 1e-3, best epoch on dev weighted F1."""
    import torch
    from torch import nn
    from transformers import AutoModel, AutoTokenizer

    import mcn_cl
    from mcn_cl.datasets_scripts import label_names
    from mcn_cl.metrics_mcn_cl import emotion_metrics

    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    raw = mcn_cl.load_meld(csv_dir=corpus_dir(args, hp["corpus"]), check_media=False)
    names = label_names(raw["train"])
    path = text_encoder_path(args.text_encoder)
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path).to(device).eval()
    start = time.time()
    data = {}
    for split in ("train", "validation", "test"):
        ds = raw[split]
        if args.max_dialogues:
            ds = ds.select(range(min(args.max_dialogues, len(ds))))
        data[split] = embed_split(ds, tokenizer, encoder, device)
    embed_s = time.time() - start
    del encoder

    def batches(dialogues, size, shuffle, generator):
        order = (
            torch.randperm(len(dialogues), generator=generator) if shuffle else torch.arange(len(dialogues))
        )
        for i in range(0, len(order), size):
            chunk = [dialogues[j] for j in order[i : i + size].tolist()]
            x = nn.utils.rnn.pad_sequence([c[0] for c in chunk], batch_first=True)
            y = nn.utils.rnn.pad_sequence([c[1] for c in chunk], batch_first=True, padding_value=-100)
            yield x.to(device), y.to(device), torch.tensor([len(c[1]) for c in chunk])

    class BiGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.dropout = nn.Dropout(0.3)
            self.gru = nn.GRU(384, 128, batch_first=True, bidirectional=True)
            self.out = nn.Linear(256 + 384, len(names))

        def forward(self, x, lengths):
            packed = nn.utils.rnn.pack_padded_sequence(
                self.dropout(x), lengths, batch_first=True, enforce_sorted=False
            )
            h, _ = self.gru(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
            return self.out(self.dropout(torch.cat([h, x], dim=-1)))

    def predict(model, dialogues):
        model.eval()
        preds, refs = [], []
        with torch.no_grad():
            for x, y, lengths in batches(dialogues, 64, False, None):
                logits = model(x, lengths)
                keep = y != -100
                preds.append(logits.argmax(-1)[keep].cpu())
                refs.append(y[keep].cpu())
        return torch.cat(preds).numpy(), torch.cat(refs).numpy()

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = BiGRU().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    best, best_state, t0, curve = -1.0, None, time.time(), []
    for epoch in range(hp["epochs"]):
        model.train()
        for x, y, lengths in batches(data["train"], 8, True, generator):
            loss = nn.functional.cross_entropy(
                model(x, lengths).flatten(0, 1), y.flatten(), ignore_index=-100
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        dev = emotion_metrics(*predict(model, data["validation"]), names)
        curve.append({"epoch": epoch + 1, "weighted_f1": dev["weighted_f1"], "macro_f1": dev["macro_f1"]})
        if dev["weighted_f1"] > best:
            best, best_state = dev["weighted_f1"], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    test = emotion_metrics(*predict(model, data["test"]), names)
    return {
        **_test_fields(test, names, prefix=""),
        "dev_weighted_f1_best": best,
        "dev_curve": curve,
        "embed_s": round(embed_s, 1),
        "train_runtime_s": round(time.time() - t0, 1),
    }
