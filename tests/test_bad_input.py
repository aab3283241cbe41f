"""Regression tests of issue 10, items 7-13: bad fields of a conversation get a clear error naming the utterance
and the field (`MCNCLInputError` for structural fields, `MCNCLMediaError` for media), or are masked with a
warning under `on_error="mask"`; nothing else escapes and nothing is silently wrong."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from _fuzz_strategies import SR, make_media_pool, make_processor

from mcn_cl.processing import MCNCLInputError, MCNCLMediaError, load_audio
from mcn_cl.processing import video_processing_mcn_cl as video_module


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return make_media_pool(tmp_path_factory.mktemp("bad_input_media"))


@pytest.fixture(scope="module")
def processor():
    return make_processor()


def voice(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 200 * t) * (0.5 - 0.5 * np.cos(2 * np.pi * 4 * t))).astype(np.float32)


def assert_masked(processor, utterance: dict, modality: int, reason: str) -> None:
    """`utterance` (second of two) raises `MCNCLMediaError` naming utterance 1 and `reason` by default, and
    under `on_error="mask"` only that modality of it is masked."""
    conversation = [{"text": "hello there", "audio": voice(), "sampling_rate": SR}, utterance]
    with pytest.raises(MCNCLMediaError, match=f"dialogue d, utterance 1: .*{reason}"):
        processor.prepare_dialogue(conversation, dialogue_id="d")
    features = processor.prepare_dialogue(conversation, on_error="mask", dialogue_id="d")
    assert features["modality_mask"][1, modality] == 0
    assert features["modality_mask"][0].tolist()[:2] == [1, 1]
    assert [e["utterance"] for e in features["media_errors"]] == [1]


# ------------------------------------------------------------------------------------- 7. the sampling rate


@pytest.mark.parametrize("rate", [-16000, 0, "16000", float("inf"), float("nan"), 16, 1, True, 16000.5, None])
def test_7_sampling_rate_must_be_a_sane_finite_number(processor, rate):
    utterance = {"text": "we won", "audio": voice(), "sampling_rate": rate}
    assert_masked(processor, utterance, 1, "sampling_rate")
    with pytest.raises(MCNCLMediaError, match="sampling_rate"):
        load_audio({"array": voice(), "sampling_rate": rate})


def test_7_a_whole_float_rate_and_the_extremes_of_the_range_are_accepted():
    x = voice()
    np.testing.assert_array_equal(load_audio(x, 16000.0), load_audio(x, 16000))
    assert load_audio(x[:1000], 1000).size == 16000
    assert load_audio(x, 384000).size == round(x.size * 16000 / 384000)


# ---------------------------------------------------------------------------------------------- 8. windows


@pytest.mark.parametrize("field", ["start", "end", "audio_start", "audio_end"])
@pytest.mark.parametrize("value", ["0.5", [0.1], {"s": 1}, True])
def test_8_window_bounds_that_are_not_numbers_are_media_errors_naming_the_field(
    processor, pool, field, value
):
    modality = 1 if field.startswith("audio") else 2
    utterance = {"text": "we won", "audio": pool["wav"], "video": pool["mp4"], field: value}
    assert_masked(processor, utterance, modality, f"{field} must be a number of seconds")


# ----------------------------------------------------------------------------------------------- 9. labels


@pytest.mark.parametrize("label", ["joy", float("nan"), float("inf"), 1e19, 2.7, -5, True, [1], 2**31])
@pytest.mark.parametrize("on_error", ["raise", "mask"])
def test_9_a_label_that_is_not_a_class_id_is_an_input_error_naming_the_utterance(processor, label, on_error):
    conversation = [{"text": "hello there", "label": 1}, {"text": "we won", "label": label}]
    with pytest.raises(MCNCLInputError, match="dialogue d, utterance 1: label: ") as info:
        processor.prepare_dialogue(conversation, on_error=on_error, dialogue_id="d")
    assert info.value.field == "label" and info.value.utterance == 1 and info.value.dialogue == "d"
    assert isinstance(info.value, ValueError)


def test_9_valid_labels_and_the_unlabelled_markers(processor):
    labels = [0, 2.0, np.int64(3), None, -1, -100]
    features = processor.prepare_dialogue([{"text": "we won", "label": y} for y in labels])
    assert features["labels"] == [0, 2, 3, -100, -100, -100]


def test_9_pad_dialogues_checks_labels_and_speaker_ids(processor):
    row = {"labels": [0, 1], "speaker_ids": [0, 1], "text_features": np.zeros((2, 4), np.float32)}
    assert processor.pad_dialogues([row])["labels"].tolist() == [[0, 1]]
    with pytest.raises(MCNCLInputError, match="utterance 1: label"):
        processor.pad_dialogues([dict(row, labels=[0, -5])])
    with pytest.raises(MCNCLInputError, match="utterance 0: speaker_ids: speaker id -1"):
        processor.pad_dialogues([dict(row, speaker_ids=[-1, 0])])


# ---------------------------------------------------------------------------------- 10. structure and keys


@pytest.mark.parametrize(
    "conversation, pattern",
    [
        ([{"text": "a"}, 0], "utterance 1: utterance: expected an utterance dict, got int"),
        ([], "no conversation|at least one utterance"),
        ("hello", "got str"),
        (None, "got NoneType"),
        (5, "got int"),
    ],
)
def test_10_a_structurally_invalid_conversation_is_an_input_error(processor, conversation, pattern):
    for on_error in ("raise", "mask"):
        with pytest.raises(MCNCLInputError, match=pattern):
            processor(conversation, on_error=on_error)


@pytest.mark.parametrize(
    "frames",
    [np.zeros((0, 8, 8, 3), np.uint8), np.zeros((2, 0, 8, 3), np.uint8), np.zeros((2, 8, 0, 3), np.uint8)],
)
def test_10_a_frames_array_with_a_zero_size_dimension_is_a_media_error(processor, frames):
    assert_masked(processor, {"text": "we won", "video": frames}, 2, r"uint8 \[F > 0, H, W, 3\]")


def test_10_a_half_crop_of_a_one_pixel_wide_frame_is_a_media_error(processor):
    frames = np.zeros((2, 8, 1, 3), np.uint8)
    assert_masked(
        processor, {"text": "we won", "video": frames, "video_crop": "left"}, 2, "after the left crop"
    )


@pytest.mark.parametrize("crop", ["top", 3, ["left"]])
def test_10_an_invalid_video_crop_is_a_media_error_and_is_masked(processor, pool, crop):
    assert_masked(
        processor, {"text": "we won", "video": pool["mp4"], "video_crop": crop}, 2, "video_crop must be"
    )


def test_10_unknown_keys_are_named_in_a_warning(processor, caplog):
    conversation = [{"text": "we won", "Audio": "a.wav"}, {"text": "hello there", "Audio": 1, "lable": 2}]
    with caplog.at_level(logging.WARNING):
        features = processor.prepare_dialogue(conversation, dialogue_id="d")
    warnings = [r.getMessage() for r in caplog.records if "unknown utterance key" in r.getMessage()]
    assert len(warnings) == 1
    assert "'Audio' (utterance 0, 1)" in warnings[0] and "'lable' (utterance 1)" in warnings[0]
    assert features["modality_mask"].tolist() == [[1, 0, 0], [1, 0, 0]]


def test_10_masking_is_reported_in_one_warning_per_dialogue(processor, pool, caplog):
    conversation = [{"text": "we won", "audio": pool["missing"]}, {"text": " ", "video": pool["corrupt_mp4"]}]
    with caplog.at_level(logging.WARNING):
        processor.prepare_dialogue(conversation, on_error="mask", dialogue_id="d")
    warnings = [r.getMessage() for r in caplog.records if "masked" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("masked 3 input(s) of dialogue d")


# -------------------------------------------------------------------------------- 11. wide integer PCM


def test_11_int64_pcm_and_a_list_of_ints_are_read_as_16_bit_pcm_with_a_warning(processor, caplog):
    x16 = (voice() * 20000).astype(np.int16)
    reference = load_audio(x16, SR)
    assert np.abs(reference).max() > 0.1
    with caplog.at_level(logging.WARNING):
        from_int64 = load_audio(x16.astype(np.int64), SR)
        from_list = load_audio(x16.tolist(), SR)
    np.testing.assert_array_equal(from_int64, reference)
    np.testing.assert_array_equal(from_list, reference)
    assert any("read as 16-bit PCM" in r.getMessage() for r in caplog.records)
    extract = processor.feature_extractor.extract
    silence = extract(np.zeros(x16.size, np.float32), SR)
    features = extract(x16.tolist(), SR)
    np.testing.assert_allclose(features, extract(x16, SR))
    assert not np.allclose(features, silence)


def test_11_int64_pcm_wider_than_16_bit_and_beyond_32_bit():
    x24 = np.round(voice() * 2**23).astype(np.int64)
    np.testing.assert_allclose(load_audio(x24, SR), voice(), atol=1e-6)
    with pytest.raises(MCNCLMediaError, match="exceed 32-bit PCM"):
        load_audio(np.array([2**40, -(2**40)], dtype=np.int64), SR)


def test_11_stereo_integer_pcm_is_scaled_before_the_channels_are_mixed():
    x16 = (voice() * 20000).astype(np.int16)
    stereo = np.stack([x16, x16], axis=1)
    np.testing.assert_allclose(load_audio(stereo, SR), load_audio(x16, SR), atol=1e-6)


# ----------------------------------------------------------------------------------- 12. bounded decoding


class _CountedFrame:
    """A stand-in for a decoded frame that counts how many are alive."""

    alive = 0
    peak = 0

    def __init__(self, time: float):
        self.time = time
        type(self).alive += 1
        type(self).peak = max(type(self).peak, type(self).alive)

    def __del__(self):
        type(self).alive -= 1


def test_12_frame_selection_holds_at_most_l_frames_whatever_the_window():
    _CountedFrame.alive = _CountedFrame.peak = 0
    indices = video_module.sample_frame_indices(5000, 4)
    kept, n = video_module.select_frames((_CountedFrame(k / 25) for k in range(6000)), 0.0, 200.0, indices)
    assert n == 5000 and [round(f.time * 25) for f in kept] == indices.tolist()
    assert (
        _CountedFrame.peak <= len(indices) + 2
    )  # the kept frames, the one looked at and the generator's next


def _reference_decode(path: str, num_frames: int, start=None, end=None) -> np.ndarray:
    """The decoding of before issue 10: every frame of the window kept, then L of them sampled."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        t0, t1 = start or 0.0, float("inf") if end is None else end
        if t0 > 0:
            container.seek(int(t0 / stream.time_base), stream=stream, backward=True, any_frame=False)
        kept = []
        for frame in container.decode(stream):
            t = frame.time or 0.0
            if t >= t1:
                break
            if t >= t0 - 1e-6:
                kept.append(frame)
        indices = video_module.sample_frame_indices(len(kept), num_frames)
        return np.stack([kept[i].to_ndarray(format="rgb24") for i in indices])


@pytest.mark.parametrize("ext", ["mp4", "avi"])
def test_12_decoding_keeps_only_the_sampled_frames_and_gives_the_frames_of_a_full_decode(
    tmp_path, ext, monkeypatch
):
    from mcn_cl.demo import write_mp4

    frames = np.random.default_rng(0).integers(0, 255, (60, 32, 32, 3), dtype=np.uint8)
    path = write_mp4(tmp_path / f"clip.{ext}", frames, fps=10, audio=np.zeros(6 * SR, np.float32))
    walks = []
    select = video_module.select_frames

    def spy(frames, t0, t1, indices):
        kept, n = select(frames, t0, t1, indices)
        walks.append((len(kept), n))
        return kept, n

    monkeypatch.setattr(video_module, "select_frames", spy)
    for num_frames, start, end in [
        (4, None, None),
        (16, None, None),
        (100, None, None),
        (4, 1.0, 2.5),
        (7, 4.0, None),
    ]:
        walks.clear()
        got, n = video_module.decode_video_frames(path, num_frames, start, end)
        np.testing.assert_array_equal(got, _reference_decode(path, num_frames, start, end))
        # one decoding pass (the packet count was right), holding no more than L frames
        assert len(walks) == 1 and walks[0][0] == n <= num_frames


# --------------------------------------------------------------------------------------------- 13. exports


def test_13_the_errors_are_importable_from_the_package():
    import mcn_cl
    from mcn_cl import MCNCLInputError as InputError
    from mcn_cl import MCNCLMediaError as MediaError

    assert MediaError is MCNCLMediaError and InputError is MCNCLInputError
    assert {"MCNCLMediaError", "MCNCLInputError"} <= set(mcn_cl.__all__)
    assert issubclass(InputError, ValueError) and issubclass(MediaError, ValueError)


def test_11_float_samples_beyond_full_scale_are_clipped_with_a_warning_not_wrapped(processor, caplog):
    """openSMILE casts samples * 32768 to int16: a float waveform of integer PCM values would wrap around."""
    x = voice()
    extract = processor.feature_extractor.extract
    with caplog.at_level(logging.WARNING):
        loud = extract(x * 20000, SR)
    assert any("exceed [-1, 1]: clipped" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(loud, extract(np.clip(x * 20000, -1.0, 32767 / 32768), SR), rtol=1e-5)


def test_7_audio_too_short_to_resample_is_a_media_error():
    """Found by the fuzz run: one sample at 384 kHz is no sample at 16 kHz."""
    with pytest.raises(MCNCLMediaError, match="zero-length audio once resampled"):
        load_audio(np.ones(1, np.float32) * 0.1, 384000)
