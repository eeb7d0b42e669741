"""Dead letters on a Redis broker: the list ``baton.dead``, read in place, replayed as it was.

The broker is fakeredis behind kombu's own Redis transport, so a record lands where a worker's
would. Refusals by real workers, on Redis and RabbitMQ, are in tests/integration.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from envelope import HEADER_KEY, TASK_NAME, AssumeRoleAuth, EnvelopeExpired, encode
from envelope.binding import BINDING_KEY
from tests.factories import bound_request, keyring, make_envelope
from tests.support.fake_redis import FakeRedisServer
from workers.dead_letters import (
    DEAD_LETTER_QUEUE,
    DeadLetters,
    _store,
    make_record,
    summarize,
)

QUEUE = "baton.eu-west-1"
ROLE = "arn:aws:iam::111122223333:role/baton-eu"


@pytest.fixture()
def app(fake_redis: FakeRedisServer) -> Iterator[Celery]:
    app = Celery("dead-letters-test", broker=fake_redis.url(0), set_as_current=False)
    yield app
    app.close()


def refused(job_id: str, **kwargs: Any) -> dict[str, Any]:
    """The record of a job a worker refused as expired."""
    envelope = make_envelope(auth=AssumeRoleAuth(role_arn=ROLE, session_name="baton-root"))
    request = bound_request(encode(envelope, keyring=keyring()), job_id=job_id, kwargs=kwargs)
    request.delivery_info = {"routing_key": QUEUE}
    return make_record(request, task_name=TASK_NAME, error=EnvelopeExpired("expired 5 s ago"))


def queued(fake_redis: FakeRedisServer, queue: str) -> list[dict[str, Any]]:
    """The messages on a Redis list ``queue``, oldest first."""
    return [json.loads(raw) for raw in reversed(fake_redis.client(0).lrange(queue, 0, -1))]


def test_a_refusal_is_kept_on_the_list_baton_dead_with_its_reason_and_the_message(app, fake_redis):
    record = refused("job-1", prompt="hi")

    DeadLetters(app).record(record)

    [message] = queued(fake_redis, DEAD_LETTER_QUEUE)
    assert json.loads(base64.b64decode(message["body"])) == record
    assert (record["job_id"], record["task"], record["queue"]) == ("job-1", TASK_NAME, QUEUE)
    assert (record["reason"], record["error"]) == ("envelope_expired", "EnvelopeExpired")
    assert record["kwargs"] == {"prompt": "hi"}
    assert record["token"] and record["binding"]


def test_the_envelope_summary_holds_where_and_what_but_no_role_or_signature():
    summary = refused("job-1")["envelope"]

    assert summary["region"] == "eu-west-1"
    assert summary["model_id"] == "eu.anthropic.claude-sonnet-4-20250514-v1:0"
    assert (summary["auth"], summary["depth"], summary["kid"]) == ("assume_role", 0, "default")
    assert ROLE not in json.dumps(summary)


def test_a_missing_or_unreadable_token_is_summarised_as_such():
    assert summarize(None) == {"missing": True}
    assert set(summarize("not-a-token")) == {"malformed"}


def test_listing_leaves_every_record_in_place_oldest_first(app, fake_redis):
    first, second = refused("job-1"), refused("job-2")
    for record in (first, second):
        DeadLetters(app).record(record)

    assert DeadLetters(app).entries() == [first, second]
    assert DeadLetters(app).entries() == [first, second]
    assert len(queued(fake_redis, DEAD_LETTER_QUEUE)) == 2


def test_replay_republishes_the_named_record_as_it_was_and_keeps_the_others(app, fake_redis):
    first, second = refused("job-1", prompt="first"), refused("job-2", prompt="second")
    for record in (first, second):
        DeadLetters(app).record(record)

    assert DeadLetters(app).replay([first["id"]]) == [first]

    [message] = queued(fake_redis, QUEUE)
    headers = message["headers"]
    assert (headers["id"], headers["task"]) == ("job-1", TASK_NAME)
    assert (headers[HEADER_KEY], headers[BINDING_KEY]) == (first["token"], first["binding"])
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([], {"prompt": "first"})
    assert DeadLetters(app).entries() == [second]


def test_purge_drops_every_record_and_counts_them(app):
    for job_id in ("job-1", "job-2"):
        DeadLetters(app).record(refused(job_id))

    assert DeadLetters(app).purge() == 2
    assert DeadLetters(app).entries() == []


def test_a_broker_that_fails_is_logged_and_the_refusal_stands(app, fake_redis, caplog):
    def broker_gone() -> None:
        raise ConnectionRefusedError("the broker went away")

    app.connection_for_write = broker_gone
    with caplog.at_level(logging.ERROR, logger="baton.worker"):
        DeadLetters(app).record(refused("job-1"))

    assert "could not dead-letter job job-1" in caplog.text
    assert queued(fake_redis, DEAD_LETTER_QUEUE) == []


@pytest.mark.parametrize(
    "forged",
    [
        "a string",
        ["a", "list"],
        {},
        {"id": "d1"},
        {"id": "d1", "job_id": "j", "task": "t", "envelope": "not a summary"},
    ],
)
def test_a_record_no_worker_wrote_is_skipped_and_left_by_list_and_replay(
    app, fake_redis, caplog, forged
):
    real = refused("job-1", prompt="real")
    DeadLetters(app).record(real)
    with app.connection_for_write() as connection:  # a broker writer's, in the list
        store = _store(connection)
        store.put(forged, serializer="json")
        store.close()

    assert DeadLetters(app).entries() == [real]
    assert DeadLetters(app).replay() == [real]
    assert [m["headers"]["id"] for m in queued(fake_redis, QUEUE)] == ["job-1"]
    assert len(queued(fake_redis, DEAD_LETTER_QUEUE)) == 1  # the forged one, left in place
    assert any("is not a record a worker wrote" in r.getMessage() for r in caplog.records)


def test_a_refused_retry_is_replayed_with_its_retry_count_which_its_binding_covers(app, fake_redis):
    envelope = make_envelope()
    request = bound_request(encode(envelope, keyring=keyring()), job_id="job-r")
    request.retries = 2
    request.delivery_info = {"routing_key": QUEUE}
    record = make_record(request, task_name=TASK_NAME, error=EnvelopeExpired("expired"))
    DeadLetters(app).record(record)

    assert record["retries"] == 2
    assert DeadLetters(app).replay() == [record]
    [message] = queued(fake_redis, QUEUE)
    assert message["headers"]["retries"] == 2


def test_a_refused_message_is_replayed_with_its_celery_expiry_which_its_binding_covers(
    app, fake_redis
):
    request = bound_request(encode(make_envelope(), keyring=keyring()), job_id="job-e")
    request.expires = "2030-01-01T00:00:00+00:00"
    request.delivery_info = {"routing_key": QUEUE}
    record = make_record(request, task_name=TASK_NAME, error=EnvelopeExpired("expired"))
    DeadLetters(app).record(record)

    assert DeadLetters(app).replay() == [record]
    [message] = queued(fake_redis, QUEUE)
    assert message["headers"]["expires"] == "2030-01-01T00:00:00+00:00"
