# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Online mode: per-utterance latency of the stream step vs re-running the whole conversation (issue 12, 5b).

    OMP_NUM_THREADS=1 python benchmarks/stream_latency.py \
        --output benchmarks/results/stream_latency.json --write_markdown BENCHMARKS.md

A causal MCN-CL (`causal=True`) answers each new utterance of a live conversation. Without a stream it must re-run
the whole conversation so far (N utterances) for the N-th answer; with `model.init_stream()` it takes one step that
reuses the recurrent states and the past keys / values. For conversations of 10, 50 and 200 utterances this script
times, at the conversation's last utterance:

- stream: `stream.step(...)` for utterance N after the N - 1 earlier steps (median of the last `--tail` steps);
- re-run: the model's forward over the N utterances (median of `--repeats` runs), the cost of answering
  utterance N without a stream.

The model is the paper's size on precomputed features (`benchmarks/speed.py`'s `paper_size_config`: hidden 256,
T = 2 MCN layers, 768-d text vectors, IS10 1582-d audio, 16 x 1000-d ResNet-101 frame features through the visual
projection + PSA; random weights, one dialogue, two speakers), with each context encoder (`--context_encoders`); the
time of reading media is not included (see `speed.py` (b) for it). `--size tiny` runs a tiny model for a plumbing
check. Every run also checks that the streamed logits equal the full forward's (`max_abs_diff`).

Results go to `--output` (JSON); `--write_markdown` renders that JSON into the `stream_latency` section of
BENCHMARKS.md. CPU: run with OMP_NUM_THREADS=1 (the script also sets one torch thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime

import torch
from _common import machine_info, save_json, write_markdown  # benchmarks/ is on sys.path when run as a script
from speed import paper_size_batch, paper_size_config

from mcn_cl import MCNCLForEmotionRecognition

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = "stream_latency"
STEP_KEYS = (
    "text_features",
    "audio_features",
    "visual_features",
    "frame_mask",
    "speaker_ids",
)  # what one utterance brings; utterance_mask and labels are not stream inputs


def build_model(size: str, context_encoder: str) -> MCNCLForEmotionRecognition:
    """A causal model at the paper's size (or tiny), random weights, eval mode."""
    config = paper_size_config()
    config.causal = True
    config.context_encoder = context_encoder
    if size == "tiny":
        for key, value in {
            "hidden_size": 32,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "projection_size": 16,
            "classifier_hidden_size": 32,
            "text_feature_size": 24,
            "audio_feature_size": 20,
            "visual_feature_size": 30,
        }.items():
            setattr(config, key, value)
    torch.manual_seed(0)
    return MCNCLForEmotionRecognition(config).eval()


def _median_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


def bench_length(model, num_utterances: int, repeats: int, tail: int) -> dict:
    """Stream step vs re-run at the last utterance of a conversation of `num_utterances` utterances."""
    batch = paper_size_batch(
        model.config, dialogues=1, utterances=num_utterances, frames=16, seed=num_utterances
    )
    batch = {k: v for k, v in batch.items() if k in STEP_KEYS}
    with torch.no_grad():
        full = model(**batch).logits  # warm-up, and the reference logits
        stream = model.init_stream(batch_size=1)
        step_s, logits = [], []
        for i in range(num_utterances):
            inputs = {k: v[:, i : i + 1] for k, v in batch.items()}
            started = time.perf_counter()
            out = stream.step(**inputs)
            step_s.append(time.perf_counter() - started)
            logits.append(out.logits)
        rerun_s = []
        for _ in range(repeats):
            started = time.perf_counter()
            model(**batch)
            rerun_s.append(time.perf_counter() - started)
    streamed = torch.cat(logits, dim=1)
    last = step_s[-min(tail, num_utterances) :]
    return {
        "utterances": num_utterances,
        "stream_step_ms": _median_ms(last),
        "stream_step_ms_all": [round(1000 * s, 3) for s in step_s],
        "stream_first_step_ms": 1000 * step_s[0],
        "rerun_ms": _median_ms(rerun_s),
        "rerun_ms_all": [round(1000 * s, 3) for s in rerun_s],
        "speedup": statistics.median(rerun_s) / statistics.median(last),
        "max_abs_diff": float((streamed - full).abs().max()),
    }


def render_markdown(result: dict, path: str) -> str:
    m = result["meta"]
    machine = m["machine"]
    lines = [
        f"#### `{path}` (cpu; {machine['cpu']}, {machine['cpu_cores']} cores, {machine['torch_threads']} torch "
        f"threads, load average at start {m['load_average_at_start']}; {m['date']})",
        "",
        f"`{m['command']}` · {m['model']} · torch {machine['torch']}, transformers {machine['transformers']}",
        "",
        "| context encoder | utterances | stream step (ms, utterance N) | re-run of the N utterances (ms) "
        "| re-run / step | max abs diff stream vs full |",
        "|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        for r in run["lengths"]:
            lines.append(
                f"| {run['context_encoder']} | {r['utterances']} | {r['stream_step_ms']:.2f} | "
                f"{r['rerun_ms']:.2f} | {r['speedup']:.1f}x | {r['max_abs_diff']:.1e} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--lengths", default="10,50,200", help="conversation lengths (utterances), comma-separated"
    )
    parser.add_argument(
        "--context_encoders", default="dialoguernn,bigru,transformer", help="comma-separated context encoders"
    )
    parser.add_argument("--size", choices=["paper", "tiny"], default="paper", help="model size")
    parser.add_argument("--repeats", type=int, default=3, help="timed re-runs of the whole conversation")
    parser.add_argument("--tail", type=int, default=10, help="stream steps (the last ones) in the median")
    parser.add_argument("--output", default=None, help="JSON file of the results (default: print only)")
    parser.add_argument("--write_markdown", default=None, help="render the results into this file's section")
    args = parser.parse_args(argv)
    if not hasattr(MCNCLForEmotionRecognition, "init_stream"):
        parser.error(
            "this mcn_cl has no MCNCLForEmotionRecognition.init_stream (online mode, issue 12 items 1-2)"
        )
    torch.set_num_threads(1)
    lengths = [int(n) for n in args.lengths.split(",")]
    result = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "command": "OMP_NUM_THREADS=1 python benchmarks/stream_latency.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "model": (
                "paper size on precomputed features (hidden 256, T=2, 768-d text, 1582-d audio, 16 x 1000-d "
                "frames), causal, random weights"
                if args.size == "paper"
                else "tiny (hidden 32), causal, random weights: a plumbing check, not a benchmark"
            ),
        },
        "runs": [],
    }
    for encoder in args.context_encoders.split(","):
        model = build_model(args.size, encoder)
        run = {"context_encoder": encoder, "lengths": []}
        for n in lengths:
            run["lengths"].append(bench_length(model, n, args.repeats, args.tail))
            summary = {k: v for k, v in run["lengths"][-1].items() if not k.endswith("_all")}
            print(json.dumps({"context_encoder": encoder, **summary}), flush=True)
        result["runs"].append(run)
    if args.output:
        save_json(args.output, result)
    if args.write_markdown:
        shown = os.path.relpath(args.output, os.path.dirname(HERE)) if args.output else "(not saved)"
        write_markdown(args.write_markdown, SECTION, render_markdown(result, shown))
    return result


if __name__ == "__main__":
    main()
