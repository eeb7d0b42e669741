"""The publish ledger's scripts on fakeredis (with Lua): what counts as lost, and putting it back.

The kombu channel that writes the ledger with each publish and acknowledgement is exercised
against a real Redis and real workers in ``tests/integration/test_recovery.py``.
"""

from __future__ import annotations

import json

import fakeredis
import pytest

from fleet import ledger
from fleet.ledger import (
    CURSOR_KEY,
    LEDGER_INDEX_KEY,
    LEDGER_KEY,
    RECOVERIES_KEY,
    SUSPECTS_KEY,
    LedgerTransport,
    drop_entries_of,
    find_lost,
    forget,
    is_task_message,
    ledger_transport,
    record,
    redelivered,
    republish,
    task_id_of,
)

QUEUE = "baton.eu-west-1"
UNACKED = "unacked"
GRACE = 10.0


def message(task_id: str = "job-1", tag: str = "tag-1") -> str:
    return json.dumps(
        {
            "body": "e30=",
            "headers": {"id": task_id, "task": "baton.subagent"},
            "properties": {"delivery_tag": tag, "delivery_info": {"routing_key": QUEUE}},
        }
    )


@pytest.fixture()
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def put(client: fakeredis.FakeRedis, raw: str, tag: str = "tag-1", *, at: float = 0.0) -> None:
    """A publish as the ledger's channel makes it: the push and the entry together."""
    ledger.put(client, QUEUE, raw, tag, now=at)


def lost(client: fakeredis.FakeRedis, now: float) -> list[tuple[str, str, str]]:
    return find_lost(client, unacked_key=UNACKED, grace=GRACE, now=now)


def test_a_queued_message_is_never_lost(client):
    put(client, message())
    assert lost(client, now=100) == []
    assert lost(client, now=200) == []
    assert client.zcard(SUSPECTS_KEY) == 0


def test_an_unacknowledged_message_is_never_lost(client):
    put(client, message())
    client.rpop(QUEUE)
    client.hset(UNACKED, "tag-1", "[...]")  # kombu recorded it
    assert lost(client, now=100) == []
    assert lost(client, now=200) == []


def test_a_message_found_nowhere_is_lost_only_when_found_so_twice_a_grace_period_apart(client):
    raw = message()
    put(client, raw)
    client.rpop(QUEUE)  # BRPOP took it; its worker died before kombu recorded it

    assert lost(client, now=100) == []  # first seen missing: a suspect
    assert lost(client, now=100 + GRACE - 1) == []  # could still be in a consumer's hands
    assert lost(client, now=100 + GRACE) == [("tag-1", QUEUE, raw)]


def test_a_suspect_that_turns_up_is_cleared(client):
    raw = message()
    put(client, raw)
    client.rpop(QUEUE)
    assert lost(client, now=100) == []
    client.hset(UNACKED, "tag-1", "[...]")  # the consumer was only slow
    assert lost(client, now=200) == []
    assert client.zcard(SUSPECTS_KEY) == 0
    client.hdel(UNACKED, "tag-1")  # gone again later: the grace period starts over
    assert lost(client, now=300) == []
    assert lost(client, now=300 + GRACE) != []


def test_a_message_put_less_than_a_grace_period_ago_is_not_looked_at(client):
    put(client, message(), at=95)
    client.rpop(QUEUE)
    assert lost(client, now=100) == []
    assert client.zcard(SUSPECTS_KEY) == 0


def test_an_acknowledged_message_leaves_the_ledger_and_kombus_records(client):
    put(client, message())
    client.rpop(QUEUE)
    lost(client, now=100)  # a suspect
    client.hset(UNACKED, "tag-1", "[...]")
    client.zadd("unacked_index", {"tag-1": 100})
    ledger.acknowledge(client, "tag-1", unacked_index_key="unacked_index", unacked_key=UNACKED)
    assert [client.exists(k) for k in (LEDGER_KEY, LEDGER_INDEX_KEY)] == [0, 0]
    assert [client.exists(k) for k in (UNACKED, "unacked_index")] == [0, 0]
    assert lost(client, now=200) == []
    assert client.exists(SUSPECTS_KEY) == 0  # swept by the pass


def test_a_message_taken_for_good_is_forgotten(client):
    put(client, message())
    with client.pipeline() as pipe:
        forget(pipe, "tag-1")
        pipe.execute()
    assert [client.exists(k) for k in (LEDGER_KEY, LEDGER_INDEX_KEY)] == [0, 0]


def test_an_entry_with_no_message_is_tidied_away(client):
    client.zadd(LEDGER_INDEX_KEY, {"tag-9": 0})
    assert lost(client, now=100) == []
    assert client.zcard(LEDGER_INDEX_KEY) == 0


def test_republish_puts_the_same_message_back_at_the_head_of_its_queue(client):
    raw = message()
    put(client, raw)
    client.lpush(QUEUE, message("job-2", "tag-2"))  # queued behind it
    client.rpop(QUEUE)
    client.lpush(QUEUE, message("job-3", "tag-3"))
    found = lost(client, now=100) or lost(client, now=100 + GRACE)
    tag, queue, text = found[0]

    assert republish(client, tag, queue, text, unacked_key=UNACKED, limit=3, now=200) == 1

    head = json.loads(client.lindex(QUEUE, -1))  # what BRPOP takes next
    assert head["headers"] == {"id": "job-1", "task": "baton.subagent", "redelivered": True}
    assert head["properties"]["delivery_tag"] == "tag-1"
    assert head["properties"]["delivery_info"]["redelivered"] is True
    assert lost(client, now=300) == []  # queued again, and its entry says so


def test_republish_does_nothing_when_the_message_turned_up(client):
    raw = message()
    put(client, raw)
    client.rpop(QUEUE)
    client.hset(UNACKED, "tag-1", "[...]")
    assert republish(client, "tag-1", QUEUE, raw, unacked_key=UNACKED, limit=3) == 0
    assert client.llen(QUEUE) == 0


def test_a_message_lost_more_than_the_limit_leaves_the_ledger(client):
    raw = message()
    put(client, raw)
    for count in (1, 2):
        client.rpop(QUEUE)
        entry = client.hget(LEDGER_KEY, "tag-1").decode().partition("\0")[2]
        assert republish(client, "tag-1", QUEUE, entry, unacked_key=UNACKED, limit=2) == count
    client.rpop(QUEUE)
    entry = client.hget(LEDGER_KEY, "tag-1").decode().partition("\0")[2]
    assert republish(client, "tag-1", QUEUE, entry, unacked_key=UNACKED, limit=2) == -1
    assert [client.exists(k) for k in (LEDGER_KEY, LEDGER_INDEX_KEY, RECOVERIES_KEY)] == [0, 0, 0]


def test_a_purged_queues_entries_are_dropped_and_others_kept(client):
    put(client, message("a", "tag-a"), "tag-a")
    with client.pipeline() as pipe:
        record(pipe, "tag-b", "other", message("b", "tag-b"), at=0)
        pipe.execute()
    assert drop_entries_of(client, {QUEUE}) == 1
    assert [k.decode() for k in client.hkeys(LEDGER_KEY)] == ["tag-b"]


def test_only_celery_task_messages_with_a_tag_are_kept():
    assert is_task_message(json.loads(message()))
    assert not is_task_message({"headers": {}, "properties": {"delivery_tag": "t"}})  # a reply
    assert not is_task_message({"headers": {"id": "x", "task": "y"}, "properties": {}})


def test_redelivered_changes_only_the_flags_and_task_id_reads_the_header():
    raw = message()
    again = json.loads(redelivered(raw))
    original = json.loads(raw)
    assert again["body"] == original["body"]
    assert again["properties"]["delivery_tag"] == original["properties"]["delivery_tag"]
    assert task_id_of(raw) == "job-1"
    assert task_id_of("not json") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", LedgerTransport),
        ("rediss://cache:6380/0", LedgerTransport),
        ("REDIS://host/0", LedgerTransport),
        ("amqp://guest:guest@127.0.0.1:5672//", None),
        ("sentinel://host:26379", None),
    ],
)
def test_the_ledger_serves_redis_urls_only(url, expected):
    assert ledger_transport(url) is expected


def test_a_connection_on_the_ledger_transport_is_written_as_the_redis_url_it_is():
    from kombu import Connection

    connection = Connection("redis://127.0.0.1:6379/5", transport=LedgerTransport)
    assert connection.as_uri() == Connection("redis://127.0.0.1:6379/5").as_uri()
    assert connection.as_uri().startswith("redis://")


# Issue 24, finding 3: anyone who writes the broker writes the ledger. A bad entry is dropped,
# one at a time, and logged; it never fails the script or pins the scan.


def poison(client: fakeredis.FakeRedis, tag: str, entry: str, *, at: float = 0.0) -> None:
    client.hset(LEDGER_KEY, tag, entry)
    client.zadd(LEDGER_INDEX_KEY, {tag: at})


def really_lost(client: fakeredis.FakeRedis, *, at: float = 1.0) -> str:
    raw = message("job-lost", "tag-lost")
    put(client, raw, "tag-lost", at=at)
    client.lrem(QUEUE, 1, raw)  # taken by BRPOP; its worker died before kombu recorded it
    return raw


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("no-separator-here", "no separator"),
        ("\0message", "an empty queue name"),
        (f"{LEDGER_KEY}\0message", "not a list"),
    ],
)
def test_an_unreadable_entry_is_dropped_and_logged_and_the_pass_goes_on(
    client, caplog, entry, reason
):
    poison(client, "poison", entry)
    raw = really_lost(client)

    assert lost(client, now=100) == []
    assert lost(client, now=200) == [("tag-lost", QUEUE, raw)]
    assert not client.hexists(LEDGER_KEY, "poison")
    assert client.zscore(LEDGER_INDEX_KEY, "poison") is None
    logged = [r.getMessage() for r in caplog.records if "'poison'" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].startswith("ledger entry 'poison' dropped: ")
    assert reason in logged[0]


def test_decoys_that_stay_put_cannot_pin_the_scan_on_themselves(client):
    for i in range(500):  # queued on a queue nobody consumes: each pass sees them again
        put(client, message(f"decoy-{i}", f"decoy-{i}"), f"decoy-{i}", at=0)
    raw = really_lost(client, at=1)

    found = []
    for now in (100, 100, 200, 200):  # two passes a grace period apart... twice
        found += lost(client, now=now)
    assert found == [("tag-lost", QUEUE, raw)]
    assert client.zcard(SUSPECTS_KEY) == 1  # the lost one; the decoys are queued, not suspect


@pytest.mark.parametrize("cursor", ["1.5", "inf", "nan", "1e400", "-3", "not a number"])
def test_a_cursor_no_pass_wrote_starts_the_scan_again_from_the_oldest(client, cursor):
    raw = really_lost(client)
    client.set(CURSOR_KEY, cursor)  # a broker writer's: LIMIT refused 1.5 on every pass

    assert lost(client, now=100) == []
    assert lost(client, now=200) == [("tag-lost", QUEUE, raw)]


def test_a_record_under_a_named_exchange_is_restored_and_an_unrestorable_one_dropped(fake_redis):
    """kombu's lookup of a declared exchange gives a set; a record naming one once stopped every
    restore (and each worker's recovery pass) with a TypeError."""
    from kombu import Connection

    with Connection(fake_redis.url(0), transport=LedgerTransport) as connection:
        channel = connection.channel()
        channel.exchange_declare(QUEUE, type="direct")
        channel.queue_declare(QUEUE)
        channel.queue_bind(QUEUE, QUEUE, QUEUE)
        client = channel.client
        good, bad = json.loads(message("job-good", "tag-good")), json.loads(message("job-bad"))
        bad["headers"] = "not a mapping"
        for tag, payload in (("tag-good", good), ("tag-bad", bad)):
            client.hset(channel.unacked_key, tag, json.dumps([payload, QUEUE, QUEUE]))
            channel.qos.restore_by_tag(tag)
        queued = [json.loads(raw)["headers"]["id"] for raw in client.lrange(QUEUE, 0, -1)]
        assert client.hgetall(channel.unacked_key) == {}
        channel.close()
    assert queued == ["job-good"]
    assert client.hexists(LEDGER_KEY, "tag-good")
