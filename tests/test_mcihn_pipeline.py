"""The `multimodal-sentiment-analysis` pipeline: outputs, masking, Hub-ready folder loaded without the package."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from _fixtures_mcihn import make_mcihn_config
from conftest import TINY_TEXT_CONFIG, make_tiny_tokenizer, run_without_mcn_cl
from transformers import CLIPImageProcessor, Wav2Vec2FeatureExtractor, pipeline

from mcn_cl import MCIHNForMultimodalSentiment, MCIHNProcessor, MCNCLMediaError
from mcn_cl.hub_mcihn import save_mcihn_for_hub
from mcn_cl.pipeline_mcihn import TASK, MultimodalSentimentAnalysisPipeline


def make_pair(num_labels=1):
    tokenizer = make_tiny_tokenizer()
    processor = MCIHNProcessor(
        tokenizer,
        Wav2Vec2FeatureExtractor(return_attention_mask=True),
        CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        num_frames=2,
    )
    torch.manual_seed(0)
    config = make_mcihn_config(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(tokenizer)),
        num_labels=num_labels,
        initializer_range=0.3,
    )
    return MCIHNForMultimodalSentiment(config).eval(), processor


UTTERANCES = [
    {
        "text": "where were you",
        "audio_features": np.linspace(-1, 1, 20).reshape(4, 5),
        "visual_features": np.ones((2, 7)),
    },
    {"text": "i miss him", "audio_features": np.zeros((3, 5))},
    {"text": "stop"},
]


def test_regression_gives_score_and_polarity_matching_the_model():
    model, processor = make_pair()
    analyser = pipeline(TASK, model=model, processor=processor, device="cpu")
    results = analyser(UTTERANCES, batch_size=2)
    for utterance, result in zip(UTTERANCES, results):
        with torch.no_grad():
            expected = model(**processor(utterance)).logits.item()
        assert result["score"] == pytest.approx(expected, abs=1e-5)
        assert result["polarity"] == ("positive" if expected > 0 else "negative")
    wide = analyser(UTTERANCES[0], neutral_band=1e6)
    assert wide["polarity"] == "neutral"


def test_classification_checkpoint_gives_labels_and_scores():
    model, processor = make_pair(num_labels=3)
    analyser = pipeline(TASK, model=model, processor=processor, device="cpu")
    result = analyser(UTTERANCES[0])
    assert result["label"] in model.config.id2label.values() and len(result["scores"]) == 3
    assert sum(result["scores"].values()) == pytest.approx(1.0) and result["score"] == max(
        result["scores"].values()
    )


def test_unreadable_medium_raises_or_is_skipped(tmp_path, caplog):
    model, processor = make_pair()
    analyser = pipeline(TASK, model=model, processor=processor, device="cpu")
    utterance = {"text": "where were you", "audio": str(tmp_path / "missing.wav")}
    # this model has no speech tower: raw audio is refused before the file is read (a media error, maskable)
    with pytest.raises(MCNCLMediaError, match="missing.wav'?: this model has no speech tower"):
        analyser(utterance)
    with caplog.at_level(logging.WARNING):
        result = analyser(utterance, on_error="mask")
    assert result["skipped"] == ["audio"] and "skipped" in caplog.text
    with pytest.raises(ValueError, match="no usable modality"):
        analyser({"audio": str(tmp_path / "missing.wav")}, on_error="mask")


REMOTE_PIPELINE_SCRIPT = """
import json, sys
import numpy as np
import torch
from transformers import AutoModel, pipeline

folder, inputs_path, out_path = sys.argv[1:4]
utterances = json.load(open(inputs_path))
for u in utterances:
    for key in ("audio_features", "visual_features"):
        if key in u:
            u[key] = np.asarray(u[key])
analyser = pipeline("multimodal-sentiment-analysis", model=folder, trust_remote_code=True, device=-1)
for obj in (analyser, analyser.model, analyser.processor):
    assert type(obj).__module__.startswith("transformers_modules"), type(obj).__module__
model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
assert type(model).__name__ == "MCIHNForMultimodalSentiment", type(model)
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
with torch.no_grad():
    logits = model(**analyser.processor(utterances)).logits.reshape(-1).tolist()
json.dump({"pipeline": analyser(utterances, batch_size=2), "logits": logits}, open(out_path, "w"))
"""


def test_hub_folder_loads_and_predicts_the_same_without_the_package(tmp_path):
    model, processor = make_pair()
    folder = tmp_path / "checkpoint"
    written = save_mcihn_for_hub(
        model, processor, folder, test_results={"test_mae": 0.8, "test_acc_2": 0.7}, dataset_name="mosi"
    )
    assert {
        "README.md",
        "config.json",
        "pipeline_mcihn.py",
        "pipeline_base.py",  # its same-folder base
        "processing_mcihn.py",
        "padding_mcihn.py",
        "video_processing_mcn_cl.py",
        "modeling_mcihn.py",
        "modeling_outputs_mcihn.py",
        "unimodal_encoders_mcihn.py",
        "reconstruction_mcihn.py",
        "interaction_mcihn.py",
        "functional_mcihn.py",
    } <= set(written)
    config = json.loads((folder / "config.json").read_text())
    assert TASK in config["custom_pipelines"] and config["auto_map"]["AutoModel"].endswith(
        "MCIHNForMultimodalSentiment"
    )
    card = (folder / "README.md").read_text()
    assert "| MAE | 0.8000 |" in card and "| Acc-2 | 70.00 % |" in card
    serialisable = [
        {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in u.items()} for u in UTTERANCES
    ]
    (tmp_path / "inputs.json").write_text(json.dumps(serialisable))
    result = run_without_mcn_cl(
        REMOTE_PIPELINE_SCRIPT, folder, tmp_path / "inputs.json", tmp_path / "out.json", workdir=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads((tmp_path / "out.json").read_text())
    with torch.no_grad():  # AutoModel + trust_remote_code, on the padded batch of the three utterances
        expected = model(**processor(UTTERANCES)).logits.reshape(-1).tolist()
    assert remote["logits"] == pytest.approx(expected, abs=1e-5)
    remote = remote["pipeline"]
    local = pipeline(TASK, model=str(folder), pipeline_class=MultimodalSentimentAnalysisPipeline)(UTTERANCES)
    assert [r["polarity"] for r in remote] == [r["polarity"] for r in local]
    assert [r["score"] for r in remote] == pytest.approx([r["score"] for r in local], abs=1e-5)


PLAIN_FOLDER_SCRIPT = """
import json, sys
from transformers import pipeline

folder, out_path = sys.argv[1:3]
analyser = pipeline("multimodal-sentiment-analysis", model=folder, trust_remote_code=True, device=-1)
json.dump(analyser([{"text": "where were you"}, {"text": "stop"}]), open(out_path, "w"))
"""


def test_a_plain_save_pretrained_folder_serves_the_pipeline_in_a_fresh_interpreter(tmp_path):
    """`model.save_pretrained` + `processor.save_pretrained` (what `Trainer.save_model` writes) is enough: the
    folder carries the pipeline code and `custom_pipelines` (before: `KeyError: Unknown task` without mcn_cl)."""
    model, processor = make_pair()
    folder = tmp_path / "plain"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"][TASK]["impl"] == "pipeline_mcihn.MultimodalSentimentAnalysisPipeline"
    assert (folder / "pipeline_mcihn.py").exists()
    result = run_without_mcn_cl(PLAIN_FOLDER_SCRIPT, folder, tmp_path / "out.json", workdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads((tmp_path / "out.json").read_text())
    local = pipeline(TASK, model=model, processor=processor, device="cpu")(
        [{"text": "where were you"}, {"text": "stop"}]
    )
    assert [r["score"] for r in remote] == pytest.approx([r["score"] for r in local], abs=1e-5)
    assert [r["polarity"] for r in remote] == [r["polarity"] for r in local]
