"""Community feature pickles: published tuple layouts, restricted unpickling."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from _fixtures_datasets import make_feature_pickle

from mcn_cl.datasets_scripts import (
    DatasetFormatError,
    UnsafePickleError,
    feature_sizes,
    label_names,
    load_feature_pickle,
    safe_load_pickle,
)


@pytest.fixture(scope="module")
def iemocap(tmp_path_factory):
    d = tmp_path_factory.mktemp("pkl")
    path = str(d / "IEMOCAP_features.pkl")
    fields = make_feature_pickle(path, "iemocap", sizes=(100, 1582, 342))
    return path, fields, load_feature_pickle(path, dataset="iemocap", cache_dir=str(d / "cache"))


@pytest.fixture(scope="module")
def meld(tmp_path_factory):
    d = tmp_path_factory.mktemp("pkl")
    path = str(d / "MELD_features.pkl")
    fields = make_feature_pickle(path, "meld", sizes=(600, 300, 512), protocol=2)
    return path, fields, load_feature_pickle(path, dataset="meld", cache_dir=str(d / "cache"))


def test_iemocap_rows_hold_the_file_content(iemocap):
    _, fields, ds = iemocap
    rows = {r["dialogue_id"]: r for split in ds.values() for r in split.with_format("numpy")}
    assert set(rows) == set(fields["videoIDs"])
    for vid, row in rows.items():
        assert list(row["speakers"]) == fields["videoSpeakers"][vid]
        assert list(row["labels"]) == fields["videoLabels"][vid]
        assert list(row["texts"]) == fields["videoSentence"][vid]
        np.testing.assert_allclose(row["text_features"], fields["videoText"][vid])
        np.testing.assert_allclose(row["audio_features"], np.stack(fields["videoAudio"][vid]))
        np.testing.assert_allclose(row["visual_features"], fields["videoVisual"][vid], rtol=1e-6)
        assert row["text_features"].dtype == np.float32


def test_feature_sizes_are_read_from_the_data(iemocap, meld):
    assert feature_sizes(iemocap[2]) == {"text": 100, "audio": 1582, "visual": 342}
    assert feature_sizes(meld[2]) == {"text": 600, "audio": 300, "visual": 512}


def test_validation_is_a_seeded_tenth_of_train_and_test_is_testvid(iemocap):
    _, fields, ds = iemocap
    train, val = set(ds["train"]["dialogue_id"]), set(ds["validation"]["dialogue_id"])
    assert train | val == set(fields["trainVid"]) and not train & val
    assert len(val) == 1  # round(0.1 * 12)
    assert set(ds["test"]["dialogue_id"]) == set(fields["testVid"])


def test_label_names_follow_each_corpus_order(iemocap, meld):
    assert label_names(iemocap[2]) == ["hap", "sad", "neu", "ang", "exc", "fru"]
    assert label_names(meld[2]) == ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]


def test_meld_one_hot_speakers_become_indices_and_train_is_split(meld):
    _, fields, ds = meld
    row = ds["test"][0]
    vid = int(row["dialogue_id"])
    assert row["speakers"] == [str(int(np.argmax(v))) for v in fields["videoSpeakers"][vid]]
    assert len(ds["validation"]) == 2 and len(ds["train"]) == 18 and len(ds["test"]) == 3


def test_layout_is_inferred_from_tuple_length(meld, tmp_path):
    ds = load_feature_pickle(meld[0], cache_dir=str(tmp_path))
    assert label_names(ds)[0] == "neutral"


def test_wrong_tuple_length_raises_naming_the_layout(meld, tmp_path):
    with pytest.raises(DatasetFormatError, match="iemocap feature layout is a 9-tuple"):
        load_feature_pickle(meld[0], dataset="iemocap", cache_dir=str(tmp_path))


def test_mismatched_lengths_raise_naming_the_dialogue(tmp_path):
    path = str(tmp_path / "bad.pkl")
    fields = make_feature_pickle(path, "iemocap")
    vid = sorted(fields["testVid"])[0]
    fields["videoAudio"][vid] = fields["videoAudio"][vid][:-1]
    with open(path, "wb") as f:
        pickle.dump(tuple(fields.values()), f)
    with pytest.raises(DatasetFormatError, match=rf"dialogue '{vid}' videoAudio: expected shape"):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))


def test_label_outside_the_classes_raises(tmp_path):
    path = str(tmp_path / "bad.pkl")
    fields = make_feature_pickle(path, "iemocap")
    vid = sorted(fields["trainVid"])[0]
    fields["videoLabels"][vid][0] = 6
    with open(path, "wb") as f:
        pickle.dump(tuple(fields.values()), f)
    with pytest.raises(DatasetFormatError, match=r"label\(s\) \[6\] outside 0..5"):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))


def test_numpy_1_module_names_of_old_pickles_are_admitted(tmp_path):
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = pickle.dumps({"x": arr, "s": {1, 2}}, protocol=2).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in data and b"__builtin__" in data  # as in Python 2 / numpy 1 files
    path = tmp_path / "old.pkl"
    path.write_bytes(data)
    loaded = safe_load_pickle(path)
    np.testing.assert_array_equal(loaded["x"], arr)
    assert loaded["s"] == {1, 2}


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(({"a": _Evil(marker)},), protocol=protocol))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: refused to load global '(posix|os|nt)\.system'"):
        load_feature_pickle(path, cache_dir=str(tmp_path / "c"))
    assert not marker.exists()


def test_builtin_eval_is_refused(tmp_path):
    path = tmp_path / "eval.pkl"
    # GLOBAL builtins.eval, then call it on a string: what `pickle.loads` would run
    path.write_bytes(b"cbuiltins\neval\n(V__import__('os').getcwd()\ntR.")
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        safe_load_pickle(path)


def test_rows_collate_into_padded_model_inputs(iemocap):
    from mcn_cl import MCNCLDataCollator

    split = iemocap[2]["train"]
    rows = [split[0], split[1]]  # the Trainer's default (python) format
    n = max(len(r["labels"]) for r in rows)
    batch = MCNCLDataCollator()(rows)
    assert tuple(batch["text_features"].shape) == (2, n, 100)
    assert tuple(batch["audio_features"].shape) == (2, n, 1582)
    assert tuple(batch["visual_features"].shape) == (2, n, 342)
    assert batch["labels"][0, : len(rows[0]["labels"])].tolist() == rows[0]["labels"]
    assert batch["utterance_mask"].sum().item() == sum(len(r["labels"]) for r in rows)


@pytest.mark.parametrize("module", ["__builtin__", "builtins"])
@pytest.mark.parametrize("name", ["bytes", "bytearray"])
def test_allocation_by_size_is_refused(tmp_path, module, name):
    """Issue 10, item 16: a 35-byte pickle calling bytearray(2**29) allocated 512 MB."""
    path = tmp_path / "alloc.pkl"
    path.write_bytes(f"c{module}\n{name}\n(J".encode() + (2**29).to_bytes(4, "little") + b"tR.")
    with pytest.raises(UnsafePickleError, match=rf"alloc\.pkl: refused {name}\(536870912\)"):
        safe_load_pickle(path)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_bytes_and_bytearrays_built_from_data_still_load(tmp_path, protocol):
    import pickle

    import numpy as np

    value = {"b": b"\x00\xffabc", "ba": bytearray(b"xyz"), "a": np.arange(4)}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    loaded = safe_load_pickle(path)
    assert loaded["b"] == value["b"] and loaded["ba"] == value["ba"] and type(loaded["ba"]) is bytearray
    assert loaded["a"].tolist() == [0, 1, 2, 3]
