# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The recording commands of `mcn-cl`, written as sub-command modules (cheap to register, heavy imports inside):

    mcn-cl segment call.mp4 -o call/conversation.csv [--num_speakers 2] [--asr openai/whisper-small]
    mcn-cl predict --recording call.mp4 --model DIR [--asr ID] [--plot timeline.png] [--output result.json]
                   [--subtitles out.srt]
    mcn-cl stream --recording call.mp4 --model CAUSAL_DIR
    mcn-cl app --model DIR [--port 7860]

`register_segment(subparsers)` / `register_app(subparsers)` add the `segment` and `app` sub-commands;
`add_recording_arguments(parser, source_group)` adds `--recording`, `--asr`, `--subtitles`, `--num_speakers` and
`--speaker_model` to `predict` / `stream` (`--recording` into their conversation-source group when given), and
`run_predict_recording(args)` / `run_stream_recording(args)` run them. Every run function returns the exit
status; a bad argument or input prints `mcn-cl CMD: error: ...` and returns 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

TASK = "multimodal-emotion-recognition"


class RecordingCommandError(Exception):
    """A bad argument or input of a recording command: `mcn-cl CMD: error: ...`, exit status 2."""


def _fail(command: str, message: str) -> int:
    sys.stderr.write(f"mcn-cl {command}: error: {message}\n")
    return 2


# ------------------------------------------------------------------------------------------------ arguments


def _add_segmentation_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--num_speakers", type=int, default=None, help="number of speakers, if known (default: chosen)"
    )
    p.add_argument(
        "--speaker_model",
        default="resemblyzer",
        help="speaker embeddings: 'resemblyzer' (default, offline) or a transformers x-vector model id",
    )
    p.add_argument(
        "--asr",
        default=None,
        help="transformers speech recognition model id or folder (e.g. openai/whisper-small); "
        "default: no text (the text modality is masked)",
    )


def add_recording_arguments(
    parser: argparse.ArgumentParser, source_group: argparse._MutuallyExclusiveGroup | None = None
) -> None:
    """`--recording` (into `source_group`, the `--conversation` / `--clips` group, when given), `--asr`,
    `--subtitles`, `--num_speakers` and `--speaker_model`, for `predict` and `stream`."""
    (source_group or parser).add_argument(
        "--recording",
        help="one recording (audio or video) of the whole conversation: segmented into utterances and speakers",
    )
    _add_segmentation_arguments(parser)
    parser.add_argument(
        "--subtitles",
        default=None,
        help="with --recording: write each utterance's speaker and emotion as subtitles (.srt, or .vtt for WebVTT)",
    )


def register_segment(subparsers) -> argparse.ArgumentParser:
    """Add `mcn-cl segment RECORDING -o conversation.csv`."""
    p = subparsers.add_parser(
        "segment",
        help="cut a recording into utterances and speakers, write the conversation.csv that predict reads",
        description="Find the utterances of one recording (Silero VAD), tell the speakers apart (speaker "
        "embeddings + clustering), optionally transcribe them (--asr), and write the conversation.csv that "
        "`mcn-cl predict --clips FOLDER` reads (the recording as the clip, start / end per utterance).",
    )
    p.add_argument("recording", help="audio or video file of the whole conversation")
    p.add_argument("-o", "--output", required=True, help="the CSV to write (e.g. call/conversation.csv)")
    _add_segmentation_arguments(p)
    p.add_argument(
        "--max_speakers", type=int, default=None, help="at most this many speakers (more are merged)"
    )
    p.add_argument(
        "--merge_gap",
        type=float,
        default=0.8,
        help="same-speaker pauses shorter than this are inside an utterance (s)",
    )
    p.add_argument("--max_utterance", type=float, default=20.0, help="longer utterances are cut (s)")
    p.add_argument("--device", default=None, help="device of the speaker / ASR models (default: cpu)")
    p.set_defaults(func=run_segment)
    return p


def register_app(subparsers) -> argparse.ArgumentParser:
    """Add `mcn-cl app --model DIR`."""
    p = subparsers.add_parser(
        "app",
        help="serve the web page (Gradio) on this machine: recording or clips CSV in, emotion timeline out",
        description="Serve a Gradio page on 127.0.0.1: upload a recording (or a clips CSV with its media) and "
        "get the emotion timeline, a table of the utterances and JSON / SRT downloads.",
    )
    p.add_argument("--model", required=True, help="checkpoint folder (or Hub id) holding model and processor")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    _add_segmentation_arguments(p)
    p.add_argument("--device", default=None, help="cpu, a GPU index (0) or cuda:1")
    p.set_defaults(func=run_app)
    return p


# ------------------------------------------------------------------------------------------------ the work


def _check_recording(args: argparse.Namespace) -> str:
    path = args.recording
    if not os.path.exists(path):
        raise RecordingCommandError(f"{path}: no such file")
    if os.path.isdir(path):
        raise RecordingCommandError(f"{path}: is a folder, not a recording")
    if args.num_speakers is not None and args.num_speakers < 1:
        raise RecordingCommandError(f"--num_speakers {args.num_speakers}: must be at least 1")
    return path


def segment_and_transcribe(
    recording: str,
    *,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
    speaker_model: str | None = "resemblyzer",
    asr: str | None = None,
    device: Any = None,
    **kwargs,
):
    """`segment_recording` then, with `asr`, `transcribe_utterances`: the `RecordingSegmentation`."""
    from .segmentation import segment_recording
    from .transcription import transcribe_utterances

    seg = segment_recording(
        recording,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        speaker_model=speaker_model,
        device=_torch_device(device),
        **kwargs,
    )
    if asr and seg.utterances:
        seg.utterances = transcribe_utterances(recording, seg.utterances, asr, device=device)
    return seg


def _torch_device(device: Any) -> str:
    if device is None:
        return "cpu"
    if isinstance(device, int) or str(device).lstrip("-").isdigit():
        return "cpu" if int(device) < 0 else f"cuda:{int(device)}"
    return str(device)


def _report_segmentation(seg, recording: str) -> None:
    for message in seg.warnings:
        sys.stderr.write(f"warning: {message}\n")
    sys.stdout.write(
        f"{recording}: {seg.duration:.1f} s, {len(seg.utterances)} utterances, {len(seg.speakers)} speakers\n"
    )


def run_segment(args: argparse.Namespace) -> int:
    """`mcn-cl segment`: the conversation.csv of a recording."""
    from ..processing import MCNCLMediaError
    from .conversation import write_conversation_csv

    try:
        recording = _check_recording(args)
        if os.path.isdir(args.output):
            raise RecordingCommandError(f"--output {args.output}: is a folder; give a file name")
        seg = segment_and_transcribe(
            recording,
            num_speakers=args.num_speakers,
            max_speakers=args.max_speakers,
            speaker_model=args.speaker_model,
            asr=args.asr,
            device=args.device,
            merge_gap_s=args.merge_gap,
            max_utterance_s=args.max_utterance,
        )
    except RecordingCommandError as err:
        return _fail("segment", str(err))
    except (MCNCLMediaError, ImportError, OSError) as err:
        return _fail("segment", str(err))
    _report_segmentation(seg, recording)
    path = write_conversation_csv(args.output, recording, seg.utterances)
    sys.stdout.write(
        f"conversation written to {path} (predict it with: mcn-cl predict --clips "
        f"{os.path.dirname(path)} --model DIR)\n"
    )
    return 0


def load_classifier(model: str, device: Any = None):
    """The `"multimodal-emotion-recognition"` pipeline of `model` with the package's own classes."""
    from transformers import pipeline

    import mcn_cl

    looks_local = os.path.isabs(model) or model.startswith(".") or model.count("/") != 1
    if looks_local and not os.path.isdir(model):
        raise RecordingCommandError(f"--model {model}: no such folder")
    if isinstance(device, str) and device.lstrip("-").isdigit():
        device = int(device)
    try:
        return pipeline(
            TASK, model=model, pipeline_class=mcn_cl.MultimodalEmotionRecognitionPipeline, device=device
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RecordingCommandError(
            f"--model {model}: cannot load the checkpoint ({type(err).__name__}: {reason})"
        ) from err


def with_times(
    predictions: Sequence[Mapping[str, Any]], utterances: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The predictions with each utterance's `start`, `end` and `text`."""
    return [
        {**p, "start": u.get("start"), "end": u.get("end"), "text": u.get("text") or ""}
        for p, u in zip(predictions, utterances)
    ]


def format_recording_table(predictions: Sequence[Mapping[str, Any]]) -> str:
    """One line per utterance: time span, speaker, emotion, confidence, text."""
    header = ["time", "speaker", "emotion", "confidence", "text"]
    rows = [
        [
            f"{p['start']:7.2f}-{p['end']:7.2f}",
            str(p.get("speaker") or ""),
            str(p["label"]),
            f"{p['score']:.3f}",
            (p.get("text") or "")[:60],
        ]
        for p in predictions
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def _write_outputs(args, recording, conversation, predictions, id2label, online: bool) -> None:
    from .subtitles import write_subtitles

    if getattr(args, "output", None):
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            out = [
                {
                    "dialogue_id": conversation["dialogue_id"],
                    "recording": recording,
                    "predictions": predictions,
                }
            ]
            json.dump(out, f, indent=2, ensure_ascii=False)
        sys.stdout.write(f"predictions written to {args.output}\n")
    if getattr(args, "subtitles", None) and predictions:
        write_subtitles(args.subtitles, conversation["utterances"], predictions)
        sys.stdout.write(f"subtitles written to {args.subtitles}\n")
    if getattr(args, "plot", None) and predictions:
        from ..plotting import plot_emotion_timeline

        mode = "online, past context only" if online else "offline, whole conversation"
        plot_emotion_timeline(
            predictions,
            path=args.plot,
            title=f"Emotion timeline: {os.path.basename(recording)} ({mode})",
            label_names=[id2label[k] for k in sorted(id2label)],
        )
        sys.stdout.write(f"timeline written to {args.plot}\n")


def _prepare(args: argparse.Namespace, command: str):
    """Check the arguments, load the model, segment (and transcribe) the recording: (classifier, seg, conv)."""
    from .conversation import recording_conversation

    recording = _check_recording(args)
    for name in ("output", "subtitles", "plot"):
        value = getattr(args, name, None)
        if value and os.path.isdir(value):
            raise RecordingCommandError(f"--{name} {value}: is a folder; give a file name")
    if getattr(args, "subtitles", None) and getattr(args, "recording", None) is None:
        raise RecordingCommandError("--subtitles needs --recording")
    classifier = load_classifier(args.model, getattr(args, "device", None))
    seg = segment_and_transcribe(
        recording,
        num_speakers=args.num_speakers,
        max_speakers=classifier.model.config.max_speakers,
        speaker_model=args.speaker_model,
        asr=args.asr,
        device=getattr(args, "device", None),
    )
    _report_segmentation(seg, recording)
    return classifier, seg, recording_conversation(recording, seg.utterances)


def run_predict_recording(args: argparse.Namespace) -> int:
    """`mcn-cl predict --recording FILE --model DIR`: segment, (transcribe,) predict, print; `--output` JSON,
    `--plot` timeline PNG, `--subtitles` SRT / WebVTT."""
    from ..processing import MCNCLMediaError

    try:
        classifier, seg, conversation = _prepare(args, "predict")
        predictions = []
        if conversation["utterances"]:
            on_error = getattr(args, "on_error", None) or "mask"
            kwargs = {"on_error": on_error}
            if getattr(args, "top_k", None) is not None:
                kwargs["top_k"] = args.top_k
            predictions = with_times(
                classifier(conversation["utterances"], **kwargs), conversation["utterances"]
            )
    except RecordingCommandError as err:
        return _fail("predict", str(err))
    except (MCNCLMediaError, ImportError, OSError, ValueError, TypeError) as err:
        return _fail("predict", str(err))
    if predictions:
        sys.stdout.write(format_recording_table(predictions) + "\n")
    else:
        sys.stdout.write("no utterances: nothing to predict\n")
    _write_outputs(args, args.recording, conversation, predictions, classifier.model.config.id2label, False)
    return 0


def run_stream_recording(args: argparse.Namespace) -> int:
    """`mcn-cl stream --recording FILE --model CAUSAL_DIR`: the recording is segmented, then each utterance's
    emotion is printed as soon as the causal model has read it (from the past only), with its latency."""
    from ..processing import MCNCLMediaError
    from ..streaming import MCNCLStreamingSession

    try:
        classifier, seg, conversation = _prepare(args, "stream")
        try:
            session = MCNCLStreamingSession(
                classifier.model,
                classifier.processor,
                on_error=getattr(args, "on_error", None) or "mask",
                top_k=getattr(args, "top_k", None),
                dialogue_id=conversation["dialogue_id"],
            )
        except (ValueError, TypeError) as err:
            raise RecordingCommandError(f"--model {args.model}: {err}") from err
        predictions = []
        if not conversation["utterances"]:
            sys.stdout.write("no utterances: nothing to stream\n")
        else:
            sys.stdout.write("time             speaker     emotion     confidence  latency\n")
        for utterance in conversation["utterances"]:
            p = with_times([session.add(utterance)], [utterance])[0]
            predictions.append(p)
            sys.stdout.write(
                f"{p['start']:7.2f}-{p['end']:7.2f}  {str(p['speaker'] or '')[:10]:10}  {p['label']:10}  "
                f"{p['score']:.3f}       {1000 * p['latency_s']:.0f} ms  {p['text'][:48]}\n"
            )
            sys.stdout.flush()
    except RecordingCommandError as err:
        return _fail("stream", str(err))
    except (MCNCLMediaError, ImportError, OSError, ValueError, TypeError) as err:
        return _fail("stream", str(err))
    _write_outputs(args, args.recording, conversation, predictions, classifier.model.config.id2label, True)
    return 0


def run_app(args: argparse.Namespace) -> int:
    """`mcn-cl app --model DIR`: serve the Gradio page until Ctrl-C."""
    try:
        from .app import build_app

        classifier = load_classifier(args.model, args.device)
        demo = build_app(
            classifier,
            speaker_model=args.speaker_model,
            asr=args.asr,
            num_speakers=args.num_speakers,
        )
    except RecordingCommandError as err:
        return _fail("app", str(err))
    except ImportError as err:
        return _fail("app", f"{err} (pip install 'mcn-cl[recording]')")
    demo.queue().launch(server_name=args.host, server_port=args.port, share=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser of the recording commands (`python -m mcn_cl.recording.commands ...`): `segment`,
    `app`, and `predict` / `stream` taking only `--recording` (the `mcn-cl` parser adds `--recording` to its own
    `predict` / `stream` instead)."""
    parser = argparse.ArgumentParser(prog="mcn-cl", description="MCN-CL from a recording.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_segment(sub)
    register_app(sub)
    for name, run in (("predict", run_predict_recording), ("stream", run_stream_recording)):
        p = sub.add_parser(name, help=f"{name} the emotions of a recording")
        p.add_argument("--model", required=True, help="checkpoint folder (or Hub id)")
        add_recording_arguments(p)
        p.add_argument("--output", help="write the predictions to this JSON file")
        p.add_argument("--plot", help="draw the emotion timeline into this PNG")
        p.add_argument("--top_k", type=int, default=None)
        p.add_argument("--on_error", choices=["raise", "mask"], default="mask")
        p.add_argument("--device", default=None)
        p.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("predict", "stream") and not args.recording:
        parser.error(f"{args.command}: --recording is required here")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
