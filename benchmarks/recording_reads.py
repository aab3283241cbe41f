# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Reading the utterances of a long recording: the audio of one utterance window, decoded from a seek (today) or
from the start of the track (before), for video recordings of 5 to 60 minutes.

A segmented recording is read utterance by utterance (`mcn_cl.recording.recording_conversation`: every utterance's
medium is the recording with its own `start` / `end`). The recordings are generated here with PyAV: AAC audio at
16 kHz (a gliding tone over noise) and a 1 frame/s 32x32 MPEG-4 video track, as `mcn_cl.demo.write_mp4` writes
them. Each window is 3 s long; the windows are spread evenly over the recording. "From the start" is the same
reader with the seek turned off (`SEEK_PREROLL_S = inf`), which is what every window cost before. One torch / OpenMP
thread.

    OMP_NUM_THREADS=1 python benchmarks/recording_reads.py --write_markdown BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import machine_info, save_json, write_markdown  # noqa: E402

SAMPLE_RATE = 16000
WINDOW_S = 3.0


def write_recording(path: str, minutes: float) -> None:
    """A video recording of `minutes`: AAC mono 16 kHz audio and a 1 frame/s 32x32 MPEG-4 track, written in blocks."""
    import av

    rng = np.random.default_rng(0)
    with av.open(path, "w") as container:
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        video = container.add_stream("mpeg4", rate=1)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        total = int(minutes * 60 * SAMPLE_RATE)
        for second, first in enumerate(range(0, total, SAMPLE_RATE)):
            t = np.arange(first, min(first + SAMPLE_RATE, total)) / SAMPLE_RATE
            tone = 0.3 * np.sin(2 * np.pi * (200 + 50 * np.sin(t / 7)) * t)
            block = (tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, first
            for packet in audio.encode(frame):
                container.mux(packet)
            picture = av.VideoFrame.from_ndarray(np.full((32, 32, 3), second % 255, np.uint8), format="rgb24")
            picture.pts = second
            for packet in video.encode(picture):
                container.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode(None):
                container.mux(packet)


def measure(path: str, minutes: float, windows: int, whole_windows: int) -> dict:
    """Seconds per 3 s window, from a seek and from the start, and the largest sample difference between them."""
    from mcn_cl.processing import inputs_mcn_cl
    from mcn_cl.processing.inputs_mcn_cl import load_audio

    length = minutes * 60
    starts = np.linspace(10.0, length - 10.0 - WINDOW_S, windows).round(3).tolist()
    load_audio(
        path, start=starts[0], end=starts[0] + WINDOW_S
    )  # first-call costs: FFmpeg codecs, audresample
    seek_times, seek_samples = [], {}
    for start in starts:
        begin = time.perf_counter()
        seek_samples[start] = load_audio(path, start=start, end=start + WINDOW_S)
        seek_times.append(time.perf_counter() - begin)
    preroll = inputs_mcn_cl.SEEK_PREROLL_S
    inputs_mcn_cl.SEEK_PREROLL_S = float("inf")
    try:
        whole_times, difference = [], 0.0
        for start in starts[:: max(1, len(starts) // whole_windows)][:whole_windows]:
            begin = time.perf_counter()
            samples = load_audio(path, start=start, end=start + WINDOW_S)
            whole_times.append(time.perf_counter() - begin)
            difference = max(difference, float(np.abs(samples - seek_samples[start]).max()))
    finally:
        inputs_mcn_cl.SEEK_PREROLL_S = preroll
    return {
        "minutes": minutes,
        "file_mb": round(os.path.getsize(path) / 2**20, 1),
        "windows_from_a_seek": len(seek_times),
        "seconds_per_window_from_a_seek": round(statistics.median(seek_times), 4),
        "windows_from_the_start": len(whole_times),
        "seconds_per_window_from_the_start": round(statistics.median(whole_times), 4),
        "max_abs_sample_difference": difference,
    }


def markdown(result: dict) -> str:
    rows = [
        "",
        "| recording | file | one 3 s window from a seek (today) | from the start of the track (before) | faster "
        "| a 20-utterances-per-minute recording, all windows (today / before) | largest sample difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["recordings"]:
        seek, whole = r["seconds_per_window_from_a_seek"], r["seconds_per_window_from_the_start"]
        utterances = 20 * r["minutes"]
        rows.append(
            f"| {r['minutes']:g} min | {r['file_mb']} MB mp4 | {1000 * seek:.1f} ms | {1000 * whole:.0f} ms "
            f"| {whole / seek:.0f}x | {utterances * seek:.1f} s / {utterances * whole / 60:.1f} min "
            f"| {r['max_abs_sample_difference']:g} |"
        )
    meta = result["meta"]
    rows += [
        "",
        f"Medians over {result['recordings'][0]['windows_from_a_seek']} windows (from a seek) and "
        f"{result['recordings'][0]['windows_from_the_start']} (from the start) per recording; {meta['cpu']}, "
        f"{meta['date']}. The all-windows column multiplies by 20 utterances a minute (the 20-minute espeak-ng "
        "recording of `benchmarks/recording.py` has 19).",
        "",
    ]
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", nargs="+", type=float, default=[5, 20, 60])
    parser.add_argument("--windows", type=int, default=30, help="windows read from a seek per recording")
    parser.add_argument(
        "--whole_windows", type=int, default=5, help="windows read from the start per recording"
    )
    parser.add_argument("--results", default=os.path.join(HERE, "results", "recording_reads.json"))
    parser.add_argument("--write_markdown", default=None, help="BENCHMARKS.md to update (recording_reads)")
    parser.add_argument("--render", action="store_true", help="only re-render the markdown from --results")
    args = parser.parse_args(argv)
    if not args.render:
        result = {"meta": {**machine_info(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}}
        result["recordings"] = []
        with tempfile.TemporaryDirectory(prefix="mcn_cl_recording_reads_") as folder:
            for minutes in args.minutes:
                path = os.path.join(folder, f"recording_{minutes:g}min.mp4")
                write_recording(path, minutes)
                result["recordings"].append(measure(path, minutes, args.windows, args.whole_windows))
                print(result["recordings"][-1], flush=True)
                os.remove(path)
        save_json(args.results, result)
    else:
        import json

        with open(args.results, encoding="utf-8") as f:
            result = json.load(f)
    if args.write_markdown:
        write_markdown(args.write_markdown, "recording_reads", markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
