"""Training batches by an utterance budget (`mcn_cl.batching`, `MCNCLTrainer(utterances_per_batch=...)`,
`examples/train.py --utterances_per_batch`)."""

from __future__ import annotations

import random

import pytest
import torch
from datasets import Dataset
from test_trainer import make_dialogues, tiny_model, training_args
from transformers.trainer_utils import seed_worker

from mcn_cl import MCNCLDataCollator, MCNCLTrainer
from mcn_cl.batching import UtteranceBudgetBatchSampler, dialogue_lengths


def _loads(lengths, batches):
    return [sum(lengths[i] for i in b) for b in batches]


def test_every_dialogue_once_per_epoch_in_a_fixed_number_of_balanced_batches():
    rng = random.Random(0)
    lengths = [rng.randint(1, 24) for _ in range(300)] + [rng.randint(40, 110) for _ in range(20)]
    sampler = UtteranceBudgetBatchSampler(lengths, utterances_per_batch=40, seed=3)
    long = {i for i, n in enumerate(lengths) if n >= 40}
    short_total = sum(n for n in lengths if n < 40)
    assert len(sampler) == len(long) + -(-short_total // 40)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        epochs.append(batches)
        assert len(batches) == len(sampler)
        assert sorted(i for b in batches for i in b) == list(
            range(len(lengths))
        )  # each dialogue exactly once
        for batch, load in zip(batches, _loads(lengths, batches)):
            assert batch, "no empty batch"
            if any(i in long for i in batch):
                assert len(batch) == 1  # a dialogue over the budget is a batch of its own
            else:
                assert load < 40 + 24  # balanced: at most one short dialogue over the budget
        short_loads = [load for b, load in zip(batches, _loads(lengths, batches)) if b[0] not in long]
        assert sum(short_loads) / len(short_loads) == pytest.approx(short_total / len(short_loads))
        assert max(short_loads) - min(short_loads) <= 24
    assert epochs[0] != epochs[1] != epochs[2]  # reshuffled every epoch
    again = UtteranceBudgetBatchSampler(lengths, utterances_per_batch=40, seed=3)
    again.set_epoch(1)
    assert list(again) == epochs[1]  # the same on every process: seed + epoch only
    other = UtteranceBudgetBatchSampler(lengths, utterances_per_batch=40, seed=4)
    assert other.batches(1) != epochs[1]


def test_long_dialogues_are_one_per_batch_and_short_ones_share():
    assert sorted(UtteranceBudgetBatchSampler([60, 80, 100], 40).batches(0)) == [[0], [1], [2]]
    sampler = UtteranceBudgetBatchSampler([10] * 12, 40)
    assert len(sampler) == 3 and sorted(len(b) for b in sampler.batches(0)) == [4, 4, 4]


@pytest.mark.parametrize("budget", [0, -3, 2.5, True, "40"])
def test_a_bad_budget_is_refused(budget):
    with pytest.raises(ValueError, match="utterances_per_batch"):
        UtteranceBudgetBatchSampler([3, 4], budget)


def test_dialogue_lengths_of_a_dataset_and_of_rows():
    rows = make_dialogues(5)
    expected = [len(r["labels"]) for r in rows]
    assert dialogue_lengths(Dataset.from_list(rows)) == expected
    assert dialogue_lengths([{"speakers": r["speakers"]} for r in rows]) == expected
    with pytest.raises(ValueError, match="dialogue 1 has no per-utterance key"):
        dialogue_lengths([{"labels": [0]}, {"dialogue_id": "x"}])
    with pytest.raises(ValueError, match="no per-utterance column"):
        dialogue_lengths(Dataset.from_list([{"dialogue_id": "x"}]))


def test_the_trainer_batches_by_the_budget_and_trains(tmp_path):
    dialogues = make_dialogues(12)  # 3..6 utterances each
    lengths = [len(d["labels"]) for d in dialogues]
    trainer = MCNCLTrainer(
        model=tiny_model(),
        args=training_args(tmp_path, per_device_train_batch_size=1, num_train_epochs=2),
        train_dataset=Dataset.from_list(dialogues),
        data_collator=MCNCLDataCollator(),
        utterances_per_batch=10,
    )
    loader = trainer.get_train_dataloader()
    expected = UtteranceBudgetBatchSampler(lengths, 10, seed=trainer.args.seed)
    assert len(loader) == len(expected) == -(-sum(lengths) // 10)  # not 12 (one dialogue per batch)
    seen = [batch["utterance_mask"].sum().item() for batch in loader]
    assert sum(seen) == sum(lengths) and max(seen) < 10 + 6
    assert sorted(seen) == sorted(_loads(lengths, expected.batches(0)))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    result = trainer.train()
    assert trainer.state.global_step == 2 * len(expected)
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_the_trainer_refuses_a_bad_budget(tmp_path):
    with pytest.raises(ValueError, match="utterances_per_batch"):
        MCNCLTrainer(
            model=tiny_model(),
            args=training_args(tmp_path),
            train_dataset=Dataset.from_list(make_dialogues(2)),
            data_collator=MCNCLDataCollator(),
            utterances_per_batch=0,
        )


def test_the_budget_loader_takes_the_trainers_worker_settings(tmp_path):
    """With workers, the budget loader is built as the `Trainer` builds its own: seeded workers, prefetch factor,
    and the same batches as in the main process."""
    dialogues = make_dialogues(8)

    def loader(**overrides):
        return MCNCLTrainer(
            model=tiny_model(),
            args=training_args(tmp_path, per_device_train_batch_size=1, **overrides),
            train_dataset=Dataset.from_list(dialogues),
            data_collator=MCNCLDataCollator(),
            utterances_per_batch=10,
        ).get_train_dataloader()

    in_process = [batch["utterance_mask"].sum().item() for batch in loader()]
    with_workers = loader(dataloader_num_workers=2, dataloader_prefetch_factor=3)
    assert with_workers.num_workers == 2 and with_workers.prefetch_factor == 3
    assert with_workers.worker_init_fn.func is seed_worker
    assert [batch["utterance_mask"].sum().item() for batch in with_workers] == in_process
