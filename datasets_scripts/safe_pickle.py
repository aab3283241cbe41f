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
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import re
import struct
import sys
from typing import Any

import numpy as np

from ._common import DatasetFormatError

DEFAULT_MEMORY_FLOOR = 128 * 2**20
DEFAULT_MEMORY_FACTOR = 16
DEFAULT_MAX_DEPTH = 64
_MAX_NDIM = 32
_MAX_ITEMSIZE = 2**24
_SAFE_KINDS = frozenset("biufcSU")
_DTYPE_SPEC = re.compile(r"^[<>|=]?[?a-zA-Z]\d{0,8}$")
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_CONTAINERS = (list, tuple, dict, set, frozenset)
_PLAIN_VALUES = (str, bytes, int, float, bool, complex, type(None))


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something the feature files never need: a global outside the allow-list (it could run
    code), an object or pointer-bearing dtype, an array whose buffer does not match its shape, an allocation over
    the memory budget, or a structure nested too deep. The message names the file."""


def default_max_bytes(file_size: int) -> int:
    """The default memory budget of a file of `file_size` bytes: 128 MiB + 16 x its size."""
    return DEFAULT_MEMORY_FLOOR + DEFAULT_MEMORY_FACTOR * int(file_size)


class _BoundedFile:
    """The file object given to the unpickler: a read longer than the rest of the file is refused before anything
    is allocated for it (a 9-byte opcode may announce 2**63 bytes)."""

    def __init__(self, f: io.BufferedIOBase, size: int, max_bytes: int, fail):
        self._f, self._left, self._max_bytes, self._fail = f, size, max_bytes, fail

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        if n > self._left:
            self._short(n)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def readinto(self, buf) -> int:
        n = len(memoryview(buf).cast("B"))
        if n > self._left:
            self._short(n)
        got = self._f.readinto(buf)
        self._left -= got
        return got

    def _short(self, n: int) -> None:
        """A read past the end: a truncated file, or (beyond the budget) a length crafted to allocate."""
        if n > self._max_bytes:
            self._fail(f"an opcode asks to read {n:,} bytes (over the budget), only {self._left:,} are left")
        raise pickle.UnpicklingError(f"truncated: an opcode needs {n} bytes, only {self._left} are left")

    def readline(self) -> bytes:
        line = self._f.readline(self._left)
        self._left -= len(line)
        return line


def _sizeof(obj: Any) -> int:
    """Bytes held by one object, not counting the objects it refers to."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:  # plain values only (checked when built)
            return 112 + obj.nbytes + sum(sys.getsizeof(x) for x in obj.flat)
        return 112 + obj.nbytes
    return sys.getsizeof(obj)


# Bytes charged for the object an opcode creates, beyond its data (64-bit CPython: an empty list is 56 bytes, a
# dict 64, a set 216, a float 24, an int 28+; each stack / container slot 8; memo entries ~100).
_OPCODE_COST = {
    pickle.MARK[0]: 72,
    pickle.EMPTY_LIST[0]: 64,
    pickle.EMPTY_DICT[0]: 240,
    pickle.EMPTY_SET[0]: 224,
    pickle.EMPTY_TUPLE[0]: 8,
    pickle.NONE[0]: 8,
    pickle.NEWTRUE[0]: 8,
    pickle.NEWFALSE[0]: 8,
    pickle.BININT[0]: 40,
    pickle.BININT1[0]: 40,
    pickle.BININT2[0]: 40,
    pickle.BINFLOAT[0]: 32,
    pickle.FLOAT[0]: 32,
    pickle.INT[0]: 40,
    pickle.LONG[0]: 40,
    pickle.LONG1[0]: 40,
    pickle.LONG4[0]: 40,
    pickle.BINGET[0]: 8,
    pickle.LONG_BINGET[0]: 8,
    pickle.GET[0]: 8,
    pickle.DUP[0]: 8,
    pickle.BINPUT[0]: 104,
    pickle.LONG_BINPUT[0]: 104,
    pickle.PUT[0]: 104,
    pickle.MEMOIZE[0]: 104,
    pickle.TUPLE1[0]: 168,  # + 112: the depth bookkeeping of each tuple
    pickle.TUPLE2[0]: 176,
    pickle.TUPLE3[0]: 184,
    pickle.APPEND[0]: 16,
    pickle.SETITEM[0]: 104,
    pickle.GLOBAL[0]: 64,
    pickle.STACK_GLOBAL[0]: 64,
}
_PER_ITEM_COST = {  # mark-based opcodes: per item taken from the stack
    pickle.APPENDS[0]: 16,
    pickle.SETITEMS[0]: 52,  # per key or value: 104 per dict entry
    pickle.ADDITEMS[0]: 72,
    pickle.TUPLE[0]: 8,
    pickle.LIST[0]: 16,
    pickle.DICT[0]: 52,
    pickle.FROZENSET[0]: 72,
}
_FIXED_FOR_MARKED = {
    pickle.TUPLE[0]: 160,
    pickle.LIST[0]: 64,
    pickle.DICT[0]: 240,
    pickle.FROZENSET[0]: 224,
}
_UNICODE_OPCODES = frozenset({pickle.SHORT_BINUNICODE[0], pickle.BINUNICODE[0], pickle.BINUNICODE8[0]})
_STRING_OPCODES = frozenset({pickle.SHORT_BINSTRING[0], pickle.BINSTRING[0]})
_REFUSED_OPCODES = {
    pickle.INST[0]: "INST (instantiates a class)",
    pickle.OBJ[0]: "OBJ (instantiates a class)",
    pickle.NEWOBJ[0]: "NEWOBJ (instantiates a class)",
    pickle.NEWOBJ_EX[0]: "NEWOBJ_EX (instantiates a class)",
    pickle.PERSID[0]: "PERSID (persistent id)",
    pickle.BINPERSID[0]: "BINPERSID (persistent id)",
    pickle.EXT1[0]: "EXT1 (extension registry)",
    pickle.EXT2[0]: "EXT2 (extension registry)",
    pickle.EXT4[0]: "EXT4 (extension registry)",
    pickle.NEXT_BUFFER[0]: "NEXT_BUFFER (out-of-band buffer)",
    pickle.READONLY_BUFFER[0]: "READONLY_BUFFER (out-of-band buffer)",
}
# Opcodes followed by a length then that many data bytes: (size of the length field, struct format, factor):
# the object they create holds up to `factor` bytes per data byte (str: UCS-4) plus ~80 bytes of header.
_SIZED_OPCODES = {
    pickle.SHORT_BINUNICODE[0]: (1, "<B", 4),
    pickle.BINUNICODE[0]: (4, "<I", 4),
    pickle.BINUNICODE8[0]: (8, "<Q", 4),
    pickle.SHORT_BINBYTES[0]: (1, "<B", 1),
    pickle.BINBYTES[0]: (4, "<I", 1),
    pickle.BINBYTES8[0]: (8, "<Q", 1),
    pickle.BYTEARRAY8[0]: (8, "<Q", 1),
    pickle.SHORT_BINSTRING[0]: (1, "<B", 4),
    pickle.BINSTRING[0]: (4, "<i", 4),
}


class RestrictedUnpickler(pickle._Unpickler):
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

    # ------------------------------------------------------------------------------------------ numpy checks

    def _check_dtype(self, dtype: Any, where: str, allow_object: bool = False) -> np.dtype:
        """A dtype safe to build an array from (and sealed: no later __setstate__ may change it). The object dtype
        only where `allow_object` (the array __setstate__ path, whose items are then checked one by one)."""
        if not isinstance(dtype, np.dtype):
            self._refuse(f"{where}: expected a numpy dtype, got {type(dtype).__name__}")
        key = id(dtype)
        if key in self._open_dtypes:  # used before its state was set: seal it as it is
            self._open_dtypes.discard(key)
        if key not in self._sealed_dtypes:
            self._validate_dtype(dtype, where, allow_object=True)
            self._sealed_dtypes.add(key)
            self._keep.append(dtype)
        if dtype.hasobject and not allow_object:
            self._refuse(
                f"{where}: refused the object dtype here (only arrays of plain values may hold objects)"
            )
        return dtype

    def _validate_dtype(self, dtype: np.dtype, where: str, allow_object: bool = False) -> None:
        if allow_object and dtype.kind == "O":
            plain = np.dtype("O")
            if dtype == plain and dtype.flags == plain.flags and dtype.names is None and not dtype.metadata:
                return
        if (
            dtype.kind not in _SAFE_KINDS
            or dtype.hasobject
            or dtype.names is not None
            or dtype.subdtype is not None
            or dtype.metadata
        ):
            self._refuse(
                f"{where}: refused dtype {dtype!s} (flags {dtype.flags}): feature files hold numbers and strings "
                "only (no pointer-bearing, structured or datetime dtype)"
            )
        canonical = np.dtype(dtype.str)
        if (
            dtype != canonical
            or dtype.flags != canonical.flags
            or dtype.itemsize != canonical.itemsize
            or dtype.alignment != canonical.alignment
        ):
            self._refuse(
                f"{where}: dtype {dtype.str} does not match its canonical form (flags {dtype.flags})"
            )
        if dtype.itemsize > _MAX_ITEMSIZE or (dtype.kind in "SU" and dtype.itemsize == 0):
            self._refuse(f"{where}: refused dtype {dtype.str} (item size {dtype.itemsize})")

    def _set_dtype_state(self, dtype: np.dtype, state: Any) -> None:
        if (
            type(state) is not tuple
            or len(state) not in (8, 9)
            or state[0] not in (3, 4)
            or state[1] not in ("<", ">", "|", "=")
            or any(x is not None for x in state[2:5])
            or not all(type(x) is int for x in state[5:8])
            or (len(state) == 9 and state[8] is not None)
        ):
            self._refuse(f"dtype state {state!r:.200} is not that of a plain number or string dtype")
        if state[5] > _MAX_ITEMSIZE:
            self._refuse(f"dtype state asks for an item size of {state[5]}")
        dtype.__setstate__(state)
        self._check_dtype(dtype, "dtype state", allow_object=True)

    def _shape(self, shape: Any, where: str) -> tuple[int, ...]:
        if (
            type(shape) is not tuple
            or len(shape) > _MAX_NDIM
            or any(type(n) is not int or n < 0 for n in shape)
        ):
            self._refuse(f"{where}: shape {shape!r:.200} is not a tuple of at most {_MAX_NDIM} sizes >= 0")
        return shape

    def _buffer(self, data: Any, where: str) -> Any:
        if type(data) not in (bytes, bytearray, str):
            self._refuse(f"{where}: array data is a {type(data).__name__}, not a bytes buffer")
        return data

    def _check_buffer(self, shape: tuple[int, ...], dtype: np.dtype, data: Any, where: str) -> None:
        count = 1
        for n in shape:
            count *= n
        nbytes = count * dtype.itemsize
        if len(data) != nbytes:
            self._refuse(
                f"{where}: shape {list(shape)} x {dtype.itemsize}-byte items needs {nbytes} bytes, the buffer "
                f"holds {len(data)}"
            )
        self._charge(112 + nbytes, f"an array of shape {list(shape)} ({dtype.str})")

    def _set_array_state(self, array: np.ndarray, state: Any) -> None:
        if type(state) is not tuple or len(state) not in (4, 5):
            self._refuse(f"array state {state!r:.200} is not (version, shape, dtype, fortran, data)")
        if len(state) == 5:
            if state[0] != 1 or type(state[0]) is not int:
                self._refuse(f"array state version {state[0]!r:.50}")
            state = state[1:]
        shape, dtype, fortran, data = state
        where = "array state"
        shape = self._shape(shape, where)
        dtype = self._check_dtype(dtype, where, allow_object=True)
        if type(fortran) not in (bool, int):
            self._refuse(f"{where}: fortran flag {fortran!r:.50}")
        if dtype.hasobject:  # numpy fills it from a list: exactly one plain value per element
            count = 1
            for n in shape:
                count *= n
            if type(data) is not list or len(data) != count:
                self._refuse(
                    f"{where}: an object array of shape {list(shape)} needs a list of {count} values, got "
                    f"{type(data).__name__} of {len(data) if type(data) is list else '?'}"
                )
            odd = next(
                (
                    x
                    for x in data
                    if type(x) not in _PLAIN_VALUES
                    and not (isinstance(x, np.generic) and x.dtype.kind in _SAFE_KINDS)
                ),
                None,
            )
            if odd is not None:
                self._refuse(
                    f"{where}: an object array may hold str / bytes / numbers only, not {type(odd).__name__}"
                )
            self._charge(112 + 8 * count, f"an object array of shape {list(shape)}")
        else:
            self._check_buffer(shape, dtype, self._buffer(data, where), where)
        array.__setstate__((1, shape, dtype, bool(fortran), data))

    def _make_stand_ins(self) -> dict[tuple[str, str], Any]:
        refuse, charge = self._refuse, self._charge
        from numpy._core import multiarray, numeric

        def ndarray(*args, **kwargs):
            refuse(
                "refused numpy.ndarray(...) called directly (it builds an array over any buffer, shape and "
                "strides); arrays are only built through _reconstruct + __setstate__ or _frombuffer"
            )

        def _reconstruct(subtype, shape, code):
            if subtype is not ndarray or shape != (0,) or code not in (b"b", "b"):
                refuse(
                    f"_reconstruct({getattr(subtype, '__name__', subtype)!s:.50}, {shape!r:.50}, {code!r:.20})"
                )
            charge(512, "_reconstruct")  # an empty array and its bookkeeping
            array = multiarray._reconstruct(np.ndarray, (0,), b"b")
            self._unbuilt_arrays.add(id(array))
            self._keep.append(array)
            return array

        def _frombuffer(buf, dtype, shape, order):
            where = "_frombuffer"
            shape = self._shape(shape, where)
            dtype = self._check_dtype(dtype, where)
            if type(buf) not in (bytes, bytearray) or order not in ("C", "F"):
                refuse(f"{where}: buffer {type(buf).__name__}, order {order!r:.20}")
            self._check_buffer(shape, dtype, buf, where)
            return numeric._frombuffer(buf, dtype, shape, order)

        def dtype(spec, align=False, copy=False):
            if type(spec) is bytes:
                spec = spec.decode("latin-1")
            if type(spec) is not str or not _DTYPE_SPEC.match(spec) or type(align) not in (bool, int):
                refuse(f"refused numpy.dtype({spec!r:.50}): only plain number and string type codes")
            charge(1024, "numpy.dtype")  # a dtype copy and its bookkeeping
            try:
                made = np.dtype(spec, bool(align), True)
            except TypeError as err:
                raise pickle.UnpicklingError(f"numpy.dtype({spec!r}): {err}") from None
            self._validate_dtype(made, "numpy.dtype", allow_object=True)
            self._open_dtypes.add(id(made))
            self._keep.append(made)
            return made

        def scalar(dtype, data=None):
            where = "numpy scalar"
            dtype = self._check_dtype(dtype, where)
            self._buffer(data, where)
            if len(data) != dtype.itemsize:
                refuse(f"{where}: {len(data)} bytes for a {dtype.itemsize}-byte {dtype.str}")
            charge(64 + dtype.itemsize, where)
            return multiarray.scalar(dtype, data)

        def encode(obj, encoding="utf-8", errors="strict"):
            if type(obj) is not str or encoding not in ("latin1", "latin-1") or errors != "strict":
                refuse(
                    f"refused _codecs.encode({type(obj).__name__}, {encoding!r:.30}): only str to latin-1 (how "
                    "protocol 2 stores bytes)"
                )
            charge(40 + len(obj), "_codecs.encode")
            return obj.encode("latin-1")

        def sized(kind: type):
            def build(*args):
                if len(args) > 3:
                    refuse(f"{kind.__name__}() with {len(args)} arguments")
                if args and type(args[0]) is int:
                    refuse(f"refused {kind.__name__}({args[0]}): a pickle may not allocate by size")
                if args and type(args[0]) not in (str, bytes, bytearray, list, tuple):
                    refuse(f"{kind.__name__}() of a {type(args[0]).__name__}")
                charge(64 + (len(args[0]) if args else 0), kind.__name__)
                return kind(*args)

            build.__name__ = kind.__name__
            return build

        def collection(kind: type, per_item: int):
            def build(*args):
                if len(args) > 1 or (args and type(args[0]) not in _CONTAINERS):
                    refuse(
                        f"{kind.__name__}() of {[type(a).__name__ for a in args]} (a container is expected)"
                    )
                items = args[0] if args else ()
                charge(240 + per_item * len(items), kind.__name__)
                if kind is tuple:
                    self._push_tuple(list(items))
                    return self.stack.pop()
                return kind(items)

            build.__name__ = kind.__name__
            return build

        def scalar_type(kind: type):
            def build(*args):
                if len(args) > 2 or any(type(a) not in (str, bytes, int, float, bool, complex) for a in args):
                    refuse(f"{kind.__name__}() of {[type(a).__name__ for a in args]}")
                if kind is str and args and type(args[0]) is not str:
                    refuse(f"str() of a {type(args[0]).__name__} (only of a str)")
                charge(64 + 4 * sum(len(a) for a in args if type(a) in (str, bytes)), kind.__name__)
                return kind(*args)

            build.__name__ = kind.__name__
            return build

        def ordered_dict(*args):
            if args:
                refuse("OrderedDict() with arguments (protocol 2 fills it with SETITEMS)")
            charge(400, "OrderedDict")
            return collections.OrderedDict()

        def default_dict(factory=None, *rest):
            if rest or factory not in (
                None,
                *(stand_ins[("builtins", n)] for n in ("list", "dict", "int", "set")),
            ):
                refuse("defaultdict() with a factory other than list / dict / int / set")
            charge(400, "defaultdict")
            real = {None: None}.get(factory, getattr(factory, "_real", None))
            return collections.defaultdict(real)

        def deque(items=(), maxlen=None):
            if type(items) not in _CONTAINERS or (maxlen is not None and type(maxlen) is not int):
                refuse("deque() of something other than a container")
            charge(640 + 8 * len(items), "deque")
            return collections.deque(items, maxlen)

        stand_ins: dict[tuple[str, str], Any] = {
            ("numpy", "ndarray"): ndarray,
            ("numpy", "dtype"): dtype,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "scalar"): scalar,
            ("numpy._core.numeric", "_frombuffer"): _frombuffer,
            ("_codecs", "encode"): encode,
            ("builtins", "bytes"): sized(bytes),
            ("builtins", "bytearray"): sized(bytearray),
            ("builtins", "list"): collection(list, 16),
            ("builtins", "tuple"): collection(tuple, 8),
            ("builtins", "set"): collection(set, 72),
            ("builtins", "frozenset"): collection(frozenset, 72),
            ("builtins", "dict"): collection(dict, 104),
            ("builtins", "str"): scalar_type(str),
            ("builtins", "int"): scalar_type(int),
            ("builtins", "float"): scalar_type(float),
            ("builtins", "complex"): scalar_type(complex),
            ("builtins", "bool"): scalar_type(bool),
            ("collections", "OrderedDict"): ordered_dict,
            ("collections", "defaultdict"): default_dict,
            ("collections", "deque"): deque,
        }
        for real, name in ((list, "list"), (dict, "dict"), (int, "int"), (set, "set")):
            stand_ins[("builtins", name)]._real = real
        return stand_ins


_DICT_TYPES = (dict, collections.OrderedDict, collections.defaultdict)


def _children(obj: Any) -> Any:
    t = type(obj)
    if t in _DICT_TYPES:
        return [*obj.keys(), *obj.values()]
    if t in (list, tuple, set, frozenset, collections.deque):
        return obj
    return None


def check_structure(obj: Any, source: str, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> int:
    """Walk `obj` once without recursion: refuse a cycle, a nesting deeper than `max_depth` and an *expanded* size
    (each reference counted, as converting the structure to arrays would materialise it) over `max_bytes`.
    Returns the expanded size."""
    done: dict[int, tuple[int, int]] = {}  # id -> (expanded size, depth) of the containers walked
    on_path: set[int] = set()
    todo: list[tuple[Any, bool]] = [(obj, False)]
    while todo:
        node, finished = todo.pop()
        key = id(node)
        kids = _children(node)
        if finished:
            on_path.discard(key)
            size, depth = _sizeof(node), 0
            for kid in kids:
                if _children(kid) is None:
                    size += _sizeof(kid)
                else:
                    kid_size, kid_depth = done[id(kid)]
                    size += kid_size
                    depth = max(depth, kid_depth)
            depth += 1
            if depth > max_depth:
                raise UnsafePickleError(
                    f"{source}: containers nested {depth} deep (more than max_depth={max_depth})"
                )
            if size > max_bytes:
                raise UnsafePickleError(
                    f"{source}: the structure expands to {size:,} bytes (shared references counted each time "
                    f"they appear), over the budget of {max_bytes:,} (max_bytes)"
                )
            done[key] = (size, depth)
            continue
        if kids is None or key in done:
            continue
        if key in on_path:
            raise UnsafePickleError(f"{source}: a container holds itself (a cycle); feature files are trees")
        on_path.add(key)
        todo.append((node, True))
        todo.extend((kid, False) for kid in kids if _children(kid) is not None)
        if len(on_path) > max_depth + 1:
            raise UnsafePickleError(f"{source}: containers nested more than max_depth={max_depth} deep")
    if _children(obj) is None:
        size = _sizeof(obj)
        if size > max_bytes:
            raise UnsafePickleError(
                f"{source}: the object holds {size:,} bytes, over the budget of {max_bytes:,}"
            )
        return size
    return done[id(obj)][0]


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
