"""Bookkeeping survives a dropped connection, at its worst moment: the command ran on Redis and its
reply was lost. A real Redis behind a proxy that swallows one reply (tests/support/dropproxy.py).

Without these retries, a dropped connection while a job stored its result lost the job after
Bedrock had answered (the chaos test in tests/integration/test_faults.py caught it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from envelope import job_lock_key
from envelope.transport import BACKEND_RETRY_SETTINGS
from tests.support.dropproxy import DropProxy
from workers import budget
from workers.backend import retried
from workers.joblock import JobLock

pytestmark = pytest.mark.integration


@pytest.fixture()
def proxy(redis_server, redis_urls) -> Iterator[DropProxy]:
    with DropProxy(redis_server.port) as running:
        yield running


def backend_app(proxy: DropProxy, **settings: object) -> Celery:
    app = Celery("backend-test", broker=proxy.url(0), backend=proxy.url(1))
    app.conf.update(settings)
    app.backend.client.ping()  # connected before the fault, so the handshake is not what is lost
    return app


def test_a_claim_whose_reply_was_lost_is_sent_again_and_still_holds_the_lock(proxy):
    client = backend_app(proxy).backend.client
    lock = JobLock(client, "job-lost-reply", ttl=30)
    JobLock(client, "job-before", ttl=30).claim("a", "b")  # the script is loaded: EVALSHA runs

    proxy.lose_replies(1)
    taken, _, _ = lock.claim("result-key", "handoff-key")

    assert proxy.lost == 1
    assert taken, "the retry found its own lock and took it for someone else's"
    assert client.get(job_lock_key("job-lost-reply")) == lock.token.encode()
    assert not JobLock(client, "job-lost-reply", ttl=30).claim("a", "b")[0]


def test_celery_stores_a_result_whose_reply_was_lost(proxy):
    app = backend_app(proxy, **BACKEND_RETRY_SETTINGS)

    proxy.lose_replies(1)
    app.backend.store_result("job-stored", {"text": "done"}, "SUCCESS")

    assert proxy.lost == 1
    meta = app.backend.get_task_meta("job-stored")
    assert (meta["status"], meta["result"]) == ("SUCCESS", {"text": "done"})


def test_without_the_retry_settings_celery_loses_that_result(proxy):
    app = backend_app(proxy)

    proxy.lose_replies(1)
    with pytest.raises(redis.ConnectionError):
        app.backend.store_result("job-unstored", {"text": "done"}, "SUCCESS")


def test_a_budget_reservation_whose_reply_was_lost_counts_at_most_twice(proxy):
    app = backend_app(proxy)

    proxy.lose_replies(1)
    assert budget.reserve(app.backend, root_id="root-lost", count=3, limit=10, ttl=60)

    counted = int(app.backend.client.get(f"{budget.KEY_PREFIX}root-lost"))
    assert proxy.lost == 1 and counted in (3, 6)


def test_a_call_is_retried_only_for_connection_errors_and_only_so_often():
    attempts: list[int] = []
    quick = Retry(NoBackoff(), retries=2)

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise redis.ConnectionError("dropped")
        return "answered"

    assert retried(flaky, retry=quick) == "answered" and len(attempts) == 3

    attempts.clear()
    with pytest.raises(redis.ConnectionError):
        retried(lambda: flaky() if len(attempts) < 9 else "never", retry=Retry(NoBackoff(), 1))
    assert len(attempts) == 2

    def refused() -> None:
        attempts.append(1)
        raise redis.ResponseError("WRONGTYPE")

    attempts.clear()
    with pytest.raises(redis.ResponseError):
        retried(refused, retry=quick)
    assert len(attempts) == 1
