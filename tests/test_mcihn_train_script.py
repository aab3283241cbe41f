"""End to end: `examples/train_mcihn.py` on a generated MOSI feature pickle, then the saved folder through the
`multimodal-sentiment-analysis` pipeline; the MELD text-only plumbing on generated CSVs."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch
from _fixtures_datasets import make_meld_tree
from _fixtures_mcihn import make_mmsa_pickle
from conftest import TINY_TEXT_CONFIG, make_tiny_tokenizer
from transformers import BertConfig, BertModel, pipeline

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "examples"))

import train_mcihn  # noqa: E402

from mcn_cl.metrics_mcihn import sentiment_metrics  # noqa: E402
from mcn_cl.pipeline_mcihn import TASK, MultimodalSentimentAnalysisPipeline  # noqa: E402

TINY_MCIHN = {
    "latent_size": 8, "autoencoder_hidden_size": 16, "discriminator_hidden_size": 16, "hidden_size": 16,
    "num_attention_heads": 2, "fusion_intermediate_size": 32, "classifier_hidden_size": 16,
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A tiny random BERT + word-level tokenizer saved as a local `--text_encoder` folder."""
    folder = tmp_path_factory.mktemp("bert")
    tokenizer = make_tiny_tokenizer(extra_words=["loved", "movie", "plot", "bad", "good", "all", "great"])
    torch.manual_seed(0)
    BertModel(BertConfig(**{**TINY_TEXT_CONFIG, "vocab_size": len(tokenizer)})).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def common_args(out, steps=4) -> list[str]:
    return [
        "--output_dir", str(out), "--max_steps", str(steps), "--per_device_train_batch_size", "2",
        "--per_device_eval_batch_size", "4", "--eval_strategy", "steps", "--eval_steps", "2", "--save_strategy",
        "steps", "--save_steps", "2", "--load_best_model_at_end", "true", "--learning_rate", "1e-3",
        "--report_to", "none", "--disable_tqdm", "true", "--device", "cpu", "--logging_steps", "2",
        "--config_overrides", json.dumps(TINY_MCIHN),
    ]  # fmt: skip


def test_mosi_features_train_end_to_end_and_reload_through_the_pipeline(tmp_path, tiny_bert):
    vocab = len(make_tiny_tokenizer(extra_words=["loved", "movie", "plot", "bad", "good", "all", "great"]))
    make_mmsa_pickle(str(tmp_path / "unaligned_50.pkl"), sizes=(6, 3, 3), vocab=vocab)
    out = tmp_path / "run"
    results = train_mcihn.main(
        [
            "--dataset",
            "mosi",
            "--features_pkl",
            str(tmp_path / "unaligned_50.pkl"),
            "--text_encoder",
            tiny_bert,
        ]
        + common_args(out)
    )
    for key in ("test_acc_2", "test_f1", "test_acc_7", "test_acc_5", "test_mae", "test_corr"):
        assert np.isfinite(results[key]), key
    assert results["metric_for_best_model"] == "mae" and results["best_model_checkpoint"]
    state = json.loads((out / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "loss_discriminator" in e]
    assert logged and all("loss_mmd" in e and "loss_reconstruction" in e for e in logged)
    for name in ("README.md", "pipeline_mcihn.py", "modeling_mcihn.py", "processing_mcihn.py",
                 "feature_extraction_mcn_cl.py", "inputs_mcn_cl.py", "processor_config.json", "test_results.json"):  # fmt: skip
        assert (out / name).exists(), name
    card = (out / "README.md").read_text()
    assert "CMU-MOSI" in card and "MAE" in card and "multimodal-sentiment-analysis" in card

    analyser = pipeline(TASK, model=str(out), pipeline_class=MultimodalSentimentAnalysisPipeline)
    rng = np.random.default_rng(0)
    utterance = {"text": "i loved this movie", "audio_features": rng.normal(size=(4, 5)),
                 "visual_features": rng.normal(size=(3, 7))}  # fmt: skip
    result = analyser(utterance)
    assert set(result) == {"score", "polarity"}
    assert result["polarity"] == ("positive" if result["score"] > 0 else "negative")
    with torch.no_grad():
        expected = analyser.model(**analyser.processor(utterance)).logits.item()
    assert result["score"] == pytest.approx(expected, abs=1e-5)
    assert len(analyser([utterance, {"text": "bad plot"}], batch_size=2)) == 2


def assert_classification_results_match_the_saved_model(results, analyser, dataset, data_dir):
    """The reported test figures are those of the saved (best) model on the labelled test utterances: the count,
    and the weighted F1 recomputed from the saved folder's pipeline predictions."""
    from sklearn.metrics import f1_score

    args, _ = train_mcihn.parse_arguments(["--dataset", dataset, "--data_dir", str(data_dir)])
    train_mcihn.check_arguments(args)
    test = train_mcihn.load_data(args)[0]["test"]
    assert results["test_num_utterances"] == len(test) > 0
    names = results["label_names"]
    predicted = [names.index(p["label"]) for p in analyser([{"text": t} for t in test["text"]])]
    expected = f1_score(test["label"], predicted, average="weighted", zero_division=0)
    assert results["test_weighted_f1"] == pytest.approx(expected, abs=1e-6)


def test_meld_text_only_classification_plumbing(tmp_path, tiny_bert):
    make_meld_tree(str(tmp_path / "meld"), clips=False)
    out = tmp_path / "run"
    results = train_mcihn.main(
        ["--dataset", "meld", "--data_dir", str(tmp_path / "meld"), "--text_encoder", tiny_bert,
         "--max_text_length", "16"] + common_args(out, steps=2)
    )  # fmt: skip
    assert results["metric_for_best_model"] == "weighted_f1"
    assert results["label_names"] == ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]
    analyser = pipeline(TASK, model=str(out), pipeline_class=MultimodalSentimentAnalysisPipeline)
    prediction = analyser({"text": "where were you"})
    assert prediction["label"] in results["label_names"] and len(prediction["scores"]) == 7
    assert_classification_results_match_the_saved_model(results, analyser, "meld", tmp_path / "meld")


@pytest.fixture(scope="module")
def tiny_towers(tmp_path_factory) -> tuple[str, str]:
    """Tiny random Wav2Vec2 and CLIP vision checkpoints (with their preprocessors) as local folders."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
    )

    audio, visual = tmp_path_factory.mktemp("wav2vec2"), tmp_path_factory.mktemp("clip")
    torch.manual_seed(0)
    Wav2Vec2Model(
        Wav2Vec2Config(
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            conv_dim=[8, 8],
            conv_kernel=[10, 3],
            conv_stride=[5, 2],
            num_feat_extract_layers=2,
            num_conv_pos_embeddings=8,
            num_conv_pos_embedding_groups=2,
            feat_extract_norm="layer",
            do_stable_layer_norm=True,
        )  # fmt: skip
    ).save_pretrained(audio)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(audio)
    CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=16,
        )  # fmt: skip
    ).save_pretrained(visual)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        visual
    )
    return str(audio), str(visual)


def test_raw_mosi_release_with_speech_and_vision_towers(tmp_path, tiny_bert, tiny_towers):
    from _fixtures_mcihn import make_raw_release

    make_raw_release(str(tmp_path / "MOSI"), "mosi")
    out = tmp_path / "run"
    audio, visual = tiny_towers
    results = train_mcihn.main(
        ["--dataset", "mosi", "--data_dir", str(tmp_path / "MOSI"), "--text_encoder", tiny_bert,
         "--audio_encoder", audio, "--visual_encoder", visual, "--num_frames", "2"] + common_args(out, steps=2)
    )  # fmt: skip
    assert np.isfinite(results["test_mae"])
    config = json.loads((out / "config.json").read_text())
    assert config["audio_config"]["model_type"] == "wav2vec2"
    assert config["visual_config"]["model_type"] == "clip_vision_model"
    # the towers start from the given checkpoints (and stay frozen: their weights are those of the checkpoints)
    from safetensors.torch import load_file

    saved = load_file(str(out / "model.safetensors"))
    for folder, prefix in (
        (audio, "mcihn.audio_encoder.encoder."),
        (visual, "mcihn.visual_encoder.encoder."),
    ):
        tower = load_file(os.path.join(folder, "model.safetensors"))
        name = next(k for k in tower if k.endswith("weight") and tower[k].dim() == 2)
        torch.testing.assert_close(saved[prefix + name], tower[name])
    analyser = pipeline(TASK, model=str(out), pipeline_class=MultimodalSentimentAnalysisPipeline)
    clip = str(tmp_path / "MOSI" / "Raw" / "vidA" / "1.mp4")
    assert set(analyser({"text": "i loved this movie", "audio": clip, "video": clip})) == {
        "score",
        "polarity",
    }


def test_raw_release_without_towers_trains_on_text(tmp_path, tiny_bert):
    from _fixtures_mcihn import make_raw_release

    make_raw_release(str(tmp_path / "SIMS"), "sims", clips=False)
    results = train_mcihn.main(
        ["--dataset", "sims", "--data_dir", str(tmp_path / "SIMS"), "--text_encoder", tiny_bert]
        + common_args(tmp_path / "run", steps=2)
    )
    assert {"test_acc_2", "test_acc_3", "test_acc_5", "test_f1", "test_mae", "test_corr"} <= set(results)
    # the figures are SIMS' (clipped to [-1, 1]) of the saved model's scores on the two test clips' transcripts
    rows = [r for r in make_raw_release(str(tmp_path / "unused"), "sims", clips=False) if r["mode"] == "test"]
    analyser = pipeline(TASK, model=str(tmp_path / "run"), pipeline_class=MultimodalSentimentAnalysisPipeline)
    scores = [p["score"] for p in analyser([{"text": r["text"]} for r in rows])]
    expected = sentiment_metrics(scores, [r["label"] for r in rows], "sims")
    assert results["test_num_utterances"] == len(rows) == 2
    keys = ["mae", "acc_2", "acc_3"]
    # Pearson over two clipped scores is +-1, or 0 when both clip to the same bound: it flips on the 1e-7 that
    # separate the Trainer's batched scores from the pipeline's, so it is compared only away from that edge
    if abs(max(-1.0, min(1.0, scores[0])) - max(-1.0, min(1.0, scores[1]))) > 1e-3:
        keys.append("corr")
    for key in keys:
        assert results[f"test_{key}"] == pytest.approx(expected[key], abs=1e-5), key


def test_iemocap_utterances_text_only(tmp_path, tiny_bert):
    from _fixtures_datasets import make_iemocap_tree

    make_iemocap_tree(str(tmp_path / "IEMOCAP_full_release"), with_media=False)
    results = train_mcihn.main(
        [
            "--dataset",
            "iemocap",
            "--data_dir",
            str(tmp_path / "IEMOCAP_full_release"),
            "--text_encoder",
            tiny_bert,
        ]
        + common_args(tmp_path / "run", steps=2)
    )
    assert results["label_names"] == ["hap", "sad", "neu", "ang", "exc", "fru"]
    analyser = pipeline(TASK, model=str(tmp_path / "run"), pipeline_class=MultimodalSentimentAnalysisPipeline)
    assert_classification_results_match_the_saved_model(
        results, analyser, "iemocap", tmp_path / "IEMOCAP_full_release"
    )


# ----------------------------------------------------------------------------------------------- the demo


DEMO_SCRIPT = """
import json, sys
from transformers import pipeline

folder, clip_dir, out_path = sys.argv[1:4]
analyser = pipeline("multimodal-sentiment-analysis", model=folder, trust_remote_code=True, device=-1)
utterance = {"text": "we won the game", "audio": clip_dir + "/audio/demo000_0.wav",
             "video": clip_dir + "/video/demo000_0.mp4"}
json.dump({"result": analyser(utterance), "module": type(analyser).__module__}, open(out_path, "w"))
"""


def test_demo_trains_all_three_modalities_offline_and_serves_the_pipeline_in_a_fresh_interpreter(
    tmp_path, tiny_bert
):
    from conftest import run_without_mcn_cl

    out, corpus = tmp_path / "run", tmp_path / "corpus"
    results = train_mcihn.main(
        ["--dataset", "demo", "--data_dir", str(corpus), "--demo_dialogues", "6", "--text_encoder", tiny_bert]
        + common_args(out, steps=2)
    )  # fmt: skip
    assert results["dataset"] == "demo" and np.isfinite(results["test_mae"])
    config = json.loads((out / "config.json").read_text())
    assert (
        config["audio_feature_size"] == 25 and config["audio_config"] is None
    )  # openSMILE eGeMAPS LLD frames
    assert config["visual_config"]["model_type"] == "resnet"  # frame features of the (random, frozen) ResNet
    processor_config = json.loads((out / "processor_config.json").read_text())
    assert processor_config["audio_input"] == "opensmile" and processor_config["visual_input"] == "frames"
    # every modality of every training utterance reached the model
    analyser = pipeline(TASK, model=str(out), pipeline_class=MultimodalSentimentAnalysisPipeline)
    utterance = {"text": "we won the game", "audio": str(corpus / "audio" / "demo000_0.wav"),
                 "video": str(corpus / "video" / "demo000_0.mp4")}  # fmt: skip
    batch = analyser.processor(utterance)
    assert batch["modality_mask"].tolist() == [[1, 1, 1]]
    assert batch["audio_features"].shape[-1] == 25 and batch["pixel_values"].shape[1] == 4
    local = analyser(utterance)
    assert "skipped" not in local
    result = run_without_mcn_cl(DEMO_SCRIPT, out, corpus, tmp_path / "out.json", workdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads((tmp_path / "out.json").read_text())
    assert remote["module"].startswith("transformers_modules")
    assert remote["result"]["score"] == pytest.approx(local["score"], abs=1e-5)


# ------------------------------------------------------------------------------------------ misuse


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "mosei"], "--dataset must be one of demo, mosi, sims, meld, iemocap, got 'mosei'"),
        (["--dataset", "meld"], "--dataset meld needs --data_dir"),
        (["--dataset", "meld", "--data_dir", "/nonexistent/meld"], "--data_dir '/nonexistent/meld': no such folder"),
        (["--config_overrides", "{hidden_size: 8"], "--config_overrides is not JSON"),
        (["--config_overrides", '{"hiden_size": 8}'], "unknown MCIHNConfig field 'hiden_size' (did you mean 'hidden_size'?)"),
        (["--dataset", "mosi", "--features_pkl", "/nonexistent.pkl"], "--features_pkl '/nonexistent.pkl': no such file"),
        (["--device", "gpu"], "--device must be one of auto, cpu, cuda, got 'gpu'"),
    ],
)  # fmt: skip
def test_misuse_is_a_usage_error_with_exit_status_2(argv, message, capsys, tmp_path):
    assert train_mcihn.cli(argv + ["--output_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("train_mcihn.py: error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before any work


def test_misuse_from_the_shell_prints_one_line_and_exits_2(tmp_path):
    import subprocess

    script = os.path.join(REPO, "examples", "train_mcihn.py")
    for argv in (["--dataset", "mosei"], ["--no_such_flag", "1"]):
        done = subprocess.run([sys.executable, script, *argv, "--output_dir", str(tmp_path)], capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 2, done.stderr[-2000:]
        assert "train_mcihn.py: error:" in done.stderr and "Traceback" not in done.stderr
