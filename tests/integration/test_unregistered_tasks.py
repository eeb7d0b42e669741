"""A worker that receives a task it never imported: the fix is named and the message is kept.

Two workers on one queue with different ``--include`` lists is the mistake this guards against:
the worker without the module fails the job at once with ``TaskNotRegistered`` naming the
``--include`` it lacks, and dead-letters the message; once a worker with the module runs,
``replay`` re-publishes it and it runs.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import wait_until
from workers import DeadLetters

pytestmark = pytest.mark.integration

MODULE = "tests.integration.own_tasks"
REGION = "eu-west-1"


def test_a_task_the_worker_did_not_import_is_dead_lettered_naming_the_missing_include(
    start_emulator, start_worker, make_orchestrator
):
    bedrock = start_emulator(REGION)
    plain = start_worker()
    orch = make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": bedrock.url})
    with orch.propagating():
        job = orch.app.send_task(f"{MODULE}.echo", args=["still here"])

    refusal = job.get(timeout=30, propagate=False)
    assert type(refusal).__name__ == "TaskNotRegistered", refusal
    records = DeadLetters(orch.app).entries()
    assert [(r["job_id"], r["reason"], r["task"]) for r in records] == [
        (job.id, "task_not_registered", f"{MODULE}.echo")
    ]
    dead = records[0]["id"]
    assert str(refusal) == records[0]["message"]
    assert f"task {MODULE}.echo is not registered on this worker" in str(refusal)
    assert f"consuming baton.{REGION}" in str(refusal)
    assert f"`--include {MODULE}`" in str(refusal)
    assert f"`baton dead-letters replay --id {dead}`" in str(refusal)
    assert any("task_not_registered" in line for line in plain.proc.lines)

    plain.proc.stop()
    start_worker(flags=["--include", MODULE])
    assert [r["id"] for r in DeadLetters(orch.app).replay([dead])] == [dead]
    rerun = orch.app.AsyncResult(job.id)  # a fresh handle: a ready one keeps its first state
    wait_until(lambda: orch.app.AsyncResult(job.id).state == "SUCCESS", timeout=30)
    assert rerun.get(timeout=1) == "still here"
    assert DeadLetters(orch.app).entries() == []
