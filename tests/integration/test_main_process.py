"""The main process's refusal: a prefork job whose child dies after its envelope's sealed
credentials expired is failed by the worker's main process, which admits the message again
first (``workers.request.GatedRequest``). Refused there, the message publishes nothing (its
errback would run as the job, on credentials no job may use any more); bound to its id and taken
from its region's queue, its failure is still stored, so the parent learns at once.
"""

from __future__ import annotations

import time

import pytest
from billiard.exceptions import WorkerLostError

from envelope import HEADER_KEY, SealedAuth
from tests.integration.harness import crafted

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TIMEOUT = 60

#: How long the sealed credentials outlive the publish, and the job its child, in seconds.
SEALED_FOR, RUNS_FOR = 5, 6


def test_a_job_failed_in_the_main_process_after_its_credentials_expired_publishes_nothing(
    start_emulator, start_worker, make_orchestrator, producer_settings
):
    bedrock = start_emulator(REGION)
    orch = make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": bedrock.url})
    worker = start_worker(
        REGION, pool="prefork", concurrency=1, include="tests.integration.worker_tasks"
    )
    sealed = SealedAuth(ciphertext="sealed-credentials", exp=int(time.time()) + SEALED_FOR)
    token = crafted(bedrock.url, keyring=producer_settings.keyring(), auth=sealed)
    errback = orch.app.signature("baton.test.probe_errback")
    errback_id = errback.freeze().id
    job = orch.app.send_task(
        "baton.test.lose_worker_after",
        args=[RUNS_FOR],
        headers={HEADER_KEY: token},
        link_error=errback,
    )

    with pytest.raises(WorkerLostError):  # bound to its id: its failure is stored at once
        job.get(timeout=TIMEOUT)
    line = worker.proc.wait_for(f"job {job.id} failing in the main process was not admitted")
    assert "sealed credentials expired" in line

    # A job published after the failure runs after anything the failure published.
    with orch.propagating():
        later = orch.app.send_task("baton.test.probe", kwargs={"tag": "later"})
    assert later.get(timeout=TIMEOUT)["tag"] == "later"
    assert errback_id not in worker.proc.output()  # never received: never published
    assert orch.app.AsyncResult(errback_id).state == "PENDING"
    assert bedrock.calls() == []
