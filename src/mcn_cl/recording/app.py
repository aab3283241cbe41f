# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The web page (Gradio) of a checkpoint: a recording (or a clips CSV with its media) in, the emotion timeline,
a table (time, speaker, text, emotion, confidence) and JSON / SRT downloads out.

`build_app(classifier)` builds the `gradio.Blocks` (served by `mcn-cl app --model DIR` on 127.0.0.1). Its one
endpoint, `/analyse`, is a generator: with a causal checkpoint (`config.causal`) the results grow utterance by
utterance as the streaming session reads them; otherwise they come at once.

`write_space(folder)` writes the `app.py` and `requirements.txt` that make a saved checkpoint folder a Hub Space
(Gradio SDK; the card's front matter needs `sdk: gradio` and `app_file: app.py`, `SPACE_CARD_METADATA`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

TABLE_COLUMNS = ["time", "speaker", "text", "emotion", "confidence"]
SPACE_CARD_METADATA = {"sdk": "gradio", "app_file": "app.py"}

SPACE_APP = '''"""Hub Space of this MCN-CL checkpoint: upload a recording of a conversation (or a clips CSV with its media)
and get each utterance's emotion as a timeline, a table and JSON / SRT downloads (written by mcn_cl)."""

import os

from mcn_cl.recording.app import build_app
from mcn_cl.recording.commands import load_classifier

demo = build_app(load_classifier(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    demo.queue().launch()
'''

SPACE_REQUIREMENTS = """# the mcn-cl package with its recording extra (silero-vad, resemblyzer, gradio)
mcn-cl[recording]
"""


def write_space(folder: str | os.PathLike, package_requirement: str | None = None) -> list[str]:
    """Write `app.py` and `requirements.txt` into the checkpoint `folder` (the hub save code calls this), making
    it a Gradio Space; `package_requirement` replaces the `mcn-cl[recording]` line (e.g. a git URL)."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "app.py"), "w", encoding="utf-8") as f:
        f.write(SPACE_APP)
    requirements = SPACE_REQUIREMENTS
    if package_requirement:
        requirements = requirements.replace("mcn-cl[recording]", package_requirement)
    with open(os.path.join(folder, "requirements.txt"), "w", encoding="utf-8") as f:
        f.write(requirements)
    return ["app.py", "requirements.txt"]


def _path(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return getattr(value, "name", None) or (value.get("path") if isinstance(value, dict) else None)


def _read_clips(csv_file: str, media: Sequence[Any]) -> dict[str, Any]:
    """The first conversation of an uploaded clips CSV, its media files gathered next to it (by file name)."""
    try:
        from ..cli.readers import read_clips_csv
    except ImportError:
        from ..cli import read_clips_csv

    folder = tempfile.mkdtemp(prefix="mcn-cl-clips-")
    shutil.copy(csv_file, os.path.join(folder, "conversation.csv"))
    for m in media or []:
        p = _path(m)
        if p:
            shutil.copy(p, os.path.join(folder, os.path.basename(p)))
    try:
        conversations = read_clips_csv(folder)
    except Exception as err:  # the CLI's error for a bad CSV
        raise ValueError(str(err)) from err
    return conversations[0]


def table_rows(predictions: Sequence[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for p in predictions:
        start, end = p.get("start"), p.get("end")
        when = f"{start:.2f}-{end:.2f} s" if start is not None and end is not None else str(p["utterance"])
        rows.append(
            [when, p.get("speaker") or "", p.get("text") or "", p["label"], round(float(p["score"]), 3)]
        )
    return rows


def analyse(
    classifier,
    recording: str | None = None,
    clips_csv: str | None = None,
    media: Sequence[Any] = (),
    speaker_model: str | None = "resemblyzer",
    asr: str | None = None,
    num_speakers: int | None = None,
    out_dir: str | None = None,
) -> Iterator[tuple[str, str | None, list[list[Any]], list[str]]]:
    """Yield (status, timeline PNG, table rows, download files): once at the end, or after every utterance with
    a causal checkpoint."""
    from ..plotting import plot_emotion_timeline
    from ..processing import MCNCLMediaError
    from .commands import segment_and_transcribe, with_times
    from .conversation import recording_conversation
    from .subtitles import write_subtitles

    out_dir = out_dir or tempfile.mkdtemp(prefix="mcn-cl-app-")
    config = classifier.model.config
    label_names = [config.id2label[k] for k in sorted(config.id2label)]
    try:
        if recording:
            seg = segment_and_transcribe(
                recording,
                num_speakers=num_speakers,
                max_speakers=config.max_speakers,
                speaker_model=speaker_model,
                asr=asr,
            )
            notes = " ".join(seg.warnings)
            conversation = recording_conversation(recording, seg.utterances)
        elif clips_csv:
            conversation, notes = _read_clips(clips_csv, media), ""
        else:
            yield "Upload a recording or a clips CSV.", None, [], []
            return
    except (MCNCLMediaError, ValueError) as err:
        yield f"Error: {err}", None, [], []
        return
    utterances = conversation["utterances"]
    if not utterances:
        yield f"No utterances. {notes}".strip(), None, [], []
        return
    name = conversation["dialogue_id"]

    def outputs(predictions, done: bool):
        png = os.path.join(out_dir, f"{name}_timeline.png")
        plot_emotion_timeline(
            predictions, path=png, title=f"Emotion timeline: {name}", label_names=label_names
        )
        files = []
        if done:
            files.append(os.path.join(out_dir, f"{name}.json"))
            with open(files[-1], "w", encoding="utf-8") as f:
                json.dump({"dialogue_id": name, "predictions": predictions}, f, indent=2, ensure_ascii=False)
            if all(u.get("start") is not None and u.get("end") is not None for u in utterances):
                files.append(write_subtitles(os.path.join(out_dir, f"{name}.srt"), utterances, predictions))
        status = f"{len(predictions)} / {len(utterances)} utterances" + (f". {notes}" if notes else "")
        return status, png, table_rows(predictions), files

    try:
        if getattr(config, "causal", False):
            from ..streaming import MCNCLStreamingSession

            session = MCNCLStreamingSession(classifier.model, classifier.processor, on_error="mask")
            predictions = []
            for i, u in enumerate(utterances):
                predictions.append(with_times([session.add(u)], [u])[0])
                yield outputs(predictions, i == len(utterances) - 1)
        else:
            predictions = with_times(classifier(utterances, on_error="mask"), utterances)
            yield outputs(predictions, True)
    except (MCNCLMediaError, ValueError) as err:
        yield f"Error: {err}", None, [], []


def build_app(
    classifier,
    speaker_model: str | None = "resemblyzer",
    asr: str | None = None,
    num_speakers: int | None = None,
    example: str | None = None,
):
    """The `gradio.Blocks` page of the `"multimodal-emotion-recognition"` pipeline `classifier`.

    `example`: a recording analysed once when the page is built, whose results the page shows when it opens (a
    worked example; the screenshot script uses it)."""
    import gradio as gr

    causal = bool(getattr(classifier.model.config, "causal", False))
    shown = [None, None, None, None]
    if example:
        shown = list(list(analyse(classifier, example, None, (), speaker_model, asr, num_speakers))[-1])

    def run(recording, clips_csv, media, speakers):
        n = int(speakers) if speakers else num_speakers
        yield from analyse(
            classifier, _path(recording), _path(clips_csv), media or [], speaker_model, asr, n or None
        )

    with gr.Blocks(title="MCN-CL: emotions in a conversation") as demo:
        gr.Markdown(
            "# Emotions in a conversation\n"
            "Upload **one recording** of the whole conversation (audio or video): it is cut into utterances, "
            "the speakers are told apart"
            + (f", the words transcribed ({asr})" if asr else " (no speech recognition: text left empty)")
            + " and every utterance gets an emotion"
            + (" (causal model: results appear utterance by utterance)." if causal else ".")
            + " Or upload a clips CSV (`clip, speaker, text, audio, start, end`) with its media files."
        )
        with gr.Row():
            recording = gr.File(label="Recording (audio or video)", file_count="single", value=example)
            with gr.Column():
                clips_csv = gr.File(label="or: clips CSV", file_count="single", file_types=[".csv"])
                media = gr.File(label="its media files", file_count="multiple")
        speakers = gr.Number(label="Number of speakers (0 = find out)", value=num_speakers or 0, precision=0)
        button = gr.Button("Find the emotions", variant="primary")
        status = gr.Markdown(shown[0])
        timeline = gr.Image(shown[1], label="Emotion timeline", type="filepath")
        table = gr.Dataframe(shown[2], headers=TABLE_COLUMNS, label="Utterances", wrap=True)
        downloads = gr.File(shown[3] or None, label="Downloads (JSON, SRT)", file_count="multiple")
        button.click(
            run,
            inputs=[recording, clips_csv, media, speakers],
            outputs=[status, timeline, table, downloads],
            api_name="analyse",
        )
    return demo
