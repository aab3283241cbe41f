"""Tests of the `mcn-cl` command line (issue 6)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest
from _fixtures_pipeline import conversation_of
from transformers import pipeline

from mcn_cl import MultimodalEmotionRecognitionPipeline
from mcn_cl.cli import main
from mcn_cl.pipeline_mcn_cl import TASK

pytest_plugins = ["_fixtures_pipeline"]


@pytest.fixture(scope="module")
def classifier(checkpoint):
    return pipeline(TASK, model=checkpoint, pipeline_class=MultimodalEmotionRecognitionPipeline, device=-1)


@pytest.fixture
def conversation_file(demo_corpus, tmp_path):
    """The demo test conversation as a JSON list of utterances with paths relative to the JSON file."""
    corpus, ds = demo_corpus
    row = ds["test"][0]
    folder = tmp_path / "conv"
    folder.mkdir()
    utterances = []
    for u in conversation_of(row):
        for key in ("audio", "video"):
            shutil.copy(u[key], folder / os.path.basename(u[key]))
            u[key] = os.path.basename(u[key])
        utterances.append(u)
    path = folder / "conversation.json"
    path.write_text(json.dumps(utterances))
    return path, row


def table_rows(out: str) -> list[list[str]]:
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines.index(next(line for line in lines if line.startswith("utterance")))
    return [line.split() for line in lines[header + 1 :] if line.split()[0].isdigit()]


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "predict" in out and "data-stats" in out
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    for option in ("--model", "--conversation", "--clips", "--csv", "--output", "--top_k", "--on_error"):
        assert option in out


def test_predict_prints_a_table_and_writes_json(checkpoint, classifier, conversation_file, tmp_path, capsys):
    path, row = conversation_file
    output = tmp_path / "out" / "predictions.json"
    code = main(["predict", "--model", checkpoint, "--conversation", str(path), "--output", str(output)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["utterance", "speaker", "emotion", "confidence", "text"]
    expected = classifier(row)
    rows = table_rows(out)
    assert [r[:4] for r in rows] == [
        [str(p["utterance"]), p["speaker"], p["label"], f"{p['score']:.3f}"] for p in expected
    ]
    assert rows[0][4:] == row["utterances"][0]["text"].split()[: len(rows[0]) - 4]
    written = json.loads(output.read_text())
    assert written[0]["dialogue_id"] == "0" and len(written) == 1
    for p, q in zip(written[0]["predictions"], expected):
        assert p["label"] == q["label"] and p["scores"] == pytest.approx(q["scores"], abs=1e-6)


def test_predict_top_k_and_a_dialogue_of_the_demo_manifest(
    checkpoint, classifier, demo_corpus, tmp_path, capsys
):
    corpus, ds = demo_corpus
    row = ds["validation"][0]
    output = tmp_path / "p.json"
    argv = ["predict", "--model", checkpoint, "--conversation", os.path.join(corpus, "manifest.json")]
    code = main([*argv, "--dialogue", row["dialogue_id"], "--top_k", "2", "--output", str(output)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"conversation {row['dialogue_id']}")
    assert "gold" in out.splitlines()[1]  # the manifest has the gold labels
    predictions = json.loads(output.read_text())[0]["predictions"]
    assert [p["label"] for p in predictions] == [p["label"] for p in classifier(row)]
    assert all(len(p["scores"]) == 2 for p in predictions)

    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--dialogue", "nope"])
    assert exit_info.value.code == 2
    assert "no conversation with dialogue_id 'nope'" in capsys.readouterr().err


def test_predict_on_a_folder_of_clips_with_a_csv(checkpoint, classifier, demo_corpus, tmp_path, capsys):
    _, ds = demo_corpus
    row = ds["test"][0]
    clips = tmp_path / "clips"
    clips.mkdir()
    with open(clips / "conversation.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip", "speaker", "text"])
        for u in row["utterances"]:
            shutil.copy(u["video_path"], clips / os.path.basename(u["video_path"]))
            writer.writerow([os.path.basename(u["video_path"]), u["speaker"], u["text"]])
    output = tmp_path / "p.json"
    assert main(["predict", "--model", checkpoint, "--clips", str(clips), "--output", str(output)]) == 0
    # each clip gives the video and (its audio track) the audio
    expected = classifier(
        [
            {"speaker": u["speaker"], "text": u["text"], "audio": u["video_path"], "video": u["video_path"]}
            for u in row["utterances"]
        ]
    )
    predictions = json.loads(output.read_text())[0]["predictions"]
    assert [p["label"] for p in predictions] == [p["label"] for p in expected]
    for p, q in zip(predictions, expected):
        assert p["scores"] == pytest.approx(q["scores"], abs=1e-6)
    assert len(table_rows(capsys.readouterr().out)) == len(row["utterances"])


def test_bad_csv_and_missing_files_are_clear_errors(checkpoint, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "conversation.csv").write_text("clip,speaker,mood\na.mp4,Ann,happy\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--model", checkpoint, "--clips", str(clips)])
    assert exit_info.value.code == 2
    assert "unknown: ['mood']" in capsys.readouterr().err

    (clips / "conversation.csv").write_text("clip,speaker,start\na.mp4,Ann,soon\n")
    with pytest.raises(SystemExit):
        main(["predict", "--model", checkpoint, "--clips", str(clips)])
    assert "line 2, column start: not a number: 'soon'" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["predict", "--model", str(tmp_path / "no_model"), "--clips", str(clips)])
    assert "no_model: no such folder" in capsys.readouterr().err


def test_missing_clip_fails_naming_it_or_is_masked_with_on_error_mask(checkpoint, conversation_file, capsys):
    path, _ = conversation_file
    utterances = json.loads(path.read_text())
    os.remove(path.parent / utterances[1]["video"])
    argv = ["predict", "--model", checkpoint, "--conversation", str(path)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "utterance 1: video" in err and utterances[1]["video"] in err and "file not found" in err

    assert main([*argv, "--on_error", "mask"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows[1][4:6] == ["(no", "visual)"]


def test_data_stats_subcommand_runs_the_dataset_statistics(demo_corpus, tmp_path, capsys):
    _, ds = demo_corpus
    ds.save_to_disk(str(tmp_path / "saved"))
    assert main(["data-stats", str(tmp_path / "saved")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"saved: {tmp_path / 'saved'}")
    for split in ("train", "validation", "test"):
        assert split in out


def test_installed_console_script_predicts(checkpoint, conversation_file, tmp_path):
    script = shutil.which("mcn-cl", path=os.path.dirname(sys.executable))
    assert script is not None, "the mcn-cl console script is not installed (pip install -e .)"
    path, _ = conversation_file
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [script, "predict", "--model", checkpoint, "--conversation", str(path), "--top_k", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[1].split()[:4] == ["utterance", "speaker", "emotion", "confidence"]
    assert len(table_rows(result.stdout)) == len(json.loads(path.read_text()))


# ------------------------------------------------------------------------------------------ issue 10, item 18


def _cli_error(argv, capsys) -> str:
    """Run `main(argv)`: it must exit with status 2 and a one-line `mcn-cl predict: error: ...`."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("mcn-cl predict: error: ") and "Traceback" not in err
    return err


@pytest.fixture
def no_prediction(monkeypatch):
    """Fails the test if the model would be loaded (the error must come before any prediction)."""
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline was built although the arguments are invalid")

    monkeypatch.setattr(transformers, "pipeline", refuse)


@pytest.mark.parametrize("config", ['{"model_type": "no_such_model"}', "{not json", '{"architectures": 3}'])
def test_a_folder_with_a_bogus_config_is_a_clear_error(config, conversation_file, tmp_path, capsys):
    model = tmp_path / "bogus"
    model.mkdir()
    (model / "config.json").write_text(config)
    err = _cli_error(["predict", "--model", str(model), "--conversation", str(conversation_file[0])], capsys)
    assert f"--model {model}: cannot load the checkpoint" in err


def test_a_hub_id_while_offline_is_a_clear_error(conversation_file, tmp_path):
    script = shutil.which("mcn-cl", path=os.path.dirname(sys.executable))
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1")
    argv = [script, "predict", "--model", "nobody/no-such-model", "--conversation", str(conversation_file[0])]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "mcn-cl predict: error: --model nobody/no-such-model: cannot load the checkpoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_inputs_are_clear_errors(checkpoint, tmp_path, capsys, no_prediction):
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('[{"text": "café"}]'.encode("latin-1"))
    assert "not UTF-8 text (byte 0xe9" in _cli_error(
        ["predict", "--model", checkpoint, "--conversation", str(latin1)], capsys
    )
    folder = tmp_path / "a_folder.json"
    folder.mkdir()
    assert "is a folder, not a JSON file" in _cli_error(
        ["predict", "--model", checkpoint, "--conversation", str(folder)], capsys
    )
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "conversation.csv").write_bytes("clip,text\na.mp4,café\n".encode("latin-1"))
    assert "not UTF-8 text" in _cli_error(["predict", "--model", checkpoint, "--clips", str(clips)], capsys)


def test_an_output_folder_is_refused_before_predicting(
    checkpoint, conversation_file, tmp_path, capsys, no_prediction
):
    argv = ["predict", "--model", checkpoint, "--conversation", str(conversation_file[0])]
    assert "is a folder; give a file name" in _cli_error([*argv, "--output", str(tmp_path)], capsys)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert "is not a writable folder" in _cli_error([*argv, "--output", str(blocker / "out.json")], capsys)


def test_a_device_this_machine_lacks_is_a_clear_error(checkpoint, conversation_file, capsys, no_prediction):
    import torch

    argv = ["predict", "--model", checkpoint, "--conversation", str(conversation_file[0])]
    assert "not a device" in _cli_error([*argv, "--device", "gpu7"], capsys)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    expected = "no CUDA GPU is available" if count == 0 else f"only {count} CUDA GPU(s)"
    for device in ("cuda", "cuda:7", "7") if count == 0 else ("cuda:64", "64"):
        assert expected in _cli_error([*argv, "--device", device], capsys)
