"""At most one run per message for user tasks (``workers.delivery.once``), on fakeredis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Ignore

from envelope import BINDING_KEY
from tests.factories import make_envelope
from tests.support.fake_redis import FakeRedisServer
from workers.delivery.once import ONCE_KEY_PREFIX, first_delivery


@pytest.fixture()
def app(fake_redis: FakeRedisServer) -> Iterator[Celery]:
    app = Celery("once-test", broker=fake_redis.url(0), backend=fake_redis.url(1))
    yield app
    app.backend.client.close()


def delivery(app: Celery, *, retries: int = 0, binding: str = "b1") -> Any:
    request = SimpleNamespace(id="job-1", retries=retries, headers={BINDING_KEY: binding})
    return SimpleNamespace(app=app, name="mytasks.charge", request=request)


def test_the_first_delivery_runs_and_every_copy_of_the_same_message_is_dropped(app):
    envelope = make_envelope()
    first_delivery(delivery(app), envelope)
    for _ in range(3):
        with pytest.raises(Ignore):
            first_delivery(delivery(app), envelope)


def test_a_retry_and_a_replacement_under_the_same_job_id_are_other_messages(app):
    envelope = make_envelope()
    first_delivery(delivery(app), envelope)
    first_delivery(delivery(app, retries=1), envelope)  # a retry
    first_delivery(delivery(app, binding="b2"), envelope)  # Task.replace: same id, other task


def test_the_mark_lives_no_longer_than_the_envelope_can_be_admitted(app):
    now = int(time.time())
    first_delivery(delivery(app), make_envelope(iat=now - 60, exp=now + 100))
    client = app.backend.client
    (key,) = client.keys(f"{ONCE_KEY_PREFIX}*")
    assert 100 < client.ttl(key) <= 130  # exp plus the 30 s clock skew


def test_results_kept_outside_redis_mean_no_mark(fake_redis):
    app = Celery("once-test", broker=fake_redis.url(0), backend="cache+memory://")
    first_delivery(delivery(app), make_envelope())
    first_delivery(delivery(app), make_envelope())


def test_a_mark_sent_twice_over_a_dropped_connection_is_still_the_first_delivery(app, monkeypatch):
    """The backend client sends a command again when its reply was lost; the repeat finds the
    token this delivery wrote and runs the task, where a bare SET NX would have dropped it."""
    from workers.delivery import once

    calls: list[Any] = []
    real = once.run_script

    def reply_lost_once(client: Any, script: str, keys: list[str], args: list[Any]) -> Any:
        calls.append(args)
        real(client, script, keys, args)  # the first send lands, its reply is lost
        return real(client, script, keys, args)  # sent again, as the retry policy does

    monkeypatch.setattr(once, "run_script", reply_lost_once)
    first_delivery(delivery(app), make_envelope())
    monkeypatch.setattr(once, "run_script", real)
    with pytest.raises(Ignore):
        first_delivery(delivery(app), make_envelope())
    assert len(calls) == 1
