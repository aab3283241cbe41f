"""Command-line edges (issue 18 item 6) and the cheap start of `mcn-cl` (issue 20 item 6): misuse ends in
`mcn-cl <command>: error: ...` with exit status 2 before any work, and `--help` imports no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mcn_cl.cli import main
from mcn_cl.cli import stream as stream_command
from mcn_cl.cli.common import CLIError, timeline_paths
from mcn_cl.cli.readers import read_conversation_json

HEAVY = ("torch", "transformers", "datasets", "matplotlib", "cv2", "av", "opensmile", "sklearn", "evaluate")


def _usage_error(argv, capsys, command: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"mcn-cl {command}: error: " in err and "Traceback" not in err, err
    return err


@pytest.fixture
def no_model_load(monkeypatch):
    """Loading a checkpoint fails the test: the errors below must come before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded before the arguments were checked")

    monkeypatch.setattr(stream_command, "_load_model_and_processor", refuse)
    monkeypatch.setattr("mcn_cl.cli.predict.load_classifier", refuse)


@pytest.fixture
def one_conversation(tmp_path):
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps([{"speaker": "A", "text": "hi"}, {"speaker": "B", "text": "hello"}]))
    return str(path)


@pytest.mark.parametrize("command", ["stream", "predict"])
def test_an_output_that_cannot_be_written_is_refused_before_the_model_loads(
    command, one_conversation, tmp_path, capsys, no_model_load
):
    model = tmp_path / "model"
    model.mkdir()
    argv = [command, "--model", str(model), "--conversation", one_conversation]
    blocker = tmp_path / "a_file"
    blocker.write_text("keep")
    for option in ("--output", "--plot"):
        err = _usage_error([*argv, option, str(tmp_path)], capsys, command)
        assert f"{option} {tmp_path}: is a folder" in err
        err = _usage_error([*argv, option, str(blocker / "sub" / "out.json")], capsys, command)
        assert f"{blocker} is not a writable folder (it is a file)" in err
    assert blocker.read_text() == "keep"


@pytest.mark.parametrize(
    "extra",
    [
        ["--poll", "nan"],
        ["--poll", "inf"],
        ["--poll", "0"],
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--timeout", "-1"],
        ["--poll", "soon"],
    ],
)
def test_stream_durations_must_be_finite_and_positive(
    extra, one_conversation, tmp_path, capsys, no_model_load
):
    argv = ["stream", "--model", str(tmp_path), "--conversation", one_conversation, "--follow", *extra]
    err = _usage_error(argv, capsys, "stream")
    assert f"argument {extra[0]}:" in err and extra[1] in err


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_a_deeply_nested_json_file_is_a_clear_error(depth, tmp_path, capsys, no_model_load):
    path = tmp_path / "nested.json"
    path.write_text("[" * depth + "]" * depth)
    with pytest.raises(CLIError, match="nested too deeply"):
        read_conversation_json(path)
    for command in ("predict", "stream"):
        err = _usage_error([command, "--model", str(tmp_path), "--conversation", str(path)], capsys, command)
        assert f"{path}: JSON nested too deeply" in err
    # inside an utterance too
    path.write_text('[{"text": ' + "[" * depth + "]" * depth + "}]")
    with pytest.raises(CLIError, match="nested too deeply"):
        read_conversation_json(path)


def test_timeline_names_are_distinct_for_every_dialogue_id(tmp_path):
    ids = ["a/b", "a_b", "a b", "a%2Fb", "a+2", "a/b", "../x", "é", "a" * 400, "a" * 401, ""]
    paths = timeline_paths(str(tmp_path / "t.png"), ids)
    assert len(set(paths)) == len(ids)
    for path in paths:
        assert os.path.dirname(path) == str(tmp_path)  # no id leaves the folder or makes a sub-folder
        name = os.path.basename(path)
        assert name.startswith("t_") and name.endswith(".png") and len(name.encode()) < 255
    assert os.path.basename(paths[0]) == "t_a%2Fb.png" and os.path.basename(paths[1]) == "t_a_b.png"
    assert timeline_paths(str(tmp_path / "one.png"), ["a/b"]) == [str(tmp_path / "one.png")]


def test_conversations_a_slash_b_and_a_underscore_b_get_their_own_timeline(tmp_path, capsys):
    from mcn_cl.cli import _plot

    labels = {0: "joy", 1: "anger"}
    predictions = [{"utterance": 0, "speaker": "A", "label": "joy", "score": 0.9, "scores": {"joy": 0.9}}]
    conversations = [{"dialogue_id": d, "utterances": [{"speaker": "A"}]} for d in ("a/b", "a_b")]
    written = _plot(str(tmp_path / "t.png"), conversations, [predictions] * 2, labels, online=False)
    assert len(set(written)) == 2 and all(os.path.isfile(p) for p in written)
    assert sorted(os.listdir(tmp_path)) == ["t_a%2Fb.png", "t_a_b.png"]


def test_help_of_mcn_cl_and_of_every_subcommand_imports_no_heavy_library(tmp_path):
    """`mcn-cl --help` and `mcn-cl COMMAND --help` parse without torch, transformers, datasets, ..."""
    script = (
        "import sys\n"
        "from mcn_cl.cli import COMMANDS, main\n"
        "names = [[]] + [[c.register.__module__.rsplit('.', 1)[1].replace('_', '-')] for c in COMMANDS]\n"
        "for argv in names:\n"
        "    try:\n"
        "        main([*argv, '--help'])\n"
        "    except SystemExit as err:\n"
        "        assert err.code == 0, (argv, err.code)\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print('COMMANDS', len(names) - 1)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = dict(
        line.split(" ", 1) for line in run.stdout.splitlines() if line.startswith(("HEAVY", "COMMANDS"))
    )
    assert lines["HEAVY"] == "[]"
    assert int(lines["COMMANDS"]) >= 3 and "data-stats" in run.stdout and "--follow" in run.stdout


def test_the_console_script_runs_without_torch_for_help(tmp_path):
    """The installed `mcn-cl` script (the `mcn_cl.cli:main` entry point) prints its help without importing torch
    (`-X importtime` lists every module imported)."""
    script = os.path.join(os.path.dirname(sys.executable), "mcn-cl")
    if not os.path.isfile(script):
        pytest.skip("the mcn-cl console script is not installed next to this interpreter")
    run = subprocess.run(
        [sys.executable, "-X", "importtime", script, "stream", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "--follow" in run.stdout
    imported = {
        line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")
    }
    assert "mcn_cl.cli" in imported and "torch" not in imported and "transformers" not in imported


def test_data_stats_misuse_is_a_usage_error(tmp_path, capsys):
    """`data-stats` is a regular subcommand: a folder it cannot classify or a missing dataset ends in
    `mcn-cl data-stats: error: ...` with exit status 2 (it used to exit 1 with a bare message)."""
    err = _usage_error(["data-stats", str(tmp_path)], capsys, "data-stats")
    assert f"cannot tell what {tmp_path} is" in err and "use --dataset" in err
    err = _usage_error(["data-stats", str(tmp_path / "nope"), "--dataset", "meld"], capsys, "data-stats")
    assert "train_sent_emo.csv" in err
    _usage_error(["data-stats"], capsys, "data-stats")  # argparse: the path is required
