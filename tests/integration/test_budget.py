"""Each explicit spawn is a tree of its own; a model's recursion under it stays bounded.

Before, a parent's spawns all counted as one tree: ``baton run`` with 300 prompts failed 44 of
them with TreeBudgetExhausted (``max_jobs`` 256), although every one was the program's own
decision. The bound is there for the model's recursion, and that side holds: a tree's children
past its ``max_jobs`` do not start, whichever worker runs them.
"""

from __future__ import annotations

import pytest

from tests.conftest import clean_env
from tests.integration.harness import settle

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


def test_a_parent_gets_every_one_of_300_explicit_spawns_with_default_settings(
    start_emulator, start_worker, make_orchestrator
):
    bedrock = start_emulator(REGION)
    start_worker(REGION, pool="gevent", concurrency=100)
    orch = make_orchestrator(clean_env(AWS_REGION=REGION, AWS_BEDROCK_ENDPOINT=bedrock.url))
    assert orch.envelope.limits.max_jobs < 300  # the default: 256

    jobs = [orch.spawn(f"spawn {i}") for i in range(300)]
    outcome = settle(orch.app, [job.id for job in jobs], timeout=120)

    assert outcome.lost == []
    assert len(bedrock.calls("Converse")) == 300


def test_each_spawn_has_its_own_budget_and_its_models_children_past_it_do_not_start(
    start_emulator, start_worker, producer_settings
):
    from orchestrator import Orchestrator, capture, close_producer, producer_app

    bedrock = start_emulator(REGION)
    start_worker(REGION, pool="threads", concurrency=4)
    settings = producer_settings.model_copy(update={"max_jobs": 3})
    app = producer_app(settings)
    try:
        environ = clean_env(AWS_REGION=REGION, AWS_BEDROCK_ENDPOINT=bedrock.url)
        orch = Orchestrator(config=capture(environ=environ), settings=settings, app=app)
        # Two spawns of 1 + 2 children fit a budget of 3 each; one of 1 + 3 does not.
        fits = [orch.spawn("<<tree depth=1 width=2>>") for _ in range(2)]
        too_wide = orch.spawn("<<tree depth=1 width=3>>")
        results = orch.gather([*fits, too_wide], timeout=90)
    finally:
        close_producer(app)
    assert [r["stop_reason"] for r in results] == ["end_turn", "end_turn", "max_jobs"]
    assert [r["tree_jobs"] for r in results] == [3, 3, 1]
    assert len(bedrock.calls("Converse")) == 2 * (2 + 2) + 1
