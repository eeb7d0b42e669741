"""Leases and the recovery pass on fakeredis (with Lua), on a stand-in for kombu's Redis channel.

Real workers, a real Redis and a real kill are in ``tests/integration/test_recovery.py``; these
pin the pieces: what a lease renewal stamps, that only one worker runs a pass at a time, what an
expired lease puts back, and what is told of it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest

from envelope import recovered_key
from workers import metrics
from workers.celery_app import mark_recovered
from workers.delivery.guard import delivery_settings
from workers.delivery.leases import lease_timings
from workers.delivery.recovery import (
    LOST_IN_TRANSIT,
    WORKER_LOST,
    RecoveringQoS,
)

WINDOW = 60.0
QUEUE = "baton.eu-west-1"


class StandInChannel:
    """What the QoS asks of kombu's Redis channel: a client, its key names, and a requeue."""

    unacked_key = "unacked"
    unacked_index_key = "unacked_index"
    unacked_mutex_key = "unacked_mutex"
    unacked_mutex_expire = 15
    visibility_timeout = WINDOW
    closed = False
    do_restore = False  # kombu's restore at exit: nothing to restore from a stand-in

    def __init__(self, client: fakeredis.FakeRedis) -> None:
        self.client = client

    @contextlib.contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self.client

    def _do_restore_message(
        self, payload: Any, exchange: str, key: str, pipe: Any, *_: Any
    ) -> None:
        pipe.rpush(QUEUE, json.dumps(payload))


@pytest.fixture()
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture()
def told() -> list[tuple[str, str]]:
    return []


@pytest.fixture()
def qos(client: fakeredis.FakeRedis, told: list[tuple[str, str]]) -> RecoveringQoS:
    kind = type(
        "TellingQoS",
        (RecoveringQoS,),
        {"on_recovered": staticmethod(lambda job, reason: told.append((job, reason)))},
    )
    return kind(StandInChannel(client), prefetch_count=4)


def hold(client: fakeredis.FakeRedis, qos: RecoveringQoS, tag: str, job: str, at: float) -> None:
    """A message kombu delivered to this channel at ``at`` and has not acknowledged."""
    message = {"headers": {"id": job, "task": "baton.subagent"}, "properties": {}}
    client.zadd("unacked_index", {tag: at})
    client.hset("unacked", tag, json.dumps([message, "", QUEUE]))
    qos._delivered[tag] = object()


def test_a_lease_is_renewed_four_times_a_window_and_the_grace_is_half_a_window():
    assert lease_timings(60.0) == (15.0, 30.0)
    assert lease_timings(3.0) == (0.75, 1.5)
    every, _ = lease_timings(WINDOW)
    options = delivery_settings(soft_shutdown_timeout=0, visibility_timeout=WINDOW)
    transport = options["broker_transport_options"]
    assert (transport["visibility_timeout"], transport["unacked_restore_interval"]) == (60.0, every)


def test_renewing_stamps_every_held_message_and_only_those_still_unacknowledged(client, qos):
    hold(client, qos, "a", "job-a", at=100)
    hold(client, qos, "b", "job-b", at=100)
    client.zrem("unacked_index", "b")  # acknowledged meanwhile: must not come back
    assert qos.renew() == 2
    assert client.zscore("unacked_index", "a") > 100
    assert client.zscore("unacked_index", "b") is None


def test_a_pass_puts_back_only_messages_whose_lease_is_a_window_old(client, qos, told):
    hold(client, qos, "old", "job-old", at=1000)
    hold(client, qos, "fresh", "job-fresh", at=1000 + WINDOW / 2)
    assert qos.maintain(now=1000 + WINDOW + 1) == (1, 0)
    assert [json.loads(m)["headers"]["id"] for m in client.lrange(QUEUE, 0, -1)] == ["job-old"]
    assert told == [("job-old", WORKER_LOST)]
    assert client.hkeys("unacked") == [b"fresh"]


def test_one_pass_at_a_time_fleet_wide_and_one_per_beat_here(client, qos):
    hold(client, qos, "old", "job-old", at=0)
    client.set("unacked_mutex", "another worker's pass")
    assert qos.maintain(now=WINDOW * 2) is None  # another worker holds the mutex
    client.delete("unacked_mutex")
    assert qos.maintain(now=WINDOW * 2) is None  # not due again until a beat later
    assert qos.maintain(now=WINDOW * 2 + lease_timings(WINDOW)[0]) == (1, 0)


def test_a_recovery_is_counted_and_marked_for_status_for_a_day(client):
    app = SimpleNamespace(backend=SimpleNamespace(client=client))
    counter = metrics.RECOVERED.labels(reason=LOST_IN_TRANSIT)
    before = counter._value.get()
    mark_recovered(app, "job-1", LOST_IN_TRANSIT)  # type: ignore[arg-type]
    assert counter._value.get() == before + 1
    assert client.get(recovered_key("job-1")) == b"lost_in_transit"
    assert 86000 < client.ttl(recovered_key("job-1")) <= 86400


def test_recovery_reasons_are_their_own_label_values_and_anything_else_is_other():
    assert metrics.reason_label(WORKER_LOST) == WORKER_LOST
    assert metrics.reason_label(LOST_IN_TRANSIT) == LOST_IN_TRANSIT
    assert metrics.reason_label("worker lost; DROP TABLE") == metrics.OTHER


# Issue 24, finding 3: a pass runs on kombu's connection path, so a bad entry must never raise.


def test_a_pass_over_a_poisoned_ledger_drops_the_poison_and_still_puts_back_the_lost(
    client, qos, told, caplog
):
    from fleet import ledger

    client.hset(ledger.LEDGER_KEY, "poison", "no-separator-here")  # the two writes
    client.zadd(ledger.LEDGER_INDEX_KEY, {"poison": 0})
    client.hset(ledger.LEDGER_KEY, "not-json", f"{QUEUE}\0not json")
    client.zadd(ledger.LEDGER_INDEX_KEY, {"not-json": 0})
    raw = json.dumps(
        {
            "headers": {"id": "job-lost", "task": "baton.subagent"},
            "properties": {"delivery_tag": "t"},
        }
    )
    ledger.put(client, QUEUE, raw, "t", now=0)
    client.rpop(QUEUE)  # lost in transit

    _, grace = lease_timings(WINDOW)
    assert qos.maintain(now=100) == (0, 0)
    assert qos.maintain(now=100 + grace) == (0, 1)
    assert told == [("job-lost", LOST_IN_TRANSIT)]
    assert client.hkeys(ledger.LEDGER_KEY) == [b"t"]
    assert "ledger entry 'poison' dropped" in caplog.text
    assert "ledger entry 'not-json' dropped" in caplog.text


def test_an_expired_lease_whose_record_cannot_be_read_is_dropped_not_raised(
    client, qos, told, caplog
):
    hold(client, qos, "good", "job-good", at=0)
    client.zadd("unacked_index", {"bad": 0})
    client.hset("unacked", "bad", "not a kombu record")
    assert qos.maintain(now=WINDOW * 2) == (1, 0)
    assert told == [("job-good", WORKER_LOST)]
    assert client.hlen("unacked") == 0
    assert "unacknowledged record 'bad' dropped" in caplog.text


def test_a_pass_that_fails_outright_is_logged_and_never_raised(client, qos, caplog):
    from fleet import ledger

    client.set(ledger.LEDGER_KEY, "not a hash")  # no script can read this ledger
    client.zadd(ledger.LEDGER_INDEX_KEY, {"x": 0})
    assert qos.maintain(now=100) is None
    assert "recovery pass failed" in caplog.text
