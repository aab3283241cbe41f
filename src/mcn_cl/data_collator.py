# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Data collator of MCN-CL: a list of dialogue features (docs/data_formats.md, section 2) -> one padded batch
(section 3: `[B, N, ...]` tensors with `utterance_mask`, `modality_mask`, `frame_mask`, labels -100 on padding).

The padding and the masks are built in one place, `mcn_cl.processing.padding_mcn_cl.pad_dialogues`, which the
processor also uses; this collator only adapts it to the `Trainer`'s `data_collator` interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MCNCLDataCollator:
    """Pads a list of dialogues (utterances, tokens, frames) into the model's input tensors.

    Args:
        pad_kwargs (`dict`, *optional*): extra keyword arguments of `pad_dialogues` (e.g. the tokenizer's pad id).

    Use it with `TrainingArguments(remove_unused_columns=False)`: the Trainer would otherwise drop the columns
    (`speakers`, ...) that are not arguments of the model's `forward`.

    Example:

    ```python
    >>> from mcn_cl import MCNCLDataCollator

    >>> collator = MCNCLDataCollator()
    >>> batch = collator([dataset[0], dataset[1]])  # batch["labels"]: [2, N], -100 on padding
    ```
    """

    pad_kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """
        Args:
            features (`Sequence[Mapping]`): dialogue features, one per dialogue (section 2 of the data formats).

        Returns:
            The padded batch (`BatchFeature` of `torch` tensors, section 3 of the data formats).
        """
        from mcn_cl.processing.padding_mcn_cl import pad_dialogues

        if len(features) == 0:
            raise ValueError("MCNCLDataCollator: received an empty list of dialogues")
        return pad_dialogues(list(features), **self.pad_kwargs)


__all__ = ["MCNCLDataCollator"]
