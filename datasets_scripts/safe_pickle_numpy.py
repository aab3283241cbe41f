# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""How a restricted load (:mod:`.safe_pickle`) builds numpy objects: dtypes, arrays and scalars, nothing else.

The dtype allow-list (booleans, integers, floats, complex numbers, fixed-size strings: ``b i u f c S U``; the
plain object dtype only for an array filled from a list of plain values), the stand-ins for the numpy globals a
pickle names (``numpy.ndarray`` refused, ``numpy.dtype``, ``_reconstruct``, ``scalar``, ``_frombuffer``) and the
checks of BUILD on a fresh array or dtype (its ``__setstate__``): shape, dtype, and a buffer of exactly
``prod(shape) * itemsize`` bytes, charged to the budget before the array is made.
"""

from __future__ import annotations

import pickle
import re
from typing import Any

import numpy as np

_MAX_NDIM = 32
_MAX_ITEMSIZE = 2**24
_SAFE_KINDS = frozenset("biufcSU")
_DTYPE_SPEC = re.compile(r"^[<>|=]?[?a-zA-Z]\d{0,8}$")
_PLAIN_VALUES = (str, bytes, int, float, bool, complex, type(None))


class NumpyReconstruction:
    """The numpy half of :class:`~.safe_pickle.RestrictedUnpickler` (a mixin): the stand-ins for the numpy globals
    and the checks of array / dtype state. It uses the unpickler's ``_refuse``, ``_charge``, ``_keep``,
    ``_unbuilt_arrays``, ``_open_dtypes`` and ``_sealed_dtypes``."""

    def _numpy_stand_ins(self) -> dict[tuple[str, str], Any]:
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

        return {
            ("numpy", "ndarray"): ndarray,
            ("numpy", "dtype"): dtype,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "scalar"): scalar,
            ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        }

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


__all__ = ["NumpyReconstruction"]
