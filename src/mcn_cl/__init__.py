# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""mcn-cl: two multimodal (text + speech + face video) models, the `transformers` way.

- **MCN-CL** (`MCNCLForEmotionRecognition`, `MCNCLProcessor`, the `"multimodal-emotion-recognition"` pipeline):
  emotion recognition in conversation, one emotion per utterance of a whole dialogue.
- **MCIHN** (`MCIHNForMultimodalSentiment`, `MCIHNProcessor`, the `"multimodal-sentiment-analysis"` pipeline):
  utterance-level sentiment (a score, or a class), one utterance at a time.

Importing the package registers both configs, models, processors and pipeline tasks with the `transformers` Auto
classes (`mcn_cl.registration`): at once if `transformers`' Auto classes are imported already, else the moment they
are (`mcn_cl._deferred_registration`). Everything, the model classes included, is imported on first use, so
`import mcn_cl` imports no torch and `mcn-cl --help` answers at once. The files of each model are named after it (`*_mcn_cl.py`, `*_mcihn.py`), what they share `*_base.py`;
docs/DESIGN.md describes the layout.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import _deferred_registration

__version__ = "0.1.0"

# public name -> submodule that defines it (imported lazily)
_LAZY = {
    "MCNCLConfig": "mcn_cl.modeling",
    "MCNCLPreTrainedModel": "mcn_cl.modeling",
    "MCNCLModel": "mcn_cl.modeling",
    "MCNCLForEmotionRecognition": "mcn_cl.modeling",
    "MCNCLOutput": "mcn_cl.modeling",
    "MCIHNConfig": "mcn_cl.modeling",
    "MCIHNPreTrainedModel": "mcn_cl.modeling",
    "MCIHNModel": "mcn_cl.modeling",
    "MCIHNForMultimodalSentiment": "mcn_cl.modeling",
    "MCIHNSentimentOutput": "mcn_cl.modeling",
    "register": "mcn_cl.registration",
    "MCNCLFeatureExtractor": "mcn_cl.processing",
    "MCNCLVideoProcessor": "mcn_cl.processing",
    "MCNCLProcessor": "mcn_cl.processing",
    "MCNCLMediaError": "mcn_cl.processing",
    "MCNCLInputError": "mcn_cl.processing",
    "load_iemocap": "mcn_cl.datasets_scripts",
    "load_meld": "mcn_cl.datasets_scripts",
    "load_feature_pickle": "mcn_cl.datasets_scripts",
    "load_conversations": "mcn_cl.datasets_scripts",
    "HardNegativeSupConLoss": "mcn_cl.losses",
    "MCNCLTrainer": "mcn_cl.trainer_mcn_cl",
    "MCNCLDataCollator": "mcn_cl.data_collator",
    "compute_metrics": "mcn_cl.metrics_mcn_cl",
    "MultimodalEmotionRecognitionPipeline": "mcn_cl.pipeline_mcn_cl",
    "make_demo_corpus": "mcn_cl.demo",
    # MCIHN (second model, utterance-level sentiment)
    "MCIHNProcessor": "mcn_cl.processing",
    "MCIHNTrainer": "mcn_cl.trainer_mcihn",
    "MCIHNDataCollator": "mcn_cl.trainer_mcihn",
    "MultimodalSentimentAnalysisPipeline": "mcn_cl.pipeline_mcihn",
    "load_mmsa_raw": "mcn_cl.datasets_scripts",
    "load_mmsa_features": "mcn_cl.datasets_scripts",
    "sentiment_metrics": "mcn_cl.metrics_mcihn",
    "MCNCLStreamingSession": "mcn_cl.streaming",
    "plot_emotion_timeline": "mcn_cl.plotting",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mcn_cl' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


# registers the model, processor and pipelines with `transformers` now if its Auto classes are imported, else the
# moment they are (so that this import stays cheap: see mcn_cl._deferred_registration)
_deferred_registration.install()

if TYPE_CHECKING:  # pragma: no cover
    from .data_collator import MCNCLDataCollator  # noqa: F401
    from .datasets_scripts import (  # noqa: F401  # noqa: F401
        load_conversations,
        load_feature_pickle,
        load_iemocap,
        load_meld,
        load_mmsa_features,
        load_mmsa_raw,
    )
    from .demo import make_demo_corpus  # noqa: F401
    from .losses import HardNegativeSupConLoss  # noqa: F401
    from .metrics_mcihn import sentiment_metrics  # noqa: F401
    from .metrics_mcn_cl import compute_metrics  # noqa: F401
    from .modeling import (  # noqa: F401
        MCIHNConfig,
        MCIHNForMultimodalSentiment,
        MCIHNModel,
        MCIHNPreTrainedModel,
        MCIHNSentimentOutput,
        MCNCLConfig,
        MCNCLForEmotionRecognition,
        MCNCLModel,
        MCNCLOutput,
        MCNCLPreTrainedModel,
    )
    from .pipeline_mcihn import MultimodalSentimentAnalysisPipeline  # noqa: F401
    from .pipeline_mcn_cl import MultimodalEmotionRecognitionPipeline  # noqa: F401
    from .plotting import plot_emotion_timeline  # noqa: F401
    from .processing import (  # noqa: F401
        MCIHNProcessor,
        MCNCLFeatureExtractor,
        MCNCLInputError,
        MCNCLMediaError,
        MCNCLProcessor,
        MCNCLVideoProcessor,
    )
    from .registration import register  # noqa: F401
    from .streaming import MCNCLStreamingSession  # noqa: F401
    from .trainer_mcihn import MCIHNDataCollator, MCIHNTrainer  # noqa: F401
    from .trainer_mcn_cl import MCNCLTrainer  # noqa: F401

__all__ = [*_LAZY]
