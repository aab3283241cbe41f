# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Text for the utterances of a recording from any `transformers` speech recognition model.

`transcribe_utterances(recording, utterances, asr="openai/whisper-small")` reads the recording in chunks, cuts it
into blocks of consecutive utterances (at most `block_s` seconds, cut in the silences between utterances, so no
word is cut), transcribes each block with word timestamps and places each word into the utterance that holds the
word's midpoint (the nearest one when it falls into a pause). Without an ASR model the text stays empty, and the
text modality is masked by the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .audio import SAMPLING_RATE


def load_asr(asr: str | Callable, device: Any = None):
    """A `transformers` automatic-speech-recognition pipeline for the model id / folder `asr` (a callable is
    returned as it is)."""
    if callable(asr):
        return asr
    from transformers import pipeline

    return pipeline("automatic-speech-recognition", model=asr, device=device)


def place_words(
    utterances: Sequence[Mapping[str, Any]], words: Iterable[Mapping[str, Any]], offset: float = 0.0
) -> list[list[str]]:
    """The words (`{"text", "timestamp": (start, end)}`, times relative to `offset`) of each utterance: a word
    goes to the utterance holding its midpoint, or to the nearest one."""
    out: list[list[str]] = [[] for _ in utterances]
    if not utterances:
        return out
    for word in words:
        text = str(word.get("text") or "").strip()
        start, end = word.get("timestamp") or (None, None)
        if not text or start is None:
            continue
        end = start if end is None else end
        mid = offset + (float(start) + float(end)) / 2
        distances = [
            0.0 if u["start"] <= mid <= u["end"] else min(abs(mid - u["start"]), abs(mid - u["end"]))
            for u in utterances
        ]
        out[int(np.argmin(distances))].append(text)
    return out


def _blocks(utterances: Sequence[Mapping[str, Any]], block_s: float) -> list[list[int]]:
    blocks: list[list[int]] = []
    for i, u in enumerate(utterances):
        if blocks and u["end"] - utterances[blocks[-1][0]]["start"] <= block_s:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return blocks


def transcribe_utterances(
    recording: str | os.PathLike,
    utterances: Sequence[Mapping[str, Any]],
    asr: str | Callable,
    block_s: float = 28.0,
    device: Any = None,
    sampling_rate: int | None = None,
) -> list[dict[str, Any]]:
    """The utterances with their `text` filled in by the speech recognition model `asr` (a `transformers` model id
    or folder, or an ASR pipeline / callable taking `{"raw", "sampling_rate"}` and `return_timestamps="word"`).
    The recording is read once, in chunks."""
    from .audio import iter_audio_chunks

    recognizer = load_asr(asr, device)
    result = [dict(u) for u in utterances]
    if not result:
        return result
    blocks = _blocks(result, block_s)
    buffer, buffer_start, b = np.zeros(0, np.float32), 0, 0
    for chunk in iter_audio_chunks(recording, sampling_rate=sampling_rate):
        buffer = np.concatenate([buffer, chunk])
        buffer_end = buffer_start + buffer.size
        while b < len(blocks):
            first, last = result[blocks[b][0]], result[blocks[b][-1]]
            start = int(first["start"] * SAMPLING_RATE)
            end = int(np.ceil(last["end"] * SAMPLING_RATE))
            if end > buffer_end:
                break
            samples = buffer[max(start - buffer_start, 0) : end - buffer_start]
            _transcribe_block(recognizer, samples, first["start"], [result[i] for i in blocks[b]])
            b += 1
        if b < len(blocks):  # drop what no later block needs
            keep = int(result[blocks[b][0]]["start"] * SAMPLING_RATE)
            if keep > buffer_start:
                buffer = buffer[keep - buffer_start :]
                buffer_start = keep
        else:
            break
    if b < len(blocks) and buffer.size:  # windows reaching past the audio's end: what is there
        for block in blocks[b:]:
            first, last = result[block[0]], result[block[-1]]
            start = max(int(first["start"] * SAMPLING_RATE) - buffer_start, 0)
            _transcribe_block(recognizer, buffer[start:], first["start"], [result[i] for i in block])
    return result


def _transcribe_block(
    recognizer, samples: np.ndarray, offset: float, utterances: list[dict[str, Any]]
) -> None:
    if samples.size < SAMPLING_RATE // 10:
        return
    out = recognizer({"raw": samples, "sampling_rate": SAMPLING_RATE}, return_timestamps="word")
    words = out.get("chunks") or []
    if not words and out.get(
        "text"
    ):  # a model without word timestamps: the block's text to its first utterance
        words = [{"text": out["text"], "timestamp": (0.0, 0.0)}]
    for u, w in zip(utterances, place_words(utterances, words, offset)):
        u["text"] = " ".join(w)
