# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A restricted unpickler for the feature files this package reads (community IEMOCAP / MELD pickles, MMSA pickles).

Those files hold builtin containers and scalars, numpy arrays of numbers or fixed-size strings, and numpy scalars.
:class:`RestrictedUnpickler` builds exactly that and refuses the rest with :class:`UnsafePickleError` naming the
file. It runs on the pure-Python `pickle._Unpickler` so that every opcode passes through checks of its own:

* **Globals**: only the allow-listed names, each replaced by a checking stand-in (``numpy.ndarray`` cannot be
  called at all: arrays are built only through ``_reconstruct`` + ``__setstate__`` or ``_frombuffer``, whose
  buffer length must equal ``prod(shape) * itemsize``); ``_codecs.encode`` only with the latin-1 codec (what
  protocol 2 writes for bytes); ``bytes(N)`` / ``bytearray(N)`` refused. INST / OBJ / NEWOBJ / persistent ids are
  refused; REDUCE calls only a stand-in, BUILD applies only to an array or dtype that has not been used yet.
* **dtypes**: booleans, integers, floats, complex numbers and fixed-size strings (``b i u f c S U``); no
  pointer-bearing dtype built from bytes (structured, subarray, datetime are refused; the plain object dtype only
  in ``__setstate__`` with a list of exactly ``prod(shape)`` str / bytes / numbers, as numpy pickles an object
  array of ids or texts, never from a buffer, a scalar or ``_frombuffer``); a dtype's ``__setstate__`` must leave
  it identical (flags included) to the canonical dtype of its type string, and is refused once it is in use.
* **Memory**: a budget (``max_bytes``; default 128 MiB + 16 x the file size) charged *before* each allocation
  with the size of what it creates (containers, strings, memo entries, array buffers); reads longer than the rest
  of the file are refused before they allocate (beyond the budget: `UnsafePickleError`; else a truncated file).
* **Structure**: tuples deeper than ``max_depth`` are refused when built (hashing a deep tuple as a dict key
  recurses in C with no limit); after loading, one iterative walk refuses cycles, any nesting deeper than
  ``max_depth`` and an *expanded* size (each shared reference counted again: what converting the result to
  arrays or Arrow would materialise) over the budget.

The price: the pure-Python unpickler is slower than `pickle.load` on files of many small objects (a file of
100,000 small arrays takes several times longer); files of a few large arrays load at about the same speed
(measured on two realistic files in BENCHMARKS.md).

The parts, one concern a file: ``safe_pickle_limits.py`` (the error, the budget, the bytes charged per opcode,
the bounded file), ``safe_pickle_globals.py`` (the allow-listed globals and their stand-ins),
``safe_pickle_numpy.py`` (dtypes, arrays and scalars: the numpy stand-ins and the BUILD checks),
``safe_pickle_structure.py`` (the walk after loading); this file: the unpickler's opcode loop and
:func:`safe_load_pickle`.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import struct
from typing import Any

import numpy as np

from ._common import DatasetFormatError
from .safe_pickle_globals import AllowedGlobals
from .safe_pickle_limits import (
    _FIXED_FOR_MARKED,
    _OPCODE_COST,
    _PER_ITEM_COST,
    _REFUSED_OPCODES,
    _SIZED_OPCODES,
    _STRING_OPCODES,
    _UNICODE_OPCODES,
    DEFAULT_MAX_DEPTH,
    UnsafePickleError,
    _BoundedFile,
    _sizeof,
    default_max_bytes,
)
from .safe_pickle_numpy import NumpyReconstruction
from .safe_pickle_structure import _DICT_TYPES, check_structure

_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class RestrictedUnpickler(NumpyReconstruction, AllowedGlobals, pickle._Unpickler):
    """A pure-Python `pickle` unpickler that builds only builtin containers / scalars and numpy arrays, dtypes and
    scalars of numbers or fixed-size strings, within a memory budget and a nesting depth (see the module
    docstring). Anything else raises :class:`UnsafePickleError` naming `source` before it is built.

    Args:
        file: a binary file opened for reading.
        source: the name used in error messages (the path).
        max_bytes: the memory budget; None = :func:`default_max_bytes` of the rest of the file.
        max_depth: the deepest nesting of containers allowed.
        **kwargs: `encoding` / `errors` / `fix_imports` of `pickle.Unpickler` (latin1 for Python 2 pickles).
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(
        self,
        file: io.BufferedIOBase,
        source: str,
        max_bytes: int | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        **kwargs: Any,
    ):
        self.source = source
        size = self._remaining_size(file)
        self.max_bytes = default_max_bytes(size) if max_bytes is None else int(max_bytes)
        super().__init__(_BoundedFile(file, size, self.max_bytes, self._refuse), **kwargs)
        self.max_depth = int(max_depth)
        self.spent = 0
        self._tuple_depth: dict[int, int] = {}
        self._keep: list[Any] = []  # objects whose id() is a key in the bookkeeping below
        self._unbuilt_arrays: set[int] = set()
        self._open_dtypes: set[int] = set()  # dtypes made by the stand-in, __setstate__ still allowed
        self._sealed_dtypes: set[int] = set()  # validated dtypes in use: no more __setstate__
        self._stand_ins = self._make_stand_ins()
        self._callables = {id(f) for f in self._stand_ins.values()}

    @staticmethod
    def _remaining_size(file: Any) -> int:
        try:
            pos = file.tell()
            end = file.seek(0, os.SEEK_END)
            file.seek(pos)
            return end - pos
        except (AttributeError, OSError, ValueError):
            raise TypeError("RestrictedUnpickler needs a seekable binary file") from None

    # ---------------------------------------------------------------------------------------------- plumbing

    def _refuse(self, why: str) -> None:
        raise UnsafePickleError(f"{self.source}: {why}")

    def _charge(self, n: int, what: str) -> None:
        self.spent += n
        if self.spent > self.max_bytes:
            self._refuse(
                f"{what} would bring the memory it uses to {self.spent:,} bytes, over the budget of "
                f"{self.max_bytes:,} (max_bytes)"
            )

    def load(self) -> Any:
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        costs, per_item, fixed = _OPCODE_COST, _PER_ITEM_COST, _FIXED_FOR_MARKED
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                op = key[0]
                if op in _REFUSED_OPCODES:
                    self._refuse(f"refused opcode {_REFUSED_OPCODES[op]}: a feature pickle never needs it")
                cost = costs.get(op, 0)
                if op in per_item:
                    cost = fixed.get(op, 0) + per_item[op] * len(self.stack)
                if cost:
                    self.spent += cost
                    if self.spent > self.max_bytes:
                        self._charge(0, f"opcode {pickletools.code2op[chr(op)].name}")
                dispatch[op](self)
        except pickle._Stop as stopinst:
            return stopinst.value

    def find_class(self, module: str, name: str) -> Any:
        canonical = _PY2_MODULES.get(module, module)
        if canonical.startswith("numpy.core."):
            canonical = "numpy._core." + canonical[len("numpy.core.") :]
        stand_in = self._stand_ins.get((canonical, name))
        if stand_in is None:
            self._refuse(
                f"refused to load global '{module}.{name}': a feature pickle may only hold builtin containers, "
                "scalars and numpy arrays (this file could run code when unpickled)"
            )
        return stand_in

    # ------------------------------------------------------------------------------------- sized data opcodes

    def _load_sized(self, op: int) -> None:
        width, fmt, factor = _SIZED_OPCODES[op]
        raw = self.read(width)
        if len(raw) != width:
            raise EOFError
        (n,) = struct.unpack(fmt, raw)
        if n < 0:
            raise pickle.UnpicklingError("negative byte count")
        self._charge(80 + factor * n, f"a {n}-byte string")
        data = self.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError("pickle data was truncated")
        if op in _UNICODE_OPCODES:
            self.append(str(data, "utf-8", "surrogatepass"))
        elif op in _STRING_OPCODES:
            self.append(self._decode_string(data))
        elif op == pickle.BYTEARRAY8[0]:
            self.append(bytearray(data))
        else:
            self.append(data)

    for _op in _SIZED_OPCODES:
        dispatch[_op] = lambda self, _op=_op: self._load_sized(_op)

    def _load_then_charge(self, op: int) -> None:
        # INT / LONG / FLOAT / STRING / UNICODE (a line of text) and LONG1 / LONG4: the data is bounded by the
        # file, the object built from it by a few times its size
        pickle._Unpickler.dispatch[op](self)
        self._charge(_sizeof(self.stack[-1]), "a value")

    for _op in (
        pickle.STRING[0],
        pickle.UNICODE[0],
        pickle.LONG[0],
        pickle.LONG1[0],
        pickle.LONG4[0],
        pickle.INT[0],
    ):
        dispatch[_op] = lambda self, _op=_op: self._load_then_charge(_op)
    del _op

    # -------------------------------------------------------------------------------------------- containers

    def _depth_of(self, items) -> int:
        depth = 0
        for x in items:
            if type(x) is tuple:
                depth = max(depth, self._tuple_depth.get(id(x), 1))
        return depth + 1

    def _push_tuple(self, items) -> None:
        depth = self._depth_of(items)
        if depth > self.max_depth:
            self._refuse(f"tuples nested {depth} deep (more than max_depth={self.max_depth})")
        t = tuple(items)
        if t:
            self._tuple_depth[id(t)] = depth
            self._keep.append(t)
        self.append(t)

    def _load_tuple(self) -> None:
        self._push_tuple(self.pop_mark())

    def _load_tuple_n(self, n: int) -> None:
        if len(self.stack) < n:
            raise pickle.UnpicklingError("stack underflow")
        items = self.stack[-n:]
        del self.stack[-n:]
        self._push_tuple(items)

    dispatch[pickle.TUPLE[0]] = _load_tuple
    dispatch[pickle.TUPLE1[0]] = lambda self: self._load_tuple_n(1)
    dispatch[pickle.TUPLE2[0]] = lambda self: self._load_tuple_n(2)
    dispatch[pickle.TUPLE3[0]] = lambda self: self._load_tuple_n(3)

    def _target(self, kinds: tuple[type, ...], opcode: str) -> Any:
        target = self.stack[-1] if self.stack else None
        if type(target) not in kinds:
            self._refuse(f"{opcode} on a {type(target).__name__}: only on {[k.__name__ for k in kinds]}")
        return target

    def _load_append(self) -> None:
        value = self.stack.pop()
        self._target((list,), "APPEND").append(value)

    def _load_appends(self) -> None:
        items = self.pop_mark()
        target = self._target((list, collections.deque), "APPENDS")
        target.extend(items)

    def _load_setitem(self) -> None:
        stack = self.stack
        value = stack.pop()
        key = stack.pop()
        self._target(_DICT_TYPES, "SETITEM")[key] = value

    def _load_setitems(self) -> None:
        items = self.pop_mark()
        target = self._target(_DICT_TYPES, "SETITEMS")
        if len(items) % 2:
            raise pickle.UnpicklingError("odd number of items for SETITEMS")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _load_additems(self) -> None:
        items = self.pop_mark()
        self._target((set,), "ADDITEMS").update(items)

    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.ADDITEMS[0]] = _load_additems

    # ----------------------------------------------------------------------------------------- calls, BUILD

    def _load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        if id(func) not in self._callables:
            self._refuse(f"REDUCE calls a {type(func).__name__}: only the allow-listed globals may be called")
        if type(args) is not tuple:
            self._refuse(f"REDUCE with {type(args).__name__} arguments (a tuple is expected)")
        stack[-1] = func(*args)

    dispatch[pickle.REDUCE[0]] = _load_reduce

    def _load_build(self) -> None:
        stack = self.stack
        state = stack.pop()
        inst = stack[-1]
        key = id(inst)
        if type(inst) is np.ndarray and key in self._unbuilt_arrays:
            self._unbuilt_arrays.discard(key)
            self._set_array_state(inst, state)
        elif isinstance(inst, np.dtype) and key in self._open_dtypes:
            self._open_dtypes.discard(key)
            self._set_dtype_state(inst, state)
        else:
            self._refuse(
                f"BUILD (__setstate__) on a {type(inst).__name__} that is not a fresh numpy array or dtype"
            )

    dispatch[pickle.BUILD[0]] = _load_build


def safe_load_pickle(
    path: str | os.PathLike, max_bytes: int | None = None, max_depth: int = DEFAULT_MAX_DEPTH
) -> Any:
    """Unpickle `path` with :class:`RestrictedUnpickler` (latin1 for Python 2 pickles), then check the structure
    it built (:func:`check_structure`).

    Args:
        path: the pickle file.
        max_bytes: memory budget of the load and of the expanded result; None = 128 MiB + 16 x the file size.
        max_depth: deepest nesting of containers allowed (64).

    Raises:
        UnsafePickleError: a global, opcode, dtype or array outside what feature files hold, the budget or the
            depth exceeded; the message names the file.
        DatasetFormatError: the file is not a readable pickle.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            unpickler = RestrictedUnpickler(
                f, source=path, max_bytes=max_bytes, max_depth=max_depth, encoding="latin1"
            )
            data = unpickler.load()
        except UnsafePickleError:
            raise
        except RecursionError as e:  # pragma: no cover - depth is bounded before anything recurses
            raise UnsafePickleError(f"{path}: structure too deep ({e})") from None
        except MemoryError:
            raise UnsafePickleError(f"{path}: ran out of memory while unpickling (lower max_bytes)") from None
        except Exception as e:
            raise DatasetFormatError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
    check_structure(data, path, unpickler.max_bytes, max_depth)
    return data


__all__ = [
    "DEFAULT_MAX_DEPTH",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "check_structure",
    "default_max_bytes",
    "safe_load_pickle",
]
