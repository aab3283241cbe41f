# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`MCIHNTrainer`: `transformers.Trainer` with MCIHN's adversarial training, and `MCIHNDataCollator`.

Each training micro-batch runs one forward pass, then two updates with opposite objectives (Makhzani et al.'s
adversarial autoencoder, alternating):

1. discriminator step: the discriminators (their own Adam optimiser) minimise `discriminator_loss`, the BCE of
   prior samples N(0, I) (real) against the detached codes (fake);
2. encoder / generator step (the Trainer's optimiser, which holds every other weight): minimise

       loss = task + w_rec * reconstruction + w_adv * adversarial + w_mmd * mmd

   where `adversarial` (-log D(S)) is recomputed against the discriminators just updated, with their weights
   detached, so the encoders learn to fool them and the discriminators are not trained to be fooled.

The weights come from `model.config` (`reconstruction_weight`, `adversarial_weight`, `mmd_weight`). Each term is
logged (`loss_task`, `loss_reconstruction`, `loss_adversarial`, `loss_discriminator`, `loss_mmd`: unweighted means
over the logging window) next to the Trainer's `loss`.

The discriminators' optimiser follows the Trainer's learning-rate schedule (`lr_scheduler_type`, warm-up; one
scheduler step per discriminator step) and its state and schedule are saved in every checkpoint
(`discriminator_optimizer.pt`, `discriminator_scheduler.pt`) and restored by `resume_from_checkpoint`.

Limits: the discriminator step runs on every micro-batch (also under gradient accumulation) and outside the
Trainer's mixed-precision grad scaler; the trainer is tested on one process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import Trainer
from transformers.optimization import get_scheduler
from transformers.utils import logging

from .trainer_base import LossTermLog

logger = logging.get_logger(__name__)

DISCRIMINATOR_OPTIMIZER_NAME = "discriminator_optimizer.pt"
DISCRIMINATOR_SCHEDULER_NAME = "discriminator_scheduler.pt"
LOSS_TERMS = ("task", "reconstruction", "adversarial", "discriminator", "mmd")
# keys of a row that are already model inputs: such rows are padded as they are
_MODEL_KEYS = (
    "input_ids",
    "input_values",
    "pixel_values",
    "text_features",
    "audio_features",
    "visual_features",
)


@dataclass
class MCIHNDataCollator:
    """Pads a list of utterances into MCIHN's inputs (through `pad_utterances`, the one place for MCIHN's padding).

    Rows that already hold model inputs (`input_ids`, `*_features`, ...; e.g. the MMSA feature files) are padded as
    they are; rows with raw `text` / `audio(_path)` / `video(_path)` go through `processor.prepare_utterance` first
    (e.g. the raw MOSI / SIMS / MELD loaders).

    Args:
        processor ([`MCIHNProcessor`], *optional*): needed for raw rows; gives the pad token id.
        on_error (`str`, *optional*, defaults to `"mask"`): media errors of raw rows mask that modality (with a
            warning) or raise.

    Use it with `TrainingArguments(remove_unused_columns=False)`.
    """

    processor: Any = None
    on_error: str = "mask"

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        from mcn_cl.processing.padding_mcihn import pad_utterances

        if len(features) == 0:
            raise ValueError("MCIHNDataCollator: received an empty list of utterances")
        rows = []
        for i, row in enumerate(features):
            if not any(row.get(key) is not None for key in _MODEL_KEYS):
                if self.processor is None:
                    raise ValueError(
                        f"MCIHNDataCollator: utterance {i} holds raw media / text but no processor was given"
                    )
                row = self.processor.prepare_utterance(row, on_error=self.on_error, index=i)
            rows.append(row)
        if self.processor is not None:
            return self.processor.pad_utterances(rows)
        return pad_utterances(rows)


class MCIHNTrainer(Trainer):
    """[`~transformers.Trainer`] for [`MCIHNForMultimodalSentiment`]: task loss + weighted reconstruction, adversarial
    and MMD terms, with alternating discriminator / encoder updates (see the module docstring).

    Args:
        discriminator_learning_rate (`float`, *optional*): learning rate of the discriminators' Adam (betas 0.5,
            0.999, as usual for GAN discriminators). Default: the Trainer's `learning_rate`.
        Everything else as for `Trainer` (v5 signature: `processing_class=`), with an [`MCIHNDataCollator`] and
        `remove_unused_columns=False`.

    ```python
    >>> from mcn_cl import MCIHNDataCollator, MCIHNTrainer
    >>> from mcn_cl.metrics_mcihn import make_sentiment_metrics

    >>> trainer = MCIHNTrainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["validation"],
    ...                        data_collator=MCIHNDataCollator(processor), compute_metrics=make_sentiment_metrics("mosi"))
    ```
    """

    # the task loss is a per-batch mean: the Trainer divides by the accumulation steps and passes no loss kwargs
    loss_is_scaled_for_ga = False

    def __init__(self, *args, discriminator_learning_rate: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False
        self.discriminator_learning_rate = discriminator_learning_rate
        self.discriminator_optimizer: torch.optim.Optimizer | None = None
        self.discriminator_lr_scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self._loss_terms = LossTermLog(LOSS_TERMS, self.args.device)

    def _discriminator_parameters(self, model: nn.Module | None = None) -> list[nn.Parameter]:
        model = self.accelerator.unwrap_model(model if model is not None else self.model)
        return [p for p in model.discriminator_parameters() if p.requires_grad]

    def create_optimizer(self, model=None) -> torch.optim.Optimizer:
        """The Trainer's optimiser over every weight but the discriminators', and the discriminators' own Adam."""
        optimizer = super().create_optimizer(model) if model is not None else super().create_optimizer()
        discriminator = self._discriminator_parameters(model)
        ids = {id(p) for p in discriminator}
        for group in optimizer.param_groups:  # before the first step: no optimiser state to move
            group["params"] = [p for p in group["params"] if id(p) not in ids]
        if self.discriminator_optimizer is None and discriminator:
            lr = self.discriminator_learning_rate or self.args.learning_rate
            self.discriminator_optimizer = torch.optim.Adam(discriminator, lr=lr, betas=(0.5, 0.999))
        return optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        """The Trainer's scheduler, and the same schedule for the discriminators (one step per micro-batch)."""
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if self.discriminator_optimizer is not None and self.discriminator_lr_scheduler is None:
            steps = num_training_steps * self.args.gradient_accumulation_steps
            self.discriminator_lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type,
                optimizer=self.discriminator_optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps)
                * self.args.gradient_accumulation_steps,
                num_training_steps=steps,
                scheduler_specific_kwargs=self.args.lr_scheduler_kwargs,
            )
        return scheduler

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self.discriminator_optimizer is not None and self.args.should_save:
            torch.save(
                self.discriminator_optimizer.state_dict(),
                os.path.join(output_dir, DISCRIMINATOR_OPTIMIZER_NAME),
            )
            if self.discriminator_lr_scheduler is not None:
                torch.save(
                    self.discriminator_lr_scheduler.state_dict(),
                    os.path.join(output_dir, DISCRIMINATOR_SCHEDULER_NAME),
                )

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None or self.discriminator_optimizer is None:
            return
        path = os.path.join(checkpoint, DISCRIMINATOR_OPTIMIZER_NAME)
        if not os.path.isfile(path):
            logger.warning("%s has no %s: the discriminators' optimiser starts afresh", checkpoint, path)
            return
        self.discriminator_optimizer.load_state_dict(
            torch.load(path, map_location=self.args.device, weights_only=True)
        )
        path = os.path.join(checkpoint, DISCRIMINATOR_SCHEDULER_NAME)
        if self.discriminator_lr_scheduler is not None and os.path.isfile(path):
            self.discriminator_lr_scheduler.load_state_dict(torch.load(path, weights_only=True))

    def _discriminator_step(self, discriminator_loss: torch.Tensor) -> None:
        if self.discriminator_optimizer is None or not discriminator_loss.requires_grad:
            return
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        discriminator_loss.backward()  # its graph reaches the discriminators only (codes detached)
        self.discriminator_optimizer.step()
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        if self.discriminator_lr_scheduler is not None:
            self.discriminator_lr_scheduler.step()

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """Training: discriminator step, then the encoders' objective (returned for the Trainer's backward).
        Evaluation: the same objective, without any update."""
        labels = inputs.get("labels")
        outputs = model(**inputs)
        if labels is None:
            if return_outputs:
                return None, outputs
            raise ValueError("MCIHNTrainer.compute_loss: the batch has no `labels`; training needs them")
        unwrapped = self.accelerator.unwrap_model(model)
        config = unwrapped.config
        adversarial = outputs.adversarial_loss
        if model.training:
            self._discriminator_step(outputs.discriminator_loss)
            codes = (outputs.text_codes, outputs.audio_codes, outputs.visual_codes)
            masks = (outputs.text_code_mask, outputs.audio_code_mask, outputs.visual_code_mask)
            adversarial, _ = unwrapped.adversarial_terms(codes, masks)  # against the updated discriminators
        terms = {
            "task": outputs.loss,
            "reconstruction": outputs.reconstruction_loss,
            "adversarial": adversarial,
            "discriminator": outputs.discriminator_loss,
            "mmd": outputs.mmd_loss,
        }
        loss = (
            outputs.loss
            + config.reconstruction_weight * terms["reconstruction"]
            + config.adversarial_weight * adversarial
            + config.mmd_weight * terms["mmd"]
        )
        if model.training:
            self._loss_terms.add(terms)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the averaged loss terms of the logging window to the training logs."""
        if "loss" in logs:
            self._loss_terms.flush(logs, self.accelerator, self.args.world_size)
        super().log(logs, start_time)


__all__ = ["MCIHNDataCollator", "MCIHNTrainer", "LOSS_TERMS"]
