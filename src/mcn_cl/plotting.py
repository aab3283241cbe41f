# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The emotion timeline of a conversation: one lane per speaker, one bar per utterance.

```python
>>> from mcn_cl.plotting import plot_emotion_timeline

>>> predictions = classifier(conversation)  # the pipeline's (or a streaming session's) prediction dicts
>>> plot_emotion_timeline(predictions, labels=[u.get("label") for u in conversation], path="timeline.png")
```

Each utterance is a bar in its speaker's lane at its position in the conversation, coloured by the predicted
emotion, as tall as the model's confidence (the grey frame around it is confidence 1). Where the gold label is
known, a thin strip under the bar has the gold label's colour and a wrong prediction gets a black cross. Colours
are fixed per emotion name (Okabe & Ito's colour-blind-safe palette), so that a figure of MELD and one of IEMOCAP
colour joy / happiness, sadness, anger and neutral alike.

matplotlib draws on its Agg canvas (no display needed); `pyplot` is not used, so no global figure state is touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

# Okabe & Ito (2008) colour-blind-safe colours, fixed per emotion (IEMOCAP's and MELD's names and abbreviations)
EMOTION_COLORS = {
    "neutral": "#BBBBBB",
    "joy": "#E69F00",
    "happy": "#E69F00",
    "happiness": "#E69F00",
    "sadness": "#0072B2",
    "sad": "#0072B2",
    "anger": "#D55E00",
    "angry": "#D55E00",
    "surprise": "#56B4E9",
    "fear": "#000000",
    "disgust": "#009E73",
    "excited": "#F0E442",
    "excitement": "#F0E442",
    "frustrated": "#CC79A7",
    "frustration": "#CC79A7",
}
_ABBREVIATIONS = {"neu": "neutral", "hap": "happy", "ang": "anger", "exc": "excited", "fru": "frustrated"}
_ABBREVIATIONS.update({"sur": "surprise", "fea": "fear", "dis": "disgust"})
# for label names outside EMOTION_COLORS, in order of first appearance (Paul Tol's colour-blind-safe "muted")
FALLBACK_COLORS = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)

BAR_WIDTH = 0.8  # of one utterance slot
BAR_BOTTOM, BAR_HEIGHT = 0.22, 0.64  # of one lane: the bar of confidence 1 spans [0.22, 0.86]
GOLD_BOTTOM, GOLD_HEIGHT = 0.06, 0.1  # the gold strip under the bar
LEFT_IN, BOTTOM_IN, TOP_IN = (
    1.3,
    1.25,
    0.45,
)  # margins in inches: speaker names, x axis + legend + note, title
MIN_WIDTH, MAX_WIDTH = 8.0, 24.0  # inches


def emotion_colors(label_names: Sequence[str]) -> dict[str, str]:
    """The colour of each label: its fixed colour when the name (or its IEMOCAP abbreviation, any case) is a known
    emotion, else the next unused colour of `FALLBACK_COLORS`, in the order given."""
    colors, fallback = {}, iter(FALLBACK_COLORS * (1 + len(label_names) // len(FALLBACK_COLORS)))
    for name in label_names:
        key = str(name).lower()
        key = _ABBREVIATIONS.get(key, key)
        colors[name] = EMOTION_COLORS[key] if key in EMOTION_COLORS else next(fallback)
    return colors


def _label_name(label: Any, label_names: Sequence[str] | None) -> str | None:
    """A gold label as a name: names stay, ids index `label_names`, None / negative ids are unknown."""
    if label is None or (isinstance(label, str) and not label):
        return None
    if isinstance(label, str):
        return label
    if int(label) < 0:
        return None
    if label_names is None:
        raise ValueError(f"gold label {label!r} is an id: pass label_names to name it")
    return label_names[int(label)]


def plot_emotion_timeline(
    predictions: Sequence[Mapping[str, Any]],
    labels: Sequence[Any] | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    label_names: Sequence[str] | None = None,
    dpi: int = 100,
):
    """Draw the emotion timeline of one conversation.

    Args:
        predictions: one dict per utterance, in order, with `speaker`, `label` and `score` (the output of the
            `"multimodal-emotion-recognition"` pipeline for one conversation, or of
            [`MCNCLStreamingSession.add`]); `utterance` (default: the position) and `scores` are used if present.
        labels: the gold labels, one per prediction (names, or ids with `label_names`; `None` or -1 where
            unknown). Default: none known.
        path: write the figure there as a PNG (the folder is created).
        title: the figure's title (default: "Emotion timeline").
        label_names: every label of the model, in id order: the legend lists them all and ids in `labels` are
            named with them. Default: the labels that occur, in the order of the first prediction's `scores`.
        dpi: pixels per inch of the PNG; the figure is `max(8, 1.8 + 0.32 N)` (at most 24) inches wide and
            `1.7 + 0.75 S` inches high for N utterances and S speakers (with room for the legend below).

    Returns:
        The `matplotlib.figure.Figure` (one axes: lanes = speakers on the y axis, utterance index on the x axis).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    if len(predictions) == 0:
        raise ValueError("plot_emotion_timeline: no prediction to draw")
    if labels is not None and len(labels) != len(predictions):
        raise ValueError(
            f"plot_emotion_timeline: {len(labels)} gold labels for {len(predictions)} predictions"
        )
    gold = [_label_name(g, label_names) for g in labels] if labels is not None else [None] * len(predictions)

    speakers: list[str] = []
    for p in predictions:
        name = str(p.get("speaker")) if p.get("speaker") not in (None, "") else "(no speaker)"
        if name not in speakers:
            speakers.append(name)
    if label_names is not None:
        names = [str(n) for n in label_names]
    else:
        names = list(predictions[0].get("scores") or [])
    for name in [p["label"] for p in predictions] + [g for g in gold if g is not None]:
        if name not in names:
            names.append(name)
    colors = emotion_colors(names)

    n = len(predictions)
    width = min(MAX_WIDTH, max(MIN_WIDTH, 1.8 + 0.32 * n))
    height = BOTTOM_IN + TOP_IN + 0.75 * len(speakers)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(
        (LEFT_IN / width, BOTTOM_IN / height, 1 - (LEFT_IN + 0.25) / width, 1 - (BOTTOM_IN + TOP_IN) / height)
    )
    lane = {s: len(speakers) - 1 - k for k, s in enumerate(speakers)}  # first speaker on top
    wrong = []
    for k, (p, g) in enumerate(zip(predictions, gold)):
        x = int(p.get("utterance", k))
        speaker = str(p.get("speaker")) if p.get("speaker") not in (None, "") else "(no speaker)"
        y = lane[speaker]
        left = x - BAR_WIDTH / 2
        frame = Rectangle(
            (left, y + BAR_BOTTOM), BAR_WIDTH, BAR_HEIGHT, fill=False, edgecolor="#DDDDDD", lw=0.8
        )
        ax.add_patch(frame)
        bar = Rectangle(
            (left, y + BAR_BOTTOM),
            BAR_WIDTH,
            BAR_HEIGHT * float(p["score"]),
            facecolor=colors[p["label"]],
            edgecolor="#333333",
            lw=0.4,
        )
        bar.set_gid(f"prediction-{x}")
        ax.add_patch(bar)
        if g is not None:
            strip = Rectangle(
                (left, y + GOLD_BOTTOM),
                BAR_WIDTH,
                GOLD_HEIGHT,
                facecolor=colors[g],
                edgecolor="#333333",
                lw=0.4,
            )
            strip.set_gid(f"gold-{x}")
            ax.add_patch(strip)
            if g != p["label"]:
                wrong.append((x, y + BAR_BOTTOM + BAR_HEIGHT + 0.06))
    if wrong:
        xs, ys = zip(*wrong)
        ax.plot(xs, ys, linestyle="none", marker="x", color="black", markersize=5, mew=1.2, gid="wrong")

    xs = [int(p.get("utterance", k)) for k, p in enumerate(predictions)]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(0, len(speakers))
    ax.set_yticks([lane[s] + 0.5 for s in speakers], speakers)
    for y in range(1, len(speakers)):
        ax.axhline(y, color="#999999", lw=0.6)
    step = max(1, -(-n // 40))  # at most ~40 tick labels
    ax.set_xticks(range(min(xs), max(xs) + 1, step))
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or "Emotion timeline", loc="left", fontsize=11)

    used = [name for name in names if name in {p["label"] for p in predictions} | set(gold)]
    handles = [Patch(facecolor=colors[name], edgecolor="#333333", lw=0.4, label=name) for name in used]
    if wrong:
        handles.append(
            Line2D([], [], linestyle="none", marker="x", color="black", label="wrong (gold differs)")
        )
    note = "bar height = confidence" + ("; strip under the bar = gold label" if any(gold) else "")
    ax.set_xlabel("utterance")
    fig.text(LEFT_IN / width, 0.08 / height, note, fontsize=8, color="#555555", gid="note")
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(LEFT_IN / width - 0.01, 0.26 / height),
        ncol=min(len(handles), max(1, int((width - LEFT_IN) // 1.3))),
        frameon=False,
        fontsize=8,
        handlelength=1.2,
        columnspacing=1.2,
    )
    if path is not None:
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, format="png")
    return fig


__all__ = ["EMOTION_COLORS", "emotion_colors", "plot_emotion_timeline"]
