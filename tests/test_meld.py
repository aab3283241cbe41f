"""MELD loader: generated MELD.Raw trees (real mp4 clips) and the real annotation CSVs when present."""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from pathlib import Path

import pytest
from _fixtures_datasets import MELD_CSV, MELD_ROWS, make_meld_tree, to_c1, write_meld_csv, write_video

from mcn_cl.datasets_scripts import MELD_EMOTIONS, DatasetFormatError, label_names, load_meld, repair_text

REAL_MELD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "meld"
SPLIT_CSV = {"train": "train_sent_emo.csv", "validation": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
needs_real = pytest.mark.skipif(
    not (REAL_MELD / "train_sent_emo.csv").is_file(), reason=f"{REAL_MELD} absent"
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("meld") / "MELD.Raw")
    bad = make_meld_tree(root)
    return root, bad


@pytest.fixture(scope="module")
def loaded(tree, tmp_path_factory):
    return load_meld(tree[0], max_clip_seconds=1.0, cache_dir=str(tmp_path_factory.mktemp("cache")))


def _utts(split):
    return {u["utterance_id"]: u for row in split for u in row["utterances"]}


# ---------------------------------------------------------------------------------------------------- text


def test_repair_text_maps_c1_controls_to_cp1252_characters():
    assert repair_text("company\x92s \x93hi\x94 wait\x85 \x97 dash") == "company’s “hi” wait… — dash"


def test_repair_text_fixes_utf8_mojibake():
    assert repair_text("company’s".encode().decode("cp1252")) == "company’s"
    assert repair_text("Café".encode().decode("latin-1")) == "Café"


def test_repair_text_leaves_clean_text_alone():
    for text in ("plain ascii", "Café — naïve “quotes”…", "Ã l'heure"):
        assert repair_text(text) == text


# ---------------------------------------------------------------------------------------------- real CSVs


@needs_real
def test_real_csvs_give_published_sizes_and_label_counts(tmp_path):
    ds = load_meld(csv_dir=str(REAL_MELD), check_media=False, cache_dir=str(tmp_path))
    names = label_names(ds)
    assert names == list(MELD_EMOTIONS)
    sizes = {s: (len(ds[s]), sum(len(r) for r in ds[s]["utterances"])) for s in SPLIT_CSV}
    assert sizes == {"train": (1038, 9989), "validation": (114, 1109), "test": (280, 2610)}
    for split, name in SPLIT_CSV.items():
        with open(REAL_MELD / name, encoding="utf-8", newline="") as f:
            expected = Counter(row["Emotion"] for row in csv.DictReader(f))
        got = Counter(names[u["label"]] for row in ds[split]["utterances"] for u in row)
        assert got == expected, split


@needs_real
def test_real_csvs_sentiment_config_counts(tmp_path):
    ds = load_meld(csv_dir=str(REAL_MELD), config="sentiment", check_media=False, cache_dir=str(tmp_path))
    names = label_names(ds)
    assert names == ["negative", "neutral", "positive"]
    with open(REAL_MELD / "dev_sent_emo.csv", encoding="utf-8", newline="") as f:
        expected = Counter(row["Sentiment"] for row in csv.DictReader(f))
    assert Counter(names[u["label"]] for row in ds["validation"]["utterances"] for u in row) == expected


@needs_real
def test_c1_damaged_copy_of_real_csvs_loads_to_the_same_texts(tmp_path):
    damaged = tmp_path / "raw"
    damaged.mkdir()
    for name in SPLIT_CSV.values():
        text = (REAL_MELD / name).read_text(encoding="utf-8")
        (damaged / name).write_text(to_c1(text), encoding="utf-8")
    assert "\x92" in (damaged / "train_sent_emo.csv").read_text(encoding="utf-8")
    clean = load_meld(csv_dir=str(REAL_MELD), check_media=False, cache_dir=str(tmp_path / "a"))
    repaired = load_meld(csv_dir=str(damaged), check_media=False, cache_dir=str(tmp_path / "b"))
    for split in SPLIT_CSV:
        assert repaired[split]["utterances"] == clean[split]["utterances"]


# ----------------------------------------------------------------------------------------- generated tree


def test_rows_follow_the_csv_in_numeric_id_order(loaded):
    train = loaded["train"]
    assert train["dialogue_id"] == ["dia0", "dia1", "dia2"]
    assert [u["utterance_id"] for u in train[1]["utterances"]] == ["dia1_utt0", "dia1_utt1"]
    assert [u["text"] for u in train[1]["utterances"]] == ["“Hey” you guys.", "Oh my God!"]
    assert train[1]["utterances"][0]["speaker"] == "Joey"
    assert MELD_EMOTIONS[train[1]["utterances"][0]["label"]] == "joy"


def test_clip_paths_are_built_from_the_csv(tree, loaded):
    root, _ = tree
    u = _utts(loaded["validation"])["dia0_utt0"]
    assert u["video_path"] == u["audio_path"] == os.path.join(root, "dev_splits_complete", "dia0_utt0.mp4")
    assert u["start"] == 0.0 and u["end"] == pytest.approx(0.3, abs=0.05)


def test_bad_clips_keep_the_utterance_with_media_masked(loaded):
    train, dev, test = (_utts(loaded[s]) for s in ("train", "validation", "test"))
    for u in (train["dia1_utt1"], dev["dia1_utt0"], test["dia0_utt1"]):  # corrupt, missing, too long
        assert u["audio_path"] is None and u["video_path"] is None
        assert u["text"]
    no_audio = train["dia2_utt1"]
    assert no_audio["audio_path"] is None and no_audio["video_path"] is not None


def test_bad_clips_are_listed_in_one_warning(tree, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        load_meld(tree[0], max_clip_seconds=1.0, cache_dir=str(tmp_path))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    for needle in (
        "train dia1_utt1 (corrupt",
        "validation dia1_utt0 (missing",
        "test dia0_utt1 (too long",
        "train dia2_utt1 (no audio stream",
    ):
        assert needle in warnings[0]


def test_clip_length_threshold_is_configurable(tree, tmp_path):
    ds = load_meld(tree[0], max_clip_seconds=60.0, cache_dir=str(tmp_path))
    assert _utts(ds["test"])["dia0_utt1"]["video_path"] is not None


def test_train_folder_is_accepted_and_files_outside_the_csv_are_ignored(tmp_path):
    root = str(tmp_path / "MELD.Raw")
    make_meld_tree(root, train_folder="train")
    write_video(os.path.join(root, "train", "dia99_utt0.mp4"), seconds=0.2, size=16)
    ds = load_meld(root, max_clip_seconds=1.0, cache_dir=str(tmp_path / "c"))
    train = _utts(ds["train"])
    assert train["dia0_utt0"]["video_path"] == os.path.join(root, "train", "dia0_utt0.mp4")
    assert "dia99_utt0" not in train


def test_check_media_false_gives_annotations_only(tree, tmp_path):
    ds = load_meld(tree[0], check_media=False, cache_dir=str(tmp_path))
    utts = [u for s in ds.values() for row in s for u in row["utterances"]]
    assert len(utts) == sum(len(r) for r in MELD_ROWS.values())
    assert all(u["audio_path"] is None and u["video_path"] is None and u["end"] is None for u in utts)


def test_csv_dir_separate_from_clip_folders(tmp_path):
    clips, csvs = tmp_path / "clips", tmp_path / "csvs"
    make_meld_tree(str(clips))
    csvs.mkdir()
    for name in MELD_CSV.values():
        os.replace(clips / name, csvs / name)
    ds = load_meld(str(clips), csv_dir=str(csvs), max_clip_seconds=1.0, cache_dir=str(tmp_path / "c"))
    assert _utts(ds["train"])["dia0_utt0"]["video_path"] == str(clips / "train_splits" / "dia0_utt0.mp4")


def test_sentiment_config_uses_the_sentiment_column(tree, tmp_path):
    ds = load_meld(tree[0], config="sentiment", check_media=False, cache_dir=str(tmp_path))
    assert label_names(ds) == ["negative", "neutral", "positive"]
    assert _utts(ds["train"])["dia2_utt0"]["label"] == 0  # "Get out." negative


def test_missing_column_raises_naming_file_and_line(tmp_path):
    make_meld_tree(str(tmp_path), clips=False)
    write_meld_csv(str(tmp_path / "dev_sent_emo.csv"), MELD_ROWS["dev"], drop_column="Emotion")
    with pytest.raises(DatasetFormatError, match=r"dev_sent_emo\.csv:1: missing column\(s\) \['Emotion'\]"):
        load_meld(str(tmp_path), check_media=False, cache_dir=str(tmp_path / "c"))


def test_duplicate_utterance_id_raises_naming_file_and_line(tmp_path):
    make_meld_tree(str(tmp_path), clips=False)
    rows = MELD_ROWS["test"] + [MELD_ROWS["test"][0]]
    write_meld_csv(str(tmp_path / "test_sent_emo.csv"), rows)
    with pytest.raises(DatasetFormatError, match=r"test_sent_emo\.csv:4: duplicate utterance id dia0_utt0"):
        load_meld(str(tmp_path), check_media=False, cache_dir=str(tmp_path / "c"))


def test_unknown_emotion_raises_naming_file_and_line(tmp_path):
    make_meld_tree(str(tmp_path), clips=False)
    rows = list(MELD_ROWS["train"])
    rows[2] = (*rows[2][:4], "happiness", rows[2][5])
    write_meld_csv(str(tmp_path / "train_sent_emo.csv"), rows)
    with pytest.raises(DatasetFormatError, match=r"train_sent_emo\.csv:4: Emotion 'happiness'"):
        load_meld(str(tmp_path), check_media=False, cache_dir=str(tmp_path / "c"))


def test_stray_cp1252_and_undefined_bytes_in_a_utf8_csv_are_repaired_or_named_by_line(tmp_path, caplog):
    """Issue 10, item 14: a UTF-8 CSV with a stray 0x92 (cp1252 ’) and a 0x9d (undefined in cp1252) loads; the
    0x92 is repaired, the 0x9d becomes U+FFFD and the warning names file:line of both."""
    make_meld_tree(str(tmp_path), clips=False)
    path = tmp_path / "train_sent_emo.csv"
    lines = path.read_bytes().split(b"\n")
    # line 2: "also I was the point person on my company’s transition." with the ’ as the cp1252 byte
    assert "company’s".encode() in lines[1]
    lines[1] = lines[1].replace("’".encode(), b"\x92")
    lines[3] = lines[3].replace(b"That I did", b"That I\x9d did")  # line 4
    path.write_bytes(b"\n".join(lines))
    with caplog.at_level(logging.WARNING):
        ds = load_meld(str(tmp_path), check_media=False, cache_dir=str(tmp_path / "c"))
    utts = _utts(ds["train"])
    assert utts["dia0_utt0"]["text"] == MELD_ROWS["train"][0][2]
    assert utts["dia0_utt2"]["text"] == "That I\ufffd did — that I did."
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f"{path}:2" in warnings[0] and f"{path}:4" in warnings[0] and "U+FFFD" in warnings[0]


def test_a_whole_cp1252_csv_loads_like_the_utf8_one(tmp_path):
    make_meld_tree(str(tmp_path), clips=False)
    path = tmp_path / "train_sent_emo.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("cp1252"))
    ds = load_meld(str(tmp_path), check_media=False, cache_dir=str(tmp_path / "c"))
    texts = {u["utterance_id"]: u["text"] for u in _utts(ds["train"]).values()}
    assert texts["dia0_utt1"] == "You must’ve had your hands full…"
