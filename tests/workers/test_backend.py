"""Bookkeeping survives a dropped connection, at its worst moment: the command ran on Redis and its
reply was lost. A real Redis behind a proxy that swallows replies (tests/support/dropproxy.py).

Without these retries, a dropped connection while a job stored its result lost the job after
Bedrock had answered, and one while a chord's last part reported in left the parent waiting for
good (the chaos tests in tests/integration/test_dropped_connections.py caught both).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from celery import Celery
from celery.app.task import Context
from celery.backends.redis import CHORD_PART_RETURN_LUA
from celery.exceptions import Reject
from redis.backoff import NoBackoff
from redis.retry import Retry

from envelope import job_lock_key
from fleet import BACKEND_RETRY_SETTINGS
from tests.support.dropproxy import DropProxy
from workers.delivery import backend, budget
from workers.delivery.backend import BatonRedisBackend, chord_safe
from workers.delivery.guard import guarded
from workers.delivery.lock import JobLock

pytestmark = pytest.mark.integration


@pytest.fixture()
def proxy(redis_server, redis_urls) -> Iterator[DropProxy]:
    """A reply-losing proxy in front of the test Redis (whose databases are flushed after)."""
    with DropProxy(redis_server.port) as running:
        yield running


def results_app(proxy: DropProxy, *, baton: bool = True, **settings: object) -> Celery:
    """A Celery app whose result backend (Baton's, or Celery's own) is reached through ``proxy``."""
    url = chord_safe(proxy.url(1)) if baton else proxy.url(1)
    app = Celery("backend-test", broker=proxy.url(0), backend=url)
    app.conf.update(settings)
    assert isinstance(app.backend, BatonRedisBackend) is baton
    app.backend.client.ping()  # connected before the fault, so the handshake is not what is lost
    return app


def test_a_claim_whose_reply_was_lost_is_sent_again_and_still_holds_the_lock(proxy):
    client = results_app(proxy).backend.client
    lock = JobLock(client, "job-lost-reply", ttl=30)
    JobLock(client, "job-before", ttl=30).claim("a", "b")  # the script is loaded: EVALSHA runs

    proxy.lose_replies(1)
    taken, _, _ = lock.claim("result-key", "handoff-key")

    assert proxy.lost == 1
    assert taken, "the repeat found its own lock and took it for someone else's"
    assert client.get(job_lock_key("job-lost-reply")) == lock.token.encode()
    assert not JobLock(client, "job-lost-reply", ttl=30).claim("a", "b")[0]


@pytest.mark.parametrize("baton", [True, False], ids=["worker", "orchestrator"])
def test_a_result_whose_reply_was_lost_is_stored(proxy, baton):
    """Workers' backend client retries; the orchestrator's Celery backend, with the settings."""
    app = results_app(proxy, baton=baton, **BACKEND_RETRY_SETTINGS)

    proxy.lose_replies(1)
    app.backend.store_result("job-stored", {"text": "done"}, "SUCCESS")

    assert proxy.lost == 1
    meta = app.backend.get_task_meta("job-stored")
    assert (meta["status"], meta["result"]) == ("SUCCESS", {"text": "done"})


def test_without_either_celery_loses_that_result(proxy):
    app = results_app(proxy, baton=False)

    proxy.lose_replies(1)
    with pytest.raises(redis.ConnectionError):
        app.backend.store_result("job-unstored", {"text": "done"}, "SUCCESS")


def test_the_workers_client_retries_so_often_and_no_more(proxy, monkeypatch):
    monkeypatch.setattr(backend, "RETRY", Retry(NoBackoff(), retries=2))
    client = results_app(proxy).backend.client

    proxy.lose_replies(2)
    assert client.set("answered", "yes") and client.get("answered") == b"yes"
    proxy.lose_replies(3)
    with pytest.raises(redis.ConnectionError):
        client.get("answered")
    assert proxy.lost == 5


def test_a_budget_reservation_whose_reply_was_lost_counts_once(proxy):
    app = results_app(proxy)
    budget.reserve(app.backend, root_id="warm", reservation="warm:1", count=1, limit=9, ttl=60)

    proxy.lose_replies(1)
    reserved = budget.reserve(
        app.backend, root_id="root-lost", reservation="job:1", count=3, limit=10, ttl=60
    )

    assert proxy.lost == 1 and reserved
    assert int(app.backend.client.get(f"{budget.KEY_PREFIX}root-lost")) == 3


def chord_of_one(app: Celery, group_id: str) -> Any:
    """A chord of one part, set up as Celery's apply_chord leaves it; returns the part's request."""
    app.backend.set_chord_size(group_id, 1)
    app.backend.client.script_load(CHORD_PART_RETURN_LUA)  # so the lost reply is the script's
    callback = app.signature("chord-test.callback", queue="callbacks")
    return Context(id=f"{group_id}-part", group=group_id, group_index=0, chord=dict(callback))


@pytest.mark.parametrize("baton", [True, False], ids=["baton", "celery-control"])
def test_a_chords_last_part_whose_reply_was_lost_still_calls_back(proxy, redis_server, baton):
    """Baton's backend sends the callback; Celery's own, the control, loses the chord."""
    broker = redis.Redis(port=redis_server.port, db=0)
    app = results_app(proxy, baton=baton, **BACKEND_RETRY_SETTINGS)
    app.conf.broker_url = f"redis://127.0.0.1:{redis_server.port}/0"  # callbacks go round it
    request = chord_of_one(app, "group-lost-reply")

    proxy.lose_replies(1)
    try:
        app.backend.on_chord_part_return(request, "SUCCESS", {"text": "part"})
    except redis.ConnectionError:
        assert not baton, "Baton's backend let the dropped connection through"

    assert proxy.lost == 1
    assert (broker.llen("callbacks") == 1) is baton
    broker.close()


def test_a_job_whose_claim_redis_never_answers_goes_back_to_the_queue_unrun(proxy, monkeypatch):
    monkeypatch.setattr(backend, "RETRY", Retry(NoBackoff(), retries=2))
    app = results_app(proxy)
    task = SimpleNamespace(app=app, request=SimpleNamespace(id="job-unanswered"))
    JobLock(app.backend.client, "job-before", ttl=30).claim("a", "b")  # the script is loaded

    proxy.lose_replies(3)  # the claim and both of its retries
    with pytest.raises(Reject) as refused, guarded(task, expected_turns=0, lock_ttl=30):
        pytest.fail("the body ran without a claim")

    assert refused.value.requeue and proxy.lost == 3
