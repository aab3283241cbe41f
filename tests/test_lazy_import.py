"""`import mcn_cl` is cheap and still registers everything with `transformers` (issue 20 item 6): the registration
waits for `transformers`' Auto classes (`mcn_cl._deferred_registration`), whatever the order of the imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "datasets", "matplotlib", "cv2", "av", "opensmile", "sklearn", "evaluate")

CHECK = """
import sys
import mcn_cl
from mcn_cl import _deferred_registration
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING
from transformers.pipelines import PIPELINE_REGISTRY, check_task

mcn, mcihn = CONFIG_MAPPING["mcn_cl"], CONFIG_MAPPING["mcihn"]
print("model", MODEL_MAPPING[mcn].__name__, MODEL_MAPPING[mcihn].__name__)
print("processor", PROCESSOR_MAPPING[mcn].__name__, PROCESSOR_MAPPING[mcihn].__name__)
print("feature_extractor", FEATURE_EXTRACTOR_MAPPING[mcn].__name__)
print("pipelines", check_task("multimodal-emotion-recognition")[1]["impl"].__name__,
      check_task("multimodal-sentiment-analysis")[1]["impl"].__name__)
print("pending", _deferred_registration.pending(), any(type(f).__module__ == "mcn_cl._deferred_registration"
      for f in sys.meta_path))
loaders = {type(m.__spec__.loader).__name__ for n, m in list(sys.modules.items())
           if n.startswith(("mcn_cl", "transformers")) and getattr(m, "__spec__", None) is not None}
loaders |= {type(getattr(m, "__loader__", None)).__name__ for n, m in list(sys.modules.items())
            if n.startswith(("mcn_cl", "transformers"))}
print("wrapped_loaders", "_Loader" in loaders)
"""

EXPECTED = {
    "model": "MCNCLForEmotionRecognition MCIHNForMultimodalSentiment",
    "processor": "MCNCLProcessor MCIHNProcessor",
    "feature_extractor": "MCNCLFeatureExtractor",
    "pipelines": "MultimodalEmotionRecognitionPipeline MultimodalSentimentAnalysisPipeline",
    "pending": "False False",
    "wrapped_loaders": "False",
}


def _run(code: str, tmp_path) -> dict[str, str]:
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(line.split(" ", 1) for line in run.stdout.splitlines() if " " in line)


def test_import_mcn_cl_imports_no_heavy_library(tmp_path):
    out = _run(
        "import sys\nimport mcn_cl\n"
        f"print('heavy', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print('pending', mcn_cl._deferred_registration.pending())\n"
        "print('lazy', mcn_cl.MCNCLConfig.model_type, 'torch' in sys.modules)\n",
        tmp_path,
    )
    assert out["heavy"] == "[]"
    assert out["pending"] == "True"
    assert out["lazy"] == "mcn_cl True"  # the public names still resolve (importing torch then)


@pytest.mark.parametrize(
    "prelude",
    [
        "import mcn_cl\nfrom transformers import AutoModel",  # the usual order
        "from transformers import pipeline\nimport mcn_cl",  # transformers' Auto classes first: at once
        "import mcn_cl\nfrom transformers import pipeline",  # auto imported inside transformers.pipelines
        "import mcn_cl\nfrom mcn_cl import MCNCLProcessor",  # processing imported before the registration
    ],
)
def test_every_import_order_registers_model_processor_and_pipelines(prelude, tmp_path):
    out = _run(prelude + "\n" + CHECK, tmp_path)
    assert {k: out.get(k) for k in EXPECTED} == EXPECTED


def test_registration_happens_when_the_auto_classes_are_imported(tmp_path):
    """Right after `from transformers import AutoConfig` (not at some later import), AutoConfig knows mcn_cl."""
    out = _run(
        "import mcn_cl\nfrom transformers import AutoConfig\n"
        "print('config', type(AutoConfig.for_model('mcn_cl')).__name__, mcn_cl._deferred_registration.pending())\n",
        tmp_path,
    )
    assert out["config"] == "MCNCLConfig False"
