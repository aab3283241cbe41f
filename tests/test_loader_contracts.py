"""The feature-pickle and MMSA loaders refuse what they cannot represent (issue 18, item 2): non-integer labels,
non-finite features, token ids out of range, ids leaving the data folder, malformed structures, each with a
`DatasetFormatError` naming the file and the field; MMSA raw reads a non-UTF-8 label.csv as the MELD loader does
and warns on an empty split."""

from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pytest
from _fixtures_datasets import make_feature_pickle
from _fixtures_mcihn import make_mmsa_pickle, make_raw_release

from mcn_cl.datasets_scripts import DatasetFormatError, load_feature_pickle, load_mmsa_features, load_mmsa_raw


def _rewrite(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


# ------------------------------------------------------------------------------------------ feature pickles


@pytest.fixture
def feature_file(tmp_path):
    path = str(tmp_path / "feat.pkl")
    fields = make_feature_pickle(path, "iemocap", sizes=(6, 5, 4))
    vid = sorted(fields["trainVid"])[0]
    return path, fields, vid


def _dump_fields(path, fields):
    _rewrite(path, tuple(fields.values()))


@pytest.mark.parametrize("bad", [2.7, True, float("nan"), "3", None])
def test_feature_pickle_non_integer_label_is_refused(feature_file, tmp_path, bad):
    path, fields, vid = feature_file
    fields["videoLabels"][vid][1] = bad
    _dump_fields(path, fields)
    with pytest.raises(
        DatasetFormatError, match=rf"feat\.pkl: dialogue '{vid}' videoLabels\[1\]: .*not an integer"
    ):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))


def test_feature_pickle_integral_float_labels_still_load(feature_file, tmp_path):
    path, fields, vid = feature_file
    fields["videoLabels"][vid] = np.asarray(fields["videoLabels"][vid], dtype=np.float32)
    _dump_fields(path, fields)
    ds = load_feature_pickle(path, cache_dir=str(tmp_path / "c"))
    row = next(r for s in ds.values() for r in s if r["dialogue_id"] == vid)
    assert row["labels"] == [int(x) for x in fields["videoLabels"][vid]]


@pytest.mark.parametrize(
    "key, bad", [("videoText", np.nan), ("videoAudio", np.inf), ("videoVisual", -np.inf)]
)
def test_feature_pickle_non_finite_features_are_refused(feature_file, tmp_path, key, bad):
    path, fields, vid = feature_file
    table = fields[key][vid]
    if isinstance(table, list):
        table[0] = table[0].copy()
        table[0][1] = bad
    else:
        table[0, 1] = bad
    _dump_fields(path, fields)
    with pytest.raises(DatasetFormatError, match=rf"feat\.pkl: dialogue '{vid}' {key}: 1 non-finite value"):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))


# the fields of a feature pickle that are dicts keyed by dialogue id (written out here, not imported: the test
# checks the format independently of the loader)
PER_DIALOGUE_FIELDS = (
    "videoIDs",
    "videoSpeakers",
    "videoLabels",
    "videoText",
    "videoAudio",
    "videoVisual",
    "videoSentence",
)


def test_feature_pickle_dialogue_ids_that_collide_as_strings_are_refused(tmp_path):
    path = str(tmp_path / "feat.pkl")
    fields = make_feature_pickle(path, "meld", sizes=(6, 5, 4))
    for key in PER_DIALOGUE_FIELDS:
        fields[key]["1000"] = fields[key][1000]
    fields["trainVid"].add("1000")  # int 1000 is in testVid
    _rewrite(path, (*fields.values(), None))  # the MELD 10-tuple
    with pytest.raises(DatasetFormatError, match=r"feat\.pkl: dialogue '?1000'?: listed twice"):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))


def test_feature_pickle_numpy_integer_dialogue_ids_still_load(tmp_path):
    path = str(tmp_path / "feat.pkl")
    fields = make_feature_pickle(path, "meld", sizes=(6, 5, 4))
    for key in PER_DIALOGUE_FIELDS:
        fields[key] = {np.int64(k): v for k, v in fields[key].items()}
    fields["trainVid"] = {np.int64(v) for v in fields["trainVid"]}
    fields["testVid"] = np.array(sorted(fields["testVid"]), dtype=np.int64)
    _rewrite(path, (*fields.values(), None))
    ds = load_feature_pickle(path, cache_dir=str(tmp_path / "c"))
    assert sorted(ds["test"]["dialogue_id"]) == ["1000", "1001", "1002"]


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda f, v: f.__setitem__("trainVid", 5), r"trainVid"),
        (lambda f, v: f["videoIDs"].__setitem__(v, 7), r"videoIDs"),
        (lambda f, v: f["videoText"].__setitem__(v, "abc"), r"videoText"),
        (lambda f, v: f["videoSpeakers"].__setitem__(v, 3), r"videoSpeakers"),
        (lambda f, v: f["videoSentence"].__setitem__(v, 4), r"videoSentence"),
    ],
)
def test_feature_pickle_malformed_structures_name_file_and_field(feature_file, tmp_path, mutate, match):
    path, fields, vid = feature_file
    mutate(fields, vid)
    _dump_fields(path, fields)
    with pytest.raises(DatasetFormatError, match=rf"feat\.pkl.*{match}"):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))


# --------------------------------------------------------------------------------------------- MMSA pickles


@pytest.fixture
def mmsa_file(tmp_path):
    path = str(tmp_path / "mmsa.pkl")
    return path, make_mmsa_pickle(path)


def test_mmsa_empty_first_split_is_no_index_error(mmsa_file, tmp_path, caplog):
    path, data = mmsa_file
    data["train"] = {key: value[:0] for key, value in data["train"].items()}
    _rewrite(path, data)
    with caplog.at_level(logging.WARNING):
        ds = load_mmsa_features(path, "mosi", cache_dir=str(tmp_path / "c"))
    assert len(ds["validation"]) == 2 and "input_ids" in ds["validation"].column_names
    assert "train" not in ds or len(ds["train"]) == 0
    assert "[train]" in caplog.text and "no utterances" in caplog.text


@pytest.mark.parametrize("bad", [1e20, -5.0, 2.5, np.nan])
def test_mmsa_token_ids_outside_int64_or_not_integers_are_refused(mmsa_file, tmp_path, bad):
    path, data = mmsa_file
    data["valid"]["text_bert"][1, 0, 1] = bad
    _rewrite(path, data)
    with pytest.raises(DatasetFormatError, match=r"mmsa\.pkl \[valid\].*text_bert.*token id"):
        load_mmsa_features(path, "mosi", cache_dir=str(tmp_path / "c"))


def test_mmsa_attention_mask_must_be_zeros_and_ones(mmsa_file, tmp_path):
    path, data = mmsa_file
    data["test"]["text_bert"][0, 1, 0] = 0.5
    _rewrite(path, data)
    with pytest.raises(DatasetFormatError, match=r"mmsa\.pkl \[test\].*text_bert.*attention mask"):
        load_mmsa_features(path, "mosi", cache_dir=str(tmp_path / "c"))


def test_mmsa_fractional_length_is_refused(mmsa_file, tmp_path):
    path, data = mmsa_file
    data["train"]["audio_lengths"][0] = 2.7
    _rewrite(path, data)
    with pytest.raises(DatasetFormatError, match=r"mmsa\.pkl \[train\].*audio_lengths.*integer"):
        load_mmsa_features(path, "mosi", cache_dir=str(tmp_path / "c"))


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("regression_labels", ["a", "b", "c"], "regression_labels"),
        ("audio", "not an array", "audio"),
        ("audio", [[["x"]]] * 3, "audio"),
        ("text_bert", np.zeros((3, 3)), "text_bert"),
    ],
)
def test_mmsa_malformed_fields_name_file_and_field(mmsa_file, tmp_path, key, value, match):
    path, data = mmsa_file
    data["train"][key] = value
    _rewrite(path, data)
    with pytest.raises(DatasetFormatError, match=rf"mmsa\.pkl \[train\].*{match}"):
        load_mmsa_features(path, "mosi", cache_dir=str(tmp_path / "c"))


def test_mmsa_object_arrays_of_ids_and_texts_still_load(mmsa_file, tmp_path):
    path, data = mmsa_file
    for split in data.values():
        split["raw_text"] = np.array(list(split["raw_text"]), dtype=object)
        split["id"] = np.array(split["id"], dtype=object)
    _rewrite(path, data)
    ds = load_mmsa_features(path, "mosi", cache_dir=str(tmp_path / "c"))
    assert ds["test"]["id"] == list(data["test"]["id"]) and ds["test"]["text"] == list(
        data["test"]["raw_text"]
    )


def test_mmsa_dataset_name_is_case_insensitive(mmsa_file, tmp_path):
    ds = load_mmsa_features(mmsa_file[0], "MOSI", cache_dir=str(tmp_path / "c"))
    assert len(ds["train"]) == 3


# ---------------------------------------------------------------------------------------------- MMSA raw


def _edit_csv(root, line: int, old: str, new: str):
    path = os.path.join(root, "label.csv")
    lines = open(path, encoding="utf-8").read().splitlines()
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


UP = ".."  # parent-folder steps, spelled out so that no path in this file points outside the repository


@pytest.mark.parametrize(
    "old, new, field",
    [("vidA,1,", f"{UP}/{UP}/outside,1,", "video_id"), ("vidA,1,", f"vidA,{UP}/{UP}/{UP}/x,", "clip_id"),
     ("vidA,1,", "/etc,passwd,", "video_id")],
)  # fmt: skip
def test_mmsa_raw_ids_leaving_raw_are_refused(tmp_path, old, new, field):
    root = str(tmp_path / "mosi")
    make_raw_release(root, "mosi", clips=False)
    os.makedirs(os.path.join(root, "Raw"))
    _edit_csv(root, 2, old, new)
    with pytest.raises(DatasetFormatError, match=rf"label\.csv:2: {field} .* outside"):
        load_mmsa_raw(root, "mosi", check_media=False, cache_dir=str(tmp_path / "c"))


def test_mmsa_raw_non_utf8_label_csv_is_repaired_with_a_warning(tmp_path, caplog):
    root = str(tmp_path / "mosi")
    rows = make_raw_release(root, "mosi", clips=False)
    path = os.path.join(root, "label.csv")
    data = open(path, "rb").read().replace(rows[0]["text"].encode(), b"it\x92s fine", 1)
    open(path, "wb").write(data)
    with caplog.at_level(logging.WARNING):
        ds = load_mmsa_raw(root, "mosi", check_media=False, cache_dir=str(tmp_path / "c"))
    assert ds["train"][0]["text"] == "it\u2019s fine"
    assert "label.csv:2" in caplog.text and "cp1252" in caplog.text


def test_mmsa_raw_header_only_and_empty_splits_warn(tmp_path, caplog):
    root = str(tmp_path / "mosi")
    make_raw_release(root, "mosi", clips=False)
    path = os.path.join(root, "label.csv")
    lines = open(path, encoding="utf-8").read().splitlines()
    open(path, "w", encoding="utf-8").write(
        "\n".join(line for line in lines if not line.endswith(",test")) + "\n"
    )
    with caplog.at_level(logging.WARNING):
        ds = load_mmsa_raw(root, "mosi", check_media=False, cache_dir=str(tmp_path / "c"))
    assert "test" not in ds and "empty split(s) ['test']" in caplog.text
    open(path, "w", encoding="utf-8").write(lines[0] + "\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_mmsa_raw(root, "mosi", check_media=False, cache_dir=str(tmp_path / "c2"))
    assert "no utterance rows" in caplog.text


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
def test_mmsa_raw_max_clip_seconds_must_be_positive(tmp_path, seconds):
    root = str(tmp_path / "mosi")
    make_raw_release(root, "mosi", clips=False)
    with pytest.raises(ValueError, match="max_clip_seconds"):
        load_mmsa_raw(root, "mosi", max_clip_seconds=seconds, cache_dir=str(tmp_path / "c"))


def test_mmsa_raw_dataset_name_is_case_insensitive(tmp_path):
    root = str(tmp_path / "sims")
    make_raw_release(root, "sims", clips=False)
    ds = load_mmsa_raw(root, "SIMS", check_media=False, cache_dir=str(tmp_path / "c"))
    assert "label_audio" in ds["train"].column_names
