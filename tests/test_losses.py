"""Tests of the hard-negative supervised contrastive loss (eqs. 24-26) and of `contrastive_terms`."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mcn_cl.losses import HardNegativeSupConLoss, contrastive_terms


def reference_loss(z, labels, mask, temperature, ratio):
    """Eq. 26 written as plainly as possible: one anchor at a time, Python lists, math.exp/log."""
    z = z.double()
    n = len(labels)
    total, anchors = 0.0, 0
    for i in range(n):
        if not mask[i]:
            continue
        sim = {j: float(z[i] @ z[j]) / temperature for j in range(n) if j != i and mask[j]}
        positives = [j for j in sim if labels[j] == labels[i]]
        negatives = [j for j in sim if labels[j] != labels[i]]
        if not positives:
            continue
        k = math.ceil(round(ratio * len(negatives), 9))
        hard = sorted(negatives, key=lambda j: -sim[j])[:k]
        denominator = sum(math.exp(sim[j]) for j in hard) + sum(math.exp(sim[p]) for p in positives)
        total += -sum(math.log(math.exp(sim[p]) / denominator) for p in positives) / len(positives)
        anchors += 1
    return total / anchors if anchors else 0.0


def random_batch(seed, m=24, p=8, classes=4):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(m, p, generator=g), dim=-1)
    labels = torch.randint(0, classes, (m,), generator=g)
    mask = torch.rand(m, generator=g) > 0.15
    return z, labels, mask


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_matches_reference_loop(ratio, seed):
    z, labels, mask = random_batch(seed)
    got = HardNegativeSupConLoss(temperature=0.2, hard_negative_ratio=ratio)(z, labels, mask)
    assert got.item() == pytest.approx(reference_loss(z, labels, mask, 0.2, ratio), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("ratio", [0.3, 1.0])
def test_loss_matches_reference_with_tied_similarities(ratio):
    z, labels, _ = random_batch(3, m=12)
    z[5] = z[4]  # duplicated embeddings: tied similarities for every anchor
    z[9] = z[4]
    labels[4], labels[5], labels[9] = 0, 1, 2
    mask = torch.ones(12, dtype=torch.bool)
    got = HardNegativeSupConLoss(0.1, ratio)(z, labels, mask)
    assert got.item() == pytest.approx(reference_loss(z, labels, mask, 0.1, ratio), rel=1e-5)


def test_singleton_class_anchor_is_skipped_but_still_a_negative():
    z, _, _ = random_batch(4, m=9)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3])  # class 3 has one member
    mask = torch.ones(9, dtype=torch.bool)
    loss_fn = HardNegativeSupConLoss(0.1, 0.3)
    assert loss_fn(z, labels, mask).item() == pytest.approx(
        reference_loss(z, labels, mask, 0.1, 0.3), rel=1e-5
    )
    # moving the singleton changes the loss (it is a negative of the others) ...
    z_moved = z.clone()
    z_moved[8] = z[0]
    assert loss_fn(z_moved, labels, mask).item() != pytest.approx(loss_fn(z, labels, mask).item())


def test_ratio_one_equals_plain_supcon_over_all_other_samples():
    z, labels, mask = random_batch(5)
    logits = z @ z.T / 0.1
    n = len(labels)
    eye = torch.eye(n, dtype=torch.bool)
    valid = mask[:, None] & mask[None, :] & ~eye
    pos = valid & (labels[:, None] == labels[None, :])
    log_prob = logits - torch.logsumexp(logits.masked_fill(~valid, float("-inf")), dim=1, keepdim=True)
    keep = pos.sum(1) > 0
    plain = (-(log_prob * pos).sum(1)[keep] / pos.sum(1)[keep]).mean()
    got = HardNegativeSupConLoss(0.1, 1.0)(z, labels, mask)
    assert got.item() == pytest.approx(plain.item(), rel=1e-5)


def test_no_positive_anywhere_gives_zero_with_gradient():
    z = F.normalize(torch.randn(4, 6), dim=-1).requires_grad_()
    loss = HardNegativeSupConLoss(0.1, 0.3)(z, torch.arange(4))
    assert loss.item() == 0.0
    assert loss.requires_grad  # still part of the graph: the Trainer can call backward on the total
    loss.backward()
    assert z.grad is not None and torch.equal(z.grad, torch.zeros_like(z))  # and it moves nothing


def test_gradients_are_finite_with_masked_samples():
    z, labels, mask = random_batch(6)
    z.requires_grad_()
    HardNegativeSupConLoss(0.05, 0.3)(z, labels, mask).backward()
    assert (z.grad[~mask] == 0).all()  # masked samples take no part
    # the kept samples get the gradient of the loss over them alone, and every anchor with a positive moves
    kept = z.detach()[mask].clone().requires_grad_()
    HardNegativeSupConLoss(0.05, 0.3)(kept, labels[mask]).backward()
    torch.testing.assert_close(z.grad[mask], kept.grad)
    has_positive = (labels[mask][:, None] == labels[mask][None, :]).sum(1) > 1
    assert (z.grad[mask][has_positive].norm(dim=-1) > 0).all()


def test_invalid_ratio_raises():
    with pytest.raises(ValueError, match="hard_negative_ratio"):
        HardNegativeSupConLoss(0.1, 0.0)


def test_contrastive_terms_flattens_masks_and_skips_absent_or_zero_weight_modalities():
    z, labels, mask = random_batch(7, m=12)
    embeds = z.reshape(2, 6, -1)
    modality_mask = torch.ones(2, 6, 3, dtype=torch.bool)
    modality_mask[..., 0] = mask.reshape(2, 6)
    batch_labels = labels.reshape(2, 6).clone()
    batch_labels[1, 5] = -100
    outputs = SimpleNamespace(
        text_embeds=embeds, audio_embeds=embeds, visual_embeds=None, modality_mask=modality_mask
    )
    config = SimpleNamespace(
        contrastive_temperature=0.1,
        hard_negative_ratio=0.3,
        contrastive_weights={"text": 1.0, "audio": 0.0, "visual": 1.0},
        projection_size=8,
    )
    terms = contrastive_terms(outputs, batch_labels, config)
    assert set(terms) == {"text"}  # audio has weight 0, visual is absent
    flat_valid = mask & (batch_labels.reshape(-1) >= 0)
    expected = reference_loss(z, labels, flat_valid, 0.1, 0.3)
    assert terms["text"].item() == pytest.approx(expected, rel=1e-5)
