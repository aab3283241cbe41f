# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`import mcn_cl` registers the package with `transformers` without importing `transformers` itself.

Registration (`mcn_cl.registration.register`) needs the model classes, and defining a `PreTrainedModel` imports
`transformers.modeling_utils`, which costs two to three times `import torch`. Nothing can look the classes up
before `transformers`' Auto classes (`transformers.models.auto`: `AutoConfig`, `AutoModel`, `AutoProcessor`, and
`pipeline`, which imports them) are imported, so `install()` defers the registration to that moment:

- `transformers.models.auto` already imported: `register()` at once (what `import mcn_cl` always did);
- otherwise a `sys.meta_path` finder watches the imports of `transformers.*` and `mcn_cl.*` modules and calls
  `register()` as soon as `transformers.models.auto` is imported and no watched module is still half-initialised
  in this thread (registration imports them: `from transformers import pipeline` must finish before
  `transformers.pipelines.PIPELINE_REGISTRY` can be used). The finder then removes itself.

So `from transformers import AutoModel` after `import mcn_cl` gives an `AutoModel` that knows `mcn_cl`, and the
command line (`mcn_cl.cli`) parses `--help` without torch. The finder changes nothing else: each module keeps the
loader that found it (the loader is wrapped only while the module executes).
"""

from __future__ import annotations

import importlib.abc
import sys
import threading

_WATCHED = ("transformers", "mcn_cl")
TRIGGER = "transformers.models.auto"

_state = threading.local()  # depth: watched modules executing in this thread
_lock = threading.Lock()
_finder: _RegisterWhenTransformersAutoLoads | None = None


def _depth() -> int:
    return getattr(_state, "depth", 0)


def _initialised(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


class _Loader:
    """Runs a watched module's loader and, when the outermost watched import of the thread ends, registers."""

    def __init__(self, loader, spec):
        self._loader, self._spec = loader, spec

    def __getattr__(self, name):  # get_code, get_source, is_package, get_resource_reader, ...
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = self._loader  # the module keeps its own loader (inspect, importlib.resources)
        _state.depth = _depth() + 1
        try:
            self._loader.exec_module(module)
        finally:
            _state.depth -= 1
            self._spec.loader = self._loader
        if _state.depth == 0 and TRIGGER in sys.modules:
            _register_now()


class _RegisterWhenTransformersAutoLoads(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in _WATCHED:
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, spec)
        return spec


def _uninstall() -> None:
    global _finder
    with _lock:
        if _finder is not None and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None


def _register_now() -> None:
    _uninstall()
    from .registration import register

    register()


def install() -> None:
    """Register now if `transformers`' Auto classes are imported, else as soon as they are (see the docstring)."""
    global _finder
    if TRIGGER in sys.modules and _initialised(TRIGGER):
        _register_now()
        return
    with _lock:
        if _finder is None:
            _finder = _RegisterWhenTransformersAutoLoads()
            sys.meta_path.insert(0, _finder)


def pending() -> bool:
    """Whether the registration still waits for `transformers.models.auto`."""
    return _finder is not None
