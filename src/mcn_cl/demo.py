# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A small generated demo corpus (real wav and mp4 files) and the media writers the tests reuse.

`make_demo_corpus(dir)` writes a few dialogues whose emotion shows in all three modalities, so that a short
training run visibly learns:

- text: sentences drawn from per-emotion phrase lists;
- audio: a tone per emotion (pitch, loudness, vibrato and noise differ), 16 kHz mono wav, also muxed as the mp4's
  audio track (aac);
- video: a coloured shape per emotion moving in its own way (64x64, 10 fps, mpeg4), encoded with PyAV.

The manifest (`manifest.json`) lists the dialogues with their texts, speakers and labels; `load_demo_corpus`
turns it into the loader-row `DatasetDict` of docs/data_formats.md (section 1), exactly like the MELD / IEMOCAP
loaders, so `examples/train.py` consumes the demo corpus like any dataset.

    >>> from mcn_cl.demo import make_demo_corpus
    >>> ds = make_demo_corpus("demo_corpus")  # DatasetDict: train / validation / test
"""

from __future__ import annotations

import json
import os
from fractions import Fraction

import numpy as np

DEMO_LABELS = ("neutral", "joy", "sadness", "anger")
SAMPLE_RATE = 16000
MANIFEST = "manifest.json"
DEMO_VERSION = 1
# marker file of a folder the generators wrote (they never write into a folder without it, unless it is empty)
DEMO_MARKER = ".mcn_cl_demo_corpus"
EXAMPLE_MARKER = ".mcn_cl_example_conversations"

# per emotion: (tone Hz, amplitude, vibrato Hz, noise level); colour RGB; motion
_AUDIO = {
    "neutral": (220.0, 0.25, 0.0, 0.0),
    "joy": (523.0, 0.35, 6.0, 0.0),
    "sadness": (147.0, 0.12, 0.0, 0.0),
    "anger": (330.0, 0.6, 0.0, 0.15),
}
_COLOUR = {
    "neutral": (160, 160, 160),
    "joy": (250, 220, 40),
    "sadness": (40, 80, 230),
    "anger": (230, 30, 30),
}
_PHRASES = {
    "neutral": [
        "the meeting is at noon",
        "I put the files on the desk",
        "we take the train at eight",
        "the report has ten pages",
        "it is on the second floor",
    ],
    "joy": [
        "that is wonderful news",
        "I love it so much",
        "we won the game",
        "what a great day",
        "this is amazing, thank you",
    ],
    "sadness": [
        "I miss her so much",
        "nobody came to the party",
        "I lost my old dog",
        "it will never be the same",
        "I feel so alone today",
    ],
    "anger": [
        "stop doing that right now",
        "this is completely unacceptable",
        "you never listen to me",
        "get out of my room",
        "I am sick of your excuses",
    ],
}
_SPEAKERS = ["Ann", "Ben", "Cleo", "Dev", "Eva", "Finn"]


# --------------------------------------------------------------------------------------------------- writers


def write_wav(
    path: str | os.PathLike, samples: np.ndarray, sampling_rate: int = SAMPLE_RATE, subtype: str = "PCM_16"
) -> str:
    """Write a mono float waveform [T] (values in [-1, 1]) as a wav (16-bit PCM by default; `subtype="FLOAT"` keeps
    float32 samples, NaN and inf included); creates the folder. The format follows the extension (`.flac`, ...)."""
    import soundfile as sf

    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    sf.write(path, np.asarray(samples, dtype=np.float32), sampling_rate, subtype=subtype)
    return path


def write_mp4(
    path: str | os.PathLike,
    frames: np.ndarray | None,
    fps: int = 10,
    audio: np.ndarray | None = None,
    sampling_rate: int = SAMPLE_RATE,
    video_codec: str = "mpeg4",
    audio_codec: str = "aac",
) -> str:
    """Encode uint8 RGB frames [F, H, W, 3] (H, W even) and/or a mono float waveform [T] with PyAV.

    The container follows the extension (`.mp4`, `.avi`, `.mkv`, ...). Pass `frames=None` for an audio-only file
    or `audio=None` for a silent video. Frame k has timestamp k / fps seconds. `qscale 2` keeps flat colours
    within a few levels (tests read them back).
    """
    import av

    if frames is None and audio is None:
        raise ValueError("write_mp4 needs frames, audio or both")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with av.open(path, mode="w") as container:
        vstream = astream = None
        if frames is not None:
            frames = np.asarray(frames, dtype=np.uint8)
            vstream = container.add_stream(video_codec, rate=fps)
            vstream.height, vstream.width = frames.shape[1:3]
            vstream.pix_fmt = "yuv420p"
            vstream.options = {"qscale": "2"}  # near-lossless: tests read colours back
        if audio is not None:
            astream = container.add_stream(audio_codec, rate=sampling_rate)
            astream.layout = "mono"
        if vstream is not None:
            for i, img in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                container.mux(vstream.encode(frame))
            container.mux(vstream.encode())
        if astream is not None:
            samples = np.asarray(audio, dtype=np.float32)
            if samples.ndim != 1:
                raise ValueError(f"write_mp4: audio must be a mono waveform [T], got shape {samples.shape}")
            packets = []
            chunk = 1024
            for start in range(0, samples.size, chunk):
                part = np.ascontiguousarray(samples[start : start + chunk][None, :])
                frame = av.AudioFrame.from_ndarray(part, format="flt", layout="mono")
                frame.sample_rate = sampling_rate
                frame.pts = start
                frame.time_base = Fraction(1, sampling_rate)
                packets.extend(astream.encode(frame))
            packets.extend(astream.encode())
            # aac starts with a priming packet at a negative time. mp4 / mkv store that (edit list); AVI cannot,
            # and its muxer would then shift every stream, the video too. Start the audio at 0 instead: in an
            # AVI the decoded audio begins with the 1024 priming samples (64 ms at 16 kHz), frame k stays at k / fps.
            first = min((p.pts for p in packets if p.pts is not None), default=0)
            if container.format.name == "avi" and first < 0:
                for packet in packets:
                    packet.pts, packet.dts = packet.pts - first, packet.dts - first
            container.mux(packets)
    return path


# ------------------------------------------------------------------------------------------------ synthesis


def synth_tone(
    emotion: str, seconds: float, rng: np.random.Generator, sampling_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """The emotion's tone: float32 [seconds * sampling_rate] in [-1, 1] (a little random pitch jitter)."""
    freq, amp, vibrato, noise = _AUDIO[emotion]
    freq *= 1 + rng.uniform(-0.03, 0.03)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    phase = 2 * np.pi * freq * t
    if vibrato:
        phase += 0.6 * freq / vibrato * np.sin(2 * np.pi * vibrato * t) / 10
    signal = amp * (np.sin(phase) + 0.3 * np.sin(2 * phase))
    if emotion == "sadness":
        signal *= np.exp(-1.5 * t)
    if noise:
        signal += noise * rng.standard_normal(t.size)
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)  # no clicks
    return np.clip(signal * fade, -1, 1).astype(np.float32)


def synth_frames(emotion: str, num_frames: int, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """The emotion's moving shape: uint8 RGB [num_frames, size, size, 3]."""
    colour = np.asarray(_COLOUR[emotion], dtype=np.uint8)
    frames = np.full((num_frames, size, size, 3), 20, dtype=np.uint8)
    half = size // 6
    yy, xx = np.mgrid[0:size, 0:size]
    x0, y0 = rng.uniform(0.35, 0.65, 2) * size
    for k in range(num_frames):
        p = k / max(num_frames - 1, 1)
        if emotion == "joy":  # bouncing circle
            cx, cy = x0, size * (0.7 - 0.4 * abs(np.sin(3 * np.pi * p)))
        elif emotion == "sadness":  # sinking square
            cx, cy = x0, size * (0.25 + 0.5 * p)
        elif emotion == "anger":  # shaking square
            cx, cy = x0 + rng.uniform(-4, 4), y0 + rng.uniform(-4, 4)
        else:  # still square
            cx, cy = x0, y0
        if emotion == "joy":
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= half**2
        else:
            inside = (abs(xx - cx) <= half) & (abs(yy - cy) <= half)
        frames[k][inside] = colour
    return frames


# ------------------------------------------------------------------------------------------------- corpus


def make_demo_corpus(
    out_dir: str | os.PathLike,
    num_dialogues: int = 16,
    seed: int = 0,
    min_utterances: int = 3,
    max_utterances: int = 6,
    seconds: tuple[float, float] = (1.0, 1.5),
    fps: int = 10,
    size: int = 64,
    split_sizes: tuple[float, float] = (0.75, 0.125),
):
    """Write the demo corpus under `out_dir` (reused when it already holds the same corpus) and load it.

    Args:
        out_dir: target folder: new, empty, or written by `make_demo_corpus` before (it holds the marker file
            `.mcn_cl_demo_corpus`). Any other folder is a `FileExistsError`: a user's files are never replaced.
        num_dialogues: dialogues in all; split into train / validation / test by `split_sizes` (the train and
            validation fractions; the rest is test; at least one dialogue each).
        seed: seed of every random choice (texts, speakers, labels, tones, motions).
        min_utterances, max_utterances: utterances per dialogue.
        seconds: range of an utterance's duration in seconds.
        fps, size: frame rate and frame size (pixels) of the mp4 clips.

    Returns:
        `datasets.DatasetDict` (train / validation / test) of loader rows (see `load_demo_corpus`).

    Every utterance has `audio/<dialogue>_<k>.wav` (16 kHz mono) and `video/<dialogue>_<k>.mp4` (the same audio
    as aac plus the frames); the rows point `audio_path` at the wav and `video_path` at the mp4.
    """
    out_dir = os.fspath(out_dir)
    params = {
        "version": DEMO_VERSION,
        "num_dialogues": num_dialogues,
        "seed": seed,
        "utterances": [min_utterances, max_utterances],
        "seconds": list(seconds),
        "fps": fps,
        "size": size,
        "split_sizes": list(split_sizes),
    }
    manifest_path = os.path.join(out_dir, MANIFEST)
    if num_dialogues < 3:
        raise ValueError(f"num_dialogues must be >= 3 (one per split), got {num_dialogues}")
    from .folders import claim_folder

    claim_folder(out_dir, DEMO_MARKER, "the demo corpus generator (mcn_cl.demo)", recognise=_is_demo_folder)
    if os.path.isfile(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("params") == params:
                return load_demo_corpus(out_dir)

    rng = np.random.default_rng(seed)
    dialogues = []
    for d in range(num_dialogues):
        dialogue_id = f"demo{d:03d}"
        pair = list(rng.choice(_SPEAKERS, size=2, replace=False))
        n = int(rng.integers(min_utterances, max_utterances + 1))
        utterances = []
        for k in range(n):
            label = int(rng.integers(len(DEMO_LABELS)))
            emotion = DEMO_LABELS[label]
            duration = float(rng.uniform(*seconds))
            samples = synth_tone(emotion, duration, rng)
            frames = synth_frames(emotion, max(1, int(round(duration * fps))), rng, size=size)
            stem = f"{dialogue_id}_{k}"
            write_wav(os.path.join(out_dir, "audio", stem + ".wav"), samples)
            write_mp4(os.path.join(out_dir, "video", stem + ".mp4"), frames, fps=fps, audio=samples)
            utterances.append(
                {
                    "utterance_id": stem,
                    "text": str(rng.choice(_PHRASES[emotion])),
                    "speaker": pair[k % 2],
                    "label": emotion,
                    "start": 0.0,
                    "end": round(samples.size / SAMPLE_RATE, 4),
                    "audio_path": f"audio/{stem}.wav",
                    "video_path": f"video/{stem}.mp4",
                }
            )
        dialogues.append({"dialogue_id": dialogue_id, "utterances": utterances})

    n_train = max(1, int(round(split_sizes[0] * num_dialogues)))
    n_val = max(1, int(round(split_sizes[1] * num_dialogues)))
    n_train = min(n_train, num_dialogues - n_val - 1)
    splits = {
        "train": dialogues[:n_train],
        "validation": dialogues[n_train : n_train + n_val],
        "test": dialogues[n_train + n_val :],
    }
    with open(manifest_path, "w") as f:
        json.dump({"params": params, "labels": list(DEMO_LABELS), "splits": splits}, f, indent=1)
    return load_demo_corpus(out_dir)


def _is_demo_folder(path: str) -> bool:
    """A demo corpus written before the marker file existed: its manifest has the generator's `params`."""
    try:
        with open(os.path.join(path, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    params = manifest.get("params") if isinstance(manifest, dict) else None
    return isinstance(params, dict) and "version" in params and "num_dialogues" in params


def load_demo_corpus(out_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """The demo manifest as a `datasets.DatasetDict` of loader rows (docs/data_formats.md, section 1).

    Media paths are made absolute; the label is a `ClassLabel` over `DEMO_LABELS` (`label_names(ds)` works as for
    MELD). Splits are cached as Arrow files under `cache_dir` (default: `<out_dir>/.cache`), so `datasets.map`
    over them is cached too.
    """
    from mcn_cl.datasets_scripts._common import build_dataset_dict, dialogue_features, path_signature

    out_dir = os.path.abspath(os.fspath(out_dir))
    manifest_path = os.path.join(out_dir, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise FileNotFoundError(f"{manifest_path}: no demo manifest (write one with make_demo_corpus)")
    with open(manifest_path) as f:
        manifest = json.load(f)
    names = manifest["labels"]
    splits = {}
    for split, rows in manifest["splits"].items():
        splits[split] = [
            {
                "dialogue_id": row["dialogue_id"],
                "utterances": [
                    {
                        **u,
                        "label": names.index(u["label"]) if u["label"] is not None else -1,
                        "audio_path": os.path.join(out_dir, u["audio_path"]) if u["audio_path"] else None,
                        "video_path": os.path.join(out_dir, u["video_path"]) if u["video_path"] else None,
                    }
                    for u in row["utterances"]
                ],
            }
            for row in rows
        ]
    return build_dataset_dict(
        splits,
        dialogue_features(names),
        fingerprint_parts=["demo", path_signature(manifest_path)],
        cache_dir=cache_dir if cache_dir is not None else os.path.join(out_dir, ".cache"),
    )


# words a user's table might use for the demo emotions, and speakers unlike the demo's
EXAMPLE_LABELS = {"neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry"}
_EXAMPLE_SPEAKERS = ["Rosa", "Malik", "Ingrid", "Tomás"]


def make_example_conversations(
    out_dir: str | os.PathLike, num_dialogues: int = 8, num_test: int = 2, seed: int = 1, fps: int = 10
) -> str:
    """Write an example corpus in the layout of `mcn_cl.load_conversations` (the README's "Train on your own
    conversations") and return the path of its `conversation.csv`.

    `out_dir` gets `conversation.csv` (columns `dialogue_id, speaker, text, clip, audio, start, end, label, split`;
    labels as words: neutral, happy, sad, angry), `clips/<dialogue>/<k>.mp4` (64x64 video with its audio track) and,
    for every third dialogue, the utterances' audio as separate `audio/<dialogue>_<k>.wav` files; the last
    `num_test` dialogues are the test split, the others train (no validation split: the loader takes one).
    `new_conversation.csv` lists the first test dialogue's clips in the layout of `mcn-cl predict --clips`
    (`dialogue_id, clip, speaker, text`: no label, no split), a conversation to predict on.
    `out_dir` must be new, empty, or written by this function before (marker file), as for `make_demo_corpus`.
    """
    import csv

    from .folders import claim_folder

    out_dir = os.fspath(out_dir)
    if not 0 < num_test < num_dialogues - 1:
        raise ValueError(
            f"num_test must leave at least two training dialogues, got {num_test} of {num_dialogues}"
        )
    claim_folder(out_dir, EXAMPLE_MARKER, "the example generator (mcn_cl.demo.make_example_conversations)")
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(num_dialogues):
        dialogue_id = f"call{d + 1:02d}"
        pair = list(rng.choice(_EXAMPLE_SPEAKERS, size=2, replace=False))
        split = "test" if d >= num_dialogues - num_test else "train"
        for k in range(int(rng.integers(3, 6))):
            emotion = DEMO_LABELS[int(rng.integers(len(DEMO_LABELS)))]
            duration = float(rng.uniform(1.0, 1.5))
            # headroom: aac overshoots the tone's peak (0.8 gave decoded peaks of 1.12)
            samples = 0.6 * synth_tone(emotion, duration, rng)
            frames = synth_frames(emotion, max(1, int(round(duration * fps))), rng)
            clip = f"clips/{dialogue_id}/{k}.mp4"
            write_mp4(os.path.join(out_dir, clip), frames, fps=fps, audio=samples)
            audio = ""
            if d % 3 == 2:
                audio = f"audio/{dialogue_id}_{k}.wav"
                write_wav(os.path.join(out_dir, audio), samples)
            rows.append(
                {
                    "dialogue_id": dialogue_id,
                    "speaker": pair[k % 2],
                    "text": str(rng.choice(_PHRASES[emotion])),
                    "clip": clip,
                    "audio": audio,
                    "start": "0.0",
                    "end": f"{frames.shape[0] / fps:.1f}",
                    "label": EXAMPLE_LABELS[emotion],
                    "split": split,
                }
            )
    first_test = next(row["dialogue_id"] for row in rows if row["split"] == "test")
    unlabelled = [
        {key: row[key] for key in ("dialogue_id", "clip", "speaker", "text")}
        for row in rows
        if row["dialogue_id"] == first_test
    ]
    for name, table in (("conversation.csv", rows), ("new_conversation.csv", unlabelled)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    return os.path.join(out_dir, "conversation.csv")


__all__ = [
    "DEMO_LABELS",
    "load_demo_corpus",
    "make_demo_corpus",
    "make_example_conversations",
    "synth_frames",
    "synth_tone",
    "write_mp4",
    "write_wav",
]
