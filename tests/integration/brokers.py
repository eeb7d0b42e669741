"""``in_flight``: on a Redis broker, when none of a run's jobs is queued, unacknowledged or
running any more.

The broker machinery (a private RabbitMQ vhost per test) is ``tests.support.brokers``, and the
``broker`` and ``producer_settings`` fixtures are the suite's own (``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from envelope import job_lock_key
from fleet.ledger import LEDGER_KEY
from tests.integration.harness import QUEUE

__all__ = ["in_flight"]


@pytest.fixture()
def in_flight(redis_server: Any) -> Iterator[Callable[[list[str]], Callable[[], bool]]]:
    """Factory: a check that none of ``jobs`` is queued, unacknowledged or in the publish ledger
    on the Redis broker (db 0), nor running (locks, db 1). Its two clients are closed after the
    test."""
    broker_db = redis.Redis(port=redis_server.port, db=0)
    backend_db = redis.Redis(port=redis_server.port, db=1)

    def nothing_in_flight(jobs: list[str]) -> Callable[[], bool]:
        locks = [job_lock_key(job) for job in jobs]

        def check() -> bool:
            # The publish ledger holds every message not yet acknowledged, lost ones included.
            queued = sum(
                (broker_db.llen(QUEUE), broker_db.hlen("unacked"), broker_db.hlen(LEDGER_KEY))
            )
            return queued == 0 and backend_db.exists(*locks) == 0

        return check

    yield nothing_in_flight
    broker_db.close()
    backend_db.close()
