# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The job runner of `benchmarks/meld_text.py`: one run in a subprocess (`--run_one`), K at a time, each merged
into the results JSON as soon as it ends; the jobs still to do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from _common import save_json
from _meld_runs import run_baseline, run_mcn_cl
from _meld_settings import HERE, REPO, resolve

# ------------------------------------------------------------------------------------------ run / merge jobs


def run_one(args) -> None:
    """`--run_one SETTING --seed S --partial PATH`: one run in this process, its record written to PATH."""
    import torch

    setting, hp = resolve(args.run_one)
    run_dir = os.path.join(
        args.work_dir, "runs", f"{setting.replace(':', '__').replace(',', '_')}-seed{args.seed}"
    )
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir, exist_ok=True)
    start = time.time()
    if setting.startswith("baseline"):
        record = run_baseline(args, hp, args.seed)
    else:
        record = run_mcn_cl(args, setting, hp, args.seed, run_dir)
    device = torch.cuda.get_device_name(0) if args.device == "cuda" and torch.cuda.is_available() else "cpu"
    record = {
        "setting": setting,
        "seed": args.seed,
        "status": "ok",
        "corpus": hp["corpus"],
        "hparams": hp,
        "epochs": hp["epochs"],
        **record,
        "device": device,
        "run_wall_s": round(time.time() - start, 1),
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    save_json(args.partial, record)


def load_results(path: str) -> dict:
    results = {"runs": [], "meta": {}}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    results.setdefault("runs", [])
    results.setdefault("meta", {})
    # runs of the issue-7 script (explicit initializer_range 0.06, one learning rate): kept, not shown
    old = [r for r in results["runs"] + results.pop("baseline", []) if "hparams" not in r]
    if old:
        results.setdefault("superseded", []).extend(old)
        results["runs"] = [r for r in results["runs"] if "hparams" in r]
        meta = results["meta"]
        meta["superseded_commands"] = meta.get("superseded_commands", []) + meta.pop("commands", [])
    return results


def merge_record(path: str, record: dict, meta: dict) -> None:
    """Put one run into the results JSON (replacing an earlier record of the same setting and seed)."""
    results = load_results(path)
    results["runs"] = [
        r for r in results["runs"] if (r["setting"], r["seed"]) != (record["setting"], record["seed"])
    ]
    results["runs"].append(record)
    merged = results["meta"]
    for key, value in meta.items():
        if key == "commands":
            merged["commands"] = merged.get("commands", []) + [
                c for c in value if c not in merged.get("commands", [])
            ]
        elif key == "corpora":
            merged.setdefault("corpora", {}).update(value)
        else:
            merged[key] = value
    merged["last_update"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    save_json(path, results)


def child_command(args, setting: str, seed: int, partial: str) -> list[str]:
    cmd = [
        sys.executable,
        os.path.join(HERE, "meld_text.py"),  # the entry point, which passes --run_one here
        "--run_one",
        setting,
        "--seed",
        str(seed),
        "--partial",
        partial,
    ]
    cmd += ["--meld_dir", args.meld_dir, "--work_dir", args.work_dir, "--text_encoder", args.text_encoder]
    cmd += ["--device", args.device]
    if args.max_dialogues:
        cmd += ["--max_dialogues", str(args.max_dialogues)]
    if args.bf16:
        cmd += ["--bf16"]
    if args.keep_checkpoints:
        cmd += ["--keep_checkpoints"]
    return cmd


def run_jobs(args, jobs: list[tuple[str, int]], meta: dict, deadline: float | None, then=None) -> list[dict]:
    """Run `(setting, seed)` jobs as subprocesses, `args.jobs` at a time, in the given order; merge each into
    `args.results` as soon as it ends (ok, failed, or killed at the deadline). Returns the records of this call.

    `then`: optional `(keys, make_jobs)`: once every job of `keys` has ended, `make_jobs()` is called and the jobs it
    returns are queued (the confirmation of `--auto` starts while the slower fixed runs are still going).
    """
    logs_dir = os.path.join(args.work_dir, "logs")
    os.makedirs(logs_dir, exist_ok=True)
    pending, running, records = list(jobs), {}, []
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads),
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    while pending or running:
        now = time.time()
        while pending and len(running) < args.jobs and (deadline is None or now < deadline - args.min_run_s):
            setting, seed = pending.pop(0)
            slug = f"{setting.replace(':', '__').replace(',', '_')}-seed{seed}"
            partial = os.path.join(args.work_dir, "partial", slug + ".json")
            os.makedirs(os.path.dirname(partial), exist_ok=True)
            if os.path.exists(partial):
                os.remove(partial)
            log_path = os.path.join(logs_dir, slug + ".log")
            child_env = dict(env, HF_DATASETS_CACHE=os.path.join(args.work_dir, "hf_datasets", slug))
            log = open(log_path, "w", encoding="utf-8")
            proc = subprocess.Popen(
                child_command(args, setting, seed, partial),
                cwd=REPO,
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill at the deadline takes its children too
            )
            running[proc.pid] = (proc, setting, seed, partial, log_path, log, time.time())
            print(f"[{_now()}] started {setting} seed {seed} (pid {proc.pid}, log {log_path})", flush=True)
        time.sleep(1.0)
        for pid in list(running):
            proc, setting, seed, partial, log_path, log, started = running[pid]
            code = proc.poll()
            timed_out = code is None and deadline is not None and time.time() > deadline
            if code is None and not timed_out:
                continue
            if timed_out:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
            del running[pid]
            if code == 0 and os.path.exists(partial):
                with open(partial, encoding="utf-8") as f:
                    record = json.load(f)
            else:
                _, hp = resolve(setting)
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-3000:]
                record = {
                    "setting": setting,
                    "seed": seed,
                    "status": "failed",
                    "corpus": hp["corpus"],
                    "hparams": hp,
                    "epochs": hp["epochs"],
                    "error": ("killed at the deadline\n" if timed_out else f"exit code {code}\n") + tail,
                    "run_wall_s": round(time.time() - started, 1),
                }
            merge_record(args.results, record, meta)
            records.append(record)
            summary = (
                f"test wF1 {100 * record['test_weighted_f1']:.2f}, best dev wF1 {100 * record['dev_weighted_f1_best']:.2f}"
                if record["status"] == "ok"
                else "FAILED (see the log)"
            )
            print(
                f"[{_now()}] finished {setting} seed {seed}: {summary} ({record['run_wall_s']} s)", flush=True
            )
        if then is not None:
            keys, make_jobs = then
            busy = set(pending) | {(job[1], job[2]) for job in running.values()}
            if not busy & set(keys):
                then = None
                # the confirmation goes before the fixed runs still waiting: it decides the defaults
                pending[:0] = [job for job in make_jobs() if job not in busy]
        if deadline is not None and time.time() > deadline - args.min_run_s and pending:
            for setting, seed in pending:
                print(f"[{_now()}] not started (deadline): {setting} seed {seed}", flush=True)
            pending = []
    return records


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def todo(results_path: str, jobs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The jobs (canonical setting, seed) not yet in the results with status ok, without duplicates."""
    done = {(r["setting"], r["seed"]) for r in load_results(results_path)["runs"] if r.get("status") == "ok"}
    out = []
    for setting, seed in jobs:
        key = (resolve(setting)[0], seed)
        if key not in done and key not in out:
            out.append(key)
    return out
