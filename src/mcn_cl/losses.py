# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The supervised contrastive terms of MCN-CL (paper eqs. 24-27), with hard negatives.

This module is the one place where the per-modality contrastive loss is computed: the Trainer calls
[`contrastive_terms`], which flattens the model's `[B, N, P]` embeddings and hands them to
[`HardNegativeSupConLoss`].

Eq. 24 as printed adds the positives to the denominator twice (once inside the sum over all
`k != i`, once in the extra sum over `P_i`). We follow the standard supervised contrastive loss
(Khosla et al., 2020) that eq. 24 cites in spirit: the denominator of anchor `i` is the sum over
every other valid sample, i.e. its positives plus its negatives. Eq. 26 then keeps only the hard
negatives, so `hard_negative_ratio=1.0` gives exactly that plain loss.

Distributed training (several processes, `torch.distributed` initialised): the embeddings of all
ranks are gathered with an autograd-aware `all_gather`, so each local anchor sees the global batch as
candidates, and the gradient of a sample used as a candidate on another rank flows back to the rank
that owns it. Each rank returns `world_size * sum(local anchor losses) / (number of anchors with a
positive in the global batch)`: the mean of these values over the ranks is the loss of the global
batch, and after DDP averages the gradients over the ranks, the parameters receive exactly the
gradient of that global loss (the same gradient one process would compute on the concatenated batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from transformers.utils import logging

from .modeling.configuration_mcn_cl import MODALITIES

logger = logging.get_logger(__name__)

# tolerance of ceil(ratio * n): 0.3 * 10 is 3.0000000000000004 in floating point and must give 3, not 4
_CEIL_TOLERANCE = 1e-6


def _distributed_world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def num_hard_negatives(num_negatives: torch.Tensor, ratio: float) -> torch.Tensor:
    """`ceil(ratio * |N_i|)` per anchor (eq. 25), robust to floating-point noise in the product.

    Args:
        num_negatives (`torch.Tensor` of shape `[M]`): number of negatives of each anchor.
        ratio (`float`): the hard-negative ratio rho in (0, 1].

    Returns:
        `torch.LongTensor` of shape `[M]`, at most `num_negatives`.
    """
    k = torch.ceil(num_negatives.double() * ratio - _CEIL_TOLERANCE).clamp(min=0).long()
    return torch.minimum(k, num_negatives.long())


def hard_negative_supcon_per_anchor(
    anchors: torch.Tensor,
    anchor_labels: torch.Tensor,
    anchor_valid: torch.Tensor,
    candidates: torch.Tensor,
    candidate_labels: torch.Tensor,
    candidate_valid: torch.Tensor,
    anchor_positions: torch.Tensor,
    temperature: float,
    hard_negative_ratio: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 26 for each anchor against a set of candidates (vectorised, no loop over anchors).

    Args:
        anchors (`torch.Tensor` of shape `[A, P]`): L2-normalised anchor embeddings.
        anchor_labels (`torch.Tensor` of shape `[A]`), anchor_valid (`torch.BoolTensor` of shape `[A]`).
        candidates (`torch.Tensor` of shape `[C, P]`): L2-normalised candidate embeddings (the anchors are among
            them).
        candidate_labels (`torch.Tensor` of shape `[C]`), candidate_valid (`torch.BoolTensor` of shape `[C]`).
        anchor_positions (`torch.LongTensor` of shape `[A]`): index of each anchor among the candidates (excluded
            from its own positives and negatives).
        temperature (`float`): tau.
        hard_negative_ratio (`float`): rho; the `ceil(rho * |N_i|)` most similar negatives enter the denominator.

    Returns:
        `(loss, has_positive)`: per-anchor losses `[A]` (0 where the anchor has no positive or is invalid) and the
        `torch.BoolTensor` `[A]` of anchors that count in the mean.
    """
    num_candidates = candidates.shape[0]
    logits = anchors.float() @ candidates.float().T / temperature  # [A, C]: cosine similarity / tau

    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[torch.arange(anchors.shape[0], device=logits.device), anchor_positions] = True
    pair_valid = anchor_valid[:, None] & candidate_valid[None, :] & ~is_self
    same_label = anchor_labels[:, None] == candidate_labels[None, :]
    positives = pair_valid & same_label
    negatives = pair_valid & ~same_label

    # rank of every negative among its anchor's negatives (0 = most similar); non-negatives sort last
    k = num_hard_negatives(negatives.sum(dim=1), hard_negative_ratio)  # [A]
    neg_scores = logits.detach().masked_fill(~negatives, float("-inf"))
    order = neg_scores.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(num_candidates, device=logits.device).expand_as(order))
    hard_negatives = negatives & (ranks < k[:, None])

    num_positives = positives.sum(dim=1)
    has_positive = num_positives > 0
    in_denominator = positives | hard_negatives
    # rows without any term (skipped anchors) get a finite dummy row so that no -inf/NaN reaches the gradient
    denominator_logits = logits.masked_fill(~in_denominator, float("-inf")).masked_fill(
        ~has_positive[:, None], 0.0
    )
    log_denominator = torch.logsumexp(denominator_logits, dim=1)  # [A]
    mean_positive_logit = (logits * positives).sum(dim=1) / num_positives.clamp(min=1)
    loss = (log_denominator - mean_positive_logit) * has_positive
    return loss, has_positive


class _AllGatherWithGrad(torch.autograd.Function):
    """`all_gather` whose backward sums every rank's gradient for the local slice (a reduce-scatter).

    `torch.distributed.nn.functional.all_gather` does the same but emulates the reduce-scatter with
    scatters on gloo; this one uses one `all_reduce`, which every backend supports.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        world_size = dist.get_world_size()
        ctx.rank = dist.get_rank()
        ctx.size = tensor.shape[0]
        gathered = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(gathered, tensor.contiguous())
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.size : (ctx.rank + 1) * ctx.size]


def _all_gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor.contiguous())
    return torch.cat(gathered, dim=0)


class HardNegativeSupConLoss(nn.Module):
    """Supervised contrastive loss with hard negatives (eqs. 25-26), averaged over the anchors.

    For anchor `i` (a valid sample): positives `P_i` = the other valid samples with its label; negatives
    `N_i` = the valid samples with another label; hard negatives = the `ceil(rho * |N_i|)` negatives most
    cosine-similar to `i` (ties broken by sample index). With `s_ij = sim(z_i, z_j) / tau`:

        l_i = -1/|P_i| * sum_{p in P_i} log( exp(s_ip) / (sum_{n in N_i^hard} exp(s_in) + sum_{p' in P_i} exp(s_ip')) )

    Anchors without a positive are skipped; the loss is the mean of `l_i` over the remaining anchors, and 0
    (still attached to the graph) when there is none. `hard_negative_ratio=1.0` is the plain supervised
    contrastive loss (every other sample in the denominator).

    Args:
        temperature (`float`, *optional*, defaults to 0.1): tau.
        hard_negative_ratio (`float`, *optional*, defaults to 0.3): rho in (0, 1] (the paper's top 30 %).
        gather_distributed (`bool`, *optional*): gather candidates from all ranks when `torch.distributed` is
            initialised with several processes (see the module docstring for the gradient scaling). `None`
            (default) does so whenever the world size is above 1.

    Example:

    ```python
    >>> import torch
    >>> from mcn_cl.losses import HardNegativeSupConLoss

    >>> loss_fn = HardNegativeSupConLoss(temperature=0.1, hard_negative_ratio=0.3)
    >>> z = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    >>> loss = loss_fn(z, torch.tensor([0, 0, 1, 1, 2, 2, 0, 1]))
    ```
    """

    def __init__(
        self,
        temperature: float = 0.1,
        hard_negative_ratio: float = 0.3,
        gather_distributed: bool | None = None,
    ):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"HardNegativeSupConLoss.temperature must be > 0, got {temperature!r}")
        if not 0.0 < hard_negative_ratio <= 1.0:
            raise ValueError(
                f"HardNegativeSupConLoss.hard_negative_ratio must be in (0, 1], got {hard_negative_ratio!r}"
            )
        self.temperature = float(temperature)
        self.hard_negative_ratio = float(hard_negative_ratio)
        self.gather_distributed = gather_distributed

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, hard_negative_ratio={self.hard_negative_ratio}"

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """
        Args:
            embeddings (`torch.Tensor` of shape `[M, P]`): L2-normalised embeddings of one modality.
            labels (`torch.LongTensor` of shape `[M]`): class ids.
            mask (`torch.BoolTensor` of shape `[M]`, *optional*): 1 = the sample takes part (as anchor and
                candidate). Defaults to all samples.

        Returns:
            Scalar `torch.Tensor`: the loss of this process (see the class docstring; in distributed mode, the
            mean over the ranks is the loss of the global batch).
        """
        if embeddings.dim() != 2:
            raise ValueError(
                f"HardNegativeSupConLoss: embeddings must be [M, P], got shape {tuple(embeddings.shape)}"
            )
        if labels.shape != embeddings.shape[:1]:
            raise ValueError(
                f"HardNegativeSupConLoss: labels shape {tuple(labels.shape)} does not match embeddings "
                f"{tuple(embeddings.shape)}"
            )
        valid = torch.ones_like(labels, dtype=torch.bool) if mask is None else mask.bool()
        if valid.shape != labels.shape:
            raise ValueError(
                f"HardNegativeSupConLoss: mask shape {tuple(valid.shape)} != labels {tuple(labels.shape)}"
            )
        labels = labels.long()

        world_size = _distributed_world_size()
        gather = self.gather_distributed if self.gather_distributed is not None else world_size > 1
        if not gather or world_size == 1:
            losses, has_positive = hard_negative_supcon_per_anchor(
                embeddings,
                labels,
                valid,
                embeddings,
                labels,
                valid,
                torch.arange(embeddings.shape[0], device=embeddings.device),
                self.temperature,
                self.hard_negative_ratio,
            )
            return losses.sum() / has_positive.sum().clamp(min=1)
        return self._distributed_forward(embeddings, labels, valid, world_size)

    def _distributed_forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, world_size: int
    ) -> torch.Tensor:
        device = embeddings.device
        count = torch.tensor([embeddings.shape[0]], device=device, dtype=torch.long)
        max_count = int(_all_gather_no_grad(count).max())
        pad = max_count - embeddings.shape[0]
        # ranks may hold different numbers of utterances: pad to the largest, padding rows are invalid
        padded = nn.functional.pad(embeddings, (0, 0, 0, pad))
        padded_labels = nn.functional.pad(labels, (0, pad), value=-100)
        padded_valid = nn.functional.pad(valid, (0, pad), value=False)

        candidates = _AllGatherWithGrad.apply(padded)
        candidate_labels = _all_gather_no_grad(padded_labels)
        candidate_valid = _all_gather_no_grad(padded_valid.to(torch.uint8)).bool()

        offset = dist.get_rank() * max_count
        losses, has_positive = hard_negative_supcon_per_anchor(
            padded,
            padded_labels,
            padded_valid,
            candidates,
            candidate_labels,
            candidate_valid,
            torch.arange(max_count, device=device) + offset,
            self.temperature,
            self.hard_negative_ratio,
        )
        num_anchors = has_positive.sum().detach().clone()
        dist.all_reduce(num_anchors, op=dist.ReduceOp.SUM)
        # x world_size: DDP averages the ranks' gradients, the sum over the ranks is the global gradient
        return losses.sum() * world_size / num_anchors.clamp(min=1)


def contrastive_terms(
    outputs: Any,
    labels: torch.Tensor,
    config: Any,
    gather: bool | None = None,
    modalities: tuple[str, ...] | None = None,
) -> dict[str, torch.Tensor]:
    """The per-modality contrastive losses of a model output (the terms of eq. 27, before alpha/beta/gamma).

    Args:
        outputs (`MCNCLOutput`): with `text_embeds` / `audio_embeds` / `visual_embeds` `[B, N, P]` (or `None` when
            that modality is absent from the batch) and the effective `modality_mask` `[B, N, 3]`.
        labels (`torch.LongTensor` of shape `[B, N]`): -100 (or any negative id) = padding / unlabelled, left out.
        config (`MCNCLConfig`): supplies `contrastive_temperature`, `hard_negative_ratio` and
            `contrastive_weights` (a modality whose weight is 0 is not computed).
        gather (`bool`, *optional*): gather across processes (`None`: whenever the world size is above 1).
        modalities (`tuple[str]`, *optional*): restrict to these modalities (default: all three).

    Returns:
        `dict` modality name -> scalar loss, for each modality present in the batch (in distributed mode: present
        on any rank) with a non-zero weight.
    """
    loss_fn = HardNegativeSupConLoss(config.contrastive_temperature, config.hard_negative_ratio, gather)
    weights: Mapping[str, float] = config.contrastive_weights
    wanted = [m for m in (modalities or MODALITIES) if weights.get(m, 0.0) != 0.0]
    embeds = {m: getattr(outputs, f"{m}_embeds", None) for m in wanted}
    modality_mask = outputs.modality_mask

    world_size = _distributed_world_size()
    distributed = (gather if gather is not None else True) and world_size > 1
    present = {m: embeds[m] is not None for m in wanted}
    if distributed and wanted:
        # every rank must run the same collectives: a modality present on any rank is computed on all of them
        flags = torch.tensor([float(present[m]) for m in wanted], device=labels.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        present = {m: bool(flag) for m, flag in zip(wanted, flags.tolist())}

    terms: dict[str, torch.Tensor] = {}
    for index, modality in enumerate(MODALITIES):
        if modality not in wanted or not present[modality]:
            continue
        embedding = embeds[modality]
        if embedding is None:  # absent here but present on another rank: take part with no sample
            embedding = torch.zeros(
                0, config.projection_size, device=labels.device, dtype=torch.float32, requires_grad=True
            )
            flat_labels = labels.new_zeros(0)
            flat_valid = torch.zeros(0, dtype=torch.bool, device=labels.device)
        else:
            embedding = embedding.reshape(-1, embedding.shape[-1])
            flat_labels = labels.reshape(-1)
            flat_valid = modality_mask[..., index].reshape(-1).bool() & (flat_labels >= 0)
        terms[modality] = loss_fn(embedding, flat_labels, flat_valid)
    return terms


__all__ = [
    "HardNegativeSupConLoss",
    "contrastive_terms",
    "hard_negative_supcon_per_anchor",
    "num_hard_negatives",
]
