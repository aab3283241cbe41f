# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""From one recording to utterances with speakers: voice activity, speaker embeddings, merge / split rules.

`segment_recording(path)` reads the recording once, in chunks (memory stays bounded however long it is):

1. **Voice activity**: Silero VAD (pip `silero-vad`, model inside the wheel) gives a speech probability every
   32 ms; a hysteresis threshold turns it into speech regions, closed by `min_silence_s` of silence. The VAD is
   deliberately eager to split (0.1 s): a comma pause and a quick turn change look alike to it, and the merge
   step below, which knows the speakers, decides which is which.
2. **Speaker embeddings** of each region as soon as it closes (its samples are then dropped): one for a short
   region, and sliding windows (`window_s`, half overlapping) over a long one, so that a turn change without a
   pause inside a region becomes a split point.
3. **Speakers**: the embeddings of windows of at least `reliable_s` seconds are clustered (`cluster_speakers`,
   the number given or chosen by silhouette); every window then takes the nearest speaker centroid. A fragment
   shorter than `reliable_s` whose embedding does not clearly prefer one speaker (margin below
   `fragment_margin`) takes the speaker of its nearer neighbour in time instead: short fragments are where
   embeddings err.
4. **Utterances**: consecutive pieces of the same speaker less than `merge_gap_s` apart are one utterance (comma
   pauses); a speaker change always ends an utterance, however short the pause (the 0.25 s turn change); an
   utterance longer than `max_utterance_s` is cut at its longest pause (or evenly when it has none).

The result is a `RecordingSegmentation`: `utterances` (`start`, `end`, `speaker`, `text` dicts), `duration`,
`speakers`, `warnings`. No speech (silence, music) is an empty `utterances` with a warning, not an error; an
unreadable or audio-less file is an `MCNCLMediaError`.

Reading the recording in chunks is `audio.py`; scoring a segmentation against a reference (boundary F1,
speaker error) is `metrics.py`.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..processing import MCNCLMediaError
from .audio import SAMPLING_RATE, VAD_FRAME, iter_audio_chunks

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------- VAD


@functools.lru_cache(maxsize=1)
def load_vad():
    """The Silero VAD model (TorchScript, from the `silero-vad` wheel; no download), loaded once per process.
    Importing `silero_vad` sets torch to one thread: the caller's setting is restored."""
    import torch

    threads = torch.get_num_threads()
    try:
        from silero_vad import load_silero_vad
    except ImportError as err:
        raise ImportError(
            "segmenting a recording needs 'silero-vad': pip install 'mcn-cl[recording]'"
        ) from err
    finally:
        torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        model = load_silero_vad()
    return model


class BatchedVAD:
    """Silero VAD's 16 kHz network run over many 32 ms frames at once, with the same numbers as calling the model
    frame by frame (`model(frame, 16000)`): each frame with the previous 64 samples as context goes through the
    model's STFT and convolutional encoder as one batch; only its LSTM cell runs in order (as an `nn.LSTM` over
    the frames), its state carried from one call to the next. Some 20x faster than frame-by-frame calls."""

    def __init__(self, model=None):
        import torch

        jit = (model or load_vad())._model
        self.context = int(jit.context_size_samples)
        self.stft, self.encoder, self.head = jit.stft, jit.encoder, jit.decoder.decoder
        params = dict(jit.decoder.rnn.named_parameters())
        self.lstm = torch.nn.LSTM(128, 128, batch_first=True)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self.lstm, f"{name}_l0").copy_(params[name])
        self.lstm.eval()
        self.reset()

    def reset(self) -> None:
        import torch

        self.state = None
        self.last = torch.zeros(self.context)

    def __call__(self, frames, batch: int = 256) -> np.ndarray:
        """Speech probabilities of consecutive frames [F, 512] (a float tensor) following the previous call's,
        `batch` frames (8 s) at a time: the encoder's activations of a whole 30 s chunk would take ~200 MB."""
        if frames.shape[0] > batch:
            return np.concatenate(
                [self(frames[i : i + batch], batch) for i in range(0, frames.shape[0], batch)]
            )
        import torch

        if frames.shape[0] == 0:
            return np.zeros(0, np.float32)
        previous = torch.cat([self.last[None], frames[:-1, -self.context :]])
        x = torch.cat([previous, frames], dim=1)  # [F, 576]
        self.last = frames[-1, -self.context :].clone()
        from .diarization import without_onednn

        with (
            torch.inference_mode(),
            without_onednn(),
        ):  # see diarization.without_onednn
            features = self.encoder(self.stft(x)).squeeze(-1)  # [F, 128]
            h, self.state = self.lstm(features[None], self.state)
            out = self.head(h[0].unsqueeze(-1))  # [F, 1, 1]
        return out.squeeze(1).mean(dim=1).numpy()


# ------------------------------------------------------------------------------------------------ results


@dataclass
class RecordingSegmentation:
    """What `segment_recording` found: `utterances` (dicts with `start`, `end` in seconds, `speaker`, `text`), the
    recording's `duration`, the `speakers` in order of first appearance and `warnings` (also logged)."""

    utterances: list[dict[str, Any]]
    duration: float
    speakers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    num_speakers_found: int = 0


@dataclass
class _Window:
    region: int
    start: float
    end: float
    embedding: np.ndarray | None = None
    speaker: int = -1

    @property
    def duration(self) -> float:
        return self.end - self.start


def _windows_of(region: int, start: float, end: float, window_s: float) -> list[_Window]:
    """One window for a region up to 1.5 windows long, else windows of `window_s` every half window (the last
    one ending at the region's end)."""
    length = end - start
    if length <= 1.5 * window_s:
        return [_Window(region, start, end)]
    hop = window_s / 2
    count = int(np.ceil((length - window_s) / hop)) + 1
    starts = [start + i * hop for i in range(count - 1)] + [end - window_s]
    return [_Window(region, s, s + window_s) for s in starts]


class _RegionTracker:
    """Hysteresis over the VAD's speech probabilities: speech starts at `threshold`, ends after `min_silence_s`
    below `threshold - 0.15`; regions shorter than `min_speech_s` are dropped. Times in VAD frames."""

    def __init__(self, threshold: float, min_silence_s: float, min_speech_s: float, max_region_s: float):
        frame_s = VAD_FRAME / SAMPLING_RATE
        self.on, self.off = threshold, threshold - 0.15
        self.min_silence = max(1, int(round(min_silence_s / frame_s)))
        self.min_speech = max(1, int(round(min_speech_s / frame_s)))
        self.max_region = max(2, int(round(max_region_s / frame_s)))
        self.start = None
        self.last_speech = None
        self.silence = 0

    def step(self, frame: int, prob: float) -> tuple[int, int] | None:
        """Feed frame `frame`'s probability; returns a closed region (first frame, end frame exclusive) or None."""
        if self.start is None:
            if prob >= self.on:
                self.start, self.last_speech, self.silence = frame, frame, 0
            return None
        if prob >= self.off:
            self.last_speech, self.silence = frame, 0
            if frame + 1 - self.start >= self.max_region:
                return self._close()
        else:
            self.silence += 1
            if self.silence >= self.min_silence:
                return self._close()
        return None

    def _close(self) -> tuple[int, int] | None:
        region = (self.start, self.last_speech + 1)
        self.start, self.last_speech, self.silence = None, None, 0
        return region if region[1] - region[0] >= self.min_speech else None

    def flush(self) -> tuple[int, int] | None:
        return self._close() if self.start is not None else None


# ------------------------------------------------------------------------------------------------ main entry


def segment_recording(
    recording: Any,
    *,
    sampling_rate: int | None = None,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
    speaker_model: Any = None,
    vad_threshold: float = 0.5,
    min_silence_s: float = 0.1,
    min_speech_s: float = 0.1,
    merge_gap_s: float = 0.8,
    max_utterance_s: float = 20.0,
    window_s: float = 1.5,
    reliable_s: float = 1.0,
    fragment_margin: float = 0.1,
    pad_s: float = 0.05,
    chunk_s: float = 30.0,
    device: str = "cpu",
) -> RecordingSegmentation:
    """Find the utterances of a recording and tell its speakers apart (the steps are in the module docstring).

    Args:
        recording: a file (audio or video with an audio track), or a waveform with `sampling_rate`.
        num_speakers: the number of speakers when known; default: chosen from the embeddings.
        max_speakers: the most speakers to return (`config.max_speakers` of the model that will read the
            result): more found (or `num_speakers` above it) is a warning, and the clustering is capped at
            `max_speakers`, which merges the closest-sounding speakers into one.
        speaker_model: `"resemblyzer"` (default), a `transformers` x-vector model id, or an object with
            `embed(list of 16 kHz arrays) -> [N, D]` L2-normalised embeddings.
        vad_threshold, min_silence_s, min_speech_s: the VAD's speech threshold and the shortest silence that
            closes / speech that makes a region.
        merge_gap_s: same-speaker pieces closer than this are one utterance.
        max_utterance_s: longer utterances are cut.
        window_s, reliable_s, fragment_margin: speaker windows' length, the shortest window trusted for
            clustering, and the centroid-similarity margin a shorter fragment needs to keep its own speaker.
        pad_s: seconds of context added before and after each utterance (within the recording).
        chunk_s: seconds of audio read at a time.
    """
    import torch

    from .diarization import centroids, cluster_speakers, get_speaker_encoder

    encoder = (
        speaker_model
        if hasattr(speaker_model, "embed")
        else get_speaker_encoder(speaker_model, device=device)
    )
    vad = BatchedVAD()
    frame_s = VAD_FRAME / SAMPLING_RATE
    tracker = _RegionTracker(vad_threshold, min_silence_s, min_speech_s, max_region_s=max(4 * window_s, 30.0))
    regions: list[tuple[float, float]] = []
    windows: list[_Window] = []
    pending: list[tuple[_Window, np.ndarray]] = []
    buffer, buffer_start = (
        np.zeros(0, np.float32),
        0,
    )  # samples from `buffer_start` (absolute sample index) on
    carry = np.zeros(0, np.float32)  # samples not yet fed to the VAD (less than one frame)
    frame = 0
    total = 0

    def embed_pending() -> None:
        if pending:
            embeddings = encoder.embed([samples for _, samples in pending])
            for (w, _), e in zip(pending, embeddings):
                w.embedding = e
            pending.clear()

    def close(region: tuple[int, int]) -> None:
        start, end = region[0] * frame_s, region[1] * frame_s
        regions.append((start, end))
        for w in _windows_of(len(regions) - 1, start, end, window_s):
            a = int(round(w.start * SAMPLING_RATE)) - buffer_start
            b = int(round(w.end * SAMPLING_RATE)) - buffer_start
            windows.append(w)
            pending.append((w, buffer[max(a, 0) : b].copy()))
        if len(pending) >= 32:
            embed_pending()

    with torch.inference_mode():
        for chunk in iter_audio_chunks(recording, chunk_s=chunk_s, sampling_rate=sampling_rate):
            if not np.isfinite(chunk).all():
                raise MCNCLMediaError(
                    "non-finite samples (NaN or inf) in the waveform",
                    os.fspath(recording) if isinstance(recording, str | os.PathLike) else None,
                )
            total += chunk.size
            buffer = np.concatenate([buffer, chunk])
            data = np.concatenate([carry, chunk])
            usable = data.size - data.size % VAD_FRAME
            frames = torch.from_numpy(data[:usable].reshape(-1, VAD_FRAME).copy())
            carry = data[usable:]
            for prob in vad(frames):
                closed = tracker.step(frame, float(prob))
                frame += 1
                if closed is not None:
                    close(closed)
            # keep only the samples an open region (or the next one) may still need
            keep_from = (tracker.start if tracker.start is not None else frame) * VAD_FRAME
            if keep_from > buffer_start:
                buffer = buffer[keep_from - buffer_start :]
                buffer_start = keep_from
        if carry.size:  # the last partial frame, zero-padded
            x = torch.from_numpy(np.pad(carry, (0, VAD_FRAME - carry.size)))
            closed = tracker.step(frame, float(vad(x[None])[0]))
            frame += 1
            if closed is not None:
                close(closed)
        closed = tracker.flush()
        if closed is not None:
            close(closed)
        embed_pending()
    duration = total / SAMPLING_RATE
    if total == 0:
        raise MCNCLMediaError(
            "zero-length audio", os.fspath(recording) if isinstance(recording, str | os.PathLike) else None
        )
    messages: list[str] = []
    if not regions:
        messages.append(
            f"no speech found in the recording ({duration:.1f} s of silence, music or noise): no utterances"
        )
        for m in messages:
            logger.warning(m)
        return RecordingSegmentation([], duration, [], messages, 0)
    return _assign_and_merge(
        regions,
        windows,
        duration,
        messages,
        cluster_speakers=cluster_speakers,
        centroids=centroids,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        merge_gap_s=merge_gap_s,
        max_utterance_s=max_utterance_s,
        reliable_s=reliable_s,
        fragment_margin=fragment_margin,
        pad_s=pad_s,
    )


def _assign_and_merge(
    regions,
    windows,
    duration,
    messages,
    *,
    cluster_speakers,
    centroids,
    num_speakers,
    max_speakers,
    merge_gap_s,
    max_utterance_s,
    reliable_s,
    fragment_margin,
    pad_s,
) -> RecordingSegmentation:
    embeddings = np.stack([w.embedding for w in windows])
    reliable = np.array([w.duration >= reliable_s for w in windows])
    if reliable.sum() < 2:
        reliable[:] = True
    limit = max_speakers if max_speakers is not None else 8
    if num_speakers is not None and max_speakers is not None and num_speakers > max_speakers:
        messages.append(
            f"--num_speakers {num_speakers} is more than the model knows (config.max_speakers={max_speakers}): "
            f"clustering into {max_speakers} speakers, which merges the closest-sounding voices"
        )
    found = None
    if num_speakers is None and max_speakers is not None:
        # how many speakers are there without the cap? (for the warning)
        uncapped = cluster_speakers(embeddings[reliable], None, max_speakers=max(8, max_speakers + 1))
        found = int(uncapped.max()) + 1 if uncapped.size else 0
        if found > max_speakers:
            messages.append(
                f"found {found} speakers but the model knows at most config.max_speakers={max_speakers}: "
                f"clustering into {max_speakers} speakers, which merges the closest-sounding voices"
            )
    labels = cluster_speakers(embeddings[reliable], num_speakers, max_speakers=limit)
    cents = centroids(embeddings[reliable], labels)
    sims = embeddings @ cents.T  # [windows, speakers]
    order = np.argsort(-sims, axis=1)
    best = order[:, 0]
    margin = (
        sims[np.arange(len(windows)), order[:, 0]] - sims[np.arange(len(windows)), order[:, 1]]
        if cents.shape[0] > 1
        else np.ones(len(windows))
    )
    for w, b in zip(windows, best):
        w.speaker = int(b)
    # pieces: runs of same-speaker windows inside a region, split halfway through the overlap of a change
    pieces: list[list[Any]] = []  # [start, end, speaker, margin, reliable]
    by_region: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_region.setdefault(w.region, []).append(i)
    for r, (start, end) in enumerate(regions):
        idx = by_region.get(r, [])
        spk = [windows[i].speaker for i in idx]
        for j in range(1, len(spk) - 1):  # a lone window between two of one speaker is that speaker
            if spk[j - 1] == spk[j + 1] != spk[j]:
                spk[j] = spk[j - 1]
        cur_start, cur = start, 0
        for j in range(1, len(idx) + 1):
            if j == len(idx) or spk[j] != spk[cur]:
                piece_end = end if j == len(idx) else (windows[idx[j]].start + windows[idx[j - 1]].end) / 2
                run = idx[cur:j]
                pieces.append(
                    [cur_start, piece_end, spk[cur], float(np.mean(margin[run])), bool(reliable[run].any())]
                )
                cur_start, cur = piece_end, j
    # short, ambiguous fragments: the speaker of the nearer neighbour in time
    for k, p in enumerate(pieces):
        if p[4] or p[3] >= fragment_margin:
            continue
        candidates = []
        if k > 0:
            candidates.append((p[0] - pieces[k - 1][1], pieces[k - 1][2]))
        if k + 1 < len(pieces):
            candidates.append((pieces[k + 1][0] - p[1], pieces[k + 1][2]))
        if candidates:
            gap, speaker = min(candidates)
            if gap < merge_gap_s:
                p[2] = speaker
    # utterances: same-speaker pieces closer than merge_gap_s
    utterances: list[list[Any]] = []  # [start, end, speaker, [(gap start, gap end)]]
    for start, end, speaker, _, _ in pieces:
        last = utterances[-1] if utterances else None
        if last is not None and last[2] == speaker and start - last[1] < merge_gap_s:
            last[3].append((last[1], start))
            last[1] = end
        else:
            utterances.append([start, end, speaker, []])
    cut: list[tuple[float, float, int]] = []
    for start, end, speaker, gaps in utterances:
        cut.extend(_cut_long(start, end, speaker, gaps, max_utterance_s))
    names = {}
    out = []
    for start, end, speaker in cut:
        name = names.setdefault(speaker, f"speaker {len(names) + 1}")
        out.append(
            {
                "start": round(max(0.0, start - pad_s), 3),
                "end": round(min(duration, end + pad_s), 3),
                "speaker": name,
                "text": "",
            }
        )
    for m in messages:
        logger.warning(m)
    return RecordingSegmentation(out, duration, list(names.values()), messages, found or len(names))


def _cut_long(start, end, speaker, gaps, max_len) -> list[tuple[float, float, int]]:
    """An utterance longer than `max_len` cut at its longest pause, recursively (evenly where it has none)."""
    if end - start <= max_len:
        return [(start, end, speaker)]
    inside = [g for g in gaps if start < g[0] and g[1] < end]
    if inside:
        g = max(inside, key=lambda g: g[1] - g[0])
        left = [x for x in inside if x[1] <= g[0]]
        right = [x for x in inside if x[0] >= g[1]]
        return _cut_long(start, g[0], speaker, left, max_len) + _cut_long(g[1], end, speaker, right, max_len)
    parts = int(np.ceil((end - start) / max_len))
    step = (end - start) / parts
    return [(start + i * step, start + (i + 1) * step, speaker) for i in range(parts)]
