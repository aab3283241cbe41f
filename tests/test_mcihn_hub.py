"""MCIHN's Hub writer: the model card states the data, the towers (frozen, random) and the test figures it was
given, and its usage snippet matches what the checkpoint takes; the save hook puts the pipeline into any folder."""

from __future__ import annotations

import json

from _fixtures_mcihn import make_mcihn_config

from mcn_cl import MCIHNForMultimodalSentiment
from mcn_cl.hub_mcihn import add_pipeline_code, mcihn_model_card
from mcn_cl.pipeline_mcihn import TASK

RESNET = dict(model_type="resnet", num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
              layer_type="basic")  # fmt: skip


def test_card_of_the_demo_names_the_generated_data_the_random_frozen_resnet_and_the_figures():
    config = make_mcihn_config(visual_config=RESNET, audio_feature_size=25)
    assert config.visual_feature_size == 16  # the ResNet's last stage
    results = {"test_mae": 0.1723, "test_acc_2": 0.9545, "test_corr": 0.9927, "dataset": "demo"}
    card = str(mcihn_model_card(config, results, dataset_name="demo"))
    assert "generated demo corpus" in card and "not real people" in card
    assert "visual: resnet tower (frozen), random weights unless a checkpoint was loaded" in card
    assert "audio: 25-d frame sequences" in card
    assert "| MAE | 0.1723 |" in card and "| Acc-2 | 95.45 % |" in card and "| Corr | 0.9927 |" in card
    assert "CMU-MOSI" not in card  # the data named is the data used


def test_card_usage_snippet_follows_the_towers():
    features_only = str(mcihn_model_card(make_mcihn_config()))
    assert '"audio_features": audio_5d' in features_only and '"video": "clip.mp4"' not in features_only
    assert "text: bert tower" in features_only


def test_save_hook_writes_the_pipeline_code_and_custom_pipelines(tmp_path):
    model = MCIHNForMultimodalSentiment(make_mcihn_config())
    assert add_pipeline_code in type(model).save_hooks  # registered by `import mcn_cl`
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["custom_pipelines"] == {
        TASK: {
            "impl": "pipeline_mcihn.MultimodalSentimentAnalysisPipeline",
            "pt": ["AutoModel"],
            "type": "multimodal",
        }
    }
    source = (tmp_path / "pipeline_mcihn.py").read_text()
    assert "class MultimodalSentimentAnalysisPipeline" in source
    # the shared base the pipeline imports travels with it (same-folder import)
    sibling = [line for line in source.splitlines() if line.startswith("from .")][0].split()[1][1:]
    assert (tmp_path / f"{sibling}.py").exists()
