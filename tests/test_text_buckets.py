"""The text tower in length buckets (issue 19): each utterance gets the output and the gradients it got from one
call padded to the longest utterance, for BERT- and RoBERTa-style towers, both poolings, holes in the mask,
absent utterances; left padding falls back to one call."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_TEXT_CONFIG, like_trained, make_tiny_config

from mcn_cl.modeling.unimodal_encoders_mcn_cl import MCNCLTextEncoder, _length_buckets

ROBERTA = {**TINY_TEXT_CONFIG, "model_type": "roberta", "pad_token_id": 1, "max_position_embeddings": 80}


def _encoder(text_config: dict, pooling: str) -> MCNCLTextEncoder:
    torch.manual_seed(0)
    encoder = MCNCLTextEncoder(make_tiny_config(text_config=dict(text_config), text_pooling=pooling))
    return like_trained(encoder).eval()


def _tokens(num_rows: int, num_tok: int, pad_id: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded rows of mixed lengths (1 .. num_tok, one full row), some with holes in the mask."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, num_tok + 1, (num_rows,), generator=g)
    lengths[0] = num_tok
    lengths[1] = 1
    columns = torch.arange(num_tok)
    mask = (columns < lengths.unsqueeze(1)).long()
    ids = torch.where(mask.bool(), torch.randint(5, 100, (num_rows, num_tok), generator=g), pad_id)
    holes = (
        (torch.rand(num_rows, num_tok, generator=g) < 0.15) & (columns > 0) & (columns < lengths[:, None] - 1)
    )
    mask[holes] = 0  # masked tokens inside an utterance: the row still needs its full length
    return ids, mask


def _one_call(encoder: MCNCLTextEncoder, ids, mask) -> torch.Tensor:
    budget = encoder.token_budget
    encoder.token_budget = 0
    try:
        return encoder.encode_tokens(ids, mask)
    finally:
        encoder.token_budget = budget


@pytest.mark.parametrize("text_config", [TINY_TEXT_CONFIG, ROBERTA], ids=["bert", "roberta"])
@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_buckets_give_each_utterance_the_padded_output_and_gradients(text_config, pooling):
    encoder = _encoder(text_config, pooling)
    encoder.token_budget = 60  # several calls, some cut by the budget
    pad_id = text_config.get("pad_token_id", 0)
    ids, mask = _tokens(23, 17, pad_id)
    calls = []
    handle = encoder.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    bucketed = encoder.encode_tokens(ids, mask)
    handle.remove()
    reference = _one_call(encoder, ids, mask)
    torch.testing.assert_close(bucketed, reference, atol=1e-5, rtol=1e-5)
    # fewer padded tokens, every call within the budget, every row exactly once
    assert len(calls) > 1 and all(n * t <= 60 or n == 1 for n, t in calls)
    assert sum(n for n, _ in calls) == ids.shape[0]
    assert sum(n * t for n, t in calls) < ids.numel()

    weight = torch.randn_like(reference)  # a loss that weighs every output differently
    params = [p for p in encoder.encoder.parameters()]
    got = torch.autograd.grad((encoder.encode_tokens(ids, mask) * weight).sum(), params)
    want = torch.autograd.grad((_one_call(encoder, ids, mask) * weight).sum(), params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    assert any(g.abs().sum() > 0 for g in got)


def test_model_forward_with_absent_utterances_is_unchanged():
    """Through the whole text encoder: holes in the utterance mask (absent rows) and padded dialogues."""
    encoder = _encoder(TINY_TEXT_CONFIG, "mean")
    ids, mask = _tokens(2 * 9, 13, 0, seed=3)
    ids, mask = ids.view(2, 9, 13), mask.view(2, 9, 13)
    present = torch.ones(2, 9, dtype=torch.bool)
    present[0, 7:] = False  # padding utterances
    present[1, 2] = False  # a missing text
    bucketed = encoder(ids, mask, None, present)
    encoder.token_budget = 0
    torch.testing.assert_close(bucketed, encoder(ids, mask, None, present), atol=1e-5, rtol=1e-5)
    assert bucketed[~present].abs().sum() == 0


def test_left_padding_falls_back_to_one_call():
    encoder = _encoder(TINY_TEXT_CONFIG, "first")
    ids, mask = _tokens(6, 9, 0, seed=1)
    ids, mask = ids.flip(1), mask.flip(1)  # left padding: a shorter row's first columns are masked
    calls = []
    handle = encoder.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    out = encoder.encode_tokens(ids, mask)
    handle.remove()
    assert calls == [ids.shape]
    torch.testing.assert_close(out, _one_call(encoder, ids, mask))


def test_length_buckets_cover_every_row_once_and_bound_padding():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 129, (300,), generator=g).tolist()
    buckets = _length_buckets(lengths, token_budget=4096, call_cost=64)
    assert sorted(i for rows in buckets for i in rows) == list(range(300))
    padded = sum(len(rows) * max(lengths[i] for i in rows) for rows in buckets)
    assert padded <= 1.3 * sum(lengths)
    assert all(len(rows) * max(lengths[i] for i in rows) <= 4096 for rows in buckets)
    # the call cost trades padding for fewer calls
    assert len(_length_buckets(lengths, 4096, call_cost=10_000)) < len(buckets)
    assert _length_buckets([5, 5, 5], 4096, 64) == [[0, 1, 2]]
