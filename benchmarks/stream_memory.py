# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Online mode: memory and step time of a long stream (issue 18 item 4).

    OMP_NUM_THREADS=1 python benchmarks/stream_memory.py --utterances 5000 \
        --output benchmarks/results/stream_memory.json --write_markdown BENCHMARKS.md

Streams `--utterances` utterances (random features, two speakers) through a tiny causal MCN-CL with random weights
(`stream_latency.py --size tiny`: hidden 32, T = 2 MCN layers) and records, every `--every` utterances, the growth of
the process's resident memory (RSS, from /proc/self/statm, against the RSS after one warm-up step) and the median
step time of the last 100 steps. Each run is a fresh Python process, so one run's heap does not carry into the next.

`--history cat` runs the stream as it was before issue 18: each step appended the new utterance to the cached
history with `torch.cat` (a copy of the whole past into a new, larger tensor every step); `buffer` (the default,
the package's code) appends into buffers whose capacity doubles. Both give the same logits.

What must grow: a causal MCN layer attends from the new utterance to every past utterance, so the cached keys /
values (the past context features: [t, 3, hidden]) and the attention cost grow with the conversation, O(t) per step
by design; the DialogueRNN's attention over the past global states and the causal transformer's past layer inputs
too. What need not: copies of the past and ever larger allocations per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = "stream_memory"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cat_history() -> None:
    """Put back the pre-issue-18 history append (`torch.cat` of the whole past every step)."""
    import torch

    from mcn_cl.modeling import context_encoders_mcn_cl, modeling_mcn_cl

    def append(past, new):
        new = new.unsqueeze(1)
        return new if past is None else torch.cat([past, new], dim=1)

    context_encoders_mcn_cl._append_utterance = append
    modeling_mcn_cl._append_utterance = append


def one_run(context_encoder: str, history: str, utterances: int, every: int, hidden: int = 32) -> dict:
    """The measurement itself (in a fresh process): RSS growth and step time along one long stream."""
    import torch
    from speed import paper_size_batch
    from stream_latency import STEP_KEYS, build_model

    torch.set_num_threads(1)
    if history == "cat":
        _cat_history()
    model = build_model("tiny", context_encoder)
    if hidden != model.config.hidden_size:  # the tiny model, wider (heads of 16)
        config = model.config
        config.hidden_size, config.intermediate_size = hidden, 2 * hidden
        config.num_attention_heads = max(2, hidden // 16)
        torch.manual_seed(0)
        model = type(model)(config).eval()
    batch = paper_size_batch(model.config, dialogues=1, utterances=50, frames=16, seed=0)
    steps = [{k: v[:, i : i + 1] for k, v in batch.items() if k in STEP_KEYS} for i in range(50)]
    stream = model.init_stream(batch_size=1)
    stream.step(**steps[0])  # warm-up: the allocator's first pools
    stream.reset()
    start = _rss_mb()
    times, points = [], []
    for i in range(utterances):
        started = time.perf_counter()
        stream.step(**steps[i % len(steps)])
        times.append(time.perf_counter() - started)
        if (i + 1) % every == 0 or i + 1 == utterances:
            points.append(
                {
                    "utterances": i + 1,
                    "rss_growth_mb": round(_rss_mb() - start, 1),
                    "step_ms_median_last_100": round(1000 * statistics.median(times[-100:]), 2),
                }
            )
    return {"context_encoder": context_encoder, "history": history, "hidden": hidden, "points": points}


def render_markdown(result: dict, path: str) -> str:
    m = result["meta"]
    machine = m["machine"]
    checkpoints = [p["utterances"] for p in result["runs"][0]["points"]]
    shown = [n for n in checkpoints if n in (100, 1000, 2000, 5000)] or checkpoints
    lines = [
        f"#### `{path}` (cpu; {machine['cpu']}, {machine['cpu_cores']} cores, 1 torch thread, load average at "
        f"start {m['load_average_at_start']}; {m['date']})",
        "",
        f"`{m['command']}` · {m['model']} · torch {machine['torch']}",
        "",
        "| context encoder | hidden | history | "
        + " | ".join(f"RSS growth at {n} (MB)" for n in shown)
        + " | "
        + " | ".join(f"step at {n} (ms)" for n in shown)
        + " |",
        "|---|---|---|" + "---|" * (2 * len(shown)),
    ]
    for run in result["runs"]:
        at = {p["utterances"]: p for p in run["points"]}
        lines.append(
            f"| {run['context_encoder']} | {run.get('hidden', 32)} | {run['history']} | "
            + " | ".join(f"{at[n]['rss_growth_mb']:+.1f}" for n in shown)
            + " | "
            + " | ".join(f"{at[n]['step_ms_median_last_100']:.2f}" for n in shown)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--utterances", type=int, default=5000, help="utterances streamed per run")
    parser.add_argument("--every", type=int, default=100, help="record a point every this many utterances")
    parser.add_argument(
        "--runs",
        default="bigru:cat,bigru:buffer,dialoguernn:buffer,transformer:buffer",
        help="comma-separated context_encoder:history runs (history: cat = before issue 18, buffer = now)",
    )
    parser.add_argument("--hidden", type=int, default=32, help="hidden size of the tiny model")
    parser.add_argument("--output", default=None, help="JSON file of the results (default: print only)")
    parser.add_argument("--write_markdown", default=None, help="render the results into this file's section")
    parser.add_argument("--section", default=SECTION, help="the section of --write_markdown (a marker name)")
    parser.add_argument("--one_run", default=None, help=argparse.SUPPRESS)  # internal: the child process
    args = parser.parse_args(argv)
    if args.one_run:
        encoder, history = args.one_run.split(":")
        print(json.dumps(one_run(encoder, history, args.utterances, args.every, args.hidden)))
        return {}
    from _common import machine_info

    result = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "command": "OMP_NUM_THREADS=1 python benchmarks/stream_memory.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "model": f"tiny causal MCN-CL (hidden {args.hidden}, T=2), random weights and features",
        },
        "runs": [],
    }
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for spec in args.runs.split(","):
        child = [sys.executable, os.path.abspath(__file__), "--one_run", spec]
        child += [
            "--utterances",
            str(args.utterances),
            "--every",
            str(args.every),
            "--hidden",
            str(args.hidden),
        ]
        done = subprocess.run(child, capture_output=True, text=True, env=env, cwd=HERE, check=True)
        run = json.loads(done.stdout.strip().splitlines()[-1])
        result["runs"].append(run)
        print(json.dumps({k: run[k] for k in ("context_encoder", "history")} | run["points"][-1]), flush=True)
    if args.output:
        from _common import save_json

        save_json(args.output, result)
    if args.write_markdown:
        from _common import write_markdown

        shown = os.path.relpath(args.output, os.path.dirname(HERE)) if args.output else "(not saved)"
        write_markdown(args.write_markdown, args.section, render_markdown(result, shown))
    return result


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
