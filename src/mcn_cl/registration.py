# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Registration of the package's classes with the `transformers` Auto* factories and pipelines: the one place.

`import mcn_cl` (which runs first whatever submodule is imported: `import mcn_cl.processing` imports the package
`__init__` before the submodule) has `register()` called once: at once if `transformers`' Auto classes are imported
already, else the moment they are (`mcn_cl._deferred_registration`, which keeps `import mcn_cl` free of torch). `register()` imports what it registers itself, in a fixed
order (configs, models, processors and their components, pipelines), so the result does not depend on what was
imported before; no module registers itself on import. The Hub custom-code path (`trust_remote_code=True`) needs
none of this: there `auto_map` / `custom_pipelines` in the saved configs point `transformers` at the files copied
next to the weights, and loading those files changes no registry.
"""

from __future__ import annotations

_REGISTERED = False


def register() -> None:
    """Register configs, models, processors (with their feature extractor / video processor) and the two pipeline
    tasks with `transformers` (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from transformers import (
        AutoConfig,
        AutoFeatureExtractor,
        AutoModel,
        AutoProcessor,
        AutoVideoProcessor,
    )
    from transformers.pipelines import PIPELINE_REGISTRY

    from .modeling import MCIHNConfig, MCIHNForMultimodalSentiment, MCNCLConfig, MCNCLForEmotionRecognition
    from .processing import MCIHNProcessor, MCNCLFeatureExtractor, MCNCLProcessor, MCNCLVideoProcessor

    # 1. configs
    AutoConfig.register(MCNCLConfig.model_type, MCNCLConfig, exist_ok=True)
    AutoConfig.register(MCIHNConfig.model_type, MCIHNConfig, exist_ok=True)
    # 2. models: `AutoModel.from_pretrained(checkpoint)` gives the ready model with its head (and id2label);
    # `MCNCLModel` / `MCIHNModel` stay importable as the headless encoders.
    AutoModel.register(MCNCLConfig, MCNCLForEmotionRecognition, exist_ok=True)
    AutoModel.register(MCIHNConfig, MCIHNForMultimodalSentiment, exist_ok=True)
    # 3. processors and their components (MCIHN's components are transformers' own classes)
    AutoFeatureExtractor.register(MCNCLConfig, MCNCLFeatureExtractor, exist_ok=True)
    AutoVideoProcessor.register(MCNCLConfig, MCNCLVideoProcessor, exist_ok=True)
    AutoProcessor.register(MCNCLConfig, MCNCLProcessor, exist_ok=True)
    AutoProcessor.register(MCIHNConfig, MCIHNProcessor, exist_ok=True)

    # 4. pipelines. The pipeline files also travel to the Hub as remote code, so their registration lives here.
    # `pt_model` must be a class that `transformers` exports by name: `pipeline.save_pretrained` writes its name into
    # `config.json` (`custom_pipelines`), and `pipeline(...)` looks it up with `getattr(transformers, name)`;
    # `AutoModel` resolves to the model class registered above (or through `auto_map` with trust_remote_code).
    from .pipeline_mcihn import TASK as MCIHN_TASK
    from .pipeline_mcihn import MultimodalSentimentAnalysisPipeline
    from .pipeline_mcn_cl import TASK, MultimodalEmotionRecognitionPipeline

    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=MultimodalEmotionRecognitionPipeline, pt_model=AutoModel, type="multimodal"
    )
    PIPELINE_REGISTRY.register_pipeline(
        MCIHN_TASK, pipeline_class=MultimodalSentimentAnalysisPipeline, pt_model=AutoModel, type="multimodal"
    )
    from .hub_mcihn import add_pipeline_code

    if (
        add_pipeline_code not in MCIHNForMultimodalSentiment.save_hooks
    ):  # saved folders carry the pipeline code
        MCIHNForMultimodalSentiment.save_hooks.append(add_pipeline_code)
    _REGISTERED = True


__all__ = ["register"]
