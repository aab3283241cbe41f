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
    from .modeling import MCIHNConfig, MCIHNForMultimodalSentiment, MCNCLConfig, MCNCLForEmotionRecognition

    AutoConfig.register(MCNCLConfig.model_type, MCNCLConfig, exist_ok=True)
    # `AutoModel.from_pretrained(checkpoint)` gives the ready model with its head (and id2label);
    # `MCNCLModel` stays importable as the headless encoder.
    AutoModel.register(MCNCLConfig, MCNCLForEmotionRecognition, exist_ok=True)
    # MCIHN, the second model (utterance-level sentiment), the same way
    AutoConfig.register(MCIHNConfig.model_type, MCIHNConfig, exist_ok=True)
    AutoModel.register(MCIHNConfig, MCIHNForMultimodalSentiment, exist_ok=True)

    # The processor module registers itself with the Auto classes when imported.
    importlib.import_module("mcn_cl.processing")

    # The pipeline file also travels to the Hub as remote code, so its registration lives here, not in it.
    # `pt_model` must be a class that `transformers` exports by name: `pipeline.save_pretrained` writes its name into
    # `config.json` (`custom_pipelines`), and `pipeline(...)` looks it up with `getattr(transformers, name)`;
    # `AutoModel` resolves to `MCNCLForEmotionRecognition` (above, or through `auto_map` with trust_remote_code).
    from transformers.pipelines import PIPELINE_REGISTRY

    from .pipeline import TASK, MultimodalEmotionRecognitionPipeline

    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=MultimodalEmotionRecognitionPipeline, pt_model=AutoModel, type="multimodal"
    )
    from .pipeline_mcihn import TASK as MCIHN_TASK
    from .pipeline_mcihn import MultimodalSentimentAnalysisPipeline

    PIPELINE_REGISTRY.register_pipeline(
        MCIHN_TASK, pipeline_class=MultimodalSentimentAnalysisPipeline, pt_model=AutoModel, type="multimodal"
    )
    from .hub_mcihn import add_pipeline_code

    if (
        add_pipeline_code not in MCIHNForMultimodalSentiment.save_hooks
    ):  # saved folders carry the pipeline code
        MCIHNForMultimodalSentiment.save_hooks.append(add_pipeline_code)
    _REGISTERED = True
