"""The publish ledger: every task message a Baton app puts on a Redis broker, until acknowledged.

Kombu's Redis transport takes a message off its queue with BRPOP and only then, in a second
command, records it as unacknowledged; a worker killed, or a connection dropped, between the two
loses the message for good (kombu issues #305 and #593). RabbitMQ has no such window.

The ledger closes it. :class:`LedgerChannel` writes each task message into a hash beside its
queue, in the same ``MULTI`` as the ``LPUSH``; the acknowledgement that takes it out of kombu's
unacknowledged set takes it out of the ledger in the same pipeline; a restore (kombu's requeue
of an unacknowledged message) rewrites the entry with the message as requeued, in the restore's
own transaction. So at every moment a ledger entry's message is in one of three places: its
queue, kombu's unacknowledged hash, or a consumer's hands between the two. An entry found in
neither place twice, a grace period apart, was lost in that window, and :func:`republish` puts
the same message (same id, same envelope, same binding) back at the head of its queue. The
reaper that calls it runs on the workers (``workers.delivery.recovery``).

Only Celery task messages are kept (they carry ``id`` and ``task`` headers); replies, events
and dead letters are not. A purge or delete of a queue drops its entries too. Each put is one
round trip as before (one ``MULTI``), each acknowledgement too; the message is stored twice while
it is in flight. Key prefixes (kombu's ``global_keyprefix``) are not supported, and Baton never
sets one.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from kombu.transport.redis import Channel as RedisChannel
from kombu.transport.redis import QoS as RedisQoS
from kombu.transport.redis import Transport as RedisTransport
from kombu.transport.virtual import QoS as VirtualQoS
from kombu.utils.json import dumps, loads

from fleet.ledger_entries import (
    dropped,
    groups,
    is_task_message,
    unacked_message,
    unreadable_record,
)
from fleet.ledger_lua import ACK, FIND_LOST, PUT, REPUBLISH, run_script

#: message tag -> "<queue list key>\\0<message as pushed>".
LEDGER_KEY = "baton.ledger"
#: message tag -> when it was last put on a queue (by the putter's clock).
LEDGER_INDEX_KEY = "baton.ledger_index"
#: message tag -> when a reaper first found it nowhere (by that reaper's clock).
SUSPECTS_KEY = "baton.ledger_suspects"
#: message tag -> how many times a reaper has put it back (a sorted set, swept like suspects).
RECOVERIES_KEY = "baton.ledger_recoveries"
#: Where the next find-lost pass starts in the index (an offset among the entries old enough).
CURSOR_KEY = "baton.ledger_cursor"

#: Broker URL schemes served by the ledger's transport.
REDIS_SCHEMES = ("redis", "rediss")

_SEP = "\0"


def record(pipe: Any, tag: str, queue: str, raw: str, *, at: float | None = None) -> None:
    """Add (or rewrite) the ledger entry of ``tag`` on ``pipe``: ``raw`` as pushed on ``queue``."""
    pipe.hset(LEDGER_KEY, tag, f"{queue}{_SEP}{raw}")
    pipe.zadd(LEDGER_INDEX_KEY, {tag: time.time() if at is None else at})


def put(client: Any, queue: str, raw: str, tag: str, *, now: float | None = None) -> None:
    """Push ``raw`` on the ``queue`` list and write its ledger entry: one script call."""
    keys = [queue, LEDGER_KEY, LEDGER_INDEX_KEY]
    run_script(client, PUT, keys, [raw, tag, time.time() if now is None else now])


def acknowledge(client: Any, tag: str, *, unacked_index_key: str, unacked_key: str) -> None:
    """Take ``tag`` out of kombu's unacknowledged records and out of the ledger: one script call."""
    run_script(client, ACK, [unacked_index_key, unacked_key, LEDGER_KEY, LEDGER_INDEX_KEY], [tag])


def forget(pipe: Any, tag: str) -> None:
    """Drop the ledger entry of ``tag`` on ``pipe``: its message was taken for good. Its suspect
    mark and recovery count, if any, are swept out by the next pass."""
    pipe.hdel(LEDGER_KEY, tag)
    pipe.zrem(LEDGER_INDEX_KEY, tag)


def find_lost(
    client: Any, *, unacked_key: str, grace: float, limit: int = 500, now: float | None = None
) -> list[tuple[str, str, str]]:
    """Return ``(tag, queue, message)`` of each entry found nowhere twice, ``grace`` apart.

    Looks at ``limit`` entries put more than ``grace`` ago, oldest first from where the last
    pass stopped; the oldest queued ones are near the head of their queue, where the search
    starts. An entry that cannot be read is dropped and logged, one at a time. One script call.
    """
    now = time.time() if now is None else now
    found, bad = run_script(
        client,
        FIND_LOST,
        [LEDGER_KEY, LEDGER_INDEX_KEY, SUSPECTS_KEY, unacked_key, RECOVERIES_KEY, CURSOR_KEY],
        [now, now - grace, limit, grace],
    )
    for tag, reason in groups(bad, 2):
        dropped(tag, reason)
    return [(tag, queue, message) for tag, queue, message in groups(found, 3)]


def drop_entry(client: Any, tag: str) -> None:
    """Drop the ledger entry of ``tag``, its suspect mark and its count: one pipeline."""
    with client.pipeline() as pipe:
        forget(pipe, tag)
        pipe.zrem(SUSPECTS_KEY, tag)
        pipe.zrem(RECOVERIES_KEY, tag)
        pipe.execute()


def redelivered(raw: str) -> str:
    """``raw`` as kombu requeues a message: flagged ``redelivered``; the same message otherwise."""
    message = loads(raw)
    message.setdefault("headers", {})["redelivered"] = True
    message.setdefault("properties", {}).setdefault("delivery_info", {})["redelivered"] = True
    return str(dumps(message))


def republish(
    client: Any,
    tag: str,
    queue: str,
    raw: str,
    *,
    unacked_key: str,
    limit: int,
    now: float | None = None,
) -> int:
    """Put a lost message back at the head of ``queue``, if it is still lost; one script call.

    Returns how many times it has now been put back, 0 when it turned up meanwhile, or -1 when
    it had been put back ``limit`` times already and was dropped from the ledger instead.
    """
    keys = [LEDGER_KEY, LEDGER_INDEX_KEY, SUSPECTS_KEY, unacked_key, RECOVERIES_KEY]
    when = time.time() if now is None else now
    return int(
        run_script(client, REPUBLISH, keys, [tag, queue, raw, redelivered(raw), when, limit])
    )


def task_id_of(raw: str) -> str | None:
    """The Celery task id a kombu message (as stored) carries, if any."""
    try:
        headers = loads(raw).get("headers") or {}
    except ValueError:
        return None
    task_id = headers.get("id")
    return task_id if isinstance(task_id, str) else None


class LedgerQoS(RedisQoS):
    """Kombu's Redis acknowledgement emulation, taking acknowledged messages out of the ledger."""

    channel: Any  # kombu's Redis channel; its stubs know only the virtual one

    def ack(self, delivery_tag: str) -> None:
        with self.channel.conn_or_acquire() as client:
            acknowledge(
                client,
                delivery_tag,
                unacked_index_key=self.unacked_index_key,
                unacked_key=self.unacked_key,
            )
        VirtualQoS.ack(self, delivery_tag)

    def restore_by_tag(self, tag: Any, client: Any = None, leftmost: bool = False) -> None:
        """Kombu's requeue of an unacknowledged message; an unreadable record is dropped, logged."""

        def restore_transaction(pipe: Any) -> None:
            stored = pipe.hget(self.unacked_key, tag)
            pipe.multi()
            self._remove_from_indices(tag, pipe)  # type: ignore[attr-defined]
            if not stored:
                return
            record = unacked_message(stored)
            with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
                if record is not None:
                    self.channel._do_restore_message(*record, pipe, leftmost)
                    return
            unreadable_record(tag)  # not a record, or not one kombu can restore: dropped

        with self.channel.conn_or_acquire(client) as conn:
            conn.transaction(restore_transaction, self.unacked_key)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:  # back on its queue: still in the ledger, rewritten by the restore
            self.restore_by_tag(delivery_tag, leftmost=True)
            VirtualQoS.ack(self, delivery_tag)
        else:
            self.ack(delivery_tag)


#: Kombu's Redis channel, untyped here: its stubs know few of the helpers this channel extends.
_RedisChannel: Any = RedisChannel


class LedgerChannel(_RedisChannel):  # type: ignore[misc]
    """Kombu's Redis channel, keeping the ledger with every put, requeue, get and purge."""

    QoS = LedgerQoS

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        if not is_task_message(message):
            super()._put(queue, message, **kwargs)
            return
        key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))
        raw = dumps(message)
        tag = message["properties"]["delivery_tag"]
        expires = self._expires.get(queue) if self._expires else None
        batch = kwargs.pop("_publish_batch", None)
        if batch is not None:
            batch.add("lpush", key, raw)
            batch.add("hset", LEDGER_KEY, tag, f"{key}{_SEP}{raw}")
            batch.add("zadd", LEDGER_INDEX_KEY, {tag: time.time()})
            if expires is not None:
                for pri in self.priority_steps:
                    batch.add("pexpire", self._q_for_pri(queue, pri), expires)
            return
        with self.conn_or_acquire() as client:
            put(client, key, raw, tag)
            if expires is not None:
                with client.pipeline() as pipe:
                    for pri in self.priority_steps:
                        pipe.pexpire(self._q_for_pri(queue, pri), expires)
                    pipe.execute()

    def _do_restore_message(
        self,
        payload: dict[str, Any],
        exchange: str,
        routing_key: str,
        pipe: Any,
        leftmost: bool = False,
    ) -> None:
        super()._do_restore_message(payload, exchange, routing_key, pipe, leftmost)
        if is_task_message(payload):
            pri = self._get_message_priority(payload, reverse=False)
            tag = payload["properties"]["delivery_tag"]
            for queue in sorted(self._lookup(exchange, routing_key))[:1]:  # a set, for exchanges
                record(pipe, tag, self._q_for_pri(queue, pri), dumps(payload))

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:  # taken for good: no acknowledgement will follow
            with self.conn_or_acquire() as client, client.pipeline() as pipe:
                forget(pipe, str(message.delivery_tag))
                pipe.execute()
        return message

    def _purge(self, queue: str) -> int:
        purged = int(super()._purge(queue))
        lists = {self._q_for_pri(queue, pri) for pri in self.priority_steps}
        with self.conn_or_acquire() as client:
            drop_entries_of(client, lists)
        return purged

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        super()._delete(queue, *args, **kwargs)
        lists = {self._q_for_pri(queue, pri) for pri in self.priority_steps}
        with self.conn_or_acquire() as client:
            drop_entries_of(client, lists)


def drop_entries_of(client: Any, lists: set[str]) -> int:
    """Drop the ledger entries of messages on ``lists`` (purged or deleted queues)."""
    dropped = 0
    with client.pipeline() as pipe:
        for tag, entry in client.hscan_iter(LEDGER_KEY, count=500):
            text = entry.decode() if isinstance(entry, bytes) else str(entry)
            if text.partition(_SEP)[0] in lists:
                forget(pipe, tag.decode() if isinstance(tag, bytes) else str(tag))
                dropped += 1
        pipe.execute()
    return dropped


class _ShownAsRedis(type):
    """Kombu writes a connection's URL (the worker's banner, its logs) with the transport class
    as the scheme: show it as the ``redis`` it is, rather than as ``<class '...'>``."""

    def __str__(cls) -> str:
        return "redis"


class LedgerTransport(RedisTransport, metaclass=_ShownAsRedis):
    """Kombu's Redis transport with the publish ledger (``broker_transport`` of Baton's apps)."""

    Channel = LedgerChannel


def ledger_transport(broker_url: str) -> type[LedgerTransport] | None:
    """The transport class a Baton app uses for ``broker_url``: the ledger's on Redis, else None
    (kombu's own for the URL's scheme)."""
    scheme = broker_url.partition("://")[0].lower()
    return LedgerTransport if scheme in REDIS_SCHEMES else None
