"""Fixtures of the fault, security and identity tests (defined in ``brokers`` and ``harness``,
and the broker writer's of the attack tests here)."""

from collections.abc import Iterator

import pytest
import redis
from celery import Celery

from tests.integration.brokers import in_flight
from tests.integration.harness import emulator_proc

__all__ = ["attacker", "broker_db", "emulator_proc", "in_flight"]


@pytest.fixture()
def broker_db(redis_urls: tuple[str, str]) -> Iterator[redis.Redis]:
    """A client of the broker's database, as a broker writer holds one."""
    client = redis.Redis.from_url(redis_urls[0])
    yield client
    client.close()


@pytest.fixture()
def attacker(redis_urls: tuple[str, str]) -> Iterator[Celery]:
    """A plain Celery app on the same broker: no key, no Baton."""
    app = Celery("attacker", broker=redis_urls[0], set_as_current=False)
    yield app
    app.close()
