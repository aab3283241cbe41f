"""MCIHN under the package's error contract (issue 18 item 4): the processor, the labels, the model inputs and the
pipeline raise `MCNCLMediaError` (media; masked under `on_error="mask"`) or `MCNCLInputError` (structure) naming
the utterance and the field; nothing else escapes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from _fixtures_mcihn import make_mcihn_config
from conftest import TINY_TEXT_CONFIG, make_tiny_tokenizer
from transformers import CLIPImageProcessor, Wav2Vec2FeatureExtractor, pipeline

from mcn_cl import MCIHNForMultimodalSentiment, MCIHNProcessor, MCNCLInputError, MCNCLMediaError
from mcn_cl.pipeline_mcihn import TASK
from mcn_cl.processing.padding_mcihn import pad_utterances

WAV2VEC2 = dict(
    model_type="wav2vec2", hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
    conv_dim=[8, 8], conv_kernel=[10, 3], conv_stride=[5, 2], num_feat_extract_layers=2, num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2, feat_extract_norm="group", do_stable_layer_norm=False,
)  # fmt: skip
CLIP = dict(model_type="clip_vision_model", hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, image_size=32, patch_size=16)  # fmt: skip


def make_pair(towers: bool = False, num_labels: int = 1):
    tokenizer = make_tiny_tokenizer()
    processor = MCIHNProcessor(
        tokenizer,
        Wav2Vec2FeatureExtractor(return_attention_mask=True),
        CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        num_frames=2,
    )
    extra = dict(audio_config=WAV2VEC2, visual_config=CLIP) if towers else {}
    torch.manual_seed(0)
    config = make_mcihn_config(text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(tokenizer)),
                               num_labels=num_labels, **extra)  # fmt: skip
    model = MCIHNForMultimodalSentiment(config).eval()
    return model, processor.configure_for_model(config)


@pytest.mark.parametrize(
    "label, match",
    [
        ("", "label: '' is not a number"),
        (float("nan"), "label: nan is not finite"),
        (99.0, r"label: score 99.0 outside the model's sentiment range \[-3, 3\]"),
        ("joy", "label: 'joy' is not a number"),
        (True, "label: True is not a number"),
    ],
)
def test_bad_regression_labels_are_input_errors_naming_utterance_and_field(label, match):
    _, processor = make_pair()
    batch = [{"text": "hello there", "label": 1.0}, {"text": "we won", "label": label}]
    for on_error in ("raise", "mask"):  # structural: never masked
        with pytest.raises(MCNCLInputError, match="utterance 1: " + match):
            processor(batch, on_error=on_error)


def test_classification_labels_must_be_whole_class_ids_of_the_model():
    _, processor = make_pair(num_labels=3)
    with pytest.raises(MCNCLInputError, match="utterance 0: label: 2.7 is not a whole class id"):
        processor({"text": "hi", "label": 2.7})
    with pytest.raises(MCNCLInputError, match=r"label: class id 99 outside \[0, 3\)"):
        processor({"text": "hi", "label": 99})
    assert processor([{"text": "hi", "label": 2}, {"text": "no", "label": -1}])["labels"].tolist() == [
        2,
        -100,
    ]
    # the collator's path (rows padded as they are): the same check
    with pytest.raises(MCNCLInputError, match="utterance 1: label"):
        pad_utterances([{"input_ids": [2, 3], "label": 1.0}, {"input_ids": [2, 3], "label": ""}])


def test_feature_sequences_of_the_wrong_size_or_no_frames_are_media_errors_or_masked(caplog):
    model, processor = make_pair()
    wrong = {"text": "hello there", "audio_features": np.zeros((4, 3)), "visual_features": np.zeros((0, 7))}
    with pytest.raises(MCNCLMediaError, match="utterance 0: audio array input: audio_features frames have 3"):
        processor(wrong)
    with caplog.at_level(logging.WARNING):
        batch = processor([wrong, {"text": "we won", "audio_features": np.ones((2, 5))}], on_error="mask")
    assert batch["modality_mask"].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert "masking audio" in caplog.text and "masking visual" in caplog.text
    with torch.no_grad():
        assert torch.isfinite(model(**batch).logits).all()
    # rows padded as they are (collator path): ragged frames name the utterance and the field
    with pytest.raises(MCNCLInputError, match=r"utterance 1: audio_features: frames of shape \[3\]"):
        pad_utterances([{"audio_features": np.ones((2, 5))}, {"audio_features": np.ones((2, 3))}])


def test_media_for_missing_towers_and_zero_height_frames_are_masked_not_crashes(caplog):
    model, processor = make_pair(towers=False)
    clip = np.full((3, 32, 32, 3), 128, np.uint8)
    utterance = {
        "text": "hello there",
        "audio": np.zeros(16000, np.float32),
        "sampling_rate": 16000,
        "video": clip,
    }
    with pytest.raises(
        MCNCLMediaError, match="utterance 0: audio array input: this model has no speech tower"
    ):
        processor(utterance)
    batch = processor(utterance, on_error="mask")
    assert batch["modality_mask"].tolist() == [[1, 0, 0]] and "input_values" not in batch
    with torch.no_grad():
        assert torch.isfinite(model(**batch).logits).all()
    model, processor = make_pair(towers=True)
    flat = {"text": "hi", "video": np.zeros((2, 0, 32, 3), np.uint8)}
    with pytest.raises(MCNCLMediaError, match="utterance 0: video array input: a frames array must be uint8"):
        processor(flat)
    assert processor(flat, on_error="mask")["modality_mask"].tolist() == [[1, 0, 0]]


def test_audio_under_the_receptive_field_is_handled_the_same_alone_or_batched():
    model, processor = make_pair(towers=True)
    # kernels 10, 3 and strides 5, 2: one output frame needs (3 - 1) * 5 + 10 samples
    assert processor.min_audio_samples == 20
    short = {"text": "hi", "audio": np.zeros(10, np.float32), "sampling_rate": 16000}  # 0.6 ms
    longer = {"text": "we won", "audio": np.ones(4000, np.float32), "sampling_rate": 16000}
    for batch in ([short], [short, longer], [longer, short]):
        index = batch.index(short)
        with pytest.raises(MCNCLMediaError, match=f"utterance {index}: audio array input: 0.6 ms of audio"):
            processor(batch)
        masked = processor(batch, on_error="mask")
        assert masked["modality_mask"][index].tolist() == [1, 0, 0]
        with torch.no_grad():
            assert torch.isfinite(model(**masked).logits).all()


def test_structurally_invalid_calls_are_input_errors():
    model, processor = make_pair()
    analyser = pipeline(TASK, model=model, processor=processor, device="cpu")
    for bad, match in ((None, "utterances: give an utterance"), ([], "the list of utterances is empty"),
                       ("hello", "expected a dict or a list of dicts"), ([{"text": "hi"}, 3], "utterance 1: expected a dict")):  # fmt: skip
        with pytest.raises(MCNCLInputError, match=match):
            analyser(bad)
        with pytest.raises(MCNCLInputError, match=match):
            processor(bad, on_error="mask")
    with pytest.raises(MCNCLInputError, match="no usable modality"):
        analyser({"text": "   "}, on_error="mask")
    with pytest.raises(MCNCLInputError, match="text_features: text and text_features both given"):
        processor({"text": "hi", "text_features": np.ones((2, 24))})
