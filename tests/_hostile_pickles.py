"""Crafted pickles that crashed or bombed the feature loaders (issue 18), written opcode by opcode, and a runner that
loads them in a child process under a memory limit (so a segfault or a bomb is a reported outcome, not a dead
test run). Shared by `tests/test_hostile_pickles.py` and `benchmarks/hostile_pickles.py`."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np

PLACEHOLDER = "__PAYLOAD__"


# ------------------------------------------------------------------------------------------ opcode helpers


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(s: str) -> bytes:
    data = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data


def raw(b: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(b)) + b  # BINBYTES (protocol 3)


def integer(n: int) -> bytes:
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data  # LONG1


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def call(func: bytes, *args: bytes) -> bytes:
    return func + tup(*args) + b"R"


def dtype(spec: str) -> bytes:
    return call(glob("numpy", "dtype"), text(spec))


def ndarray_call(shape: tuple[int, ...], spec: str, buffer: bytes | None = None, *rest: bytes) -> bytes:
    """`numpy.ndarray(shape, dtype(spec)[, buffer, ...])`: the raw constructor."""
    args = [tup(*(integer(n) for n in shape)), dtype(spec)]
    if buffer is not None:
        args.append(raw(buffer))
    return call(glob("numpy", "ndarray"), *args, *rest)


def reconstructed(shape: tuple[int, ...], dtype_opcodes: bytes, data: bytes) -> bytes:
    """`_reconstruct(ndarray, (0,), b"b")` then BUILD `(1, shape, dtype, False, data)`: numpy's own pickling path."""
    base = call(
        glob("numpy.core.multiarray", "_reconstruct"), glob("numpy", "ndarray"), tup(integer(0)), raw(b"b")
    )
    state = tup(integer(1), tup(*(integer(n) for n in shape)), dtype_opcodes, b"\x89", data)
    return base + state + b"b"


def embed(structure, payload: bytes) -> bytes:
    """Pickle `structure` (protocol 2, no framing) with the string PLACEHOLDER replaced by the opcodes `payload`
    (which must push exactly one object)."""
    data = pickle.dumps(structure, protocol=2)
    marker = text(PLACEHOLDER)
    assert data.count(marker) == 1, "the placeholder must appear once"
    return b"\x80\x02" + data[2:].replace(marker, payload)


def wrap(payload: bytes) -> bytes:
    return b"\x80\x03" + payload + b"."


# ------------------------------------------------------------------------------------------- structures


def feature_tuple(labels=None, text_features=None, every_dialogue: bool = False) -> tuple:
    """A minimal IEMOCAP-layout feature tuple (2 train + 1 test dialogues); `labels` / `text_features` replace
    those of dialogue "d0" (of every dialogue with `every_dialogue`: the same object, so the placeholder is pickled
    once and referenced by the others)."""
    rng = np.random.default_rng(0)
    ids, speakers, lab, txt, audio, visual, sentences = {}, {}, {}, {}, {}, {}, {}
    for vid in ("d0", "d1", "d2"):
        ids[vid] = [f"{vid}_u0", f"{vid}_u1"]
        speakers[vid] = ["M", "F"]
        lab[vid] = [0, 1]
        txt[vid] = rng.standard_normal((2, 4)).astype(np.float32)
        audio[vid] = rng.standard_normal((2, 3)).astype(np.float32)
        visual[vid] = rng.standard_normal((2, 2)).astype(np.float32)
        sentences[vid] = ["hello", "there"]
    if labels is not None:
        lab["d0"] = labels
    if text_features is not None:
        for vid in txt if every_dialogue else ["d0"]:
            txt[vid] = text_features
    return (ids, speakers, lab, txt, audio, visual, sentences, {"d0", "d1"}, {"d2"})


def mmsa_dict(labels=None) -> dict:
    """A minimal MMSA-layout pickle content (train split only)."""
    return {
        "train": {
            "id": ["v$_$1", "v$_$2"],
            "raw_text": np.array(["a b", "c d"]),
            "regression_labels": np.array([0.5, -1.0], np.float32) if labels is None else labels,
            "audio": np.zeros((2, 3, 2), np.float32),
            "audio_lengths": [2, 3],
        }
    }


# ------------------------------------------------------------------------------------------------ payloads

OBJECT_ARRAY = ndarray_call((1,), "O", b"A" * 8)  # an object array whose pointer is 0x4141414141414141


def _deep_tuple_key(depth: int = 10**6) -> bytes:
    return b"\x80\x02}" + b")" + b"\x85" * depth + b"Ns."


def _deep_list_by_mutation(depth: int = 100_000) -> bytes:
    """Lists L0..Ln, each appended into the next AFTER it is itself inside another: creation-time depth is 1."""
    out = [b"\x80\x02"]
    for i in range(depth):
        out.append(b"]r" + struct.pack("<I", i) + b"0")  # EMPTY_LIST, LONG_BINPUT i, POP
    for i in range(depth - 1, 0, -1):
        out.append(
            b"j" + struct.pack("<I", i) + b"j" + struct.pack("<I", i - 1) + b"a0"
        )  # L_i.append(L_{i-1})
    out.append(b"j" + struct.pack("<I", depth - 1) + b".")
    return b"".join(out)


def _codecs_chain(levels: int = 24) -> bytes:
    inner = call(glob("_codecs", "encode"), text("A" * 172), text("latin1"))
    for _ in range(levels):
        inner = call(glob("_codecs", "encode"), inner, text("hex"))
    return wrap(inner)


def _doubling(levels: int = 21) -> bytes:
    payload = reconstructed((256,), dtype("f4"), raw(b"\0" * 1024)) + b"r" + struct.pack("<I", 9000)
    for level in range(1, levels + 1):
        prev = struct.pack("<I", 9000 + level - 1)
        # POP the previous level, EMPTY_LIST, MARK, GET prev, GET prev, APPENDS, LONG_BINPUT level
        payload += b"0](j" + prev + b"j" + prev + b"er" + struct.pack("<I", 9000 + level)
    return payload


def _flagged_dtype() -> bytes:
    """float64 dtype whose __setstate__ sets flags=1 (NPY_ITEM_REFCOUNT): the array's floats become pointers."""
    d = (
        dtype("f8")
        + tup(integer(3), text("<"), b"N", b"N", b"N", integer(-1), integer(-1), integer(1))
        + b"b"
    )
    return reconstructed((1,), d, raw(b"A" * 8))


def _structured_state() -> bytes:
    """A 'V8' dtype given fields holding an object through __setstate__."""
    fields = b"}" + text("a") + tup(dtype("O"), integer(0)) + b"s"
    d = dtype("V8") + tup(
        integer(3), text("|"), b"N", tup(text("a")), fields, integer(8), integer(1), integer(27)
    )
    return reconstructed((1,), d + b"b", raw(b"A" * 8))


def _restated_after_use() -> bytes:
    """A dtype built, used by an array, then BUILD again to widen it (the array would read past its buffer)."""
    d = dtype("U1") + tup(integer(3), text("<"), b"N", b"N", b"N", integer(4), integer(4), integer(8)) + b"b"
    d += b"r" + struct.pack("<I", 7777)
    array = reconstructed((1,), d, raw(b"A\0\0\0"))
    widen = (
        b"j"
        + struct.pack("<I", 7777)
        + tup(integer(3), text("<"), b"N", b"N", b"N", integer(4000), integer(4), integer(8))
    )
    return b"\x80\x03" + tup(array, widen + b"b") + b"."


def payloads() -> dict[str, tuple[str, bytes]]:
    """name -> (target, file bytes). target: "feature" (load_feature_pickle), "mmsa" (load_mmsa_features) or
    "pickle" (safe_load_pickle, then repr of the result: the first touch)."""
    return {
        # issue 18, item 1: object-dtype arrays over raw bytes (segfault on first touch)
        "object_array_in_labels": ("feature", embed(feature_tuple(labels=PLACEHOLDER), OBJECT_ARRAY)),
        "object_array_in_text_features": (
            "feature",
            embed(feature_tuple(text_features=PLACEHOLDER), OBJECT_ARRAY),
        ),
        "object_array_in_mmsa_struct": ("mmsa", embed(mmsa_dict(labels=PLACEHOLDER), OBJECT_ARRAY)),
        "object_array_top_level": ("pickle", wrap(OBJECT_ARRAY)),
        "flags_setstate_makes_floats_pointers": ("pickle", wrap(_flagged_dtype())),
        "structured_dtype_with_object_field": ("pickle", wrap(_structured_state())),
        "dtype_restated_after_use": ("pickle", _restated_after_use()),
        "object_array_list_shorter_than_shape": ("pickle", wrap(reconstructed((4,), dtype("O"), b"(NNl"))),
        "object_array_holding_an_array": (
            "pickle",
            wrap(reconstructed((1,), dtype("O"), b"(" + OBJECT_ARRAY + b"l")),
        ),
        "object_array_holding_a_list": ("pickle", wrap(reconstructed((1,), dtype("O"), b"(]l"))),
        "deep_tuple_dict_key": ("pickle", _deep_tuple_key()),
        "deep_list_built_by_mutation": ("pickle", _deep_list_by_mutation()),
        "self_containing_list": ("pickle", b"\x80\x02]q\x00h\x00a."),
        # item 2: memory bombs through allowed names
        "codecs_hex_chain": ("pickle", _codecs_chain()),
        "ndarray_shape_15GB": ("pickle", wrap(ndarray_call((15 * 2**30 // 8,), "f8"))),
        "zero_stride_ndarray_1_6GB": (
            "feature",
            embed(  # every dialogue: the loader's feature-size check passes, the Arrow writer copies 1.6 GB
                feature_tuple(text_features=PLACEHOLDER, every_dialogue=True),
                ndarray_call((2, 200_000_000), "f4", b"\0" * 4, integer(0), tup(integer(0), integer(0))),
            ),
        ),
        "setstate_shape_larger_than_buffer": (
            "pickle",
            wrap(reconstructed((2**31,), dtype("f8"), raw(b"A" * 8))),
        ),
        "frombuffer_shape_larger_than_buffer": (
            "pickle",
            wrap(
                call(
                    glob("numpy.core.numeric", "_frombuffer"),
                    raw(b"A" * 8),
                    dtype("f8"),
                    tup(integer(2**28)),
                    text("C"),
                )
            ),
        ),
        "shared_references_doubling_2GB": (
            "feature",
            embed(feature_tuple(text_features=PLACEHOLDER), _doubling()),
        ),
        "empty_set_spam": ("pickle", b"\x80\x04" + b"\x8f\x94" * 1_000_000 + b"."),
        "binbytes8_claims_1TB": ("pickle", b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"."),
        "bytearray8_claims_1TB": ("pickle", b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b"."),
        "frame_claims_1TB": ("pickle", b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N."),
        "bytearray_by_size": ("pickle", wrap(call(glob("builtins", "bytearray"), integer(2**30)))),
        "str_of_a_large_list": (
            "pickle",
            wrap(call(glob("builtins", "str"), b"]" + b"(" + b"N" * 1000 + b"e")),
        ),
    }


# ----------------------------------------------------------------------------------------------- the child

CHILD = r"""
import json, os, resource, sys, time
import mcn_cl.datasets_scripts as ds

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

limit = int(sys.argv[1])
vm = status("VmSize")
resource.setrlimit(resource.RLIMIT_AS, (vm + limit, vm + limit))
for line in sys.stdin:
    name, target, path, cache = json.loads(line)
    try:
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak RSS (VmHWM) to the current RSS
            f.write("5")
        measured = True
    except OSError:  # no per-load peak on this system
        measured = False
    base = status("VmRSS")
    start = time.perf_counter()
    try:
        if target == "feature":
            result = ds.load_feature_pickle(path, cache_dir=cache)
        elif target == "mmsa":
            result = ds.load_mmsa_features(path, "mosi", cache_dir=cache)
        else:
            result = ds.safe_load_pickle(path)
        repr(result)  # the first touch
        outcome, message = "loaded", ""
    except ds.UnsafePickleError as e:
        outcome, message = "UnsafePickleError", str(e)
    except BaseException as e:
        outcome, message = type(e).__name__, str(e)[:500]
    seconds = round(time.perf_counter() - start, 2)
    peak = max(status("VmHWM") - base, 0) if measured else None
    print(json.dumps({"name": name, "outcome": outcome, "message": message[:500], "peak_rss_bytes": peak,
                      "seconds": seconds}), flush=True)
"""


def run_in_child(
    items: list[tuple[str, str, str, str]], limit_bytes: int = 2**30, timeout: float = 900
) -> dict[str, dict]:
    """Load each `(name, target, path, cache_dir)` in a child process whose RLIMIT_AS is its size after imports +
    `limit_bytes`, one after the other. A payload that kills the child gets the outcome "killed (exit code N)"
    (-11: segfault) and a fresh child goes on with the rest. Returns `{name: {outcome, message,
    peak_rss_bytes}}`; the peak is the growth of the child's peak RSS during that load."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    results: dict[str, dict] = {}
    todo = list(items)
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(limit_bytes)],
            input="".join(json.dumps(list(item)) + "\n" for item in todo),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                results[record["name"]] = record
        left = [item for item in todo if item[0] not in results]
        if left and proc.returncode == 0:
            raise RuntimeError(f"the child stopped early without an error: {proc.stderr[-2000:]}")
        if left:
            results[left[0][0]] = {
                "name": left[0][0],
                "outcome": f"killed (exit code {proc.returncode})",
                "message": proc.stderr[-500:],
                "peak_rss_bytes": None,
                "seconds": None,
            }
            left = left[1:]
        todo = left
    return results


def write_payloads(folder: str) -> list[tuple[str, str, str, str]]:
    """Write every payload under `folder`; return the child's work items."""
    os.makedirs(folder, exist_ok=True)
    items = []
    for name, (target, data) in payloads().items():
        path = os.path.join(folder, f"{name}.pkl")
        with open(path, "wb") as f:
            f.write(data)
        items.append((name, target, path, os.path.join(folder, "cache")))
    return items
