# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Dataset preparation: loader rows (docs/data_formats.md, section 1) -> dialogue features (section 2).

`prepare_dataset` runs the processor over every dialogue with `datasets.map` (batched, `num_proc` worker
processes, Arrow cache on disk, progress bar). Given the model's frozen ResNet-101 (`model.get_visual_backbone()`)
it stores `visual_features` [N, L, 1000] instead of `pixel_values`, so training does not decode video nor run the
backbone every epoch.

    >>> from mcn_cl.preprocess import prepare_dataset
    >>> features = prepare_dataset(raw, processor, visual_backbone=model.get_visual_backbone(), num_proc=4)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from datasets import Array3D, Array5D, ClassLabel, Dataset, DatasetDict, Features, List, Value

logger = logging.getLogger(__name__)

# Bump when the output of `prepare_dataset` changes for the same inputs: old caches then stop matching.
PREPROCESS_VERSION = "1"


def loader_row_to_conversation(utterances: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Loader utterances (section 1) -> the processor's utterance dicts (paths, window, label)."""
    return [
        {
            "text": u.get("text"),
            "speaker": u.get("speaker"),
            "label": u.get("label"),
            "audio": u.get("audio_path"),
            "video": u.get("video_path"),
            "start": u.get("start"),
            "end": u.get("end"),
        }
        for u in utterances
    ]


@torch.inference_mode()
def frame_features(
    backbone: torch.nn.Module, pixel_values: np.ndarray, frame_mask: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """Run a frozen frame backbone over the real frames of the clips of one or more dialogues.

    Args:
        backbone: `[F, 3, H, W] -> [F, D]` (e.g. ResNet-101, D = 1000), run in eval mode under `inference_mode`.
        pixel_values: float32 [N, L, 3, H, W] (N clips: the utterances of one dialogue or of several).
        frame_mask: [N, L], 1 = real frame; padded frames are not run and stay 0 in the output.
        batch_size: frames per forward pass.

    Returns:
        float32 [N, L, D].
    """
    was_training = backbone.training
    backbone.eval()
    try:
        param = next(backbone.parameters())
        n, length = pixel_values.shape[:2]
        flat = torch.from_numpy(np.ascontiguousarray(pixel_values)).reshape(
            n * length, *pixel_values.shape[2:]
        )
        real = torch.from_numpy(np.asarray(frame_mask).reshape(-1) > 0).nonzero().squeeze(-1)
        outputs = []
        for chunk in real.split(batch_size):
            x = flat[chunk].to(device=param.device, dtype=param.dtype)
            outputs.append(backbone(x).float().cpu())
        dim = outputs[0].shape[-1] if outputs else _output_size(backbone)
        result = torch.zeros(n * length, dim)
        if outputs:
            result[real] = torch.cat(outputs)
        return result.reshape(n, length, dim).numpy()
    finally:
        backbone.train(was_training)


def _output_size(backbone: torch.nn.Module) -> int:
    fc = getattr(backbone, "fc", None)
    if isinstance(fc, torch.nn.Linear):  # ResNets
        return fc.out_features
    # any other backbone (SqueezeNet's classifier is a convolution): run it once on a blank 64x64 frame
    parameter = next(backbone.parameters(), None)
    if parameter is None:
        raise ValueError("cannot tell the backbone's output size: no frame to run it on and no parameters")
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.inference_mode():
            blank = torch.zeros(1, 3, 64, 64, dtype=parameter.dtype, device=parameter.device)
            return int(backbone(blank).shape[-1])
    finally:
        backbone.train(was_training)


def _prepare_batch(
    batch: dict[str, list],
    processor,
    on_error: str,
    backbone: torch.nn.Module | None,
    frame_batch_size: int,
    torch_threads: int | None,
    columns: dict[str, list[int]],
) -> dict[str, list]:
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    prepared = []
    for dialogue_id, utterances in zip(batch["dialogue_id"], batch["utterances"]):
        features = processor.prepare_dialogue(
            loader_row_to_conversation(utterances), on_error=on_error, dialogue_id=dialogue_id
        )
        if "labels" in features:  # ClassLabel column: -1 = unlabelled (the collator turns it into -100)
            features["labels"] = [y if y >= 0 else -1 for y in features["labels"]]
        prepared.append(features)
    with_frames = [f for f in prepared if "pixel_values" in f]
    if backbone is not None and with_frames:
        # one backbone pass over the real frames of all the batch's clips (chunks of frame_batch_size frames)
        sizes = [len(f["pixel_values"]) for f in with_frames]
        encoded = frame_features(
            backbone,
            np.concatenate([f.pop("pixel_values") for f in with_frames]),
            np.concatenate([f["frame_mask"] for f in with_frames]),
            frame_batch_size,
        )
        for f, visual in zip(with_frames, np.split(encoded, np.cumsum(sizes)[:-1])):
            f["visual_features"] = visual
    out: dict[str, list] = {}
    for features, utterances in zip(prepared, batch["utterances"]):
        n = len(utterances)
        for key, inner in columns.items():  # a modality no utterance of this dialogue has: zeros, masked
            if key not in features:
                features[key] = np.zeros(
                    (n, *inner), dtype=np.float32 if "features" in key or key == "pixel_values" else np.int64
                )
        for key, value in features.items():
            out.setdefault(key, []).append(value)
    return out


def output_features(
    processor, label_names: list[str], backbone_dim: int | None, has: dict[str, bool]
) -> Features:
    """`datasets.Features` of the prepared rows (section 2)."""
    spec: dict[str, Any] = {
        "dialogue_id": Value("string"),
        "speakers": List(Value("string")),
        "labels": List(ClassLabel(names=list(label_names))),
        "input_ids": List(List(Value("int32"))),
        "attention_mask": List(List(Value("int8"))),
        "audio_features": List(List(Value("float32"))),
        "frame_mask": List(List(Value("int8"))),
        "modality_mask": List(List(Value("int8"))),
        "media_errors": List(
            {"utterance": Value("int32"), "modality": Value("string"), "reason": Value("string")}
        ),
    }
    vp = processor.video_processor
    if backbone_dim is not None:
        spec["visual_features"] = Array3D(shape=(None, vp.num_frames, backbone_dim), dtype="float32")
    else:
        size = vp.size
        spec["pixel_values"] = Array5D(
            shape=(None, vp.num_frames, 3, size["height"], size["width"]), dtype="float32"
        )
    for key, present in has.items():
        if not present:
            for name in {"text": ("input_ids", "attention_mask"), "audio": ("audio_features",)}.get(key, ()):
                spec.pop(name, None)
            if key == "visual":
                for name in ("visual_features", "pixel_values", "frame_mask"):
                    spec.pop(name, None)
    return Features(spec)


def _dense_columns(features: Features, processor) -> dict[str, tuple[int, ...]]:
    """Per-utterance shape of the fixed-size columns (filled with zeros for a dialogue without the modality)."""
    vp, fe = processor.video_processor, processor.feature_extractor
    shapes = {
        "audio_features": (fe.feature_size,),
        "frame_mask": (vp.num_frames,),
        "pixel_values": (vp.num_frames, 3, vp.size["height"], vp.size["width"]),
    }
    if "visual_features" in features:
        shapes["visual_features"] = features["visual_features"].shape[1:]
    return {key: tuple(shape) for key, shape in shapes.items() if key in features}


def _fingerprint(*parts: Any) -> str:
    payload = json.dumps([PREPROCESS_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _processor_signature(processor) -> dict[str, Any]:
    tokenizer = processor.tokenizer
    vocab = sorted(tokenizer.get_vocab().items())
    return {
        "processor": processor.to_dict(),
        "tokenizer": [type(tokenizer).__name__, hashlib.sha256(repr(vocab).encode()).hexdigest()],
    }


def _media_signature(utterances: list[Mapping[str, Any]]) -> str:
    """Digest of `[path, size, mtime]` of every media file: a clip replaced or fixed on disk under the same path
    (which leaves the loader rows unchanged) invalidates the cached features."""
    from mcn_cl.datasets_scripts._common import path_signature

    digest = hashlib.blake2b(digest_size=16)
    for u in utterances:
        for key in ("audio_path", "video_path"):
            if u.get(key) is not None:
                digest.update(json.dumps(path_signature(u[key])).encode("utf-8"))
    return digest.hexdigest()


def _module_digest(module: torch.nn.Module | None) -> str | None:
    if module is None:
        return None
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def prepare_dataset(
    dataset_dict: DatasetDict | Dataset,
    processor,
    visual_backbone: torch.nn.Module | None = None,
    num_proc: int | None = 1,
    on_error: str = "mask",
    batch_size: int = 4,
    frame_batch_size: int = 64,
    load_from_cache_file: bool = True,
) -> DatasetDict | Dataset:
    """Loader rows -> dialogue features with `processor`, through a cached `datasets.map`.

    Args:
        dataset_dict: the loader's `DatasetDict` (or one split), one row per dialogue (section 1).
        processor: an `MCNCLProcessor`.
        visual_backbone: the model's frozen frame backbone (`model.get_visual_backbone()`, ResNet-101): when
            given, the frames of all the clips of a `map` batch are run through it together (eval mode,
            `torch.inference_mode`, `frame_batch_size` frames per pass, padded frames skipped) and the rows hold `visual_features` [N, L, D] instead of
            `pixel_values` [N, L, 3, H, W] (D = 1000, and about 150x less disk).
        num_proc: worker processes of `datasets.map`. Workers are forked (Linux) and receive a pickled copy of
            the processor and backbone; each one runs torch with a single thread so that num_proc workers use
            num_proc cores. A backbone on a GPU needs `num_proc=1` (CUDA cannot be used in forked processes).
        on_error: `"mask"` (default: a bad file masks that modality of that utterance, listed in the row's
            `media_errors` and in a warning) or `"raise"`.
        batch_size: dialogues per `map` batch.
        frame_batch_size: frames per backbone forward pass.
        load_from_cache_file: reuse the cached result of an identical earlier run (the cache key covers the
            rows, the size and modification time of every media file, the processor's config and vocabulary,
            `on_error` and the backbone's weights).

    Returns:
        The same splits with rows `dialogue_id, speakers, labels (ClassLabel, -1 = unlabelled), input_ids,
        attention_mask, audio_features, visual_features | pixel_values, frame_mask, modality_mask, media_errors`.
    """
    from mcn_cl.datasets_scripts import label_names as dataset_label_names
    from mcn_cl.processing.inputs_mcn_cl import ON_ERROR

    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'mask', got {on_error!r}")
    if isinstance(dataset_dict, Dataset):
        return prepare_dataset(
            DatasetDict({"data": dataset_dict}),
            processor,
            visual_backbone,
            num_proc,
            on_error,
            batch_size,
            frame_batch_size,
            load_from_cache_file,
        )["data"]
    num_proc = num_proc if num_proc and num_proc > 1 else None
    if visual_backbone is not None:
        device = next(visual_backbone.parameters()).device
        if num_proc and device.type != "cpu":
            raise ValueError(
                f"prepare_dataset: a visual_backbone on {device} cannot run in forked workers; use num_proc=1 "
                "or move the backbone to the CPU"
            )
    backbone_dim = None
    if visual_backbone is not None:
        backbone_dim = _output_size(visual_backbone)
    names = dataset_label_names(dataset_dict)
    signature = _processor_signature(processor)
    backbone_digest = _module_digest(visual_backbone)
    out = {}
    for split, ds in dataset_dict.items():
        utts = [u for row in ds["utterances"] for u in row] if len(ds) else []
        has = {
            "text": any(u.get("text") is not None for u in utts),
            "audio": any(u.get("audio_path") is not None for u in utts),
            "visual": any(u.get("video_path") is not None for u in utts),
        }
        features = output_features(processor, names, backbone_dim, has)
        columns = _dense_columns(features, processor)
        fingerprint = _fingerprint(
            ds._fingerprint, _media_signature(utts), signature, on_error, backbone_digest, features.to_dict()
        )
        out[split] = ds.map(
            _prepare_batch,
            batched=True,
            batch_size=batch_size,
            num_proc=num_proc,
            remove_columns=ds.column_names,
            features=features,
            fn_kwargs={
                "processor": processor,
                "on_error": on_error,
                "backbone": visual_backbone,
                "frame_batch_size": frame_batch_size,
                "torch_threads": 1 if num_proc else None,
                "columns": columns,
            },
            new_fingerprint=fingerprint,
            load_from_cache_file=load_from_cache_file,
            desc=f"MCN-CL features ({split})",
        )
        errors = sum(len(e) for e in out[split]["media_errors"])
        if errors:
            logger.warning(
                "%s: %d utterance modalities were masked (see the media_errors column)", split, errors
            )
    return DatasetDict(out)


def _normalize_batch(batch: dict[str, list], mean: np.ndarray, std: np.ndarray) -> dict[str, list]:
    out = []
    for audio, mask in zip(batch["audio_features"], batch["modality_mask"]):
        audio, present = np.asarray(audio, dtype=np.float32), np.asarray(mask)[:, 1] > 0
        audio[present] = (audio[present] - mean) / std  # masked utterances stay zero
        out.append(audio)
    return {"audio_features": out}


def fit_audio_normalization(
    dataset_dict: DatasetDict, processor, split: str = "train", num_proc: int | None = None
) -> DatasetDict:
    """Per-feature standardisation of the openSMILE functionals, fitted on one split.

    openSMILE functionals differ in scale by orders of magnitude (energies vs. zero-crossing rates), which a
    per-utterance LayerNorm cannot undo. This fits `processor.feature_extractor`'s mean / std on the audio of the
    utterances of `split` that have audio (`modality_mask`), switches its normalisation on (so a saved processor
    standardises new clips the same way) and standardises every split's `audio_features` with `datasets.map`
    (cached). Rows prepared by an already-normalising processor, or without audio, are returned unchanged.

    Args:
        dataset_dict: the output of `prepare_dataset` (raw functionals).
        processor: the `MCNCLProcessor` that extracted them; its feature extractor is fitted in place.
        split: the split the statistics come from (never the evaluation splits).
        num_proc: worker processes of `datasets.map`.
    """
    extractor = processor.feature_extractor
    if extractor.do_normalize or "audio_features" not in dataset_dict[split].column_names:
        return dataset_dict
    rows = dataset_dict[split].select_columns(["audio_features", "modality_mask"]).with_format("numpy")
    present = [
        np.asarray(audio)[np.asarray(mask)[:, 1] > 0]
        for audio, mask in zip(rows["audio_features"], rows["modality_mask"])
    ]
    present = [p for p in present if len(p)]
    if not present:
        logger.warning("fit_audio_normalization: no utterance of %r has audio; nothing to fit", split)
        return dataset_dict
    extractor.fit_normalization(np.concatenate(present))
    mean = np.asarray(extractor.feature_mean, dtype=np.float32)
    std = np.asarray(extractor.feature_std, dtype=np.float32)
    return DatasetDict(
        {
            name: ds.map(
                _normalize_batch,
                batched=True,
                num_proc=num_proc if num_proc and num_proc > 1 else None,
                fn_kwargs={"mean": mean, "std": std},
                desc=f"standardising audio ({name})",
            )
            if "audio_features" in ds.column_names
            else ds
            for name, ds in dataset_dict.items()
        }
    )


__all__ = [
    "prepare_dataset",
    "fit_audio_normalization",
    "frame_features",
    "loader_row_to_conversation",
    "output_features",
]
