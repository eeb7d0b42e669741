"""Broker fixtures and their machinery: a private RabbitMQ vhost per test, removed afterwards.

``broker`` is the test Redis unless a test asks for RabbitMQ (indirect parametrization with
``"rabbitmq"``); ``producer_settings`` puts the parent on it; ``in_flight`` tells, on a Redis
broker, when none of a run's jobs is queued, unacknowledged or running any more.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from envelope import job_lock_key
from tests.integration.harness import QUEUE

RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672


def rabbitmq_answers() -> bool:
    try:
        with socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=2):
            return True
    except OSError:
        return False


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


class RabbitVhost:
    """A throwaway vhost on the local RabbitMQ, so tests purge nothing they did not create."""

    def __init__(self) -> None:
        self.name = f"baton-test-{secrets.token_hex(4)}"

    @staticmethod
    def available() -> str | None:
        """Return why a vhost cannot be made here, or None when it can."""
        if not rabbitmq_answers():
            return "RabbitMQ does not answer on 127.0.0.1:5672"
        if shutil.which("rabbitmqctl") is None or os.geteuid() != 0:
            return "rabbitmqctl is not usable here (missing, or not root)"
        return None

    def __enter__(self) -> str:
        _ctl("add_vhost", self.name)
        _ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{self.name}"

    def __exit__(self, *_: object) -> None:
        _ctl("delete_vhost", self.name)


def close_all_connections(url: str) -> None:
    """Close every client connection to the vhost of the RabbitMQ ``url``, as a failover would."""
    _ctl("close_all_connections", "--vhost", url.rsplit("/", 1)[1], "baton chaos test")


@contextmanager
def broker_url(kind: str, redis_url: str) -> Iterator[str]:
    """Yield a broker URL of ``kind``: ``redis_url`` itself, or a throwaway RabbitMQ vhost.

    Without RabbitMQ the test skips, except in CI (``CI=true``), where it fails: the suite must
    not go green by skipping a broker.
    """
    if kind == "redis":
        yield redis_url
        return
    reason = RabbitVhost.available()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"RabbitMQ is required in CI: {reason}")
        pytest.skip(reason)
    with RabbitVhost() as url:
        yield url


@pytest.fixture()
def broker(request: Any, redis_urls: tuple[str, str]) -> Iterator[str]:
    """The broker URL: the test Redis, or a throwaway RabbitMQ vhost (indirect ``rabbitmq``)."""
    with broker_url(getattr(request, "param", "redis"), redis_urls[0]) as url:
        yield url


@pytest.fixture()
def producer_settings(broker: str, redis_urls: tuple[str, str], envelope_key: str) -> Any:
    """The parent's settings on ``broker``; results in the test Redis either way."""
    from orchestrator import ProducerSettings

    return ProducerSettings(
        broker_url=broker,
        result_backend=redis_urls[1],
        envelope_key=envelope_key,  # type: ignore[arg-type]
    )


@pytest.fixture()
def in_flight(redis_server: Any) -> Iterator[Callable[[list[str]], Callable[[], bool]]]:
    """Factory: a check that none of ``jobs`` is queued or unacknowledged on the Redis broker
    (db 0), nor running (locks, db 1). Its two clients are closed after the test."""
    broker_db = redis.Redis(port=redis_server.port, db=0)
    backend_db = redis.Redis(port=redis_server.port, db=1)

    def nothing_in_flight(jobs: list[str]) -> Callable[[], bool]:
        locks = [job_lock_key(job) for job in jobs]

        def check() -> bool:
            queued = broker_db.llen(QUEUE) + broker_db.hlen("unacked")
            return queued == 0 and backend_db.exists(*locks) == 0

        return check

    yield nothing_in_flight
    broker_db.close()
    backend_db.close()
