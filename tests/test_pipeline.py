"""Tests of the "multimodal-emotion-recognition" pipeline (issue 6)."""

from __future__ import annotations

import json
import logging
import os

import pytest
import torch
from _fixtures_pipeline import conversation_of
from conftest import run_without_mcn_cl
from transformers import pipeline

from mcn_cl import MCNCLInputError, MultimodalEmotionRecognitionPipeline
from mcn_cl.pipeline_mcn_cl import TASK

pytest_plugins = ["_fixtures_pipeline"]

KEYS = {"utterance", "speaker", "label", "score", "scores"}


@pytest.fixture(scope="module")
def classifier(model_and_processor):
    model, processor = model_and_processor
    return pipeline(TASK, model=model, processor=processor, device="cpu")


def test_import_registers_the_task_with_the_pipeline_registry():
    from transformers.pipelines import PIPELINE_REGISTRY, check_task

    assert TASK in PIPELINE_REGISTRY.get_supported_tasks()
    _, impl, _ = check_task(TASK)
    assert impl["impl"] is MultimodalEmotionRecognitionPipeline
    assert [c.__name__ for c in impl["pt"]] == ["AutoModel"]
    assert impl["type"] == "multimodal"


def test_pipeline_on_a_demo_conversation_gives_one_prediction_per_utterance(classifier, demo_corpus):
    _, ds = demo_corpus
    row = ds["test"][0]
    out = classifier(row)  # a loader row: dict with `utterances` (audio_path / video_path)
    labels = set(classifier.model.config.id2label.values())
    assert [p["utterance"] for p in out] == list(range(len(row["utterances"])))
    assert [p["speaker"] for p in out] == [u["speaker"] for u in row["utterances"]]
    for p in out:
        assert set(p) == KEYS
        assert p["label"] in labels and set(p["scores"]) == labels
        assert p["score"] == max(p["scores"].values()) == p["scores"][p["label"]]
        assert list(p["scores"].values()) == sorted(p["scores"].values(), reverse=True)
        assert sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-5)


def test_pipeline_scores_are_the_models_softmax_on_the_processor_batch(
    classifier, model_and_processor, demo_corpus
):
    model, processor = model_and_processor
    _, ds = demo_corpus
    conversation = conversation_of(ds["train"][0])
    with torch.no_grad():
        probs = model(**processor(conversation)).logits[0].softmax(-1)
    out = classifier(conversation)
    for i, p in enumerate(out):
        expected = {model.config.id2label[k]: float(v) for k, v in enumerate(probs[i])}
        assert p["scores"] == pytest.approx(expected, abs=1e-6)
    # the utterances do not all get the same scores: the inputs matter
    assert len({round(p["score"], 4) for p in out}) > 1


def test_processor_keys_and_loader_row_keys_give_the_same_predictions(classifier, demo_corpus):
    _, ds = demo_corpus
    row = ds["train"][1]
    with_gold = [{**u, "label": "joy"} for u in conversation_of(row)]  # gold names are ignored
    assert classifier(with_gold) == classifier(row)


def test_a_batch_of_conversations_equals_one_by_one(classifier, demo_corpus):
    _, ds = demo_corpus
    rows = [ds["train"][0], ds["validation"][0], ds["test"][0], ds["train"][1]]
    conversations = [conversation_of(r) for r in rows]
    assert len({len(c) for c in conversations}) > 1  # padding across dialogues is exercised
    single = [classifier(c) for c in conversations]
    for batch_size in (2, 3):
        batched = classifier(conversations, batch_size=batch_size)
        assert len(batched) == len(conversations)
        for one, many in zip(single, batched):
            assert [p["label"] for p in many] == [p["label"] for p in one]
            for p, q in zip(many, one):
                assert p["scores"] == pytest.approx(q["scores"], abs=1e-5)


def test_top_k_keeps_the_most_likely_labels(classifier, demo_corpus):
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    full = classifier(conversation)
    top2 = classifier(conversation, top_k=2)
    for p, q in zip(top2, full):
        assert list(p["scores"]) == list(q["scores"])[:2]
        assert p["label"] == q["label"] and p["score"] == pytest.approx(q["score"])
    assert classifier(conversation, top_k=100) == full
    with pytest.raises(ValueError, match="top_k"):
        classifier(conversation, top_k=0)


def test_missing_clip_raises_naming_the_file_and_the_utterance(classifier, demo_corpus, tmp_path):
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    conversation[1]["video"] = str(tmp_path / "gone.mp4")
    with pytest.raises(ValueError, match=r"utterance 1: video '.*gone\.mp4': file not found"):
        classifier(conversation)


def test_unreadable_audio_file_raises_naming_it(classifier, demo_corpus, tmp_path):
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"this is not a wav file" * 20)
    conversation[0]["audio"] = str(bad)
    with pytest.raises(ValueError, match=r"utterance 0: audio '.*noise\.wav'"):
        classifier(conversation)


def test_on_error_mask_predicts_from_the_remaining_modalities_and_warns(
    classifier, demo_corpus, tmp_path, caplog
):
    _, ds = demo_corpus
    conversation = conversation_of(ds["train"][0])
    broken = [dict(u) for u in conversation]
    broken[1]["audio"] = str(tmp_path / "missing.wav")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(2000))
    broken[2]["video"] = str(corrupt)
    with caplog.at_level(logging.WARNING):
        out = classifier(broken, on_error="mask")
    warning = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mcn_cl.pipeline_mcn_cl"))
    assert "skipped audio of utterance 1" in warning and "missing.wav" in warning
    assert "visual of utterance 2" in warning and "corrupt.mp4" in warning
    assert out[1]["skipped"] == ["audio"] and out[2]["skipped"] == ["visual"]
    assert "skipped" not in out[0]

    # the same as giving no audio / no video for those utterances
    absent = [dict(u) for u in conversation]
    absent[1]["audio"] = None
    absent[2]["video"] = None
    expected = classifier(absent)
    for p, q in zip(out, expected):
        assert p["scores"] == pytest.approx(q["scores"], abs=1e-6)
    # and the skipped inputs did count when present
    full = classifier(conversation)
    assert out[1]["scores"] != pytest.approx(full[1]["scores"], abs=1e-4)


def test_empty_conversation_raises(classifier):
    with pytest.raises(ValueError, match="empty conversation"):
        classifier([])
    with pytest.raises(ValueError, match="empty conversation d7"):
        classifier({"dialogue_id": "d7", "utterances": []})


def test_utterance_without_any_modality_raises(classifier, demo_corpus, tmp_path):
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    conversation[2] = {"speaker": "Ann", "text": None, "audio": None, "video": None}
    for on_error in ("raise", "mask"):
        with pytest.raises(MCNCLInputError, match="utterance 2: no modality"):
            classifier(conversation, on_error=on_error)

    # every input of the utterance skipped: nothing left to predict from
    conversation[2] = {"speaker": "Ann", "text": "", "audio": str(tmp_path / "a.wav")}
    with pytest.raises(MCNCLInputError, match=r"utterance 2: no modality left.*empty text.*a\.wav"):
        classifier(conversation, on_error="mask")


def test_wrong_input_types_raise(classifier):
    with pytest.raises(MCNCLInputError, match="input 1: expected a conversation"):
        classifier([[{"text": "hi"}], "not a conversation"])
    # item 10 of issue 10: None, a number, a string, a non-dict utterance -> the documented input error
    for bad, pattern in (
        (None, "got NoneType"),
        (3, "got int"),
        ("hi", "got str"),
        ([{"text": "a"}, 0], "utterance 1: utterance: expected an utterance dict, got int"),
        ({"utterances": 5}, "'utterances' list"),
        ([[]], "empty conversation"),
    ):
        with pytest.raises(MCNCLInputError, match=pattern):
            classifier(bad)
    with pytest.raises(ValueError, match="on_error"):
        classifier([{"text": "hi"}], on_error="ignore")


def test_pipeline_needs_the_processor(model_and_processor):
    model, _ = model_and_processor
    with pytest.raises(ValueError, match="needs the model's MCNCLProcessor"):
        MultimodalEmotionRecognitionPipeline(model=model, device="cpu")


def test_in_package_pipeline_loads_a_saved_folder_with_the_package_classes(
    checkpoint, classifier, demo_corpus
):
    _, ds = demo_corpus
    loaded = pipeline(TASK, model=checkpoint, pipeline_class=MultimodalEmotionRecognitionPipeline, device=-1)
    assert type(loaded.model).__module__.startswith("mcn_cl.")
    assert type(loaded.processor).__module__.startswith("mcn_cl.")
    row = ds["test"][0]
    expected = classifier(row)
    for p, q in zip(loaded(row), expected):
        assert p["label"] == q["label"] and p["scores"] == pytest.approx(q["scores"], abs=1e-6)


REMOTE_PIPELINE_SCRIPT = """
import json, sys
from transformers import pipeline

folder, conversations_path, out_path = sys.argv[1:4]
conversations = json.load(open(conversations_path))
try:  # (trust_remote_code=None would ask on stdin)
    pipeline("multimodal-emotion-recognition", model=folder, trust_remote_code=False)
except ValueError as err:
    assert "trust_remote_code=True" in str(err), err
else:
    raise SystemExit("the custom pipeline loaded without trust_remote_code=True")

classifier = pipeline("multimodal-emotion-recognition", model=folder, trust_remote_code=True, device=-1)
for obj in (classifier, classifier.model, classifier.processor):
    assert type(obj).__module__.startswith("transformers_modules"), type(obj).__module__
json.dump(classifier(conversations, batch_size=2), open(out_path, "w"))
"""


def test_trust_remote_code_pipeline_without_the_package_predicts_the_same(
    checkpoint, classifier, demo_corpus, tmp_path
):
    _, ds = demo_corpus
    conversations = [conversation_of(ds["test"][0]), conversation_of(ds["train"][0])]
    (tmp_path / "conversations.json").write_text(json.dumps(conversations))
    result = run_without_mcn_cl(
        REMOTE_PIPELINE_SCRIPT,
        checkpoint,
        tmp_path / "conversations.json",
        tmp_path / "out.json",
        workdir=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads((tmp_path / "out.json").read_text())
    assert len(remote) == len(conversations)
    for theirs, conversation in zip(remote, conversations):
        ours = classifier(conversation)
        assert [p["label"] for p in theirs] == [p["label"] for p in ours]
        for p, q in zip(theirs, ours):
            assert p["scores"] == pytest.approx(q["scores"], abs=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_device_0_gives_the_cpu_predictions(checkpoint, classifier, demo_corpus):
    _, ds = demo_corpus
    gpu = pipeline(TASK, model=checkpoint, pipeline_class=MultimodalEmotionRecognitionPipeline, device=0)
    assert gpu.model.device.type == "cuda"
    row = ds["test"][0]
    for p, q in zip(gpu(row), classifier(row)):
        assert p["label"] == q["label"] and p["scores"] == pytest.approx(q["scores"], abs=1e-4)


def test_a_generator_of_conversations_is_still_accepted_and_checked_item_by_item(classifier):
    conversations = [[{"text": "hello there"}], [{"text": "we won"}, {"text": "stop it"}]]
    results = list(classifier(c for c in conversations))
    assert [len(r) for r in results] == [1, 2]
    with pytest.raises(MCNCLInputError, match="got int"):
        list(classifier(c for c in [conversations[0], 3]))


def test_frame_batch_size_chunks_the_backbone_without_changing_predictions(classifier, demo_corpus):
    _, ds = demo_corpus
    conversation = conversation_of(ds["train"][0])
    chunked, default = classifier(conversation, frame_batch_size=5), classifier(conversation)
    for a, b in zip(chunked, default, strict=True):
        assert a["label"] == b["label"]
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)
    with pytest.raises(ValueError, match="frame_batch_size"):
        classifier(conversation, frame_batch_size=0)
