"""Shared fixtures of the pipeline, Hub and CLI tests, loaded with `pytest_plugins = ["_fixtures_pipeline"]`.

A small generated demo corpus, and a tiny MCN-CL that uses all three modalities as a released checkpoint does: the
word-level tiny tokenizer with a tiny BERT tower, openSMILE eGeMAPSv02 (88-d), and the ResNet-101 backbone + PSA on
4 frames of 32x32. Each is built once per test session.

(The test modules also import helpers from here before pytest loads it as a plugin: PYTEST_DONT_REWRITE.)
"""

from __future__ import annotations

import pytest
from conftest import TINY_TEXT_CONFIG, make_tiny_config, make_tiny_tokenizer

NUM_FRAMES = 4
FRAME_SIZE = {"height": 32, "width": 32}
# large enough that predictions depend visibly on the inputs (the default 0.02 gives ~uniform scores)
INITIALIZER_RANGE = 0.2


def make_processor():
    from mcn_cl import MCNCLFeatureExtractor, MCNCLProcessor, MCNCLVideoProcessor

    return MCNCLProcessor(
        make_tiny_tokenizer(),
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02"),
        MCNCLVideoProcessor(num_frames=NUM_FRAMES, size=dict(FRAME_SIZE)),
    )


def make_model(processor, seed: int = 0):
    import torch

    from mcn_cl import MCNCLForEmotionRecognition
    from mcn_cl.demo import DEMO_LABELS

    config = make_tiny_config(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(processor.tokenizer)),
        audio_feature_size=processor.feature_extractor.feature_size,
        visual_backbone="resnet101",
        visual_feature_size=1000,
        num_frames=NUM_FRAMES,
        id2label=dict(enumerate(DEMO_LABELS)),
        label2id={name: i for i, name in enumerate(DEMO_LABELS)},
        initializer_range=INITIALIZER_RANGE,
    )
    torch.manual_seed(seed)
    return MCNCLForEmotionRecognition(config).eval()


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory):
    """(corpus folder, DatasetDict of loader rows): 4 dialogues, 2 train / 1 validation / 1 test."""
    from mcn_cl.demo import make_demo_corpus

    folder = str(tmp_path_factory.mktemp("demo") / "demo_corpus")
    return folder, make_demo_corpus(folder, num_dialogues=4)


@pytest.fixture(scope="session")
def model_and_processor():
    """The tiny model (eval mode, demo labels) and its processor; do not modify them."""
    processor = make_processor()
    return make_model(processor), processor


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, model_and_processor) -> str:
    """The tiny model and processor saved Hub-ready with `save_for_hub`; do not modify it."""
    from mcn_cl.hub_mcn_cl import save_for_hub

    model, processor = model_and_processor
    folder = str(tmp_path_factory.mktemp("checkpoint"))
    save_for_hub(model, processor, folder, dataset_name="demo")
    return folder


def conversation_of(row) -> list[dict]:
    """A loader row's utterances in the processor's format (`audio` / `video` keys, gold label dropped)."""
    return [
        {
            "speaker": u["speaker"],
            "text": u["text"],
            "audio": u["audio_path"],
            "video": u["video_path"],
            "start": u["start"],
            "end": u["end"],
        }
        for u in row["utterances"]
    ]
