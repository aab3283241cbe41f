"""The restricted unpickler against crafted pickles (issue 18, items 1-2): each payload is loaded by the loader it
targets in a child process under a memory limit, so a segfault or a bomb is a failed test, not a dead run. Plus
in-process checks that legitimate pickles of every protocol and numpy dtype still load."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from _fixtures_datasets import make_feature_pickle
from _fixtures_mcihn import make_mmsa_pickle
from _hostile_pickles import payloads, run_in_child, write_payloads

from mcn_cl.datasets_scripts import (
    DatasetFormatError,
    RestrictedUnpickler,
    UnsafePickleError,
    safe_load_pickle,
)
from mcn_cl.datasets_scripts.safe_pickle import check_structure, default_max_bytes

LIMIT = 2**30  # address space the child may add after its imports

PAYLOAD_NAMES = list(payloads())


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """One child loads every payload, then two legitimate files, under RLIMIT_AS = its size + 1 GiB."""
    folder = tmp_path_factory.mktemp("hostile")
    items = write_payloads(str(folder))
    make_feature_pickle(str(folder / "legit_features.pkl"), "iemocap", sizes=(16, 12, 8))
    make_mmsa_pickle(str(folder / "legit_mmsa.pkl"))
    items.append(("legit_features", "feature", str(folder / "legit_features.pkl"), str(folder / "cache")))
    items.append(("legit_mmsa", "mmsa", str(folder / "legit_mmsa.pkl"), str(folder / "cache")))
    return {name: (path, record) for (name, _, path, _), record in zip(items, _ordered(items))}


def _ordered(items):
    results = run_in_child(items, limit_bytes=LIMIT)
    return [results[name] for name, *_ in items]


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_crafted_pickle_ends_in_unsafe_pickle_error_naming_the_file(outcomes, name):
    path, record = outcomes[name]
    assert record["outcome"] == "UnsafePickleError", record
    assert record["message"].startswith(path + ":"), record["message"]
    # the budget is checked before allocating: the load never grows the child past the file's default budget
    if record["peak_rss_bytes"] is not None:  # None: the system cannot reset the peak RSS
        assert record["peak_rss_bytes"] <= default_max_bytes(os.path.getsize(path)), record


@pytest.mark.parametrize("name", ["legit_features", "legit_mmsa"])
def test_legitimate_files_load_in_the_same_limited_child(outcomes, name):
    assert outcomes[name][1]["outcome"] == "loaded", outcomes[name][1]


# ----------------------------------------------------------------------------------- in-process, legitimate


def _load(data: bytes, **kwargs):
    return RestrictedUnpickler(io.BytesIO(data), source="mem.pkl", encoding="latin1", **kwargs).load()


LEGIT = [
    np.arange(6).astype(d).reshape(2, 3) for d in "f2 f4 f8 g i1 i2 i4 i8 u1 u2 u4 u8 c8 c16 b1".split()
] + [
    np.array(["ab", "c"]),
    np.array(["raw text", "as objects", None, 3], dtype=object),  # MMSA raw_text / id may be object arrays
    np.array([b"x", b"yz"]),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.array(3.5),
    np.zeros((0, 4), np.float32),
    np.arange(10.0)[::2],
    np.arange(4, dtype=">i4"),
    np.float32(2.5),
    np.int64(7),
    np.bool_(True),
    np.str_("hi"),
    {1, 2},
    frozenset({3}),
    bytearray(b"ab"),
    b"\x00\xff",
    2**100,
    1.5,
    1j,
    None,
    "é",
    (1, (2,)),
    {"a": [1]},
]


@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol_and_plain_dtype_loads_as_stock_pickle_does(protocol):
    data = pickle.dumps(LEGIT, protocol=protocol)
    for ours, ref in zip(_load(data), pickle.loads(data)):
        assert type(ours) is type(ref)
        if isinstance(ref, (np.ndarray, np.generic)):
            assert ours.dtype == ref.dtype and ours.shape == ref.shape and ours.tolist() == ref.tolist()
        else:
            assert ours == ref


def test_python2_array_data_as_latin1_text_loads():
    from _hostile_pickles import dtype, reconstructed

    values = np.arange(3.0)
    data = values.tobytes()  # py2 `str`: SHORT_BINSTRING, decoded latin1 by the unpickler
    blob = b"\x80\x02" + reconstructed((3,), dtype("f8"), b"U" + bytes([len(data)]) + data) + b"."
    np.testing.assert_array_equal(_load(blob), values)


def test_budget_is_configurable_and_named(tmp_path):
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({"x": np.zeros(300_000, np.float32)}, protocol=4))  # 1.2 MB of array
    assert safe_load_pickle(path)["x"].shape == (300_000,)
    with pytest.raises(UnsafePickleError, match=r"big\.pkl: .* over the budget of 1,000,000 \(max_bytes\)"):
        safe_load_pickle(path, max_bytes=1_000_000)


def test_depth_limit_counts_nesting_not_size():
    nested = [1]
    for _ in range(60):
        nested = [nested]
    assert _load(pickle.dumps(nested, protocol=4)) == nested
    deep = (1,)
    for _ in range(80):
        deep = (deep,)
    with pytest.raises(UnsafePickleError, match=r"mem\.pkl: tuples nested 65 deep"):
        _load(pickle.dumps({deep: 1}, protocol=2))
    with pytest.raises(UnsafePickleError, match="max_depth=4"):
        check_structure([[[[[[]]]]]] * 1, "mem.pkl", 10**6, max_depth=4)


def test_shared_references_are_counted_once_per_appearance():
    shared = np.zeros(1000, np.float64)  # 8 KB, referenced 200 times: 1.6 MB once expanded
    data = pickle.dumps([shared] * 200, protocol=4)
    assert len(data) < 10_000
    assert check_structure(pickle.loads(data), "m", 10**7) > 200 * 8000
    with pytest.raises(
        UnsafePickleError, match=r"m: the structure expands to .* over the budget of 1,000,000"
    ):
        check_structure(pickle.loads(data), "m", 10**6)


def test_a_truncated_pickle_is_a_format_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"x": np.arange(100)}, protocol=4)[:-30])
    with pytest.raises(DatasetFormatError, match=r"cut\.pkl: not a readable pickle"):
        safe_load_pickle(path)


@pytest.mark.parametrize(
    "blob, match",
    [
        (b"\x80\x02cbuiltins\nlist\n)R(K\x01K\x02o.", "OBJ"),
        (b"\x80\x02cbuiltins\nset\n]\x85\x81.", "NEWOBJ"),
        (b"\x80\x02K\x01)R.", r"REDUCE calls a int"),
        (b"\x80\x02cbuiltins\nlist\nX\x03\x00\x00\x00abc\x85R.", "list"),
        (b"\x80\x02K\x00K\x01K\x02s.", "SETITEM on a int"),
        (b"\x80\x02]}b.", "BUILD"),
    ],
)
def test_opcodes_feature_files_never_need_are_refused(blob, match):
    with pytest.raises(UnsafePickleError, match=match):
        _load(blob)
