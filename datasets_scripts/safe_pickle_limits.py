# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The limits of a restricted load (:mod:`.safe_pickle`) and the error raised when one is crossed.

What the unpickler may spend and which opcodes it accepts: :class:`UnsafePickleError`, the default memory budget
and depth, the bytes charged for the object each opcode creates, the opcodes refused outright, the opcodes that
carry a length then data, :class:`_BoundedFile` (a read longer than the rest of the file is refused before it
allocates) and :func:`_sizeof` (the bytes one object holds).
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import Any

import numpy as np

DEFAULT_MEMORY_FLOOR = 128 * 2**20
DEFAULT_MEMORY_FACTOR = 16
DEFAULT_MAX_DEPTH = 64


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


__all__ = ["DEFAULT_MAX_DEPTH", "UnsafePickleError", "default_max_bytes"]
