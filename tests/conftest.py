"""Shared pytest fixtures. Everything is generated here or in the tests; nothing is downloaded."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Under pytest-xdist (the README's `-n auto`) the workers share the cores: each gets an equal share of torch / OpenMP
# threads (set before anything imports torch; subprocesses of the tests inherit it) instead of one per core each.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
if _WORKERS:
    _CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _CORES // _WORKERS)))

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
        # every MCN branch live from the first forward, so that tests of the attention paths are not vacuous (the
        # shipped default 0.0 starts each MCN layer as the identity: tests/test_modeling.py checks that)
        mcn_residual_init_scale=1.0,
    )
    kwargs.update(overrides)
    return MCNCLConfig(**kwargs)


def like_trained(model):
    """Perturb every parameter of `model` (in place, seeded; returns it): LayerNorms that are not the identity on
    normalised inputs and nonzero biases, as after training. The initial values can hide differences."""
    import torch

    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.2)
    return model


@pytest.fixture
def tiny_config():
    """Factory fixture: `tiny_config(**overrides)` -> MCNCLConfig."""
    return make_tiny_config


# ------------------------------------------------------------------------------------ tokenizer and remote code

TINY_WORDS = (
    "the a i you we it is am are was to of on in at my me so what this that no not yes oh hi "
    "where were out excuse don't know great wonderful miss him stop nothing"
).split()


def make_tiny_tokenizer(extra_words=()):
    """A word-level fast tokenizer (lower-cased, `[CLS] ... [SEP]`) over `TINY_WORDS`, the demo corpus's phrases
    and `extra_words`; unknown words map to `[UNK]`. Built in memory: nothing is downloaded."""
    import re

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from mcn_cl.demo import _PHRASES

    words = set(TINY_WORDS) | {w for ps in _PHRASES.values() for p in ps for w in re.findall(r"[a-z']+", p)}
    words |= {w.lower() for w in extra_words}
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {token: i for i, token in enumerate([*specials, *sorted(words)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


# Prepended to a script run by `run_without_mcn_cl`: `import mcn_cl` fails in that interpreter, so whatever the
# script loads with `trust_remote_code=True` must come from the files saved next to the weights / configs.
BLOCK_MCN_CL = """
import importlib.abc, sys

class BlockMcnCl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "mcn_cl" or name.startswith("mcn_cl."):
            raise ImportError("mcn_cl is blocked in this interpreter")
        return None

sys.meta_path.insert(0, BlockMcnCl())
try:
    import mcn_cl  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("mcn_cl must not be importable here")
"""


def run_without_mcn_cl(script: str, *args, workdir, timeout: float = 300):
    """Run `script` (Python source) with `args` in a fresh isolated interpreter (`-I`, offline, its own HF_HOME
    under `workdir`) where `mcn_cl` cannot be imported. Returns the `subprocess.CompletedProcess`."""
    import subprocess
    import sys

    path = os.path.join(workdir, "run_without_mcn_cl.py")
    with open(path, "w") as f:
        f.write(BLOCK_MCN_CL + "\n" + script)
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": os.path.join(workdir, "hf_home"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-I", path, *map(str, args)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,  # a trust_remote_code prompt fails at once instead of waiting
        capture_output=True,
        text=True,
        timeout=timeout,
    )
