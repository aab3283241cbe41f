"""Tests of online mode's user surface (issue 12, item 3): `MCNCLStreamingSession` and `mcn-cl stream` (the
stream itself, items 1-2, is tested in tests/test_streaming.py).

The session runs on the model's stream (`model.init_stream()`).
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import os
import time

import pytest
import torch
from _fixtures_pipeline import conversation_of
from conftest import TINY_TEXT_CONFIG, make_tiny_config

from mcn_cl import (
    MCNCLForEmotionRecognition,
    MCNCLInputError,
    MCNCLProcessor,
    MCNCLStreamingSession,
    MultimodalEmotionRecognitionPipeline,
)
from mcn_cl.cli import main
from mcn_cl.demo import DEMO_LABELS

pytest_plugins = ["_fixtures_pipeline"]


@pytest.fixture(scope="module")
def causal_model(model_and_processor):
    """The pipeline tests' tiny three-modality model, built causal (`causal=True`), eval mode."""
    model, processor = model_and_processor
    config = copy.deepcopy(model.config)
    config.causal = True
    torch.manual_seed(0)
    return MCNCLForEmotionRecognition(config).eval(), processor


@pytest.fixture(scope="module")
def text_model(model_and_processor):
    """A causal text-only tiny model that knows at most 2 speakers (the processor's tokenizer)."""
    _, processor = model_and_processor
    config = make_tiny_config(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(processor.tokenizer)),
        audio_feature_size=processor.feature_extractor.feature_size,
        max_speakers=2,
        causal=True,
        id2label=dict(enumerate(DEMO_LABELS)),
        label2id={name: i for i, name in enumerate(DEMO_LABELS)},
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    return MCNCLForEmotionRecognition(config).eval()


@pytest.fixture(scope="module")
def causal_checkpoint(tmp_path_factory, causal_model) -> str:
    from mcn_cl.hub_mcn_cl import save_for_hub

    model, processor = causal_model
    folder = str(tmp_path_factory.mktemp("causal_checkpoint"))
    save_for_hub(model, processor, folder, dataset_name="demo")
    return folder


@pytest.fixture(scope="module")
def conversation(demo_corpus):
    """The demo test conversation (processor format) and its gold label names."""
    _, ds = demo_corpus
    row = ds["test"][0]
    return conversation_of(row), [DEMO_LABELS[u["label"]] for u in row["utterances"]]


def _pipeline(model, processor):
    return MultimodalEmotionRecognitionPipeline(model=model, processor=processor, device=-1)


def _assert_same_prediction(online: dict, offline: dict, atol: float = 1e-5) -> None:
    assert online["label"] == offline["label"]
    assert online["scores"].keys() == offline["scores"].keys()
    for name, p in offline["scores"].items():
        assert online["scores"][name] == pytest.approx(p, abs=atol)


# ------------------------------------------------------------------------------------------------ the session


def test_session_predicts_each_utterance_as_the_pipeline_on_the_conversation_so_far(
    causal_model, conversation
):
    model, processor = causal_model
    utterances = conversation[0][:4]
    classifier = _pipeline(model, processor)
    session = MCNCLStreamingSession(model, processor)
    for i, u in enumerate(utterances):
        prediction = session.add(u)
        assert prediction["utterance"] == i and prediction["speaker"] == u["speaker"]
        assert prediction["latency_s"] > 0 and "skipped" not in prediction
        _assert_same_prediction(prediction, classifier(utterances[: i + 1])[-1])
    assert len(session) == len(utterances) and session.predictions[-1] is prediction
    # a causal model: the future changes nothing, so each online prediction equals the offline one
    for online, offline in zip(session.predictions, classifier(utterances)):
        _assert_same_prediction(online, offline)


def _spy_steps(session) -> list[dict]:
    """Record the inputs of every stream step of `session`."""
    calls, step = [], session._stream.step

    def spy(**inputs):
        calls.append(inputs)
        return step(**inputs)

    session._stream.step = spy
    return calls


def test_session_keeps_speaker_indices_across_utterances(causal_model):
    model, processor = causal_model
    session = MCNCLStreamingSession(model, processor)
    calls = _spy_steps(session)
    for speaker in ["Ann", "Ben", "Ann", None, "Ben"]:
        session.add({"speaker": speaker, "text": "we won the game"})
    assert [int(c["speaker_ids"][0, 0]) for c in calls] == [0, 1, 0, 2, 1]
    assert session.speakers == {"Ann": 0, "Ben": 1, "": 2}
    assert all(c["input_ids"].shape[:2] == (1, 1) for c in calls)
    assert "utterance_mask" not in calls[0] and "labels" not in calls[0]


def test_more_speakers_than_the_model_knows_is_an_error_and_the_session_stays(
    text_model, model_and_processor
):
    _, processor = model_and_processor
    session = MCNCLStreamingSession(text_model, processor)
    session.add({"speaker": "Ann", "text": "hi"})
    session.add({"speaker": "Ben", "text": "oh hi"})
    with pytest.raises(ValueError, match=r"utterance 2: speaker 'Cleo'.*max_speakers=2"):
        session.add({"speaker": "Cleo", "text": "what"})
    assert len(session) == 2 and session.speakers == {"Ann": 0, "Ben": 1}
    assert session.add({"speaker": "Ann", "text": "stop"})["utterance"] == 2


def test_bidirectional_model_cannot_stream(model_and_processor):
    model, processor = model_and_processor
    assert not getattr(model.config, "causal", False)
    with pytest.raises(ValueError, match="causal"):
        MCNCLStreamingSession(model, processor)


def test_model_without_online_mode_is_a_clear_error(model_and_processor):
    model, processor = model_and_processor

    class Old:  # a model whose (remote) code predates online mode
        config = model.config

    with pytest.raises(TypeError, match="no init_stream"):
        MCNCLStreamingSession(Old(), processor)
    with pytest.raises(ValueError, match="on_error"):
        MCNCLStreamingSession(model, processor, on_error="ignore")


def test_bad_medium_raises_naming_the_utterance_or_is_masked_with_a_warning(
    causal_model, conversation, tmp_path, caplog
):
    model, processor = causal_model
    utterances, _ = conversation
    broken = [dict(u) for u in utterances[:3]]
    broken[1]["audio"] = str(tmp_path / "missing.wav")

    session = MCNCLStreamingSession(model, processor, dialogue_id="d7")
    session.add(broken[0])
    with pytest.raises(ValueError, match=r"dialogue d7, utterance 1: audio '.*missing.wav'"):
        session.add(broken[1])
    assert len(session) == 1

    session = MCNCLStreamingSession(model, processor, on_error="mask")
    with caplog.at_level(logging.WARNING):
        predictions = session.extend(broken)
    warning = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mcn_cl.streaming"))
    assert "utterance 1" in warning and "skipped audio" in warning and "missing.wav" in warning
    assert predictions[1]["skipped"] == ["audio"] and "skipped" not in predictions[2]
    offline = _pipeline(model, processor)(broken, on_error="mask")
    for i, online in enumerate(predictions):  # the full forward over the prefix, masked alike
        _assert_same_prediction(online, _pipeline(model, processor)(broken[: i + 1], on_error="mask")[-1])
    assert offline[1]["skipped"] == ["audio"]


def test_utterance_without_any_usable_modality_is_an_error(causal_model, tmp_path):
    model, processor = causal_model
    session = MCNCLStreamingSession(model, processor, on_error="mask")
    with pytest.raises(ValueError, match="utterance 0: no modality"):
        session.add({"speaker": "Ann"})
    with pytest.raises(ValueError, match="utterance 0: no modality left"):
        session.add({"speaker": "Ann", "audio": str(tmp_path / "gone.wav")})
    with pytest.raises(TypeError, match="utterance 0: expected a dict"):
        session.add("hello")
    assert len(session) == 0


def test_missing_modality_is_zero_filled_and_every_modality_of_the_model_is_fed(causal_model, conversation):
    model, processor = causal_model
    utterances, _ = conversation
    first, second = dict(utterances[0]), dict(utterances[1])
    del second["audio"]
    session = MCNCLStreamingSession(model, processor)
    calls = _spy_steps(session)
    session.add(first)
    session.add(second)  # no audio: zero-filled and masked, the same inputs as the first step
    assert calls[0].keys() == calls[1].keys()
    assert calls[1]["modality_mask"].tolist() == [[[1, 0, 1]]]
    assert not calls[1]["audio_features"].any()
    assert session.modalities == ("text", "audio", "visual")


def test_a_later_utterance_with_another_modality_is_read_not_dropped(causal_model, conversation):
    """Issue 18: an audio-only first utterance used to fix the session to audio, so a later text-only utterance
    was predicted from zero inputs (text dropped with a log line, no `skipped`)."""
    model, processor = causal_model
    utterances, _ = conversation
    audio_only = {k: v for k, v in utterances[0].items() if k not in ("text", "video")}
    text_only = {"speaker": utterances[1]["speaker"], "text": utterances[1]["text"]}
    session = MCNCLStreamingSession(model, processor)
    calls = _spy_steps(session)
    predictions = session.extend([audio_only, text_only])
    assert calls[1]["modality_mask"].tolist() == [[[1, 0, 0]]]  # the text is read
    assert calls[1]["input_ids"].shape[-1] > 2  # real tokens, not the empty sequence
    assert predictions[1]["modalities"] == ["text"] and predictions[0]["modalities"] == ["audio"]
    for i, online in enumerate(predictions):
        _assert_same_prediction(online, _pipeline(model, processor)([audio_only, text_only][: i + 1])[-1])


def test_modalities_option_refuses_the_others_clearly(causal_model, conversation, caplog):
    model, processor = causal_model
    utterances, _ = conversation
    text_only = {"speaker": "Ann", "text": "we won the game"}
    with pytest.raises(ValueError, match="modalities must be"):
        MCNCLStreamingSession(model, processor, modalities=("text", "smell"))
    session = MCNCLStreamingSession(model, processor, modalities=("audio",))
    with pytest.raises(MCNCLInputError, match=r"utterance 0: text: .*session feeds the model audio only"):
        session.add(text_only)
    with pytest.raises(MCNCLInputError, match=r"utterance 0: video: .*audio only"):
        session.add({k: v for k, v in utterances[0].items() if k != "text"})
    assert len(session) == 0
    masked = MCNCLStreamingSession(model, processor, modalities=("audio",), on_error="mask")
    with pytest.raises(MCNCLInputError, match="utterance 0: no modality"):
        masked.add(text_only)  # never a prediction from nothing
    calls = _spy_steps(masked)
    with caplog.at_level(logging.WARNING):
        prediction = masked.add(utterances[0])
    assert prediction["skipped"] == ["text", "visual"] and prediction["modalities"] == ["audio"]
    assert "skipped text" in caplog.text
    assert calls[0]["modality_mask"].tolist() == [[[0, 1, 0]]] and "input_ids" not in calls[0]


def test_reset_starts_a_new_conversation(causal_model, conversation):
    model, processor = causal_model
    utterances, _ = conversation
    session = MCNCLStreamingSession(model, processor, top_k=2)
    first = session.extend(utterances[:2])
    session.reset()
    assert len(session) == 0 and session.speakers == {}
    again = session.add(utterances[0])
    assert again["utterance"] == 0 and len(again["scores"]) == 2
    _assert_same_prediction(again, first[0])


def test_text_context_comes_from_the_past_utterances_as_offline(causal_model, conversation):
    model, processor = causal_model
    utterances = [{"speaker": u["speaker"], "text": u["text"]} for u in conversation[0][:4]]
    components = (processor.tokenizer, processor.feature_extractor, processor.video_processor)
    with_context = MCNCLProcessor(*components, text_context_past=2, text_context_past_only=True)
    session = MCNCLStreamingSession(model, with_context)
    calls = _spy_steps(session)
    predictions = session.extend(utterances)
    offline = with_context(
        utterances
    )  # the whole conversation at once: past-only context gives the same tokens
    for i, call in enumerate(calls):
        n = int(offline["attention_mask"][0, i].sum())
        assert call["input_ids"][0, 0].tolist() == offline["input_ids"][0, i, :n].tolist()
    assert len(calls[2]["input_ids"][0, 0]) > len(calls[0]["input_ids"][0, 0])  # two past texts in front
    classifier = _pipeline(model, with_context)
    for i, online in enumerate(predictions):
        _assert_same_prediction(online, classifier(utterances[: i + 1])[-1])
    with pytest.raises(ValueError, match="text_context_past_only=True"):
        MCNCLStreamingSession(model, MCNCLProcessor(*components, text_context_past=1, text_context_future=1))


# ----------------------------------------------------------------------------------------------------- the CLI


def _stream_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("utterance"))
    return [line.split() for line in lines[header + 1 :] if line.split() and line.split()[0].isdigit()]


def test_cli_stream_prints_each_prediction_with_its_latency_and_writes_json_and_plot(
    causal_checkpoint, demo_corpus, conversation, tmp_path, capsys
):
    corpus, _ = demo_corpus
    utterances, gold = conversation
    manifest = os.path.join(corpus, "manifest.json")
    dialogue = json.load(open(manifest))["splits"]["test"][0]["dialogue_id"]
    out_json, png = tmp_path / "stream.json", tmp_path / "timeline.png"
    argv = ["stream", "--model", causal_checkpoint, "--conversation", manifest, "--dialogue", dialogue]
    assert main([*argv, "--output", str(out_json), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    rows = _stream_rows(out)
    assert [r[0] for r in rows] == [str(i) for i in range(len(utterances))]
    assert all(r[5] == "ms" and float(r[4]) >= 0 for r in rows)  # "<latency> ms"
    assert [r[6] for r in rows] == gold  # the gold column of the demo manifest
    predictions = json.loads(out_json.read_text())[0]["predictions"]
    assert [p["label"] for p in predictions] == [r[2] for r in rows]
    assert all(p["latency_s"] > 0 for p in predictions)
    assert png.stat().st_size > 0 and f"timeline written to {png}" in out


def _exits_2(argv) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_cli_stream_equals_predict_on_a_conversation_with_mixed_modalities(
    causal_checkpoint, conversation, tmp_path, capsys
):
    """Issue 18: `stream` gave other labels than `predict` (2 of 6) because the session fed the model only the
    first utterance's modalities; every modality now goes in, and `--modalities` narrows them."""
    utterances, _ = conversation
    mixed = []
    for i, u in enumerate(utterances[:6]):
        drop = [("video",), ("text",), (), ("audio",), ("text", "video"), ()][i]
        mixed.append({k: v for k, v in u.items() if k not in drop})
    table = tmp_path / "mixed.json"
    table.write_text(json.dumps({"dialogue_id": "mixed", "utterances": mixed}))
    common = ["--model", causal_checkpoint, "--conversation", str(table)]
    assert main(["predict", *common, "--output", str(tmp_path / "offline.json")]) == 0
    assert main(["stream", *common, "--output", str(tmp_path / "online.json")]) == 0
    offline = json.loads((tmp_path / "offline.json").read_text())[0]["predictions"]
    online = json.loads((tmp_path / "online.json").read_text())[0]["predictions"]
    assert len(online) == len(offline) == 6
    for a, b in zip(online, offline):
        _assert_same_prediction(a, b)
    assert [p["modalities"] for p in online[:2]] == [["text", "audio"], ["audio", "visual"]]

    argv = ["stream", *common, "--modalities", "text,audio", "--output", str(tmp_path / "ta.json")]
    _exits_2(argv)  # utterance 1 brings video: refused, the earlier prediction is kept
    err = capsys.readouterr().err
    assert "mcn-cl stream: error:" in err and "utterance 1: video" in err and "--modalities" in err
    assert len(json.loads((tmp_path / "ta.json").read_text())[0]["predictions"]) == 1
    assert main([*argv, "--on_error", "mask"]) == 0
    masked = json.loads((tmp_path / "ta.json").read_text())[0]["predictions"]
    assert masked[1]["skipped"] == ["visual"] and masked[1]["modalities"] == ["audio"]
    _exits_2(["stream", *common, "--modalities", "text,smell"])
    assert "--modalities" in capsys.readouterr().err


def _write_clips_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["clip", "speaker", "text"])
        writer.writerows(rows)


def _csv_row(u) -> str:
    return f"{u['video']},{u['speaker']},{u['text']}"


def test_cli_stream_follow_reads_whole_lines_of_the_csv_as_a_writer_appends_them(
    causal_checkpoint, conversation, tmp_path, capsys, monkeypatch
):
    """Issue 18: a writer that paused mid-line made `--follow` stream half a CSV row, and the row's end was never
    read. A writer thread appends rows, pausing in the middle of one for many polls."""
    import threading

    from mcn_cl.cli import stream as cli

    utterances, _ = conversation
    rows = [_csv_row(u) for u in utterances[:4]]
    table = tmp_path / "conversation.csv"
    _write_clips_csv(table, [r.split(",") for r in rows[:2]])

    def append(text: str) -> None:
        with open(table, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()

    following = threading.Event()
    format_row = cli.format_stream_row

    def format_and_tell(prediction, *args):
        if prediction["utterance"] == 2:  # read by --follow: the loop polls the file now
            following.set()
        return format_row(prediction, *args)

    def writer() -> None:
        following.wait(30)
        time.sleep(0.2)
        append(rows[3][:-4])  # half of the last row: the speaker and most of the text
        time.sleep(0.6)  # a dozen polls mid-line
        append(rows[3][-4:] + "\n")

    load = cli._load_model_and_processor

    def load_while_a_row_arrives(args):
        loaded = load(args)
        append(rows[2] + "\n")  # after the file was read, before following starts
        threading.Thread(target=writer, daemon=True).start()
        return loaded

    monkeypatch.setattr(cli, "_load_model_and_processor", load_while_a_row_arrives)
    monkeypatch.setattr(cli, "format_stream_row", format_and_tell)
    out_json = tmp_path / "out.json"
    argv = ["stream", "--model", causal_checkpoint, "--clips", str(tmp_path), "--follow"]
    started = time.monotonic()
    assert main([*argv, "--timeout", "1.5", "--poll", "0.05", "--output", str(out_json)]) == 0
    assert time.monotonic() - started < 20
    out = capsys.readouterr().out
    rows_out = _stream_rows(out)
    assert [r[1] for r in rows_out] == [u["speaker"] for u in utterances[:4]]
    assert [" ".join(r[6:]) for r in rows_out] == [u["text"] for u in utterances[:4]]  # the last one whole
    assert "following" in out and "stops after 1.5 s" in out
    predictions = json.loads(out_json.read_text())[0]["predictions"]
    assert [p["utterance"] for p in predictions] == [0, 1, 2, 3]
    monkeypatch.setattr(cli, "_load_model_and_processor", load)
    whole = tmp_path / "whole.json"  # the finished file streamed at once: the last row was read whole
    assert (
        main(["stream", "--model", causal_checkpoint, "--clips", str(tmp_path), "--output", str(whole)]) == 0
    )
    for a, b in zip(predictions, json.loads(whole.read_text())[0]["predictions"], strict=True):
        _assert_same_prediction(a, b)


@pytest.mark.parametrize("how", ["rotated", "truncated", "rewritten"])
def test_cli_stream_follow_stops_clearly_when_the_file_is_replaced(
    how, causal_checkpoint, conversation, tmp_path, capsys, monkeypatch
):
    """Issue 18: a rotated or replaced file mixed two conversations silently."""
    import threading

    from mcn_cl.cli import stream as cli

    utterances, _ = conversation
    rows = [_csv_row(u).split(",") for u in utterances[:4]]
    table = tmp_path / "conversation.csv"
    _write_clips_csv(table, rows[:2])
    other = [[r[0], "Zed", "another conversation"] for r in rows]

    def writer() -> None:
        time.sleep(0.3)
        if how == "rotated":  # logrotate: the old file moved away, a new one in its place
            os.rename(table, tmp_path / "conversation.csv.1")
            _write_clips_csv(table, other)
        elif how == "truncated":  # copytruncate, then a new conversation's first row
            _write_clips_csv(table, other[:1])
        else:  # the same inode rewritten in place with more rows than before
            with open(table, "r+", encoding="utf-8", newline="") as f:
                csv.writer(f).writerows([["clip", "speaker", "text"], *other])

    load = cli._load_model_and_processor

    def load_then_write(args):
        loaded = load(args)
        threading.Thread(target=writer, daemon=True).start()
        return loaded

    monkeypatch.setattr(cli, "_load_model_and_processor", load_then_write)
    out_json = tmp_path / "out.json"
    argv = ["stream", "--model", causal_checkpoint, "--clips", str(tmp_path), "--follow", "--poll", "0.05"]
    _exits_2([*argv, "--timeout", "3", "--output", str(out_json)])
    captured = capsys.readouterr()
    assert "mcn-cl stream: error:" in captured.err and "while following" in captured.err
    assert {"rotated": "new inode", "truncated": "shrank", "rewritten": "rewritten"}[how] in captured.err
    assert "Zed" not in captured.out  # nothing of the other conversation was streamed
    assert len(json.loads(out_json.read_text())[0]["predictions"]) == 2  # what was streamed is kept


def test_cli_stream_ctrl_c_ends_cleanly_and_keeps_the_predictions(
    causal_checkpoint, conversation, tmp_path, capsys, monkeypatch
):
    utterances, _ = conversation
    table = tmp_path / "conversation.csv"
    _write_clips_csv(table, [[u["video"], u["speaker"], u["text"]] for u in utterances[:2]])

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupt)
    out_json = tmp_path / "out.json"
    argv = ["stream", "--model", causal_checkpoint, "--clips", str(tmp_path), "--follow"]
    assert main([*argv, "--output", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "stopped: 2 utterances streamed" in out and "Ctrl-C stops" in out
    assert len(json.loads(out_json.read_text())[0]["predictions"]) == 2


def test_cli_stream_of_a_bidirectional_checkpoint_is_a_clear_error(
    checkpoint, conversation, tmp_path, capsys
):
    utterances, _ = conversation
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps(utterances[:2]))
    with pytest.raises(SystemExit) as exit_info:
        main(["stream", "--model", checkpoint, "--conversation", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "mcn-cl stream: error: --model" in err and "causal" in err


def test_cli_stream_argument_errors(checkpoint, demo_corpus, tmp_path, capsys):
    corpus, _ = demo_corpus
    manifest = os.path.join(corpus, "manifest.json")
    cases = [
        (["--conversation", manifest], "holds 4 conversations (demo000, "),
        (["--conversation", manifest, "--timeout", "3"], "--timeout bounds --follow"),
        (["--conversation", manifest, "--dialogue", "nope"], "no conversation with dialogue_id 'nope'"),
        (["--clips", str(tmp_path)], "conversation.csv: no such file"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["stream", "--model", checkpoint, *extra])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("mcn-cl stream: error: ") and message in err, err


def test_cli_stream_load_errors_are_clear_errors_as_for_predict(conversation, tmp_path, capsys):
    """`stream` loads the checkpoint with `predict`'s loader: a bogus config or a device this machine lacks is a
    `mcn-cl stream: error: ...` with exit status 2, not a traceback."""
    utterances, _ = conversation
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps(utterances[:2]))
    model = tmp_path / "bogus"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "no_such_model"}')
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cases = [
        ([], f"--model {model}: cannot load the checkpoint"),
        (["--device", "gpu7"], "not a device"),
        (
            ["--device", str(count + 7)],
            "no CUDA GPU is available" if count == 0 else f"only {count} CUDA GPU(s)",
        ),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["stream", "--model", str(model), "--conversation", str(path), *extra])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("mcn-cl stream: error: ") and message in err, err


def test_causal_demo_config_is_the_demo_config_with_causal_on():
    """examples/configs/demo_causal.json trains the demo model causal (for `mcn-cl stream`), otherwise alike."""
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(repo, "examples"))
    try:
        import train
    finally:
        sys.path.pop(0)
    configs = os.path.join(repo, "examples", "configs")
    parsed = {
        name: train.parse_arguments([os.path.join(configs, f"{name}.json")])
        for name in ("demo", "demo_causal")
    }
    (demo_model, demo_data, demo_training), (model_args, data_args, training_args) = (
        parsed["demo"],
        parsed["demo_causal"],
    )
    overrides = json.loads(model_args.config_overrides)
    assert overrides.pop("causal") is True
    assert overrides == json.loads(demo_model.config_overrides) and data_args == demo_data
    assert training_args.output_dir.endswith("runs/demo_causal") and demo_training.output_dir.endswith(
        "runs/demo"
    )
