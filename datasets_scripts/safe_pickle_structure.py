# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The check after a restricted load (:mod:`.safe_pickle`): one iterative walk of what was built.

:func:`check_structure` refuses a cycle, a nesting deeper than ``max_depth`` and an *expanded* size (each shared
reference counted again, as converting the result to arrays or Arrow would materialise it) over the budget.
"""

from __future__ import annotations

import collections
from typing import Any

from .safe_pickle_limits import DEFAULT_MAX_DEPTH, UnsafePickleError, _sizeof

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


__all__ = ["check_structure"]
