"""A tree's root jobs count toward its ``max_jobs`` too: a parent cannot spawn past its budget.

Before, only children were counted, so one parent could start any number of depth-0 jobs.
"""

from __future__ import annotations

import pytest

from tests.conftest import clean_env

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


def test_roots_past_the_trees_max_jobs_do_not_start(
    start_emulator, start_worker, producer_settings
):
    from orchestrator import Orchestrator, capture, close_producer, producer_app

    bedrock = start_emulator(REGION)
    start_worker(REGION, pool="solo", concurrency=1)
    settings = producer_settings.model_copy(update={"max_jobs": 2})
    app = producer_app(settings)
    try:
        environ = clean_env(AWS_REGION=REGION, AWS_BEDROCK_ENDPOINT=bedrock.url)
        orch = Orchestrator(config=capture(environ=environ), settings=settings, app=app)
        jobs = [orch.spawn(f"root {i}") for i in range(3)]
        outcomes = orch.gather(jobs, timeout=60, propagate=False)
    finally:
        close_producer(app)
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failed) == 1, outcomes
    assert type(failed[0]).__name__ == "TreeBudgetExhausted"
    assert "max_jobs (2)" in str(failed[0])
    assert len(bedrock.calls("Converse")) == 2  # the refused root never called Bedrock
