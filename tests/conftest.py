"""Shared pytest fixtures. Everything is generated here or in the tests; nothing is downloaded."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_TEXT_CONFIG = {
    "model_type": "bert",
    "vocab_size": 120,
    "hidden_size": 24,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def make_tiny_config(**overrides):
    """A tiny MCN-CL config (tiny BERT text tower, precomputed visual features) for fast tests."""
    from mcn_cl import MCNCLConfig

    kwargs = dict(
        text_config=dict(TINY_TEXT_CONFIG),
        audio_feature_size=20,
        visual_backbone=None,
        visual_feature_size=30,
        hidden_size=16,
        num_attention_heads=2,
        num_mcn_layers=2,
        intermediate_size=32,
        projection_size=8,
        classifier_hidden_size=16,
        psa_kernel_sizes=(3, 5, 7, 9),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    kwargs.update(overrides)
    return MCNCLConfig(**kwargs)


@pytest.fixture
def tiny_config():
    """Factory fixture: `tiny_config(**overrides)` -> MCNCLConfig."""
    return make_tiny_config
