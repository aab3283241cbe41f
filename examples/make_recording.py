# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Write a small test recording: a two-voice conversation spoken by espeak-ng (voices, texts and pauses used by no
test or benchmark), as an mp4 (H.264-free mpeg4 video of a plain frame + AAC audio) or a wav, with its truth as
JSON next to it.

    python examples/make_recording.py call.mp4     # then: mcn-cl predict --recording call.mp4 --model runs/demo
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np

VOICES = {"Mia": ("en-gb-x-rp+f5", 65, 170), "Raj": ("en-029+m1", 45, 155)}
TURNS = [
    ("Raj", "Hey, have you seen the new schedule for the trains?", 0.7),
    ("Mia", "Yes, and I am not happy about it at all.", 0.3),
    ("Raj", "Why not? The morning train is earlier now, which is good for me.", 0.9),
    (
        "Mia",
        "For you, maybe. I have to drop the kids at school first, so I will miss it every single day.",
        1.2,
    ),
    ("Raj", "Oh, I did not think of that. Sorry.", 0.26),
    ("Mia", "It is fine, really, I will take the bus.", 0.8),
    ("Raj", "If you want, I can give you a lift on Tuesdays.", 0.6),
    ("Mia", "That would be wonderful, thank you!", 0.0),
]


def write_mp4(path: str, wav: str, fps: int = 5) -> None:
    import av
    import soundfile as sf

    samples, sr = sf.read(wav, dtype="float32")
    with av.open(path, "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = container.add_stream("aac", rate=sr)
        audio.layout = "mono"
        frame = np.full((120, 160, 3), 90, np.uint8)
        for _ in range(int(np.ceil(samples.size / sr * fps))):
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode(None))
        step = 1024
        for i in range(0, samples.size, step):
            block = samples[i : i + step]
            af = av.AudioFrame.from_ndarray(block[None].astype(np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = sr, i
            container.mux(audio.encode(af))
        container.mux(audio.encode(None))


def main(argv=None) -> int:
    from mcn_cl.recording.synthetic import synthesize_conversation

    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else "call.mp4"
    if path.lower().endswith(".wav"):
        truth = synthesize_conversation(path, TURNS, VOICES)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            wav = os.path.join(tmp, "call.wav")
            truth = synthesize_conversation(wav, TURNS, VOICES)
            write_mp4(path, wav)
    with open(os.path.splitext(path)[0] + "_truth.json", "w") as f:
        json.dump(truth, f, indent=1)
    print(f"{path}: {len(truth)} utterances, {truth[-1]['end']:.1f} s of speech")
    return 0


if __name__ == "__main__":
    sys.exit(main())
