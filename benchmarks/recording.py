# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""From a recording to utterances and speakers (issue 21): boundary F1, speaker error, real-time factor, memory.

Two conversations are spoken by espeak-ng (`mcn_cl.recording.synthetic`): the tuning one (2 voices, 12 utterances,
commas inside utterances, pauses of 0.25-1.4 s, one 0.25 s turn change; the segmentation defaults were chosen on
it) and a held-out one (2 other voices, other texts, lengths and pauses; never used to choose anything). Each is
segmented with the defaults of `segment_recording` (number of speakers chosen automatically) on one CPU thread:

- utterance boundary F1: every start / end, matched one to one within +-0.25 s;
- speaker error: share of the true speech time given the wrong speaker (or none), best name mapping;
- real-time factor: recording seconds per second of segment + diarise, models already loaded (their load time is
  reported apart);
- memory: peak RSS of a process that segments a 20-minute recording (the tuning conversation repeated), next to
  one that segments a 2-minute one: the reading is chunked, so the peak should not grow with the length.

    python benchmarks/recording.py                      # writes benchmarks/results/recording.json
    python benchmarks/recording.py --write_markdown BENCHMARKS.md   # (re)renders the section from the JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "recording.json")
BEGIN, END = "<!-- recording:begin -->", "<!-- recording:end -->"


def _one_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def measure_conversation(name, turns, voices, folder, encoder) -> dict:
    from mcn_cl.recording.metrics import boundary_f1, speaker_error
    from mcn_cl.recording.segmentation import load_vad, segment_recording
    from mcn_cl.recording.synthetic import synthesize_conversation

    path = os.path.join(folder, f"{name}.wav")
    truth = synthesize_conversation(path, turns, voices)
    load_vad()
    segment_recording(path, speaker_model=encoder)  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        seg = segment_recording(path, speaker_model=encoder)
        times.append(time.perf_counter() - t0)
    elapsed = min(times)
    scores = boundary_f1(seg.utterances, truth)
    return {
        "duration_s": round(seg.duration, 2),
        "true_utterances": len(truth),
        "found_utterances": len(seg.utterances),
        "true_speakers": len({u["speaker"] for u in truth}),
        "found_speakers": len(seg.speakers),
        "boundary_precision": round(scores["precision"], 4),
        "boundary_recall": round(scores["recall"], 4),
        "boundary_f1": round(scores["f1"], 4),
        "speaker_error": round(speaker_error(seg.utterances, truth), 4),
        "segment_s": round(elapsed, 3),
        "real_time_factor": round(seg.duration / elapsed, 1),
        "utterances": seg.utterances,
        "truth": truth,
    }


_CHILD = """
import json, sys, time, os
import torch
torch.set_num_threads(1)
from mcn_cl.recording.segmentation import segment_recording, BatchedVAD
from mcn_cl.recording.metrics import boundary_f1, speaker_error
from mcn_cl.recording.diarization import get_speaker_encoder
encoder = get_speaker_encoder()
BatchedVAD()
def hwm():  # this process's peak RSS (ru_maxrss would include the parent's, kept across exec on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
loaded_mb = hwm()
t0 = time.perf_counter()
seg = segment_recording(sys.argv[1], speaker_model=encoder)
elapsed = time.perf_counter() - t0
truth = json.load(open(sys.argv[2]))
print(json.dumps({"duration_s": seg.duration, "seconds": elapsed, "utterances": len(seg.utterances),
    "speakers": len(seg.speakers), "boundary_f1": boundary_f1(seg.utterances, truth)["f1"],
    "speaker_error": speaker_error(seg.utterances, truth),
    "rss_after_loading_mb": loaded_mb, "peak_rss_mb": hwm()}))
"""


def measure_long(folder: str, repeats: int) -> dict:
    from mcn_cl.recording.synthetic import TUNING_CONVERSATION, TUNING_VOICES, synthesize_conversation

    path = os.path.join(folder, f"long_{repeats}.wav")
    truth = synthesize_conversation(path, TUNING_CONVERSATION, TUNING_VOICES, repeat=repeats)
    truth_path = path + ".json"
    with open(truth_path, "w") as f:
        json.dump(truth, f)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, path, truth_path], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["file_mb"] = round(os.path.getsize(path) / 2**20, 1)
    result["real_time_factor"] = round(result["duration_s"] / result["seconds"], 1)
    for key in (
        "duration_s",
        "seconds",
        "rss_after_loading_mb",
        "peak_rss_mb",
        "boundary_f1",
        "speaker_error",
    ):
        result[key] = round(result[key], 4 if key in ("boundary_f1", "speaker_error") else 1)
    return result


def run(args) -> dict:
    _one_thread()
    import torch

    from mcn_cl.recording.diarization import get_speaker_encoder
    from mcn_cl.recording.segmentation import load_vad
    from mcn_cl.recording.synthetic import (
        HELD_OUT_CONVERSATION,
        HELD_OUT_VOICES,
        TUNING_CONVERSATION,
        TUNING_VOICES,
        espeak_available,
    )

    if not espeak_available():
        sys.exit("benchmarks/recording.py needs espeak-ng (apt-get install espeak-ng)")
    t0 = time.perf_counter()
    encoder = get_speaker_encoder("resemblyzer")
    load_vad()
    load_s = time.perf_counter() - t0
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "espeak_ng": subprocess.run(
                ["espeak-ng", "--version"], capture_output=True, text=True
            ).stdout.strip(),
        },
        "model_load_s": round(load_s, 2),
        "defaults": "segment_recording defaults: VAD threshold 0.5, min silence 0.1 s, merge gap 0.8 s, speaker "
        "windows 1.5 s, reliable >= 1.0 s, fragment margin 0.1, resemblyzer, speakers chosen automatically",
    }
    with tempfile.TemporaryDirectory() as folder:
        result["tuning"] = measure_conversation("tuning", TUNING_CONVERSATION, TUNING_VOICES, folder, encoder)
        result["held_out"] = measure_conversation(
            "held_out", HELD_OUT_CONVERSATION, HELD_OUT_VOICES, folder, encoder
        )
        result["long"] = [measure_long(folder, r) for r in args.long_repeats]
    return result


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def markdown(result: dict) -> str:
    lines = [BEGIN, ""]
    lines += [
        "| conversation | length | utterances (true / found) | speakers (true / found) | boundary F1 (P / R) | "
        "speaker error | real time (one thread) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, name in (("tuning", "tuning (defaults chosen on it)"), ("held_out", "held out (other voices)")):
        r = result[key]
        lines.append(
            f"| {name} | {r['duration_s']:.1f} s | {r['true_utterances']} / {r['found_utterances']} | "
            f"{r['true_speakers']} / {r['found_speakers']} | {r['boundary_f1']:.3f} "
            f"({r['boundary_precision']:.2f} / {r['boundary_recall']:.2f}) | {_pct(r['speaker_error'])} | "
            f"{r['real_time_factor']:.1f}x ({r['segment_s']:.2f} s) |"
        )
    lines += [
        "",
        f"Model loading (VAD + speaker encoder, once per process): {result['model_load_s']:.2f} s, not counted above.",
        "",
        "| long recording | file | utterances | boundary F1 | speaker error | real time | RSS with models loaded | "
        "peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["long"]:
        lines.append(
            f"| {r['duration_s'] / 60:.1f} min | {r['file_mb']} MB wav | {r['utterances']} | {r['boundary_f1']:.3f} | "
            f"{_pct(r['speaker_error'])} | {r['real_time_factor']:.1f}x | {r['rss_after_loading_mb']:.0f} MB | "
            f"{r['peak_rss_mb']:.0f} MB |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write_markdown(path: str, result: dict) -> None:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    block = markdown(result)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=RESULTS)
    p.add_argument("--write_markdown", default=None, help="render the table into this file (from --results)")
    p.add_argument(
        "--long_repeats", type=int, nargs="*", default=[3, 31], help="repeats of the long recordings"
    )
    args = p.parse_args(argv)
    if args.write_markdown:
        with open(args.results) as f:
            write_markdown(args.write_markdown, json.load(f))
        return 0
    result = run(args)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(result, f, indent=1)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
