"""Issue 22 items 2-4, 6: input standardisation that keeps scale information, batch-independent group-norm speech
towers, zero-frame modalities masked, one text input per batch, and what the code credits to the paper."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from _fixtures_mcihn import TEXT_SIZE, make_mcihn_config, make_utterances

from mcn_cl import MCIHNForMultimodalSentiment
from mcn_cl.processing.padding_mcihn import pad_utterances

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def features_model(**overrides):
    torch.manual_seed(0)
    return MCIHNForMultimodalSentiment(
        make_mcihn_config(use_text_encoder=False, text_feature_size=TEXT_SIZE, **overrides)
    )


def test_codes_keep_the_scale_and_offset_of_each_frame(tmp_path):
    model = features_model()
    rows = make_utterances(8, seed=0)
    model.train()
    model(**pad_utterances(rows))  # statistics of the training frames
    model.eval()
    row = make_utterances(1, seed=5)[0]
    rescaled = {**row, "audio_features": 3 * row["audio_features"] - 7}
    with torch.no_grad():
        codes = model(**pad_utterances([row])).audio_codes
        codes_rescaled = model(**pad_utterances([rescaled])).audio_codes
    # a per-frame LayerNorm made these equal to 1e-6: the rescaled frames are a different input
    assert (codes - codes_rescaled).abs().max() > 0.1


def test_standardisation_statistics_come_from_valid_training_frames_and_are_saved(tmp_path):
    model = features_model()
    rows = make_utterances(6, seed=1)
    batch = pad_utterances(rows)
    model.train()
    model(**batch)
    frames = np.concatenate([r["audio_features"] for r in rows])  # the valid frames only, no padding
    norm = model.mcihn.autoencoders["audio"].input_norm
    np.testing.assert_allclose(norm.running_mean.numpy(), frames.mean(0), atol=1e-5)
    np.testing.assert_allclose(norm.running_var.numpy(), frames.var(0), atol=1e-4)
    model.eval()
    with torch.no_grad():  # evaluation reads the statistics, never updates them
        model(**pad_utterances(make_utterances(3, seed=9)))
    np.testing.assert_allclose(norm.running_mean.numpy(), frames.mean(0), atol=1e-5)
    model.save_pretrained(tmp_path)
    loaded = MCIHNForMultimodalSentiment.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded.mcihn.autoencoders["audio"].input_norm.running_var, norm.running_var)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


def tiny_wav2vec2(norm: str) -> dict:
    return dict(
        model_type="wav2vec2", hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=[8, 8], conv_kernel=[10, 3], conv_stride=[5, 2], num_feat_extract_layers=2,
        num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, feat_extract_norm=norm,
        do_stable_layer_norm=norm == "layer",
    )  # fmt: skip


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_speech_tower_prediction_does_not_depend_on_the_padding_of_its_batch(norm):
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config(audio_config=tiny_wav2vec2(norm))).eval()
    rng = np.random.default_rng(0)
    short = {"input_ids": [2, 5, 6, 3], "input_values": rng.normal(size=800).astype(np.float32)}
    long = {"input_ids": [2, 7, 3], "input_values": rng.normal(size=4000).astype(np.float32)}
    with torch.no_grad():
        alone = model(**pad_utterances([short])).logits
        batched = model(**pad_utterances([short, long])).logits
    assert (alone[0] - batched[0]).abs().max() <= 1e-5  # group norm over the padded batch: 1.9e-2 before


def test_audio_shorter_than_the_receptive_field_is_masked_alone_and_batched():
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config(audio_config=tiny_wav2vec2("group"))).eval()
    tiny = {"input_ids": [2, 5, 3], "input_values": np.zeros(8, np.float32)}  # < 10 samples: no frame
    long = {"input_ids": [2, 7, 3], "input_values": np.ones(400, np.float32)}
    with torch.no_grad():
        alone = model(**pad_utterances([tiny]))
        batched = model(**pad_utterances([tiny, long]))
        text_only = model(**pad_utterances([{"input_ids": [2, 5, 3]}]))
    assert alone.modality_mask[0].tolist() == [True, False, False]
    assert batched.modality_mask[:, 1].tolist() == [False, True]
    torch.testing.assert_close(alone.logits[0], batched.logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone.logits, text_only.logits, atol=1e-5, rtol=0)


def test_a_modality_without_valid_frames_is_masked_not_a_bias_token():
    model = features_model().eval()
    row = make_utterances(1, seed=2)[0]
    no_audio = {k: v for k, v in row.items() if k != "audio_features"}
    empty_audio = {**row, "audio_mask": np.zeros(len(row["audio_features"]), np.int64)}
    with torch.no_grad():
        out = model(**pad_utterances([empty_audio]))
        reference = model(**pad_utterances([no_audio]))
    assert out.modality_mask[0].tolist() == [True, False, True]
    torch.testing.assert_close(out.logits, reference.logits, atol=1e-6, rtol=0)
    only_empty = {"audio_features": row["audio_features"], "audio_mask": np.zeros(len(row["audio_features"]))}
    with pytest.raises(ValueError, match="utterance 0 of the batch has no modality present"):
        model(**pad_utterances([only_empty]))


def test_token_ids_and_text_features_for_one_utterance_are_an_error_not_a_silent_choice():
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config(text_feature_size=None)).eval()
    batch = pad_utterances(make_utterances(2, text="tokens"))
    states = torch.zeros(2, 4, model.config.text_feature_size)
    with pytest.raises(ValueError, match="input_ids and text_features were both given for utterance 0"):
        model(**batch, text_features=states)
    # a batch may mix the forms over its rows: each row uses the one it has, as it would alone
    rows = make_utterances(2, text="tokens")
    rows[1] = {**rows[1], "input_ids": None, "text_features": torch.randn(3, model.config.text_feature_size)}
    with torch.no_grad():
        mixed = model(**pad_utterances(rows)).logits
        alone = [model(**pad_utterances([r])).logits for r in rows]
    torch.testing.assert_close(mixed, torch.cat(alone), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"audio_features: expected \[batch, frames, 5\]"):
        model(**{**batch, "audio_features": batch["audio_features"][..., :3]})


def test_docs_credit_the_paper_only_with_what_it_states():
    """The MCIHN text names the adversarial autoencoders, CGMM + MMD, FFM and the datasets; the extractors and the
    MMD kernel are this package's choices and must be documented as such."""
    texts = [
        open(os.path.join(REPO, path), encoding="utf-8").read()
        for path in ("modeling/modeling_mcihn.py", "modeling/configuration_mcihn.py", "README.md")
    ]
    for text in texts:
        assert "the paper's text extractor" not in text
        assert "Modules, named after the paper: feature extraction (BERT" not in text
    assert "not named by the paper" in texts[1]
