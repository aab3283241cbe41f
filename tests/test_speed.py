# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The fast paths (issue 13): the grouped DialogueRNN recurrences and MCN branches against the per-branch reference
code (tests/_reference_speed.py: main's semantics, per-modality masks, causal mode, queries without keys), bf16
autocast, `torch.compile`."""

from __future__ import annotations

import pytest
import torch
from _reference_speed import (  # tests/ helper
    pre_grouping_model,
    reference_cell_forward,
    reference_cross_modal_layer_forward,
    reference_dialogue_rnn_forward,
)
from torch import nn

from mcn_cl import MCNCLConfig, MCNCLForEmotionRecognition
from mcn_cl.modeling.context_encoders_mcn_cl import MCNCLDialogueRNN, _DialogueRNNCell, run_dialogue_rnns
from mcn_cl.modeling.cross_attention_mcn_cl import MCNCLCrossModalLayer
from mcn_cl.modeling.grouped_dialogue_rnn import grouped_dialogue_rnn

HIDDEN = 16


def _cells(groups: int, max_speakers: int = 4) -> list[_DialogueRNNCell]:
    torch.manual_seed(groups)
    return [_DialogueRNNCell(HIDDEN, max_speakers) for _ in range(groups)]


def _inputs(groups: int, batch: int = 3, num_utt: int = 7, max_speakers: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(groups, batch, num_utt, HIDDEN, generator=g)
    speakers = torch.randint(0, max_speakers, (groups, batch, num_utt), generator=g)
    mask = (
        torch.rand(groups, batch, num_utt, generator=g) > 0.35
    )  # any pattern: holes, leading gaps, all masked
    mask[0, 0] = False
    mask[-1, -1] = True
    return x, speakers, mask


def _grads(outputs: torch.Tensor, tensors: list[torch.Tensor], weight: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad((outputs * weight).sum(), tensors))


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 5, 6])
def test_grouped_recurrence_equals_sequential_reference(groups):
    cells = _cells(groups)
    x, speakers, mask = _inputs(groups, seed=groups)
    x.requires_grad_(True)
    params = [p for cell in cells for p in cell.parameters()]
    grouped = grouped_dialogue_rnn(x, speakers, mask, cells)
    reference = torch.stack(
        [reference_cell_forward(c, x[i], speakers[i], mask[i]) for i, c in enumerate(cells)]
    )
    assert grouped.shape == reference.shape == x.shape
    torch.testing.assert_close(grouped, reference, atol=1e-5, rtol=1e-5)
    weight = torch.randn_like(grouped)  # a loss that weighs every output differently
    for got, want in zip(_grads(grouped, [x, *params], weight), _grads(reference, [x, *params], weight)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_grouped_recurrence_shared_speakers_and_masked_steps_change_nothing():
    cells = _cells(3)
    x, speakers, mask = _inputs(3, seed=7)
    shared = speakers[0]  # [B, N] for every group
    out = grouped_dialogue_rnn(x, shared, mask, cells)
    for i, cell in enumerate(cells):
        torch.testing.assert_close(
            out[i], reference_cell_forward(cell, x[i], shared, mask[i]), atol=1e-5, rtol=1e-5
        )
    # a masked step: the output repeats the previous one (states unchanged), whatever its input is
    x2 = x.clone()
    x2[~mask] = 1e3
    torch.testing.assert_close(grouped_dialogue_rnn(x2, shared, mask, cells), out)
    # fully masked dialogue: zeros throughout
    mask[:, 1] = False
    assert grouped_dialogue_rnn(x, shared, mask, cells)[:, 1].abs().max() == 0


def test_grouped_recurrence_rejects_a_wrong_number_of_cells():
    x, speakers, mask = _inputs(2)
    with pytest.raises(ValueError, match="3 cells for 2 groups"):
        grouped_dialogue_rnn(x, speakers, mask, _cells(3))


@pytest.mark.parametrize("causal", [False, True])
def test_run_dialogue_rnns_equals_each_rnn_on_its_own(causal):
    config = MCNCLConfig(hidden_size=HIDDEN, max_speakers=4, hidden_dropout_prob=0.0, causal=causal)
    torch.manual_seed(0)
    rnns = [MCNCLDialogueRNN(config) for _ in range(3)]
    assert all(len(rnn.directions) == (1 if causal else 2) for rnn in rnns)
    x, speakers, mask = _inputs(3, seed=3)  # a different mask per rnn (per-modality masks)
    outs = run_dialogue_rnns(rnns, list(x), speakers[0], list(mask))
    for rnn, out, xi, mi in zip(rnns, outs, x, mask):
        torch.testing.assert_close(
            out, reference_dialogue_rnn_forward(rnn, xi, speakers[0], mi), atol=1e-5, rtol=1e-5
        )
        torch.testing.assert_close(rnn(xi, speakers[0], mi), out)


def test_cell_step_by_step_equals_the_grouped_engine():
    """The stream advances `_DialogueRNNCell.stream_step` one utterance at a time; the full forward runs the grouped
    engine: both compute the same recurrence (any mask pattern)."""
    cell = _cells(1)[0]
    x, speakers, mask = _inputs(1, seed=11)
    x, speakers, mask = x[0], speakers[0], mask[0]
    state, history, outputs = cell.initial_state(x[:, 0]), [], []
    for t in range(x.shape[1]):
        past = torch.stack(history, dim=1) if history else None
        state = cell.stream_step(x[:, t], speakers[:, t], mask[:, t], state, past, mask[:, :t])
        history.append(state.global_state)
        outputs.append(state.emotion)
    torch.testing.assert_close(torch.stack(outputs, dim=1), cell(x, speakers, mask), atol=1e-5, rtol=1e-5)


def _layer_inputs(num_utt: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    queries = torch.randn(3, num_utt, 3, 32, generator=g)
    keys = torch.randn(3, num_utt, 3, 32, generator=g)
    masks = torch.rand(3, num_utt, 3, generator=g) > 0.3
    masks[0, :, 1] = False  # dialogue 0 has no audio at all: its queries of audio keys keep their state
    masks[1, 0] = torch.tensor(
        [True, False, False]
    )  # utterance 0: causally, audio / visual keys have none yet
    masks[2, 3:] = False  # padding
    return queries, keys, masks


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("num_queries", [6, 1, 2])
def test_grouped_mcn_layer_equals_the_per_branch_reference(causal, num_queries):
    """The grouped MCN layer against the branch-by-branch one: causal key masks, per-modality key masks, queries
    without any allowed key (state kept, no Add & Norm), and the streaming form (the last n queries against all m
    keys); outputs, attention probabilities and gradients."""
    config = MCNCLConfig(
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=48,
        causal=causal,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        mcn_residual_init_scale=1.0,  # the attention paths live (0, the default, zeros their output projections)
    )
    torch.manual_seed(1)
    layer = MCNCLCrossModalLayer(config)
    queries, keys, masks = _layer_inputs()
    queries = queries[:, -num_queries:].clone().requires_grad_(True)
    keys.requires_grad_(True)
    params = [queries, keys, *layer.parameters()]
    got, got_probs = layer(queries, keys, masks)
    want, want_probs = reference_cross_modal_layer_forward(layer, queries, keys, masks)
    assert got.shape == want.shape == queries.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_probs, want_probs, atol=1e-6, rtol=1e-5)
    # the rule is exercised: dialogue 0's text query of its (absent) audio keys kept its state
    assert got_probs[0, 0].abs().sum() == 0 and got_probs[0, 1].abs().sum() > 0
    weight = torch.randn_like(got)
    for a, b in zip(_grads(got, params, weight), _grads(want, params, weight), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_prefix_reversal_and_flip_agree_on_the_real_utterances():
    """Before the grouped engine the backward direction reversed each dialogue's real prefix in place; flipping the
    whole padded sequence gives the same states on the real utterances."""
    cell = _cells(1)[0]
    x, speakers, _ = _inputs(1, seed=5)
    x, speakers = x[0], speakers[0]
    lengths = torch.tensor([7, 4, 1])
    mask = torch.arange(7) < lengths[:, None]
    steps = torch.arange(7).unsqueeze(0)
    reverse = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    flip = reverse.unsqueeze(-1).expand_as(x)
    old = reference_cell_forward(cell, x.gather(1, flip), speakers.gather(1, reverse), mask).gather(1, flip)
    new = reference_cell_forward(cell, x.flip(1), speakers.flip(1), mask.flip(1)).flip(1)
    torch.testing.assert_close(new[mask], old[mask], atol=1e-6, rtol=1e-6)


# ------------------------------------------------------------------------------------------ bf16 and compile


def _tiny_model_and_batch(seed: int = 0, **overrides):
    config = MCNCLConfig(
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        classifier_hidden_size=32,
        projection_size=16,
        use_text_encoder=False,
        text_feature_size=24,
        audio_feature_size=20,
        visual_backbone=None,
        visual_feature_size=12,
        psa_kernel_sizes=[3, 5],
        id2label={0: "a", 1: "b", 2: "c"},
        hidden_dropout_prob=0.0,  # train mode without randomness: compiled and eager runs are comparable
        attention_probs_dropout_prob=0.0,
        **overrides,
    )
    torch.manual_seed(seed)
    model = MCNCLForEmotionRecognition(config).eval()
    g = torch.Generator().manual_seed(seed)
    batch, num_utt = 2, 5
    inputs = {
        "text_features": torch.randn(batch, num_utt, 24, generator=g),
        "audio_features": torch.randn(batch, num_utt, 20, generator=g),
        "visual_features": torch.randn(batch, num_utt, 4, 12, generator=g),
        "speaker_ids": torch.randint(0, 2, (batch, num_utt), generator=g),
        "utterance_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
        "labels": torch.randint(0, 3, (batch, num_utt), generator=g),
    }
    return model, inputs


def test_bf16_autocast_on_cpu_stays_close_to_fp32():
    model, inputs = _tiny_model_and_batch()
    with torch.no_grad():
        reference = model(**inputs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model(**inputs)
    assert mixed.logits.dtype == torch.bfloat16  # autocast really ran the matmuls in bf16
    real = inputs["utterance_mask"].bool()
    # bf16 keeps 8 bits of mantissa (relative error ~4e-3 per op); logits of order 1 after ~30 layers
    torch.testing.assert_close(mixed.logits.float()[real], reference.logits[real], atol=5e-2, rtol=5e-2)
    torch.testing.assert_close(mixed.loss.float(), reference.loss, atol=2e-2, rtol=2e-2)
    assert not torch.allclose(mixed.logits.float(), reference.logits)  # and it is not a silent fp32 run


def test_bf16_autocast_backward_gives_the_fp32_gradients():
    """Under bf16 autocast every parameter that learns in fp32 gets a gradient, pointing the same way."""
    model, inputs = _tiny_model_and_batch()
    model.train()  # dropout is 0: both runs compute the same function

    def gradients(autocast: bool) -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(**inputs).loss
        loss.backward()
        return {n: p.grad.detach().float().clone() for n, p in model.named_parameters() if p.grad is not None}

    reference, mixed = gradients(False), gradients(True)
    assert set(mixed) == set(reference)
    # the paths of all three modalities, the context encoder, the MCN layers and the classifier learn
    for part in ("text", "audio", "visual", "context", "mcn", "classifier"):
        assert any(part in n and reference[n].abs().sum() > 0 for n in reference), part
    learning = [
        n for n in reference if reference[n].norm() > 1e-4 * max(g.norm() for g in reference.values())
    ]
    for n in learning:
        assert mixed[n].abs().sum() > 0, n
        cosine = torch.nn.functional.cosine_similarity(mixed[n].flatten(), reference[n].flatten(), dim=0)
        assert cosine > 0.9, (n, float(cosine))
    everything = (
        torch.cat([reference[n].flatten() for n in learning]),
        torch.cat([mixed[n].flatten() for n in learning]),
    )
    assert torch.nn.functional.cosine_similarity(*everything, dim=0) > 0.99


def test_torch_compile_runs_forward_and_backward():
    model, inputs = _tiny_model_and_batch()
    model.train()
    compiled = torch.compile(model, backend="eager")  # dynamo tracing (graph breaks allowed); no codegen wait
    out = compiled(**inputs)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    eager = model(**inputs)
    torch.testing.assert_close(out.logits, eager.logits, atol=1e-5, rtol=1e-5)


def test_layer_output_unchanged_by_model_level_grouping():
    """The model groups all modalities' recurrences; the same model run modality by modality agrees."""
    model, inputs = _tiny_model_and_batch()
    core = model.mcn_cl
    with torch.no_grad():
        x = torch.randn(2, 5, 32)
        speakers = inputs["speaker_ids"]
        mask = inputs["utterance_mask"].bool()
        encoders = list(core.context_encoders.values())
        together = type(encoders[0]).encode_all(encoders, [x, x + 1, x * 2], speakers, [mask] * 3)
        alone = [enc(xi, speakers, mask) for enc, xi in zip(encoders, [x, x + 1, x * 2])]
    for a, b in zip(together, alone):
        torch.testing.assert_close(a, b)
    assert isinstance(
        encoders[0].rnn.directions[0].global_cell, nn.GRUCell
    )  # layout (state-dict keys) unchanged


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("absent", [None, "audio_features", "text_features", "holes"])
def test_whole_model_equals_the_pre_grouping_model(absent, causal):
    """Loss, logits, attentions and every gradient of the model (padded dialogues; three modalities, one absent
    from the batch, or per-utterance modality holes with a modality missing from a whole dialogue; bidirectional
    and causal) as with the per-branch recurrences and MCN branches."""
    model, inputs = _tiny_model_and_batch(seed=3, causal=causal)
    model.train()
    inputs.pop(absent, None)
    if absent == "holes":
        modality_mask = torch.ones(2, 5, 3, dtype=torch.long)
        modality_mask[0, :, 1] = 0  # dialogue 0 without audio: its queries of audio keep their state
        modality_mask[1, 0, 2] = modality_mask[1, 2, 0] = 0
        inputs["modality_mask"] = modality_mask

    def run():
        model.zero_grad()
        out = model(**inputs, output_attentions=True)
        out.loss.backward()
        return out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    new, new_grads = run()
    with pre_grouping_model():
        old, old_grads = run()
    torch.testing.assert_close(new.logits, old.logits, atol=1e-5, rtol=1e-5)
    for a, b in zip(new.attentions, old.attentions, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(new.loss, old.loss, atol=1e-6, rtol=1e-5)
    assert new_grads.keys() == old_grads.keys()
    assert any("context_encoders" in n for n in new_grads)
    for name in new_grads:
        torch.testing.assert_close(new_grads[name], old_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_parameter_layout_is_unchanged_so_old_checkpoints_load():
    """The grouped code stacks the weights at forward time: the state-dict keys are the per-cell / per-branch ones."""
    model, _ = _tiny_model_and_batch()
    keys = set(model.state_dict())
    for direction in (0, 1):
        prefix = f"mcn_cl.context_encoders.audio.rnn.directions.{direction}."
        for cell in ("global_cell", "party_cell", "emotion_cell"):
            assert {f"{prefix}{cell}.{p}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")} <= keys
        assert f"{prefix}attention.weight" in keys
    for name in ("text_audio", "text_visual", "audio_text", "audio_visual", "visual_text", "visual_audio"):
        for part in ("query", "key", "value", "output"):
            assert f"mcn_cl.layers.0.attention.{name}.{part}.weight" in keys
    # a state dict saved by the per-branch model loads strictly and gives the same outputs
    fresh, inputs = _tiny_model_and_batch(seed=9)
    with pre_grouping_model():
        fresh.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(fresh(**inputs).logits, model(**inputs).logits)
