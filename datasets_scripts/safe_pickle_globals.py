# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The globals a restricted load (:mod:`.safe_pickle`) may name, each replaced by a checking stand-in.

``find_class`` answers only from this table; REDUCE calls only its entries. Builtin containers and scalars
(``bytes(N)`` / ``bytearray(N)`` refused: a pickle may not allocate by size), ``_codecs.encode`` to latin-1 only
(how protocol 2 writes bytes), ``OrderedDict`` / ``defaultdict`` / ``deque``, and the numpy globals of
:mod:`.safe_pickle_numpy`. Each stand-in checks its arguments and charges what it creates to the budget.
"""

from __future__ import annotations

import collections
from typing import Any

_CONTAINERS = (list, tuple, dict, set, frozenset)


class AllowedGlobals:
    """The allow-list half of :class:`~.safe_pickle.RestrictedUnpickler` (a mixin): ``_make_stand_ins`` builds
    the table ``(module, name) -> stand-in``. It uses the unpickler's ``_refuse``, ``_charge``, ``_push_tuple``,
    ``stack`` and ``_numpy_stand_ins`` (:class:`~.safe_pickle_numpy.NumpyReconstruction`)."""

    def _make_stand_ins(self) -> dict[tuple[str, str], Any]:
        refuse, charge = self._refuse, self._charge

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
            **self._numpy_stand_ins(),  # numpy.ndarray, numpy.dtype, _reconstruct, scalar, _frombuffer
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


__all__ = ["AllowedGlobals"]
