# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""PyTorch MCIHN: "A Hybrid Network Model Based on Multi-path Cross-modal Interaction for Multimodal Emotion
Recognition" (Zhang, Yang, Sun, Pang, Xu; arXiv 2510.24827). Utterance-level: one sentiment score (or class) per
utterance from its text, speech and face-video sequences.

What the available paper text names: the Feature Reconstruction Module (adversarial autoencoders,
`MCIHNAdversarialAutoencoder`, one per modality), the Cross-modal Gate Mechanism Model with an MMD objective
(`MCIHNCrossModalGate`, one per modality pair), the Feature Fusion Module (`MCIHNFusion`) and the datasets.
Everything else is this package's choice, not named by the paper and documented in `MCIHNConfig`: the feature
extractors (BERT / MiniLM text towers, Wav2Vec2 or openSMILE low-level descriptors for speech, CLIP or ResNet
frame features for faces, or precomputed sequences), the MLP shapes, the MMD kernels, the input standardisation.

This file holds the model classes. The parts live in same-folder siblings: `modeling_outputs_mcihn.py` (the
`ModelOutput`s), `unimodal_encoders_mcihn.py` (the towers), `reconstruction_mcihn.py` (input standardisation and the
adversarial autoencoders), `interaction_mcihn.py` (CGMM and FFM) and `functional_mcihn.py` (masked means, MMD).

These files travel to the Hub next to the weights (`save_pretrained` copies this file and, recursively, the
siblings it imports relatively, flat into the checkpoint folder, so that
`AutoModel.from_pretrained(folder, trust_remote_code=True)` works without the `mcn_cl` package): they import only
same-folder siblings (relative imports) and public libraries.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import logging

from .configuration_mcihn import MCIHN_MODALITIES, MCIHN_PAIRS, MCIHNConfig
from .functional_mcihn import masked_mean, mmd_rbf
from .interaction_mcihn import MCIHNCrossModalGate, MCIHNFusion
from .modeling_outputs_mcihn import MCIHNModelOutput, MCIHNSentimentOutput
from .reconstruction_mcihn import MCIHNAdversarialAutoencoder, MCIHNInputStandardizer
from .unimodal_encoders_mcihn import MCIHNAudioEncoder, MCIHNTextEncoder, MCIHNVisualEncoder

logger = logging.get_logger(__name__)


# ------------------------------------------------------------------------------------------------------ models


class MCIHNPreTrainedModel(PreTrainedModel):
    config: MCIHNConfig
    config_class = MCIHNConfig
    base_model_prefix = "mcihn"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _no_split_modules = ["MCIHNAdversarialAutoencoder", "MCIHNCrossModalGate", "MCIHNFusion"]
    # `forward` takes `**kwargs` (unused collator keys), which a plain `Trainer` would read as accepting
    # `num_items_in_batch`; the task loss is a per-batch mean.
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        """Fusion layers: normal(0, std), std = `config.initializer_range` or 1/sqrt(fan_in). The pretrained towers
        (`PreTrainedModel`s) initialise themselves; attention blocks keep PyTorch's initialisation."""
        if isinstance(module, nn.Linear):
            std = self.config.initializer_range or module.weight.shape[1] ** -0.5
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm) and module.weight is not None:
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, MCIHNInputStandardizer):
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class MCIHNModel(MCIHNPreTrainedModel):
    """MCIHN without its head: feature extraction, one adversarial autoencoder per modality, the three CGMM paths and
    the FFM. Returns the fused representation and the auxiliary losses."""

    def __init__(self, config: MCIHNConfig):
        super().__init__(config)
        self.text_encoder = MCIHNTextEncoder(config)
        self.audio_encoder = MCIHNAudioEncoder(config) if config.audio_config is not None else None
        self.visual_encoder = MCIHNVisualEncoder(config) if config.visual_config is not None else None
        sizes = {
            "text": config.text_feature_size,
            "audio": config.audio_feature_size,
            "visual": config.visual_feature_size,
        }
        self.autoencoders = nn.ModuleDict(
            {m: MCIHNAdversarialAutoencoder(config, sizes[m]) for m in MCIHN_MODALITIES}
        )
        self.gates = (
            nn.ModuleDict({f"{a}_{b}": MCIHNCrossModalGate(config) for a, b in MCIHN_PAIRS})
            if config.use_cgmm
            else None
        )
        self.unimodal_projections = nn.ModuleDict(
            {m: nn.Linear(config.latent_size, config.hidden_size) for m in MCIHN_MODALITIES}
        )
        self.fusion = MCIHNFusion(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module | None:
        encoder = self.text_encoder.encoder
        return encoder.get_input_embeddings() if encoder is not None else None

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_encoder.encoder.set_input_embeddings(value)

    def _sequences(self, inputs: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor] | None]:
        """Each modality's frame sequence [B, T, D] and frame mask [B, T] (None when absent from the batch).

        Per utterance, one input per modality: `input_ids` (through the text tower) or `text_features`,
        `input_values` (speech tower) or `audio_features`, `pixel_values` (vision tower) or `visual_features`. A
        batch may mix the two forms over its utterances (each row uses the one it has); an utterance with valid
        frames in both is an error (which one is meant cannot be guessed: MMSA rows carry token ids and BERT
        states alike)."""
        config = self.config
        sizes = {"text": config.text_feature_size, "audio": config.audio_feature_size,
                 "visual": config.visual_feature_size}  # fmt: skip
        out: dict[str, tuple[torch.Tensor, torch.Tensor] | None] = dict.fromkeys(MCIHN_MODALITIES)
        for modality in MCIHN_MODALITIES:
            features = inputs[f"{modality}_features"]
            if features is None:
                continue
            if features.dim() != 3 or features.shape[-1] != sizes[modality]:
                raise ValueError(
                    f"{modality}_features: expected [batch, frames, {sizes[modality]}], got {list(features.shape)}"
                )
            out[modality] = (features, _frame_mask(inputs[f"{modality}_mask"], features))
        towers = {}
        if inputs["input_ids"] is not None:
            towers["text"] = (
                "input_ids",
                lambda: self.text_encoder(inputs["input_ids"], inputs["attention_mask"]),
            )
        if inputs["input_values"] is not None:
            if self.audio_encoder is None:
                raise ValueError(
                    "input_values were given but this model has no speech tower (config.audio_config=None); "
                    "pass audio_features instead."
                )
            towers["audio"] = (
                "input_values",
                lambda: self.audio_encoder(inputs["input_values"], inputs["audio_attention_mask"]),
            )
        if inputs["pixel_values"] is not None:
            if self.visual_encoder is None:
                raise ValueError(
                    "pixel_values were given but this model has no vision tower (config.visual_config=None); "
                    "pass visual_features instead."
                )
            towers["visual"] = (
                "pixel_values",
                lambda: self.visual_encoder(inputs["pixel_values"], inputs["frame_mask"]),
            )
        for modality, (name, run) in towers.items():
            states, mask = run()
            if out[modality] is not None:
                states, mask = _merge_rows(out[modality], (states, mask), f"{modality}_features", name)
            out[modality] = (states, mask)
        return out

    def adversarial_terms(
        self, codes: Sequence[torch.Tensor | None], masks: Sequence[torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoders' adversarial loss, discriminators' loss), each averaged over the modalities with valid codes.
        `codes` / `masks`: per modality (text, audio, visual) [B, T, latent] / [B, T] or None. A trainer that steps
        the discriminators first calls this again to get the encoders' term against the updated discriminators."""
        generator, discriminator = [], []
        for modality, c, m in zip(MCIHN_MODALITIES, codes, masks):
            if c is None or not bool(m.any()):
                continue
            g, d = self.autoencoders[modality].adversarial_terms(c, m)
            generator.append(g)
            discriminator.append(d)
        if not generator:
            zero = self.fusion.norm.weight.sum() * 0.0
            return zero, zero
        return torch.stack(generator).mean(), torch.stack(discriminator).mean()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        text_mask: torch.LongTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        audio_attention_mask: torch.LongTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        visual_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCIHNModelOutput | tuple:
        r"""
        Args (each modality optional, at least one needed; B utterances):
            input_ids, attention_mask (`torch.LongTensor` of shape `(batch_size, num_tokens)`):
                Tokenised text for the text tower, or
            text_features, text_mask (`(batch_size, num_tokens, text_feature_size)`, `(batch_size, num_tokens)`):
                precomputed text frames (e.g. BERT states) and their mask (default: all valid).
            input_values, audio_attention_mask (`(batch_size, num_samples)`):
                16 kHz waveforms for the speech tower (`config.audio_config`), or
            audio_features, audio_mask (`(batch_size, audio_frames, audio_feature_size)`, `(batch_size, audio_frames)`):
                precomputed audio frames.
            pixel_values, frame_mask (`(batch_size, num_frames, 3, height, width)`, `(batch_size, num_frames)`):
                CLIP-normalised face frames for the vision tower (`config.visual_config`), or
            visual_features, visual_mask (`(batch_size, visual_frames, visual_feature_size)`, `(batch_size, visual_frames)`):
                precomputed visual frames.
            modality_mask (`torch.LongTensor` of shape `(batch_size, 3)`):
                1 where the modality (text, audio, visual) is present for the utterance. Default: every modality whose
                input is given. Every utterance needs at least one.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        inputs = dict(
            input_ids=input_ids, attention_mask=attention_mask, text_features=text_features, text_mask=text_mask,
            input_values=input_values, audio_attention_mask=audio_attention_mask, audio_features=audio_features,
            audio_mask=audio_mask, pixel_values=pixel_values, frame_mask=frame_mask,
            visual_features=visual_features, visual_mask=visual_mask,
        )  # fmt: skip
        sequences = self._sequences(inputs)
        reference = next((s for s in sequences.values() if s is not None), None)
        if reference is None:
            raise ValueError(
                "MCIHNModel needs at least one modality: input_ids/text_features, input_values/audio_features, or "
                "pixel_values/visual_features."
            )
        batch, device = reference[0].shape[0], reference[0].device
        for modality, seq in sequences.items():
            if seq is not None and seq[0].shape[0] != batch:
                raise ValueError(f"{modality} input has batch size {seq[0].shape[0]}, expected {batch}")
        # a modality is present for an utterance when it is given, not masked, and has at least one valid frame
        # (a zero-frame modality must not enter the fusion as a bias-only token)
        has_frames = torch.stack(
            [
                sequences[m][1].bool().any(1) if sequences[m] is not None else torch.zeros(batch, dtype=torch.bool,
                                                                                          device=device)
                for m in MCIHN_MODALITIES
            ],
            1,
        )  # fmt: skip
        if modality_mask is None:
            modality_mask = has_frames
        elif tuple(modality_mask.shape) != (batch, 3):
            raise ValueError(f"modality_mask: expected shape ({batch}, 3), got {tuple(modality_mask.shape)}")
        modality_mask = modality_mask.bool() & has_frames
        if not bool(modality_mask.any(1).all()):
            row = int((~modality_mask.any(1)).nonzero()[0, 0])
            raise ValueError(
                f"modality_mask: utterance {row} of the batch has no modality present (or only ones without frames)"
            )

        codes: list[torch.Tensor | None] = []
        masks: list[torch.Tensor | None] = []
        reconstruction = []
        for i, modality in enumerate(MCIHN_MODALITIES):
            if sequences[modality] is None:
                codes.append(None)
                masks.append(None)
                continue
            features, frames = sequences[modality]
            frames = frames.bool() & modality_mask[:, i : i + 1]
            c, rec = self.autoencoders[modality](features, frames)
            codes.append(c)
            masks.append(frames)
            if bool(frames.any()):
                reconstruction.append(rec)

        hidden = self.config.hidden_size
        dtype = self.fusion.norm.weight.dtype
        zeros = torch.zeros(batch, hidden, device=device, dtype=dtype)
        tokens, token_mask, mmd = [], [], []
        for a, b in MCIHN_PAIRS:
            ia, ib = MCIHN_MODALITIES.index(a), MCIHN_MODALITIES.index(b)
            both = modality_mask[:, ia] & modality_mask[:, ib]
            if codes[ia] is None or codes[ib] is None or not bool(both.any()):
                tokens.append(zeros)
                token_mask.append(torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            # the MMD term aligns the pair's pooled codes whether or not its gate runs (use_cgmm=False keeps it, so
            # that "without CGMM" and "without MMD" are separate ablations; mmd_weight=0 turns it off)
            if int(both.sum()) >= 2:
                pooled_a, pooled_b = masked_mean(codes[ia], masks[ia]), masked_mean(codes[ib], masks[ib])
                mmd.append(mmd_rbf(pooled_a[both], pooled_b[both], self.config.mmd_kernel_scales))
            if self.gates is None:
                tokens.append(zeros)
                token_mask.append(torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            tokens.append(self.gates[f"{a}_{b}"](codes[ia], masks[ia], codes[ib], masks[ib]))
            token_mask.append(both)
        for i, modality in enumerate(MCIHN_MODALITIES):
            if codes[i] is None:
                tokens.append(zeros)
                token_mask.append(torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            tokens.append(self.unimodal_projections[modality](masked_mean(codes[i], masks[i])))
            token_mask.append(modality_mask[:, i])
        token_mask = torch.stack(token_mask, 1)
        tokens = torch.where(token_mask.unsqueeze(-1), torch.stack(tokens, 1), 0.0)
        states, pooled = self.fusion(tokens, token_mask)

        zero = pooled.sum() * 0.0
        adversarial, discriminator = self.adversarial_terms(codes, masks)
        output = MCIHNModelOutput(
            reconstruction_loss=torch.stack(reconstruction).mean() if reconstruction else zero,
            adversarial_loss=adversarial,
            discriminator_loss=discriminator,
            mmd_loss=torch.stack(mmd).mean() if mmd else zero,
            last_hidden_state=states,
            pooled_output=pooled,
            token_mask=token_mask,
            text_codes=codes[0],
            audio_codes=codes[1],
            visual_codes=codes[2],
            text_code_mask=masks[0],
            audio_code_mask=masks[1],
            visual_code_mask=masks[2],
            modality_mask=modality_mask,
        )
        return output if return_dict else output.to_tuple()


def _merge_rows(
    first: tuple[torch.Tensor, torch.Tensor],
    second: tuple[torch.Tensor, torch.Tensor],
    name_a: str,
    name_b: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One modality given in two forms over the rows of a batch: each row keeps the form with valid frames."""
    (a, mask_a), (b, mask_b) = first, second
    rows_a, rows_b = mask_a.bool().any(1), mask_b.bool().any(1)
    if bool((rows_a & rows_b).any()):
        row = int((rows_a & rows_b).nonzero()[0, 0])
        raise ValueError(
            f"{name_b} and {name_a} were both given for utterance {row} of the batch: pass one input per modality "
            f"({name_b} for the tower, {name_a} for precomputed frames)"
        )
    length = max(a.shape[1], b.shape[1])
    states = a.new_zeros(a.shape[0], length, a.shape[-1], dtype=torch.promote_types(a.dtype, b.dtype))
    mask = torch.zeros(a.shape[0], length, dtype=torch.bool, device=a.device)
    states[:, : a.shape[1]] = torch.where(rows_a[:, None, None], a.to(states.dtype), 0.0)
    mask[:, : a.shape[1]] = mask_a.bool() & rows_a[:, None]
    states[:, : b.shape[1]] += torch.where(rows_b[:, None, None], b.to(states.dtype), 0.0)
    mask[:, : b.shape[1]] |= mask_b.bool() & rows_b[:, None]
    return states, mask


def _frame_mask(mask: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)
    return mask.bool()


class MCIHNForMultimodalSentiment(MCIHNPreTrainedModel):
    """MCIHN with its prediction head: a sentiment score per utterance (`num_labels=1`, regression) or class
    logits (`num_labels > 1`)."""

    def __init__(self, config: MCIHNConfig):
        super().__init__(config)
        self.mcihn = MCIHNModel(config)
        self.head = nn.Sequential(
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.hidden_size, config.classifier_hidden_size),
            nn.GELU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.classifier_hidden_size, config.num_labels),
        )
        self.post_init()

    # Extra steps of `save_pretrained`: callables `(model, save_directory)` run before the weights and config are
    # written. The `mcn_cl` package registers one that adds the `multimodal-sentiment-analysis` pipeline's code and
    # `custom_pipelines` to the folder, so that any saved folder (`save_pretrained`, `Trainer.save_model`) serves
    # `pipeline(..., trust_remote_code=True)` in a fresh interpreter; loaded as Hub code, the list is empty.
    save_hooks: list = []

    def save_pretrained(self, save_directory, *args, **kwargs):
        for hook in type(self).save_hooks:
            hook(self, save_directory)
        return super().save_pretrained(save_directory, *args, **kwargs)

    def get_input_embeddings(self) -> nn.Module | None:
        return self.mcihn.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.mcihn.set_input_embeddings(value)

    def adversarial_terms(self, codes, masks) -> tuple[torch.Tensor, torch.Tensor]:
        """See [`MCIHNModel.adversarial_terms`]."""
        return self.mcihn.adversarial_terms(codes, masks)

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """The discriminators' weights (their own optimiser in [`MCIHNTrainer`])."""
        return [p for ae in self.mcihn.autoencoders.values() for p in ae.discriminator.parameters()]

    @classmethod
    def from_pretrained_encoders(
        cls, text_encoder: str | None = None, **config_kwargs
    ) -> MCIHNForMultimodalSentiment:
        """A fresh MCIHN whose text tower starts from the pretrained `text_encoder` (Hub id or local folder of any
        `AutoModel` text encoder, e.g. bert-base-uncased or all-MiniLM-L6-v2); `config_kwargs`: [`MCIHNConfig`]
        fields. The speech / vision towers, when configured, start from their `*_config` (load their weights with
        `model.mcihn.audio_encoder.encoder.load_state_dict(...)`)."""
        pretrained = None
        if text_encoder is not None and config_kwargs.get("use_text_encoder", True):
            pretrained = AutoModel.from_pretrained(text_encoder)
            config_kwargs["text_config"] = pretrained.config.to_dict()
        model = cls(MCIHNConfig(**config_kwargs))
        if pretrained is not None:
            model.mcihn.text_encoder.encoder.load_state_dict(pretrained.state_dict())
            model.config.text_config._name_or_path = text_encoder
        return model

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        text_mask: torch.LongTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        audio_attention_mask: torch.LongTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        visual_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCIHNSentimentOutput | tuple:
        r"""
        Inputs as in [`MCIHNModel.forward`], plus:

        labels (`torch.FloatTensor` of shape `(batch_size,)` for regression, `torch.LongTensor` for classification):
            Sentiment scores, or class ids (-100 = unlabelled). When given, `loss` is the task loss.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.mcihn(
            input_ids=input_ids, attention_mask=attention_mask, text_features=text_features, text_mask=text_mask,
            input_values=input_values, audio_attention_mask=audio_attention_mask, audio_features=audio_features,
            audio_mask=audio_mask, pixel_values=pixel_values, frame_mask=frame_mask,
            visual_features=visual_features, visual_mask=visual_mask, modality_mask=modality_mask, return_dict=True,
        )  # fmt: skip
        logits = self.head(outputs.pooled_output)
        loss = None
        if labels is not None:
            if self.config.is_regression:
                predictions, targets = logits.float().view(-1), labels.float().view(-1)
                loss_fn = F.l1_loss if self.config.regression_loss == "l1" else F.mse_loss
                loss = loss_fn(predictions, targets)
            else:
                flat = labels.view(-1).long()
                if (flat != -100).any():
                    loss = F.cross_entropy(logits.float(), flat, ignore_index=-100)
                else:
                    loss = logits.float().sum() * 0.0
        output = MCIHNSentimentOutput(
            loss=loss,
            logits=logits,
            reconstruction_loss=outputs.reconstruction_loss,
            adversarial_loss=outputs.adversarial_loss,
            discriminator_loss=outputs.discriminator_loss,
            mmd_loss=outputs.mmd_loss,
            pooled_output=outputs.pooled_output,
            text_codes=outputs.text_codes,
            audio_codes=outputs.audio_codes,
            visual_codes=outputs.visual_codes,
            text_code_mask=outputs.text_code_mask,
            audio_code_mask=outputs.audio_code_mask,
            visual_code_mask=outputs.visual_code_mask,
            modality_mask=outputs.modality_mask,
        )
        return output if return_dict else output.to_tuple()


# Hub custom code: `save_pretrained` writes `auto_map` and copies this folder's files next to the weights.
MCIHNConfig.register_for_auto_class()
MCIHNForMultimodalSentiment.register_for_auto_class("AutoModel")

__all__ = [
    "MCIHNPreTrainedModel",
    "MCIHNModel",
    "MCIHNForMultimodalSentiment",
    "MCIHNModelOutput",
    "MCIHNSentimentOutput",
    "MCIHNAdversarialAutoencoder",
    "MCIHNCrossModalGate",
    "MCIHNFusion",
    "masked_mean",
    "mmd_rbf",
]
