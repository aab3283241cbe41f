# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Preprocessing of both models: MCN-CL's openSMILE audio features, face-video frames and conversation processor
(`MCNCLProcessor`), and MCIHN's utterance processor (`MCIHNProcessor`, which reads media with the MCN-CL files).
`inputs_mcn_cl.py` is the home of what every processing file shares (reading audio, windows, the error classes,
`MODALITIES`, `ON_ERROR`, `MEDIA_ALIASES`).

The processors and their components are registered with the `transformers` Auto classes by
`mcn_cl.registration.register()` (which `import mcn_cl` runs, whatever submodule is imported first).
"""

from .feature_extraction_mcn_cl import MCNCLFeatureExtractor
from .inputs_mcn_cl import MCNCLInputError, MCNCLMediaError, load_audio
from .processing_mcihn import MCIHNProcessor, pad_utterances
from .processing_mcn_cl import MCNCLProcessor, pad_dialogues
from .video_processing_mcn_cl import MCNCLVideoProcessor, decode_video_frames

__all__ = [
    "MCIHNProcessor",
    "pad_utterances",
    "MCNCLFeatureExtractor",
    "MCNCLInputError",
    "MCNCLMediaError",
    "MCNCLProcessor",
    "MCNCLVideoProcessor",
    "decode_video_frames",
    "load_audio",
    "pad_dialogues",
]
