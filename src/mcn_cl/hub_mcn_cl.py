# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Hub-ready MCN-CL checkpoint folders: model + processor + pipeline code + a model card.

Uploading stays the libraries' own (`model.push_to_hub`, `processor.push_to_hub`, `Trainer(push_to_hub=True)`,
`huggingface_hub.upload_folder`); this module writes the folder they upload:

    config.json                  MCNCLConfig, with `auto_map` (AutoConfig / AutoModel) and `custom_pipelines`
    model.safetensors            the weights
    configuration_mcn_cl.py, modeling_mcn_cl.py                                    (model code, trust_remote_code;
    modeling_outputs_mcn_cl.py, heads_mcn_cl.py, unimodal_encoders_mcn_cl.py, context_encoders_mcn_cl.py,
    grouped_dialogue_rnn.py, cross_attention_mcn_cl.py, streaming_mcn_cl.py
                                 the siblings modeling_mcn_cl.py imports, copied by `save_pretrained`)
    processor_config.json, tokenizer.json, tokenizer_config.json, ...              (the processor)
    processing_mcn_cl.py, padding_mcn_cl.py, feature_extraction_mcn_cl.py,
    inputs_mcn_cl.py, video_processing_mcn_cl.py   (processor code)
    pipeline_mcn_cl.py, pipeline_base.py   MultimodalEmotionRecognitionPipeline and its base
    README.md                    the model card (YAML metadata + intended use, limits, usage, results)

so that `pipeline("multimodal-emotion-recognition", model=<folder or repo>, trust_remote_code=True)` works in an
interpreter without `mcn_cl`.

    >>> from mcn_cl.hub_mcn_cl import save_for_hub
    >>> save_for_hub(model, processor, "my-checkpoint", test_results="runs/meld/test_results.json")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from huggingface_hub import ModelCard

from .hub_base import (
    CARD_NAME,
    DEFAULT_PIPELINE_TAG,
    TEST_RESULTS_NAME,
    _hub_id,
    _text_encoder_name,
    card_metadata,
    load_test_results,
    save_folder_for_hub,
)

TASK_NAME = "Emotion recognition in conversation"
CUSTOM_TASK = "multimodal-emotion-recognition"
# What the README documents to install the package (a clone of the repository): the card says the same
INSTALL_PACKAGE = "pip install ."
DEFAULT_TAGS = (
    "mcn-cl",
    "emotion-recognition",
    "emotion-recognition-in-conversation",
    "multimodal",
    "custom_code",
)
# train.py's `--dataset` values -> (name in the card, description)
DATASETS = {
    "iemocap": (
        "IEMOCAP",
        "IEMOCAP (USC SAIL): dyadic sessions of ten actors, scripted and improvised, English",
    ),
    "meld": ("MELD", "MELD: multi-party dialogues from the TV series *Friends*, English"),
    "demo": (
        "mcn-cl-demo",
        "the generated demo corpus of `mcn_cl.demo` (synthetic tones, moving shapes and template sentences)",
    ),
    "feature_pickle": ("precomputed features", "precomputed utterance features (community feature files)"),
    "conversations": (
        "own conversations",
        "labelled conversations of the user's own (`mcn_cl.load_conversations`)",
    ),
}
BENCHMARKS = ("iemocap", "meld")


# ----------------------------------------------------------------------------------------------------- card


def _metric(results: Mapping[str, Any], name: str) -> float | None:
    """`weighted_f1` from `test_weighted_f1` (Trainer prefix) or `weighted_f1`."""
    for key in (f"test_{name}", name):
        if results.get(key) is not None:
            return float(results[key])
    return None


def _test_metrics(
    results: Mapping[str, Any], label_names: list[str]
) -> list[tuple[str, str, str | None, float]]:
    """(metric_type, display name, metric_config, value) of the run, headline first."""
    out = []
    for key, metric_type, display, config in (
        ("weighted_f1", "f1", "Weighted F1", "weighted"),
        ("macro_f1", "f1", "Macro F1", "macro"),
        ("accuracy", "accuracy", "Accuracy", None),
    ):
        value = _metric(results, key)
        if value is not None:
            out.append((metric_type, display, config, value))
    for label in label_names:
        value = _metric(results, f"f1_{label}")
        if value is not None:
            out.append(("f1", f"F1 ({label})", label, value))
    return out


def _towers(config, tower_weights: Mapping[str, str] | None) -> list[str]:
    """One line per pretrained tower: what it is, whether its weights were pretrained or random, frozen or trained."""
    tower_weights = tower_weights or {}
    rows = []
    if getattr(config, "use_text_encoder", True):
        name = _hub_id(_text_encoder_name(config)) or config.text_config.model_type
        origin = tower_weights.get("text", "origin not recorded")
        state = "frozen" if config.freeze_text_encoder else "fine-tuned"
        rows.append(f"text tower: {name}, {origin}, {state}")
    if config.visual_backbone:
        origin = tower_weights.get("visual", "origin not recorded")
        state = "frozen" if config.freeze_visual_backbone else "fine-tuned"
        line = f"visual tower: {config.visual_backbone}, {origin}, {state}"
        if origin.startswith("random") and config.freeze_visual_backbone:
            line += " (its frame features are random projections of the pixels: they carry colour and layout, no learnt visual knowledge)"
        rows.append(line)
    return rows


def _config_summary(config, processor=None, training_args=None) -> list[str]:
    rows = []
    if getattr(config, "use_text_encoder", True):
        text_config = config.text_config
        shape = (
            f"{text_config.model_type}, {getattr(text_config, 'num_hidden_layers', '?')} layers, "
            f"{getattr(text_config, 'hidden_size', '?')}-d"
        )
        name = _hub_id(_text_encoder_name(config))
        rows.append(f"text encoder: {f'{name} ({shape})' if name else shape}, {config.text_pooling} pooling")
    else:
        rows.append(f"text: precomputed {config.text_feature_size}-d features")
    feature_extractor = getattr(processor, "feature_extractor", None)
    audio = (
        f"openSMILE {feature_extractor.feature_set}" if feature_extractor is not None else "audio features"
    )
    rows.append(f"audio: {audio} ({config.audio_feature_size}-d)")
    if config.visual_backbone:
        rows.append(
            f"visual: {config.visual_backbone} on {config.num_frames} frames per utterance, PSA={config.use_psa}"
        )
    else:
        rows.append(f"visual: precomputed {config.visual_feature_size}-d features, PSA={config.use_psa}")
    rows.append(
        f"fusion: context encoder {config.context_encoder}, {config.num_mcn_layers} MCN layers, hidden size "
        f"{config.hidden_size}, {config.num_attention_heads} heads"
    )
    if getattr(config, "causal", False):
        rows.append(
            "online: causal (each prediction uses only the utterances so far), so it can stream: "
            "`stream = model.init_stream()`, then `stream.step(**one_utterance)` as each utterance arrives"
        )
    else:
        rows.append(
            "online: bidirectional (each prediction also uses the later utterances), so it cannot stream"
        )
    rows.append(
        f"contrastive terms: tau={config.contrastive_temperature}, rho={config.hard_negative_ratio}, "
        f"alpha/beta/gamma={config.contrastive_weight_text}/{config.contrastive_weight_audio}/"
        f"{config.contrastive_weight_visual}" + (", class-weighted CE" if config.class_weights else "")
    )
    if training_args is not None:
        args = training_args if isinstance(training_args, Mapping) else training_args.to_dict()
        parts = [
            f"{key}={args[key]}"
            for key in (
                "num_train_epochs",
                "max_steps",
                "learning_rate",
                "per_device_train_batch_size",
                "gradient_accumulation_steps",
                "warmup_steps",
                "weight_decay",
                "seed",
                "metric_for_best_model",
            )
            if args.get(key) not in (None, -1, 0) or key == "weight_decay" and args.get(key) is not None
        ]
        rows.append("training: " + ", ".join(parts))
    return rows


def model_card(
    config,
    test_results: Mapping[str, Any] | str | os.PathLike | None = None,
    *,
    processor=None,
    dataset_name: str | None = None,
    training_args=None,
    model_name: str | None = None,
    repo_id: str | None = None,
    pipeline_tag: str | None = DEFAULT_PIPELINE_TAG,
    license: str = "apache-2.0",
    tags: list[str] | None = None,
    dataset_source: str | None = None,
    tower_weights: Mapping[str, str] | None = None,
) -> ModelCard:
    """The model card of an MCN-CL checkpoint.

    Args:
        config (`MCNCLConfig`): the model's config (labels, architecture).
        test_results (`dict`, path or folder, *optional*): `test_results.json` of `examples/train.py`; its weighted
            F1, macro F1, accuracy and per-class F1 on the test split go into the metadata (`model-index`) and a
            results table.
        processor (`MCNCLProcessor`, *optional*): named in the configuration summary (openSMILE feature set).
        dataset_name (`str`, *optional*): `"iemocap"`, `"meld"`, `"demo"`, `"feature_pickle"` or any name; default:
            `test_results["dataset"]`.
        training_args (`TrainingArguments` or `dict`, *optional*): summarised in the card.
        model_name (`str`, *optional*): title and `model-index` name (default: from `repo_id` or the dataset).
        repo_id (`str`, *optional*): Hub id used in the usage snippets (default: a placeholder).
        pipeline_tag, license, tags: metadata (`pipeline_tag` None: no Hub task fits; the card names the custom
            pipeline task `multimodal-emotion-recognition` instead).
        dataset_source (`str`, *optional*): the folder or file the data came from (`--data_dir`); a
            `"conversations"` folder's name becomes the card's dataset name.
        tower_weights (`dict`, *optional*): `{"text": ..., "visual": ...}`, where each tower's weights came from
            (e.g. `"pretrained (IMAGENET1K_V2)"`, `"random weights"`), shown with whether it was frozen.

    Returns:
        `huggingface_hub.ModelCard` (`card.save("README.md")`, `card.push_to_hub(repo_id)`).
    """
    results = load_test_results(test_results)
    label_names = [config.id2label[i] for i in sorted(config.id2label)]
    dataset_key = dataset_name or (results or {}).get("dataset")
    # examples/train.py records both in test_results.json, so a later rewrite of the card (push_to_hub) keeps them
    dataset_source = dataset_source or (results or {}).get("dataset_source")
    tower_weights = tower_weights or (results or {}).get("tower_weights")
    dataset_title, dataset_description = (
        DATASETS.get(str(dataset_key).lower(), (dataset_key, dataset_key)) if dataset_key else (None, None)
    )
    if dataset_source:
        source = os.path.basename(os.path.normpath(os.fspath(dataset_source)))
        if str(dataset_key).lower() == "conversations":
            dataset_title = source
            dataset_description = (
                f"labelled conversations of the folder `{source}` (`mcn_cl.load_conversations`)"
            )
        elif str(dataset_key).lower() == "feature_pickle":
            dataset_description = f"precomputed utterance features of the file `{source}`"
    model_name = model_name or (repo_id.split("/")[-1] if repo_id else None)
    model_name = model_name or (
        f"mcn-cl-{dataset_key}".lower().replace("_", "-") if dataset_key else "mcn-cl"
    )
    metrics = _test_metrics(results, label_names) if results else []
    data = card_metadata(
        config,
        model_name=model_name,
        pipeline_tag=pipeline_tag,
        task_name=TASK_NAME,
        dataset_title=dataset_title,
        metrics=metrics,
        license=license,
        tags=list(tags) if tags is not None else list(DEFAULT_TAGS),
        task_type=CUSTOM_TASK,
    )
    card = ModelCard(
        f"---\n{data.to_yaml()}\n---\n\n"
        + _card_body(
            config,
            results,
            metrics,
            label_names,
            model_name,
            repo_id,
            dataset_key,
            dataset_description,
            processor,
            training_args,
            tower_weights,
            pipeline_tag,
        )
    )
    return card


def _takes_features_only(config) -> bool:
    """A model for the community feature files: precomputed vectors in, no tokenizer, openSMILE or frames."""
    return not getattr(config, "use_text_encoder", True) and not config.visual_backbone


def _feature_usage(config, where: str) -> list[str]:
    return [
        "This checkpoint takes precomputed utterance features, as in the community feature files it was trained on "
        f"(text {config.text_feature_size}-d, audio {config.audio_feature_size}-d, visual "
        f"{config.visual_feature_size}-d per utterance), not raw media:",
        "",
        "```python",
        "from transformers import AutoModel",
        "",
        f'model = AutoModel.from_pretrained("{where}", trust_remote_code=True)',
        "logits = model(text_features=t, audio_features=a, visual_features=v, speaker_ids=s).logits  # [B, N, K]",
        "```",
        "",
    ]


def _card_body(
    config,
    results,
    metrics,
    label_names,
    model_name,
    repo_id,
    dataset_key,
    dataset_description,
    processor,
    training_args,
    tower_weights=None,
    pipeline_tag=None,
) -> str:
    where = repo_id or "path/to/this/checkpoint"
    key = str(dataset_key).lower()
    trained_on = (
        f"It was trained on {dataset_description}."
        if dataset_description
        else "Its training data is not recorded."
    )
    lines = [
        f"# {model_name}",
        "",
        "An MCN-CL model (multimodal cross-attention network with contrastive learning, `mcn-cl` package) for **emotion recognition in conversation**: it reads a whole conversation - the transcript, "
        "speech and face video of every utterance - and predicts one emotion per utterance, using the other "
        "utterances and who speaks them as context.",
        "",
        f"Labels: {', '.join(f'`{name}`' for name in label_names)}. {trained_on}",
        "",
        (
            f"Task: no Hub task matches (a conversation of text + audio + video utterances in, one label per utterance "
            f"out), so the card declares no `pipeline_tag` and the Hub shows no widget; the model runs through the "
            f"custom pipeline task `{CUSTOM_TASK}` shipped with it (below)."
            if pipeline_tag is None
            else f"Hub task: `{pipeline_tag}`; the model runs through the custom pipeline task `{CUSTOM_TASK}`."
        ),
        "",
        "## Intended use",
        "",
        "Research on emotion recognition in conversation: "
        + (
            "reproducing and comparing results on the benchmark it was trained on, "
            if key in BENCHMARKS
            else "recognising the labels above in conversations like those it was trained on, "
        )
        + "studying multimodal fusion, and as a starting point for fine-tuning on other labelled conversation data.",
        "",
        "Not intended for decisions about people (hiring, admission, credit, insurance, policing, health or "
        "emotional-state monitoring of employees, students, customers or patients), nor for inferring the emotions "
        "of people who have not agreed to it.",
        "",
        "## Limitations and risks",
        "",
        (
            "- **Training data**: the MCN-CL benchmarks are **acted** (IEMOCAP: actors in a studio) or **TV-series** "
            "(MELD: *Friends*) **English** dialogue. Emotions there are scripted or performed and labelled by "
            "annotators from what is shown; spontaneous speech, other languages, cultures, accents, recording "
            "conditions, ages and faces that these corpora under-represent will be recognised less well."
            if key in BENCHMARKS
            else "- **Training data**: "
            + (dataset_description or "not recorded")
            + ". The model knows only the speakers, languages, recording conditions and labelling of that data; "
            "anything it under-represents will be recognised less well."
        ),
        "- **What is predicted** is the emotion that annotators would attribute to the utterance, not what the "
        "person feels. Inferring people's emotions is sensitive: it can be wrong, intrusive and discriminatory, "
        "and in some jurisdictions emotion recognition is restricted by law (e.g. the EU AI Act in workplaces and "
        "education). Keep a human in the loop and tell people when it is used.",
        "- Per-class quality differs strongly (minority emotions such as fear or disgust are often poorly "
        "recognised): read the per-class F1 below, not only the weighted F1.",
        "- Missing modalities (no face found, no audio) are handled by masking, with lower accuracy.",
    ]
    if str(dataset_key).lower() == "demo":
        lines.append(
            "- **This checkpoint was trained on the generated demo corpus** (tones, coloured shapes and template "
            "sentences): it only shows that the pipeline works and recognises nothing about real people."
        )
    lines += [
        "",
    ]
    lines += ["## How to use", ""] + (
        _feature_usage(config, where)
        if _takes_features_only(config)
        else [
            "The model, processor and pipeline code ship with the checkpoint (`trust_remote_code=True`), so only "
            "`transformers` and the processor's libraries are needed: `pip install transformers torch torchvision "
            "opensmile soundfile av opencv-python-headless`. The `mcn-cl` package itself (command line, trainer) "
            f"installs from a clone of its repository: `{INSTALL_PACKAGE}` (its README's set-up).",
            "",
            "```python",
            "from transformers import pipeline",
            "",
            f'classifier = pipeline("multimodal-emotion-recognition", model="{where}", trust_remote_code=True)',
            "conversation = [",
            '    {"speaker": "Ann", "text": "We won the game!", "audio": "utt0.wav", "video": "utt0.mp4"},',
            '    {"speaker": "Ben", "text": "Seriously?", "audio": "utt1.wav", "video": "utt1.mp4"},',
            "]",
            "for utterance in classifier(conversation, top_k=3):",
            '    print(utterance["speaker"], utterance["label"], round(utterance["score"], 2))',
            "```",
            "",
            "Each utterance may give `text`, `audio` (file or waveform with `sampling_rate`), `video` (file or frames) "
            'and a `start` / `end` window in seconds; `on_error="mask"` predicts from the remaining modalities when a '
            "file is missing or unreadable. The model and processor load on their own too:",
            "",
            "```python",
            "from transformers import AutoModel, AutoProcessor",
            "",
            f'model = AutoModel.from_pretrained("{where}", trust_remote_code=True)',
            f'processor = AutoProcessor.from_pretrained("{where}", trust_remote_code=True)',
            "inputs = processor(conversation)  # [1 dialogue, N utterances, ...]",
            "logits = model(**inputs).logits    # [1, N, num_labels]",
            "```",
            "",
            "With the `mcn-cl` package installed: `mcn-cl predict --model <folder> --conversation conversation.json`.",
            "",
        ]
    )
    lines += [
        "## Training",
        "",
    ]
    lines += [f"- {row}" for row in _towers(config, tower_weights)]
    lines += [f"- {row}" for row in _config_summary(config, processor, training_args)]
    if results:
        if results.get("metric_for_best_model"):
            best = results.get("best_validation_metric")
            best = f" (best: {best:.4f})" if isinstance(best, int | float) else ""
            lines.append(
                f"- model selection: best `{results['metric_for_best_model']}` on the validation split{best}; "
                "the test split was used once, at the end"
            )
        if results.get("world_size"):
            lines.append(f"- processes: {results['world_size']}")
    if metrics:
        num = _metric(results, "num_utterances")
        lines += [
            "",
            "## Results",
            "",
            f"Test split{f' ({int(num)} utterances)' if num else ''}:",
            "",
            "| metric | value (%) |",
            "|---|---|",
        ]
        lines += [f"| {display} | {100 * value:.2f} |" for _, display, _, value in metrics]
    lines += [
        "",
        "## Citation",
        "",
        "MCN-CL: Multimodal Cross-Attention Network and Contrastive Learning for Multimodal Emotion Recognition "
        "(Li, Wu & Li).",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    save_directory: str | os.PathLike, config=None, test_results=None, **kwargs
) -> ModelCard:
    """Write `README.md` into a checkpoint folder and return the card.

    `config` defaults to the folder's `config.json`, `test_results` to its `test_results.json` (when present);
    `kwargs` go to [`model_card`].
    """
    save_directory = os.fspath(save_directory)
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(save_directory)
    if test_results is None and os.path.isfile(os.path.join(save_directory, TEST_RESULTS_NAME)):
        test_results = os.path.join(save_directory, TEST_RESULTS_NAME)
    card = model_card(config, test_results, **kwargs)
    card.save(os.path.join(save_directory, CARD_NAME))
    return card


# ----------------------------------------------------------------------------------------------------- folder


def save_for_hub(
    model,
    processor,
    save_directory: str | os.PathLike,
    test_results: Mapping[str, Any] | str | os.PathLike | None = None,
    dataset_name: str | None = None,
    *,
    pipeline_class=None,
    task: str | None = None,
    card_writer=None,
    space: bool = True,
    **card_kwargs,
) -> list[str]:
    """Write a Hub-ready checkpoint folder: weights, config (with `auto_map` and `custom_pipelines`), model,
    processor and pipeline code, processor configs and the model card (`README.md`); for MCN-CL also the Gradio
    page's `app.py` + `requirements.txt` ([`mcn_cl.recording.app.write_space`]), so that the folder pushed to a
    Space serves the model.

    MCN-CL's defaults for [`mcn_cl.hub_base.save_folder_for_hub`] (a staged write: see there).

    Args:
        model (`MCNCLForEmotionRecognition`): the model (its device and dtype are kept).
        processor (`MCNCLProcessor`): the processor the model was trained with.
        save_directory: target folder (created).
        test_results (`dict`, path or folder, *optional*): test metrics for the card (see [`model_card`]);
            default: `save_directory/test_results.json` when present.
        dataset_name (`str`, *optional*): the training corpus, for the card.
        card_kwargs: more [`model_card`] arguments (`training_args`, `repo_id`, `model_name`, `tags`, ...).
        pipeline_class, task, card_writer (*optional*): another model's pipeline class, its task name and card
            writer (`write_model_card`'s signature); default: MCN-CL's.
        space (`bool`, *optional*, defaults to `True`): with MCN-CL's pipeline, write the Space files too.

    Returns:
        The names of the files written.
    """
    own_model = pipeline_class is None
    if own_model:
        from .pipeline_mcn_cl import TASK as task
        from .pipeline_mcn_cl import MultimodalEmotionRecognitionPipeline as pipeline_class

    written = save_folder_for_hub(
        model,
        processor,
        save_directory,
        pipeline_class=pipeline_class,
        task=task,
        card_writer=card_writer or write_model_card,
        test_results=test_results,
        dataset_name=dataset_name,
        **card_kwargs,
    )
    if own_model and space:
        from .recording.app import write_space

        written = list(written) + write_space(save_directory)
    return written


def make_hub_ready(
    save_directory: str | os.PathLike,
    test_results: Mapping[str, Any] | str | os.PathLike | None = None,
    config=None,
    **kwargs,
) -> list[str]:
    """Turn a folder written by `Trainer.save_model()` (model + processor) into a Hub-ready one.

    Reloads the model and processor from the folder on the CPU with the package's classes (which also checks that
    they load) and calls [`save_for_hub`] on them. Safe after sharded / distributed training (FSDP): it never reads
    the in-memory training model. Run it on one process (the main one).

    Args:
        save_directory: the checkpoint folder (`config.json`, weights, `processor_config.json`, ...).
        test_results: see [`save_for_hub`] (default: the folder's `test_results.json`).
        config (`MCNCLConfig`, *optional*): the in-memory training model's config; it gets the same
            `custom_pipelines`, so that a later `trainer.save_model()` / `trainer.push_to_hub()` keeps them.
        kwargs: more [`save_for_hub`] / [`model_card`] arguments.
    """
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(save_directory).eval()
    processor = AutoProcessor.from_pretrained(save_directory)
    written = save_for_hub(model, processor, save_directory, test_results=test_results, **kwargs)
    if config is not None:
        config.custom_pipelines = model.config.custom_pipelines
    return written


__all__ = ["load_test_results", "make_hub_ready", "model_card", "save_for_hub", "write_model_card"]
