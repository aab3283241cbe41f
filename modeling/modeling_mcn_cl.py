# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""PyTorch MCN-CL: Multimodal Cross-Attention Network and Contrastive Learning for emotion recognition in
conversation (Li, Wu, Li). Equation numbers in comments refer to the paper.

This file holds the model classes. The parts live in same-folder siblings: `modeling_outputs_mcn_cl.py` (the
`ModelOutput`s), `heads_mcn_cl.py` (contrastive projections, classifier), `unimodal_encoders_mcn_cl.py` (text /
audio / visual towers, PSA), `context_encoders_mcn_cl.py` (DialogueRNN, BiGRU, transformer, none; with
`grouped_dialogue_rnn.py`), `cross_attention_mcn_cl.py` (the MCN layers) and `streaming_mcn_cl.py` (online
inference).

These files travel to the Hub next to the weights (`save_pretrained` copies this file and, recursively, the
siblings it imports relatively, flat into the checkpoint folder, so that
`AutoModel.from_pretrained(folder, trust_remote_code=True)` works without the `mcn_cl` package): they import only
same-folder siblings (relative imports) and public libraries.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import logging

from .configuration_mcn_cl import MODALITIES, MCNCLConfig
from .context_encoders_mcn_cl import MCNCLContextEncoder, _append_utterance
from .cross_attention_mcn_cl import MCNCLBranchOutput, MCNCLCrossModalLayer
from .heads_mcn_cl import MCNCLClassifier, MCNCLProjectionHead
from .modeling_outputs_mcn_cl import MCNCLModelOutput, MCNCLOutput
from .streaming_mcn_cl import _STREAM_INPUTS, MCNCLStream, MCNCLStreamState
from .unimodal_encoders_mcn_cl import (
    MCNCLAudioEncoder,
    MCNCLPyramidSqueezeAttention,
    MCNCLTextEncoder,
    MCNCLVisualEncoder,
)

logger = logging.get_logger(__name__)

_TEXT, _AUDIO, _VISUAL = range(3)


class MCNCLPreTrainedModel(PreTrainedModel):
    config: MCNCLConfig
    config_class = MCNCLConfig
    base_model_prefix = "mcn_cl"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MCNCLCrossModalLayer", "MCNCLDialogueRNN", "MCNCLPyramidSqueezeAttention"]
    # `forward` takes `**kwargs` (unused model inputs of the collator), which a plain `Trainer` would read as
    # accepting `num_items_in_batch`; the loss is a per-batch mean, so the Trainer must scale it for gradient
    # accumulation itself.
    accepts_loss_kwargs = False
    # Checkpoints from before the text tower was built without its (never used) pooler still load.
    _keys_to_ignore_on_load_unexpected = [r"text_encoder\.encoder\.pooler\."]

    def _init_weights(self, module: nn.Module) -> None:
        """Fusion layers: normal(0, std) with std = `config.initializer_range`, or 1/sqrt(fan_in) when it is None.
        The pretrained towers are left alone: the text encoder is a `PreTrainedModel` and initialises itself; the
        frame backbone keeps torchvision's initialisation (or its ImageNet weights), except a ResNet's final `fc`
        Linear, which takes the fusion layers' initialisation; PSA convolutions and the recurrent context encoders
        keep PyTorch's. The last projection of each MCN residual branch ([`MCNCLBranchOutput`]) has its std scaled
        by `config.mcn_residual_init_scale` (0: zeros, the MCN layer starts as the identity). The gate of
        `utterance_position_encoding="gated_sinusoidal"` starts at 0."""
        if isinstance(module, nn.Conv2d | nn.BatchNorm2d):  # inside the torchvision backbone and PSA
            return
        if isinstance(module, nn.Conv1d | nn.Linear):
            std = self.config.initializer_range
            if std is None:
                fan_in = module.weight[0].numel()  # Linear: in_features; Conv1d: in_channels * kernel_size
                std = fan_in**-0.5
            if isinstance(module, MCNCLBranchOutput):
                std *= self.config.mcn_residual_init_scale
            if std == 0:
                init.zeros_(module.weight)
            else:
                init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            std = self.config.initializer_range
            init.normal_(module.weight, mean=0.0, std=std if std is not None else 0.02)
        elif isinstance(module, MCNCLContextEncoder) and module.position_gate is not None:
            init.zeros_(module.position_gate)


class MCNCLModel(MCNCLPreTrainedModel):
    """The MCN-CL encoder without a head: unimodal encoders, dialogue context, T MCN layers. Returns each
    modality's fused representation F^{m(T)}."""

    def __init__(self, config: MCNCLConfig):
        super().__init__(config)
        self.text_encoder = MCNCLTextEncoder(config)
        self.audio_encoder = MCNCLAudioEncoder(config)
        self.visual_encoder = MCNCLVisualEncoder(config)
        self.context_encoders = nn.ModuleDict({m: MCNCLContextEncoder(config) for m in MODALITIES})
        self.layers = nn.ModuleList(
            MCNCLCrossModalLayer(config) for _ in range(config.num_mcn_layers if config.use_mcn else 0)
        )
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self) -> nn.Module | None:
        encoder = self.text_encoder.encoder
        return encoder.get_input_embeddings() if encoder is not None else None

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_encoder.encoder.set_input_embeddings(value)

    def get_visual_backbone(self) -> nn.Module | None:
        """The frame backbone (torchvision `config.visual_backbone`, ImageNet-normalised [F, 3, H, W] -> [F, 1000]),
        e.g. to precompute `visual_features` once per clip; `None` when the model takes precomputed features only."""
        return self.visual_encoder.backbone

    @staticmethod
    def _check_utterance_mask(utterance_mask: torch.Tensor) -> None:
        if utterance_mask.shape[1] > 1 and (utterance_mask[:, 1:] > utterance_mask[:, :-1]).any():
            raise ValueError(
                "utterance_mask: padding must come after the real utterances of each dialogue "
                "(found a real utterance after a padded one)."
            )

    def _check_speaker_ids(self, speaker_ids: torch.Tensor, utterance_mask: torch.Tensor) -> None:
        bad = utterance_mask & ((speaker_ids < 0) | (speaker_ids >= self.config.max_speakers))
        if bad.any():
            dialogue, utterance = bad.nonzero()[0].tolist()
            raise ValueError(
                f"speaker_ids: dialogue {dialogue}, utterance {utterance} has speaker index "
                f"{int(speaker_ids[dialogue, utterance])}; speaker indices must lie in [0, config.max_speakers="
                f"{self.config.max_speakers})"
            )

    def _embed_utterances(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        text_features: torch.Tensor | None,
        audio_features: torch.Tensor | None,
        pixel_values: torch.Tensor | None,
        visual_features: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
        speaker_ids: torch.Tensor | None,
        utterance_mask: torch.Tensor | None,
        modality_mask: torch.Tensor | None,
    ) -> _EmbeddedUtterances:
        """Validate the inputs of [`forward`] and run the unimodal encoders. A modality whose input is missing or
        masked for every utterance of the batch is absent: its encoder does not run."""
        given = {
            "text": input_ids if text_features is None else text_features,
            "audio": audio_features,
            "visual": pixel_values if visual_features is None else visual_features,
        }
        reference = next((x for x in given.values() if x is not None), None)
        if reference is None:
            raise ValueError(
                "MCNCLModel needs at least one modality: input_ids/text_features, audio_features, or "
                "pixel_values/visual_features."
            )
        batch, num_utt = reference.shape[:2]
        device = reference.device
        for name, value in given.items():
            if value is not None and tuple(value.shape[:2]) != (batch, num_utt):
                raise ValueError(
                    f"{name} input has batch/utterance shape {tuple(value.shape[:2])}, expected {(batch, num_utt)}"
                )
        if utterance_mask is None:
            utterance_mask = torch.ones(batch, num_utt, dtype=torch.bool, device=device)
        utterance_mask = utterance_mask.bool()
        self._check_utterance_mask(utterance_mask)
        if speaker_ids is None:
            speaker_ids = torch.zeros(batch, num_utt, dtype=torch.long, device=device)
        speaker_ids = speaker_ids.long()
        self._check_speaker_ids(speaker_ids, utterance_mask)
        speaker_ids = speaker_ids.masked_fill(~utterance_mask, 0)
        supplied_mask = torch.tensor([given[m] is not None for m in MODALITIES], device=device)
        if modality_mask is None:
            modality_mask = supplied_mask.expand(batch, num_utt, 3)
        modality_mask = modality_mask.bool() & supplied_mask & utterance_mask.unsqueeze(-1)
        # Python bools (one host copy): branching on them needs no further sync
        present = modality_mask.flatten(0, 1).any(0).tolist() if num_utt else [False] * 3

        unimodal = torch.zeros(batch, num_utt, 3, self.config.hidden_size, dtype=self.dtype, device=device)
        if present[_TEXT]:
            unimodal[:, :, _TEXT] = self.text_encoder(
                input_ids, attention_mask, text_features, modality_mask[..., _TEXT]
            )
        if present[_AUDIO]:
            unimodal[:, :, _AUDIO] = self.audio_encoder(audio_features, modality_mask[..., _AUDIO])
        if present[_VISUAL]:
            unimodal[:, :, _VISUAL] = self.visual_encoder(
                pixel_values, visual_features, frame_mask, modality_mask[..., _VISUAL]
            )
        return _EmbeddedUtterances(unimodal, speaker_ids, modality_mask, present)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        speaker_ids: torch.LongTensor | None = None,
        utterance_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCNCLModelOutput | tuple:
        r"""
        Args:
            input_ids, attention_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_tokens)`):
                Tokenised utterances (or give `text_features` [B, N, D_t]).
            audio_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, audio_feature_size)`):
                openSMILE functionals per utterance.
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, 3, height, width)`):
                ImageNet-normalised face frames (or give `visual_features` [B, N, L, D_v] or [B, N, D_v]).
            frame_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_frames)`):
                1 for real frames, 0 for padding frames.
            speaker_ids (`torch.LongTensor` of shape `(batch_size, num_utterances)`):
                Speaker index inside the dialogue, in `[0, config.max_speakers)` (default: all 0).
            utterance_mask (`torch.LongTensor` of shape `(batch_size, num_utterances)`):
                1 for real utterances, 0 for padding (padding after the real ones). Default: all 1.
            modality_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, 3)`):
                1 where the modality (text, audio, visual) is present for the utterance. Default: present for
                every modality whose input is given. A masked modality of an utterance is skipped by that
                modality's context encoder and MCN keys, as padding is; a modality masked everywhere is absent.
        """
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        embedded = self._embed_utterances(
            input_ids,
            attention_mask,
            text_features,
            audio_features,
            pixel_values,
            visual_features,
            frame_mask,
            speaker_ids,
            utterance_mask,
            modality_mask,
        )
        modality_mask, present = embedded.modality_mask, embedded.present
        # Dialogue context per modality: C^t, C^a, C^v; each encoder skips the utterances lacking its modality.
        # The DialogueRNN recurrences of all present modalities run together (MCNCLContextEncoder.encode_all).
        indices = [i for i in range(3) if present[i]]
        encoded = dict(
            zip(
                indices,
                MCNCLContextEncoder.encode_all(
                    [self.context_encoders[MODALITIES[i]] for i in indices],
                    [embedded.unimodal[:, :, i] for i in indices],
                    embedded.speaker_ids,
                    [modality_mask[..., i] for i in indices],
                ),
            )
        )
        context = torch.stack(
            [encoded[i] if present[i] else embedded.unimodal[:, :, i] for i in range(3)], dim=2
        )

        states = context
        all_hidden = (states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            keys = context if self.config.kv_source == "context" else states
            states, probs = layer(states, keys, modality_mask)
            if output_hidden_states:
                all_hidden += (states,)
            if output_attentions:
                all_attentions += (probs,)

        output = self._output(states, modality_mask, present, all_hidden, all_attentions)
        return output if return_dict else output.to_tuple()

    @staticmethod
    def _output(
        states: torch.Tensor,
        modality_mask: torch.Tensor,
        present: list[bool],
        all_hidden: tuple[torch.Tensor, ...] | None = None,
        all_attentions: tuple[torch.Tensor, ...] | None = None,
    ) -> MCNCLModelOutput:
        states = torch.where(modality_mask.unsqueeze(-1), states, 0.0)
        per_modality = [states[:, :, i] if present[i] else None for i in range(3)]
        return MCNCLModelOutput(
            text_hidden_state=per_modality[_TEXT],
            audio_hidden_state=per_modality[_AUDIO],
            visual_hidden_state=per_modality[_VISUAL],
            modality_mask=modality_mask,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )

    def init_stream(self, batch_size: int = 1) -> MCNCLStream:
        """Start an online session over `batch_size` dialogues: see [`MCNCLStream`]. Needs `config.causal=True`."""
        return MCNCLStream(self, batch_size)

    def _stream_step(self, state: MCNCLStreamState, **inputs) -> tuple[MCNCLModelOutput, MCNCLStreamState]:
        """One streamed utterance per dialogue through a causal model, from the cached past `state`: returns the
        output for the utterance and the new state (`state` itself is left unchanged)."""
        embedded = self._embed_utterances(
            **{name: inputs.get(name) for name in _STREAM_INPUTS if name != "labels"}
        )
        batch, num_utt = embedded.modality_mask.shape[:2]
        if num_utt != 1 or batch != state.batch_size:
            raise ValueError(
                f"MCNCLStream.step takes one new utterance for each of the {state.batch_size} dialogues "
                f"(inputs of shape [{state.batch_size}, 1, ...]); got batch/utterance shape {(batch, num_utt)}"
            )
        modality_mask = embedded.modality_mask
        context, context_states = [], []
        for i, m in enumerate(MODALITIES):
            out, new_state = self.context_encoders[m].stream_step(
                embedded.unimodal[:, 0, i],
                embedded.speaker_ids[:, 0],
                modality_mask[:, 0, i],
                state.context[i],
            )
            context.append(out)
            context_states.append(new_state)
        states = torch.stack(context, dim=1).unsqueeze(1)  # [B, 1, 3, H]
        modality_masks = _append_utterance(state.modality_masks, modality_mask[:, 0])
        layer_inputs = list(state.layer_inputs)
        for index, layer in enumerate(self.layers):
            if index == 0 or self.config.kv_source == "previous_layer":
                layer_inputs[index] = _append_utterance(layer_inputs[index], states[:, 0])
            keys = layer_inputs[0 if self.config.kv_source == "context" else index]
            states, _ = layer(states, keys, modality_masks)
        new_state = MCNCLStreamState(
            batch_size=state.batch_size,
            num_utterances=state.num_utterances + 1,
            context=tuple(context_states),
            modality_masks=modality_masks,
            layer_inputs=tuple(layer_inputs),
        )
        return self._output(states, modality_mask, embedded.present), new_state


class MCNCLForEmotionRecognition(MCNCLPreTrainedModel):
    """MCN-CL with its contrastive projection heads and emotion classifier: one emotion per utterance."""

    def __init__(self, config: MCNCLConfig):
        super().__init__(config)
        self.mcn_cl = MCNCLModel(config)
        self.projection_heads = nn.ModuleDict({m: MCNCLProjectionHead(config) for m in MODALITIES})
        self.classifier = MCNCLClassifier(config)
        self.post_init()

    def get_visual_backbone(self) -> nn.Module | None:
        """See [`MCNCLModel.get_visual_backbone`]."""
        return self.mcn_cl.get_visual_backbone()

    def get_input_embeddings(self) -> nn.Module | None:
        return self.mcn_cl.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.mcn_cl.set_input_embeddings(value)

    @classmethod
    def from_pretrained_encoders(
        cls,
        text_encoder: str | None = "roberta-base",
        visual_weights: str | None = "IMAGENET1K_V2",
        **config_kwargs,
    ) -> MCNCLForEmotionRecognition:
        """Build a fresh MCN-CL whose towers start from pretrained weights, as every real training run should.

        Args:
            text_encoder (`str`, *optional*, defaults to `"roberta-base"`):
                Hub id or local folder of any `AutoModel` text encoder; its config becomes `text_config` and its
                weights are copied into the text tower. `None` keeps a randomly initialised tower (or none, with
                `use_text_encoder=False`).
            visual_weights (`str`, *optional*, defaults to `"IMAGENET1K_V2"`):
                torchvision weights enum name for the frame backbone (`config.visual_backbone`; ResNet-101 has
                `IMAGENET1K_V1` and `IMAGENET1K_V2`, ResNet-18 and SqueezeNet 1.1 only `IMAGENET1K_V1`;
                `DEFAULT` is torchvision's recommended one), a `ValueError` for a name the backbone does not have.
                Offline, when torchvision cannot fetch them, the backbone stays randomly initialised and a warning
                says so. `None` skips them.
            config_kwargs:
                Any other [`MCNCLConfig`] field (labels, feature sizes, T, ...).
        """
        pretrained_text = None
        if text_encoder is not None and config_kwargs.get("use_text_encoder", True):
            pretrained_text = AutoModel.from_pretrained(text_encoder)
            config_kwargs["text_config"] = pretrained_text.config.to_dict()
        config = MCNCLConfig(**config_kwargs)
        model = cls(config)
        if pretrained_text is not None:
            tower = model.mcn_cl.text_encoder.encoder
            missing, unexpected = tower.load_state_dict(pretrained_text.state_dict(), strict=False)
            unexpected = [
                key for key in unexpected if not key.startswith("pooler.")
            ]  # the tower has no pooler
            if missing or unexpected:
                raise ValueError(
                    f"text_encoder {text_encoder!r}: its weights do not fit the text tower (missing {missing}, "
                    f"unexpected {unexpected})"
                )
            config.text_config._name_or_path = text_encoder
        backbone = model.get_visual_backbone()
        if backbone is not None and visual_weights is not None:
            from torchvision.models import get_model_weights

            weights_enum = get_model_weights(config.visual_backbone)
            if visual_weights not in weights_enum.__members__:
                raise ValueError(
                    f"visual_weights={visual_weights!r}: torchvision's {config.visual_backbone} has "
                    f"{sorted(weights_enum.__members__)}, or pass None for random weights"
                )
            try:
                state = weights_enum[visual_weights].get_state_dict(progress=False)
            except Exception as err:  # offline or no cache: keep the random backbone, loudly
                logger.warning(
                    "Could not load torchvision %s weights %r (%s: %s); the visual backbone stays randomly "
                    "initialised. Precompute visual features with pretrained weights for real training.",
                    config.visual_backbone,
                    visual_weights,
                    type(err).__name__,
                    err,
                )
            else:
                backbone.load_state_dict(state)
        return model

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        speaker_ids: torch.LongTensor | None = None,
        utterance_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCNCLOutput | tuple:
        r"""
        Inputs as in [`MCNCLModel.forward`], plus:

        labels (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
            Class ids in `[0, num_labels)`, -100 for padding and unlabelled utterances. When given, `loss` is the
            (class-weighted) cross-entropy over the labelled utterances.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.mcn_cl(
            input_ids=input_ids,
            attention_mask=attention_mask,
            text_features=text_features,
            audio_features=audio_features,
            pixel_values=pixel_values,
            visual_features=visual_features,
            frame_mask=frame_mask,
            speaker_ids=speaker_ids,
            utterance_mask=utterance_mask,
            modality_mask=modality_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        per_modality = [outputs.text_hidden_state, outputs.audio_hidden_state, outputs.visual_hidden_state]
        logits, embeds = self._heads(per_modality, outputs.modality_mask)
        loss = self._loss(logits, labels, utterance_mask) if labels is not None else None

        if not return_dict:
            out = (logits, *embeds, outputs.modality_mask, outputs.hidden_states, outputs.attentions)
            out = tuple(v for v in out if v is not None)
            return ((loss,) + out) if loss is not None else out
        return MCNCLOutput(
            loss=loss,
            logits=logits,
            text_embeds=embeds[_TEXT],
            audio_embeds=embeds[_AUDIO],
            visual_embeds=embeds[_VISUAL],
            modality_mask=outputs.modality_mask,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def _heads(
        self, per_modality: list[torch.Tensor | None], modality_mask: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Each modality's F^{m(T)} [B, N, H] (None when absent) -> logits [B, N, K] and the projections z'_m.
        Absent modalities enter the classifier as zeros (all three when nothing is present, e.g. only padding)."""
        absent = modality_mask.new_zeros(*modality_mask.shape[:2], self.config.hidden_size, dtype=self.dtype)
        fused = torch.cat([h if h is not None else absent for h in per_modality], dim=-1)
        logits = self.classifier(fused)  # eq. 28-31
        embeds = [
            self.projection_heads[m](h) if h is not None else None for m, h in zip(MODALITIES, per_modality)
        ]
        return logits, embeds

    def _loss(
        self, logits: torch.Tensor, labels: torch.Tensor, utterance_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """(Class-weighted) cross-entropy over the real (`utterance_mask`), labelled (not -100) utterances."""
        if tuple(labels.shape) != tuple(logits.shape[:2]):
            raise ValueError(f"labels: shape {tuple(labels.shape)}, expected {tuple(logits.shape[:2])}")
        labels = labels.long()
        if utterance_mask is not None:
            labels = labels.masked_fill(~utterance_mask.bool(), -100)
        num_labels = logits.shape[-1]
        bad = (labels != -100) & ((labels < 0) | (labels >= num_labels))
        if bad.any():
            dialogue, utterance = bad.nonzero()[0].tolist()
            raise ValueError(
                f"labels: dialogue {dialogue}, utterance {utterance} has label {int(labels[dialogue, utterance])}; "
                f"labels must be class ids in [0, {num_labels}) or -100 (unlabelled)"
            )
        flat_labels = labels.reshape(-1)
        if not (flat_labels != -100).any():  # nothing labelled (cross_entropy would give NaN): a zero loss
            return logits.float().sum() * 0.0
        weight = None
        if self.config.class_weights is not None:
            weight = torch.tensor(self.config.class_weights, dtype=torch.float32, device=logits.device)
        return F.cross_entropy(
            logits.float().reshape(-1, num_labels), flat_labels, weight=weight, ignore_index=-100
        )

    def init_stream(self, batch_size: int = 1) -> MCNCLStream:
        """Start an online session over `batch_size` dialogues: `stream.step(**inputs)` takes one new utterance per
        dialogue and returns its [`MCNCLOutput`] from the cached past. See [`MCNCLStream`].

        Raises:
            ValueError: the model is bidirectional (`config.causal=False`).
        """
        return MCNCLStream(self, batch_size)

    def _stream_step(self, state: MCNCLStreamState, **inputs) -> tuple[MCNCLOutput, MCNCLStreamState]:
        """[`MCNCLModel._stream_step`] and the heads: one streamed utterance per dialogue -> its output and the new
        stream state."""
        outputs, state = self.mcn_cl._stream_step(state, **inputs)
        per_modality = [outputs.text_hidden_state, outputs.audio_hidden_state, outputs.visual_hidden_state]
        logits, embeds = self._heads(per_modality, outputs.modality_mask)
        labels = inputs.get("labels")
        output = MCNCLOutput(
            loss=self._loss(logits, labels, inputs.get("utterance_mask")) if labels is not None else None,
            logits=logits,
            text_embeds=embeds[_TEXT],
            audio_embeds=embeds[_AUDIO],
            visual_embeds=embeds[_VISUAL],
            modality_mask=outputs.modality_mask,
        )
        return output, state


class _EmbeddedUtterances(NamedTuple):
    """The validated inputs after the unimodal encoders: unimodal [B, N, 3, H] (0 where masked), speaker_ids
    [B, N], the effective modality_mask [B, N, 3] (utterance real and modality present) and `present`, which
    modalities are present anywhere in the batch (Python bools)."""

    unimodal: torch.Tensor
    speaker_ids: torch.Tensor
    modality_mask: torch.Tensor
    present: list[bool]


# Hub custom code: `save_pretrained` writes `auto_map` and copies this file and the siblings it imports (relative
# imports, recursively) next to the weights.
MCNCLConfig.register_for_auto_class()
MCNCLForEmotionRecognition.register_for_auto_class("AutoModel")

__all__ = [
    "MCNCLPreTrainedModel",
    "MCNCLModel",
    "MCNCLForEmotionRecognition",
    "MCNCLOutput",
    "MCNCLModelOutput",
    "MCNCLPyramidSqueezeAttention",
    "MCNCLCrossModalLayer",
    "MCNCLProjectionHead",
    "MCNCLStream",
]
# The outputs, heads, MCNCLPyramidSqueezeAttention, MCNCLCrossModalLayer and MCNCLStream live in sibling files;
# they stay importable from here (imported above) for code written before the split.
