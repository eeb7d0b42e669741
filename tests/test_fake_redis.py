"""The quick loop's fake answers like a server for every redis-py the project supports."""

from __future__ import annotations

import redis

from tests.support.fake_redis import FakeRedisServer


def test_a_pooled_connection_with_health_checks_and_a_database_answers() -> None:
    # kombu and Celery's backend open pools with health checks on a numbered database; redis-py
    # 8.2 pipelines that handshake, and a fake that did not count replies as health took a
    # handshake reply for a PING's ("Bad response from PING health check").
    fake = FakeRedisServer()
    pool = redis.ConnectionPool(
        connection_class=fake.connection_class(),
        host="127.0.0.1",
        port=1,
        db=1,
        health_check_interval=10,
        client_name="baton-test",
    )
    client = redis.Redis(connection_pool=pool)
    try:
        assert client.ping() is True
        client.set("k", "v")
        assert client.get("k") == b"v"
        assert fake.client(db=1).get("k") == b"v"
        assert fake.client(db=0).get("k") is None
    finally:
        client.close()
        pool.disconnect()
        fake.flush()
