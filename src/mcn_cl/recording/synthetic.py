# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Synthetic conversations with known truth, spoken by `espeak-ng` (offline), for tests and benchmarks.

`synthesize_conversation(path, turns, voices)` speaks each turn with its speaker's voice, trims the synthesiser's
leading / trailing silence, joins the turns with the pauses given, and writes one 16 kHz mono wav. It returns the
truth: one dict per utterance with `start`, `end` (the speech itself, in seconds), `speaker` and `text`.

Two scripted conversations ship here: `TUNING_CONVERSATION` (the one the segmentation defaults were chosen on) and
`HELD_OUT_CONVERSATION` (other voices, other lengths and pauses; never used to choose anything).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .audio import SAMPLING_RATE

# speaker -> espeak-ng voice, pitch (0-99) and speed (words per minute)
TUNING_VOICES = {"Ann": ("en-gb+f4", 75, 165), "Bob": ("en-us+m3", 30, 150)}
# (speaker, text, pause after the turn in seconds): comma pauses inside turns, varied pauses between them,
# one turn change of 0.25 s (after turn 5) and two same-speaker turns in a row (turns 8 and 9, 1.4 s apart)
TUNING_CONVERSATION = [
    ("Ann", "Did you get my message about the meeting?", 0.6),
    ("Bob", "I did, but honestly, I thought it was cancelled.", 0.9),
    ("Ann", "No, it was moved to Friday, at ten in the morning.", 0.45),
    ("Bob", "Friday is difficult for me.", 1.2),
    ("Ann", "Well, we could ask them to start a little later, maybe eleven.", 0.25),
    ("Bob", "That would work, thank you.", 0.7),
    ("Ann", "I will write to them today.", 1.0),
    ("Bob", "Great. Should I bring the report, or do you have a copy?", 1.4),
    ("Bob", "Actually, never mind, I will print a new one.", 0.5),
    ("Ann", "Perfect, see you on Friday then.", 0.8),
    ("Bob", "See you, and thanks again for sorting it out.", 0.6),
    ("Ann", "You are welcome.", 0.0),
]

HELD_OUT_VOICES = {"Cleo": ("en-us+f2", 60, 180), "Dan": ("en-gb-scotland+m7", 40, 140)}
HELD_OUT_CONVERSATION = [
    ("Dan", "Morning. Is the lab open yet?", 0.8),
    ("Cleo", "Not yet, the technician is running late, as usual.", 0.35),
    (
        "Dan",
        "Typical. I have samples that need to go in the freezer before noon, otherwise we lose a week.",
        1.1,
    ),
    ("Cleo", "You can use the freezer in the basement.", 0.28),
    ("Dan", "Is that one working again?", 0.5),
    ("Cleo", "Yes, they fixed it on Monday, and it has been fine since.", 1.6),
    ("Dan", "Okay.", 0.7),
    ("Dan", "I will take them down now, before I forget.", 0.9),
    ("Cleo", "Take the key, it is on the hook by the door, next to the fire extinguisher.", 0.6),
    ("Dan", "Got it, thanks.", 0.0),
]


def espeak_available() -> bool:
    """Whether the `espeak-ng` program is on the PATH."""
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str, pitch: int = 50, speed: int = 160) -> np.ndarray:
    """`text` spoken by espeak-ng as float32 mono at 16 kHz, without the synthesiser's leading / trailing silence."""
    import audresample
    import soundfile as sf

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    samples, sr = sf.read(io.BytesIO(wav), dtype="float32")
    if sr != SAMPLING_RATE:
        samples = audresample.resample(samples, sr, SAMPLING_RATE)[0]
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def synthesize_conversation(
    path: str | os.PathLike,
    turns: Sequence[tuple[str, str, float]],
    voices: Mapping[str, tuple[str, int, int]],
    lead_s: float = 0.5,
    noise_db: float = -60.0,
    seed: int = 0,
    repeat: int = 1,
) -> list[dict[str, Any]]:
    """Write the conversation `turns` ((speaker, text, pause after)) spoken with `voices` (speaker -> espeak-ng
    voice, pitch, speed) to the wav `path`, `repeat` times in a row; returns the truth (`start`, `end`, `speaker`,
    `text` per utterance). A faint white noise (`noise_db` dBFS) fills the pauses, as in a real room."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    spoken = [speak(text, *voices[speaker]) for speaker, text, _ in turns]
    pieces, truth, t = [np.zeros(int(lead_s * SAMPLING_RATE), np.float32)], [], lead_s
    for r in range(repeat):
        for (speaker, text, pause), samples in zip(turns, spoken):
            pieces.append(samples)
            truth.append(
                {
                    "start": round(t, 4),
                    "end": round(t + samples.size / SAMPLING_RATE, 4),
                    "speaker": speaker,
                    "text": text,
                }
            )
            gap = pause if pause > 0 else (1.0 if r < repeat - 1 else lead_s)
            pieces.append(np.zeros(int(round(gap * SAMPLING_RATE)), np.float32))
            t += (samples.size + pieces[-1].size) / SAMPLING_RATE
    audio = np.concatenate(pieces)
    audio += (10 ** (noise_db / 20) * rng.standard_normal(audio.size)).astype(np.float32)
    sf.write(os.fspath(path), audio, SAMPLING_RATE, subtype="PCM_16")
    return truth
