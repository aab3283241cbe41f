# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Training batches by an utterance budget instead of a dialogue count.

A batch of MCN-CL is a list of whole dialogues (the context encoders and the MCN need them whole). With a fixed
number of dialogues per batch, the amount of data per optimizer step depends on the corpus: 4 MELD dialogues are
about 40 utterances, 4 IEMOCAP dialogues about 300, so one epoch of a corpus of few, long dialogues is a few dozen
optimizer steps and a fresh model barely moves in it (BENCHMARKS.md, "Long dialogues"). [`UtteranceBudgetBatchSampler`]
fills each batch with dialogues up to a number of utterances instead (`utterances_per_batch`), so both shapes get
about the same data per step: about 4 MELD dialogues, and one long dialogue alone (a dialogue longer than the
budget is never cut: it is a batch of its own).

    >>> from mcn_cl.batching import UtteranceBudgetBatchSampler
    >>> sampler = UtteranceBudgetBatchSampler([10, 12, 80, 9, 11], utterances_per_batch=40, seed=0)
    >>> len(sampler), sorted(sorted(b) for b in sampler)
    (3, [[0, 4], [1, 3], [2]])

[`~mcn_cl.MCNCLTrainer`] uses it with `utterances_per_batch=` (`examples/train.py --utterances_per_batch`); its
batches are global (the same on every process, seeded by the epoch) and `accelerate` deals them out to the
processes.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Sampler

from .processing.padding_mcn_cl import PER_UTTERANCE_KEYS


def check_budget(utterances_per_batch: Any) -> int:
    """`utterances_per_batch` if it is a whole number >= 1, else a `ValueError` naming it."""
    if isinstance(utterances_per_batch, bool) or not isinstance(utterances_per_batch, int):
        raise ValueError(f"utterances_per_batch must be a whole number, got {utterances_per_batch!r}")
    if utterances_per_batch < 1:
        raise ValueError(f"utterances_per_batch must be >= 1, got {utterances_per_batch}")
    return utterances_per_batch


def dialogue_lengths(dataset: Any) -> list[int]:
    """The number of utterances of each dialogue of a dataset of dialogue rows (a `datasets.Dataset` or a sequence
    of dicts), read from its first per-utterance column (`PER_UTTERANCE_KEYS`: `labels`, `speakers`, ...)."""
    names = getattr(dataset, "column_names", None)
    if names is not None:
        for key in PER_UTTERANCE_KEYS:
            if key in names:
                return [len(value) for value in dataset[key]]
        raise ValueError(
            f"utterances_per_batch: the training dataset has no per-utterance column ({', '.join(PER_UTTERANCE_KEYS)})"
        )
    lengths = []
    for index, row in enumerate(dataset):
        key = next((k for k in PER_UTTERANCE_KEYS if row.get(k) is not None), None)
        if key is None:
            raise ValueError(f"utterances_per_batch: dialogue {index} has no per-utterance key")
        lengths.append(len(row[key]))
    return lengths


class UtteranceBudgetBatchSampler(Sampler[list[int]]):
    """Batches of whole dialogues holding about `utterances_per_batch` utterances each.

    A dialogue of at least `utterances_per_batch` utterances is a batch of its own; the shorter ones are spread over
    ceil(their utterances / budget) batches, each going (in a shuffled order) to the one that holds the fewest
    utterances so far, so those batches come out balanced around the budget and none is empty. The number of
    batches is the same every epoch (the `Trainer`'s schedule counts on it); the shuffles (of the dialogues and of
    the batch order) are seeded by `seed` and the epoch, the same on every process.

    Args:
        lengths (`Sequence[int]`): utterances per dialogue ([`dialogue_lengths`]).
        utterances_per_batch (`int`): the budget (>= 1).
        seed (`int`, *optional*, defaults to 0): the shuffling seed.
    """

    def __init__(self, lengths: Sequence[int], utterances_per_batch: int, seed: int = 0):
        check_budget(utterances_per_batch)
        self.lengths = [int(n) for n in lengths]
        if not self.lengths:
            raise ValueError("utterances_per_batch: the training dataset is empty")
        if min(self.lengths) < 1:
            index = min(range(len(self.lengths)), key=self.lengths.__getitem__)
            raise ValueError(f"utterances_per_batch: dialogue {index} has no utterance")
        self.utterances_per_batch = utterances_per_batch
        self.seed = seed
        self.epoch = 0
        self.long = [i for i, n in enumerate(self.lengths) if n >= utterances_per_batch]
        self.short = [i for i, n in enumerate(self.lengths) if n < utterances_per_batch]
        self.num_short_batches = math.ceil(sum(self.lengths[i] for i in self.short) / utterances_per_batch)

    def set_epoch(self, epoch: int) -> None:
        """Called by the `Trainer` before each epoch: the epoch's shuffle."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.long) + self.num_short_batches

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches (lists of dialogue indices) of one epoch."""
        rng = random.Random(self.seed * 1_000_003 + epoch)
        short = list(self.short)
        rng.shuffle(short)
        filled: list[list[int]] = [[] for _ in range(self.num_short_batches)]
        heap = [
            (0, b) for b in range(self.num_short_batches)
        ]  # (utterances so far, batch): the lightest on top
        for index in short:
            load, lightest = heapq.heappop(heap)
            filled[lightest].append(index)
            heapq.heappush(heap, (load + self.lengths[index], lightest))
        batches = [[index] for index in self.long] + filled
        rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches(self.epoch)


__all__ = ["UtteranceBudgetBatchSampler", "check_budget", "dialogue_lengths"]
