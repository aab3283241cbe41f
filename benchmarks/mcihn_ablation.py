# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What MCIHN's cross-modal paths add, measured offline (issue 22 item 4): the CGMM / MMD ablation on the generated
sentiment demo corpus with partly conflicting modalities.

    OMP_NUM_THREADS=1 python benchmarks/mcihn_ablation.py --corpus_dir /tmp/mcihn_ablation_corpus \\
        --write_markdown BENCHMARKS.md

Corpus: `mcn_cl.demo_mcihn.make_sentiment_demo` (the MCN-CL demo generator's utterances: words, tone and moving
shape per emotion) with `--conflict_share` of the non-neutral utterances given the words of an emotion of the
opposite polarity while the score follows tone and picture (sarcasm-like: text alone is wrong on them). Features as
`examples/train_mcihn.py --dataset demo` computes them, once for every run: all-MiniLM-L6-v2 tokens (frozen
tower), openSMILE eGeMAPS low-level descriptors pooled per 40 ms, frames of a small random frozen ResNet.

Variants (same seeds, same data, same budget; the best epoch on dev MAE is evaluated on test once):
full MCIHN; without MMD (`mmd_weight=0`); without CGMM (`use_cgmm=False`: the fusion sees the unimodal tokens
only, the MMD term stays); without both; and text only (the same model given the words alone). Reported: test
MAE, Corr, Acc-2 (non-zero), Acc-7, and Acc-2 / MAE on the conflicting test utterances, mean +- std over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "examples"))
sys.path.insert(0, HERE)

from _common import machine_info, save_json, write_markdown  # noqa: E402

SECTION = "mcihn_ablation"
VARIANTS = {
    "full": {},
    "no_mmd": {"mmd_weight": 0.0},
    "no_cgmm": {"use_cgmm": False},
    "no_cgmm_no_mmd": {"use_cgmm": False, "mmd_weight": 0.0},
    "text_only": {},
}
LABELS = {
    "full": "MCIHN (CGMM + MMD)",
    "no_mmd": "without MMD",
    "no_cgmm": "without CGMM",
    "no_cgmm_no_mmd": "without CGMM and MMD",
    "text_only": "text only (same model, words alone)",
}
TRAINING = dict(num_train_epochs=12, per_device_train_batch_size=16, per_device_eval_batch_size=32, learning_rate=1e-3,
                eval_strategy="epoch", save_strategy="epoch", save_total_limit=1, load_best_model_at_end=True,
                metric_for_best_model="mae", greater_is_better=False, logging_steps=50, report_to="none",
                save_only_model=True, disable_tqdm=True, use_cpu=True, dataloader_num_workers=0)  # fmt: skip


def features(corpus_dir: str, conflict_share: float, num_dialogues: int):
    """(DatasetDict of precomputed model inputs with `conflict`, processor, the train script's arguments)."""
    import train_mcihn

    from mcn_cl.demo_mcihn import make_sentiment_demo

    args, _ = train_mcihn.parse_arguments(
        ["--dataset", "demo", "--output_dir", os.path.join(corpus_dir, "unused")]
    )
    train_mcihn.check_arguments(args)
    data = make_sentiment_demo(corpus_dir, num_dialogues=num_dialogues, conflict_share=conflict_share,
                               split_sizes=(0.6, 0.2))  # fmt: skip
    _, processor = train_mcihn.build(args, {"num_labels": 1, "sentiment_range": (-3.0, 3.0)})
    return train_mcihn.precompute(data, processor, quiet=True), processor, args


def run(variant: str, seed: int, data, processor, args, work: str) -> dict:
    import torch
    import train_mcihn
    from transformers import TrainingArguments, set_seed

    from mcn_cl import MCIHNDataCollator, MCIHNTrainer
    from mcn_cl.metrics_mcihn import make_sentiment_metrics, sentiment_metrics

    start = time.process_time()
    set_seed(seed)
    args.config_overrides = json.dumps(VARIANTS[variant])
    model, _ = train_mcihn.build(args, {"num_labels": 1, "sentiment_range": (-3.0, 3.0)})
    if variant == "text_only":
        drop = [
            c for c in ("audio_features", "pixel_values", "frame_mask") if c in data["train"].column_names
        ]
        data = data.remove_columns(drop).map(lambda row: {"modality_mask": [1, 0, 0]})
    out = os.path.join(work, f"{variant}-{seed}")
    trainer = MCIHNTrainer(
        model=model, args=TrainingArguments(output_dir=out, seed=seed, **TRAINING), train_dataset=data["train"],
        eval_dataset=data["validation"], data_collator=MCIHNDataCollator(processor),
        compute_metrics=make_sentiment_metrics("mosi"),
    )  # fmt: skip
    trainer.train()
    prediction = trainer.predict(data["test"], metric_key_prefix="test")
    scores = np.asarray(prediction.predictions[0] if isinstance(prediction.predictions, tuple)
                        else prediction.predictions).reshape(-1)  # fmt: skip
    gold = np.asarray(data["test"]["labels"], dtype=np.float64)
    conflict = np.asarray(data["test"]["conflict"], dtype=bool)
    sub = sentiment_metrics(scores[conflict], gold[conflict], "mosi")
    shutil.rmtree(out, ignore_errors=True)
    torch.cuda.empty_cache()
    return {
        "variant": variant, "seed": seed, **{k: v for k, v in prediction.metrics.items() if k.startswith("test_")},
        "conflict_acc_2": sub["acc_2"], "conflict_mae": sub["mae"], "conflict_utterances": int(conflict.sum()),
        "best_validation_mae": trainer.state.best_metric, "cpu_seconds": round(time.process_time() - start, 1),
    }  # fmt: skip


def _mean_std(values) -> str:
    values = [float(v) for v in values]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def _pct(values) -> str:
    values = [100 * float(v) for v in values]
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}"


def render_markdown(results: dict, source: str) -> str:
    meta = results["meta"]
    lines = [
        f"Generated by `benchmarks/mcihn_ablation.py --write_markdown` from `{source}` ({meta['cpu']}, "
        f"{meta['torch_threads']} torch thread). Demo corpus: {meta['num_dialogues']} generated dialogues, "
        f"{meta['utterances']} utterances (train / dev / test {meta['split_utterances']}), "
        f"{100 * meta['conflict_share']:.0f} % of the non-neutral utterances with words of the opposite polarity "
        f"({meta['test_conflicts']} of the {meta['split_utterances'][2]} test utterances). Mean ± std over seeds "
        f"{', '.join(str(s) for s in meta['seeds'])}; the best epoch on dev MAE, test once.",
        "",
        "| variant | runs | test MAE | test Corr | test Acc-2 (%) | test Acc-7 (%) | conflicting: Acc-2 (%) | "
        "conflicting: MAE | CPU s / run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        runs = [r for r in results["runs"] if r["variant"] == variant]
        if not runs:
            lines.append(f"| {LABELS[variant]} | 0 | not run | | | | | | |")
            continue
        lines.append(
            f"| {LABELS[variant]} | {len(runs)} | {_mean_std(r['test_mae'] for r in runs)} | "
            f"{_mean_std(r['test_corr'] for r in runs)} | {_pct(r['test_acc_2'] for r in runs)} | "
            f"{_pct(r['test_acc_7'] for r in runs)} | {_pct(r['conflict_acc_2'] for r in runs)} | "
            f"{_mean_std(r['conflict_mae'] for r in runs)} | {np.mean([r['cpu_seconds'] for r in runs]):.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus_dir", default=os.path.join(tempfile.gettempdir(), "mcihn_ablation_corpus"))
    parser.add_argument("--num_dialogues", type=int, default=80)
    parser.add_argument("--conflict_share", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--results", default=os.path.join(HERE, "results", "mcihn_ablation.json"))
    parser.add_argument("--write_markdown", default=None, help="BENCHMARKS.md to update")
    parser.add_argument(
        "--render_only", action="store_true", help="only render --results into --write_markdown"
    )
    args = parser.parse_args(argv)

    if not args.render_only:
        data, processor, train_args = features(args.corpus_dir, args.conflict_share, args.num_dialogues)
        sizes = [len(data[s]) for s in ("train", "validation", "test")]
        results = {"meta": {**machine_info(), "num_dialogues": args.num_dialogues, "utterances": sum(sizes),
                            "split_utterances": sizes, "conflict_share": args.conflict_share, "seeds": args.seeds,
                            "test_conflicts": int(sum(data["test"]["conflict"]))}, "runs": []}  # fmt: skip
        if os.path.exists(args.results):  # resume: keep the runs of the same setting
            with open(args.results, encoding="utf-8") as f:
                old = json.load(f)
            if {k: old["meta"].get(k) for k in ("num_dialogues", "conflict_share")} == {
                "num_dialogues": args.num_dialogues, "conflict_share": args.conflict_share}:  # fmt: skip
                results["runs"] = old["runs"]
        work = tempfile.mkdtemp(prefix="mcihn_ablation_")
        for seed in args.seeds:
            for variant in args.variants:
                if any(r["variant"] == variant and r["seed"] == seed for r in results["runs"]):
                    continue
                result = run(variant, seed, data, processor, train_args, work)
                print(json.dumps(result), flush=True)
                results["runs"].append(result)
                save_json(args.results, results)
    with open(args.results, encoding="utf-8") as f:
        results = json.load(f)
    if args.write_markdown:
        source = os.path.relpath(args.results, os.path.dirname(os.path.abspath(args.write_markdown)))
        write_markdown(args.write_markdown, SECTION, render_markdown(results, source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
