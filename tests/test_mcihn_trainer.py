"""MCIHNTrainer: alternating discriminator / encoder updates, logged loss terms, collator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _fixtures_mcihn import TEXT_SIZE, make_mcihn_config, make_utterances
from transformers import TrainingArguments

from mcn_cl import MCIHNDataCollator, MCIHNForMultimodalSentiment, MCIHNTrainer
from mcn_cl.modeling.modeling_mcihn import mmd_rbf
from mcn_cl.processing.padding_mcihn import pad_utterances


def code_statistics(model, rows) -> tuple[float, float]:
    """(MMD of each modality's valid codes to samples of N(0, I), averaged over the modalities; reconstruction
    loss) on `rows`, in eval mode."""
    model.eval()
    with torch.no_grad():
        out = model(**pad_utterances(rows))
    generator = torch.Generator().manual_seed(123)
    distances = []
    for codes, mask in (
        (out.text_codes, out.text_code_mask),
        (out.audio_codes, out.audio_code_mask),
        (out.visual_codes, out.visual_code_mask),
    ):
        valid = codes[mask]
        distances.append(float(mmd_rbf(valid, torch.randn(valid.shape, generator=generator))))
    return float(np.mean(distances)), float(out.reconstruction_loss)


def train(tmp_path, rows, steps=80, **config_overrides):
    torch.manual_seed(0)
    config = make_mcihn_config(use_text_encoder=False, text_feature_size=TEXT_SIZE, **config_overrides)
    model = MCIHNForMultimodalSentiment(config)
    model.train()
    model(**pad_utterances(rows))  # one training-mode pass: the input standardisation's statistics, no update
    before = code_statistics(model, rows)
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"), max_steps=steps, per_device_train_batch_size=16, learning_rate=3e-3,
        lr_scheduler_type="constant", logging_steps=steps // 2, report_to="none", remove_unused_columns=False,
        use_cpu=True, save_strategy="no", seed=0, disable_tqdm=True,
    )  # fmt: skip
    trainer = MCIHNTrainer(model=model, args=args, train_dataset=rows, data_collator=MCIHNDataCollator())
    trainer.train()
    return trainer, before, code_statistics(model, rows)


def test_codes_approach_the_prior_while_reconstruction_improves(tmp_path):
    rows = make_utterances(64, seed=3)
    trainer, (mmd_before, rec_before), (mmd_after, rec_after) = train(tmp_path, rows, adversarial_weight=3.0)
    assert mmd_after < 0.75 * mmd_before  # seen: 0.53 -> 0.29
    assert rec_after < 0.6 * rec_before  # seen: 1.27 -> 0.52
    # the same run without the encoders' adversarial term: the codes stay further from the prior (seen: 0.44)
    _, _, (mmd_control, _) = train(tmp_path, rows, adversarial_weight=0.0)
    assert mmd_after < mmd_control - 0.05
    logged = [e for e in trainer.state.log_history if "loss" in e]
    for name in ("task", "reconstruction", "adversarial", "discriminator", "mmd"):
        assert all(np.isfinite(e[f"loss_{name}"]) for e in logged), name


def test_discriminators_have_their_own_optimizer_and_both_sides_move(tmp_path):
    rows = make_utterances(16, seed=1)
    torch.manual_seed(0)
    model = MCIHNForMultimodalSentiment(
        make_mcihn_config(use_text_encoder=False, text_feature_size=TEXT_SIZE)
    )
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=16, learning_rate=1e-2, report_to="none",
        remove_unused_columns=False, use_cpu=True, save_strategy="no", disable_tqdm=True,
    )  # fmt: skip
    trainer = MCIHNTrainer(
        model=model,
        args=args,
        train_dataset=rows,
        data_collator=MCIHNDataCollator(),
        discriminator_learning_rate=0.05,
    )
    discriminator = model.mcihn.autoencoders["audio"].discriminator[0].weight
    encoder = model.mcihn.autoencoders["audio"].encoder[0].weight
    before = discriminator.detach().clone(), encoder.detach().clone()
    trainer.train()
    main = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not main & {id(p) for p in model.discriminator_parameters()}
    assert id(encoder) in main
    # its own learning rate, on the Trainer's schedule (linear: 0 after the last of the max_steps=1 steps)
    assert trainer.discriminator_optimizer.param_groups[0]["initial_lr"] == 0.05
    assert trainer.discriminator_optimizer.param_groups[0]["lr"] == 0.0
    assert not torch.equal(discriminator, before[0]) and not torch.equal(encoder, before[1])


def test_collator_runs_raw_rows_through_the_processor():
    from conftest import make_tiny_tokenizer

    from mcn_cl import MCIHNProcessor

    collator = MCIHNDataCollator(MCIHNProcessor(make_tiny_tokenizer()))
    batch = collator([{"text": "where were you", "label": 0.5}, {"text": "no", "label": -1.0}])
    assert batch["input_ids"].shape[0] == 2 and batch["labels"].tolist() == [0.5, -1.0]
    assert batch["modality_mask"].tolist() == [[1, 0, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="utterance 0 holds raw media / text but no processor"):
        MCIHNDataCollator()([{"text": "hi"}])


def test_resume_restores_the_discriminators_optimizer_and_schedule(tmp_path):
    """A run resumed from its step-2 checkpoint ends with the same discriminators as the uninterrupted run (their
    Adam moments and learning-rate schedule are checkpointed; before, the resumed run restarted them)."""
    rows = make_utterances(16, seed=4)

    def run(out, resume=None):
        torch.manual_seed(0)
        model = MCIHNForMultimodalSentiment(
            make_mcihn_config(use_text_encoder=False, text_feature_size=TEXT_SIZE)
        )
        args = TrainingArguments(
            output_dir=str(out), max_steps=4, per_device_train_batch_size=8, learning_rate=1e-2,
            lr_scheduler_type="linear", report_to="none", remove_unused_columns=False, use_cpu=True,
            save_strategy="steps", save_steps=2, seed=0, disable_tqdm=True, data_seed=0,
        )  # fmt: skip
        trainer = MCIHNTrainer(model=model, args=args, train_dataset=rows, data_collator=MCIHNDataCollator())
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    full = run(tmp_path / "full")
    checkpoint = tmp_path / "full" / "checkpoint-2"
    assert (checkpoint / "discriminator_optimizer.pt").exists()
    saved = torch.load(checkpoint / "discriminator_scheduler.pt", weights_only=True)
    assert saved["last_epoch"] == 2  # one schedule step per discriminator step
    # linear decay to 0 over the 4 steps: the discriminators' learning rate follows it
    assert full.discriminator_optimizer.param_groups[0]["lr"] == pytest.approx(0.0)
    resumed = run(tmp_path / "resumed", resume=str(checkpoint))
    for a, b in zip(full.model.discriminator_parameters(), resumed.model.discriminator_parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    state_full = full.discriminator_optimizer.state_dict()["state"]
    state_resumed = resumed.discriminator_optimizer.state_dict()["state"]
    assert int(state_resumed[0]["step"]) == int(state_full[0]["step"]) == 4
