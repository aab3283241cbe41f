# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Registration of the package's classes with the `transformers` Auto* factories and pipelines.

One place for it: `import mcn_cl` calls `register()` once. The Hub custom-code path
(`trust_remote_code=True`) needs none of this: there `auto_map` / `custom_pipelines` in the saved
configs point `transformers` at the files copied next to the weights.
"""

from __future__ import annotations

import importlib

from transformers import AutoConfig, AutoModel

_REGISTERED = False


def register() -> None:
    """Register config, model, processor and pipeline with `transformers` (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from .modeling import MCNCLConfig, MCNCLForEmotionRecognition

    AutoConfig.register(MCNCLConfig.model_type, MCNCLConfig, exist_ok=True)
    # `AutoModel.from_pretrained(checkpoint)` gives the ready model with its head (and id2label);
    # `MCNCLModel` stays importable as the headless encoder.
    AutoModel.register(MCNCLConfig, MCNCLForEmotionRecognition, exist_ok=True)

    # The processor and pipeline modules register themselves when imported; they are optional
    # until their issues land, so a missing module is not an error here.
    for module in ("mcn_cl.processing", "mcn_cl.pipeline"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
    _REGISTERED = True
