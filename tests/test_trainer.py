"""Tests of `MCNCLTrainer` (CE + contrastive objective, logged terms, resume) and `MCNCLDataCollator`."""

from __future__ import annotations

import copy
import glob
import json
import math
import os

import pytest
import torch
from conftest import make_tiny_config
from datasets import Dataset
from transformers import TrainerCallback, TrainingArguments

from mcn_cl import MCNCLDataCollator, MCNCLForEmotionRecognition, MCNCLTrainer
from mcn_cl.losses import contrastive_terms
from mcn_cl.metrics_mcn_cl import make_compute_metrics
from mcn_cl.trainer_mcn_cl import pretrained_tower_parameters

NUM_LABELS = 3


def make_dialogues(num_dialogues: int = 8, seed: int = 0) -> list[dict]:
    """Section-2 dialogue features with learnable labels: each modality carries a noisy copy of the label."""
    g = torch.Generator().manual_seed(seed)
    dialogues = []
    for d in range(num_dialogues):
        n = 3 + d % 4  # dialogues of 3..6 utterances
        labels = torch.randint(0, NUM_LABELS, (n,), generator=g)
        signal = torch.nn.functional.one_hot(labels, NUM_LABELS).float()
        audio = torch.randn(n, 20, generator=g) * 0.5
        audio[:, :NUM_LABELS] += 2 * signal
        visual = torch.randn(n, 30, generator=g) * 0.5
        visual[:, :NUM_LABELS] += 2 * signal
        tokens = [
            [1, 10 + int(y), *torch.randint(20, 100, (2 + i % 3,), generator=g).tolist()]
            for i, y in enumerate(labels)
        ]
        dialogue = {
            "dialogue_id": f"dia{d}",
            "speakers": ["A" if i % 2 == 0 else "B" for i in range(n)],
            "labels": labels.tolist(),
            "input_ids": tokens,
            "attention_mask": [[1] * len(t) for t in tokens],
            "audio_features": audio.tolist(),
            "visual_features": visual.tolist(),
        }
        if d == 1:
            dialogue["labels"][0] = -100  # an unlabelled context utterance
        dialogues.append(dialogue)
    return dialogues


def tiny_model(seed: int = 0) -> MCNCLForEmotionRecognition:
    torch.manual_seed(seed)
    config = make_tiny_config(
        id2label={0: "neg", 1: "neu", 2: "pos"},
        contrastive_weight_text=0.5,
        contrastive_weight_audio=0.5,
        contrastive_weight_visual=0.5,
        hard_negative_ratio=0.5,
    )
    return MCNCLForEmotionRecognition(config)


def training_args(output_dir, **overrides) -> TrainingArguments:
    kwargs = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        learning_rate=3e-3,
        num_train_epochs=1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        remove_unused_columns=False,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


class StopAtStep(TrainerCallback):
    """Interrupts training after `step` optimizer steps (a crash, as far as the run is concerned)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


def make_trainer(
    output_dir, model=None, train=None, callbacks=None, encoder_learning_rate=None, **overrides
) -> MCNCLTrainer:
    model = model or tiny_model()
    dataset = Dataset.from_list(train or make_dialogues())
    return MCNCLTrainer(
        model=model,
        args=training_args(output_dir, **overrides),
        train_dataset=dataset,
        eval_dataset=dataset,
        data_collator=MCNCLDataCollator(),
        compute_metrics=make_compute_metrics(model.config.id2label),
        callbacks=callbacks,
        encoder_learning_rate=encoder_learning_rate,
    )


def test_collator_pads_dialogues_of_different_lengths():
    batch = MCNCLDataCollator()(make_dialogues(3))
    assert batch["labels"].shape == (3, 5)
    assert batch["utterance_mask"].sum(dim=1).tolist() == [3, 4, 5]
    assert (batch["labels"][0, 3:] == -100).all()
    assert batch["modality_mask"].shape == (3, 5, 3)


def test_compute_loss_is_ce_plus_weighted_contrastive_terms(tmp_path):
    trainer = make_trainer(tmp_path)
    model = trainer.model
    batch = MCNCLDataCollator()(make_dialogues(4))
    loss = trainer.compute_loss(model, dict(batch))
    outputs = model(**batch)
    terms = contrastive_terms(outputs, batch["labels"], model.config)
    assert set(terms) == {"text", "audio", "visual"}
    expected = outputs.loss + sum(0.5 * t for t in terms.values())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_contrastive_weights_ramp_up_over_the_warmup_steps(tmp_path):
    """With `contrastive_warmup_steps=4` the contrastive terms enter training with (step + 1) / 4 of their weight,
    full weight from step 3 on; evaluation always uses the full weights."""
    trainer = make_trainer(tmp_path)
    trainer.contrastive_warmup_steps = 4
    model = trainer.model.train()
    batch = MCNCLDataCollator()(make_dialogues(4))
    outputs = model(**batch)
    terms = sum(0.5 * t for t in contrastive_terms(outputs, batch["labels"], model.config).values())
    for step, factor in ((0, 0.25), (1, 0.5), (3, 1.0), (10, 1.0)):
        trainer.state.global_step = step
        assert trainer.contrastive_ramp() == factor
        loss = trainer.compute_loss(model, dict(batch))
        assert loss.item() == pytest.approx((outputs.loss + factor * terms).item(), rel=1e-5)
    trainer.state.global_step = 0
    model.eval()
    assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx(
        (outputs.loss + terms).item(), rel=1e-5
    )
    with pytest.raises(ValueError, match="contrastive_warmup_steps"):
        MCNCLTrainer(model=model, args=training_args(tmp_path), contrastive_warmup_steps=-1)


def test_modality_with_zero_weight_is_not_added(tmp_path):
    model = tiny_model()
    model.config.contrastive_weight_audio = 0.0
    model.config.contrastive_weight_visual = 0.0
    model.config.contrastive_weight_text = 0.0
    trainer = make_trainer(tmp_path, model=model)
    batch = MCNCLDataCollator()(make_dialogues(4))
    loss = trainer.compute_loss(model, dict(batch))
    assert loss.item() == pytest.approx(model(**batch).loss.item(), rel=1e-6)


def test_one_epoch_lowers_the_loss(tmp_path):
    trainer = make_trainer(tmp_path, num_train_epochs=3)
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()
    assert after["eval_loss"] < before
    assert {"eval_weighted_f1", "eval_macro_f1", "eval_accuracy", "eval_f1_neg"} <= set(after)


def test_each_loss_term_is_logged(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=2)
    trainer.train()
    train_logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(train_logs) == 2
    for entry in train_logs:
        assert {"loss_ce", "loss_text", "loss_audio", "loss_visual"} <= set(entry)
        assert entry["loss_ce"] > 0 and entry["loss_text"] > 0


def _group_map(trainer) -> dict[str, dict]:
    trainer.create_optimizer()
    return {group["name"]: group for group in trainer.optimizer.param_groups}


def test_encoder_and_fusion_groups_hold_the_tower_and_the_rest(tmp_path):
    trainer = make_trainer(tmp_path, encoder_learning_rate=2e-5, learning_rate=1e-3, weight_decay=0.05)
    groups = _group_map(trainer)
    assert list(groups) == ["fusion", "fusion_no_decay", "encoder", "encoder_no_decay"]
    model = trainer.model
    text_tower = {id(p) for p in model.mcn_cl.text_encoder.encoder.parameters()}
    encoder = {id(p) for name in ("encoder", "encoder_no_decay") for p in groups[name]["params"]}
    fusion = {id(p) for name in ("fusion", "fusion_no_decay") for p in groups[name]["params"]}
    assert encoder == text_tower
    assert fusion == {id(p) for p in model.parameters()} - text_tower
    assert id(model.classifier.out_proj.weight) in fusion
    assert (
        id(model.mcn_cl.text_encoder.projection.weight) in fusion
    )  # the new projection is fusion, not tower
    assert groups["encoder"]["lr"] == groups["encoder_no_decay"]["lr"] == 2e-5
    assert groups["fusion"]["lr"] == groups["fusion_no_decay"]["lr"] == 1e-3


def test_biases_and_norm_weights_get_no_weight_decay(tmp_path):
    trainer = make_trainer(tmp_path, encoder_learning_rate=2e-5, weight_decay=0.05)
    groups = _group_map(trainer)
    no_decay = {id(p) for name in ("fusion_no_decay", "encoder_no_decay") for p in groups[name]["params"]}
    decay = {id(p) for name in ("fusion", "encoder") for p in groups[name]["params"]}
    assert groups["fusion_no_decay"]["weight_decay"] == groups["encoder_no_decay"]["weight_decay"] == 0.0
    assert groups["fusion"]["weight_decay"] == groups["encoder"]["weight_decay"] == 0.05
    for name, parameter in trainer.model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        is_bias_or_norm = leaf.startswith("bias") or "norm" in name.lower()  # GRU biases: bias_ih, bias_hh
        assert (id(parameter) in no_decay) == is_bias_or_norm, name
        assert (id(parameter) in decay) != is_bias_or_norm, name


def test_without_encoder_learning_rate_both_groups_use_the_learning_rate(tmp_path):
    groups = _group_map(make_trainer(tmp_path, learning_rate=3e-4))
    assert {group["lr"] for group in groups.values()} == {3e-4}


def test_a_frozen_text_encoder_is_left_out_of_the_optimizer(tmp_path):
    torch.manual_seed(0)
    model = MCNCLForEmotionRecognition(
        make_tiny_config(id2label={0: "neg", 1: "neu", 2: "pos"}, freeze_text_encoder=True)
    )
    groups = _group_map(make_trainer(tmp_path, model=model, encoder_learning_rate=2e-5))
    assert list(groups) == ["fusion", "fusion_no_decay"]


def test_an_unfrozen_resnet_is_a_pretrained_tower(tiny_config):
    model = MCNCLForEmotionRecognition(
        tiny_config(visual_backbone="resnet101", visual_feature_size=1000, freeze_visual_backbone=False)
    )
    towers = {id(p) for p in pretrained_tower_parameters(model)}
    assert {id(p) for p in model.get_visual_backbone().parameters()} <= towers
    assert {id(p) for p in model.mcn_cl.text_encoder.encoder.parameters()} <= towers
    assert id(model.mcn_cl.visual_encoder.projection.weight) not in towers


def test_both_learning_rates_are_logged_and_follow_one_schedule(tmp_path):
    trainer = make_trainer(
        tmp_path,
        encoder_learning_rate=1e-4,
        learning_rate=1e-3,
        max_steps=4,
        warmup_steps=2,
        lr_scheduler_type="linear",
    )
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 4
    fusion = [entry["learning_rate"] for entry in logs]
    encoder = [entry["encoder_learning_rate"] for entry in logs]
    # the rate of each step: linear warm-up over 2 steps, then linear decay to 0 at step 4
    assert fusion == pytest.approx([0.0, 5e-4, 1e-3, 5e-4])
    for f, e in zip(fusion, encoder):
        assert e == pytest.approx(f / 10)


def test_encoder_learning_rate_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="encoder_learning_rate"):
        make_trainer(tmp_path, encoder_learning_rate=0.0)


def test_loss_terms_reach_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = make_trainer(tmp_path, max_steps=1, report_to=["tensorboard"])
    trainer.train()
    event_files = glob.glob(os.path.join(tmp_path, "**", "events.out.tfevents*"), recursive=True)
    assert event_files
    accumulator = EventAccumulator(os.path.dirname(event_files[0]))
    accumulator.Reload()
    assert {"train/loss_ce", "train/loss_text", "train/loss_audio", "train/loss_visual"} <= set(
        accumulator.Tags()["scalars"]
    )


def test_resume_from_checkpoint_ends_in_the_same_weights(tmp_path):
    common = dict(max_steps=4, save_strategy="steps", save_steps=2, learning_rate=1e-2)
    full = make_trainer(tmp_path / "full", **common)
    full.train()

    interrupted = make_trainer(tmp_path / "resumed", callbacks=[StopAtStep(2)], **common)
    interrupted.train()
    assert interrupted.state.global_step == 2
    resumed = make_trainer(tmp_path / "resumed", model=tiny_model(seed=1), **common)
    resumed.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-2"))

    full_state, resumed_state = full.model.state_dict(), resumed.model.state_dict()
    for name, tensor in full_state.items():
        torch.testing.assert_close(resumed_state[name], tensor, msg=f"{name} differs after resuming")


def test_push_to_hub_card_is_ours_with_the_test_metrics(tmp_path):
    """`Trainer.push_to_hub` calls `create_model_card` right before uploading: it must write the MCN-CL card
    (metrics of test_results.json, intended use), not the Trainer's generic draft."""
    from huggingface_hub import ModelCard

    trainer = make_trainer(tmp_path)
    results = {"test_weighted_f1": 0.4321, "test_macro_f1": 0.321, "test_accuracy": 0.5, "dataset": "iemocap"}
    results.update({f"test_f1_{name}": 0.4 for name in ("neg", "neu", "pos")})
    (tmp_path / "test_results.json").write_text(json.dumps(results))
    trainer.create_model_card(model_name="mcn-cl-test", tags="my-tag")
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "transformers"
    assert "my-tag" in card.data.tags
    values = [result.metric_value for result in card.data.eval_results]
    assert any(abs(value - 0.4321) < 1e-6 for value in values), values
    assert "intended use" in card.content.lower()


def test_bf16_autocast_and_fused_adamw_train_on_cpu(tmp_path):
    """`--bf16` and `--optim adamw_torch_fused` (the Trainer's default with torch >= 2.8) through MCNCLTrainer."""
    model = tiny_model()
    initial = copy.deepcopy(model)
    trainer = make_trainer(tmp_path, model=model, bf16=True, optim="adamw_torch_fused", max_steps=2)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    optimizer = trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer") else trainer.optimizer
    assert all(group["fused"] for group in optimizer.param_groups)
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    # the same objective as in fp32: the first step's loss (same weights, same batch) within bf16's precision
    reference = make_trainer(tmp_path / "fp32", model=initial, optim="adamw_torch_fused", max_steps=2)
    reference.train()
    fp32_losses = [log["loss"] for log in reference.state.log_history if "loss" in log]
    assert len(losses) == len(fp32_losses) >= 1 and math.isfinite(losses[0])
    assert losses[0] == pytest.approx(fp32_losses[0], rel=0.05)
    assert any(not torch.equal(p, before[n]) for n, p in trainer.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # autocast: fp32 master weights
