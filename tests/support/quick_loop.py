"""The quick loop, ``python -m pytest -m "not integration"``: no services, under a minute.

It runs on a machine with no redis-server and nothing listening: the Redis-side logic runs on
fakeredis (``tests/support/fake_redis.py``), and every test that starts a process or a server
(workers, redis-server, the emulator or the CLI as a process) is marked integration. Two rules
keep it so, loaded as a plugin by ``tests/conftest.py``:

- the long fuzzing and fault runs (marked ``slow``) are left to the full suite, which CI runs;
  the quick loop keeps their shorter siblings. Naming ``slow`` in the expression runs them.
- a property test draws a fifth of its examples (:func:`examples`), at least 50.
- a test outside the integration marker finds nothing listening on the ports of a Redis or a
  RabbitMQ the machine may run (6379, 5672): its connection is refused there, as it would be on
  a machine without them, so a test that quietly depends on one fails everywhere, not only there.
"""

from __future__ import annotations

import errno
import re
import socket
from typing import Any

import pytest

#: The well-known ports of Redis and RabbitMQ.
SERVICE_PORTS = frozenset({6379, 5672})

#: The quick loop draws this share of a property test's examples, and at least the floor.
QUICK_SHARE, QUICK_FLOOR = 5, 50

_in_quick_loop = False


def quick_loop(config: pytest.Config) -> bool:
    """Whether this run is the quick loop: its mark expression leaves integration tests out and
    does not ask for the slow runs."""
    expression = config.getoption("markexpr") or ""
    leaves_out_integration = re.search(r"\bnot\s+integration\b", expression) is not None
    return leaves_out_integration and re.search(r"\bslow\b", expression) is None


def examples(budget: int) -> int:
    """A property test's ``max_examples``: ``budget`` in the full suite, a fifth in the quick loop.

    Test modules are imported after :func:`pytest_configure`, so their decorators see the run.
    """
    return max(budget // QUICK_SHARE, QUICK_FLOOR) if _in_quick_loop else budget


def pytest_configure(config: pytest.Config) -> None:
    global _in_quick_loop  # noqa: PLW0603  # one run, one answer, read by test modules at import
    _in_quick_loop = quick_loop(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not quick_loop(config):
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]


@pytest.fixture(autouse=True)
def _nothing_listens_on_service_ports(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("integration") is not None:
        return
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refused(address: Any) -> ConnectionRefusedError | None:
        if isinstance(address, tuple) and len(address) >= 2 and address[1] in SERVICE_PORTS:
            return ConnectionRefusedError(
                errno.ECONNREFUSED,
                f"a test outside the integration marker connected to port {address[1]}; the "
                "quick loop runs where nothing listens there (tests/support/quick_loop.py)",
            )
        return None

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        error = refused(address)
        if error is not None:
            raise error
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        return errno.ECONNREFUSED if refused(address) else connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
