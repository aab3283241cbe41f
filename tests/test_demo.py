"""Tests of the generated demo corpus and the media writers (`mcn_cl.demo`)."""

from __future__ import annotations

import json
import os

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_tiny_config, make_tiny_tokenizer

from mcn_cl import MCNCLForEmotionRecognition
from mcn_cl.datasets_scripts import label_names
from mcn_cl.demo import _COLOUR, DEMO_LABELS, make_demo_corpus, write_mp4, write_wav
from mcn_cl.processing import MCNCLFeatureExtractor, MCNCLProcessor, MCNCLVideoProcessor, load_audio


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return root, make_demo_corpus(root, num_dialogues=4)


def streams(path: str) -> dict[str, int]:
    with av.open(path) as container:
        return {"video": len(container.streams.video), "audio": len(container.streams.audio)}


# ------------------------------------------------------------------------------------------------- corpus


def test_demo_corpus_has_three_splits_of_loader_rows(corpus):
    root, ds = corpus
    assert {split: len(ds[split]) for split in ds} == {"train": 2, "validation": 1, "test": 1}
    assert label_names(ds) == list(DEMO_LABELS)
    ids = [row["dialogue_id"] for split in ds.values() for row in split]
    assert sorted(ids) == ["demo000", "demo001", "demo002", "demo003"]
    for row in ds["train"]:
        assert 3 <= len(row["utterances"]) <= 6
        speakers = {u["speaker"] for u in row["utterances"]}
        assert len(speakers) == 2
        for u in row["utterances"]:
            assert u["text"] and 0 <= u["label"] < len(DEMO_LABELS)
            assert os.path.isabs(u["audio_path"]) and os.path.isfile(u["audio_path"])
            assert os.path.isabs(u["video_path"]) and os.path.isfile(u["video_path"])
            assert u["start"] == 0.0 and 1.0 <= u["end"] <= 1.5


def test_each_utterance_shows_its_emotion_in_the_audio_and_the_video(corpus):
    _, ds = corpus
    for u in ds["train"][0]["utterances"]:
        samples, rate = sf.read(u["audio_path"], dtype="float32")
        assert rate == 16000 and samples.ndim == 1
        assert samples.size / rate == pytest.approx(u["end"], abs=1e-3)
        assert streams(u["video_path"]) == {"video": 1, "audio": 1}
        # the mp4's audio track is the wav (aac: the same waveform within a small error)
        from_mp4 = load_audio(u["video_path"])
        n = min(from_mp4.size, samples.size)
        assert abs(from_mp4.size - samples.size) < 64 and np.corrcoef(from_mp4[:n], samples[:n])[0, 1] > 0.99
        # the moving shape has the emotion's colour (background is grey 20)
        with av.open(u["video_path"]) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
        shape = frame[np.abs(frame - 20).sum(axis=-1) > 60]
        assert len(shape) > 20
        colour = np.asarray(_COLOUR[DEMO_LABELS[u["label"]]])
        assert np.abs(np.median(shape, axis=0) - colour).max() < 30, (shape.mean(axis=0), colour)


def test_the_corpus_is_reused_when_the_parameters_match_and_rewritten_otherwise(corpus, tmp_path):
    root, ds = corpus
    manifest = root / "manifest.json"
    first_wav = ds["train"][0]["utterances"][0]["audio_path"]
    stamps = (os.path.getmtime(manifest), os.path.getmtime(first_wav))
    again = make_demo_corpus(root, num_dialogues=4)
    assert (os.path.getmtime(manifest), os.path.getmtime(first_wav)) == stamps
    assert again["train"][0] == ds["train"][0]
    # same seed elsewhere: the same corpus; another seed: another one
    copy = make_demo_corpus(tmp_path / "copy", num_dialogues=4)
    assert [u["text"] for u in copy["test"][0]["utterances"]] == [
        u["text"] for u in ds["test"][0]["utterances"]
    ]
    other = make_demo_corpus(tmp_path / "copy", num_dialogues=4, seed=1)
    with open(tmp_path / "copy" / "manifest.json") as f:
        assert json.load(f)["params"]["seed"] == 1
    assert [u["text"] for u in other["train"][0]["utterances"]] != [
        u["text"] for u in ds["train"][0]["utterances"]
    ]
    with pytest.raises(ValueError, match="num_dialogues must be >= 3"):
        make_demo_corpus(tmp_path / "tiny", num_dialogues=2)


def test_the_demo_corpus_through_the_processor_feeds_the_model(corpus):
    """The issue's "done when": `processor(conversation)` on the demo corpus feeds the model directly."""
    _, ds = corpus
    processor = MCNCLProcessor(
        make_tiny_tokenizer(),
        MCNCLFeatureExtractor(),
        MCNCLVideoProcessor(num_frames=4, size={"height": 64, "width": 64}),
    )
    conversations = [
        [
            {
                "text": u["text"],
                "speaker": u["speaker"],
                "label": u["label"],
                "audio": u["audio_path"],
                "video": u["video_path"],
                "start": u["start"],
                "end": u["end"],
            }
            for u in row["utterances"]
        ]
        for row in ds["train"]
    ]
    inputs = processor(conversations)
    n = max(len(c) for c in conversations)
    assert inputs["audio_features"].shape == (2, n, 1582)
    assert inputs["pixel_values"].shape == (2, n, 4, 3, 64, 64)
    assert (
        inputs["input_ids"][inputs["attention_mask"] > 0].ne(1).all()
    )  # every demo word is in the vocabulary
    torch.manual_seed(0)
    config = make_tiny_config(
        text_config={**make_tiny_config().text_config.to_dict(), "vocab_size": len(processor.tokenizer)},
        audio_feature_size=1582,
        visual_backbone="resnet101",
        visual_feature_size=1000,
        num_frames=4,
        id2label=dict(enumerate(DEMO_LABELS)),
    )
    model = MCNCLForEmotionRecognition(config)
    out = model(**inputs)
    assert out.logits.shape == (2, n, len(DEMO_LABELS)) and torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in model.mcn_cl.audio_encoder.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0


# ------------------------------------------------------------------------------------------------ writers


def test_write_wav_round_trips_pcm16_and_float(tmp_path):
    x = (0.5 * np.sin(np.linspace(0, 200, 8000))).astype(np.float32)
    pcm = write_wav(tmp_path / "sub" / "a.wav", x)
    back, rate = sf.read(pcm, dtype="float32")
    assert rate == 16000 and sf.info(pcm).subtype == "PCM_16"
    np.testing.assert_allclose(back, x, atol=1 / 32768)
    y = x.copy()
    y[3] = np.inf
    back, _ = sf.read(write_wav(tmp_path / "f.wav", y, 8000, subtype="FLOAT"), dtype="float32")
    assert np.isinf(back[3]) and sf.info(str(tmp_path / "f.wav")).samplerate == 8000
    assert sf.info(write_wav(tmp_path / "a.flac", x)).format == "FLAC"


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".mkv"])
def test_write_mp4_video_with_or_without_audio_in_any_container(ext, tmp_path):
    frames = np.zeros((6, 16, 24, 3), dtype=np.uint8)
    frames[:, :, :12] = 200
    audio = (0.3 * np.sin(np.arange(9600) / 5)).astype(np.float32)
    both = write_mp4(tmp_path / f"both{ext}", frames, fps=10, audio=audio)
    silent = write_mp4(tmp_path / f"silent{ext}", frames, fps=10)
    assert streams(both) == {"video": 1, "audio": 1} and streams(silent) == {"video": 1, "audio": 0}
    for path in (both, silent):
        with av.open(path) as container:
            decoded = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
        assert [round(t, 3) for t, _ in decoded] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # frame k at k / fps
        assert decoded[0][1].shape == (16, 24, 3)
        assert abs(decoded[0][1][:, :12].mean() - 200) < 4 and decoded[0][1][:, 12:].mean() < 4


def test_write_mp4_audio_only_and_argument_errors(tmp_path):
    audio = (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    path = write_mp4(tmp_path / "audio_only.mp4", None, audio=audio)
    assert streams(path) == {"video": 0, "audio": 1}
    assert np.corrcoef(load_audio(path), audio)[0, 1] > 0.999
    with pytest.raises(ValueError, match="needs frames, audio or both"):
        write_mp4(tmp_path / "nothing.mp4", None)
    with pytest.raises(ValueError, match="mono waveform"):
        write_mp4(tmp_path / "stereo.mp4", None, audio=np.zeros((2, 100), np.float32))


def test_the_generators_never_write_into_a_users_folder(corpus, tmp_path):
    """Issue 20 item 2: a folder that is neither empty nor written by the generator is refused, its files untouched."""
    from mcn_cl.demo import DEMO_MARKER, make_example_conversations

    user = tmp_path / "user"
    user.mkdir()
    content = b'{"my": "manifest"}\x00\xff'
    (user / "manifest.json").write_bytes(content)
    for make in (lambda: make_demo_corpus(user, num_dialogues=3), lambda: make_example_conversations(user)):
        with pytest.raises(FileExistsError, match=rf"{user}: the folder is not empty \(manifest.json\)"):
            make()
        assert os.listdir(user) == ["manifest.json"] and (user / "manifest.json").read_bytes() == content
    # its own folder carries the marker; a demo corpus written before markers existed is recognised by its manifest
    root, _ = corpus
    assert (root / DEMO_MARKER).is_file()
    legacy = tmp_path / "legacy"
    make_demo_corpus(legacy, num_dialogues=3)
    os.remove(legacy / DEMO_MARKER)
    make_demo_corpus(legacy, num_dialogues=3, seed=5)
    assert (legacy / DEMO_MARKER).is_file()
    with pytest.raises(FileExistsError, match="is a file"):
        make_demo_corpus(user / "manifest.json", num_dialogues=3)
