"""From a recording to an emotion timeline (issue 21): segmentation, speakers, transcription placement, the
conversation CSV, subtitles, the recording commands and the Gradio app.

The conversation tests speak a scripted two-voice conversation with espeak-ng (skipped without it); the app tests
need gradio (skipped without it). Models are the tiny random-weight MCN-CL of `_fixtures_pipeline`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket

import numpy as np
import pytest
import soundfile as sf

from mcn_cl import MCNCLMediaError
from mcn_cl.recording.metrics import boundary_f1, speaker_error
from mcn_cl.recording.segmentation import _cut_long, segment_recording
from mcn_cl.recording.synthetic import (
    TUNING_CONVERSATION,
    TUNING_VOICES,
    espeak_available,
    synthesize_conversation,
)

pytest_plugins = ["_fixtures_pipeline"]

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def conversation_wav(tmp_path_factory):
    """(path, truth) of the scripted two-voice conversation (12 utterances, one 0.25 s turn change)."""
    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    path = str(tmp_path_factory.mktemp("rec") / "call.wav")
    return path, synthesize_conversation(path, TUNING_CONVERSATION, TUNING_VOICES)


@pytest.fixture(scope="module")
def segmented(conversation_wav):
    return segment_recording(conversation_wav[0])


def _recording_parser():
    """The parser the CLI package builds: predict / stream with --recording in their source group."""
    from mcn_cl.recording.commands import add_recording_arguments, register_app, register_segment

    parser = argparse.ArgumentParser(prog="mcn-cl")
    sub = parser.add_subparsers(dest="command", required=True)
    register_segment(sub)
    register_app(sub)
    for name in ("predict", "stream"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--conversation")
        source.add_argument("--clips")
        add_recording_arguments(p, source)
        p.add_argument("--output")
        p.add_argument("--plot")
        p.add_argument("--on_error", default="raise")
        p.add_argument("--top_k", type=int)
        p.add_argument("--device")
    return parser


def _run(argv):
    from mcn_cl.recording.commands import run_predict_recording, run_stream_recording

    args = _recording_parser().parse_args(argv)
    if args.command == "predict":
        return run_predict_recording(args)
    if args.command == "stream":
        return run_stream_recording(args)
    return args.func(args)


# ------------------------------------------------------------------------------------------ scoring / rules


def test_boundary_f1_matches_within_the_tolerance_one_to_one():
    truth = [{"start": 0.0, "end": 1.0}, {"start": 2.0, "end": 3.0}]
    assert boundary_f1(truth, truth)["f1"] == 1.0
    shifted = [{"start": 0.2, "end": 1.2}, {"start": 2.3, "end": 3.0}]  # 2.3 is 0.3 s off
    assert boundary_f1(shifted, truth)["recall"] == 0.75
    merged = [{"start": 0.0, "end": 3.0}]  # two utterances found as one: half the boundaries
    assert boundary_f1(merged, truth) == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3)}


def test_speaker_error_maps_names_and_counts_missed_speech():
    truth = [{"start": 0, "end": 1, "speaker": "A"}, {"start": 1, "end": 2, "speaker": "B"}]
    renamed = [{"start": 0, "end": 1, "speaker": "x"}, {"start": 1, "end": 2, "speaker": "y"}]
    assert speaker_error(renamed, truth) == 0.0
    one_speaker = [{"start": 0, "end": 2, "speaker": "x"}]
    assert speaker_error(one_speaker, truth) == pytest.approx(0.5, abs=0.01)
    assert speaker_error(renamed[:1], truth) == pytest.approx(0.5, abs=0.01)  # the second second is missed


def test_long_utterances_are_cut_at_their_longest_pause_then_evenly():
    parts = _cut_long(0.0, 30.0, 0, [(9.0, 9.2), (14.0, 15.0)], max_len=20.0)
    assert parts == [(0.0, 14.0, 0), (15.0, 30.0, 0)]
    even = _cut_long(0.0, 45.0, 1, [], max_len=20.0)
    assert len(even) == 3 and even[-1][1] == 45.0 and all(e - s == 15.0 for s, e, _ in even)


def test_cluster_speakers_chooses_the_number_and_honours_a_given_one():
    from mcn_cl.recording.diarization import cluster_speakers

    rng = np.random.default_rng(0)
    centres = np.eye(4)[:3]
    points = np.concatenate([c + 0.05 * rng.standard_normal((6, 4)) for c in centres])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    labels = cluster_speakers(points)
    assert len(set(labels)) == 3 and list(labels[:6]) == [0] * 6  # numbered by first appearance
    assert len(set(cluster_speakers(points, num_speakers=2))) == 2
    assert len(set(cluster_speakers(points, max_speakers=2))) == 2
    same = np.tile(centres[:1], (8, 1)) + 0.01 * rng.standard_normal((8, 4))
    assert set(cluster_speakers(same / np.linalg.norm(same, axis=1, keepdims=True))) == {0}


# a Wav2Vec2 small enough to build in a test (the x-vector speaker model and the CTC speech recogniser)
TINY_WAV2VEC2 = dict(
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8),
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)


def test_a_transformers_xvector_model_folder_is_accepted_as_speaker_model(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForXVector

    from mcn_cl.recording.diarization import get_speaker_encoder

    config = Wav2Vec2Config(
        **TINY_WAV2VEC2,
        tdnn_dim=(8, 8),
        tdnn_kernel=(3, 1),
        tdnn_dilation=(1, 1),
        xvector_output_dim=12,
    )
    Wav2Vec2ForXVector(config).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(tmp_path)
    encoder = get_speaker_encoder(str(tmp_path))
    rng = np.random.default_rng(0)
    out = encoder.embed([rng.standard_normal(n).astype(np.float32) for n in (8000, 16000, 12000)])
    assert out.shape == (3, 12) and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert get_speaker_encoder("resemblyzer").embed(
        [rng.standard_normal(16000).astype(np.float32)]
    ).shape == (1, 256)


def test_words_go_to_the_utterance_holding_their_midpoint():
    from mcn_cl.recording.transcription import place_words

    utterances = [{"start": 1.0, "end": 2.0}, {"start": 2.3, "end": 4.0}]
    words = [
        {"text": " Hello", "timestamp": (0.1, 0.5)},  # block time 0.1-0.5 = 1.1-1.5 s
        {"text": " there.", "timestamp": (0.6, 1.05)},  # midpoint 1.825 s
        {"text": " Hi", "timestamp": (1.2, 1.45)},  # midpoint 2.325 s: the second utterance
        {"text": " you", "timestamp": (2.8, 3.2)},  # past the end: the nearest
    ]
    assert place_words(utterances, words, offset=1.0) == [["Hello", "there."], ["Hi", "you"]]


def test_subtitles_srt_and_webvtt():
    from mcn_cl.recording.subtitles import format_srt, format_vtt

    utterances = [
        {"start": 0.5, "end": 2.25, "text": "Hi there"},
        {"start": 3661.0, "end": 3662.5, "text": ""},
    ]
    predictions = [
        {"speaker": "speaker 1", "label": "joy", "score": 0.8123},
        {"speaker": "speaker 2", "label": "neutral", "score": 0.5},
    ]
    srt = format_srt(utterances, predictions)
    assert srt.startswith("1\n00:00:00,500 --> 00:00:02,250\nspeaker 1: joy (0.81)\nHi there\n")
    assert "2\n01:01:01,000 --> 01:01:02,500\nspeaker 2: neutral (0.50)\n" in srt
    vtt = format_vtt(utterances, predictions)
    assert vtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.250\nspeaker 1: joy (0.81)")
    with pytest.raises(ValueError, match="2 utterances but 1 predictions"):
        format_srt(utterances, predictions[:1])


def test_conversation_csv_is_what_predict_clips_reads(tmp_path):
    try:
        from mcn_cl.cli.readers import read_clips_csv
    except ImportError:
        from mcn_cl.cli import read_clips_csv
    from mcn_cl.recording.conversation import write_conversation_csv

    recording = tmp_path / "media" / "call.wav"
    recording.parent.mkdir()
    sf.write(recording, np.zeros(16000, np.float32), 16000)
    utterances = [
        {"start": 0.1, "end": 0.4, "speaker": "speaker 1", "text": ""},
        {"start": 0.5, "end": 0.9, "speaker": "speaker 2", "text": "hello, you"},
    ]
    path = write_conversation_csv(tmp_path / "out" / "conversation.csv", recording, utterances)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["audio"] == os.path.join("..", "media", "call.wav") and rows[0]["clip"] == ""
    (conversation,) = read_clips_csv(os.path.dirname(path))
    u0, u1 = conversation["utterances"]
    assert os.path.samefile(u0["audio"], recording) and "video" not in u0
    assert (u0["start"], u0["end"], u0["speaker"], u0["text"]) == (0.1, 0.4, "speaker 1", None)
    assert (u1["start"], u1["text"]) == (0.5, "hello, you")


def test_batched_vad_gives_the_frame_by_frame_probabilities():
    import torch

    from mcn_cl.recording.segmentation import BatchedVAD, load_vad

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 3) / 16000
    voiced = np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0)  # bursts of a 140 Hz tone
    audio = (0.3 * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    frames = torch.from_numpy(audio[: t.size // 512 * 512].reshape(-1, 512).copy())
    model = load_vad()
    model.reset_states()
    with torch.no_grad():
        reference = np.array([float(model(f, 16000)) for f in frames])
    vad = BatchedVAD(model)
    batched = np.concatenate([vad(frames[:40], batch=16), vad(frames[40:])])  # state carried across calls
    np.testing.assert_allclose(batched, reference, atol=1e-4)
    vad.reset()
    np.testing.assert_allclose(vad(frames[:10]), reference[:10], atol=1e-4)


# ------------------------------------------------------------------------------------------------ bad input


def test_silence_and_music_give_no_utterances_and_a_message(tmp_path, caplog):
    sr = 16000
    silence = tmp_path / "silence.wav"
    sf.write(silence, 1e-4 * np.random.default_rng(0).standard_normal(5 * sr).astype(np.float32), sr)
    t = np.arange(8 * sr) / sr
    chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * t)
    )
    music = tmp_path / "music.flac"
    sf.write(music, (0.2 * chords).astype(np.float32), sr)
    for path in (silence, music):
        with caplog.at_level("WARNING"):
            seg = segment_recording(str(path))
        assert seg.utterances == [] and seg.duration == pytest.approx(5 if path == silence else 8, abs=0.05)
        assert "no speech found" in seg.warnings[0]


def test_unreadable_and_audio_less_files_are_media_errors(tmp_path):
    import av

    garbage = tmp_path / "call.wav"
    garbage.write_bytes(b"not a wav file at all" * 10)
    with pytest.raises(MCNCLMediaError, match="unreadable audio file"):
        segment_recording(str(garbage))
    corrupt = tmp_path / "call.mp4"
    corrupt.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(MCNCLMediaError, match="call.mp4"):
        segment_recording(str(corrupt))
    with pytest.raises(MCNCLMediaError, match="file not found"):
        segment_recording(str(tmp_path / "missing.wav"))
    silent_video = tmp_path / "video_only.mp4"
    with av.open(str(silent_video), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(MCNCLMediaError, match="no audio stream"):
        segment_recording(str(silent_video))


# ---------------------------------------------------------------------------------------- the conversation


@needs_espeak
def test_the_two_voice_conversation_is_segmented_with_its_quick_turn_change(conversation_wav, segmented):
    _, truth = conversation_wav
    utterances = segmented.utterances
    assert len(segmented.speakers) == 2
    assert len(utterances) == len(truth)  # comma pauses kept inside, the 0.25 s turn change split
    assert boundary_f1(utterances, truth)["f1"] >= 0.9
    assert speaker_error(utterances, truth) <= 0.1
    # the same speaker on both sides of every true same-speaker pair, different on every turn change
    names = {t["speaker"]: u["speaker"] for t, u in zip(truth, utterances)}
    assert [u["speaker"] for u in utterances] == [names[t["speaker"]] for t in truth]


@needs_espeak
def test_more_speakers_than_the_model_knows_is_a_warning_and_a_merge(conversation_wav):
    seg = segment_recording(conversation_wav[0], max_speakers=1)
    assert seg.speakers == ["speaker 1"] and seg.num_speakers_found == 2
    assert "config.max_speakers=1" in seg.warnings[0] and "merges" in seg.warnings[0]
    seg = segment_recording(conversation_wav[0], num_speakers=3, max_speakers=2)
    assert len(seg.speakers) == 2 and "--num_speakers 3" in seg.warnings[0]


@needs_espeak
def test_transcription_places_the_asr_words_into_the_utterances(conversation_wav, segmented):
    from mcn_cl.recording.transcription import transcribe_utterances

    calls = []

    def fake_asr(inputs, return_timestamps):  # one "word" per second of the block, named by its absolute time
        calls.append(len(inputs["raw"]) / inputs["sampling_rate"])
        offset = len(calls)
        return {
            "chunks": [
                {"text": f"w{offset}_{s}", "timestamp": (s + 0.4, s + 0.6)} for s in range(int(calls[-1]))
            ]
        }

    out = transcribe_utterances(conversation_wav[0], segmented.utterances, fake_asr, block_s=10.0)
    assert all(c <= 10.5 for c in calls) and sum(calls) > 0.8 * sum(u["end"] - u["start"] for u in out)
    assert [u["start"] for u in out] == [u["start"] for u in segmented.utterances]
    assert sum(len(u["text"].split()) for u in out) == sum(int(c) for c in calls)
    assert out[0]["text"].startswith("w1_0 w1_1")


def _tiny_ctc_asr(folder) -> str:
    """A random-weight wav2vec2 CTC recogniser over the letters a-h, saved as a transformers ASR model folder."""
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate("abcdefgh")}}
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    tokenizer = Wav2Vec2CTCTokenizer(os.path.join(folder, "vocab.json"), word_delimiter_token="|")
    Wav2Vec2Processor(Wav2Vec2FeatureExtractor(return_attention_mask=True), tokenizer).save_pretrained(folder)
    config = Wav2Vec2Config(
        vocab_size=len(vocab),
        **TINY_WAV2VEC2,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    model = Wav2Vec2ForCTC(config)
    with torch.no_grad():  # letters and word breaks that follow the input, rarely the blank
        model.lm_head.weight.mul_(30)
        model.lm_head.bias.zero_()
        model.lm_head.bias[0] -= 2
    model.save_pretrained(folder)
    return str(folder)


def test_a_transformers_asr_model_id_fills_the_text_by_word_timestamps(tmp_path):
    from mcn_cl.recording.transcription import load_asr, transcribe_utterances

    asr = _tiny_ctc_asr(tmp_path)
    sr = 16000
    audio = np.zeros(6 * sr, np.float32)
    rng = np.random.default_rng(0)
    for start, end in ((1.0, 2.5), (3.5, 5.0)):  # two "utterances" of noise, silence around them
        audio[int(start * sr) : int(end * sr)] = 0.1 * rng.standard_normal(int((end - start) * sr))
    path = tmp_path / "call.wav"
    sf.write(path, audio, sr)
    utterances = [{"start": 1.0, "end": 2.5, "speaker": "a"}, {"start": 3.5, "end": 5.0, "speaker": "b"}]
    out = transcribe_utterances(str(path), utterances, asr)
    direct = load_asr(asr)({"raw": audio[sr : 5 * sr], "sampling_rate": sr}, return_timestamps="word")
    assert all(u["text"] for u in out)  # both bursts got words
    assert sum(len(u["text"].split()) for u in out) == len(direct["chunks"])  # every word placed once
    first = [w["text"] for w in direct["chunks"] if sum(w["timestamp"]) / 2 < 1.5]  # block time: before 2.5 s
    assert out[0]["text"].split()[: len(first)] == first


# --------------------------------------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def causal_checkpoint(tmp_path_factory):
    import torch
    from _fixtures_pipeline import INITIALIZER_RANGE, NUM_FRAMES, make_processor
    from conftest import TINY_TEXT_CONFIG, make_tiny_config

    from mcn_cl import MCNCLForEmotionRecognition
    from mcn_cl.demo import DEMO_LABELS
    from mcn_cl.hub_mcn_cl import save_for_hub

    processor = make_processor()
    config = make_tiny_config(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(processor.tokenizer)),
        audio_feature_size=processor.feature_extractor.feature_size,
        visual_backbone="resnet101",
        visual_feature_size=1000,
        num_frames=NUM_FRAMES,
        id2label=dict(enumerate(DEMO_LABELS)),
        label2id={n: i for i, n in enumerate(DEMO_LABELS)},
        initializer_range=INITIALIZER_RANGE,
        causal=True,
    )
    torch.manual_seed(0)
    folder = str(tmp_path_factory.mktemp("causal"))
    save_for_hub(MCNCLForEmotionRecognition(config).eval(), processor, folder, dataset_name="demo")
    return folder


@needs_espeak
def test_segment_command_writes_the_csv(conversation_wav, tmp_path, capsys):
    out = tmp_path / "call" / "conversation.csv"
    assert _run(["segment", conversation_wav[0], "-o", str(out), "--num_speakers", "2"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(conversation_wav[1]) and {r["speaker"] for r in rows} == {
        "speaker 1",
        "speaker 2",
    }
    assert "12 utterances, 2 speakers" in capsys.readouterr().out


@needs_espeak
def test_predict_recording_writes_json_timeline_and_subtitles(conversation_wav, checkpoint, tmp_path, capsys):
    out, plot, srt = tmp_path / "r.json", tmp_path / "t.png", tmp_path / "s.vtt"
    argv = ["predict", "--recording", conversation_wav[0], "--model", checkpoint, "--output", str(out)]
    assert _run(argv + ["--plot", str(plot), "--subtitles", str(srt)]) == 0
    (result,) = json.loads(out.read_text())
    predictions = result["predictions"]
    assert len(predictions) == 12 and predictions[0]["speaker"] == "speaker 1"
    assert predictions[3]["start"] == pytest.approx(conversation_wav[1][3]["start"], abs=0.25)
    assert "audio" not in predictions[0].get("skipped", [])  # the audio window was read, not masked
    assert plot.stat().st_size > 1000
    vtt = srt.read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == 12 and f"{predictions[0]['label']} (" in vtt
    assert "time" in capsys.readouterr().out


@needs_espeak
def test_stream_recording_with_a_causal_model(conversation_wav, causal_checkpoint, tmp_path, capsys):
    out = tmp_path / "s.json"
    argv = ["stream", "--recording", conversation_wav[0], "--model", causal_checkpoint, "--output", str(out)]
    assert _run(argv) == 0
    (result,) = json.loads(out.read_text())
    assert len(result["predictions"]) == 12 and all(p["latency_s"] > 0 for p in result["predictions"])
    assert capsys.readouterr().out.count(" ms ") == 12


def test_recording_commands_report_bad_input_and_exit_2(checkpoint, tmp_path, capsys):
    audio_less = tmp_path / "x.mp3"
    audio_less.write_bytes(b"ID3 but nothing else")
    assert _run(["predict", "--recording", str(audio_less), "--model", checkpoint]) == 2
    assert f"\nmcn-cl predict: error: audio '{audio_less}': unreadable" in capsys.readouterr().err
    assert _run(["segment", str(tmp_path / "none.wav"), "-o", str(tmp_path / "c.csv")]) == 2
    assert "none.wav: no such file" in capsys.readouterr().err
    silence = tmp_path / "quiet.wav"
    sf.write(silence, np.zeros(32000, np.float32), 16000)
    assert (
        _run(
            [
                "predict",
                "--recording",
                str(silence),
                "--model",
                checkpoint,
                "--output",
                str(tmp_path / "o.json"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "no speech found" in captured.err and "nothing to predict" in captured.out
    assert json.loads((tmp_path / "o.json").read_text())[0]["predictions"] == []
    with pytest.raises(SystemExit):  # --recording is one of predict's sources, not a second one
        _recording_parser().parse_args(["predict", "--model", "m", "--recording", "a.wav", "--clips", "d"])


# -------------------------------------------------------------------------------------------------- the app


def test_write_space_makes_the_checkpoint_a_space(tmp_path):
    from mcn_cl.recording.app import write_space

    assert write_space(tmp_path) == ["app.py", "requirements.txt"]
    app = (tmp_path / "app.py").read_text()
    compile(app, "app.py", "exec")
    assert "build_app(load_classifier(" in app
    assert "mcn-cl[recording]" in (tmp_path / "requirements.txt").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_espeak
def test_the_app_answers_through_gradio_client(conversation_wav, checkpoint, monkeypatch):
    pytest.importorskip("gradio")
    gradio_client = pytest.importorskip("gradio_client")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    from mcn_cl.recording.app import build_app
    from mcn_cl.recording.commands import load_classifier

    demo = build_app(load_classifier(checkpoint))
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        status, image, table, files = client.predict(
            gradio_client.handle_file(conversation_wav[0]), None, [], 2, api_name="/analyse"
        )
    finally:
        demo.close()
    assert status.startswith("12 / 12 utterances")
    assert os.path.getsize(image) > 1000
    rows = table["data"]
    assert len(rows) == 12 and table["headers"] == ["time", "speaker", "text", "emotion", "confidence"]
    assert {r[1] for r in rows} == {"speaker 1", "speaker 2"}
    names = sorted(os.path.basename(f) for f in files)
    assert names == ["call.json", "call.srt"]
    srt = open(next(f for f in files if f.endswith(".srt")), encoding="utf-8").read()
    assert srt.count(" --> ") == 12


@needs_espeak
def test_the_app_streams_utterance_by_utterance_with_a_causal_model(conversation_wav, causal_checkpoint):
    from mcn_cl.recording.app import analyse
    from mcn_cl.recording.commands import load_classifier

    steps = list(analyse(load_classifier(causal_checkpoint), recording=conversation_wav[0]))
    assert [len(rows) for _, _, rows, _ in steps] == list(range(1, 13))
    assert steps[0][3] == [] and len(steps[-1][3]) == 2  # downloads once all is read


def test_the_app_reads_a_clips_csv_with_its_media(checkpoint, demo_corpus, tmp_path):
    from mcn_cl.recording.app import analyse
    from mcn_cl.recording.commands import load_classifier

    folder, dataset = demo_corpus
    row = dataset["test"][0]
    csv_path = tmp_path / "conversation.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip", "speaker", "text"])
        for u in row["utterances"]:
            writer.writerow([os.path.basename(u["video_path"]), u["speaker"], u["text"]])
    media = [u["video_path"] for u in row["utterances"]]
    ((status, image, rows, files),) = list(
        analyse(load_classifier(checkpoint), clips_csv=str(csv_path), media=media)
    )
    assert len(rows) == len(media) and [r[1] for r in rows] == [u["speaker"] for u in row["utterances"]]
    assert [os.path.basename(f) for f in files] == ["0.json"]  # no times: no subtitles
