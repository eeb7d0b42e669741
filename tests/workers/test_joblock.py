"""The per-job lock and the guard around a job's body, on fakeredis (the same Lua as a server).

Only the holder's token refreshes or releases a lock; a body that returns keeps its lock until it
expires (so a copy cannot slip in before Celery stores the result), any other ending gives it
back at once (a retry, before its copy is sent); and ``baton status`` reads a held lock as a
running job. What only a real Redis shows, a script cache that forgets, runs on one (integration).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from celery import Celery
from celery.exceptions import Ignore, Retry
from celery.signals import before_task_publish

from baton.status import job_state
from envelope import job_lock_key
from tests.support.fake_redis import FakeRedisServer
from workers.delivery.guard import guarded, mark_handed_on
from workers.delivery.lock import JobLock
from workers.gate import GatedTask


class RetryLater(Exception):
    """What the fake task's ``retry`` raises, so a test can see the copy was sent back."""


def celery_app(broker: str, backend: str) -> Iterator[Celery]:
    app = Celery("joblock-test", broker=broker, backend=backend)
    yield app
    app.backend.client.close()


@pytest.fixture()
def backend_app(fake_redis: FakeRedisServer) -> Iterator[Celery]:
    yield from celery_app(fake_redis.url(0), fake_redis.url(1))


@pytest.fixture()
def server_app(redis_urls: tuple[str, str]) -> Iterator[Celery]:
    """The same app on a real redis-server, for what fakeredis cannot show."""
    yield from celery_app(*redis_urls)


def task_for(app: Celery, job_id: str) -> Any:
    def retry(**options: Any) -> RetryLater:
        return RetryLater(options)

    return SimpleNamespace(app=app, request=SimpleNamespace(id=job_id), retry=retry)


def test_only_the_holder_refreshes_or_releases_a_lock(backend_app):
    client: redis.Redis = backend_app.backend.client
    client.set("first", "1")
    holder, rival = (JobLock(client, "job-1", ttl=30) for _ in range(2))
    assert holder.claim("first", "absent") == (True, b"1", None)
    assert rival.claim("first", "absent") == (False, b"1", None)

    assert holder.refresh() and not rival.refresh()
    assert not rival.release()
    assert client.exists(job_lock_key("job-1"))
    assert holder.release()
    assert not client.exists(job_lock_key("job-1"))


def test_a_claim_sent_again_finds_its_own_lock_and_still_holds_it(backend_app):
    """What a claim whose reply was lost with its connection meets when it is sent again."""
    client: redis.Redis = backend_app.backend.client
    lock = JobLock(client, "job-resent", ttl=30)

    assert lock.claim("a", "b")[0] and lock.claim("a", "b")[0]
    assert client.get(job_lock_key("job-resent")) == lock.token.encode()
    assert not JobLock(client, "job-resent", ttl=30).claim("a", "b")[0]


@pytest.mark.integration
def test_locks_still_work_after_the_server_forgets_its_scripts(server_app):
    client: redis.Redis = server_app.backend.client
    assert JobLock(client, "job-before", ttl=30).claim("a", "b")[0]
    client.script_flush()  # as after a Redis restart or a failover to a fresh replica

    lock = JobLock(client, "job-after", ttl=30)
    assert lock.claim("a", "b")[0]
    assert lock.refresh()
    assert lock.release()


def test_a_body_that_returns_keeps_its_lock_until_it_expires(backend_app):
    client = backend_app.backend.client
    with guarded(task_for(backend_app, "job-ok"), expected_turns=0, lock_ttl=30) as stored:
        assert stored is None
        assert client.exists(job_lock_key("job-ok"))
    assert 0 < client.pttl(job_lock_key("job-ok")) <= 30_000


@pytest.mark.parametrize("raised", [ValueError("boom"), Ignore()])
def test_a_body_that_raises_gives_its_lock_back(backend_app, raised):
    client = backend_app.backend.client
    with (
        pytest.raises(type(raised)),
        guarded(task_for(backend_app, "job-raises"), expected_turns=0, lock_ttl=30),
    ):
        raise raised
    assert not client.exists(job_lock_key("job-raises"))


def test_a_copy_that_finds_the_lock_taken_is_sent_back_to_retry(backend_app):
    task = task_for(backend_app, "job-busy")
    with guarded(task, expected_turns=0, lock_ttl=30):
        with pytest.raises(RetryLater) as retried, guarded(task, expected_turns=0, lock_ttl=30):
            pytest.fail("a second copy ran while the first held the lock")
        assert retried.value.args[0]["countdown"] == 15


@pytest.mark.filterwarnings("ignore:Call to deprecated setex")  # Celery's own call
def test_a_copy_of_a_finished_job_gets_the_stored_result_and_takes_no_lock(backend_app):
    backend_app.backend.store_result("job-done", {"text": "stored"}, "SUCCESS")
    with guarded(task_for(backend_app, "job-done"), expected_turns=0, lock_ttl=30) as stored:
        assert stored == {"text": "stored"}
    assert not backend_app.backend.client.exists(job_lock_key("job-done"))


def test_a_copy_of_a_turn_already_handed_on_is_dropped(backend_app):
    mark_handed_on(backend_app.backend, job_id="job-handed", turns=1, ttl=60)
    with (
        pytest.raises(Ignore),
        guarded(task_for(backend_app, "job-handed"), expected_turns=0, lock_ttl=30),
    ):
        pytest.fail("a turn that was handed on ran again")
    assert not backend_app.backend.client.exists(job_lock_key("job-handed"))


def test_status_shows_a_pending_job_with_a_held_lock_as_started(backend_app):
    client = backend_app.backend.client
    assert job_state(backend_app, "job-x", "PENDING") == "PENDING"
    client.set(job_lock_key("job-x"), "token", px=30_000)
    assert job_state(backend_app, "job-x", "PENDING") == "STARTED"
    assert job_state(backend_app, "job-x", "SUCCESS") == "SUCCESS"


def turn() -> None:
    """A task body; the test calls ``retry`` as a throttled turn's body would."""


def test_a_retry_gives_the_lock_back_before_its_copy_is_sent(backend_app):
    """Celery's own ``retry`` on the gate's task class; the copy is really published."""
    client = backend_app.backend.client
    task = backend_app.task(name="joblock-test.turn", base=GatedTask, shared=False)(turn)
    held_at_publish = []

    def at_publish(**_: Any) -> None:
        held_at_publish.append(client.exists(job_lock_key("job-retried")))

    before_task_publish.connect(at_publish, weak=False)
    task.push_request(id="job-retried", called_directly=False, retries=0, args=(), kwargs={})
    try:
        with pytest.raises(Retry), guarded(task, expected_turns=0, lock_ttl=30):
            assert client.exists(job_lock_key("job-retried"))
            task.retry(countdown=0, max_retries=3)  # as autoretry_for calls it
    finally:
        task.pop_request()
        before_task_publish.disconnect(at_publish)

    assert held_at_publish == [0]
    assert backend_app.connection_for_write().default_channel.client.llen("celery") == 1
