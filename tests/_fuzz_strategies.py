"""Random conversations for the bad-input property tests (issue 10): one place for the generators of the suite's
fuzz test (`tests/test_fuzz.py`) and of the long run (`benchmarks/fuzz.py`, which puts this folder on `sys.path`).

Every field of an utterance gets either a valid value or junk of a random type (None, bools, huge / non-finite
numbers, strings, lists, dicts); media are real and broken generated files (`make_media_pool`) and arrays of
random dtypes and shapes; windows, sampling rates and labels range over valid and invalid values; a few
conversations are structurally invalid (not a list, empty, holding a non-dict). `structural_problem` is the
oracle: the reason a conversation must raise `MCNCLInputError`, or `None` when it must not.

Nothing is downloaded; the media are written by `mcn_cl.demo` (PyAV / soundfile).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SR = 16000
NUM_FRAMES = 2
FRAME_SIZE = {"height": 32, "width": 32}

# settings of every fuzz run: seeded (derandomize) so that CI sees the same cases each time
FUZZ_SETTINGS = dict(
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)


def fuzz_settings(max_examples: int) -> settings:
    return settings(max_examples=max_examples, **FUZZ_SETTINGS)


# ------------------------------------------------------------------------------------------------------- media


def make_media_pool(folder: str | os.PathLike) -> dict[str, str]:
    """Write real and broken media into `folder`; returns name -> path (some paths do not exist on purpose)."""
    from mcn_cl.demo import write_mp4, write_wav

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(0.6 * SR)) / SR
    voice = (0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 - 0.5 * np.cos(2 * np.pi * 4 * t))).astype(np.float32)
    frames = rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    pool = {
        "wav": write_wav(os.path.join(folder, "voice.wav"), voice),
        "mp4": write_mp4(os.path.join(folder, "clip.mp4"), frames, fps=10, audio=voice),
        "avi": write_mp4(os.path.join(folder, "clip.avi"), frames, fps=10, audio=voice),
        "silent_mp4": write_mp4(os.path.join(folder, "silent.mp4"), frames, fps=10),
        "audio_only_mp4": write_mp4(os.path.join(folder, "audio_only.mp4"), None, audio=voice),
        # 3 s of audio under 2.7 s of video: windows starting 1 s in or later are read from a seek
        "long_mp4": write_mp4(os.path.join(folder, "long.mp4"), frames, fps=3, audio=np.tile(voice, 5)),
        "empty_wav": write_wav(os.path.join(folder, "empty.wav"), np.zeros(0, dtype=np.float32)),
        "missing": os.path.join(folder, "missing.mp4"),
        "directory": folder,
    }
    for name in ("corrupt.mp4", "corrupt.wav"):
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(b"\x00\x01 not a media file " * 8)
        pool[name.replace(".", "_")] = path
    truncated = os.path.join(folder, "truncated.mp4")
    with open(pool["mp4"], "rb") as src, open(truncated, "wb") as dst:
        data = src.read()
        dst.write(data[: len(data) // 2])
    pool["truncated_mp4"] = truncated
    return pool


# -------------------------------------------------------------------------------------------------- values


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """`one_of` with integer weights (hypothesis' own `one_of` draws its branches about evenly)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(min_value=0, max_value=len(table) - 1).flatmap(lambda k: table[k])


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _waveform(dtype: str, length: int, channels: int, special: str) -> np.ndarray:
    rng = np.random.default_rng(length * 7 + channels)
    x = 0.3 * rng.standard_normal((length, channels) if channels else length)
    if special == "nan" and x.size:
        x.flat[0] = np.nan
    elif special == "loud":
        x = x * 1e40
    if dtype == "float32":
        with np.errstate(over="ignore"):
            return x.astype(np.float32)
    if dtype == "float64":
        return x
    if dtype == "list_of_ints":  # JSON-style PCM (int64 once it is an array)
        return (np.nan_to_num(np.clip(x, -1, 1)) * 20000).astype(np.int64).tolist()
    info = np.iinfo(dtype)
    with np.errstate(invalid="ignore"):  # int64's max is not a float64: the clipped peak wraps, as junk may
        return np.clip(np.nan_to_num(x) * info.max, info.min, info.max).astype(dtype)


def _frames(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(sum(shape))
    return rng.integers(0, 255, shape).astype(dtype)


WAVEFORMS = st.builds(
    _waveform,
    st.sampled_from(["float32", "float64", "int16", "int32", "int64", "uint8", "list_of_ints"]),
    st.sampled_from([0, 1, 40, 4000, 12000]),
    st.sampled_from([0, 0, 1, 2]),
    st.sampled_from(["", "", "nan", "loud"]),
)
FRAME_ARRAYS = st.builds(
    _frames,
    st.sampled_from(["uint8", "uint8", "float32", "int64"]),
    st.sampled_from(
        [
            (3, 32, 32, 3),
            (1, 8, 12, 3),
            (0, 32, 32, 3),
            (2, 0, 32, 3),
            (2, 32, 1, 3),
            (2, 32, 32),
            (4, 2, 2, 3),
        ]
    ),
)
SECONDS = weighted(
    (2, st.none()),
    (3, st.floats(min_value=0.0, max_value=0.8)),
    (1, st.floats(min_value=-1.0, max_value=3.0)),
    (1, JUNK),
)
SAMPLING_RATES = weighted(
    (3, st.sampled_from([16000, 8000, 44100, 22050.0])), (1, st.sampled_from([16, 1, 0, -16000])), (1, JUNK)
)
VALID_LABELS = st.one_of(st.integers(min_value=0, max_value=6), st.sampled_from([None, -1, -100, 2.0]))
LABELS = weighted((16, VALID_LABELS), (1, st.sampled_from([-5, 2.7, "joy", float("nan"), 1e19])), (1, JUNK))


def utterances(pool: Mapping[str, str], with_text: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """One utterance dict: every key optional (`text` always present with `with_text`), each value valid or
    junk."""
    paths = st.sampled_from(sorted(pool.values()))
    good_audio = st.sampled_from([pool["wav"], pool["mp4"], pool["avi"], pool["long_mp4"]])
    good_video = st.sampled_from([pool["mp4"], pool["avi"], pool["long_mp4"]])
    audio = weighted(
        (4, good_audio),
        (1, paths),
        (2, WAVEFORMS),
        (1, st.builds(lambda a, r: {"array": a, "sampling_rate": r}, WAVEFORMS, SAMPLING_RATES)),
        (1, st.dictionaries(st.sampled_from(["array", "rate"]), JUNK, max_size=2)),
        (1, JUNK),
    )
    video = weighted((4, good_video), (1, paths), (2, FRAME_ARRAYS), (1, JUNK))
    text = weighted(
        (4, st.sampled_from(["hello there", "we won"])),
        (1, st.sampled_from(["  ", ""])),
        (1, st.text(max_size=12)),
        (1, JUNK),
    )
    return st.fixed_dictionaries(
        {"text": text} if with_text else {},
        optional={
            **({} if with_text else {"text": text}),
            "speaker": weighted((4, st.sampled_from(["Ann", "Ben"])), (1, JUNK)),
            "label": LABELS,
            "audio": audio,
            "video": video,
            "sampling_rate": SAMPLING_RATES,
            "start": SECONDS,
            "end": SECONDS,
            "audio_start": SECONDS,
            "audio_end": SECONDS,
            "video_crop": weighted((4, st.sampled_from([None, "left", "right", "top"])), (1, JUNK)),
            "Audio": JUNK,  # an unknown key: warned about, ignored
        },
    )


def conversations(pool: Mapping[str, str], with_text: bool = False) -> st.SearchStrategy[Any]:
    """Mostly lists of 1-4 utterance dicts; sometimes structurally broken (junk, empty, a non-dict inside).
    `with_text`: every utterance has a `text` key (valid or not), so that more pipeline cases reach the model."""
    utterance = utterances(pool, with_text)
    valid = st.lists(utterance, min_size=1, max_size=4)
    broken = st.one_of(
        JUNK,
        st.just([]),
        st.lists(
            st.one_of(utterance, JUNK.filter(lambda v: not isinstance(v, dict))), min_size=1, max_size=3
        ),
    )
    return weighted((8, valid), (1, broken))


# -------------------------------------------------------------------------------------------------- runners


def make_processor():
    """The fuzz processor: tiny tokenizer, eGeMAPSv02 (88-d), `NUM_FRAMES` frames of 32x32."""
    from conftest import make_tiny_tokenizer

    from mcn_cl import MCNCLFeatureExtractor, MCNCLProcessor, MCNCLVideoProcessor

    return MCNCLProcessor(
        make_tiny_tokenizer(),
        MCNCLFeatureExtractor(feature_set="eGeMAPSv02"),
        MCNCLVideoProcessor(num_frames=NUM_FRAMES, size=dict(FRAME_SIZE)),
    )


def make_pipeline(processor, seed: int = 0):
    """The `"multimodal-emotion-recognition"` pipeline on a tiny random MCN-CL (ResNet-101 frames backbone on
    `NUM_FRAMES` frames of 32x32) that reads `processor`'s outputs."""
    import torch
    from conftest import TINY_TEXT_CONFIG, make_tiny_config

    from mcn_cl import MCNCLForEmotionRecognition, MultimodalEmotionRecognitionPipeline

    config = make_tiny_config(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(processor.tokenizer)),
        audio_feature_size=processor.feature_extractor.feature_size,
        visual_backbone="resnet101",
        visual_feature_size=1000,
        num_frames=NUM_FRAMES,
        num_labels=4,
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = MCNCLForEmotionRecognition(config).eval()
    return MultimodalEmotionRecognitionPipeline(model=model, processor=processor, device="cpu")


class FuzzCounts(dict):
    """cases, masked (modalities of utterances), input_errors, unhandled (exceptions outside the contract and
    broken promises, with the first few described in `failures`)."""

    def __init__(self):
        super().__init__(cases=0, masked=0, input_errors=0, unhandled=0)
        self.failures: list[str] = []
        self.kinds: dict[str, int] = {}  # failure kind (its first 70 characters) -> count

    def fail(self, conversation: Any, what: str) -> None:
        self["unhandled"] += 1
        kind = what[:70]
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.failures) < 5:
            self.failures.append(f"{what}\n  conversation: {conversation!r:.600}")


def _call_under_contract(
    call: Callable[[], Any], conversation: Any, counts: FuzzCounts, problem: str | None, tolerated: str = ""
) -> tuple[bool, Any]:
    """Count one case and run `call()` under the contract of `on_error="mask"`: `MCNCLInputError` exactly for a
    structurally invalid conversation (`problem`; or for a valid one when its message holds `tolerated`), no other
    exception. Returns (True, the output) when the call succeeded on a valid conversation, else (False, None),
    with every broken promise counted."""
    from mcn_cl import MCNCLInputError

    counts["cases"] += 1
    try:
        output = call()
    except MCNCLInputError as err:
        counts["input_errors"] += 1
        if problem is None and not (tolerated and tolerated in str(err)):
            counts.fail(conversation, f"MCNCLInputError for a structurally valid conversation: {err}")
        return False, None
    except Exception as err:  # noqa: BLE001 - the property: nothing else escapes
        counts.fail(conversation, f"{type(err).__name__}: {err}")
        return False, None
    if problem is not None:
        counts.fail(conversation, f"no MCNCLInputError although {problem}")
        return False, None
    return True, output


def check_processor_case(processor, conversation: Any, counts: FuzzCounts) -> None:
    """One case of the processor property: with `on_error="mask"` the only exception is `MCNCLInputError`, raised
    exactly for structurally invalid conversations; every output is finite and the masks are 0/1."""
    ok, batch = _call_under_contract(
        lambda: processor(conversation, on_error="mask"),
        conversation,
        counts,
        structural_problem(conversation),
    )
    if not ok:
        return
    try:
        assert_finite(batch)
    except AssertionError as err:
        counts.fail(conversation, str(err))
    mask = batch["modality_mask"].numpy()
    if not set(np.unique(mask)) <= {0, 1}:
        counts.fail(conversation, f"modality_mask values {np.unique(mask)}")
    counts["masked"] += sum(
        1 for u in conversation for k in ("text", "audio", "video") if u.get(k) is not None
    ) - int(mask.sum())


def check_pipeline_case(classifier, conversation: Any, counts: FuzzCounts) -> None:
    """One case of the pipeline property: with `on_error="mask"` the only exception is `MCNCLInputError` (for a
    structurally invalid conversation, or an utterance left without any usable modality); every score is finite."""
    ok, predictions = _call_under_contract(
        lambda: classifier(conversation, on_error="mask"),
        conversation,
        counts,
        structural_problem(conversation, for_pipeline=True),
        tolerated="no modality left",
    )
    if not ok:
        return
    if len(predictions) != len(conversation):
        counts.fail(conversation, f"{len(predictions)} predictions for {len(conversation)} utterances")
    for p in predictions:
        counts["masked"] += len(p.get("skipped", []))
        if not all(math.isfinite(v) for v in [p["score"], *p["scores"].values()]):
            counts.fail(conversation, f"non-finite scores {p['scores']}")


def run_cases(
    check: Callable[[Any, Any, FuzzCounts], None],
    target: Any,
    pool: Mapping[str, str],
    cases: int,
    with_text: bool = False,
) -> FuzzCounts:
    """Run `check(target, conversation, counts)` on `cases` seeded random conversations (`conversations(pool,
    with_text)`, `fuzz_settings(cases)`) and return the counts: the test suite's and `benchmarks/fuzz.py`'s run."""
    counts = FuzzCounts()

    @fuzz_settings(cases)
    @given(conversations(pool, with_text))
    def case(conversation):
        check(target, conversation, counts)

    case()
    return counts


# -------------------------------------------------------------------------------------------------- oracle


def label_problem(value: Any) -> str | None:
    """Why `value` is not a valid label (None, -1, -100 or an integer class id 0 <= id < 2**31), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return f"label of type {type(value).__name__}"
    if not math.isfinite(value) or float(value) != int(value):
        return f"label {value!r} is not a whole number"
    if int(value) in (-1, -100) or 0 <= int(value) < 2**31:
        return None
    return f"label {value!r} out of range"


def structural_problem(conversation: Any, for_pipeline: bool = False) -> str | None:
    """The reason `conversation` must raise `MCNCLInputError` in the processor (or, with `for_pipeline`, in the
    pipeline: labels are ignored there, and an utterance needs at least one modality key), or None."""
    if isinstance(conversation, str | bytes | Mapping) or not isinstance(conversation, Sequence):
        return "not a list"
    if len(conversation) == 0:
        return "empty"
    for u in conversation:
        if not isinstance(u, Mapping):
            return "an utterance is not a dict"
    for u in conversation:
        if for_pipeline and all(u.get(k) is None for k in ("text", "audio", "video")):
            return "an utterance without modality"
        if not for_pipeline and label_problem(u.get("label")):
            return label_problem(u.get("label"))
    return None


def assert_finite(batch: Mapping[str, Any]) -> None:
    """Every floating tensor / array of a processor output is finite."""
    for key, value in batch.items():
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if np.issubdtype(array.dtype, np.floating):
            assert np.isfinite(array).all(), f"{key} holds non-finite values"


# ------------------------------------------------------------------------------------------------------- MCIHN
# Batches of single utterances through `MCIHNProcessor` + `MCIHNForMultimodalSentiment` (issue 18 item 4): media,
# precomputed feature sequences of random shapes and values, regression labels valid and not. The model has a
# group-norm Wav2Vec2 speech tower and no vision tower, so both "tower present" and "tower absent" are reached.

MCIHN_AUDIO_SIZE, MCIHN_VISUAL_SIZE, MCIHN_TEXT_SIZE = 5, 7, 24
MCIHN_RANGE = (-3.0, 3.0)


def _sequence(rows: int, size: int, special: str) -> Any:
    rng = np.random.default_rng(rows * 31 + size)
    x = rng.standard_normal((rows, size)).astype(np.float32)
    if special == "nan" and x.size:
        x.flat[0] = np.nan
    elif special == "flat":
        return x.reshape(-1)
    elif special == "list":
        return x.tolist()
    return x


def feature_sequences(size: int) -> st.SearchStrategy:
    return weighted(
        (5, st.builds(_sequence, st.integers(1, 6), st.just(size), st.just(""))),
        (1, st.builds(_sequence, st.integers(0, 4), st.sampled_from([size, size + 1, 3, 0]), st.just(""))),
        (1, st.builds(_sequence, st.integers(1, 3), st.just(size), st.sampled_from(["nan", "flat", "list"]))),
        (1, JUNK),
    )


MCIHN_LABELS = weighted(
    (12, st.floats(min_value=-3.0, max_value=3.0)),
    (3, st.sampled_from([None, 0.0, -3.0, 3.0, 2])),
    (1, st.sampled_from(["", "joy", float("nan"), 99.0, -3.5, float("inf"), True])),
    (1, JUNK),
)


def mcihn_utterances(pool: Mapping[str, str], with_text: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """One MCIHN utterance: text, audio, video (as for MCN-CL), and precomputed sequences valid or not."""
    base = utterances(pool, with_text)
    extra = st.fixed_dictionaries(
        {},
        optional={
            "label": MCIHN_LABELS,
            "audio_features": feature_sequences(MCIHN_AUDIO_SIZE),
            "visual_features": feature_sequences(MCIHN_VISUAL_SIZE),
            "text_features": weighted((1, feature_sequences(MCIHN_TEXT_SIZE)), (6, st.none())),
        },
    )
    return st.builds(lambda a, b: {**a, **b}, base, extra)


def make_mcihn_pair(seed: int = 0):
    """(model, processor): a tiny MCIHN with a group-norm Wav2Vec2 tower, no vision tower (5-d audio sequences are
    not taken then: the tower's 16-d frames are; 7-d visual sequences), its processor configured for it."""
    import torch
    from conftest import TINY_TEXT_CONFIG, make_tiny_tokenizer
    from transformers import Wav2Vec2FeatureExtractor

    from mcn_cl import MCIHNConfig, MCIHNForMultimodalSentiment, MCIHNProcessor

    tokenizer = make_tiny_tokenizer()
    config = MCIHNConfig(
        text_config=dict(TINY_TEXT_CONFIG, vocab_size=len(tokenizer)),
        audio_config=dict(
            model_type="wav2vec2", hidden_size=MCIHN_AUDIO_SIZE * 2, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=16, conv_dim=[8, 8], conv_kernel=[10, 3], conv_stride=[5, 2],
            num_feat_extract_layers=2, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
            feat_extract_norm="group", do_stable_layer_norm=False,
        ),  # fmt: skip
        visual_feature_size=MCIHN_VISUAL_SIZE,
        latent_size=8, autoencoder_hidden_size=16, discriminator_hidden_size=16, hidden_size=16,
        num_attention_heads=2, fusion_intermediate_size=32, classifier_hidden_size=16,
        sentiment_range=MCIHN_RANGE,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = MCIHNForMultimodalSentiment(config).eval()
    processor = MCIHNProcessor(tokenizer, Wav2Vec2FeatureExtractor(return_attention_mask=True), num_frames=2)
    return model, processor.configure_for_model(config)


def make_mcihn_pipeline(pair):
    from mcn_cl.pipeline_mcihn import MultimodalSentimentAnalysisPipeline

    model, processor = pair
    return MultimodalSentimentAnalysisPipeline(model=model, processor=processor, device="cpu")


def mcihn_label_problem(value: Any) -> str | None:
    """Why `value` is not a valid sentiment score of the fuzz model (None or a finite number in [-3, 3]), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return f"label of type {type(value).__name__}"
    if not math.isfinite(value) or not MCIHN_RANGE[0] <= value <= MCIHN_RANGE[1]:
        return f"label {value!r} outside {MCIHN_RANGE}"
    return None


def mcihn_structural_problem(batch: Any, for_pipeline: bool = False) -> str | None:
    """The reason a batch of MCIHN utterances must raise `MCNCLInputError`, or None."""
    if isinstance(batch, str | bytes | Mapping) or not isinstance(batch, Sequence):
        return "not a list"
    if len(batch) == 0:
        return "empty"
    for u in batch:
        if not isinstance(u, Mapping):
            return "an utterance is not a dict"
    for u in batch:
        if u.get("text") is not None and u.get("text_features") is not None:
            return "text and text_features both given"
        if not for_pipeline and mcihn_label_problem(u.get("label")):
            return mcihn_label_problem(u.get("label"))
    labelled = {u.get("label") is not None for u in batch}
    if not for_pipeline and len(labelled) == 2:
        return "scores for some utterances of the batch only"
    return None


def check_mcihn_case(pair, batch: Any, counts: FuzzCounts) -> None:
    """Processor (`on_error="mask"`) then model: `MCNCLInputError` exactly for structurally invalid batches (or an
    utterance left without a usable modality), nothing else; finite logits; a masked modality has no frame."""
    import torch

    model, processor = pair

    def call():
        inputs = processor(batch, on_error="mask")
        with torch.no_grad():
            return inputs, model(**inputs)

    ok, result = _call_under_contract(call, batch, counts, mcihn_structural_problem(batch),
                                      tolerated="no usable modality")  # fmt: skip
    if not ok:
        return
    inputs, output = result
    if not torch.isfinite(output.logits).all():
        counts.fail(batch, f"non-finite logits {output.logits.tolist()}")
    given = sum(
        1
        for u in batch
        for keys in (("text", "text_features"), ("audio", "audio_features"), ("video", "visual_features"))
        if any(u.get(k) is not None for k in keys)
    )
    counts["masked"] += given - int(inputs["modality_mask"].sum())


def check_mcihn_pipeline_case(analyser, batch: Any, counts: FuzzCounts) -> None:
    """The `multimodal-sentiment-analysis` pipeline with `on_error="mask"`: same contract, finite scores."""
    ok, predictions = _call_under_contract(
        lambda: analyser(batch, on_error="mask"), batch, counts,
        mcihn_structural_problem(batch, for_pipeline=True), tolerated="no usable modality",
    )  # fmt: skip
    if not ok:
        return
    if len(predictions) != len(batch):
        counts.fail(batch, f"{len(predictions)} predictions for {len(batch)} utterances")
    for p in predictions:
        counts["masked"] += len(p.get("skipped", []))
        if not math.isfinite(p["score"]):
            counts.fail(batch, f"non-finite score {p}")


def run_mcihn_cases(
    check, target, pool: Mapping[str, str], cases: int, with_text: bool = False
) -> FuzzCounts:
    """`run_cases` with MCIHN batches (lists of `mcihn_utterances`, sometimes structurally broken)."""
    counts = FuzzCounts()
    utterance = mcihn_utterances(pool, with_text)
    batches = weighted(
        (8, st.lists(utterance, min_size=1, max_size=4)),
        (1, st.one_of(JUNK, st.just([]), st.lists(st.one_of(utterance, JUNK), min_size=1, max_size=3))),
    )

    @fuzz_settings(cases)
    @given(batches)
    def case(batch):
        check(target, batch, counts)

    case()
    return counts
