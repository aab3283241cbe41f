# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The recording commands as `mcn-cl` subcommands: `segment`, `app`, and `--recording` on `predict` / `stream`;
the Space files that `save_for_hub` writes next to an MCN-CL checkpoint."""

from __future__ import annotations

import os

import pytest

from mcn_cl.cli import build_parser, main

pytest_plugins = ["_fixtures_pipeline"]


@pytest.mark.parametrize("command", ["predict", "stream"])
def test_recording_is_a_conversation_source_of_predict_and_stream(command):
    parser = build_parser()
    args = parser.parse_args(
        [command, "--model", "m", "--recording", "call.wav", "--asr", "id", "--subtitles", "s.srt"]
    )
    assert (args.recording, args.asr, args.subtitles) == ("call.wav", "id", "s.srt")
    assert args.conversation is None and args.clips is None
    with pytest.raises(SystemExit) as exit_info:  # one source at a time
        parser.parse_args([command, "--model", "m", "--recording", "call.wav", "--conversation", "c.json"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [["segment", "{missing}", "-o", "{out}"], ["predict", "--model", "{out}", "--recording", "{missing}"]],
)
def test_a_missing_recording_is_a_usage_error_naming_it(argv, tmp_path, capsys):
    missing, out = tmp_path / "nope.wav", tmp_path / "conversation.csv"
    argv = [a.format(missing=missing, out=out) for a in argv]
    status = None
    try:
        status = main(argv)
    except SystemExit as err:
        status = err.code
    assert status == 2
    err = capsys.readouterr().err
    assert f"mcn-cl {argv[0]}: error: " in err and "nope.wav" in err and "Traceback" not in err
    assert not out.exists()


def test_segment_and_app_are_subcommands():
    parser = build_parser()
    assert parser.parse_args(["segment", "call.wav", "-o", "c.csv"]).command == "segment"
    assert parser.parse_args(["app", "--model", "m"]).command == "app"


def test_save_for_hub_writes_the_space_files_next_to_an_mcn_cl_checkpoint(checkpoint):
    files = set(os.listdir(checkpoint))
    assert {"app.py", "requirements.txt"} <= files
    with open(os.path.join(checkpoint, "app.py"), encoding="utf-8") as f:
        compile(f.read(), "app.py", "exec")
