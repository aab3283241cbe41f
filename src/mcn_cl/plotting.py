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
Caller strings (speaker names, the title, label names) are drawn literally: no mathtext, no TeX, whatever the
rcParams say, so `video$_$clip` shows as written. Their font is the rcParams font followed by the installed fonts
of `FALLBACK_FONTS` (CJK and other scripts, glyph by glyph); characters that no installed font has are named in
one warning and drawn as boxes. The prediction dicts and gold labels are checked first: a bad one is an
`MCNCLInputError` naming the prediction and the field.
"""

from __future__ import annotations

import math
import os
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from transformers.utils import logging

from .processing import MCNCLInputError

logger = logging.get_logger(__name__)

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

# Fonts tried after the rcParams font for the glyphs it lacks, those installed only (matplotlib >= 3.6 falls back
# glyph by glyph along a family list): CJK first, then other scripts, then STIX (ships with matplotlib; symbols)
FALLBACK_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "Yu Gothic",
    "Malgun Gothic",
    "PingFang SC",
    "Hiragino Sans",
    "Apple SD Gothic Neo",
    "Noto Sans",
    "Noto Sans Devanagari",
    "Noto Sans Bengali",
    "Noto Sans Tamil",
    "Noto Sans Thai",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "FreeSans",
    "Nirmala UI",
    "Leelawadee UI",
    "Arial Unicode MS",
    "STIXGeneral",
)
MAX_UTTERANCE = 2**31 - 1  # utterance indices above it are refused (far beyond any conversation)
MAX_DPI = 1000
MAX_SPEAKERS = 100  # lanes; more are refused (the figure would be over 77 inches high)
MAX_NAME_CHARS, MAX_TITLE_CHARS = 40, 160  # longer speaker / label names and titles are cut with "…"
MAX_PIXELS = 2**16  # per side of the PNG: Agg's limit
BAR_WIDTH = 0.8  # of one utterance slot
BAR_BOTTOM, BAR_HEIGHT = 0.22, 0.64  # of one lane: the bar of confidence 1 spans [0.22, 0.86]
GOLD_BOTTOM, GOLD_HEIGHT = 0.06, 0.1  # the gold strip under the bar
LEFT_IN, BOTTOM_IN, TOP_IN = (
    1.3,
    1.25,
    0.45,
)  # margins in inches: speaker names (wider if a name needs it), x axis + legend + note, title
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


def _input_error(where: str, field: str | None, reason: str, utterance: int | None = None) -> MCNCLInputError:
    """An `MCNCLInputError` whose message names the prediction (or gold label) and the field."""
    error = MCNCLInputError(f"plot_emotion_timeline: {where}: {field + ': ' if field else ''}{reason}")
    error.reason, error.field, error.utterance = reason, field, utterance
    return error


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _probability(value: Any) -> float | None:
    """`value` as a probability in [0, 1] (1e-6 of rounding tolerated, then clipped), or None if it is not one."""
    if not _is_number(value) or not math.isfinite(float(value)) or not -1e-6 <= float(value) <= 1 + 1e-6:
        return None
    return min(1.0, max(0.0, float(value)))


def _check_prediction(k: int, p: Any, seen: dict[int, int]) -> tuple[int, str, str, float]:
    """(utterance, speaker, label, score) of prediction `k`, or an `MCNCLInputError` naming it and the field."""
    where = f"prediction {k}"
    if not isinstance(p, Mapping):
        raise _input_error(where, None, f"{type(p).__name__} {p!r:.60} is not a dict")
    x = p.get("utterance")
    if x is None:
        x = k
    elif not (
        _is_number(x) and math.isfinite(float(x)) and float(x).is_integer() and 0 <= x <= MAX_UTTERANCE
    ):
        raise _input_error(
            where, "utterance", f"{x!r:.60} is not an utterance index (an integer in [0, 2**31))"
        )
    x = int(x)
    if x in seen:
        raise _input_error(where, "utterance", f"{x} is also the utterance of prediction {seen[x]}", x)
    seen[x] = k
    for field in ("label", "score"):
        if field not in p:
            raise _input_error(where, field, "missing (each prediction needs a label and its score)", x)
    label = p["label"]
    if not isinstance(label, str) or not label:
        raise _input_error(where, "label", f"{label!r:.60} is not a label name (a non-empty string)", x)
    score = _probability(p["score"])
    if score is None:
        raise _input_error(where, "score", f"{p['score']!r:.60} is not a probability in [0, 1]", x)
    scores = p.get("scores")
    if scores is not None:
        if not isinstance(scores, Mapping):
            raise _input_error(
                where, "scores", f"a {type(scores).__name__}, not a dict label: probability", x
            )
        for name, value in scores.items():
            if not isinstance(name, str) or _probability(value) is None:
                raise _input_error(
                    where, "scores", f"{name!r:.40}: {value!r:.40} is not a probability in [0, 1]", x
                )
    speaker = p.get("speaker")
    return x, (str(speaker) if speaker not in (None, "") else "(no speaker)"), label, score


def _label_name(k: int, label: Any, label_names: Sequence[str] | None) -> str | None:
    """Gold label `k` as a name: names stay, ids index `label_names`, None / negative ids are unknown."""
    if label is None or (isinstance(label, str) and not label):
        return None
    if isinstance(label, str):
        return label
    where = f"labels[{k}]"
    if not (_is_number(label) and math.isfinite(float(label)) and float(label).is_integer()):
        raise _input_error(where, None, f"{label!r:.60} is not a label name or an integer id")
    if label < 0:
        return None
    if label_names is None:
        raise _input_error(where, None, f"gold label {label!r} is an id: pass label_names to name it")
    if label >= len(label_names):
        raise _input_error(where, None, f"no label {int(label)} among the {len(label_names)} label_names")
    return label_names[int(label)]


def _shorten(text: str, limit: int) -> str:
    """`text` as drawn: control characters but newlines as spaces (fonts have no glyph for them), cut to `limit`
    characters with "…" (a long name would cost seconds per 10,000 characters)."""
    text = "".join(" " if c != "\n" and unicodedata.category(c) == "Cc" else c for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@lru_cache(maxsize=64)
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.font_manager import get_font

    return frozenset(get_font(path).get_charmap())


def _font_families(texts: Sequence[str]) -> tuple[list[str], str]:
    """The family list the texts are drawn with (the rcParams family, then the installed `FALLBACK_FONTS`) and
    the characters of `texts` that none of them has (`""` when every one is covered)."""
    import matplotlib
    from matplotlib.font_manager import FontProperties, findfont, fontManager

    installed = {entry.name for entry in fontManager.ttflist}
    families = list(matplotlib.rcParams["font.family"])
    families += [name for name in FALLBACK_FONTS if name in installed and name not in families]
    wanted, covered = {c for text in texts for c in text if c != "\n"}, set()
    for family in families:
        if wanted <= covered:
            break
        try:
            path = findfont(FontProperties(family=[family]), fallback_to_default=False)
        except ValueError:  # a family of the rcParams that is not installed (matplotlib warns about it)
            continue
        covered |= {c for c in wanted if ord(c) in _charmap(path)}
    missing = "".join(sorted(wanted - covered))
    return families, missing


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
        predictions: one dict per utterance, in order, with `speaker`, `label` (a name) and `score` (a probability
            in [0, 1]): the output of the `"multimodal-emotion-recognition"` pipeline for one conversation, or of
            [`MCNCLStreamingSession.add`]. `utterance` (a distinct index >= 0; default: the position) and
            `scores` (label name: probability) are used if present.
        labels: the gold labels, one per prediction (names, or ids with `label_names`; `None` or -1 where
            unknown). Default: none known.
        path: write the figure there as a PNG (the folder is created).
        title: the figure's title (default: "Emotion timeline").
        label_names: every label of the model, in id order: ids in `labels` are named with them and the legend
            lists the labels that occur in this order. Default: the order of the first prediction's `scores`.
        dpi: pixels per inch of the PNG (1 to 1000); the figure is `max(8, 1.8 + 0.32 N)` (at most 24) inches
            wide (plus what speaker names wider than 1.1 inches need) and `1.7 + 0.75 S` inches high for N
            utterances and S speakers (with room for the legend below).

    The x axis is the utterance index. Where the indices are far apart (more than half of the slots between the
    first and the last would be empty), the bars are placed side by side instead, each above a tick naming its
    index, and a dotted line marks each place where indices are skipped; at most 40 ticks either way.

    Returns:
        The `matplotlib.figure.Figure` (one axes: lanes = speakers on the y axis, utterances on the x axis).

    Raises:
        MCNCLInputError: a prediction that is not a dict, lacks `label` or `score`, or has a value that cannot be
            drawn (a score that is not a number in [0, 1], a repeated or negative utterance index, ...), named as
            `"prediction 3: score: ..."`; a gold label that is neither a name nor an id of `label_names`
            (`"labels[3]: ..."`); no prediction; a number of gold labels other than of predictions; a dpi outside
            [1, 1000].
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.text import Text
    from matplotlib.ticker import MaxNLocator

    if isinstance(predictions, str | bytes | Mapping) or not isinstance(predictions, Sequence):
        raise MCNCLInputError(
            f"plot_emotion_timeline: predictions: a {type(predictions).__name__}, not a list of prediction dicts"
        )
    if len(predictions) == 0:
        raise MCNCLInputError("plot_emotion_timeline: no prediction to draw")
    for name, value in (("labels", labels), ("label_names", label_names)):
        if value is not None and (isinstance(value, str | bytes | Mapping) or not hasattr(value, "__len__")):
            raise MCNCLInputError(f"plot_emotion_timeline: {name}: a {type(value).__name__}, not a list")
    if labels is not None and len(labels) != len(predictions):
        raise MCNCLInputError(
            f"plot_emotion_timeline: {len(labels)} gold labels for {len(predictions)} predictions"
        )
    if not _is_number(dpi) or not 1 <= dpi <= MAX_DPI:
        raise MCNCLInputError(f"plot_emotion_timeline: dpi: {dpi!r:.40} is not a number in [1, {MAX_DPI}]")
    seen: dict[int, int] = {}
    rows = [_check_prediction(k, p, seen) for k, p in enumerate(predictions)]
    if label_names is not None:
        label_names = [str(n) for n in label_names]
    gold = (
        [_label_name(k, g, label_names) for k, g in enumerate(labels)]
        if labels is not None
        else [None] * len(predictions)
    )

    speakers = list(dict.fromkeys(speaker for _, speaker, _, _ in rows))
    if len(speakers) > MAX_SPEAKERS:
        raise MCNCLInputError(
            f"plot_emotion_timeline: {len(speakers)} speakers: at most {MAX_SPEAKERS} lanes can be drawn"
        )
    if label_names is not None:
        names = list(label_names)
    else:
        names = list(predictions[0].get("scores") or [])
    for name in [label for *_, label, _ in rows] + [g for g in gold if g is not None]:
        if name not in names:
            names.append(name)
    colors = emotion_colors(names)
    used = [name for name in names if name in {label for *_, label, _ in rows} | set(gold)]
    title = _shorten(str(title), MAX_TITLE_CHARS) if title is not None else "Emotion timeline"
    shown = {s: _shorten(s, MAX_NAME_CHARS) for s in speakers} | {
        s: _shorten(s, MAX_NAME_CHARS) for s in used
    }

    # every caller string is drawn literally, in the font list that covers the most of it
    families, missing = _font_families([*shown.values(), title])
    if missing:
        characters = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:20])
        logger.warning(
            "plot_emotion_timeline: no installed font has %d character(s) of the speaker names, title or labels: "
            "%s%s; they are drawn as empty boxes (install a font that has them, e.g. Noto Sans CJK, or name it "
            "first in matplotlib's rcParams['font.family'])",
            len(missing),
            characters,
            ", ..." if len(missing) > 20 else "",
        )
    literal = {"text.usetex": False, "text.parse_math": False, "font.family": families}

    with matplotlib.rc_context(literal), warnings.catch_warnings():
        if missing:  # named once above, not once per glyph
            warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
        n = len(rows)
        # the left margin fits the widest speaker name; the axes keep their width
        font = FontProperties(family=families, size=matplotlib.rcParams["ytick.labelsize"])
        measure = RendererAgg(1, 1, dpi).get_text_width_height_descent
        lines = [line for s in speakers for line in shown[s].split("\n")]
        names_in = max(measure(line, font, ismath=False)[0] for line in lines) / dpi
        left_in = max(LEFT_IN, names_in + 0.2)
        width = min(MAX_WIDTH, max(MIN_WIDTH, 1.8 + 0.32 * n)) + left_in - LEFT_IN
        height = BOTTOM_IN + TOP_IN + 0.75 * len(speakers)
        if max(width, height) * dpi > MAX_PIXELS:
            raise MCNCLInputError(
                f"plot_emotion_timeline: dpi: {dpi} makes the {width:.1f} x {height:.1f} inch figure of "
                f"{len(speakers)} speakers wider or higher than {MAX_PIXELS} pixels"
            )
        fig = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(fig)
        axes_width = width - left_in - 0.25
        ax = fig.add_axes(
            (left_in / width, BOTTOM_IN / height, axes_width / width, 1 - (BOTTOM_IN + TOP_IN) / height)
        )
        lane = {s: len(speakers) - 1 - k for k, s in enumerate(speakers)}  # first speaker on top
        # x position of each utterance: its index, or, where over half the slots would be empty (indices far apart),
        # its rank, with a dotted line where indices are skipped: the bars stay visible and the cost is O(N)
        present = sorted(x for x, *_ in rows)
        compressed = present[-1] - present[0] + 1 > 2 * n
        rank = {x: r for r, x in enumerate(present)}
        position = rank.__getitem__ if compressed else int
        wrong = []
        for (x, speaker, label, score), g in zip(rows, gold):
            y = lane[speaker]
            left = position(x) - BAR_WIDTH / 2
            frame = Rectangle(
                (left, y + BAR_BOTTOM), BAR_WIDTH, BAR_HEIGHT, fill=False, edgecolor="#DDDDDD", lw=0.8
            )
            ax.add_patch(frame)
            bar = Rectangle(
                (left, y + BAR_BOTTOM),
                BAR_WIDTH,
                BAR_HEIGHT * score,
                facecolor=colors[label],
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
                if g != label:
                    wrong.append((position(x), y + BAR_BOTTOM + BAR_HEIGHT + 0.06))
        if wrong:
            xs, ys = zip(*wrong)
            ax.plot(xs, ys, linestyle="none", marker="x", color="black", markersize=5, mew=1.2, gid="wrong")

        lo, hi = position(present[0]) - 0.6, position(present[-1]) + 0.6
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, len(speakers))
        ax.set_yticks([lane[s] + 0.5 for s in speakers], [shown[s] for s in speakers])
        for y in range(1, len(speakers)):
            ax.axhline(y, color="#999999", lw=0.6)
        # integer ticks, as many as labels of that many digits fit (at most 40): bounded whatever the indices
        nbins = max(1, min(40, int(axes_width / (0.15 + 0.085 * len(str(present[-1]))))))
        if compressed:
            ticked = present[:: -(-n // nbins)]
            ax.set_xticks([rank[x] for x in ticked], [str(x) for x in ticked])
            for a, b in zip(present, present[1:]):
                if b > a + 1:
                    ax.axvline(rank[a] + 0.5, color="#777777", ls=":", lw=1.0, gid=f"gap-{a}-{b}")
        else:
            locator = MaxNLocator(nbins=nbins, integer=True, steps=[1, 2, 5, 10])
            ticks = [int(t) for t in locator.tick_values(lo, hi) if lo <= t <= hi and float(t).is_integer()]
            ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_title(title, loc="left", fontsize=11)

        handles = [
            Patch(facecolor=colors[name], edgecolor="#333333", lw=0.4, label=shown[name]) for name in used
        ]
        if wrong:
            handles.append(
                Line2D([], [], linestyle="none", marker="x", color="black", label="wrong (gold differs)")
            )
        note = "bar height = confidence" + ("; strip under the bar = gold label" if any(gold) else "")
        if compressed:
            note += "; dotted line = utterance indices skipped"
        ax.set_xlabel("utterance")
        fig.text(left_in / width, 0.08 / height, note, fontsize=8, color="#555555", gid="note")
        fig.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(left_in / width - 0.01, 0.26 / height),
            ncol=min(len(handles), max(1, int((width - left_in) // 1.3))),
            frameon=False,
            fontsize=8,
            handlelength=1.2,
            columnspacing=1.2,
        )
        for text in fig.findobj(Text):  # per element too, so that drawing the figure later stays literal
            text.set_usetex(False)
            text.set_parse_math(False)
            text.set_fontfamily(families)
        if path is not None:
            path = os.fspath(path)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            fig.savefig(path, format="png")
    return fig


__all__ = ["EMOTION_COLORS", "emotion_colors", "plot_emotion_timeline"]
