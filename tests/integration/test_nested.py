"""Nested publishes from inside a Baton task inherit the envelope: depth + 1, fresh signature.

The worker runs as ``celery -A workers worker -I tests.integration.worker_tasks``, which also
proves the plain-Celery entry point works.
"""

from __future__ import annotations

import pytest
from celery.result import AsyncResult

pytestmark = pytest.mark.integration


def test_a_child_spawned_with_plain_send_task_inherits_region_model_and_lineage(
    start_emulator, start_worker, make_orchestrator
):
    bedrock = start_emulator("eu-central-1")
    decoy = start_emulator("us-east-1")
    start_worker(
        "eu-central-1",
        include="tests.integration.worker_tasks",
        concurrency=2,
        env={"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": decoy.url},
    )
    orch = make_orchestrator({"AWS_REGION": "eu-central-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})

    with orch.propagating():
        parent = orch.app.send_task("baton.test.spawn_child", kwargs={"prompt": "child work"})
    spawned = parent.get(timeout=60)
    child = AsyncResult(spawned["child_id"], app=orch.app).get(timeout=60)

    assert spawned["depth"] == 0
    assert (child["depth"], child["parent_id"], child["root_id"]) == (1, parent.id, orch.root_id)
    assert (child["region"], child["model_id"]) == ("eu-central-1", orch.envelope.model_id)
    assert [(c["region"], c["model_id"]) for c in bedrock.calls()] == [
        ("eu-central-1", orch.envelope.model_id)
    ]
    assert decoy.calls() == []


def test_k_distinct_configs_build_exactly_k_clients_in_a_worker_process(
    start_emulator, start_worker, make_orchestrator
):
    first, second = start_emulator("eu-west-1"), start_emulator("eu-west-1")
    start_worker("eu-west-1", include="tests.integration.worker_tasks", pool="solo", concurrency=1)
    parents = [
        make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": url})
        for url in (first.url, second.url)
    ]

    jobs = [parent.spawn(f"job {i}") for i in range(6) for parent in parents]
    for parent, job in zip(parents * 6, jobs, strict=True):
        assert parent.gather([job], timeout=60)[0]["endpoint"] == parent.config.endpoint_url.value
    with parents[0].propagating():
        stats = parents[0].app.send_task("baton.test.cache_stats").get(timeout=60)

    assert (stats["builds"], stats["size"]) == (2, 2)
    assert (stats["region"], stats["endpoint"]) == ("eu-west-1", first.url)
    assert stats["signature_version"] == "v4"
    assert len(first.calls()) == len(second.calls()) == 6
