"""The parent's publishes, read back from the Redis list they land in: queue, header, kwargs,
lineage. The broker is fakeredis, through kombu's own Redis transport (the publish ledger's)."""

from __future__ import annotations

import base64
import json

import pytest
from celery import Celery

from envelope import HEADER_KEY, TASK_NAME, ModelNotInGeography, decode
from tests.support.fake_redis import FakeRedisServer


@pytest.fixture()
def redis_urls(fake_redis: FakeRedisServer) -> tuple[str, str]:
    """Broker and backend of ``make_orchestrator``, on fakeredis."""
    return fake_redis.url(0), fake_redis.url(1)


@pytest.fixture()
def queued(fake_redis: FakeRedisServer):
    client = fake_redis.client(0)

    def read(queue: str) -> list[dict]:
        return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]

    return read


def test_spawn_enqueues_on_the_region_queue_with_a_signed_envelope(make_orchestrator, queued):
    orch = make_orchestrator({"AWS_REGION": "ap-southeast-2"})
    job = orch.spawn("hello", agent="explorer")

    [message] = queued("baton.ap-southeast-2")
    headers = message["headers"]
    envelope = decode(headers[HEADER_KEY], keyring=orch.settings.keyring())
    assert (headers["task"], headers["id"]) == (TASK_NAME, job.id)
    assert envelope.region == "ap-southeast-2"
    assert envelope.model_id == "apac.anthropic.claude-sonnet-4-20250514-v1:0"
    assert (envelope.lineage.root_id, envelope.lineage.depth) == (orch.root_id, 0)
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs["prompt"], kwargs["agent"]) == ([], "hello", "explorer")


def test_a_model_override_is_resolved_with_the_parents_geography(make_orchestrator, queued):
    orch = make_orchestrator({"AWS_REGION": "ap-southeast-2"})
    orch.spawn("explore", model="haiku")

    [message] = queued("baton.ap-southeast-2")
    envelope = decode(message["headers"][HEADER_KEY], keyring=orch.settings.keyring())
    assert envelope.model_id == "au.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_a_model_missing_from_the_parents_geography_is_refused_before_enqueue(
    make_orchestrator, queued
):
    orch = make_orchestrator({"AWS_REGION": "eu-west-1"})
    with pytest.raises(ModelNotInGeography, match="it exists in: us"):
        orch.spawn("think hard", model="opus")
    assert queued("baton.eu-west-1") == []


def test_propagating_attaches_the_envelope_to_any_publish(make_orchestrator, queued):
    orch = make_orchestrator({"AWS_REGION": "eu-central-1"})
    with orch.propagating() as envelope:
        orch.app.send_task("some.other.task", kwargs={})
    orch.app.send_task("outside.the.block", queue="baton.eu-central-1", kwargs={})

    inside, outside = queued("baton.eu-central-1")[::-1]
    assert decode(inside["headers"][HEADER_KEY], keyring=orch.settings.keyring()) == envelope
    assert HEADER_KEY not in outside["headers"]


def test_propagating_leaves_an_existing_envelope_alone(make_orchestrator, queued):
    orch = make_orchestrator({"AWS_REGION": "eu-central-1"})
    with orch.propagating():
        orch.app.send_task("x", headers={HEADER_KEY: "v1.keep.me"}, queue="baton.eu-central-1")
    [message] = queued("baton.eu-central-1")
    assert message["headers"][HEADER_KEY] == "v1.keep.me"


def test_an_unrelated_celery_app_in_the_same_process_is_not_touched(
    make_orchestrator, redis_urls, queued
):
    orch = make_orchestrator({"AWS_REGION": "eu-central-1"})
    other = Celery("other", broker=redis_urls[0], set_as_current=False)
    other.send_task("plain", queue="plain")
    [message] = queued("plain")
    assert HEADER_KEY not in message["headers"]
    other.close()
    assert orch.envelope.region == "eu-central-1"
