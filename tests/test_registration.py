"""Registration with the `transformers` Auto classes and pipelines: complete, whatever is imported first, and done in
one place (`mcn_cl.registration`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = r"""
import json, sys
{first}
from transformers import AutoConfig
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING
from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING
from transformers.pipelines import PIPELINE_REGISTRY

def name(obj):
    if isinstance(obj, dict):  # the video-processor mapping holds {{backend: class}}
        obj = next(iter(obj.values()))
    return None if obj is None else obj.__module__ + "." + obj.__qualname__

def lookup(mapping, key):
    try:
        return name(mapping[key])
    except KeyError:
        return None

out = {{}}
for model_type in ("mcn_cl", "mcihn"):
    config = type(AutoConfig.for_model(model_type))
    out[model_type] = {{
        "config": name(config),
        "model": lookup(MODEL_MAPPING, config),
        "processor": lookup(PROCESSOR_MAPPING, config),
        "feature_extractor": lookup(FEATURE_EXTRACTOR_MAPPING, config),
        "video_processor": lookup(VIDEO_PROCESSOR_MAPPING, config),
    }}
for task in ("multimodal-emotion-recognition", "multimodal-sentiment-analysis"):
    out[task] = name(PIPELINE_REGISTRY.supported_tasks.get(task, {{}}).get("impl"))
print("RESULT" + json.dumps(out))
"""

EXPECTED = {
    "mcn_cl": {
        "config": "mcn_cl.modeling.configuration_mcn_cl.MCNCLConfig",
        "model": "mcn_cl.modeling.modeling_mcn_cl.MCNCLForEmotionRecognition",
        "processor": "mcn_cl.processing.processing_mcn_cl.MCNCLProcessor",
        "feature_extractor": "mcn_cl.processing.feature_extraction_mcn_cl.MCNCLFeatureExtractor",
        "video_processor": "mcn_cl.processing.video_processing_mcn_cl.MCNCLVideoProcessor",
    },
    "mcihn": {
        "config": "mcn_cl.modeling.configuration_mcihn.MCIHNConfig",
        "model": "mcn_cl.modeling.modeling_mcihn.MCIHNForMultimodalSentiment",
        "processor": "mcn_cl.processing.processing_mcihn.MCIHNProcessor",
        "feature_extractor": None,  # MCIHN's components are transformers' own classes
        "video_processor": None,
    },
    "multimodal-emotion-recognition": "mcn_cl.pipeline_mcn_cl.MultimodalEmotionRecognitionPipeline",
    "multimodal-sentiment-analysis": "mcn_cl.pipeline_mcihn.MultimodalSentimentAnalysisPipeline",
}


@pytest.mark.parametrize(
    "first",
    [
        "import mcn_cl.processing",
        "import mcn_cl.modeling",
        "from mcn_cl.processing.processing_mcihn import MCIHNProcessor",
        "import mcn_cl.pipeline_mcihn",
        "import mcn_cl",
    ],
)
def test_everything_is_registered_whatever_is_imported_first(first):
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(first=first)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TRANSFORMERS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    assert json.loads(line[len("RESULT") :]) == EXPECTED


def test_no_module_but_registration_registers_with_the_auto_classes():
    # `AutoX.register(...)` / `register_pipeline(...)` anywhere else would make the result depend on import order
    # again. `register_for_auto_class` (which only writes `auto_map` at save time) is allowed.
    pattern = re.compile(r"\bAuto\w+\.register\(|\bregister_pipeline\(")
    offenders = []
    for top in ("modeling", "processing", "src", "datasets_scripts"):
        for root, _, names in os.walk(os.path.join(REPO, top)):
            for name in names:
                path = os.path.join(root, name)
                if not name.endswith(".py") or path.endswith(os.path.join("mcn_cl", "registration.py")):
                    continue
                text = open(path, encoding="utf-8").read()
                offenders += [os.path.relpath(path, REPO) for _ in pattern.finditer(text)]
    assert not offenders, offenders
