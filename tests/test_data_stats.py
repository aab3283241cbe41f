"""`data_stats` table and the `mcn-cl data-stats` entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from _fixtures_datasets import make_feature_pickle, make_iemocap_tree, make_meld_tree

from mcn_cl.datasets_scripts import data_stats, load_meld
from mcn_cl.datasets_scripts.stats import compute_stats, main

REAL_MELD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "meld"


@pytest.fixture(scope="module")
def meld_tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("meld") / "MELD.Raw")
    make_meld_tree(root)
    return root


def test_compute_stats_counts_labels_dialogues_and_missing_media(meld_tree, tmp_path):
    ds = load_meld(meld_tree, max_clip_seconds=1.0, cache_dir=str(tmp_path))
    stats = compute_stats(ds)
    assert stats["train"]["dialogues"] == 3 and stats["train"]["utterances"] == 7
    assert stats["train"]["labels"] == {
        "neutral": 2,
        "surprise": 1,
        "fear": 1,
        "sadness": 0,
        "joy": 2,
        "disgust": 0,
        "anger": 1,
    }
    # corrupt dia1_utt1 masks both; video-only dia2_utt1 masks audio
    assert (stats["train"]["missing_audio"], stats["train"]["missing_video"]) == (2, 1)
    assert (stats["validation"]["missing_audio"], stats["test"]["missing_video"]) == (1, 1)


def test_data_stats_table_has_one_line_per_split_and_a_total(meld_tree, tmp_path):
    table = data_stats(load_meld(meld_tree, max_clip_seconds=1.0, cache_dir=str(tmp_path)))
    lines = table.splitlines()
    assert lines[0].split() == [
        "split",
        "dialogues",
        "utterances",
        "neutral",
        "surprise",
        "fear",
        "sadness",
        "joy",
        "disgust",
        "anger",
        "unlabelled",
        "no_audio",
        "no_video",
    ]
    assert lines[2].split()[:3] == ["train", "3", "7"]
    assert lines[-1].split()[:3] == ["total", "6", "12"]


def test_main_on_an_iemocap_folder_prints_the_table_and_the_published_comparison(tmp_path, capsys):
    root = tmp_path / "IEMOCAP_full_release"
    make_iemocap_tree(str(root), with_media=False)
    assert main([str(root), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "iemocap" in out and "fru" in out
    assert "expected 120 / 5810, got 8 / 28  [DIFFERS]" in out
    assert "no_audio" in out


def test_main_on_a_feature_pickle_prints_feature_sizes(tmp_path, capsys):
    path = tmp_path / "f.pkl"
    make_feature_pickle(str(path), "meld", sizes=(600, 300, 512))
    assert main([str(path), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "{'text': 600, 'audio': 300, 'visual': 512}" in out
    assert "total" in out


@pytest.mark.skipif(not (REAL_MELD / "train_sent_emo.csv").is_file(), reason=f"{REAL_MELD} absent")
def test_main_on_the_real_meld_csvs_matches_the_published_sizes(tmp_path, capsys):
    assert main([str(REAL_MELD), "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("[ok]") == 3 and "DIFFERS" not in out
