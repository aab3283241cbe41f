"""Two real gloo processes: the gathered contrastive loss of two halves equals the loss of the whole batch."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from mcn_cl.losses import HardNegativeSupConLoss

TEMPERATURE, RATIO = 0.1, 0.3
SPLIT = 13  # rank 0 holds rows [0, 13), rank 1 rows [13, 24): uneven on purpose


def fixed_batch():
    g = torch.Generator().manual_seed(11)
    z = F.normalize(torch.randn(24, 8, generator=g), dim=-1)
    labels = torch.randint(0, 4, (24,), generator=g)
    mask = torch.rand(24, generator=g) > 0.1
    return z, labels, mask


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        z, labels, mask = fixed_batch()
        rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
        local = z[rows].clone().requires_grad_()
        loss = HardNegativeSupConLoss(TEMPERATURE, RATIO)(local, labels[rows], mask[rows])
        loss.backward()
        results[rank] = (loss.item(), local.grad.clone())
    finally:
        dist.destroy_process_group()


def test_gathered_loss_and_gradient_of_two_ranks_equal_single_process():
    z, labels, mask = fixed_batch()
    whole = z.clone().requires_grad_()
    single = HardNegativeSupConLoss(TEMPERATURE, RATIO)(whole, labels, mask)
    single.backward()

    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        results = manager.dict()
        mp.start_processes(_worker, args=(2, free_port(), results), nprocs=2, join=True, start_method="spawn")
        (loss0, grad0), (loss1, grad1) = results[0], results[1]

    # the mean over the ranks of the per-rank losses is the loss of the global batch
    assert (loss0 + loss1) / 2 == pytest.approx(single.item(), rel=1e-5)
    # DDP averages gradients over the 2 ranks: the average must be the single-process gradient
    torch.testing.assert_close(torch.cat([grad0, grad1]) / 2, whole.grad, rtol=1e-5, atol=1e-6)
