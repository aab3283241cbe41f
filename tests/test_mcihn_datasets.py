"""CMU-MOSI / CH-SIMS loaders on generated files in the exact raw-release and MMSA-pickle layouts."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
from _fixtures_mcihn import AUDIO_SIZE, TEXT_SIZE, VISUAL_SIZE, make_mmsa_pickle, make_raw_release

from mcn_cl.datasets_scripts import (
    DatasetFormatError,
    UnsafePickleError,
    load_mmsa_features,
    load_mmsa_raw,
    mmsa_feature_sizes,
)


def test_raw_mosi_release_gives_splits_ids_scores_and_clip_paths(tmp_path):
    rows = make_raw_release(str(tmp_path), "mosi")
    ds = load_mmsa_raw(tmp_path, "mosi", cache_dir=tmp_path / "cache")
    assert {k: len(v) for k, v in ds.items()} == {"train": 3, "validation": 1, "test": 2}
    first = ds["train"][0]
    assert first["id"] == "vidA$_$1" and first["text"] == rows[0]["text"]
    assert first["label"] == pytest.approx(rows[0]["label"])
    assert first["video_path"] == str(tmp_path / "Raw" / "vidA" / "1.mp4") == first["audio_path"]


def test_raw_sims_keeps_the_unimodal_labels(tmp_path):
    make_raw_release(str(tmp_path), "sims", clips=False)
    ds = load_mmsa_raw(tmp_path, "sims", check_media=False, cache_dir=tmp_path / "cache")
    row = ds["train"][0]
    assert row["label_audio"] == pytest.approx(-row["label_text"]) and row["label_visual"] == pytest.approx(
        0.2
    )
    assert -1 <= row["label"] <= 1 and row["text"] == "我很喜欢这部电影"


def test_missing_clip_is_masked_and_named_in_one_warning(tmp_path, caplog):
    make_raw_release(str(tmp_path), "mosi", missing=("vidB$_$2",))
    with caplog.at_level(logging.WARNING):
        ds = load_mmsa_raw(tmp_path, "mosi", cache_dir=tmp_path / "cache")
    masked = [r for r in ds["test"] if r["id"] == "vidB$_$2"][0]
    assert masked["audio_path"] is None and masked["video_path"] is None and masked["text"]
    assert "1 clip problem" in caplog.text and "vidB$_$2 (missing)" in caplog.text


def test_bad_label_csv_names_file_and_line(tmp_path):
    make_raw_release(str(tmp_path), "mosi", clips=False)
    path = tmp_path / "label.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",train", ",dev")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=r"label.csv:3: mode 'dev'"):
        load_mmsa_raw(tmp_path, "mosi", check_media=False)


def test_mmsa_pickle_rows_are_cut_to_their_lengths(tmp_path):
    data = make_mmsa_pickle(str(tmp_path / "unaligned_50.pkl"))
    ds = load_mmsa_features(tmp_path / "unaligned_50.pkl", "mosi", cache_dir=tmp_path / "cache")
    assert {k: len(v) for k, v in ds.items()} == {"train": 3, "validation": 2, "test": 2}
    assert mmsa_feature_sizes(ds) == {"text": TEXT_SIZE, "audio": AUDIO_SIZE, "visual": VISUAL_SIZE}
    row = ds["validation"].with_format("numpy")[1]
    src = data["valid"]
    n_tok = int(src["text_bert"][1, 1].sum())
    assert row["id"] == src["id"][1] and row["text"] == src["raw_text"][1]
    assert row["label"] == pytest.approx(src["regression_labels"][1])
    assert row["input_ids"].tolist() == src["text_bert"][1, 0, :n_tok].astype(int).tolist()
    assert row["text_features"].shape == (n_tok, TEXT_SIZE)
    np.testing.assert_allclose(row["audio_features"], src["audio"][1, : src["audio_lengths"][1]])
    np.testing.assert_allclose(row["visual_features"], src["vision"][1, : src["vision_lengths"][1]])
    assert row["modality_mask"].tolist() == [1, 1, 1]


def test_mmsa_pickle_non_finite_values_become_zero_and_zero_length_masks(tmp_path):
    data = make_mmsa_pickle(str(tmp_path / "a.pkl"), with_lengths=True)
    data["train"]["audio"][0, 0, 0] = -np.inf
    data["train"]["vision_lengths"][1] = 0
    with open(tmp_path / "a.pkl", "wb") as f:
        pickle.dump(data, f)
    ds = load_mmsa_features(tmp_path / "a.pkl", "mosi", cache_dir=tmp_path / "cache").with_format("numpy")
    assert ds["train"][0]["audio_features"][0, 0] == 0.0
    assert ds["train"][1]["modality_mask"].tolist() == [1, 1, 0]


def test_mmsa_pickle_label_outside_the_range_and_unsafe_pickles_are_refused(tmp_path):
    data = make_mmsa_pickle(str(tmp_path / "a.pkl"))
    with pytest.raises(
        DatasetFormatError, match=r"\[train\], utterance 'vidtrain\d\$_\$\d': label .* outside"
    ):
        load_mmsa_features(tmp_path / "a.pkl", "sims")
    data["train"]["audio_lengths"] = data["train"]["audio_lengths"][:2]
    with open(tmp_path / "b.pkl", "wb") as f:
        pickle.dump(data, f)
    with pytest.raises(DatasetFormatError, match=r"audio_lengths has \(2,\) rows for 3"):
        load_mmsa_features(tmp_path / "b.pkl", "mosi")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "c.pkl", "wb") as f:
        pickle.dump({"train": {"regression_labels": [0.0], "x": Evil()}}, f)
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        load_mmsa_features(tmp_path / "c.pkl", "mosi")
