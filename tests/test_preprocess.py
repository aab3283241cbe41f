"""Tests of `mcn_cl.preprocess.prepare_dataset`: loader rows -> cached dialogue features via `datasets.map`."""

from __future__ import annotations

import collections
import os
import shutil

import numpy as np
import pytest
import torch
from conftest import make_tiny_config, make_tiny_tokenizer

from mcn_cl import MCNCLDataCollator, MCNCLForEmotionRecognition
from mcn_cl.demo import DEMO_LABELS, make_demo_corpus, write_wav
from mcn_cl.preprocess import (
    fit_audio_normalization,
    frame_features,
    loader_row_to_conversation,
    prepare_dataset,
)
from mcn_cl.processing import MCNCLFeatureExtractor, MCNCLMediaError, MCNCLProcessor, MCNCLVideoProcessor

NUM_FRAMES = 16  # more than the 10-15 frames of a demo clip: the last frames are padding
BACKBONE_DIM = 5


def tiny_backbone(seed: int = 0) -> torch.nn.Module:
    """[F, 3, H, W] -> [F, 5] with an `fc` Linear, like torchvision's ResNets (stands in for ResNet-101)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        collections.OrderedDict(
            pool=torch.nn.AdaptiveAvgPool2d(1),
            flatten=torch.nn.Flatten(),
            fc=torch.nn.Linear(3, BACKBONE_DIM),
        )
    )


@pytest.fixture(scope="module")
def processor():
    return MCNCLProcessor(
        make_tiny_tokenizer(),
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02"),
        MCNCLVideoProcessor(num_frames=NUM_FRAMES, size={"height": 32, "width": 32}),
    )


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo_corpus(root, num_dialogues=6)  # train 4, validation 1, test 1 dialogues
    return root


@pytest.fixture
def corpus(corpus_dir, tmp_path):
    """A private copy of the demo corpus (its own `datasets` cache), reloaded from the manifest."""
    root = tmp_path / "demo"
    shutil.copytree(corpus_dir, root, ignore=shutil.ignore_patterns(".cache"))
    return root, make_demo_corpus(root, num_dialogues=6)


@pytest.fixture
def count_dialogues(monkeypatch):
    """Counts `MCNCLProcessor.prepare_dialogue` calls made in this process (num_proc=1)."""
    calls = []
    original = MCNCLProcessor.prepare_dialogue

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("dialogue_id"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MCNCLProcessor, "prepare_dialogue", counting)
    return calls


def test_prepared_rows_hold_the_dialogue_features_with_backbone_visual_features(corpus, processor):
    _, raw = corpus
    backbone = tiny_backbone()
    prepared = prepare_dataset(raw, processor, visual_backbone=backbone)
    assert {split: len(ds) for split, ds in prepared.items()} == {"train": 4, "validation": 1, "test": 1}
    assert set(prepared["train"].column_names) == {
        "dialogue_id",
        "speakers",
        "labels",
        "input_ids",
        "attention_mask",
        "audio_features",
        "visual_features",
        "frame_mask",
        "modality_mask",
        "media_errors",
    }
    assert prepared["train"].features["labels"].feature.names == list(DEMO_LABELS)
    for raw_row, row in zip(raw["train"], prepared["train"]):
        n = len(raw_row["utterances"])
        assert row["dialogue_id"] == raw_row["dialogue_id"]
        assert row["labels"] == [u["label"] for u in raw_row["utterances"]]
        assert row["speakers"] == [u["speaker"] for u in raw_row["utterances"]]
        assert np.asarray(row["audio_features"]).shape == (n, 88)
        assert np.asarray(row["visual_features"]).shape == (n, NUM_FRAMES, BACKBONE_DIM)
        assert np.asarray(row["modality_mask"]).tolist() == [[1, 1, 1]] * n and row["media_errors"] == []
        assert len(row["input_ids"]) == n and all(len(t) >= 3 for t in row["input_ids"])
        # the stored features are the processor's, the frames run once through the backbone
        expected = processor.prepare_dialogue(loader_row_to_conversation(raw_row["utterances"]))
        np.testing.assert_allclose(row["audio_features"], expected["audio_features"], rtol=1e-6)
        assert row["input_ids"] == expected["input_ids"]
        frame_mask = np.asarray(row["frame_mask"])
        np.testing.assert_array_equal(frame_mask, expected["frame_mask"])
        visual = np.asarray(row["visual_features"])
        np.testing.assert_allclose(
            visual, frame_features(backbone, expected["pixel_values"], frame_mask), rtol=1e-5, atol=1e-6
        )
        # demo clips have 10-15 frames: the padded ones are masked and hold zeros
        assert 10 <= frame_mask.sum(axis=1).min() and frame_mask.sum(axis=1).max() <= 15
        assert not visual[frame_mask == 0].any() and visual[frame_mask == 1].any()


def test_prepared_rows_train_the_model_through_the_collator(corpus, processor):
    _, raw = corpus
    prepared = prepare_dataset(raw["train"], processor, visual_backbone=tiny_backbone())
    batch = MCNCLDataCollator()([prepared[0], prepared[1]])
    assert batch["visual_features"].shape[2:] == (NUM_FRAMES, BACKBONE_DIM)
    torch.manual_seed(0)
    config = make_tiny_config(
        text_config={**make_tiny_config().text_config.to_dict(), "vocab_size": len(processor.tokenizer)},
        audio_feature_size=88,
        visual_feature_size=BACKBONE_DIM,
        num_frames=NUM_FRAMES,
        id2label=dict(enumerate(DEMO_LABELS)),
    )
    out = MCNCLForEmotionRecognition(config)(**batch)
    assert torch.isfinite(out.loss) and out.logits.shape[:2] == batch["labels"].shape


def test_without_a_backbone_the_rows_hold_pixel_values(corpus, processor):
    _, raw = corpus
    prepared = prepare_dataset(raw["test"], processor)
    assert "pixel_values" in prepared.column_names and "visual_features" not in prepared.column_names
    row = prepared.with_format("numpy")[0]
    n = len(raw["test"][0]["utterances"])
    assert row["pixel_values"].shape == (n, NUM_FRAMES, 3, 32, 32)
    expected = processor.prepare_dialogue(loader_row_to_conversation(raw["test"][0]["utterances"]))
    np.testing.assert_allclose(row["pixel_values"], expected["pixel_values"], rtol=1e-6)


def test_a_second_call_is_served_from_the_cache(corpus, processor, count_dialogues):
    root, raw = corpus
    first = prepare_dataset(raw, processor, visual_backbone=tiny_backbone())
    assert len(count_dialogues) == 6
    files = {split: ds.cache_files for split, ds in first.items()}
    assert all(f and f[0]["filename"].startswith(str(root)) for f in files.values())

    again = prepare_dataset(raw, processor, visual_backbone=tiny_backbone())
    assert len(count_dialogues) == 6  # nothing recomputed
    assert {split: ds.cache_files for split, ds in again.items()} == files
    assert again["train"][:] == first["train"][:]

    # what the cache key covers: other backbone weights, other processor settings, a media file changed in place
    prepare_dataset(raw["test"], processor, visual_backbone=tiny_backbone(seed=1))
    assert len(count_dialogues) == 7
    other = MCNCLProcessor(
        processor.tokenizer,
        processor.feature_extractor,
        MCNCLVideoProcessor(num_frames=4, size={"height": 32, "width": 32}),
    )
    prepare_dataset(raw["test"], other, visual_backbone=tiny_backbone())
    assert len(count_dialogues) == 8
    wav = raw["test"][0]["utterances"][0]["audio_path"]
    write_wav(wav, np.zeros(16000, dtype=np.float32) + 0.01 * np.sin(np.arange(16000.0)))
    changed = prepare_dataset(raw["test"], processor, visual_backbone=tiny_backbone())
    assert len(count_dialogues) == 9
    assert changed[0]["audio_features"][0] != first["test"][0]["audio_features"][0]
    prepare_dataset(raw["test"], processor, visual_backbone=tiny_backbone(), load_from_cache_file=False)
    assert len(count_dialogues) == 10


def test_two_worker_processes_give_the_same_rows_as_one(corpus, corpus_dir, processor, tmp_path):
    _, raw = corpus
    one = prepare_dataset(raw["train"], processor, visual_backbone=tiny_backbone(), num_proc=1, batch_size=2)
    # a second copy, with a cache of its own: `datasets` would reuse the single-process shard layout otherwise
    shutil.copytree(corpus_dir, tmp_path / "copy", ignore=shutil.ignore_patterns(".cache"))
    raw_copy = make_demo_corpus(tmp_path / "copy", num_dialogues=6)
    two = prepare_dataset(
        raw_copy["train"], processor, visual_backbone=tiny_backbone(), num_proc=2, batch_size=2
    )
    # the work was split into two shards, one per worker process
    assert [os.path.basename(f["filename"]).rsplit("_", 3)[-3:] for f in two.cache_files] == [
        ["00000", "of", "00002.arrow"],
        ["00001", "of", "00002.arrow"],
    ]
    assert len(one.cache_files) == 1
    assert two[:] == one[:]


def test_bad_media_are_masked_and_recorded_in_media_errors(corpus, processor):
    root, raw = corpus
    bad_video = raw["train"][1]["utterances"][2]["video_path"]
    with open(bad_video, "wb") as f:
        f.write(b"not an mp4" * 10)
    missing_wav = raw["test"][0]["utterances"][0]["audio_path"]
    os.remove(missing_wav)
    prepared = prepare_dataset(raw, processor, visual_backbone=tiny_backbone())

    row = prepared["train"][1]
    assert len(row["media_errors"]) == 1
    error = row["media_errors"][0]
    assert error["utterance"] == 2 and error["modality"] == "visual"
    assert error["reason"].startswith(f"dialogue {row['dialogue_id']}, utterance 2: video '{bad_video}'")
    mask = np.asarray(row["modality_mask"])
    assert mask[2].tolist() == [1, 1, 0] and mask.sum() == mask.size - 1
    assert not np.asarray(row["visual_features"])[2].any() and not np.asarray(row["frame_mask"])[2].any()

    test_row = prepared["test"][0]
    assert [(e["utterance"], e["modality"]) for e in test_row["media_errors"]] == [(0, "audio")]
    assert (
        "file not found" in test_row["media_errors"][0]["reason"]
        and missing_wav in test_row["media_errors"][0]["reason"]
    )
    assert np.asarray(test_row["modality_mask"])[0].tolist() == [1, 0, 1]
    assert all(r["media_errors"] == [] for i, r in enumerate(prepared["train"]) if i != 1)

    with pytest.raises(MCNCLMediaError, match=f"utterance 0: audio '{missing_wav}': file not found"):
        prepare_dataset(raw["test"], processor, on_error="raise")


def test_arguments_are_checked(corpus, processor):
    _, raw = corpus
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'mask'"):
        prepare_dataset(raw, processor, on_error="skip")


def test_audio_standardisation_is_fitted_on_train_and_saved_in_the_processor(corpus):
    root, raw = corpus
    os.remove(
        raw["train"][0]["utterances"][1]["audio_path"]
    )  # one utterance without audio: stays zero, masked
    processor = MCNCLProcessor(
        make_tiny_tokenizer(),
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02"),
        MCNCLVideoProcessor(num_frames=2, size={"height": 32, "width": 32}),
    )
    prepared = prepare_dataset(raw, processor)
    raw_train = prepared["train"]["audio_features"]
    standardised = fit_audio_normalization(prepared, processor)
    extractor = processor.feature_extractor
    assert extractor.do_normalize and len(extractor.feature_mean) == extractor.feature_size == 88

    rows = standardised["train"]
    audio = [np.asarray(a) for a in rows["audio_features"]]
    present = [np.asarray(m)[:, 1] > 0 for m in rows["modality_mask"]]
    assert not present[0][1] and not audio[0][1].any()  # the masked utterance is still zeros
    train_audio = np.concatenate([a[p] for a, p in zip(audio, present)])
    np.testing.assert_allclose(train_audio.mean(0), 0, atol=1e-4)
    spread = train_audio.std(0)  # 1, or 0 for the few functionals that are constant on these synthetic tones
    assert np.all((np.abs(spread - 1) < 1e-3) | (spread < 1e-6)) and (spread > 0.5).mean() > 0.8
    assert not np.allclose(np.concatenate(raw_train[1]), np.concatenate(audio[1]))

    # the processor now standardises new audio the same way (what the saved checkpoint does at inference)
    row = raw["test"][0]
    again = processor(loader_row_to_conversation(row["utterances"]), return_tensors="np")["audio_features"][0]
    np.testing.assert_allclose(
        again, np.asarray(standardised["test"][0]["audio_features"]), rtol=1e-4, atol=1e-4
    )
    processor.save_pretrained(root / "saved")
    reloaded = MCNCLProcessor.from_pretrained(root / "saved").feature_extractor
    assert reloaded.do_normalize and np.allclose(reloaded.feature_mean, extractor.feature_mean)

    # a processor that already normalises is left alone
    assert fit_audio_normalization(standardised, processor) is standardised


def test_frame_features_of_a_backbone_without_fc_keep_its_output_size_when_no_frame_is_real():
    """SqueezeNet 1.1 (the demo's frame backbone) ends in a convolution, not an `fc` Linear: a batch of clips with
    no real frame still gets [N, L, 1000] zeros, and real frames get exactly the backbone's outputs."""
    import torchvision.models

    torch.manual_seed(0)
    backbone = torchvision.models.squeezenet1_1().train()
    pixels = torch.randn(2, 3, 3, 32, 32).numpy()
    none_real = frame_features(backbone, pixels, np.zeros((2, 3), dtype=np.int64))
    assert none_real.shape == (2, 3, 1000) and not none_real.any()
    mask = np.array([[1, 1, 0], [0, 1, 0]])
    some_real = frame_features(backbone, pixels, mask)
    assert backbone.training  # its mode is restored
    with torch.no_grad():
        expected = backbone.eval()(torch.from_numpy(pixels[mask > 0])).numpy()
    np.testing.assert_allclose(some_real[mask > 0], expected, atol=1e-6)
    assert not some_real[mask == 0].any() and np.abs(expected).sum() > 0
