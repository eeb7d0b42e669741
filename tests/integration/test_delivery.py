"""Duplicates are harmless: a redelivered job does not call Bedrock again, and two copies of one
job never run at once. Copies are made the way a broker makes them: the same task ID, headers and
arguments published twice.
"""

from __future__ import annotations

import time

import pytest

from envelope import HEADER_KEY, TASK_NAME, encode

pytestmark = pytest.mark.integration


def publish_copies(orch, count: int, *, job_id: str):
    envelope = orch.envelope
    token = encode(envelope, keyring=orch.settings.keyring())
    return [
        orch.app.send_task(
            TASK_NAME,
            kwargs={"prompt": "once"},
            task_id=job_id,
            headers={HEADER_KEY: token},
            queue=f"baton.{envelope.region}",
        )
        for _ in range(count)
    ]


def test_a_redelivered_job_with_a_result_does_not_call_bedrock_again(
    start_emulator, start_worker, make_orchestrator
):
    bedrock = start_emulator("eu-west-1")
    start_worker("eu-west-1", pool="solo", concurrency=1)
    orch = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})

    first, second = publish_copies(orch, 2, job_id="job-delivered-twice")
    result = first.get(timeout=60)
    worker_saw = second.get(timeout=60)

    assert worker_saw == result
    assert len(bedrock.calls()) == 1


def test_concurrent_copies_of_one_job_run_one_at_a_time(
    start_emulator, start_worker, make_orchestrator
):
    bedrock = start_emulator("eu-west-1", latency=1.5)
    worker = start_worker(
        "eu-west-1", pool="threads", concurrency=4, env={"BATON_JOB_LOCK_TTL": "4"}
    )
    orch = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})

    copies = publish_copies(orch, 3, job_id="job-three-copies")
    results = [copy.get(timeout=60) for copy in copies]

    assert len({r["job_id"] for r in results}) == 1
    assert len(bedrock.calls()) == 1
    worker.proc.wait_for("is running elsewhere; this copy looks again later", timeout=10)


def test_a_running_job_shows_as_started_and_then_as_its_result(
    start_emulator, start_worker, make_orchestrator
):
    from baton.status import job_node

    bedrock = start_emulator("eu-west-1", latency=2.0)
    start_worker("eu-west-1", pool="threads", concurrency=2)
    orch = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})

    job = orch.spawn("slow enough to be seen running")
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "STARTED" not in seen:
        seen.append(job_node(orch.app, job.id)["state"])
        time.sleep(0.05)  # a polling interval, bounded by the deadline: no race depends on it
    result = job.get(timeout=60)

    assert "STARTED" in seen, f"states seen while it ran: {sorted(set(seen))}"
    assert job_node(orch.app, job.id)["state"] == "SUCCESS"
    assert result["job_id"] == job.id
