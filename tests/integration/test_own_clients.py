"""A user task's own Bedrock clients, made from ``bedrock_session()``, in a real worker.

The worker's environment points every endpoint variable at a **decoy** emulator, and its
``BATON_ALLOWED_ENDPOINTS`` lists only the parent's emulator. A client that names no endpoint
must call the parent's emulator (runtime and control plane); one the task points at the decoy,
through the session or past it, must be refused before anything is sent: the decoy's journal
stays empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from workers import EndpointNotAllowed

pytestmark = pytest.mark.integration

MODULE = "tests.integration.own_tasks"
REGION = "eu-west-1"


def run(orch: Any, task: str, *args: str) -> Any:
    with orch.propagating():
        job = orch.app.send_task(f"{MODULE}.{task}", args=list(args))
    return job.get(timeout=60, propagate=False)


@pytest.fixture()
def fleet(start_emulator, start_worker, make_orchestrator):
    real, decoy = start_emulator(REGION), start_emulator(REGION, "us-east-1")
    trap = {name: decoy.url for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME")}
    start_worker(
        env={"BATON_ALLOWED_ENDPOINTS": real.url, "AWS_DEFAULT_REGION": "us-east-1", **trap},
        flags=["--include", MODULE],
    )
    orch = make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": real.url})
    return real, decoy, orch


def test_a_client_from_bedrock_session_calls_the_envelope_endpoint(fleet):
    real, decoy, orch = fleet
    seen = run(orch, "converse_inherited")
    assert seen["endpoint"] == seen["control_endpoint"] == real.url
    assert seen["profiles"] == 1
    converse = real.calls("Converse")
    assert [(call["region"], call["status"]) for call in converse] == [(REGION, 200)]
    assert [call["status"] for call in real.calls("ListInferenceProfiles")][-1:] == [200]
    assert decoy.calls() == []


@pytest.mark.parametrize("task", ["converse_at", "converse_past_the_session"])
def test_a_client_the_task_points_at_an_endpoint_the_worker_does_not_allow_is_refused(fleet, task):
    real, decoy, orch = fleet
    refusal = run(orch, task, decoy.url)
    assert isinstance(refusal, EndpointNotAllowed), refusal
    origin = decoy.url.replace("http://", "")
    assert f"endpoint http://{origin} is not allowed on this worker for region {REGION}" in str(
        refusal
    )
    assert decoy.calls() == []
    assert real.calls("Converse") == []
