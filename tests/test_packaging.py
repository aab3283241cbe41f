"""`pip install .` (not only the editable install the tests run from) gives a working `mcn_cl`."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_holds_every_subpackage_and_imports_without_the_source_tree(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp_path.glob("mcn_cl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "mcn_cl/__init__.py",
        "mcn_cl/modeling/modeling_mcn_cl.py",
        "mcn_cl/modeling/configuration_mcn_cl.py",
        "mcn_cl/processing/processing_mcn_cl.py",
        "mcn_cl/datasets_scripts/meld.py",
        "mcn_cl/cli/__init__.py",
        "mcn_cl/cli/stream.py",
        "mcn_cl/evaluate_metric/mcn_cl_emotion_f1.py",
        "mcn_cl/recording/segmentation.py",
    ):
        assert required in names, f"{required} missing from {wheel.name}"

    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    # run outside the repository, with the unpacked wheel first on the path: the editable install must not be used
    probe = (
        "import mcn_cl, mcn_cl.processing, mcn_cl.datasets_scripts, mcn_cl.metrics_mcn_cl;"
        "import os; print(os.path.dirname(mcn_cl.__file__));"
        "from transformers import AutoConfig; print(type(AutoConfig.for_model('mcn_cl')).__name__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    location, config_class = run.stdout.split()[-2:]
    assert Path(location) == target / "mcn_cl"
    assert config_class == "MCNCLConfig"
