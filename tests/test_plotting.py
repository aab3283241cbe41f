"""Tests of the emotion timeline (issue 12, item 4): `mcn_cl.plotting` and `mcn-cl predict --plot`."""

from __future__ import annotations

import json
import logging
import os
import struct

import pytest
from matplotlib.colors import to_rgba

from mcn_cl import plot_emotion_timeline
from mcn_cl.cli import CLIError, _plot, main
from mcn_cl.plotting import BAR_WIDTH, EMOTION_COLORS, FALLBACK_COLORS, emotion_colors

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


# ------------------------------------------------------------------------------------- hostile input (issue 18)


def _user_texts(fig):
    """The Text objects that show caller-given strings: lane names, title, legend entries."""
    ax = fig.axes[0]
    return list(ax.get_yticklabels()) + [ax.title, ax._left_title] + list(fig.legends[0].get_texts())


def test_dollar_signs_in_names_are_drawn_literally_not_as_mathtext(tmp_path):
    import matplotlib

    speakers = ["video$_$clip", "$x$", "a$b", "\\$"]
    predictions = [
        {"utterance": i, "speaker": s, "label": label, "score": 0.5}
        for i, (s, label) in enumerate(zip(speakers, ["joy", "$joy$", "joy", "anger"]))
    ]
    png = tmp_path / "dollar.png"
    fig = plot_emotion_timeline(predictions, path=png, title="conversation video$_$clip")
    assert png.is_file()
    with matplotlib.rc_context({"text.usetex": True}):  # a user's TeX setting must not apply either
        plot_emotion_timeline(predictions, path=tmp_path / "tex.png", title="conversation video$_$clip")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][::-1] == speakers[::-1]
    assert ax.get_title(loc="left") == "conversation video$_$clip"
    assert "$joy$" in [t.get_text() for t in fig.legends[0].get_texts()]
    for text in _user_texts(fig):
        assert not text.get_parse_math() and not text.get_usetex(), text.get_text()
    fig.canvas.draw()  # drawing the returned figure again (default rcParams) does not raise either
    # literal: "$x$" is three glyphs wide, wider than the italic x mathtext would draw
    renderer = fig.canvas.get_renderer()
    (dollar_x,) = [t for t in ax.get_yticklabels() if t.get_text() == "$x$"]
    assert dollar_x.get_window_extent(renderer).width > 2 * fig.dpi * 10 / 72 * 0.5


def test_names_in_scripts_the_default_font_lacks_warn_once_naming_the_characters(
    tmp_path, monkeypatch, caplog
):
    import warnings

    import mcn_cl.plotting as plotting

    predictions = [
        {"utterance": 0, "speaker": "王小明", "label": "joy", "score": 0.5},
        {"utterance": 1, "speaker": "Ελένη", "label": "joy", "score": 0.5},  # Greek: DejaVu Sans has it
    ]
    monkeypatch.setattr(plotting, "FALLBACK_FONTS", ())  # no fallback font: as on a machine without CJK fonts
    png = tmp_path / "cjk.png"
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's own one-warning-per-glyph does not escape
        fig = plot_emotion_timeline(predictions, path=png, title="対話 1")
    assert png.is_file()
    (record,) = [r for r in caplog.records if r.name == "mcn_cl.plotting"]
    message = record.getMessage()
    for char in "王小明対話":
        assert char in message
    assert "Ε" not in message and "no installed font" in message
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][::-1] == ["Ελένη", "王小明"]


def test_an_installed_fallback_font_draws_what_the_first_font_lacks(tmp_path, monkeypatch, caplog):
    import warnings

    import mcn_cl.plotting as plotting

    # STIXGeneral ships with matplotlib and has the script g (U+210A) that DejaVu Sans lacks
    monkeypatch.setattr(plotting, "FALLBACK_FONTS", ("No Such Font", "STIXGeneral"))
    predictions = [{"utterance": 0, "speaker": "\u210aus", "label": "joy", "score": 0.5}]
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_emotion_timeline(predictions, path=tmp_path / "stix.png")
    assert not [r for r in caplog.records if r.name == "mcn_cl.plotting"]
    (name,) = fig.axes[0].get_yticklabels()
    assert name.get_fontfamily()[-1] == "STIXGeneral" and "No Such Font" not in name.get_fontfamily()


def test_default_fonts_draw_cjk_names_or_warn_and_draw_anyway(tmp_path, caplog):
    import warnings

    predictions = [{"utterance": 0, "speaker": "김민수", "label": "joy", "score": 0.5}]
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_emotion_timeline(predictions, path=tmp_path / "kr.png")
    assert (tmp_path / "kr.png").is_file()
    assert len([r for r in caplog.records if r.name == "mcn_cl.plotting"]) <= 1


def _x_ticks(fig) -> dict[str, float]:
    """Tick label -> x position, for the ticks inside the x range."""
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    return {
        t.get_text(): t.get_position()[0] for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi
    }


def test_x_ticks_are_bounded_however_far_apart_the_utterances_are(tmp_path):
    for far in (20_000, 2_000_000):
        predictions = [
            {"utterance": 0, "speaker": "Ann", "label": "joy", "score": 0.5},
            {"utterance": 1, "speaker": "Ann", "label": "joy", "score": 0.5},
            {"utterance": far, "speaker": "Ben", "label": "anger", "score": 0.9},
        ]
        fig = plot_emotion_timeline(predictions)
        ticks = _x_ticks(fig)
        assert len(fig.axes[0].xaxis.get_major_ticks()) <= 41
        assert list(ticks) == ["0", "1", str(far)]  # the indices present; the gap is a dotted line
        bars = _patches(fig, "prediction-")
        assert sorted(bars) == [0, 1, far]
        for x, bar in bars.items():  # each bar above its index's tick, one slot wide
            assert bar.get_x() + bar.get_width() / 2 == pytest.approx(ticks[str(x)])
        gaps = [line.get_gid() for line in fig.axes[0].lines if (line.get_gid() or "").startswith("gap-")]
        assert gaps == [f"gap-1-{far}"]
        note = [t for t in fig.texts if t.get_gid() == "note"][0].get_text()
        assert "skipped" in note
    plot_emotion_timeline(predictions, path=tmp_path / "gap.png")
    # many utterances far apart: the ticks stay bounded
    spread = [{"utterance": 1000 * i, "speaker": "Ann", "label": "joy", "score": 0.5} for i in range(300)]
    fig = plot_emotion_timeline(spread)
    assert 2 <= len(_x_ticks(fig)) <= 41 and len(fig.axes[0].xaxis.get_major_ticks()) <= 41
    # a contiguous conversation keeps one tick per utterance; a small gap stays an empty slot at its index
    predictions, _ = _predictions()
    assert list(_x_ticks(plot_emotion_timeline(predictions))) == ["0", "1", "2", "3", "4"]
    del predictions[2]
    fig = plot_emotion_timeline(predictions)
    assert _patches(fig, "prediction-")[4].get_x() + BAR_WIDTH / 2 == pytest.approx(4)
    assert not [line for line in fig.axes[0].lines if (line.get_gid() or "").startswith("gap-")]


_GOOD = {"utterance": 1, "speaker": "Ann", "label": "joy", "score": 0.5, "scores": {"joy": 0.5, "anger": 0.5}}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"score": float("nan")}, "score"),
        ({"score": 5}, "score"),
        ({"score": -1}, "score"),
        ({"score": "0.5"}, "score"),
        ({"score": True}, "score"),
        ({"score": None}, "score"),
        ({"score": float("inf")}, "score"),
        ({"label": None}, "label"),
        ({"label": 3}, "label"),
        ({"label": ""}, "label"),
        ({"utterance": "x"}, "utterance"),
        ({"utterance": -1}, "utterance"),
        ({"utterance": 2.5}, "utterance"),
        ({"utterance": float("nan")}, "utterance"),
        ({"utterance": 0}, "utterance"),  # the same utterance twice
        ({"scores": [0.5, 0.5]}, "scores"),
        ({"scores": {"joy": float("nan")}}, "scores"),
    ],
)
def test_bad_prediction_fields_are_input_errors_naming_prediction_and_field(change, field):
    from mcn_cl.processing import MCNCLInputError

    first = dict(_GOOD, utterance=0)
    with pytest.raises(MCNCLInputError, match=rf"prediction 1\b.*\b{field}\b") as err:
        plot_emotion_timeline([first, dict(_GOOD, **change)])
    assert err.value.field == field


@pytest.mark.parametrize("missing", ["label", "score"])
def test_missing_prediction_keys_are_input_errors_not_key_errors(missing):
    from mcn_cl.processing import MCNCLInputError

    bad = {k: v for k, v in _GOOD.items() if k != missing}
    with pytest.raises(MCNCLInputError, match=rf"prediction 1\b.*{missing}.*missing"):
        plot_emotion_timeline([dict(_GOOD, utterance=0), bad])
    with pytest.raises(MCNCLInputError, match=r"prediction 0\b.*not a dict"):
        plot_emotion_timeline(["joy"])


def test_bad_gold_labels_are_input_errors_naming_the_label():
    from mcn_cl.processing import MCNCLInputError

    predictions, _ = _predictions()
    for gold, reason in [(9, "no label 9"), (float("nan"), "not a label"), (2.5, "not a label")]:
        with pytest.raises(MCNCLInputError, match=rf"labels\[2\].*{reason}"):
            plot_emotion_timeline(predictions, [0, 1, gold, 0, 1], label_names=LABELS)


def test_bad_arguments_are_input_errors():
    from mcn_cl.processing import MCNCLInputError

    predictions, _ = _predictions()
    for kwargs, match in [
        ({"dpi": 10**6}, "dpi"),
        ({"dpi": float("nan")}, "dpi"),
        ({"labels": "joy"}, "labels: a str"),
        ({"label_names": 4}, "label_names: a int"),
    ]:
        with pytest.raises(MCNCLInputError, match=match):
            plot_emotion_timeline(predictions, **kwargs)
    many = [{"utterance": i, "speaker": f"s{i}", "label": "joy", "score": 0.5} for i in range(101)]
    with pytest.raises(MCNCLInputError, match="101 speakers: at most 100"):
        plot_emotion_timeline(many)
    with pytest.raises(MCNCLInputError, match="higher than 65536 pixels"):  # 100 lanes: 76.7 inches high
        plot_emotion_timeline(many[:100], dpi=1000)
    with pytest.raises(MCNCLInputError, match="not a list of prediction dicts"):
        plot_emotion_timeline({"label": "joy", "score": 0.5})


def test_random_garbage_gives_a_figure_or_an_input_error_and_nothing_else(tmp_path):
    import random
    import warnings

    from mcn_cl.processing import MCNCLInputError

    rng = random.Random(0)
    values = [
        None,
        "",
        "joy",
        "$_$",
        "王",
        0,
        1,
        -1,
        0.5,
        2.5,
        1e300,
        float("nan"),
        float("inf"),
        True,
        [],
        {},
    ]
    values += [{"joy": 0.5}, {"joy": "x"}, "0.5", b"joy", 10**40, 20_000, 2**31 - 1, 2**31]
    keys = ["utterance", "speaker", "label", "score", "scores"]
    drawn = 0
    for case in range(300):
        predictions = []
        for k in range(rng.randint(1, 4)):
            good = {"utterance": k, "speaker": "Ann", "label": "joy", "score": 0.5, "scores": {"joy": 0.5}}
            for key in rng.sample(keys, rng.randint(0, 2)):
                if rng.random() < 0.2:
                    del good[key]
                else:
                    good[key] = rng.choice(values)
            predictions.append(good)
        labels = [rng.choice([None, "joy", 0, -1, 3, 9, 0.5, float("nan")]) for _ in predictions]
        kwargs = {"labels": labels if rng.random() < 0.5 else None, "label_names": ["joy", "anger", "x", "y"]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plot_emotion_timeline(
                    predictions, path=tmp_path / "g.png" if case % 30 == 0 else None, **kwargs
                )
            drawn += 1
        except MCNCLInputError:
            pass
    assert 10 < drawn < 290  # both outcomes occur


def test_long_names_and_titles_are_cut_so_drawing_stays_cheap(tmp_path):
    predictions = [{"utterance": 0, "speaker": "a" * 100_000, "label": "j" * 100_000, "score": 0.5}]
    fig = plot_emotion_timeline(predictions, title="t" * 100_000, path=tmp_path / "long.png")
    (name,) = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert name == "a" * 39 + "\u2026"
    (label,) = fig.axes[0].get_yticklabels()
    assert label.get_window_extent().x0 >= 0  # the left margin grew to fit the name
    assert (
        fig.get_size_inches()[0] > 8 and _png_size(tmp_path / "long.png")[0] == fig.get_size_inches()[0] * 100
    )
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["j" * 39 + "\u2026"]
    assert fig.axes[0].get_title(loc="left") == "t" * 159 + "\u2026"
    fig = plot_emotion_timeline([{"speaker": "a\tb\x00c\nd", "label": "joy", "score": 0.5}])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "a b c\nd"
    ]  # control characters as spaces
