"""The bad-input property (issue 10): seeded random conversations through the processor and the pipeline with
`on_error="mask"`. The only exception allowed is `MCNCLInputError` for a structurally invalid conversation; every
output is finite. The generators live in `_fuzz_strategies.py` (shared with `benchmarks/fuzz.py --cases 1000`)."""

from __future__ import annotations

import logging

import pytest
from _fuzz_strategies import (
    check_pipeline_case,
    check_processor_case,
    make_media_pool,
    make_pipeline,
    make_processor,
    run_cases,
)

PROCESSOR_CASES = 300
PIPELINE_CASES = 60


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return make_media_pool(tmp_path_factory.mktemp("fuzz_media"))


@pytest.fixture(scope="module")
def processor():
    return make_processor()


@pytest.fixture
def quiet():
    """The masking warnings of hundreds of cases are expected: keep them out of the test log."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def test_processor_with_on_error_mask_raises_only_the_input_error_and_gives_finite_outputs(
    pool, processor, quiet
):
    counts = run_cases(check_processor_case, processor, pool, PROCESSOR_CASES)
    assert counts["unhandled"] == 0, "\n".join(counts.failures)
    # the generators reach both sides of the contract
    assert counts["cases"] >= PROCESSOR_CASES // 2
    assert counts["input_errors"] > 0 and counts["masked"] > 0


def test_pipeline_with_on_error_mask_raises_only_the_input_error_and_gives_finite_scores(
    pool, processor, quiet
):
    classifier = make_pipeline(processor)
    counts = run_cases(check_pipeline_case, classifier, pool, PIPELINE_CASES, with_text=True)
    assert counts["unhandled"] == 0, "\n".join(counts.failures)
    assert counts["input_errors"] > 0 and counts["masked"] > 0
