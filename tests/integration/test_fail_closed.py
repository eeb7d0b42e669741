"""Fail closed: a job whose envelope is missing, tampered, expired, foreign or out of policy never
runs its body and never calls Bedrock. Its result is the typed error naming the reason when a key
holder bound the message to its id; otherwise nothing is stored under the id (the message could
be anyone's) and the dead letter says why.

Messages are published straight onto the region queue with the producer's Celery app, so nothing
of Baton's producer side helps them along.
"""

from __future__ import annotations

import base64
import time

import pytest

from envelope import (
    HEADER_KEY,
    TASK_NAME,
    EnvelopeExpired,
    EnvelopeMissing,
    EnvelopeSignatureInvalid,
    EnvelopeUnknownKey,
    Keyring,
    encode,
)
from tests.factories import make_envelope
from tests.integration.harness import wait_until
from workers import RegionNotAllowed

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
MODEL = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def tamper_region(token: str) -> str:
    version, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    raw = raw.replace(f'"region":"{REGION}"'.encode(), b'"region":"us-east-1"')
    return ".".join((version, base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), signature))


@pytest.fixture()
def fleet(start_emulator, start_worker, producer_settings):
    from orchestrator import close_producer, producer_app

    bedrock = start_emulator(REGION, "us-east-1")
    # It also consumes us-east-1's queue, where a parent's us-east-1 jobs go, and refuses them.
    start_worker(REGION, "us-east-1", env={"BATON_ALLOWED_REGIONS": REGION})
    app = producer_app(producer_settings)
    yield bedrock, app, producer_settings.keyring()
    close_producer(app)


def publish(app, token: str | None, region: str = REGION):
    headers = {} if token is None else {HEADER_KEY: token}
    return app.send_task(
        TASK_NAME, kwargs={"prompt": "must not run"}, headers=headers, queue=f"baton.{region}"
    )


def outcomes(fleet):
    bedrock, _, keyring = fleet
    foreign = Keyring(keys={"old": b"a-retired-key-nobody-holds-now"}, active="old")
    now = int(time.time())
    return {
        EnvelopeMissing: None,
        EnvelopeSignatureInvalid: tamper_region(
            encode(make_envelope(endpoint_url=bedrock.url), keyring=keyring)
        ),
        EnvelopeExpired: encode(
            make_envelope(endpoint_url=bedrock.url, iat=now - 7200, exp=now - 3600), keyring=keyring
        ),
        EnvelopeUnknownKey: encode(
            make_envelope(endpoint_url=bedrock.url, kid="old"), keyring=foreign
        ),
        RegionNotAllowed: encode(
            make_envelope(endpoint_url=bedrock.url, region="us-east-1", model_id="us." + MODEL[3:]),
            keyring=keyring,
        ),
    }


#: Refusals of messages a key holder bound to their ids (the producer's hook binds every message
#: whose envelope is under its key), taken from their region's queue: their failure is stored,
#: so the parent learns at once.
BOUND = (EnvelopeExpired, RegionNotAllowed)


def test_refused_envelopes_never_run_and_never_call_bedrock(fleet):
    from workers import DeadLetters

    bedrock, app, _ = fleet
    jobs = {
        error: publish(app, token, "us-east-1" if error is RegionNotAllowed else REGION)
        for error, token in outcomes(fleet).items()
    }

    for error in BOUND:
        with pytest.raises(error) as caught:
            jobs[error].get(timeout=30)
        assert str(caught.value), f"{error.__name__} has no explanation"
        assert jobs[error].state == "FAILURE"
    wait_until(lambda: len(DeadLetters(app).entries()) == len(jobs), timeout=30)

    records = {r["job_id"]: r for r in DeadLetters(app).entries()}
    for error, job in jobs.items():
        record = records[job.id]
        assert record["reason"] == error.code
        assert record["result_stored"] is (error in BOUND)
        if error not in BOUND:  # no key holder bound it to this id: it fails no job
            assert app.AsyncResult(job.id).state == "PENDING", error
            assert f"Not failed under job {job.id}: " in record["message"]
            assert "waits for its timeout" in record["message"]
    assert bedrock.calls() == []


def test_the_same_fleet_runs_a_correctly_signed_job(fleet):
    bedrock, app, keyring = fleet
    job = publish(app, encode(make_envelope(endpoint_url=bedrock.url), keyring=keyring))
    result = job.get(timeout=30)
    assert (result["region"], result["model_id"]) == (REGION, MODEL)
    assert [(c["region"], c["status"]) for c in bedrock.calls()] == [(REGION, 200)]
