"""Refused messages are dead-lettered with their reason, and replay works once the fleet is fixed:
on Redis (a list ``baton.dead``) and RabbitMQ (a queue behind ``baton.dlx``), through the CLI.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from envelope import HEADER_KEY, TASK_NAME, Lineage, encode
from tests.baton.test_cli import baton
from tests.conftest import RedisServer, clean_env
from tests.factories import make_envelope
from tests.integration.harness import wait_until
from tests.support.brokers import broker_url
from tests.support.processes import Proc, python_argv

pytestmark = pytest.mark.integration

MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.fixture(params=["redis", "rabbitmq"])
def fleet(request, redis_server: RedisServer, start_emulator):
    from orchestrator import ProducerSettings, close_producer, producer_app

    with broker_url(request.param, redis_server.url(6)) as broker:
        key, backend = secrets.token_urlsafe(32), redis_server.url(7)
        bedrock = start_emulator("eu-west-1", "us-east-1")
        env = clean_env(
            BATON_BROKER_URL=broker,
            BATON_RESULT_BACKEND=backend,
            BATON_ENVELOPE_KEY=key,
            BATON_ALLOWED_ENDPOINTS=bedrock.url,
            AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
        )
        settings = ProducerSettings(broker_url=broker, result_backend=backend, envelope_key=key)
        app, workers = producer_app(settings), []

        def start(**extra: str) -> Proc:
            proc = Proc(
                python_argv("-m", "baton", "worker", "--region", "eu-west-1", "--pool", "solo"),
                env={**env, **extra},
                name="worker",
            )
            workers.append(proc)
            proc.wait_for(" ready.")
            return proc

        try:
            yield app, settings.keyring(), bedrock, start, env
        finally:
            close_producer(app)
            for proc in workers:
                proc.kill()


def signed(keyring, endpoint: str, region: str) -> str:
    envelope = make_envelope(
        region=region,
        model_id=f"{region[:2]}.{MODEL}",
        endpoint_url=endpoint,
        lineage=Lineage(root_id="dead-letters"),
        kid=keyring.active,
    )
    return encode(envelope, keyring=keyring)


def tampered(token: str) -> str:
    version, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b"sonnet", b"opus")
    return ".".join((version, base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), signature))


def test_refusals_are_dead_lettered_and_replay_runs_them_once_the_policy_allows(fleet):
    from workers import DeadLetters

    app, keyring, bedrock, start, env = fleet
    worker = start()
    foreign = app.send_task(
        TASK_NAME,
        kwargs={"prompt": "us job"},
        queue="baton.eu-west-1",
        headers={HEADER_KEY: signed(keyring, bedrock.url, "us-east-1")},
    )
    forged = app.send_task(
        TASK_NAME,
        kwargs={"prompt": "forged"},
        queue="baton.eu-west-1",
        headers={HEADER_KEY: tampered(signed(keyring, bedrock.url, "eu-west-1"))},
    )
    wait_until(lambda: len(DeadLetters(app).entries()) == 2, timeout=60)
    assert app.AsyncResult(forged.id).state == "PENDING"  # its signature fails: no failure stored
    # Bound by the producer, but sent outright to a queue that is not its region's: no failure
    # is stored either (a broker writer could have copied it there).
    assert app.AsyncResult(foreign.id).state == "PENDING"

    records = DeadLetters(app).entries()
    assert sorted(r["reason"] for r in records) == [
        "envelope_signature_invalid",
        "region_not_allowed",
    ]
    assert {r["job_id"] for r in records} == {foreign.id, forged.id}
    by_reason = {r["reason"]: r for r in records}
    assert by_reason["region_not_allowed"]["envelope"]["region"] == "us-east-1"
    assert by_reason["region_not_allowed"]["queue"] == "baton.eu-west-1"
    assert (
        "taken from queue baton.eu-west-1, not baton.us-east-1"
        in (by_reason["region_not_allowed"]["message"])
    )
    listed = baton("dead-letters", "list", "--json", env=env)
    assert {r["id"] for r in json.loads(listed.stdout)} == {r["id"] for r in records}
    assert "token" not in listed.stdout
    assert bedrock.calls() == []

    worker.stop()
    fixed = start(BATON_ALLOWED_REGIONS="eu-west-1,us-east-1")
    replayed = baton("dead-letters", "replay", "--all", env=env)
    assert replayed.returncode == 0, replayed.stderr

    assert app.AsyncResult(foreign.id).get(timeout=60)["region"] == "us-east-1"
    fixed.wait_for(f"refused job {forged.id}", timeout=30)  # the forged one, again
    remaining = DeadLetters(app).entries()
    assert [r["reason"] for r in remaining] == ["envelope_signature_invalid"]
    assert [c["region"] for c in bedrock.calls()] == ["us-east-1"]
    assert baton("dead-letters", "purge", "--yes", env=env).stdout.startswith("purged 1")
    assert DeadLetters(app).entries() == []


def test_a_message_sent_outright_with_no_envelope_is_listed_naming_the_orchestrator_class(fleet):
    from celery import Celery

    app, _keyring, bedrock, start, env = fleet
    worker = start()
    plain = Celery("outright", broker=app.conf.broker_url, set_as_current=False)
    try:
        job = plain.send_task(TASK_NAME, kwargs={"prompt": "hi"}, queue="baton.eu-west-1")
        worker.wait_for(f"refused job {job.id}", timeout=30)
    finally:
        plain.close()

    listed = baton("dead-letters", "list", env=env)
    line = next(line for line in listed.stdout.splitlines() if "envelope_missing" in line)
    assert f"job {job.id} carries no baton_envelope header" in line
    assert "enqueue it through orchestrator.Orchestrator (spawn, or inside" in line
    assert "baton.Orchestrator" not in listed.stdout
    assert f"Not failed under job {job.id}: it carries no baton_envelope header" in line
    assert "waits for its timeout" in line
    assert bedrock.calls() == []
