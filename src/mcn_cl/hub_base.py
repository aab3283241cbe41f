# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What the two models' Hub writers (`hub_mcn_cl.py`, `hub_mcihn.py`) share: reading a run's test results, a model
card's YAML metadata, and the staged write of a Hub-ready folder (weights, config with `auto_map` and
`custom_pipelines`, model / processor / pipeline code, processor configs, model card)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

TEST_RESULTS_NAME = "test_results.json"
CARD_NAME = "README.md"
# The Hub has no task for multimodal conversations; their clips (video with its audio and transcript) are classified.
DEFAULT_PIPELINE_TAG = "video-classification"


def load_test_results(test_results: Mapping[str, Any] | str | os.PathLike | None) -> dict[str, Any] | None:
    """`test_results.json` of `examples/train.py` (a path, or its folder) or the dict itself; `None` stays `None`."""
    if test_results is None or isinstance(test_results, Mapping):
        return dict(test_results) if test_results is not None else None
    path = os.fspath(test_results)
    if os.path.isdir(path):
        path = os.path.join(path, TEST_RESULTS_NAME)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _text_encoder_name(config) -> str | None:
    name = getattr(getattr(config, "text_config", None), "_name_or_path", None) or None
    return name


def _hub_id(name: str | None) -> str | None:
    """A Hub model id (for `base_model`), not a local folder."""
    if not name or os.path.isabs(name) or os.path.exists(name) or name.startswith("."):
        return None
    return name


def card_metadata(
    config,
    *,
    model_name: str,
    pipeline_tag: str,
    task_name: str,
    dataset_title: str | None,
    metrics: list[tuple[str, str, str | None, float]],
    license: str,
    tags: list[str],
    language: str = "en",
    declare_metrics: bool = True,
) -> ModelCardData:
    """A card's YAML metadata: the test `metrics` as (metric type, display name, metric config or None, value) in
    the `model-index` (`eval_results`), the text tower as `base_model`. `declare_metrics=False` leaves out the
    `metrics` list of metric types."""
    eval_results = [
        EvalResult(
            task_type=pipeline_tag,
            task_name=task_name,
            dataset_type=dataset_title or "unknown",
            dataset_name=dataset_title or "unknown",
            dataset_split="test",
            metric_type=metric_type,
            metric_name=display,
            metric_config=metric_config,
            metric_value=round(value, 4),
        )
        for metric_type, display, metric_config, value in metrics
    ]
    return ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        license=license,
        language=[language],
        tags=tags,
        datasets=[dataset_title] if dataset_title else None,
        metrics=(sorted({m[0] for m in metrics}) or None) if declare_metrics else None,
        base_model=_hub_id(_text_encoder_name(config)),
        eval_results=eval_results or None,
    )


def save_folder_for_hub(
    model,
    processor,
    save_directory: str | os.PathLike,
    *,
    pipeline_class,
    task: str,
    card_writer,
    test_results: Mapping[str, Any] | str | os.PathLike | None = None,
    dataset_name: str | None = None,
    **card_kwargs,
) -> list[str]:
    """Write a Hub-ready checkpoint folder for either model: weights, config (with `auto_map` and
    `custom_pipelines`), model, processor and pipeline code, processor configs and the model card (`README.md`).

    The pipeline's `save_pretrained` copies the pipeline file and its same-folder imports (`pipeline_base.py`:
    `transformers.dynamic_module_utils.custom_object_save` follows relative imports), the model's and processor's
    `save_pretrained` their code files the same way. The files are written to a staging folder first and then moved
    into `save_directory`: the target may be the folder the model was loaded from (whose weights are memory-mapped
    from the files being replaced), and a save that fails halfway leaves the old files whole.

    Args:
        model, processor: the model (its device and dtype are kept) and the processor it was trained with.
        save_directory: target folder (created).
        pipeline_class, task: the model's pipeline class and its task name.
        card_writer: writes `README.md` (`write_model_card`'s signature: folder, config, test results, **kwargs).
        test_results (`dict`, path or folder, *optional*): test metrics for the card; default:
            `save_directory/test_results.json` when present.
        dataset_name (`str`, *optional*): the training corpus, for the card.
        card_kwargs: more `card_writer` arguments.

    Returns:
        The names of the files written.
    """
    save_directory = os.fspath(save_directory)
    os.makedirs(save_directory, exist_ok=True)
    if test_results is None and os.path.isfile(os.path.join(save_directory, TEST_RESULTS_NAME)):
        test_results = os.path.join(save_directory, TEST_RESULTS_NAME)
    results = load_test_results(test_results)
    device = None if getattr(model, "hf_device_map", None) else model.device
    pipe = pipeline_class(model=model, processor=processor, task=task, device=device)
    with tempfile.TemporaryDirectory(dir=save_directory, prefix=".save_for_hub-") as staging:
        pipe.save_pretrained(staging)  # model (+ custom_pipelines, the pipeline files) and processor
        card_writer(
            staging, model.config, results, processor=processor, dataset_name=dataset_name, **card_kwargs
        )
        written = sorted(os.listdir(staging))
        for name in written:
            os.replace(os.path.join(staging, name), os.path.join(save_directory, name))
    return written


__all__ = ["card_metadata", "load_test_results", "save_folder_for_hub"]
