"""MCIHNProcessor: BERT tokenizer + Wav2Vec2FeatureExtractor + CLIPImageProcessor over MCN-CL's media reading."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from _fixtures_datasets import write_video, write_wav
from conftest import make_tiny_tokenizer
from transformers import AutoProcessor, CLIPImageProcessor, Wav2Vec2FeatureExtractor

from mcn_cl import MCIHNConfig, MCIHNProcessor
from mcn_cl.processing import MCNCLMediaError


def make_processor(**kwargs):
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    feature_extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True)
    return MCIHNProcessor(make_tiny_tokenizer(), feature_extractor, image_processor, num_frames=3, **kwargs)


def test_clip_gives_token_waveform_and_frame_sequences_with_masks(tmp_path):
    clip = write_video(str(tmp_path / "1.mp4"), seconds=0.4, fps=10)
    processor = make_processor()
    batch = processor(
        [{"text": "where were you", "audio": clip, "video": clip, "label": 1.2}, {"text": "no", "audio": clip, "video": clip, "start": 0.0, "end": 0.2, "label": -0.4}]
    )  # fmt: skip
    assert batch["input_ids"].shape[0] == 2 and batch["attention_mask"].sum(1).tolist() == [5, 3]
    # 16 kHz waveforms: 0.4 s and the 0.2 s window of the same file
    assert batch["audio_attention_mask"].sum(1).tolist() == pytest.approx([6400, 3200], abs=200)
    assert batch["pixel_values"].shape == (2, 3, 3, 32, 32) and batch["frame_mask"].sum(1).tolist() == [3, 2]
    assert batch["modality_mask"].tolist() == [[1, 1, 1], [1, 1, 1]]
    torch.testing.assert_close(batch["labels"], torch.tensor([1.2, -0.4]))
    wave = batch["input_values"][0, : int(batch["audio_attention_mask"][0].sum())]
    assert abs(float(wave.mean())) < 1e-3 and abs(float(wave.std()) - 1) < 1e-2  # Wav2Vec2 normalisation


def test_wav_array_and_frames_array_inputs(tmp_path):
    processor = make_processor()
    wav = write_wav(str(tmp_path / "a.wav"), seconds=0.25, sample_rate=8000)
    frames = np.random.default_rng(0).integers(0, 255, size=(7, 40, 48, 3), dtype=np.uint8)
    batch = processor(
        [{"audio": wav, "video": frames}, {"audio": np.zeros(8000, np.float32), "sampling_rate": 16000}]
    )
    assert batch["audio_attention_mask"].sum(1).tolist() == [4000, 8000]  # resampled to 16 kHz
    assert batch["frame_mask"].tolist() == [[1, 1, 1], [0, 0, 0]]
    assert batch["modality_mask"].tolist() == [[0, 1, 1], [0, 1, 0]]


def test_precomputed_feature_sequences_are_passed_through_and_padded():
    processor = make_processor()
    a, b = np.ones((4, 5), np.float32), 2 * np.ones((2, 5), np.float32)
    batch = processor(
        [{"audio_features": a, "text": "hi"}, {"audio_features": b, "visual_features": np.ones((3, 7))}]
    )
    assert batch["audio_features"].shape == (2, 4, 5) and batch["audio_mask"].tolist() == [
        [1] * 4,
        [1, 1, 0, 0],
    ]
    assert batch["visual_mask"].tolist() == [[0, 0, 0], [1, 1, 1]]
    assert batch["modality_mask"].tolist() == [[1, 1, 0], [0, 1, 1]]


def test_missing_clip_raises_naming_utterance_and_file_or_is_masked(tmp_path, caplog):
    processor = make_processor()
    missing = str(tmp_path / "gone.mp4")
    utterances = [{"text": "hi"}, {"text": "no", "audio": missing, "video": missing}]
    with pytest.raises(MCNCLMediaError, match=r"utterance 1: audio '.*gone.mp4': file not found"):
        processor(utterances)
    with caplog.at_level(logging.WARNING):
        batch = processor(utterances, on_error="mask")
    assert batch["modality_mask"].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert "masking audio" in caplog.text and "masking visual" in caplog.text
    with pytest.raises(ValueError, match="utterance 0: no usable modality"):
        processor([{"audio": missing}], on_error="mask")
    with pytest.raises(MCNCLMediaError, match="audio_features holds NaN"):
        processor([{"audio_features": np.full((2, 5), np.nan)}])


def test_save_and_auto_load_round_trip(tmp_path):
    MCIHNConfig().save_pretrained(tmp_path)  # AutoProcessor resolves the processor class from the config
    processor = make_processor(max_text_length=7, max_audio_seconds=3.0)
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is MCIHNProcessor
    assert (loaded.num_frames, loaded.max_text_length, loaded.max_audio_seconds) == (3, 7, 3.0)
    assert isinstance(loaded.feature_extractor, Wav2Vec2FeatureExtractor)
    assert isinstance(loaded.image_processor, CLIPImageProcessor)
    assert loaded.image_processor.crop_size == {"height": 32, "width": 32}
    utterance = {"text": "where were you", "audio_features": np.ones((2, 5))}
    for key, value in processor(utterance).items():
        torch.testing.assert_close(loaded(utterance)[key], value)


@pytest.mark.parametrize("kind", ["mcn_cl_extractor", "mcihn_processor"])
def test_the_opensmile_engine_is_built_on_use_and_never_serialised(kind):
    """Both openSMILE users (`LazyOpenSMILE`): the engine is rebuilt after pickling (`datasets.map` workers) and is
    never part of the saved dictionary; the rebuilt one gives the same features."""
    import pickle

    from mcn_cl.processing import MCNCLFeatureExtractor

    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    if kind == "mcn_cl_extractor":
        owner = MCNCLFeatureExtractor(feature_set="eGeMAPSv02")
        extract = lambda o: o.extract(samples, 16000)  # noqa: E731
        level = "Functionals"
    else:
        owner = make_processor(audio_input="opensmile", opensmile_feature_set="eGeMAPSv02")
        extract = lambda o: o._opensmile_frames(samples, 16000)  # noqa: E731
        level = "LowLevelDescriptors"
    assert owner._smile is None and owner.smile_settings() == ("eGeMAPSv02", level)
    before = extract(owner)
    assert owner._smile is not None and owner.smile is owner._smile
    assert "_smile" not in owner.to_dict()
    copy = pickle.loads(pickle.dumps(owner))
    assert copy._smile is None
    np.testing.assert_allclose(extract(copy), before, rtol=1e-6)
    assert copy._smile is not None and owner._smile is not None
