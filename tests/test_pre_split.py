"""Checkpoints saved before `modeling_mcn_cl.py` was split (issue 17) load strictly into the current code and give
the same logits, in a full forward and (causal models) streamed one utterance at a time.

The fixtures (tests/fixtures/pre_split/) were written by tests/make_pre_split_fixtures.py from commit dce178d.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from make_pre_split_fixtures import CONFIGS, model_inputs, stream_logits
from safetensors.torch import load_file

from mcn_cl import MCNCLForEmotionRecognition

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "pre_split")


def test_every_config_has_a_fixture():
    assert sorted(CONFIGS) == sorted(
        name for name in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, name))
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_pre_split_checkpoint_loads_strictly_with_the_same_logits(name):
    folder = os.path.join(FIXTURES, name)
    model, info = MCNCLForEmotionRecognition.from_pretrained(folder, output_loading_info=True)
    assert not any(info.values()), info  # no missing, unexpected or mismatched keys, no error
    # and strictly through plain PyTorch too (no key silently ignored by a pattern)
    MCNCLForEmotionRecognition(model.config).load_state_dict(
        load_file(os.path.join(folder, "model.safetensors"))
    )
    model.eval()
    with open(os.path.join(folder, "inputs.json")) as f:
        inputs = model_inputs(load_file(os.path.join(FIXTURES, "inputs.safetensors")), json.load(f)["text"])
    expected = load_file(os.path.join(folder, "expected.safetensors"))
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, expected["logits"], atol=1e-6, rtol=0)
    assert ("stream_logits" in expected) == model.config.causal
    if model.config.causal:
        torch.testing.assert_close(stream_logits(model, inputs), expected["stream_logits"], atol=1e-6, rtol=0)
