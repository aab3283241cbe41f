"""Online mode (issue 12, items 1-2): the causal configuration and `MCNCLStream`, which must give the causal model's
full-forward logits one utterance at a time."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import like_trained, make_tiny_config

from mcn_cl import MCNCLForEmotionRecognition, MCNCLModel

B, N, L = 2, 6, 3
CONTEXT_ENCODERS = ("dialoguernn", "bigru", "transformer", "none")


def make_dialogues(config, text="features", visual_dim=4, seed=0):
    """Two dialogues (6 and 4 utterances, 3 speakers): visual absent from the first two utterances of both, and
    per-utterance holes in text and audio."""
    g = torch.Generator().manual_seed(seed)
    inputs = {
        "speaker_ids": torch.tensor([[0, 1, 2, 0, 1, 1], [1, 0, 0, 1, 0, 0]]),
        "utterance_mask": torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]),
        "audio_features": torch.randn(B, N, config.audio_feature_size, generator=g) * 10,
    }
    if text == "tokens":
        inputs["input_ids"] = torch.randint(1, config.text_config.vocab_size, (B, N, 5), generator=g)
        inputs["attention_mask"] = torch.ones(B, N, 5, dtype=torch.long)
        inputs["attention_mask"][:, :, 4] = 0
    else:
        inputs["text_features"] = torch.randn(B, N, config.text_feature_size, generator=g)
    shape = (B, N, L, config.visual_feature_size) if visual_dim == 4 else (B, N, config.visual_feature_size)
    inputs["visual_features"] = torch.randn(*shape, generator=g)
    if visual_dim == 4:
        inputs["frame_mask"] = torch.ones(B, N, L, dtype=torch.long)
        inputs["frame_mask"][1, 3, 2] = 0
    mask = torch.ones(B, N, 3, dtype=torch.long)
    mask[:, :2, 2] = 0  # no face in the first two utterances
    mask[0, 3, 0] = 0  # an utterance without text
    mask[1, 2, 1] = 0  # one without audio
    mask[0, 4, :2] = 0  # visual only
    inputs["modality_mask"] = mask
    return inputs


def utterance(inputs, t):
    """The step-t inputs ([B, 1, ...]); the visual input is not given at all while no dialogue has a face."""
    step = {k: v[:, t : t + 1] for k, v in inputs.items()}
    if not step["modality_mask"][..., 2].any():
        step.pop("visual_features")
        step.pop("frame_mask", None)
    return step


def causal_model(**overrides):
    torch.manual_seed(0)
    return like_trained(MCNCLForEmotionRecognition(make_tiny_config(causal=True, **overrides))).eval()


@pytest.mark.parametrize("kv_source", ["context", "previous_layer"])
@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_streaming_equals_the_causal_full_forward(context_encoder, kv_source):
    model = causal_model(context_encoder=context_encoder, kv_source=kv_source, num_context_layers=2)
    inputs = make_dialogues(model.config)
    with torch.no_grad():
        full = model(**inputs).logits
    stream = model.init_stream(batch_size=B)
    valid = inputs["utterance_mask"].bool()
    for t in range(N):
        out = stream.step(**utterance(inputs, t))
        assert out.logits.shape == (B, 1, model.config.num_labels)
        assert stream.num_steps == t + 1
        diff = (out.logits[:, 0] - full[:, t])[valid[:, t]].abs().max().item()
        assert diff <= 1e-5, (t, diff)
        assert torch.equal(out.modality_mask[:, 0], inputs["modality_mask"][:, t].bool() & valid[:, t, None])


def test_streaming_token_ids_and_utterance_level_visual_vectors():
    model = causal_model(kv_source="previous_layer")
    inputs = make_dialogues(model.config, text="tokens", visual_dim=3)
    with torch.no_grad():
        full = model(**inputs).logits
    stream = model.init_stream(batch_size=B)
    logits = torch.cat([stream.step(**utterance(inputs, t)).logits for t in range(N)], dim=1)
    valid = inputs["utterance_mask"].bool()
    assert (logits - full)[valid].abs().max() <= 1e-5


@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_a_step_leaves_the_earlier_stream_state_unchanged(context_encoder):
    """The stream state is immutable: a saved state, restored, replays the same utterances exactly (a step that
    wrote into the state it was given would change the saved one)."""
    model = causal_model(context_encoder=context_encoder, kv_source="previous_layer", num_context_layers=2)
    inputs = make_dialogues(model.config)
    stream = model.init_stream(batch_size=B)
    for t in range(2):
        stream.step(**utterance(inputs, t))
    saved = stream.state
    encoder_state = type(saved.context[0]).__name__
    assert (
        encoder_state
        == {
            "dialoguernn": "DialogueRNNStreamState",
            "bigru": "GRUStreamState",
            "transformer": "TransformerStreamState",
            "none": "NoContextStreamState",
        }[context_encoder]
    )
    first = [stream.step(**utterance(inputs, t)).logits for t in range(2, N)]
    assert stream.num_steps == N and saved.num_utterances == 2
    stream.state = saved
    again = [stream.step(**utterance(inputs, t)).logits for t in range(2, N)]
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def _state_tensors(state) -> list[torch.Tensor]:
    """Every tensor of a stream state (NamedTuples and tuples all the way down)."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, tuple):
        return [t for item in state for t in _state_tensors(item)]
    return []


@pytest.mark.parametrize("context_encoder", ("dialoguernn", "bigru", "transformer"))
def test_the_stream_history_grows_in_place_and_a_restored_state_branches_safely(context_encoder):
    """Issue 18: every step copied the whole past into a new, larger tensor (`torch.cat`): an O(t) copy and an
    ever larger allocation per step. The history now lives in buffers whose capacity doubles; a state restored
    after later steps must still branch without touching the later states."""
    model = causal_model(context_encoder=context_encoder, kv_source="previous_layer", num_context_layers=2)
    inputs = {k: torch.cat([v[:1]] * 7, dim=1) for k, v in make_dialogues(model.config).items()}  # 42 utt.
    stream = model.init_stream(batch_size=1)
    storages, logits, states = set(), [], {}
    for t in range(40):
        logits.append(stream.step(**utterance(inputs, t)).logits)
        storages.add(stream.state.layer_inputs[0].untyped_storage().data_ptr())
        states[t + 1] = stream.state
    assert len(storages) <= 3  # capacities 16, 32, 64: no new tensor per step
    with torch.no_grad():
        full = model(**{k: v[:, :40] for k, v in inputs.items()}).logits
    assert (torch.cat(logits, dim=1) - full).abs().max() <= 1e-5
    later = [t.clone() for t in _state_tensors(states[30])]
    stream.state = states[10]  # a branch from an older state: written elsewhere
    branch = stream.step(**utterance(inputs, 25)).logits
    with torch.no_grad():
        prefix = {k: torch.cat([v[:, :10], v[:, 25:26]], dim=1) for k, v in inputs.items()}
        torch.testing.assert_close(branch[:, 0], model(**prefix).logits[:, -1], atol=1e-5, rtol=0)
    for before, now in zip(later, _state_tensors(states[30])):
        assert torch.equal(before, now)
    stream.state = states[30]
    torch.testing.assert_close(stream.step(**utterance(inputs, 30)).logits, logits[30], atol=0, rtol=0)


def test_reset_starts_a_new_dialogue_and_the_base_model_streams_too():
    model = causal_model()
    inputs = make_dialogues(model.config)
    stream = model.init_stream(batch_size=B)
    first = [stream.step(**utterance(inputs, t)).logits for t in range(3)]
    stream.reset()
    assert stream.num_steps == 0
    again = [stream.step(**utterance(inputs, t)).logits for t in range(3)]
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b, atol=0, rtol=0)

    base = model.mcn_cl
    assert isinstance(base, MCNCLModel)
    with torch.no_grad():
        full = base(**inputs).audio_hidden_state
    base_stream = base.init_stream(batch_size=B)
    states = [base_stream.step(**utterance(inputs, t)).audio_hidden_state for t in range(N)]
    assert states[4] is None  # no dialogue has audio at step 4: the modality is absent there
    states[4] = torch.zeros_like(states[0])
    valid = inputs["utterance_mask"].bool()
    assert (torch.cat(states, dim=1) - full)[valid].abs().max() <= 1e-5


def test_a_step_runs_the_encoders_on_the_new_utterance_only():
    model = causal_model()
    inputs = make_dialogues(model.config)
    seen = []
    hook = model.mcn_cl.audio_encoder.register_forward_hook(
        lambda m, args, out: seen.append(tuple(out.shape))
    )
    try:
        stream = model.init_stream(batch_size=B)
        for t in range(N):
            stream.step(**utterance(inputs, t))
    finally:
        hook.remove()
    assert seen and all(shape[:2] == (B, 1) for shape in seen)


@pytest.mark.parametrize("context_encoder", CONTEXT_ENCODERS)
def test_causal_model_never_looks_at_the_future(context_encoder):
    model = causal_model(context_encoder=context_encoder)
    inputs = make_dialogues(model.config)
    changed = {k: v.clone() for k, v in inputs.items()}
    for key in ("text_features", "audio_features", "visual_features"):
        changed[key][:, 3:] = torch.randn_like(changed[key][:, 3:]) * 5
    changed["speaker_ids"][:, 3:] = 2
    with torch.no_grad():
        a = model(**inputs).logits
        b = model(**changed).logits
    torch.testing.assert_close(a[:, :3], b[:, :3], atol=1e-6, rtol=0)
    assert not torch.allclose(a[0, 3:], b[0, 3:])
    # the bidirectional model does look ahead (unless nothing mixes utterances)
    torch.manual_seed(0)
    bidirectional = MCNCLForEmotionRecognition(make_tiny_config(context_encoder=context_encoder)).eval()
    with torch.no_grad():
        assert not torch.allclose(
            bidirectional(**inputs).logits[:, :3], bidirectional(**changed).logits[:, :3]
        )


def test_a_bidirectional_model_cannot_stream():
    torch.manual_seed(0)
    model = MCNCLForEmotionRecognition(make_tiny_config()).eval()
    with pytest.raises(ValueError, match=r"causal=False.*depends on the\s+utterances after it"):
        model.init_stream()
    with pytest.raises(ValueError, match="causal=False"):
        model.mcn_cl.init_stream()


def test_step_rejects_more_than_one_utterance_or_another_batch_size():
    model = causal_model()
    inputs = make_dialogues(model.config)
    stream = model.init_stream(batch_size=B)
    with pytest.raises(ValueError, match="one new utterance"):
        stream.step(**{k: v[:, :2] for k, v in inputs.items()})
    with pytest.raises(ValueError, match="one new utterance"):
        stream.step(**{k: v[:1, :1] for k, v in inputs.items()})
    with pytest.raises(ValueError, match="unknown inputs"):
        stream.step(**utterance(inputs, 0), audio=1)
    assert stream.num_steps == 0


def test_the_checkpoint_says_it_is_causal(tmp_path):
    model = causal_model()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["causal"] is True
    loaded = MCNCLForEmotionRecognition.from_pretrained(tmp_path).eval()
    assert loaded.config.causal
    inputs = make_dialogues(model.config)
    stream = loaded.init_stream(batch_size=B)
    with torch.no_grad():
        torch.testing.assert_close(
            stream.step(**utterance(inputs, 0)).logits[:, 0], model(**inputs).logits[:, 0]
        )


def test_the_model_card_says_whether_the_model_can_stream():
    from mcn_cl.hub_mcn_cl import model_card

    card = str(model_card(make_tiny_config(causal=True)))
    assert "causal" in card and "can stream" in card
    assert "cannot stream" in str(model_card(make_tiny_config()))
