"""MCIHN model: shapes, loss terms, masking, regression / classification, towers, Hub round trip."""

from __future__ import annotations

import pytest
import torch
from _fixtures_mcihn import make_mcihn_config, make_utterances
from transformers import AutoConfig, AutoModel

from mcn_cl import MCIHNConfig, MCIHNForMultimodalSentiment
from mcn_cl.modeling.modeling_mcihn import mmd_rbf
from mcn_cl.processing.padding_mcihn import pad_utterances


def batch_of(n=4, seed=0, text="tokens", **kw):
    return pad_utterances(make_utterances(n, seed=seed, text=text, **kw))


def test_forward_returns_task_loss_and_every_auxiliary_term():
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config())
    batch = batch_of()
    out = model(**batch)
    assert out.logits.shape == (4, 1)
    expected = torch.nn.functional.l1_loss(out.logits.view(-1), batch["labels"])
    torch.testing.assert_close(out.loss, expected)
    for name in ("reconstruction_loss", "adversarial_loss", "discriminator_loss", "mmd_loss"):
        value = getattr(out, name)
        assert value.dim() == 0 and torch.isfinite(value) and value > 0, name
    assert out.text_codes.shape[-1] == 8 and out.audio_codes.shape[:2] == batch["audio_mask"].shape


def test_adversarial_terms_train_opposite_sides():
    """The encoders' term reaches the encoders only; the discriminators' term reaches the discriminators only."""
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config())
    out = model(**batch_of())
    discriminator = {id(p) for p in model.discriminator_parameters()}
    encoder = list(model.mcihn.autoencoders["audio"].encoder.parameters())

    model.zero_grad()
    out.adversarial_loss.backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in model.discriminator_parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder)

    model.zero_grad()
    out.discriminator_loss.backward()
    touched = [p for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert touched and all(id(p) in discriminator for p in touched)


def test_classification_with_several_labels_uses_cross_entropy():
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config(num_labels=3))
    rows = make_utterances(4)
    for i, row in enumerate(rows):
        row["label"] = [0, 2, 1, -100][i]
    batch = pad_utterances(rows)
    assert batch["labels"].dtype == torch.long
    out = model(**batch)
    assert out.logits.shape == (4, 3)
    torch.testing.assert_close(
        out.loss, torch.nn.functional.cross_entropy(out.logits[:3], batch["labels"][:3])
    )


def test_missing_modality_of_one_utterance_does_not_change_the_others():
    """Masking the audio of utterance 0 changes its prediction but not utterance 1's (eval mode, no dropout)."""
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config()).eval()
    batch = batch_of(2)
    with torch.no_grad():
        full = model(**batch).logits
        batch["modality_mask"][0, 1] = 0
        masked = model(**batch).logits
        alone = model(**pad_utterances(make_utterances(2, text="tokens")[1:])).logits
    assert not torch.allclose(full[0], masked[0])
    torch.testing.assert_close(masked[1], full[1])
    torch.testing.assert_close(alone[0], full[1], atol=1e-5, rtol=1e-5)


def test_text_only_runs_with_degenerate_cgmm_paths():
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config(num_labels=7))
    rows = [{"input_ids": [2, 5, 6, 3], "label": 1}, {"input_ids": [2, 7, 3], "label": 4}]
    out = model(**pad_utterances(rows))
    assert out.logits.shape == (2, 7) and torch.isfinite(out.loss)
    assert out.mmd_loss.item() == 0.0 and out.audio_codes is None and out.visual_codes is None
    out.loss.backward()


def test_utterance_without_any_modality_is_an_error():
    model = MCIHNForMultimodalSentiment(make_mcihn_config())
    batch = batch_of(2)
    batch["modality_mask"][1] = 0
    with pytest.raises(ValueError, match="utterance 1 of the batch has no modality"):
        model(**batch)


def test_mmd_rbf_is_zero_for_the_same_sample_and_grows_with_a_shift():
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    assert mmd_rbf(x, x).item() == pytest.approx(0.0, abs=1e-6)
    near, far = mmd_rbf(x, torch.randn(64, 8)), mmd_rbf(x, torch.randn(64, 8) + 2.0)
    assert far > 5 * near


def test_speech_and_vision_towers_from_config():
    """Wav2Vec2 on raw waveforms and CLIP vision on frames, both built from config (tiny, random)."""
    audio_config = {
        "model_type": "wav2vec2", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32, "conv_dim": [8, 8], "conv_kernel": [10, 3], "conv_stride": [5, 2],
        "num_feat_extract_layers": 2, "num_conv_pos_embeddings": 8, "num_conv_pos_embedding_groups": 2,
        "feat_extract_norm": "layer", "do_stable_layer_norm": True,
    }  # fmt: skip
    visual_config = {
        "model_type": "clip_vision_model", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
        "num_attention_heads": 2, "image_size": 32, "patch_size": 16,
    }  # fmt: skip
    config = make_mcihn_config(audio_config=audio_config, visual_config=visual_config)
    assert config.audio_feature_size == 16 and config.visual_feature_size == 16
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(config)
    rows = [
        {"input_ids": [2, 5, 3], "input_values": torch.randn(1600), "pixel_values": torch.randn(3, 3, 32, 32),
         "label": 0.5},
        {"input_ids": [2, 6, 7, 3], "input_values": torch.randn(800), "pixel_values": torch.randn(2, 3, 32, 32),
         "label": -1.0},
    ]  # fmt: skip
    batch = pad_utterances(rows)
    assert batch["audio_attention_mask"].sum(1).tolist() == [1600, 800] and batch["frame_mask"].sum(
        1
    ).tolist() == [3, 2]
    out = model(**batch)
    assert out.audio_codes.shape[0] == 2 and out.audio_code_mask[1].sum() < out.audio_code_mask[0].sum()
    assert out.visual_code_mask.sum(1).tolist() == [3, 2]
    out.loss.backward()
    assert model.mcihn.audio_encoder.encoder.feature_projection.projection.weight.grad is None  # frozen tower


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"latent_size": 9}, "latent_size"),
        ({"regression_loss": "huber"}, "regression_loss"),
        ({"mmd_weight": -1.0}, "mmd_weight"),
        ({"sentiment_range": (1.0, -1.0)}, "sentiment_range"),
        ({"text_feature_size": 10}, "text_feature_size"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=f"MCIHNConfig.{field}"):
        make_mcihn_config(**overrides)


def test_auto_classes_and_save_load(tmp_path):
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(make_mcihn_config()).eval()
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), MCIHNConfig)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is MCIHNForMultimodalSentiment
    batch = batch_of(3)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


# The `AutoModel.from_pretrained(folder, trust_remote_code=True)` round trip without the package is tested with the
# pipeline's, in one subprocess: tests/test_mcihn_pipeline.py::test_hub_folder_loads_and_predicts_the_same_without_the_package.
