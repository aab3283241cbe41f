# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What the benchmark scripts share: the training arguments of the checkpoint selection, the machine description of
their results, the atomic writer of their results JSON, the clean-up of training run folders and the writer of the
generated sections of BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import shutil

# `examples/train*.py` arguments of every benchmark training run: the best checkpoint on dev weighted F1 is kept and
# evaluated on test once; quiet logging, no reporting integrations.
SELECT_ON_DEV_ARGS = {
    "save_total_limit": 1,
    "load_best_model_at_end": "true",
    "metric_for_best_model": "weighted_f1",
    "greater_is_better": "true",
    "logging_steps": 50,
    "report_to": "none",
    "dataloader_num_workers": 0,
    "disable_tqdm": "true",
}


def machine_info() -> dict:
    """CPU model, cores, torch threads and library versions of the machine a result was measured on."""
    import torch
    import transformers

    try:  # not needed by the model-only parts (e.g. on a GPU machine without the data stack)
        import datasets
    except ImportError:
        datasets = None

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__ if datasets is not None else None,
    }


def save_json(path: str, data: dict) -> None:
    """Write `data` to `path` as indented JSON through a temporary file, so that a killed run never leaves half a
    file (creates the folder)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def remove_weights(run_dir: str) -> None:
    """Delete the `checkpoint-*` folders and `*.safetensors` of a finished training run (the figures need only its
    JSON files)."""
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        if name.startswith("checkpoint-") or name.endswith(".safetensors"):
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def mean_std(values, scale: float = 1.0, digits: int = 2) -> str:
    """`mean ± sample std` of the values (None skipped) times `scale`, with `digits` decimals; one value alone;
    "–" for none."""
    values = [scale * v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_markdown(path: str, section: str, body: str) -> None:
    """Replace the text between `<!-- {section}:begin -->` and `<!-- {section}:end -->` in `path`."""
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------------- main
