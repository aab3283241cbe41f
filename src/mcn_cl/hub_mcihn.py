# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Hub-ready MCIHN checkpoint folders, through `mcn_cl.hub_base.save_folder_for_hub` with MCIHN's pipeline and
model card:

    config.json (MCIHNConfig, `auto_map`, `custom_pipelines`), model.safetensors,
    configuration_mcihn.py, modeling_mcihn.py and the siblings it imports (modeling_outputs_mcihn.py,
    unimodal_encoders_mcihn.py, reconstruction_mcihn.py, interaction_mcihn.py, functional_mcihn.py),
    processor_config.json + tokenizer files, processing_mcihn.py + padding_mcihn.py and the MCN-CL media files they
    import, pipeline_mcihn.py + pipeline_base.py, README.md (the card below)

so that `pipeline("multimodal-sentiment-analysis", model=<folder or repo>, trust_remote_code=True)` works in an
interpreter without `mcn_cl`.

    >>> from mcn_cl.hub_mcihn import save_mcihn_for_hub
    >>> save_mcihn_for_hub(model, processor, "my-mcihn", test_results="runs/mosi/test_results.json", dataset_name="mosi")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from huggingface_hub import ModelCard

from .hub_base import (
    CARD_NAME,
    DEFAULT_PIPELINE_TAG,
    _hub_id,
    _text_encoder_name,
    card_metadata,
    load_test_results,
    save_folder_for_hub,
)

TASK_NAME = "Multimodal sentiment analysis"
DEFAULT_TAGS = ("mcihn", "mcn-cl", "sentiment-analysis", "multimodal", "custom_code")
# train_mcihn.py's `--dataset` values -> (name in the card, description, language)
DATASETS = {
    "mosi": ("CMU-MOSI", "CMU-MOSI: opinion videos from YouTube, English, sentiment in [-3, 3]", "en"),
    "sims": ("CH-SIMS", "CH-SIMS: Chinese movie / TV clips, sentiment in [-1, 1]", "zh"),
    "demo": (
        "generated demo corpus",
        "a generated corpus (mcn_cl.demo_mcihn): sentiment shown in words, tone and a moving shape, not real people",
        "en",
    ),
    "meld": (
        "MELD",
        "MELD: utterances of the TV series *Friends* (7 emotions, no dialogue context), English",
        "en",
    ),
}
# (result key, metric type, display name)
REGRESSION_METRICS = (
    ("acc_2", "accuracy", "Acc-2"),
    ("f1", "f1", "F1"),
    ("acc_3", "accuracy", "Acc-3"),
    ("acc_5", "accuracy", "Acc-5"),
    ("acc_7", "accuracy", "Acc-7"),
    ("mae", "mae", "MAE"),
    ("corr", "pearsonr", "Corr"),
)
CLASSIFICATION_METRICS = (
    ("weighted_f1", "f1", "Weighted F1"),
    ("macro_f1", "f1", "Macro F1"),
    ("accuracy", "accuracy", "Accuracy"),
)


def _results_table(config, results: Mapping[str, Any] | None) -> list[tuple[str, str, float]]:
    if not results:
        return []
    out = []
    for key, metric_type, display in REGRESSION_METRICS if config.num_labels == 1 else CLASSIFICATION_METRICS:
        for name in (f"test_{key}", key):
            if results.get(name) is not None:
                out.append((metric_type, display, float(results[name])))
                break
    return out


def mcihn_model_card(
    config,
    test_results: Mapping[str, Any] | str | os.PathLike | None = None,
    *,
    processor=None,
    dataset_name: str | None = None,
    training_args=None,
    model_name: str | None = None,
    repo_id: str | None = None,
    license: str = "apache-2.0",
    tags: list[str] | None = None,
) -> ModelCard:
    """The model card of an MCIHN checkpoint (metadata with the test metrics, intended use, limits, usage)."""
    results = load_test_results(test_results)
    key = str(dataset_name or (results or {}).get("dataset") or "").lower() or None
    title, description, language = DATASETS.get(key, (key, key, "en")) if key else (None, None, "en")
    model_name = model_name or (repo_id.split("/")[-1] if repo_id else f"mcihn-{key}" if key else "mcihn")
    metrics = _results_table(config, results)
    data = card_metadata(
        config,
        model_name=model_name,
        pipeline_tag=DEFAULT_PIPELINE_TAG,
        task_name=TASK_NAME,
        dataset_title=title,
        metrics=[(metric_type, display, None, value) for metric_type, display, value in metrics],
        license=license,
        tags=list(tags) if tags is not None else list(DEFAULT_TAGS),
        language=language,
        declare_metrics=False,
    )
    where = repo_id or "path/to/this/checkpoint"
    regression = config.num_labels == 1
    output = (
        "a sentiment score in "
        f"[{config.sentiment_range[0]:g}, {config.sentiment_range[1]:g}] and its polarity"
        if regression
        else f"one of {', '.join(f'`{config.id2label[i]}`' for i in sorted(config.id2label))}"
    )
    towers = [
        f"text: {_hub_id(_text_encoder_name(config)) or config.text_config.model_type} tower"
        if config.use_text_encoder
        else f"text: precomputed {config.text_feature_size}-d sequences",
        f"audio: {config.audio_config.model_type} tower"
        + (" (frozen)" if config.freeze_audio_encoder else "")
        if config.audio_config is not None
        else f"audio: {config.audio_feature_size}-d frame sequences (precomputed, or openSMILE descriptors from the "
        "processor)",
        f"visual: {config.visual_config.model_type} tower"
        + (" (frozen)" if config.freeze_visual_encoder else "")
        + (
            ", random weights unless a checkpoint was loaded into it (the demo's is random)"
            if config.visual_config.model_type == "resnet"
            else ""
        )
        if config.visual_config is not None
        else f"visual: precomputed {config.visual_feature_size}-d sequences",
        f"adversarial autoencoders: {config.latent_size}-d codes, prior N(0, I); CGMM paths: "
        f"{'on' if config.use_cgmm else 'off'}; FFM: {config.num_fusion_layers} layer(s), {config.hidden_size}-d",
        f"loss weights: reconstruction {config.reconstruction_weight}, adversarial {config.adversarial_weight}, "
        f"MMD {config.mmd_weight}",
    ]
    if training_args is not None:
        values = training_args if isinstance(training_args, Mapping) else training_args.to_dict()
        keys = ("num_train_epochs", "max_steps", "learning_rate", "per_device_train_batch_size", "seed",
                "metric_for_best_model")  # fmt: skip
        towers.append(
            "training: " + ", ".join(f"{k}={values[k]}" for k in keys if values.get(k) not in (None, -1))
        )
    lines = [
        f"# {model_name}",
        "",
        "An MCIHN model (adversarial autoencoders + cross-modal gates + attention fusion; `mcn-cl` package, built "
        "from the description of arXiv 2510.24827, which has no public code) for **utterance-level multimodal "
        f"sentiment / emotion analysis**: from one utterance's transcript, speech and face video it predicts {output}.",
        "",
        "## Intended use and limits",
        "",
        f"Research on multimodal fusion{f' on {description}' if description else ''}. Not for decisions about "
        "people; predicted sentiment is what annotators would attribute to the clip, not what the person feels, "
        "and corpora of acted, scripted or online-review speech in one language transfer poorly to other speakers, "
        "languages and recording conditions. A missing modality is masked, with lower accuracy.",
        "",
        "## How to use",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        f'analyser = pipeline("multimodal-sentiment-analysis", model="{where}", trust_remote_code=True)',
        'analyser({"text": "I loved it", "audio": "clip.mp4", "video": "clip.mp4"})'
        if config.visual_config is not None
        and (
            config.audio_config is not None or processor is not None and processor.audio_input == "opensmile"
        )
        else "# no speech / vision tower here: give the text and/or precomputed [frames, size] audio / visual sequences\n"
        f'analyser({{"text": "I loved it", "audio_features": audio_{config.audio_feature_size}d, '
        f'"visual_features": visual_{config.visual_feature_size}d}})',
        "```",
        "",
        "## Configuration",
        "",
        *[f"- {row}" for row in towers],
    ]
    if metrics:
        lines += ["", "## Results", "", "Test split:", "", "| metric | value |", "|---|---|"]
        lines += [
            f"| {display} | {value:.4f} |"
            if metric_type in ("mae", "pearsonr")
            else f"| {display} | {100 * value:.2f} % |"
            for metric_type, display, value in metrics
        ]
    lines += [
        "",
        "## Citation",
        "",
        "MCIHN: A Hybrid Network Model Based on Multi-path Cross-modal Interaction for Multimodal Emotion "
        "Recognition (Zhang, Yang, Sun, Pang, Xu), arXiv 2510.24827.",
        "",
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def write_mcihn_model_card(save_directory, config, test_results=None, **kwargs) -> ModelCard:
    """Write `README.md` (the [`mcihn_model_card`]) into a checkpoint folder."""
    card = mcihn_model_card(config, test_results, **kwargs)
    card.save(os.path.join(os.fspath(save_directory), CARD_NAME))
    return card


def add_pipeline_code(model, save_directory) -> None:
    """`MCIHNForMultimodalSentiment.save_hooks` step (registered by `import mcn_cl`): every saved folder gets the
    pipeline's code (`pipeline_mcihn.py` and the sibling it imports) and `custom_pipelines` in its `config.json`, so
    that `pipeline("multimodal-sentiment-analysis", model=folder, trust_remote_code=True)` works in an interpreter
    that never imported `mcn_cl` (without it: `KeyError: Unknown task`)."""
    from transformers.dynamic_module_utils import custom_object_save

    from .pipeline_mcihn import TASK, MultimodalSentimentAnalysisPipeline

    if os.path.isfile(save_directory):
        return  # save_pretrained reports it
    os.makedirs(save_directory, exist_ok=True)
    impl = f"{MultimodalSentimentAnalysisPipeline.__module__.split('.')[-1]}.{MultimodalSentimentAnalysisPipeline.__name__}"
    pipelines = dict(getattr(model.config, "custom_pipelines", None) or {})
    pipelines[TASK] = {"impl": impl, "pt": ["AutoModel"], "type": "multimodal"}
    model.config.custom_pipelines = pipelines
    custom_object_save(MultimodalSentimentAnalysisPipeline, save_directory)


def save_mcihn_for_hub(model, processor, save_directory, test_results=None, dataset_name=None, **card_kwargs):
    """[`mcn_cl.hub_base.save_folder_for_hub`] with MCIHN's pipeline (`"multimodal-sentiment-analysis"`) and card."""
    from .pipeline_mcihn import TASK, MultimodalSentimentAnalysisPipeline

    return save_folder_for_hub(
        model,
        processor,
        save_directory,
        pipeline_class=MultimodalSentimentAnalysisPipeline,
        task=TASK,
        card_writer=write_mcihn_model_card,
        test_results=test_results,
        dataset_name=dataset_name,
        **card_kwargs,
    )


__all__ = ["add_pipeline_code", "mcihn_model_card", "save_mcihn_for_hub", "write_mcihn_model_card"]
