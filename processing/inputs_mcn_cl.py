# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What every processing file shares: the modality names, the two input errors (`MCNCLMediaError`,
`MCNCLInputError`), the checks of windows and sampling rates, and reading an utterance's audio (`load_audio`).

This file travels to the Hub with the processing files that import it (``save_pretrained`` copies it flat), so it
imports only public libraries.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from transformers.utils import logging

logger = logging.get_logger(__name__)

# Extensions read with libsndfile (soundfile); anything else goes through FFmpeg (PyAV): mp4, avi, mkv, mp3, ...
SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".au")
# A window may end this many seconds after the end of the medium (container durations are often slightly
# longer than the decoded stream); it is clamped to the end. Beyond that, the window is an error.
WINDOW_TOLERANCE_S = 0.25
# A window of a compressed track (read with PyAV) is decoded from this many seconds before its start: the frames a
# decoder needs to be exact again after a seek (AAC's overlap, MP3's bit reservoir, Opus's 80 ms pre-roll) fit in it.
SEEK_PREROLL_S = 1.0

AudioInput = str | os.PathLike | np.ndarray | Mapping[str, Any]

# Definitions shared by every processing file (and, as marked copies, by the pipelines and the model configs, which
# travel to the Hub without this file; tests/test_copies.py keeps the copies equal). This file is the home: every
# processing file imports it.
MODALITIES = ("text", "audio", "visual")  # the order of `modality_mask`'s last axis
MODALITY_KEYS = {"text": "text", "audio": "audio", "visual": "video"}  # modality -> key of an utterance dict
ON_ERROR = ("raise", "mask")  # what a processor does with a missing / unreadable medium
# loader rows (docs/data_formats.md, section 1) name their media `audio_path` / `video_path`
MEDIA_ALIASES = {"audio_path": "audio", "video_path": "video"}


def _location_prefix(utterance: int | None, dialogue: str | None) -> str:
    """The start of an input error's message: `"dialogue d, utterance i: "`, the parts that are known, or `""`."""
    where = [f"dialogue {dialogue}"] if dialogue is not None else []
    if utterance is not None:
        where.append(f"utterance {utterance}")
    return ", ".join(where) + ": " if where else ""


class MCNCLMediaError(ValueError):
    """A medium (audio or video) of an utterance cannot be used.

    The message names the dialogue (when known), the utterance index, the modality and the file, e.g.
    `"dialogue dia3, utterance 2: audio 'clips/dia3_utt2.mp4': the file has no audio stream"`.

    Attributes:
        reason (`str`): what is wrong ("file not found", "no audio stream", ...).
        path (`str` or `None`): the file, if the medium came from one.
        modality (`str`): `"audio"`, `"video"` or `"text"`.
        utterance (`int` or `None`): index of the utterance inside its dialogue, when known.
        dialogue (`str` or `None`): id of the dialogue, when known.
    """

    def __init__(
        self,
        reason: str,
        path: str | None = None,
        modality: str = "audio",
        utterance: int | None = None,
        dialogue: str | None = None,
    ):
        self.reason = reason
        self.path = path
        self.modality = modality
        self.utterance = utterance
        self.dialogue = dialogue
        prefix = _location_prefix(utterance, dialogue)
        if path is not None:
            source = f" '{path}'"
        else:
            source = "" if modality == "text" else " array input"
        super().__init__(f"{prefix}{modality}{source}: {reason}")

    def at_utterance(self, utterance: int, dialogue: str | None = None) -> MCNCLMediaError:
        """The same error (same class), naming the utterance index and the dialogue."""
        return type(self)(self.reason, self.path, self.modality, utterance, dialogue)


class MCNCLInputError(ValueError):
    """A conversation is structurally invalid: never masked, whatever `on_error` says.

    Structural fields are those without which the conversation cannot be read at all: the conversation must be a
    non-empty list of utterance dicts, a `label` must be `None` / -1 / -100 (unlabelled) or a non-negative integer
    class id, `speaker_ids` must be non-negative integers. Media-level problems (a file, an array, a window or a
    sampling rate that cannot give samples, a text that is not a string) are `MCNCLMediaError`s instead, which
    `on_error="mask"` turns into a masked modality.

    The message names the dialogue (when known), the utterance (when known) and the field, e.g.
    `"dialogue dia3, utterance 2: label: 'joy' is not an integer class id"`.

    Attributes:
        reason (`str`): what is wrong.
        field (`str` or `None`): the offending field (`"label"`, `"utterance"`, `"conversation"`, ...).
        utterance (`int` or `None`): index of the utterance inside its dialogue, when known.
        dialogue (`str` or `None`): id of the dialogue, when known.
    """

    def __init__(
        self,
        reason: str,
        field: str | None = None,
        utterance: int | None = None,
        dialogue: str | None = None,
    ):
        self.reason = reason
        self.field = field
        self.utterance = utterance
        self.dialogue = dialogue
        prefix = _location_prefix(utterance, dialogue)
        super().__init__(f"{prefix}{field + ': ' if field else ''}{reason}")


# Sampling rates accepted for array inputs (Hz): anything outside is almost certainly a mistake (16 for 16000)
# and would make the resampler allocate up to the output rate / input rate times the input.
MIN_SAMPLING_RATE = 1_000
MAX_SAMPLING_RATE = 384_000


def is_real_number(value: Any) -> bool:
    """True for int / float / numpy scalars (not bools, strings or containers)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def as_seconds(value: Any, field: str, path: str | None, modality: str) -> float | None:
    """A time in seconds given as a real number (or `None`) -> float; anything else is an `MCNCLMediaError`
    naming `field` (strings and lists are refused rather than parsed: they are mistakes of the caller)."""
    if value is None:
        return None
    if not is_real_number(value):
        raise MCNCLMediaError(
            f"{field} must be a number of seconds, got {type(value).__name__} {value!r:.40}", path, modality
        )
    return float(value)


def check_sampling_rate(value: Any, path: str | None = None) -> int:
    """A sampling rate (Hz) -> int; `MCNCLMediaError` unless it is a finite whole number in
    [`MIN_SAMPLING_RATE`, `MAX_SAMPLING_RATE`]."""
    if value is None:
        raise MCNCLMediaError("an audio array needs its sampling_rate (Hz)", path)
    if not is_real_number(value) or not np.isfinite(value) or float(value) != int(value):
        raise MCNCLMediaError(
            f"sampling_rate must be a whole number of Hz, got {type(value).__name__} {value!r:.40}", path
        )
    if not MIN_SAMPLING_RATE <= int(value) <= MAX_SAMPLING_RATE:
        raise MCNCLMediaError(
            f"sampling_rate {value!r} Hz is outside [{MIN_SAMPLING_RATE}, {MAX_SAMPLING_RATE}] Hz", path
        )
    return int(value)


def check_window(
    start: float | None, end: float | None, duration: float, path: str | None, modality: str
) -> tuple[float, float]:
    """Validate a `(start, end)` window in seconds against a medium of `duration` seconds.

    Returns the window with defaults filled in (0 and `duration`) and `end` clamped to `duration` when it exceeds
    it by at most `WINDOW_TOLERANCE_S`. Raises `MCNCLMediaError` for a window outside the medium, or for a bound
    that is not a number.
    """
    start, end = as_seconds(start, "start", path, modality), as_seconds(end, "end", path, modality)
    s = 0.0 if start is None else start
    e = duration if end is None else end
    if not (np.isfinite(s) and np.isfinite(e)):
        raise MCNCLMediaError(f"window ({start}, {end}) s is not finite", path, modality)
    if s < 0 or e <= s:
        raise MCNCLMediaError(f"invalid window ({s:.3f}, {e:.3f}) s: need 0 <= start < end", path, modality)
    if s >= duration or e > duration + WINDOW_TOLERANCE_S:
        raise MCNCLMediaError(
            f"window ({s:.3f}, {e:.3f}) s lies outside the {modality} ({duration:.3f} s long)", path, modality
        )
    return s, min(e, duration)


def _read_with_soundfile(path: str, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception as err:  # libsndfile's errors (LibsndfileError, RuntimeError, TypeError) vary by version
        raise MCNCLMediaError(f"unreadable audio file ({err})", path) from err
    if info.frames == 0 or info.samplerate <= 0:
        raise MCNCLMediaError("zero-length audio", path)
    duration = info.frames / info.samplerate
    s, e = check_window(start, end, duration, path, "audio")
    first, last = int(round(s * info.samplerate)), int(round(e * info.samplerate))
    try:
        data, sr = sf.read(path, start=first, stop=last, dtype="float32", always_2d=True)
    except Exception as err:
        raise MCNCLMediaError(f"unreadable audio file ({err})", path) from err
    return data.mean(axis=1), sr


@contextlib.contextmanager
def open_audio_stream(path: str) -> Iterator[tuple[Any, Any]]:
    """`with open_audio_stream(path) as (container, stream)`: the PyAV container of `path` and its first audio
    stream; `MCNCLMediaError` naming the file when it cannot be opened or has no audio stream."""
    import av

    try:
        container = av.open(path)
    except Exception as err:  # av.error.InvalidDataError, av.FFmpegError, ...
        raise MCNCLMediaError(f"unreadable or corrupt file ({err})", path) from err
    with container:
        if not container.streams.audio:
            raise MCNCLMediaError("the file has no audio stream", path)
        yield container, container.streams.audio[0]


def decode_mono_frames(
    container, stream, path: str, rate: int | None = None
) -> Iterator[tuple[float | None, list[np.ndarray], int | None]]:
    """Decode `stream` from where `container` stands, mixed to mono float32 (resampled to `rate`, or at its own):
    one item per decoded frame, (its time in seconds or `None`, its sample arrays (none while the resampler
    buffers), their rate), then the resampler's tail with time `None`. A decoder error is an `MCNCLMediaError`
    ("corrupt audio stream") naming the file. The one decode loop of the audio readers (`_read_with_pyav`, and
    `mcn_cl.recording.audio`'s chunks of a whole recording)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames, None)
            outs = resampler.resample(frame)  # None: the tail
            arrays = [out.to_ndarray().reshape(-1) for out in outs]
        except Exception as err:
            raise MCNCLMediaError(f"corrupt audio stream ({err})", path) from err
        out_rate = outs[-1].sample_rate if outs else None
        if frame is None:
            yield None, arrays, out_rate
            return
        yield (None if frame.time is None else float(frame.time)), arrays, out_rate


def _decode_mono(container, stream, path: str, stop: float | None, skip_first: bool):
    """The samples of `decode_mono_frames` at the track's own rate, until they reach `stop` seconds (`None`: to the
    end). `skip_first` drops the first frame (after a seek it can be a decoder's partial or primed frame). Returns
    (samples, sample rate, time of the first sample); the time is `None` when the frames carry none."""
    chunks, sample_rate, first_time, count = [], None, None, 0
    for time, arrays, rate in decode_mono_frames(container, stream, path):
        if skip_first:
            skip_first = False
            continue
        if not chunks and first_time is None and time is not None:
            first_time = time
        chunks += arrays
        count += sum(a.size for a in arrays)
        sample_rate = rate or sample_rate
        if (
            stop is not None
            and first_time is not None
            and sample_rate
            and first_time + count / sample_rate >= stop
        ):
            break
    if not chunks or sample_rate is None:
        raise MCNCLMediaError("zero-length audio (the audio stream holds no samples)", path)
    return np.concatenate(chunks).astype(np.float32), sample_rate, first_time


def _declared_end(stream) -> float | None:
    """The end of the track (s) as the container declares it, or `None`."""
    if stream.duration is None or stream.time_base is None:
        return None
    return float((stream.start_time or 0) * stream.time_base + stream.duration * stream.time_base)


def _read_window_by_seeking(path: str, start: float, end: float | None) -> tuple[np.ndarray, int] | None:
    """The window `[start, end)` of the track, decoded from `SEEK_PREROLL_S` before `start` only; `None` when the
    container cannot seek there (or lands after `start`, or its frames carry no times, or nothing can be decoded
    after the seek): read it whole instead, which also names what is wrong."""
    with open_audio_stream(path) as (container, stream):
        declared_end = _declared_end(stream)
        try:
            container.seek(
                int((start - SEEK_PREROLL_S) / stream.time_base),
                stream=stream,
                backward=True,
                any_frame=False,
            )
        except Exception:  # a container that cannot seek (FFmpeg's errors vary by format)
            return None
        try:
            samples, sample_rate, first_time = _decode_mono(container, stream, path, end, skip_first=True)
        # nothing after the seek (a window past the end): the whole read says what is wrong
        except MCNCLMediaError:
            return None
    if first_time is None or first_time > start:
        return None
    # the track's end, never past the declared one (as when it is read whole); when the decoder stopped at `end`
    # before the track's end, a lower bound that `end` does not pass, so check_window keeps the window as it is
    decoded_end = first_time + samples.size / sample_rate
    duration = decoded_end if declared_end is None else min(decoded_end, declared_end)
    s, e = check_window(start, end, duration, path, "audio")
    first = int(round((s - first_time) * sample_rate))
    last = int(round((e - first_time) * sample_rate))
    return samples[first:last], sample_rate


def _read_with_pyav(path: str, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    """The (first) audio track of a container (mp4, avi, mkv, mp3, ...), mixed to mono float32 at its own rate.

    A window starting `SEEK_PREROLL_S` or more into the track is decoded from a seek to a second before it (a
    recording read utterance by utterance costs its length once, not once per utterance); the rest, or a container
    that cannot seek, is decoded from the start. A window from a seek holds the samples of decoding the whole
    track (AAC in mp4 / avi and MP3 are tested; FLAC in Matroska was checked once), with two exceptions of the formats: AAC's noise-substituted bands
    carry other random noise of the same energy, and in Matroska / WebM, whose timestamps are in milliseconds,
    the window can sit up to half a millisecond off."""
    first_second = as_seconds(start, "start", path, "audio")
    if first_second is not None and np.isfinite(first_second) and first_second >= SEEK_PREROLL_S:
        last_second = as_seconds(end, "end", path, "audio")
        window = _read_window_by_seeking(path, first_second, last_second)
        if window is not None:
            return window
    with open_audio_stream(path) as (container, stream):
        declared_end = _declared_end(stream)
        samples, sample_rate, first_time = _decode_mono(container, stream, path, None, skip_first=False)
    # times of the window are relative to the start of the file; the stream may start a little later, or
    # (without an edit list) a little before 0: samples before 0 are encoder priming and are dropped
    offset = first_time or 0.0
    if offset < 0:
        samples = samples[int(round(-offset * sample_rate)) :]
        offset = 0.0
    if declared_end is not None and declared_end > offset:
        # the decoder pads the last frame (aac: up to 1024 samples); keep the duration the container declares
        samples = samples[: int(round((declared_end - offset) * sample_rate))]
    if samples.size == 0:
        raise MCNCLMediaError("zero-length audio", path)
    duration = offset + samples.size / sample_rate
    s, e = check_window(start, end, duration, path, "audio")
    first = max(int(round((s - offset) * sample_rate)), 0)
    last = max(int(round((e - offset) * sample_rate)), 0)
    return samples[first:last], sample_rate


def _pcm_scale(samples: np.ndarray) -> float:
    """Full-scale value of integer PCM samples: the dtype's for int8/16/32 (as soundfile), and for 64-bit integers
    (a list of ints from JSON, `np.int64` arrays) that of the narrowest of 16 / 24 / 32-bit PCM holding the peak,
    with a warning (the width is not stored in such data)."""
    if samples.dtype.itemsize < 8:
        return -float(np.iinfo(samples.dtype).min)
    peak = int(np.abs(samples).max()) if samples.size else 0
    for bits in (16, 24, 32):
        if peak <= 2 ** (bits - 1):
            logger.warning(
                "64-bit integer waveform: read as %d-bit PCM (its peak is %d); pass float samples in [-1, 1] "
                "to avoid the guess",
                bits,
                peak,
            )
            return float(2 ** (bits - 1))
    raise MCNCLMediaError(f"integer samples up to {peak} exceed 32-bit PCM; pass float samples in [-1, 1]")


def _waveform_as_float(audio: Any) -> np.ndarray:
    """A waveform array (or nested list) -> mono float32 [T]: integer PCM scaled to [-1, 1), channels mixed."""
    try:
        samples = np.asarray(audio)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise MCNCLMediaError(f"the waveform is not a rectangular array ({err})") from err
    if samples.ndim not in (1, 2) or samples.size == 0 and samples.ndim != 1:
        raise MCNCLMediaError(f"expected a waveform of shape [T] or [T, C], got {samples.shape}")
    if np.issubdtype(samples.dtype, np.signedinteger):  # PCM integers -> [-1, 1), like soundfile
        samples = samples / _pcm_scale(samples)
    elif samples.dtype in (np.uint8, np.uint16):  # offset binary (8-bit wav)
        half = float(np.iinfo(samples.dtype).max // 2 + 1)
        samples = (samples.astype(np.float64) - half) / half
    elif not np.issubdtype(samples.dtype, np.floating):
        raise MCNCLMediaError(f"unsupported sample dtype {samples.dtype}")
    if samples.ndim == 2:  # channels on the short axis
        samples = samples.mean(axis=0 if samples.shape[0] <= 8 < samples.shape[1] else 1)
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
        return samples.astype(np.float32)


def load_audio(
    audio: AudioInput,
    sampling_rate: int | None = None,
    start: float | None = None,
    end: float | None = None,
    target_sampling_rate: int = 16000,
) -> np.ndarray:
    """Read one utterance's audio as mono float32 at `target_sampling_rate`.

    Args:
        audio: a file path (wav/flac/ogg through `soundfile`, any other container's first audio track through
            PyAV/FFmpeg), a waveform `np.ndarray` ([T] or [T, C] / [C, T] with C <= 8 channels, mixed to mono),
            or a dict `{"array": ..., "sampling_rate": ...}` (the `datasets` Audio layout).
        sampling_rate: sampling rate (Hz) of an array input; required for arrays.
        start, end: optional window in seconds inside the medium (files and arrays alike); a window deep in a
            compressed track is decoded from a seek, not from the start (see `_read_with_pyav`).
        target_sampling_rate: output rate in Hz (resampled with `audresample`).

    Returns:
        `np.ndarray` of shape [T'] (float32).

    Raises:
        MCNCLMediaError: missing/unreadable file, no audio stream, zero-length audio, window outside the medium,
            non-finite samples.
    """
    import audresample

    path = None
    if isinstance(audio, Mapping):
        if "array" not in audio:
            raise MCNCLMediaError(
                f"an audio dict needs 'array' and 'sampling_rate', got keys {sorted(audio)}"
            )
        sampling_rate = audio.get("sampling_rate", sampling_rate)
        audio = audio["array"]
    if isinstance(audio, str | os.PathLike):
        path = os.fspath(audio)
        if not os.path.isfile(path):
            raise MCNCLMediaError("file not found", path)
        if os.path.splitext(path)[1].lower() in SOUNDFILE_EXTENSIONS:
            samples, sampling_rate = _read_with_soundfile(path, start, end)
        else:
            samples, sampling_rate = _read_with_pyav(path, start, end)
    else:
        sampling_rate = check_sampling_rate(sampling_rate)
        samples = _waveform_as_float(audio)
        if samples.size == 0:
            raise MCNCLMediaError("zero-length audio")
        if start is not None or end is not None:
            s, e = check_window(start, end, samples.size / sampling_rate, None, "audio")
            samples = samples[int(round(s * sampling_rate)) : int(round(e * sampling_rate))]
    if samples.size == 0:
        raise MCNCLMediaError("zero-length audio (empty window)", path)
    if not np.isfinite(samples).all():
        raise MCNCLMediaError("non-finite samples (NaN or inf) in the waveform", path)
    if int(sampling_rate) != target_sampling_rate:
        samples = audresample.resample(samples, int(sampling_rate), target_sampling_rate)[0]
        if samples.size == 0:
            raise MCNCLMediaError(
                f"zero-length audio once resampled to {target_sampling_rate} Hz (too short)", path
            )
    return np.ascontiguousarray(samples, dtype=np.float32)
