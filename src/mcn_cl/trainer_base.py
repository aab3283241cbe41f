# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What the two models' trainers (`trainer_mcn_cl.MCNCLTrainer`, `trainer_mcihn.MCIHNTrainer`) and training
scripts share: the logging of named loss terms (`LossTermLog`) and finding the last complete `checkpoint-N` folder
to resume from."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence

import torch
from transformers.trainer import TRAINER_STATE_NAME
from transformers.utils import logging

logger = logging.get_logger(__name__)

_CHECKPOINT = re.compile(r"checkpoint-(\d+)")  # the Trainer's checkpoint folders


def checkpoint_is_complete(folder: str | os.PathLike) -> bool:
    """Whether a `checkpoint-N` folder was saved to the end: the `Trainer` writes `trainer_state.json` last (after
    the weights, optimizer, scheduler and RNG states), so a folder whose save was killed halfway lacks it or holds
    it truncated."""
    path = os.path.join(os.fspath(folder), TRAINER_STATE_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            json.load(f)
    except (OSError, ValueError):
        return False
    return True


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest complete `checkpoint-N` folder of `output_dir` (see `checkpoint_is_complete`), or `None`.

    Incomplete ones (a save killed halfway) are skipped with a warning naming them; the chosen one is logged.
    """
    output_dir = os.fspath(output_dir)
    if not os.path.isdir(output_dir):
        return None
    found = []
    for name in os.listdir(output_dir):
        m = _CHECKPOINT.fullmatch(name)
        if m and os.path.isdir(os.path.join(output_dir, name)):
            found.append((int(m[1]), os.path.join(output_dir, name)))
    skipped = []
    for _, folder in sorted(found, reverse=True):
        if checkpoint_is_complete(folder):
            if skipped:
                logger.warning(
                    "skipping incomplete checkpoint(s) (no readable %s: the save was interrupted): %s",
                    TRAINER_STATE_NAME,
                    ", ".join(skipped),
                )
            logger.info("last complete checkpoint: %s", folder)
            return folder
        skipped.append(folder)
    if skipped:
        logger.warning("no complete checkpoint in %s; incomplete: %s", output_dir, ", ".join(skipped))
    return None


class LossTermLog:
    """Running sums of a trainer's named loss terms over one logging window, written into the training logs as
    `loss_<name>`: unweighted means over the window's micro-batches and the processes.

    The `Trainer` calls `log` with the training `loss` at every logging step, on every process at the same time, so
    [`flush`] sums over the processes there (one `all_reduce`)."""

    def __init__(self, names: Sequence[str], device: torch.device | str):
        self.names = tuple(names)
        self.sums = torch.zeros(len(self.names), device=device, dtype=torch.float64)
        self.counts = torch.zeros(len(self.names), device=device, dtype=torch.float64)

    def add(self, terms: Mapping[str, torch.Tensor]) -> None:
        """Add one micro-batch's terms (scalar tensors; a name missing from `terms` is not counted)."""
        with torch.no_grad():
            for index, name in enumerate(self.names):
                if name in terms:
                    self.sums[index] += terms[name].detach().to(self.sums)
                    self.counts[index] += 1

    def flush(self, logs: dict[str, float], accelerator, world_size: int) -> None:
        """Write the window's means into `logs` (terms seen at least once) and start a new window."""
        stats = torch.cat([self.sums, self.counts])
        if world_size > 1:
            stats = accelerator.reduce(stats, reduction="sum")
        sums, counts = stats.split(len(self.names))
        for name, total, count in zip(self.names, sums.tolist(), counts.tolist()):
            if count > 0:
                logs[f"loss_{name}"] = round(total / count, 6)
        self.sums.zero_()
        self.counts.zero_()


__all__ = ["LossTermLog", "checkpoint_is_complete", "last_complete_checkpoint"]
