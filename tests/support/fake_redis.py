"""An in-process Redis for the quick loop: fakeredis, with Lua, behind every Redis URL of a test.

The Redis-side logic (job locks, the tree budget, the store and chord scripts, dead letters, the
status readers) runs here on fakeredis, which runs the same Lua scripts as a server (through
lupa). :meth:`FakeRedisServer.install` sends every connection a test opens from a Redis URL to
it: Celery's result backend (Baton's or Celery's own) and kombu's Redis transport (the publish
ledger's included) alike. Its URLs name port 1 on the loopback, where nothing listens, so a
connection that got past the fake would be refused, never reach a Redis the machine runs.

One server serves the whole session and is flushed after each test, as the private redis-server
is: Celery's apps share kombu's connection pools by broker URL across tests, so a pooled
connection must stay good for the next test. For the same reason, once a test has used the fake,
an in-process broker at its URL answers for the rest of the session: a test that needs a broker
nobody answers must use another port.

The real-server tests (marked integration) stay where the server's own behaviour is the point:
dropped connections, the script cache, kombu's consumer and worker processes.
"""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import kombu.transport.redis
import pytest
import redis
from celery.backends.redis import RedisBackend

#: Where the fake's URLs point: a port nothing listens on.
UNREACHABLE = "127.0.0.1:1"


class FakeRedisServer:
    """One fakeredis server (all its databases) and the clients the current test opened on it."""

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()
        self._clients: list[redis.Redis] = []

    def url(self, db: int) -> str:
        """A Redis URL of database ``db``; it reaches this server once :meth:`install` ran."""
        return f"redis://{UNREACHABLE}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        """A client of database ``db``, closed after the test."""
        client = fakeredis.FakeRedis(server=self.server, db=db)
        self._clients.append(client)
        return client

    def connection_class(self) -> type[redis.Connection]:
        """A redis-py connection class whose every connection is to this server."""
        server = self.server

        class Connection(fakeredis.FakeRedisConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**kwargs, "server": server})

            def read_response(self, *args: Any, **kwargs: Any) -> Any:
                # A reply is proof of health, as redis-py's own read_response counts it: the next
                # health check is one interval away. fakeredis reads replies itself and leaves
                # the clock alone, so redis-py 8.2, which pipelines its handshake (CLIENT SETINFO,
                # SELECT) and checks health before each command, would send a PING between two
                # of them and take the handshake's reply for the PING's.
                reply = super().read_response(*args, **kwargs)
                if self.health_check_interval:
                    self.next_health_check = time.monotonic() + self.health_check_interval
                return reply

        return Connection

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Send Celery's Redis backends and kombu's Redis channels here, until the test ends."""
        connection = self.connection_class()

        def pool(backend: RedisBackend, **params: Any) -> redis.ConnectionPool:
            return backend.ConnectionPool(**{**params, "connection_class": connection})

        monkeypatch.setattr(RedisBackend, "_get_pool", pool)
        monkeypatch.setattr(kombu.transport.redis.Channel, "connection_class", connection)

    def flush(self) -> None:
        """Empty every database and close the test's clients."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        with fakeredis.FakeRedis(server=self.server) as admin:
            admin.flushall()
