"""STAND-IN for `MCNCLForEmotionRecognition.init_stream()` (issue 12, items 1-2, built on the `model` branch).

Not the real stream: `StandInStream.step` re-runs the model's full forward over every utterance fed so far and
returns the last utterance's logits. That is the reference semantics of the real stream (for a causal model the
real one must give the same logits at the cost of one step), so the streaming session, the CLI and the latency
benchmark can be developed and checked for plumbing before the model branch is merged.

It is only installed by `install_stand_in_if_needed` when the model class has no `init_stream` AND the environment
sets MCN_CL_STREAM_STAND_IN=1; once the model branch is merged the tests always run on the real stream.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

STAND_IN_ENV = "MCN_CL_STREAM_STAND_IN"


class StandInStream:
    """Re-runs the full forward over the accumulated utterances (B dialogues, one new utterance each per step)."""

    def __init__(self, model, batch_size: int = 1):
        if not getattr(model.config, "causal", False):
            raise ValueError(
                "cannot stream a bidirectional model (config.causal=False): its prediction for an utterance "
                "depends on the utterances after it"
            )
        self.model = model
        self.batch_size = batch_size
        self.reset()

    def reset(self) -> None:
        self._steps: list[dict[str, torch.Tensor]] = []

    @property
    def num_steps(self) -> int:
        return len(self._steps)

    def step(self, **inputs):
        for key, value in inputs.items():
            if value is not None and value.shape[:2] != (self.batch_size, 1):
                raise ValueError(f"{key}: expected [B={self.batch_size}, 1, ...], got {tuple(value.shape)}")
        self._steps.append({k: v for k, v in inputs.items() if v is not None})
        keys = self._steps[0].keys()
        if any(step.keys() != keys for step in self._steps):
            raise ValueError("the stand-in needs the same inputs at every step")
        joined = {}
        for key in keys:
            values = [step[key] for step in self._steps]
            if key in ("input_ids", "attention_mask"):  # ragged token axis: pad to the longest
                length = max(v.shape[-1] for v in values)
                values = [F.pad(v, (0, length - v.shape[-1])) for v in values]
            joined[key] = torch.cat(values, dim=1)
        out = self.model(**joined)
        out.logits = out.logits[:, -1:]
        return out


def real_stream_available() -> bool:
    from mcn_cl import MCNCLForEmotionRecognition

    return hasattr(MCNCLForEmotionRecognition, "init_stream")


def stand_in_requested() -> bool:
    return os.environ.get(STAND_IN_ENV) == "1"


def install_stand_in_if_needed(monkeypatch) -> bool:
    """Give the model class the stand-in `init_stream` when it has none and MCN_CL_STREAM_STAND_IN=1; returns
    whether the stand-in is in use."""
    from mcn_cl import MCNCLForEmotionRecognition

    if real_stream_available() or not stand_in_requested():
        return False
    monkeypatch.setattr(
        MCNCLForEmotionRecognition,
        "init_stream",
        lambda self, batch_size=1: StandInStream(self, batch_size),
        raising=False,
    )
    return True
