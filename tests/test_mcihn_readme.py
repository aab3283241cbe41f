"""Every code block of the README's MCIHN section runs offline as written (issue 22): the demo command, the
pipeline on its folder, the model with precomputed frames. Blocks that start with `# with the corpus on disk:`
need the real corpora and are only checked to name existing flags."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDS_DATA = "# with the corpus on disk:"


def mcihn_blocks() -> list[tuple[str, str]]:
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    section = text[text.index("## MCIHN: a second model") :]
    section = section[: section.index("\n## ", 4)]
    return re.findall(r"```(python|bash)\n(.*?)```", section, flags=re.S)


def test_the_section_has_the_demo_the_pipeline_and_the_model_blocks():
    blocks = mcihn_blocks()
    kinds = [kind for kind, code in blocks if not code.startswith(NEEDS_DATA)]
    assert kinds == ["bash", "python", "python"]
    assert "--dataset demo" in blocks[0][1]


def test_data_commands_use_only_flags_the_script_has():
    sys.path.insert(0, os.path.join(REPO, "examples"))
    import train_mcihn

    for _, code in mcihn_blocks():
        if not code.startswith(NEEDS_DATA):
            continue
        for command in code.replace("\\\n", " ").splitlines():
            if not command.startswith("python examples/train_mcihn.py"):
                continue
            argv = command.split()[2:]
            args, _ = train_mcihn.parse_arguments(argv)  # unknown flags would be a UsageError
            assert args.dataset in train_mcihn.DATASETS


def test_every_offline_block_runs_as_written(tmp_path):
    os.symlink(os.path.join(REPO, "examples"), tmp_path / "examples")
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))  # fmt: skip
    outputs = []
    for kind, code in mcihn_blocks():
        if code.startswith(NEEDS_DATA):
            continue
        command = ["bash", "-e", "-c", code] if kind == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"{code}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    assert (tmp_path / "runs" / "mcihn-demo" / "pipeline_mcihn.py").exists()
    # the pipeline block prints the analysis of a joyful generated clip; the model block prints its loss terms
    assert re.search(r"'score': -?[0-9.e-]+, 'polarity': '(positive|negative|neutral)'", outputs[1])
    assert "tensor(" in outputs[2]
    if "'polarity': 'positive'" not in outputs[1]:
        pytest.fail(f"the demo model misjudged a joyful clip: {outputs[1]}")
