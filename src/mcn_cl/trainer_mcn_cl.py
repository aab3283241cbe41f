# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`MCNCLTrainer`: `transformers.Trainer` with the MCN-CL objective (paper eq. 27).

    loss = CE + alpha * L_text + beta * L_audio + gamma * L_visual

CE comes from the model (class-weighted when `config.class_weights` is set); the contrastive terms come from
[`mcn_cl.losses.contrastive_terms`] (gathered across processes in distributed runs). Each term is logged as
`loss_ce`, `loss_text`, `loss_audio`, `loss_visual` (unweighted, averaged over the logging window and the
processes) next to the Trainer's own `loss`, so they reach the console, `trainer_state.json` and TensorBoard.

The optimizer has two learning rates (`create_optimizer`): `args.learning_rate` for the fusion network (everything
that starts from scratch) and `encoder_learning_rate` for the pretrained towers (the text encoder; the ResNet when
it is trained), with no weight decay on biases and norm weights. Both are logged (`learning_rate`,
`encoder_learning_rate`) and follow the same schedule (warm-up, decay).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import datasets
import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import Trainer
from transformers.trainer_optimizer import is_optimizer_factory
from transformers.trainer_utils import seed_worker
from transformers.utils import logging

from .batching import UtteranceBudgetBatchSampler, check_budget, dialogue_lengths
from .losses import MODALITIES, contrastive_terms
from .trainer_base import LossTermLog

logger = logging.get_logger(__name__)

LOSS_TERMS = ("ce", *MODALITIES)  # logged as loss_ce, loss_text, loss_audio, loss_visual

# Outputs that are not predictions: kept out of `EvalPrediction.predictions` so that it holds the logits only.
DEFAULT_KEYS_TO_IGNORE_AT_INFERENCE = [
    "text_embeds",
    "audio_embeds",
    "visual_embeds",
    "modality_mask",
    "hidden_states",
    "attentions",
]


def pretrained_tower_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the pretrained towers of an MCN-CL model: the text encoder (`AutoModel`) and the visual
    ResNet backbone, trainable or not (the caller filters on `requires_grad`). `model` may be wrapped (DDP) or be
    the headless [`MCNCLModel`]; a model without towers gives `[]`."""
    model = getattr(model, "module", model)
    base = getattr(model, "base_model", model)
    towers = [
        getattr(getattr(base, "text_encoder", None), "encoder", None),
        getattr(getattr(base, "visual_encoder", None), "backbone", None),
    ]
    return [p for tower in towers if tower is not None for p in tower.parameters()]


class MCNCLTrainer(Trainer):
    """[`~transformers.Trainer`] for [`MCNCLForEmotionRecognition`] with the CE + contrastive objective.

    Use it like the `Trainer` (v5 signature: `processing_class=`, not `tokenizer=`), with an
    [`MCNCLDataCollator`] and `remove_unused_columns=False`:

    ```python
    >>> from mcn_cl import MCNCLDataCollator, MCNCLTrainer
    >>> from mcn_cl.metrics_mcn_cl import make_compute_metrics

    >>> trainer = MCNCLTrainer(
    ...     model=model,
    ...     args=training_args,
    ...     train_dataset=dataset["train"],
    ...     eval_dataset=dataset["validation"],
    ...     data_collator=MCNCLDataCollator(),
    ...     compute_metrics=make_compute_metrics(model.config.id2label),
    ... )
    >>> trainer.train()
    ```

    The contrastive weights, temperature and hard-negative ratio are read from `model.config`
    (`contrastive_weights`, `contrastive_temperature`, `hard_negative_ratio`); a modality with weight 0, or absent
    from the batch on every process, adds nothing.

    Args:
        encoder_learning_rate (`float`, *optional*):
            Peak learning rate of the pretrained towers ([`pretrained_tower_parameters`]: the text encoder, and the
            visual ResNet when it is not frozen). `args.learning_rate` is the peak learning rate of everything else
            (the fusion network: projections, PSA, context encoders, MCN layers, heads, classifier), which starts
            from random weights and needs a larger one. Default (`None`): `args.learning_rate` for both. The usual
            ranges: encoder 1e-5 to 5e-5, fusion 1e-4 to 1e-3.
        contrastive_warmup_steps (`int`, *optional*, defaults to 0):
            Optimizer steps over which the contrastive weights (α, β, γ of eq. 27) rise linearly from 0 to the
            config's values (0: full weights from the start; `examples/train.py --contrastive_warmup_epochs`).
            Without the contrastive terms a fresh model leaves the class prior sooner on long dialogues; a ramp
            over the first epoch measured within seed noise of none there (BENCHMARKS.md, "Long dialogues").
        utterances_per_batch (`int`, *optional*):
            Fill each training batch with whole dialogues up to about this many utterances
            ([`~mcn_cl.batching.UtteranceBudgetBatchSampler`]) instead of `args.per_device_train_batch_size`
            dialogues, so that an optimizer step sees about the same data on corpora of short and of long dialogues
            (`examples/train.py --utterances_per_batch`). Default (`None`): batches of a fixed dialogue count.
            Evaluation batches keep `args.per_device_eval_batch_size` dialogues.
        *args, **kwargs: those of [`~transformers.Trainer`].
    """

    # Our `compute_loss` returns a per-micro-batch mean (CE averaged over the labelled utterances, contrastive terms
    # averaged over their anchors); the contrastive terms cannot be re-normalised by a token count. So the Trainer
    # must divide by the gradient-accumulation steps itself, and must not pass `num_items_in_batch` to the model.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        *args,
        encoder_learning_rate: float | None = None,
        contrastive_warmup_steps: int = 0,
        utterances_per_batch: int | None = None,
        **kwargs,
    ):
        if encoder_learning_rate is not None and not encoder_learning_rate > 0:
            raise ValueError(f"MCNCLTrainer: encoder_learning_rate must be > 0, got {encoder_learning_rate}")
        self.encoder_learning_rate = encoder_learning_rate
        if contrastive_warmup_steps < 0:
            raise ValueError(
                f"MCNCLTrainer: contrastive_warmup_steps must be >= 0, got {contrastive_warmup_steps}"
            )
        self.contrastive_warmup_steps = contrastive_warmup_steps
        if utterances_per_batch is not None:
            try:
                check_budget(utterances_per_batch)
            except ValueError as err:
                raise ValueError(f"MCNCLTrainer: {err}") from None
        self.utterances_per_batch = utterances_per_batch
        super().__init__(*args, **kwargs)
        # The model's forward takes `**kwargs`, which would make the Trainer treat it as accepting
        # `num_items_in_batch` (sum-reduced CE normalised across the accumulated batch). MCN-CL's CE is a per-batch
        # mean and the contrastive terms have no such normalisation, so: no loss kwargs.
        self.model_accepts_loss_kwargs = False
        self._loss_terms = LossTermLog(LOSS_TERMS, self.args.device)

    def get_train_dataloader(self) -> DataLoader:
        """The `Trainer`'s, or with `utterances_per_batch` one whose batches hold about that many utterances
        ([`~mcn_cl.batching.UtteranceBudgetBatchSampler`]; `accelerate` deals them out to the processes)."""
        if self.utterances_per_batch is None or self.train_dataset is None:
            return super().get_train_dataloader()
        dataset, collator = self.train_dataset, self.data_collator
        if isinstance(dataset, datasets.Dataset):
            dataset = self._remove_unused_columns(dataset, description="training")
        else:
            collator = self._get_collator_with_removed_columns(collator, description="training")
        sampler = UtteranceBudgetBatchSampler(
            dialogue_lengths(dataset), self.utterances_per_batch, seed=self.args.data_seed or self.args.seed
        )
        # The loader the `Trainer` builds for training (`Trainer._get_dataloader`), with the batch sampler in
        # place of `batch_size` / `sampler` / `drop_last`; `accelerate` shards the batches over the processes.
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
            persistent_workers=self.args.dataloader_persistent_workers,
            multiprocessing_context=self.args.dataloader_multiprocessing_context,
            prefetch_factor=self.args.dataloader_prefetch_factor,
            in_order=self.args.dataloader_in_order,
            worker_init_fn=partial(
                seed_worker, num_workers=self.args.dataloader_num_workers, rank=self.args.process_index
            ),
        )
        return self.accelerator.prepare(loader)

    def parameter_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: fusion (decay, no decay) first, then encoder (decay, no decay).

        Each group has `params`, `lr`, `weight_decay` and `name` (`fusion`, `fusion_no_decay`, `encoder`,
        `encoder_no_decay`); empty groups and frozen parameters are left out. Biases and norm weights (the
        parameters with one dimension: LayerNorm / BatchNorm scales and shifts, every bias) get no weight decay.
        The fusion groups come first because the `Trainer` logs the first group's rate as `learning_rate`.
        """
        fusion_lr = self.args.learning_rate
        encoder_lr = self.encoder_learning_rate if self.encoder_learning_rate is not None else fusion_lr
        tower = {id(p) for p in pretrained_tower_parameters(model)}
        groups = {name: [] for name in ("fusion", "fusion_no_decay", "encoder", "encoder_no_decay")}
        for parameter in model.parameters():
            if not parameter.requires_grad:
                continue
            name = "encoder" if id(parameter) in tower else "fusion"
            groups[name + ("_no_decay" if parameter.ndim <= 1 else "")].append(parameter)
        return [
            {
                "name": name,
                "params": params,
                "lr": encoder_lr if name.startswith("encoder") else fusion_lr,
                "weight_decay": 0.0 if name.endswith("_no_decay") else self.args.weight_decay,
            }
            for name, params in groups.items()
            if params
        ]

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """The `Trainer`'s optimizer (`args.optim`, betas, eps, ...) over [`parameter_groups`]: two learning rates
        and no weight decay on biases / norms. The scheduler (`create_scheduler`) scales every group alike."""
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.model if model is None else model
        optimizer_cls, optimizer_kwargs = (
            self.optimizer_cls_and_kwargs
            if self.optimizer_cls_and_kwargs is not None
            else self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        )
        special = {"params", "model", "optimizer_dict"} & set(optimizer_kwargs)
        if special or is_optimizer_factory(optimizer_cls):
            # optimizers that build their own groups (GaLore, LOMO, layer-wise, Muon, ...): the Trainer's way, one
            # learning rate
            logger.warning(
                "optim %s builds its own parameter groups: encoder_learning_rate is not applied",
                self.args.optim,
            )
            return super().create_optimizer(model)
        groups = self.parameter_groups(opt_model)
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        for group in groups:
            logger.info(
                "optimizer group %s: %d tensors, %d parameters, lr %g, weight decay %g",
                group["name"],
                len(group["params"]),
                sum(p.numel() for p in group["params"]),
                group["lr"],
                group["weight_decay"],
            )
        return self.optimizer

    def _encoder_learning_rate(self, fusion_learning_rate: float | None) -> float | None:
        """The encoder groups' learning rate at the step whose fusion rate the `Trainer` logged as `learning_rate`
        (the rate of the step just taken, read before the scheduler stepped); `None` without encoder group."""
        if self.optimizer is None:
            return None
        groups = self.optimizer.param_groups
        encoder = next((g for g in groups if str(g.get("name", "")).startswith("encoder")), None)
        if encoder is None:
            return None
        first = groups[0]
        if fusion_learning_rate is not None and "initial_lr" in encoder and first.get("initial_lr"):
            # the schedule multiplies every group's initial rate by the same factor
            return float(fusion_learning_rate) * encoder["initial_lr"] / first["initial_lr"]
        return float(encoder["lr"])

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """CE + alpha * L_text + beta * L_audio + gamma * L_visual (eq. 27) for one micro-batch.

        Args:
            model (`nn.Module`): the (possibly DDP/FSDP-wrapped) [`MCNCLForEmotionRecognition`].
            inputs (`dict`): a collated batch (docs/DESIGN.md's tensor contract) with `labels` `[B, N]`.
            return_outputs (`bool`): also return the model output (evaluation).
            num_items_in_batch: unused (see `model_accepts_loss_kwargs` above).
        """
        labels = inputs.get("labels")
        outputs = model(**inputs)
        if labels is None:
            if return_outputs:
                return None, outputs
            raise ValueError("MCNCLTrainer.compute_loss: the batch has no `labels`; training needs them")
        if outputs.loss is None:
            raise ValueError(
                "MCNCLTrainer.compute_loss: the model returned no loss although `labels` were given"
            )

        config = self.accelerator.unwrap_model(model).config
        loss = outputs.loss
        terms = {"ce": outputs.loss}
        weights = config.contrastive_weights
        ramp = self.contrastive_ramp() if model.training else 1.0
        for modality, term in contrastive_terms(outputs, labels, config).items():
            loss = loss + ramp * weights[modality] * term
            terms[modality] = term

        if model.training:
            self._loss_terms.add(terms)
        return (loss, outputs) if return_outputs else loss

    def contrastive_ramp(self) -> float:
        """The factor of the contrastive weights at the current optimizer step: (step + 1) / warm-up steps, at
        most 1 (1 without warm-up)."""
        if not self.contrastive_warmup_steps:
            return 1.0
        return min(1.0, (self.state.global_step + 1) / self.contrastive_warmup_steps)

    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ):
        """The Trainer's `prediction_step`, keeping only the logits as predictions (not the embeddings/masks)."""
        if ignore_keys is None:
            config = self.accelerator.unwrap_model(model).config
            ignore_keys = (
                getattr(config, "keys_to_ignore_at_inference", None) or DEFAULT_KEYS_TO_IGNORE_AT_INFERENCE
            )
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the averaged loss terms of the logging window and the encoder's current learning rate to the training
        logs, then log as usual.

        The terms are summed over the processes and averaged by [`LossTermLog.flush`].
        """
        if "loss" in logs:
            self._loss_terms.flush(logs, self.accelerator, self.args.world_size)
            encoder_lr = self._encoder_learning_rate(logs.get("learning_rate"))
            if encoder_lr is not None:  # `learning_rate` is the fusion groups' (the first group's)
                logs["encoder_learning_rate"] = encoder_lr
        super().log(logs, start_time)

    def create_model_card(
        self, model_name: str | None = None, finetuned_from: str | None = None, **kwargs
    ) -> None:
        """Write the MCN-CL model card (`mcn_cl.hub_mcn_cl.model_card`) as `README.md` in `output_dir`.

        Called by `Trainer.push_to_hub` right before the upload: the card carries the test metrics of
        `output_dir/test_results.json` (written by `examples/train.py`) and the processor's settings, instead of the
        generic card the `Trainer` would write over ours. Extra `kwargs` of `push_to_hub` (`tags`, `dataset`, ...)
        are ignored except `tags`, `license`, `dataset`.
        """
        if not self.is_world_process_zero():
            return
        from .hub_mcn_cl import write_model_card

        processor = self.processing_class if hasattr(self.processing_class, "feature_extractor") else None
        dataset = kwargs.get("dataset")
        card_kwargs = {
            "training_args": self.args,
            "processor": processor,
            "model_name": model_name,
            "repo_id": self.hub_model_id if self.args.push_to_hub else None,
            "dataset_name": dataset if isinstance(dataset, str) else None,
        }
        if kwargs.get("license"):
            card_kwargs["license"] = kwargs["license"]
        if kwargs.get("tags"):
            card_kwargs["tags"] = (
                [kwargs["tags"]] if isinstance(kwargs["tags"], str) else list(kwargs["tags"])
            )
        write_model_card(self.args.output_dir, self.model.config, **card_kwargs)


__all__ = ["MCNCLTrainer", "DEFAULT_KEYS_TO_IGNORE_AT_INFERENCE", "pretrained_tower_parameters"]
