"""The bad-input property for MCIHN (issue 18 item 4): seeded random batches of utterances (media, precomputed
sequences of random shapes, labels valid and not) through `MCIHNProcessor` + the model, and through the
`multimodal-sentiment-analysis` pipeline, with `on_error="mask"`. The only exception allowed is `MCNCLInputError`
(a structurally invalid batch, or an utterance left without a usable modality); every output is finite. The long
run: `benchmarks/fuzz.py --parts mcihn mcihn_pipeline --cases 1000`."""

from __future__ import annotations

import logging

import pytest
from _fuzz_strategies import (
    check_mcihn_case,
    check_mcihn_pipeline_case,
    make_mcihn_pair,
    make_mcihn_pipeline,
    make_media_pool,
    run_mcihn_cases,
)

CASES = 120


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return make_media_pool(tmp_path_factory.mktemp("fuzz_media"))


@pytest.fixture
def quiet():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def test_processor_and_model_raise_only_the_input_error_and_give_finite_logits(pool, quiet):
    counts = run_mcihn_cases(check_mcihn_case, make_mcihn_pair(), pool, CASES)
    assert counts["unhandled"] == 0, "\n".join(counts.failures)
    assert counts["cases"] >= CASES // 2
    assert counts["input_errors"] > 0 and counts["masked"] > 0  # both sides of the contract are reached


def test_pipeline_raises_only_the_input_error_and_gives_finite_scores(pool, quiet):
    counts = run_mcihn_cases(check_mcihn_pipeline_case, make_mcihn_pipeline(make_mcihn_pair()), pool, CASES,
                             with_text=True)  # fmt: skip
    assert counts["unhandled"] == 0, "\n".join(counts.failures)
    assert counts["input_errors"] > 0 and counts["masked"] > 0
