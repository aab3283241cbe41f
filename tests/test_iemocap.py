"""IEMOCAP loader on a generated tree in the exact IEMOCAP_full_release layout."""

from __future__ import annotations

import logging
import os
import shutil

import pytest
from _fixtures_datasets import iemocap_dialogue_ids, make_iemocap_tree

from mcn_cl.datasets_scripts import DatasetFormatError, label_names, load_iemocap

SIX = ("hap", "sad", "neu", "ang", "exc", "fru")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("iemocap") / "IEMOCAP_full_release")
    spec = make_iemocap_tree(root)
    return root, spec


@pytest.fixture(scope="module")
def ds6(tree, tmp_path_factory):
    return load_iemocap(tree[0], cache_dir=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def fresh_tree(tmp_path):
    """A tree a test may damage (no media: faster)."""
    root = str(tmp_path / "IEMOCAP_full_release")
    make_iemocap_tree(root, with_media=False)
    return root


def _utterances(ds):
    return {u["utterance_id"]: u for split in ds.values() for row in split for u in row["utterances"]}


def test_label_names_follow_design_order(ds6):
    assert label_names(ds6) == list(SIX)
    assert ds6["train"].features["utterances"].feature["label"].names == list(SIX)


def test_6class_keeps_exactly_the_six_codes_with_their_labels(tree, ds6):
    _, spec = tree
    expected = {t: SIX.index(code) for turns in spec.values() for t, code, *_ in turns if code in SIX}
    got = {uid: u["label"] for uid, u in _utterances(ds6).items()}
    assert got == expected


def test_session5_is_test_and_sessions_1_to_4_are_train_plus_validation(ds6):
    test_ids = set(ds6["test"]["dialogue_id"])
    assert test_ids == set(iemocap_dialogue_ids(5))
    train_ids, val_ids = set(ds6["train"]["dialogue_id"]), set(ds6["validation"]["dialogue_id"])
    assert not train_ids & val_ids
    assert train_ids | val_ids == {d for s in range(1, 5) for d in iemocap_dialogue_ids(s)}
    assert len(val_ids) == 1  # round(0.1 * 8)


def test_validation_draw_is_seeded(tree, tmp_path):
    a = load_iemocap(tree[0], seed=1, cache_dir=str(tmp_path / "a"))
    b = load_iemocap(tree[0], seed=1, cache_dir=str(tmp_path / "b"))
    assert a["validation"]["dialogue_id"] == b["validation"]["dialogue_id"]
    picks = {
        tuple(load_iemocap(tree[0], seed=s, cache_dir=str(tmp_path / "c"))["validation"]["dialogue_id"])
        for s in range(6)
    }
    assert len(picks) > 1


def test_utterances_are_ordered_by_start_time(ds6):
    for split in ds6.values():
        for row in split:
            starts = [u["start"] for u in row["utterances"]]
            assert starts == sorted(starts)


def test_times_text_and_speaker_come_from_the_files(tree, ds6):
    _, spec = tree
    utts = _utterances(ds6)
    for turns in spec.values():
        for turn, code, start, end, text in turns:
            if code not in SIX:
                continue
            u = utts[turn]
            assert u["text"] == text
            assert u["start"] == pytest.approx(start) and u["end"] == pytest.approx(end)
            assert u["speaker"] == turn.rsplit("_", 1)[1][0]


def test_non_turn_transcription_lines_are_not_utterances(ds6):
    ids = _utterances(ds6)
    assert not [i for i in ids if "XX" in i]
    assert all(u["text"] != "breathing" for u in ids.values())


def test_media_paths_are_sentence_wav_and_case_insensitive_dialogue_avi(tree, ds6):
    root, _ = tree
    u = _utterances(ds6)["Ses01F_impro01_F000"]
    assert u["audio_path"] == os.path.join(
        root, "Session1", "sentences", "wav", "Ses01F_impro01", "Ses01F_impro01_F000.wav"
    )
    assert u["video_path"] == os.path.join(root, "Session1", "dialog", "avi", "DivX", "Ses01F_impro01.AVI")
    assert all(
        os.path.isfile(x["audio_path"]) and os.path.isfile(x["video_path"]) for x in _utterances(ds6).values()
    )


def test_4class_merges_exc_into_hap_and_drops_fru(tree, tmp_path):
    _, spec = tree
    ds = load_iemocap(tree[0], config="4class", cache_dir=str(tmp_path))
    assert label_names(ds) == ["hap", "sad", "neu", "ang"]
    merged = {"hap": 0, "exc": 0, "sad": 1, "neu": 2, "ang": 3}
    expected = {t: merged[c] for turns in spec.values() for t, c, *_ in turns if c in merged}
    assert {uid: u["label"] for uid, u in _utterances(ds).items()} == expected


def test_keep_unlabelled_keeps_other_codes_with_label_minus_one(tree, tmp_path):
    _, spec = tree
    ds = load_iemocap(tree[0], keep_unlabelled=True, cache_dir=str(tmp_path))
    utts = _utterances(ds)
    assert len(utts) == sum(len(t) for t in spec.values())
    others = [t for turns in spec.values() for t, c, *_ in turns if c not in SIX]
    assert others and all(utts[t]["label"] == -1 for t in others)


def test_missing_wav_is_masked_and_listed_in_one_warning(fresh_tree, tmp_path, caplog):
    make_iemocap_tree(fresh_tree)  # with media
    wav = os.path.join(
        fresh_tree, "Session2", "sentences", "wav", "Ses02M_impro01", "Ses02M_impro01_F000.wav"
    )
    os.remove(wav)
    shutil.rmtree(os.path.join(fresh_tree, "Session3", "dialog", "avi"))
    with caplog.at_level(logging.WARNING):
        ds = load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))
    utts = _utterances(ds)
    assert utts["Ses02M_impro01_F000"]["audio_path"] is None
    assert utts["Ses02M_impro01_F000"]["video_path"] is not None
    assert all(u["video_path"] is None for uid, u in utts.items() if uid.startswith("Ses03"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "missing" in r.getMessage()]
    assert len(warnings) == 1
    assert (
        "Ses02M_impro01_F000" in warnings[0].getMessage()
        and "Ses03F_impro01_F000" in warnings[0].getMessage()
    )


def test_missing_session_folder_raises_naming_it(fresh_tree, tmp_path):
    shutil.rmtree(os.path.join(fresh_tree, "Session4"))
    with pytest.raises(DatasetFormatError, match="Session4"):
        load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))


def test_transcription_without_label_raises_with_file_and_line(fresh_tree, tmp_path):
    path = os.path.join(fresh_tree, "Session1", "dialog", "transcriptions", "Ses01F_impro01.txt")
    with open(path, "a") as f:
        f.write("Ses01F_impro01_F042 [010.0000-011.0000]: Unlabelled line.\n")
    n_lines = sum(1 for _ in open(path))
    with pytest.raises(
        DatasetFormatError, match=rf"Ses01F_impro01\.txt:{n_lines}: utterance Ses01F_impro01_F042"
    ):
        load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))


def test_unknown_label_code_raises_with_file_and_line(fresh_tree, tmp_path):
    path = os.path.join(fresh_tree, "Session2", "dialog", "EmoEvaluation", "Ses02M_script01_1.txt")
    lines = open(path).read().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("["))
    lines[i] = lines[i].replace("\tsad\t", "\tjoy\t")
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=rf"Ses02M_script01_1\.txt:{i + 1}: emotion code 'joy'"):
        load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))


def test_duplicate_utterance_id_raises_with_both_places(fresh_tree, tmp_path):
    path = os.path.join(fresh_tree, "Session1", "dialog", "EmoEvaluation", "Ses01F_impro01.txt")
    with open(path, "a") as f:
        f.write("[8.0000 - 9.0000]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n")
    with pytest.raises(DatasetFormatError, match="duplicate utterance id Ses01F_impro01_F000.*first at"):
        load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))


def test_cache_is_reused_and_invalidated_by_an_annotation_change(fresh_tree, tmp_path):
    cache = str(tmp_path / "c")
    first = load_iemocap(fresh_tree, cache_dir=cache)
    again = load_iemocap(fresh_tree, cache_dir=cache)
    assert again["train"].cache_files == first["train"].cache_files
    path = os.path.join(fresh_tree, "Session1", "dialog", "transcriptions", "Ses01F_impro01.txt")
    text = open(path).read().replace("Excuse me.", "Pardon me.")
    open(path, "w").write(text)
    changed = load_iemocap(fresh_tree, cache_dir=cache)
    assert (
        changed["train"].cache_files != first["train"].cache_files
        or changed["validation"].cache_files != first["validation"].cache_files
    )
    assert "Pardon me." in [u["text"] for u in _utterances(changed).values()]


# ------------------------------------------------------------------------------------- issue 10, items 15, 19


def test_non_utf8_transcription_bytes_are_repaired_and_named_by_line(fresh_tree, tmp_path, caplog):
    path = os.path.join(fresh_tree, "Session1", "dialog", "transcriptions", "Ses01F_impro01.txt")
    lines = open(path, "rb").read().split(b"\n")
    k = next(i for i, line in enumerate(lines) if b"Excuse me." in line)
    lines[k] = lines[k].replace(b"Excuse me.", b"Excuse me\x85 caf\xe9 \x81")
    open(path, "wb").write(b"\n".join(lines))
    with caplog.at_level(logging.WARNING):
        ds = load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))
    assert _utterances(ds)["Ses01F_impro01_F000"]["text"] == "Excuse me… café \ufffd"
    warnings = [r.getMessage() for r in caplog.records if "U+FFFD" in r.getMessage()]
    assert len(warnings) == 1 and f"{path}:{k + 1}" in warnings[0]


def _evaluation_lines(tree: str):
    path = os.path.join(tree, "Session2", "dialog", "EmoEvaluation", "Ses02M_script01_1.txt")
    lines = open(path).read().splitlines()
    return path, lines, next(k for k, line in enumerate(lines) if line.startswith("["))


def test_a_turn_that_starts_after_it_ends_raises_with_file_and_line(fresh_tree, tmp_path):
    path, lines, i = _evaluation_lines(fresh_tree)
    lines[i] = lines[i].replace("[0.5000 - 1.5000]", "[1.5000 - 0.5000]")
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(
        DatasetFormatError, match=rf"Ses02M_script01_1\.txt:{i + 1}: turn \S+ starts after it ends"
    ):
        load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))


def test_a_malformed_turn_line_raises_naming_the_line_not_a_missing_label(fresh_tree, tmp_path):
    path, lines, i = _evaluation_lines(fresh_tree)
    lines[i] = lines[i].replace("\t", " ", 1)  # "[0.5000 - 1.5000] Ses02M_..."
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=rf"Ses02M_script01_1\.txt:{i + 1}: malformed turn line"):
        load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))


def test_a_text_only_copy_gives_one_short_summarising_warning(fresh_tree, tmp_path, caplog, capsys):
    """Item 19: no media at all (7,433 lines for the real IEMOCAP before): counts per modality and split, the
    first few, and the command printing the full list."""
    from mcn_cl.datasets_scripts import stats

    with caplog.at_level(logging.WARNING):
        ds = load_iemocap(fresh_tree, cache_dir=str(tmp_path / "c"))
    n = {split: sum(len(r["utterances"]) for r in ds[split]) for split in ds}
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0]
    assert len(message.splitlines()) <= 8  # not one line per file
    for modality in ("audio", "video"):
        assert (
            f"{modality} {sum(n.values())} (train {n['train']}, validation {n['validation']}, test {n['test']})"
            in message
        )
    assert f"First 5 of {2 * sum(n.values())}" in message
    assert f"mcn-cl data-stats {fresh_tree} --config 6class --list-missing" in message

    assert (
        stats.main([fresh_tree, "--config", "6class", "--list-missing", "--cache-dir", str(tmp_path / "c")])
        == 0
    )
    listed = [line for line in capsys.readouterr().out.splitlines() if line.count("\t") == 2]
    assert len(listed) == 2 * sum(n.values())
    assert "test\taudio\tSes05F_impro01_F000" in listed
