"""Tests of the MCN-CL processor (issue 3): openSMILE feature extractor, video processor, conversation processor.

Every medium is generated here (wav / flac with soundfile, mp4 / avi with PyAV through `mcn_cl.demo`); nothing
is downloaded. The face-crop test uses the Grace Hopper portrait that ships inside matplotlib.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_tiny_config, make_tiny_tokenizer, run_without_mcn_cl
from transformers import AutoFeatureExtractor, AutoProcessor, AutoVideoProcessor, BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

import mcn_cl
from mcn_cl import MCNCLForEmotionRecognition
from mcn_cl.demo import write_mp4, write_wav
from mcn_cl.processing import (
    MCNCLFeatureExtractor,
    MCNCLMediaError,
    MCNCLProcessor,
    MCNCLVideoProcessor,
    decode_video_frames,
    load_audio,
)

SR = 16000
FPS = 10
NUM_FRAMES = 2  # frames per utterance in the processor tests (the model's default is 16)
FRAME_SIZE = {"height": 32, "width": 32}
MODALITY = {"text": 0, "audio": 1, "visual": 2}


# --------------------------------------------------------------------------------------------------- media


def voice(seconds: float, sr: int = SR, f0=(140.0, 220.0), noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """A voiced, speech-like signal: 7 harmonics of a pitch glide f0[0] -> f0[1] Hz, 4 syllables a second,
    a little noise. The phase is analytic, so the same signal can be sampled at any rate."""
    t = np.arange(int(round(seconds * sr))) / sr
    phase = 2 * np.pi * (f0[0] * t + (f0[1] - f0[0]) * t**2 / (2 * seconds))
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
    x = 0.2 * harmonics * envelope
    if noise:
        x = x + noise * np.random.default_rng(seed).standard_normal(t.size)
    return x.astype(np.float32)


def grey_frames(num: int, size: int = 32) -> np.ndarray:
    """uint8 frames whose frame k is the flat grey level 20 + 10 k (k < 24): decoded frames say which frame of
    the clip they are (mpeg4 at this quality errs by < 3 levels)."""
    levels = 20 + 10 * np.arange(num)
    return np.broadcast_to(levels[:, None, None, None], (num, size, size, 3)).astype(np.uint8)


def two_digit_frames(num: int, size: int = 32) -> np.ndarray:
    """uint8 frames whose left half's grey level gives the tens (20 + 40 t) and the right half's the units
    (20 + 20 u) of the frame index: up to 60 frames, each level 20 apart from the next (mpeg4 errs by < 4)."""
    frames = np.zeros((num, size, size, 3), dtype=np.uint8)
    for k in range(num):
        frames[k, :, : size // 2] = 20 + 40 * (k // 10)
        frames[k, :, size // 2 :] = 20 + 20 * (k % 10)
    return frames


def two_digit_index(frames: np.ndarray) -> list[int]:
    half = frames.shape[2] // 2
    tens = np.round((frames[:, :, :half].astype(float).mean(axis=(1, 2, 3)) - 20) / 40)
    units = np.round((frames[:, :, half:].astype(float).mean(axis=(1, 2, 3)) - 20) / 20)
    return (10 * tens + units).astype(int).tolist()


def frame_levels(frames) -> np.ndarray:
    """Frame index back from decoded grey frames (uint8 [F, H, W, 3]) or normalised pixel_values [F, 3, H, W]."""
    frames = torch.as_tensor(np.asarray(frames)).float()
    if frames.shape[-1] == 3:
        levels = frames.mean(dim=(1, 2, 3))
    else:  # undo the ImageNet normalisation
        mean = torch.tensor(IMAGENET_DEFAULT_MEAN)[:, None, None]
        std = torch.tensor(IMAGENET_DEFAULT_STD)[:, None, None]
        levels = ((frames * std + mean) * 255).mean(dim=(1, 2, 3))
    return np.round((levels.numpy() - 20) / 10).astype(int)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Median over features of |a - b| / (|a| + |b|): 0 for equal vectors, 1 for opposite ones. openSMILE
    features span ten orders of magnitude, so a per-feature relative measure is the meaningful one."""
    return float(np.median(np.abs(a - b) / (np.abs(a) + np.abs(b) + 1e-12)))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Generated media: a 2 s voice as wav, flac, mp4 (with 20 grey frames: frame k = level 20 + 10 k), avi; a
    silent video, an audio-only mp4, a 6 s video for seeking, corrupt and empty files, a float wav with inf."""
    d = tmp_path_factory.mktemp("media")
    x = voice(2.0)
    y = voice(2.0, f0=(220.0, 120.0), seed=1)  # a different speaker / intonation
    frames = grey_frames(20)
    m = {"dir": d, "x": x}
    m["wav"] = write_wav(d / "voice.wav", x)
    m["other_wav"] = write_wav(d / "other.wav", y)
    m["flac"] = str(d / "voice.flac")
    sf.write(m["flac"], sf.read(m["wav"], dtype="float32")[0], SR, subtype="PCM_16")
    m["mp4"] = write_mp4(d / "clip.mp4", frames, fps=FPS, audio=x)
    m["avi"] = write_mp4(d / "clip.avi", frames, fps=FPS, audio=x)
    m["silent_mp4"] = write_mp4(d / "silent.mp4", frames, fps=FPS)
    m["audio_only_mp4"] = write_mp4(d / "audio_only.mp4", None, audio=x)
    m["long_mp4"] = write_mp4(d / "long.mp4", two_digit_frames(60), fps=FPS)
    m["long_avi"] = write_mp4(d / "long.avi", two_digit_frames(60), fps=FPS, audio=voice(6.0))
    m["long_voice_mp4"] = write_mp4(d / "long_voice.mp4", None, audio=voice(6.0, seed=2))
    m["long_voice_mp3"] = write_mp4(
        d / "long_voice.mp3", None, audio=voice(6.0, seed=3), audio_codec="libmp3lame"
    )
    m["corrupt_mp4"] = str(d / "corrupt.mp4")
    m["corrupt_wav"] = str(d / "corrupt.wav")
    for path in (m["corrupt_mp4"], m["corrupt_wav"]):
        with open(path, "wb") as f:
            f.write(b"\x00\x01 definitely not a media file " * 16)
    m["empty_wav"] = write_wav(d / "empty.wav", np.zeros(0, dtype=np.float32))
    bad = x.copy()
    bad[1000] = np.inf
    m["inf_wav"] = write_wav(d / "inf.wav", bad, subtype="FLOAT")
    return m


@pytest.fixture(scope="module")
def is10():
    return MCNCLFeatureExtractor()  # IS10, the paper's set


@pytest.fixture(scope="module")
def egemaps():
    return MCNCLFeatureExtractor(feature_set="eGeMAPSv02")


@pytest.fixture(scope="module")
def tokenizer():
    return make_tiny_tokenizer()


def make_processor(tokenizer, **video_kwargs) -> MCNCLProcessor:
    video_kwargs = {"num_frames": NUM_FRAMES, "size": FRAME_SIZE, **video_kwargs}
    return MCNCLProcessor(
        tokenizer, MCNCLFeatureExtractor(feature_set="eGeMAPSv02"), MCNCLVideoProcessor(**video_kwargs)
    )


@pytest.fixture(scope="module")
def processor(tokenizer):
    return make_processor(tokenizer)


def conversation(media, n: int = 3) -> list[dict]:
    texts = ["where were you", "I lost my old dog", "stop it", "what a great day"]
    return [
        {
            "text": texts[i % len(texts)],
            "speaker": "Ann" if i % 2 == 0 else "Ben",
            "audio": media["wav"],
            "video": media["mp4"],
            "start": 0.2 * i,
            "end": 0.2 * i + 1.0,
            "label": i % 3,
        }
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------- audio: input forms


def test_is10_is_the_default_feature_set_with_1582_features(media, is10):
    assert is10.feature_set == "IS10" and is10.feature_size == 1582
    out = is10(media["wav"], return_tensors="pt")
    assert isinstance(out, BatchFeature)
    assert out["audio_features"].shape == (1, 1582) and out["audio_features"].dtype == torch.float32
    assert torch.isfinite(out["audio_features"]).all()


def test_feature_size_must_match_the_feature_set():
    with pytest.raises(ValueError, match="eGeMAPSv02 gives 88 features, got 1582"):
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02", feature_size=1582)
    with pytest.raises(ValueError, match="unknown openSMILE feature set 'IS99'"):
        MCNCLFeatureExtractor(feature_set="IS99")


def test_wav_flac_array_and_dict_inputs_give_identical_features(media, is10):
    from_wav = is10.extract(media["wav"])
    samples, rate = sf.read(media["wav"], dtype="float32")
    np.testing.assert_array_equal(is10.extract(media["flac"]), from_wav)  # both lossless 16-bit PCM
    np.testing.assert_array_equal(is10.extract(samples, rate), from_wav)
    np.testing.assert_array_equal(is10.extract({"array": samples, "sampling_rate": rate}), from_wav)
    # integer PCM is scaled like soundfile does (int16 / 32768)
    pcm, _ = sf.read(media["wav"], dtype="int16")
    np.testing.assert_array_equal(is10.extract(pcm, rate), from_wav)
    # [T, C] and [C, T] channel layouts are mixed to mono
    stereo = np.stack([samples * 0.5, samples * 1.5], axis=1)
    np.testing.assert_allclose(load_audio(stereo, rate), samples, atol=1e-6)
    np.testing.assert_allclose(load_audio(stereo.T, rate), samples, atol=1e-6)
    # a batch of inputs: one row per input, in order
    batch = is10([media["wav"], media["other_wav"]], return_tensors="np")["audio_features"]
    np.testing.assert_array_equal(batch[0], from_wav)
    assert relative_difference(batch[0], batch[1]) > 0.05


@pytest.mark.parametrize("rate", [8000, 44100])
def test_an_array_at_another_rate_is_resampled_to_16khz(rate, egemaps):
    native = voice(1.5, noise=0)
    resampled = load_audio(voice(1.5, sr=rate, noise=0), sampling_rate=rate)
    assert resampled.dtype == np.float32 and abs(resampled.size - native.size) <= 1
    n = min(resampled.size, native.size)
    assert np.corrcoef(resampled[:n], native[:n])[0, 1] > 0.999  # same waveform, no shift, no speed change
    d = relative_difference(egemaps.extract(voice(1.5, sr=rate, noise=0), rate), egemaps.extract(native, SR))
    assert d < 0.02
    with pytest.raises(MCNCLMediaError, match="needs its sampling_rate"):
        load_audio(native)


def test_mp4_audio_track_matches_the_wav_within_aac_tolerance(media, is10, egemaps):
    """The same audio muxed as aac into an mp4. aac is lossy, so features are compared with the median per-feature
    relative difference, and the bound must sit well below the difference between two different voices."""
    wav, mp4 = load_audio(media["wav"]), load_audio(media["mp4"])
    # the encoder's priming (1024 samples) and the last frame's padding (up to 1023) are trimmed; the container's
    # declared duration may still be a few samples off
    assert abs(mp4.size - wav.size) < 64
    n = min(mp4.size, wav.size)
    assert np.corrcoef(wav[:n], mp4[:n])[0, 1] > 0.999  # aligned sample for sample (a 64 ms shift gives ~0.5)
    for extractor, bound in ((is10, 0.03), (egemaps, 0.01)):
        same = relative_difference(extractor.extract(media["wav"]), extractor.extract(media["mp4"]))
        other = relative_difference(extractor.extract(media["wav"]), extractor.extract(media["other_wav"]))
        assert same < bound and same < other / 4, (extractor.feature_set, same, other)
    audio_only = load_audio(media["audio_only_mp4"])
    np.testing.assert_allclose(audio_only[:n], mp4[:n], atol=1e-4)


def test_avi_audio_track_is_read(media):
    """AVI has no edit list: the aac priming (1024 samples) cannot be trimmed and stays at the start."""
    avi = load_audio(media["avi"])
    wav = load_audio(media["wav"])
    assert wav.size <= avi.size <= wav.size + 2048
    shifted = avi[1024 : 1024 + wav.size]
    assert np.corrcoef(wav[: shifted.size], shifted)[0, 1] > 0.99


def test_audio_windows_cut_the_right_samples(media, egemaps):
    samples, _ = sf.read(media["wav"], dtype="float32")
    np.testing.assert_array_equal(load_audio(media["wav"], start=0.5, end=1.25), samples[8000:20000])
    np.testing.assert_array_equal(load_audio(samples, SR, start=0.5, end=1.25), samples[8000:20000])
    np.testing.assert_array_equal(load_audio(media["wav"], start=1.5), samples[24000:])
    from_mp4 = load_audio(media["mp4"], start=0.5, end=1.25)
    assert from_mp4.size == 12000 and np.corrcoef(from_mp4, samples[8000:20000])[0, 1] > 0.999
    # an end a little past the medium (container rounding) is clamped; further out is an error
    np.testing.assert_array_equal(load_audio(media["wav"], start=1.0, end=2.1), samples[16000:])
    for start, end in ((2.5, 3.0), (1.0, 2.5), (1.0, 0.5), (-0.1, 1.0)):
        with pytest.raises(MCNCLMediaError, match="window"):
            load_audio(media["wav"], start=start, end=end)
    windowed = egemaps.extract(media["wav"], start=0.5, end=1.25)
    assert relative_difference(windowed, egemaps.extract(samples[8000:20000], SR)) == 0
    assert relative_difference(windowed, egemaps.extract(media["wav"])) > 0.005


@pytest.mark.parametrize("name", ["long_voice_mp4", "long_avi", "long_voice_mp3"])
def test_an_audio_window_deep_in_a_long_file_is_decoded_from_a_seek_with_the_same_samples(
    media, name, monkeypatch
):
    """A recording is read utterance by utterance: each window costs its own length (plus a second before it), not
    the whole track, and gives the samples of reading the whole track (aac in mp4 and avi, mp3)."""
    from mcn_cl.processing import inputs_mcn_cl

    path = media[name]
    windows = (
        (2.0, 2.75),
        (4.1, 5.3),
        (1.0, 1.5),
        (5.0, None),
        (4.5, 6.1),
    )  # the last ends past the track: clamped
    with monkeypatch.context() as whole_track:
        whole_track.setattr(inputs_mcn_cl, "SEEK_PREROLL_S", float("inf"))
        expected = [load_audio(path, start=s, end=e) for s, e in windows]
        whole = load_audio(path)
    decoded, decode = [], inputs_mcn_cl._decode_mono

    def counting(*args, **kwargs):  # seconds of the track each read decodes
        out = decode(*args, **kwargs)
        decoded.append(out[0].size / out[1])
        return out

    monkeypatch.setattr(inputs_mcn_cl, "_decode_mono", counting)
    for (start, end), want in zip(windows, expected):
        got = load_audio(path, start=start, end=end)
        np.testing.assert_array_equal(got, want)
        stop = 6.0 if end is None else min(end, 6.0)
        assert decoded[-1] <= stop - start + 1.1, (start, end, decoded[-1])  # from a second before the window
    assert whole.size == pytest.approx(6.0 * SR, abs=2048)
    # a window past the end is named as the whole read names it (not "no samples" after a seek past the end)
    for start, end in ((4.5, 7.0), (6.5, None), (7.5, 8.0), (3.0, 2.0)):
        with pytest.raises(MCNCLMediaError) as from_a_seek:
            load_audio(path, start=start, end=end)
        with monkeypatch.context() as whole_track, pytest.raises(MCNCLMediaError) as from_the_start:
            whole_track.setattr(inputs_mcn_cl, "SEEK_PREROLL_S", float("inf"))
            load_audio(path, start=start, end=end)
        assert "window" in str(from_a_seek.value) and str(from_a_seek.value) == str(from_the_start.value)


def test_an_audio_window_of_a_container_that_cannot_seek_is_read_from_the_start(media, monkeypatch):
    import contextlib

    from mcn_cl.processing import inputs_mcn_cl

    expected = load_audio(media["long_voice_mp4"], start=4.1, end=5.3)
    opened = inputs_mcn_cl.open_audio_stream

    class CannotSeek:
        def __init__(self, container):
            self.container = container

        def seek(self, *args, **kwargs):
            raise OSError("not seekable")

        def decode(self, *args, **kwargs):
            return self.container.decode(*args, **kwargs)

    @contextlib.contextmanager
    def unseekable(path):
        with opened(path) as (container, stream):
            yield CannotSeek(container), stream

    monkeypatch.setattr(inputs_mcn_cl, "open_audio_stream", unseekable)
    np.testing.assert_array_equal(load_audio(media["long_voice_mp4"], start=4.1, end=5.3), expected)


def test_the_recording_reads_benchmark_runs_and_its_two_reads_agree(tmp_path):
    import sys

    sys.path.insert(
        0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
    )
    import recording_reads

    results, markdown = tmp_path / "recording_reads.json", tmp_path / "BENCHMARKS.md"
    args = ["--minutes", "0.5", "--windows", "3", "--whole_windows", "2", "--results", str(results)]
    assert recording_reads.main([*args, "--write_markdown", str(markdown)]) == 0
    (recording,) = json.loads(results.read_text())["recordings"]
    assert recording["windows_from_a_seek"] == 3 and recording["windows_from_the_start"] == 2
    assert recording["max_abs_sample_difference"] == 0.0
    assert "| 0.5 min |" in markdown.read_text()


# ----------------------------------------------------------------------------------------- audio: normalisation


def test_fit_normalization_standardises_and_is_saved_in_preprocessor_config(media, tmp_path):
    extractor = MCNCLFeatureExtractor(feature_set="eGeMAPSv02")
    clips = [voice(1.0, f0=(100 + 30 * k, 180 + 20 * k), seed=k) for k in range(5)]
    raw = np.stack([extractor.extract(c, SR) for c in clips])
    extractor.fit_normalization(raw)
    assert extractor.do_normalize
    normalised = np.stack([extractor.extract(c, SR) for c in clips])
    np.testing.assert_allclose(normalised.mean(axis=0), 0, atol=1e-4)
    varying = raw.std(axis=0) > 1e-6
    np.testing.assert_allclose(normalised.std(axis=0)[varying], 1, atol=1e-3)

    extractor.save_pretrained(tmp_path)
    with open(tmp_path / "preprocessor_config.json") as f:
        saved = json.load(f)
    assert saved["do_normalize"] is True and saved["feature_set"] == "eGeMAPSv02"
    np.testing.assert_allclose(saved["feature_mean"], raw.mean(axis=0), rtol=1e-5)
    reloaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(reloaded) is MCNCLFeatureExtractor
    np.testing.assert_array_equal(reloaded.extract(clips[2], SR), normalised[2])
    with pytest.raises(ValueError, match="feature_mean and feature_std"):
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02", do_normalize=True)
    with pytest.raises(ValueError, match=r"\[M >= 2, 88\]"):
        extractor.fit_normalization(raw[:, :10])


# --------------------------------------------------------------------------------------------------- video


def test_frames_are_sampled_uniformly_from_the_clip_or_its_window(media):
    frames, n = decode_video_frames(media["mp4"], num_frames=4)
    assert frames.dtype == np.uint8 and frames.shape == (4, 32, 32, 3) and n == 4
    assert frame_levels(frames).tolist() == [2, 7, 12, 17]  # centres of 4 segments of 20 frames
    # window [0.5, 1.0) s holds frames 5..9 (timestamps 0.5 .. 0.9)
    frames, _ = decode_video_frames(media["mp4"], num_frames=5, start=0.5, end=1.0)
    assert frame_levels(frames).tolist() == [5, 6, 7, 8, 9]
    frames, _ = decode_video_frames(media["mp4"], num_frames=2, start=0.5, end=1.0)
    assert frame_levels(frames).tolist() == [6, 8]


@pytest.mark.parametrize("video", ["long_mp4", "long_avi"])
def test_a_window_deep_in_a_long_video_is_reached_by_seeking(media, video):
    """IEMOCAP keeps one AVI per dialogue: an utterance is a window of it (keyframes every 12 frames here)."""
    frames, _ = decode_video_frames(media[video], num_frames=4, start=4.2, end=4.6)
    assert two_digit_index(frames) == [42, 43, 44, 45]
    frames, _ = decode_video_frames(media[video], num_frames=3, start=2.35, end=5.95)  # frames 24..59
    assert two_digit_index(frames) == [30, 42, 54]
    all_frames, n = decode_video_frames(media[video], num_frames=1000)
    assert n == 60 and two_digit_index(all_frames) == list(range(60))


def test_a_window_with_fewer_frames_than_l_is_padded_and_masked(media):
    video_processor = MCNCLVideoProcessor(num_frames=5, size=FRAME_SIZE)
    out = video_processor.process_clip(media["mp4"], start=1.0, end=1.3)  # frames 10, 11, 12
    assert out["frame_mask"].tolist() == [1, 1, 1, 0, 0]
    assert frame_levels(out["pixel_values"][:3]).tolist() == [10, 11, 12]
    assert out["pixel_values"][3:].abs().sum() == 0


def test_video_processor_output_shapes_and_imagenet_normalisation(media):
    video_processor = MCNCLVideoProcessor(num_frames=3, size={"height": 48, "width": 64})
    out = video_processor([media["mp4"], media["avi"]], start=[0.0, 0.5], end=[1.0, 1.5])
    assert out["pixel_values"].shape == (2, 3, 3, 48, 64) and out["pixel_values"].dtype == torch.float32
    assert out["frame_mask"].shape == (2, 3) and out["frame_mask"].dtype == torch.int64
    # segment centres of [0, 1) s (frames 0..9) and of [0.5, 1.5) s (frames 5..14); the avi decodes like the mp4
    assert frame_levels(out["pixel_values"][0]).tolist() == [1, 5, 8]
    assert frame_levels(out["pixel_values"][1]).tolist() == [6, 10, 13]
    flat = video_processor.process_clip(np.full((1, 16, 16, 3), 128, dtype=np.uint8))["pixel_values"][0]
    expected = (128 / 255 - torch.tensor(IMAGENET_DEFAULT_MEAN)) / torch.tensor(IMAGENET_DEFAULT_STD)
    torch.testing.assert_close(flat.mean(dim=(1, 2)), expected.float(), atol=1e-4, rtol=0)


def test_a_frames_array_is_processed_like_the_file(media):
    video_processor = MCNCLVideoProcessor(num_frames=4, size=FRAME_SIZE)
    all_frames, n = decode_video_frames(media["mp4"], num_frames=1000)
    assert n == 20
    from_array = video_processor.process_clip(all_frames)
    from_file = video_processor.process_clip(media["mp4"])
    torch.testing.assert_close(from_array["pixel_values"], from_file["pixel_values"], atol=0, rtol=0)
    with pytest.raises(MCNCLMediaError, match=r"uint8 \[F > 0, H, W, 3\]"):
        video_processor.process_clip(all_frames.astype(np.float32))


def test_left_and_right_half_crops(tokenizer, tmp_path):
    frames = np.zeros((4, 32, 64, 3), dtype=np.uint8)
    frames[:, :, :32] = (255, 0, 0)  # left half red
    frames[:, :, 32:] = (0, 0, 255)  # right half blue
    path = write_mp4(tmp_path / "two_actors.mp4", frames, fps=FPS)

    def rgb(pixel_values):
        mean = torch.tensor(IMAGENET_DEFAULT_MEAN)[:, None, None]
        std = torch.tensor(IMAGENET_DEFAULT_STD)[:, None, None]
        return ((pixel_values * std + mean) * 255).mean(dim=(0, 2, 3))

    left = MCNCLVideoProcessor(num_frames=2, size=FRAME_SIZE, crop_half="left")
    red, blue = (
        rgb(left.process_clip(path)["pixel_values"]),
        rgb(left.process_clip(path, crop_half="right")["pixel_values"]),
    )
    assert red[0] > 200 and red[2] < 40, red
    assert blue[2] > 200 and blue[0] < 40, blue
    # the per-utterance override through the processor ("video_crop")
    processor = make_processor(tokenizer)
    out = processor([{"video": path, "video_crop": "right"}, {"video": path, "video_crop": "left"}])
    assert rgb(out["pixel_values"][0, 0])[2] > 200 and rgb(out["pixel_values"][0, 1])[0] > 200
    with pytest.raises(ValueError, match="crop_half"):
        MCNCLVideoProcessor(crop_half="top")


@pytest.fixture(scope="module")
def portrait():
    """Grace Hopper's portrait (ships with matplotlib), 160 x 128, a frontal face near the top centre."""
    cbook = pytest.importorskip("matplotlib.cbook")
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return np.asarray(image.convert("RGB").resize((128, 160)))


def test_face_crop_uses_opencvs_haar_cascade_and_crops_every_frame_to_one_box(portrait):
    frames = np.stack([portrait] * 3)
    video_processor = MCNCLVideoProcessor(num_frames=3, size=FRAME_SIZE, face_crop=True)
    box = video_processor.face_box(frames)
    assert box is not None
    x0, y0, x1, y1 = box
    # a square around the face (centre of the image, upper half), margin included, inside the frame
    assert 0 <= x0 < 64 < x1 <= 128 and 0 <= y0 < 60 < y1 <= 160
    assert abs((x1 - x0) - (y1 - y0)) <= 1 and 50 <= x1 - x0 <= 128
    cropped = video_processor.process_clip(frames)["pixel_values"]
    manual = MCNCLVideoProcessor(num_frames=3, size=FRAME_SIZE).process_clip(frames[:, y0:y1, x0:x1])
    torch.testing.assert_close(cropped, manual["pixel_values"])
    whole = MCNCLVideoProcessor(num_frames=3, size=FRAME_SIZE).process_clip(frames)["pixel_values"]
    assert (cropped - whole).abs().mean() > 0.1


def test_face_crop_falls_back_to_the_whole_frame_when_no_face_is_found(portrait, caplog):
    canvas = np.zeros((2, 160, 256, 3), dtype=np.uint8)
    canvas[:, :, :128] = portrait  # the face sits in the left half; the right half is empty
    video_processor = MCNCLVideoProcessor(num_frames=2, size=FRAME_SIZE, face_crop=True)
    assert video_processor.face_box(video_processor.crop_to_half(canvas, "left")) is not None
    assert video_processor.face_box(video_processor.crop_to_half(canvas, "right")) is None
    plain = MCNCLVideoProcessor(num_frames=2, size=FRAME_SIZE, crop_half="right")
    with caplog.at_level(logging.INFO):
        out = video_processor.process_clip(canvas, crop_half="right")
    torch.testing.assert_close(out["pixel_values"], plain.process_clip(canvas)["pixel_values"])
    assert out["frame_mask"].tolist() == [1, 1]
    assert "no face found" in caplog.text


def test_a_video_processor_that_detected_faces_still_saves_copies_and_pickles(portrait, tmp_path):
    import copy
    import pickle

    video_processor = MCNCLVideoProcessor(num_frames=1, face_crop=True)
    box = video_processor.face_box(portrait[None])  # the cv2 detector is loaded now
    assert box is not None
    video_processor.save_pretrained(tmp_path)  # to_dict deep-copies the instance
    assert MCNCLVideoProcessor.from_pretrained(tmp_path).face_crop is True
    for clone in (copy.deepcopy(video_processor), pickle.loads(pickle.dumps(video_processor))):
        assert clone.face_box(portrait[None]) == box


# ------------------------------------------------------------------------------------------------- processor


def test_one_conversation_gives_the_padded_tensors_of_the_contract(media, processor):
    out = processor(conversation(media))
    assert isinstance(out, BatchFeature)
    shapes = {key: tuple(value.shape) for key, value in out.items()}
    dtypes = {key: value.dtype for key, value in out.items()}
    t = shapes["input_ids"][2]
    assert shapes == {
        "utterance_mask": (1, 3),
        "speaker_ids": (1, 3),
        "labels": (1, 3),
        "input_ids": (1, 3, t),
        "attention_mask": (1, 3, t),
        "audio_features": (1, 3, 88),
        "pixel_values": (1, 3, NUM_FRAMES, 3, 32, 32),
        "frame_mask": (1, 3, NUM_FRAMES),
        "modality_mask": (1, 3, 3),
    }
    assert dtypes["audio_features"] == dtypes["pixel_values"] == torch.float32
    assert all(dtypes[k] == torch.int64 for k in shapes if k not in ("audio_features", "pixel_values"))
    assert out["speaker_ids"].tolist() == [[0, 1, 0]] and out["labels"].tolist() == [[0, 1, 2]]
    assert out["modality_mask"].min() == 1 and out["frame_mask"].min() == 1
    # the video window applies to the video only: the wav is read whole
    np.testing.assert_array_equal(
        out["audio_features"][0, 0].numpy(), processor.feature_extractor.extract(media["wav"])
    )
    # utterance 1's window [0.2, 1.2) s: frames 2..11, sampled at 4 and 9
    assert frame_levels(out["pixel_values"][0, 1]).tolist() == [4, 9]
    tokens = processor.tokenizer.convert_ids_to_tokens(
        out["input_ids"][0, 1][out["attention_mask"][0, 1] > 0]
    )
    assert tokens == ["[CLS]", "i", "lost", "my", "old", "dog", "[SEP]"]


def test_processor_output_feeds_the_model_directly(media, processor):
    """`processor(conversation)` -> `MCNCLForEmotionRecognition(**inputs)`: tokens through the text tower, the
    88 eGeMAPS functionals, and the frames through the ResNet-101 backbone."""
    torch.manual_seed(0)
    config = make_tiny_config(
        text_config={**make_tiny_config().text_config.to_dict(), "vocab_size": len(processor.tokenizer)},
        audio_feature_size=processor.feature_extractor.feature_size,
        visual_backbone="resnet101",
        visual_feature_size=1000,
        num_frames=NUM_FRAMES,
        id2label={0: "neutral", 1: "joy", 2: "anger"},
    )
    model = MCNCLForEmotionRecognition(config).eval()
    inputs = processor([conversation(media, 3), conversation(media, 2)])
    out = model(**inputs)
    assert out.logits.shape == (2, 3, 3)
    assert torch.isfinite(out.loss) and torch.isfinite(out.logits).all()


def test_a_batch_equals_its_conversations_processed_one_by_one(media, processor):
    long, short = conversation(media, 3), conversation(media, 2)[::-1]
    batch = processor([long, short])
    one, two = processor(long), processor(short)
    assert batch["utterance_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    for key, value in batch.items():
        t = one[key].shape[2] if value.dim() > 2 else None
        torch.testing.assert_close(value[0, :, :t] if t else value[0], one[key][0], atol=0, rtol=0)
        t2 = two[key].shape[2] if value.dim() > 2 else None
        torch.testing.assert_close(value[1, :2, :t2] if t2 else value[1, :2], two[key][0], atol=0, rtol=0)
    padded = {k: v[1, 2] for k, v in batch.items()}
    assert padded["modality_mask"].sum() == 0 and padded["labels"] == -100
    assert padded["audio_features"].abs().sum() == 0 and padded["pixel_values"].abs().sum() == 0
    assert batch["input_ids"][0, :, one["input_ids"].shape[2] :].eq(processor.tokenizer.pad_token_id).all()


def test_processing_is_deterministic(media, processor, tokenizer):
    first = processor(conversation(media))
    again = processor(conversation(media))
    fresh = make_processor(tokenizer)(conversation(media))
    for key in first:
        assert torch.equal(first[key], again[key]) and torch.equal(first[key], fresh[key]), key


def test_numpy_tensors_and_every_audio_form_inside_a_conversation(media, processor):
    samples, _ = sf.read(media["wav"], dtype="float32")
    at_8k = load_audio(media["wav"], target_sampling_rate=8000)
    utterances = [
        {"text": "hi", "audio": media["wav"]},
        {"text": "hi", "audio": media["flac"]},
        {"text": "hi", "audio": samples, "sampling_rate": SR},
        {"text": "hi", "audio": {"array": at_8k, "sampling_rate": 8000}},
        {"text": "hi", "audio": media["mp4"]},
        {"text": "hi", "audio": media["mp4"], "audio_start": 0.5, "audio_end": 1.5},
    ]
    out = processor(utterances, return_tensors="np")
    assert isinstance(out["audio_features"], np.ndarray) and out["audio_features"].shape == (1, 6, 88)
    rows = out["audio_features"][0]
    np.testing.assert_array_equal(rows[1], rows[0])
    np.testing.assert_array_equal(rows[2], rows[0])
    assert relative_difference(rows[3], rows[0]) < 0.05  # band-limited to 4 kHz, then resampled
    assert relative_difference(rows[4], rows[0]) < 0.01
    windowed = processor.feature_extractor.extract(media["wav"], start=0.5, end=1.5)
    assert relative_difference(rows[5], windowed) < 0.01
    assert "pixel_values" not in out  # no utterance has a video


def test_the_video_window_also_cuts_the_audio_read_from_the_same_file(media, processor):
    out = processor([{"audio": media["mp4"], "video": media["mp4"], "start": 0.5, "end": 1.5}])
    windowed = processor.feature_extractor.extract(media["wav"], start=0.5, end=1.5)
    assert relative_difference(out["audio_features"][0, 0].numpy(), windowed) < 0.01


def test_absent_modalities_are_masked_without_error(media, processor):
    out = processor(
        [
            {"text": "hello", "audio": media["wav"]},
            {"text": "stop it", "video": media["mp4"]},
            {"audio": media["wav"], "video": media["mp4"]},
        ]
    )
    assert out["modality_mask"][0].tolist() == [[1, 1, 0], [1, 0, 1], [0, 1, 1]]
    assert out["audio_features"][0, 1].abs().sum() == 0 and out["pixel_values"][0, 0].abs().sum() == 0
    assert out["frame_mask"][0, 0].sum() == 0 and out["attention_mask"][0, 2].sum() > 0  # never empty


def test_speaker_format_prefixes_the_text():
    tokenizer = make_tiny_tokenizer(["ben", ":", "hello"])
    utterance = [{"text": "Hello", "speaker": "Ben"}]
    for speaker_format, expected in ((None, ["hello"]), ("{speaker}: {text}", ["ben", ":", "hello"])):
        processor = MCNCLProcessor(tokenizer, speaker_format=speaker_format)
        ids = processor(utterance)["input_ids"][0, 0]
        assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", *expected, "[SEP]"]
    with pytest.raises(ValueError, match="speaker_format"):
        MCNCLProcessor(tokenizer, speaker_format="{name}: {text}")


def test_call_arguments_are_checked(media, processor):
    with pytest.raises(ValueError, match="on_error must be one of"):
        processor(conversation(media), on_error="ignore")
    with pytest.raises(TypeError, match="unexpected arguments"):
        processor(conversation(media), padding=True)
    with pytest.raises(ValueError, match="needs a tokenizer"):
        MCNCLProcessor()


# ---------------------------------------------------------------------------------------------- bad inputs


def _bad_inputs(m):
    """id -> (override of utterance 1, modality, file named in the message or None, reason pattern)."""
    d = m["dir"]
    nan = m["x"].copy()
    nan[5] = np.nan
    return {
        "missing_audio_file": (
            {"audio": str(d / "nope.wav")},
            "audio",
            str(d / "nope.wav"),
            "file not found",
        ),
        "missing_video_file": (
            {"video": str(d / "nope.mp4")},
            "visual",
            str(d / "nope.mp4"),
            "file not found",
        ),
        "corrupt_wav": ({"audio": m["corrupt_wav"]}, "audio", m["corrupt_wav"], "unreadable audio file"),
        "corrupt_mp4_audio": (
            {"audio": m["corrupt_mp4"]},
            "audio",
            m["corrupt_mp4"],
            "unreadable or corrupt",
        ),
        "corrupt_mp4_video": (
            {"video": m["corrupt_mp4"]},
            "visual",
            m["corrupt_mp4"],
            "unreadable or corrupt",
        ),
        "no_audio_stream": ({"audio": m["silent_mp4"]}, "audio", m["silent_mp4"], "no audio stream"),
        "no_video_stream": ({"video": m["audio_only_mp4"]}, "visual", m["audio_only_mp4"], "no video stream"),
        "zero_length_wav": ({"audio": m["empty_wav"]}, "audio", m["empty_wav"], "zero-length audio"),
        "zero_length_array": (
            {"audio": np.zeros(0, np.float32), "sampling_rate": SR},
            "audio",
            None,
            "zero-len",
        ),
        "audio_window_outside": (
            {"audio_start": 3.0, "audio_end": 4.0},
            "audio",
            m["wav"],
            r"window \(3\.000, 4\.000\) s lies outside the audio \(2\.000 s long\)",
        ),
        "video_window_outside": (
            {"start": 5.0, "end": 6.0},
            "visual",
            m["mp4"],
            r"window \(5\.000, 6\.000\) s lies outside the video",
        ),
        "nan_samples": ({"audio": nan, "sampling_rate": SR}, "audio", None, "non-finite samples"),
        "inf_samples_in_wav": ({"audio": m["inf_wav"]}, "audio", m["inf_wav"], "non-finite samples"),
        "empty_text": ({"text": "  "}, "text", None, "empty text"),
    }


BAD_INPUT_IDS = [
    "missing_audio_file",
    "missing_video_file",
    "corrupt_wav",
    "corrupt_mp4_audio",
    "corrupt_mp4_video",
    "no_audio_stream",
    "no_video_stream",
    "zero_length_wav",
    "zero_length_array",
    "audio_window_outside",
    "video_window_outside",
    "nan_samples",
    "inf_samples_in_wav",
    "empty_text",
]


@pytest.fixture(scope="module")
def clean_dialogue(media, processor):
    return processor.prepare_dialogue(conversation(media), dialogue_id="dia7")


@pytest.mark.parametrize("case", BAD_INPUT_IDS)
def test_bad_input_raises_naming_the_file_and_the_utterance(case, media, processor):
    override, modality, path, reason = _bad_inputs(media)[case]
    utterances = conversation(media)
    utterances[1].update(override)
    with pytest.raises(MCNCLMediaError, match=reason) as info:
        processor.prepare_dialogue(utterances, dialogue_id="dia7")
    err = info.value
    assert err.utterance == 1 and err.dialogue == "dia7" and err.path == path
    assert err.modality == {"visual": "video"}.get(modality, modality)
    assert str(err).startswith(f"dialogue dia7, utterance 1: {err.modality}")
    if path is not None:
        assert f"'{path}'" in str(err)
    with pytest.raises(MCNCLMediaError, match=f"utterance 1: .*{reason}"):
        processor(utterances)  # the default of __call__ is on_error="raise"


@pytest.mark.parametrize("case", BAD_INPUT_IDS)
def test_bad_input_under_on_error_mask_masks_only_that_modality_of_that_utterance(
    case, media, processor, clean_dialogue
):
    override, modality, path, reason = _bad_inputs(media)[case]
    utterances = conversation(media)
    utterances[1].update(override)
    features = processor.prepare_dialogue(utterances, on_error="mask", dialogue_id="dia7")
    m = MODALITY[modality]
    expected_mask = np.ones((3, 3), dtype=np.int64)
    expected_mask[1, m] = 0
    np.testing.assert_array_equal(features["modality_mask"], expected_mask)
    assert len(features["media_errors"]) == 1
    error = features["media_errors"][0]
    assert error["utterance"] == 1 and error["modality"] == modality
    assert "dialogue dia7, utterance 1" in error["reason"] and (path is None or path in error["reason"])
    # the masked entry is zero-filled; everything else is what a clean run gives
    key = {"text": "input_ids", "audio": "audio_features", "visual": "pixel_values"}[modality]
    for other in ("input_ids", "audio_features", "pixel_values", "frame_mask"):
        for i in range(3):
            got, clean = np.asarray(features[other][i]), np.asarray(clean_dialogue[other][i])
            if other in (key, "frame_mask" if key == "pixel_values" else None) and i == 1:
                if other == "input_ids":  # special tokens only, so attention is never empty
                    assert got.tolist() == processor.tokenizer("")["input_ids"]
                else:
                    assert not np.any(got)
            else:
                np.testing.assert_array_equal(got, clean)
    batch = processor(utterances, on_error="mask")
    np.testing.assert_array_equal(batch["modality_mask"][0].numpy(), expected_mask)


def test_every_clip_failing_still_gives_frames_of_the_configured_size(media, processor):
    features = processor.prepare_dialogue([{"video": media["corrupt_mp4"]}], on_error="mask")
    assert features["pixel_values"].shape == (1, NUM_FRAMES, 3, 32, 32)
    assert features["modality_mask"].tolist() == [[0, 0, 0]]


# --------------------------------------------------------------------------------------------- save / load


# ------------------------------------------------------------------------------------ conversation context

CONTEXT_WORDS = ["ann", "bob", ":", "hello", "how", "fine", "thanks", "bye", "one", "two", "three", "four"]
CONTEXT_CONVERSATION = [
    {"text": "hello", "speaker": "Ann"},
    {"text": "how are you", "speaker": "Bob"},
    {"text": "fine thanks", "speaker": "Ann"},
    {"text": "bye", "speaker": "Bob"},
]


def context_tokens(processor, conversation=CONTEXT_CONVERSATION) -> list[list[str]]:
    """The tokens of each utterance of one conversation (padding dropped)."""
    out = processor(conversation)
    rows = zip(out["input_ids"][0].tolist(), out["attention_mask"][0].tolist())
    return [
        processor.tokenizer.convert_ids_to_tokens([t for t, m in zip(ids, mask) if m]) for ids, mask in rows
    ]


def test_text_context_carries_speakers_and_past_and_future_utterances_around_the_marked_target():
    processor = MCNCLProcessor(
        make_tiny_tokenizer(CONTEXT_WORDS),
        speaker_format="{speaker}: {text}",
        text_context_past=2,
        text_context_future=1,
    )
    assert context_tokens(processor) == [
        ["[CLS]", "[SEP]", "ann", ":", "hello", "[SEP]", "bob", ":", "how", "are", "you", "[SEP]"],
        ["[CLS]", "ann", ":", "hello", "[SEP]", "bob", ":", "how", "are", "you", "[SEP]",
         "ann", ":", "fine", "thanks", "[SEP]"],
        ["[CLS]", "ann", ":", "hello", "bob", ":", "how", "are", "you", "[SEP]", "ann", ":", "fine", "thanks",
         "[SEP]", "bob", ":", "bye", "[SEP]"],
        ["[CLS]", "bob", ":", "how", "are", "you", "ann", ":", "fine", "thanks", "[SEP]", "bob", ":", "bye",
         "[SEP]"],
    ]  # fmt: skip


def test_text_context_is_off_by_default():
    tokenizer = make_tiny_tokenizer(CONTEXT_WORDS)
    processor = MCNCLProcessor(tokenizer)
    assert not processor.uses_text_context
    assert context_tokens(processor)[1] == ["[CLS]", "how", "are", "you", "[SEP]"]


def test_past_only_context_never_looks_ahead():
    tokenizer = make_tiny_tokenizer(CONTEXT_WORDS)
    processor = MCNCLProcessor(
        tokenizer, text_context_past=1, text_context_future=2, text_context_past_only=True
    )
    assert processor.context_future == 0
    full = context_tokens(processor)
    assert full[1] == ["[CLS]", "hello", "[SEP]", "how", "are", "you", "[SEP]"]
    # each utterance's tokens equal those computed from the conversation up to that utterance
    for i in range(len(CONTEXT_CONVERSATION)):
        assert context_tokens(processor, CONTEXT_CONVERSATION[: i + 1])[i] == full[i]


def test_truncation_cuts_the_farthest_context_first_and_keeps_the_target():
    conversation = [
        {"text": "one two three four"},
        {"text": "one two"},
        {"text": "how are you"},
        {"text": "fine thanks bye"},
    ]
    tokenizer = make_tiny_tokenizer(CONTEXT_WORDS)
    processor = MCNCLProcessor(tokenizer, max_text_length=11, text_context_past=2, text_context_future=1)
    # 11 = 4 special tokens + 3 target + 4 context: the nearest past (2 tokens) and future (2 of 3, its start),
    # nothing of the farthest past utterance
    assert context_tokens(processor, conversation)[2] == [
        "[CLS]", "one", "two", "[SEP]", "how", "are", "you", "[SEP]", "fine", "thanks", "[SEP]"
    ]  # fmt: skip
    processor = MCNCLProcessor(tokenizer, max_text_length=10, text_context_past=2)
    # past only: 3 special tokens, 3 target, 4 context: the nearest utterance whole, the end of the farther one
    assert context_tokens(processor, conversation)[2] == [
        "[CLS]", "three", "four", "one", "two", "[SEP]", "how", "are", "you", "[SEP]"
    ]  # fmt: skip
    # a target longer than the budget is truncated itself, with no context left
    processor = MCNCLProcessor(tokenizer, max_text_length=5, text_context_past=2)
    assert context_tokens(processor, conversation)[0] == ["[CLS]", "[SEP]", "one", "two", "[SEP]"]


def test_text_context_options_are_checked():
    tokenizer = make_tiny_tokenizer(CONTEXT_WORDS)
    with pytest.raises(ValueError, match="text_context_past"):
        MCNCLProcessor(tokenizer, text_context_past=-1)
    with pytest.raises(ValueError, match="max_text_length"):
        MCNCLProcessor(tokenizer, text_context_past=1, max_text_length=4)


def test_text_context_options_survive_save_and_load(tmp_path):
    processor = MCNCLProcessor(
        make_tiny_tokenizer(CONTEXT_WORDS),
        speaker_format="{speaker}: {text}",
        text_context_past=3,
        text_context_future=1,
        text_context_past_only=True,
    )
    processor.save_pretrained(tmp_path)
    with open(tmp_path / "processor_config.json") as f:
        saved = json.load(f)
    assert (saved["text_context_past"], saved["text_context_future"], saved["text_context_past_only"]) == (
        3,
        1,
        True,
    )
    for loaded in (MCNCLProcessor.from_pretrained(tmp_path), AutoProcessor.from_pretrained(tmp_path)):
        assert (loaded.text_context_past, loaded.text_context_future, loaded.text_context_past_only) == (
            3,
            1,
            True,
        )
        assert context_tokens(loaded) == context_tokens(processor)


def test_save_and_load_round_trip_with_the_auto_classes(media, tokenizer, tmp_path):
    processor = MCNCLProcessor(
        tokenizer,
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02"),
        MCNCLVideoProcessor(num_frames=3, size=FRAME_SIZE, crop_half="left", face_margin=0.3),
        speaker_format="{speaker}: {text}",
        max_text_length=12,
    )
    processor.feature_extractor.fit_normalization(
        np.stack([processor.feature_extractor.extract(voice(1.0, seed=k), SR) for k in range(3)])
    )
    processor.save_pretrained(tmp_path)
    assert {"processor_config.json", "tokenizer.json", "processing_mcn_cl.py"} <= set(os.listdir(tmp_path))
    assert {"feature_extraction_mcn_cl.py", "inputs_mcn_cl.py", "video_processing_mcn_cl.py"} <= set(
        os.listdir(tmp_path)
    )
    with open(tmp_path / "processor_config.json") as f:
        saved = json.load(f)
    assert saved["speaker_format"] == "{speaker}: {text}" and saved["max_text_length"] == 12
    assert saved["feature_extractor"]["do_normalize"] is True
    assert len(saved["feature_extractor"]["feature_std"]) == 88 and "_smile" not in saved["feature_extractor"]
    assert saved["video_processor"]["crop_half"] == "left" and saved["video_processor"]["num_frames"] == 3

    expected = processor(conversation(media))
    for loaded in (MCNCLProcessor.from_pretrained(tmp_path), AutoProcessor.from_pretrained(tmp_path)):
        assert type(loaded) is MCNCLProcessor
        assert type(loaded.feature_extractor) is MCNCLFeatureExtractor
        assert type(loaded.video_processor) is MCNCLVideoProcessor
        assert loaded.feature_extractor.to_dict() == processor.feature_extractor.to_dict()
        assert loaded.video_processor.to_dict() == processor.video_processor.to_dict()
        got = loaded(conversation(media))
        for key in expected:
            assert torch.equal(got[key], expected[key]), key
    assert type(AutoVideoProcessor.from_pretrained(tmp_path)) is MCNCLVideoProcessor
    assert mcn_cl.MCNCLProcessor is MCNCLProcessor


REMOTE_PROCESSOR_SCRIPT = """
import json
import sys

import numpy as np
import torch
from transformers import AutoProcessor

folder, conversation_path, expected_path = sys.argv[1:4]
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
for component in (processor, processor.feature_extractor, processor.video_processor):
    assert type(component).__module__.startswith("transformers_modules"), type(component).__module__
with open(conversation_path) as f:
    conversation = json.load(f)
out = processor(conversation)
expected = torch.load(expected_path)
assert sorted(out) == sorted(expected), (sorted(out), sorted(expected))
for key in expected:
    assert torch.equal(out[key], expected[key]), key

# bad media raise the processor's documented error, and on_error="mask" masks them here too
conversation[1]["audio"] = conversation[1]["audio"] + ".missing.wav"
try:
    processor(conversation)
except ValueError as err:
    assert type(err).__name__ == "MCNCLMediaError" and "utterance 1" in str(err), repr(err)
else:
    raise AssertionError("a missing file did not raise")
masked = processor(conversation, on_error="mask")
assert masked["modality_mask"][0, 1].tolist() == [1, 0, 1], masked["modality_mask"]
print("remote processor ok")
"""


def test_processor_loads_with_trust_remote_code_without_the_package(media, tokenizer, tmp_path):
    processor = make_processor(tokenizer, crop_half="right")
    folder = tmp_path / "checkpoint"
    processor.save_pretrained(folder)
    utterances = [{k: v for k, v in u.items()} for u in conversation(media)]
    with open(tmp_path / "conversation.json", "w") as f:
        json.dump(utterances, f)
    torch.save(dict(processor(utterances)), tmp_path / "expected.pt")
    result = run_without_mcn_cl(
        REMOTE_PROCESSOR_SCRIPT,
        folder,
        tmp_path / "conversation.json",
        tmp_path / "expected.pt",
        workdir=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "remote processor ok" in result.stdout
