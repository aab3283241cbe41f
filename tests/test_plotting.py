"""Tests of the emotion timeline (issue 12, item 4): `mcn_cl.plotting` and `mcn-cl predict --plot`."""

from __future__ import annotations

import json
import os
import struct

import pytest
from matplotlib.colors import to_rgba

from mcn_cl import plot_emotion_timeline
from mcn_cl.cli import CLIError, _plot, main
from mcn_cl.plotting import EMOTION_COLORS, FALLBACK_COLORS, emotion_colors

pytest_plugins = ["_fixtures_pipeline"]

LABELS = ["neutral", "joy", "sadness", "anger"]


def _predictions():
    """Five utterances of three speakers (Ben speaks first), with their gold labels (one unknown, one wrong)."""
    rows = [
        ("Ben", "joy", 0.9, "joy"),
        ("Ann", "sadness", 0.5, "anger"),
        ("Ben", "joy", 0.7, None),
        ("Cleo", "neutral", 0.3, "neutral"),
        ("Ann", "anger", 1.0, "anger"),
    ]
    predictions = [
        {"utterance": i, "speaker": s, "label": label, "score": score, "scores": {n: 0.25 for n in LABELS}}
        for i, (s, label, score, _) in enumerate(rows)
    ]
    return predictions, [g for *_, g in rows]


def _png_size(path) -> tuple[int, int]:
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _patches(fig, prefix: str) -> dict[int, object]:
    ax = fig.axes[0]
    return {int(p.get_gid().split("-")[1]): p for p in ax.patches if (p.get_gid() or "").startswith(prefix)}


def test_timeline_is_written_as_a_png_of_the_figure_size(tmp_path):
    predictions, gold = _predictions()
    path = tmp_path / "plots" / "timeline.png"
    fig = plot_emotion_timeline(predictions, gold, path=path, dpi=50)
    width, height = fig.get_size_inches()
    assert _png_size(path) == (int(width * 50), int(height * 50))
    assert width == 8.0  # the minimum width; one more lane is 0.75 inch higher
    three_lanes = height
    fig = plot_emotion_timeline(predictions[:2], dpi=50)
    assert fig.get_size_inches()[1] == pytest.approx(three_lanes - 0.75)


def test_one_lane_per_speaker_in_order_of_appearance(tmp_path):
    predictions, _ = _predictions()
    fig = plot_emotion_timeline(predictions, title="demo014")
    ax = fig.axes[0]
    lanes = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())), reverse=True)
    assert [name for _, name in lanes] == ["Ben", "Ann", "Cleo"]  # top to bottom
    bars = _patches(fig, "prediction-")
    assert sorted(bars) == [0, 1, 2, 3, 4]
    lane_of = {name: int(y) for y, name in lanes}
    for i, p in enumerate(predictions):  # each bar inside its speaker's lane, at its position
        assert int(bars[i].get_y()) == lane_of[p["speaker"]]
        assert bars[i].get_x() + bars[i].get_width() / 2 == pytest.approx(i)
    assert ax.get_title(loc="left") == "demo014"


def test_bars_are_coloured_by_emotion_and_as_tall_as_the_confidence():
    predictions, _ = _predictions()
    bars = _patches(plot_emotion_timeline(predictions), "prediction-")
    for i, p in enumerate(predictions):
        assert bars[i].get_facecolor() == to_rgba(EMOTION_COLORS[p["label"]])
    assert bars[0].get_height() / bars[4].get_height() == pytest.approx(0.9)
    assert bars[3].get_height() / bars[4].get_height() == pytest.approx(0.3)
    colours = {bars[i].get_facecolor() for i in range(5)}
    assert len(colours) == 4  # four emotions, four colours


def test_gold_labels_show_as_strips_and_wrong_predictions_are_marked():
    predictions, gold = _predictions()
    fig = plot_emotion_timeline(predictions, gold)
    strips = _patches(fig, "gold-")
    assert sorted(strips) == [0, 1, 3, 4]  # utterance 2 has no gold label
    assert strips[1].get_facecolor() == to_rgba(EMOTION_COLORS["anger"])
    (wrong,) = [line for line in fig.axes[0].lines if line.get_gid() == "wrong"]
    assert list(wrong.get_xdata()) == [1]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:4] == LABELS and "wrong (gold differs)" in legend
    assert not _patches(plot_emotion_timeline(predictions), "gold-")


def test_gold_ids_are_named_with_label_names_and_unknown_names_get_distinct_colours():
    predictions, _ = _predictions()
    fig = plot_emotion_timeline(predictions, [1, 3, -1, 0, 3], label_names=LABELS)
    assert _patches(fig, "gold-")[1].get_facecolor() == to_rgba(EMOTION_COLORS["anger"])
    with pytest.raises(ValueError, match="label_names"):
        plot_emotion_timeline(predictions, [1, 3, -1, 0, 3])
    with pytest.raises(ValueError, match="3 gold labels for 5 predictions"):
        plot_emotion_timeline(predictions, [1, 3, 0], label_names=LABELS)
    with pytest.raises(ValueError, match="no prediction"):
        plot_emotion_timeline([])
    colours = emotion_colors(["Hap", "calm", "bored", "fru"])
    assert colours["Hap"] == EMOTION_COLORS["happy"] and colours["fru"] == EMOTION_COLORS["frustrated"]
    assert colours["calm"] == FALLBACK_COLORS[0] and colours["bored"] == FALLBACK_COLORS[1]


def test_predict_plot_writes_one_timeline_per_conversation(checkpoint, demo_corpus, tmp_path, capsys):
    corpus, _ = demo_corpus
    manifest = json.load(open(os.path.join(corpus, "manifest.json")))
    both = manifest["splits"]["train"][:2]
    two = tmp_path / "two.json"
    two.write_text(
        json.dumps(both).replace('"audio/', f'"{corpus}/audio/').replace('"video/', f'"{corpus}/video/')
    )
    png = tmp_path / "timeline.png"
    assert main(["predict", "--model", checkpoint, "--conversation", str(two), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    for d in both:
        path = tmp_path / f"timeline_{d['dialogue_id']}.png"
        assert f"timeline written to {path}" in out
        assert _png_size(path)[0] == 800  # 8 inches at 100 dpi


def test_one_conversation_is_plotted_to_the_given_path_with_its_gold_labels(tmp_path, capsys):
    predictions, gold = _predictions()
    conversation = {"dialogue_id": "d1", "utterances": [{"label": g} for g in gold]}
    png = tmp_path / "one.png"
    assert _plot(str(png), [conversation], [predictions], dict(enumerate(LABELS)), online=True) == [str(png)]
    assert png.is_file() and f"timeline written to {png}" in capsys.readouterr().out
    bad = {"dialogue_id": "d1", "utterances": [{"label": 9}] * 5}
    with pytest.raises(CLIError, match="--plot"):
        _plot(str(png), [bad], [predictions], dict(enumerate(LABELS)), online=True)
