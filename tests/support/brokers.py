"""Broker machinery of the fixtures: the test Redis, or a private RabbitMQ vhost per test."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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
