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

import time
from typing import Any

from kombu.transport.redis import Channel as RedisChannel
from kombu.transport.redis import QoS as RedisQoS
from kombu.transport.redis import Transport as RedisTransport
from kombu.transport.virtual import QoS as VirtualQoS
from kombu.utils.json import dumps, loads

#: message tag -> "<queue list key>\\0<message as pushed>".
LEDGER_KEY = "baton.ledger"
#: message tag -> when it was last put on a queue (by the putter's clock).
LEDGER_INDEX_KEY = "baton.ledger_index"
#: message tag -> when a reaper first found it nowhere (by that reaper's clock).
SUSPECTS_KEY = "baton.ledger_suspects"
#: message tag -> how many times a reaper has put it back (a sorted set, swept like suspects).
RECOVERIES_KEY = "baton.ledger_recoveries"

#: Broker URL schemes served by the ledger's transport.
REDIS_SCHEMES = ("redis", "rediss")

_SEP = "\0"

#: Push a message and write its entry, in one script call: as cheap for the client as the bare
#: LPUSH it replaces. KEYS: queue list, ledger, index. ARGV: message, tag, now.
_PUT = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], KEYS[1] .. '\\0' .. ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
"""

#: Acknowledge: kombu's two unacknowledged records and the ledger's two, in one script call (kombu
#: sends a MULTI of two). KEYS: unacked index, unacked, ledger, index. ARGV: tag.
_ACK = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
"""

#: Find entries older than the grace period that are neither queued nor unacknowledged. The first
#: pass that finds one marks it a suspect; a pass at least a grace period later that finds it so
#: again returns it as lost, with its queue and message. An entry seen anywhere is cleared.
#: Suspects and counts of messages acknowledged since are swept out, a hundred a pass.
#: KEYS: ledger, index, suspects, unacked, recoveries. ARGV: now, older-than, limit, grace.
_FIND_LOST = """
local tags = redis.call('ZRANGE', KEYS[2], '-inf', ARGV[2], 'BYSCORE', 'LIMIT', 0, ARGV[3])
local lost = {}
for _, tag in ipairs(tags) do
  local entry = redis.call('HGET', KEYS[1], tag)
  if not entry then
    redis.call('ZREM', KEYS[2], tag)
    redis.call('ZREM', KEYS[3], tag)
  elseif redis.call('HEXISTS', KEYS[4], tag) == 1 then
    redis.call('ZREM', KEYS[3], tag)
  else
    local cut = string.find(entry, '\\0', 1, true)
    local queue = string.sub(entry, 1, cut - 1)
    local message = string.sub(entry, cut + 1)
    if redis.call('LPOS', queue, message, 'RANK', -1) then
      redis.call('ZREM', KEYS[3], tag)
    else
      local seen = redis.call('ZSCORE', KEYS[3], tag)
      if not seen then
        redis.call('ZADD', KEYS[3], ARGV[1], tag)
      elseif tonumber(ARGV[1]) - tonumber(seen) >= tonumber(ARGV[4]) then
        table.insert(lost, tag)
        table.insert(lost, queue)
        table.insert(lost, message)
      end
    end
  end
end
for _, key in ipairs({KEYS[3], KEYS[5]}) do
  for _, tag in ipairs(redis.call('ZRANGE', key, 0, 99)) do
    if redis.call('HEXISTS', KEYS[1], tag) == 0 then
      redis.call('ZREM', key, tag)
    end
  end
end
return lost
"""

#: Put a lost message back at the head of its queue, if it is still lost and has been put back
#: fewer than the limit of times; returns the count so far, or 0 when it was not lost after all.
#: Over the limit it leaves the ledger and returns -1. KEYS: ledger, index, suspects, unacked,
#: recoveries. ARGV: tag, queue, message as found, message to push, now, limit.
_REPUBLISH = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry ~= ARGV[2] .. '\\0' .. ARGV[3] or redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1
   or redis.call('LPOS', ARGV[2], ARGV[3], 'RANK', -1) then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
local count = tonumber(redis.call('ZINCRBY', KEYS[5], 1, ARGV[1]))
if count > tonumber(ARGV[6]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  return -1
end
redis.call('RPUSH', ARGV[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\0' .. ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return count
"""


def is_task_message(message: dict[str, Any]) -> bool:
    """Whether ``message`` (kombu's dict) is a Celery task message with a delivery tag."""
    headers = message.get("headers") or {}
    properties = message.get("properties") or {}
    return bool(headers.get("id") and headers.get("task") and properties.get("delivery_tag"))


def record(pipe: Any, tag: str, queue: str, raw: str, *, at: float | None = None) -> None:
    """Add (or rewrite) the ledger entry of ``tag`` on ``pipe``: ``raw`` as pushed on ``queue``."""
    pipe.hset(LEDGER_KEY, tag, f"{queue}{_SEP}{raw}")
    pipe.zadd(LEDGER_INDEX_KEY, {tag: time.time() if at is None else at})


def put(client: Any, queue: str, raw: str, tag: str, *, now: float | None = None) -> None:
    """Push ``raw`` on the ``queue`` list and write its ledger entry: one script call."""
    keys = [queue, LEDGER_KEY, LEDGER_INDEX_KEY]
    run_script(client, _PUT, keys, [raw, tag, time.time() if now is None else now])


def acknowledge(client: Any, tag: str, *, unacked_index_key: str, unacked_key: str) -> None:
    """Take ``tag`` out of kombu's unacknowledged records and out of the ledger: one script call."""
    run_script(client, _ACK, [unacked_index_key, unacked_key, LEDGER_KEY, LEDGER_INDEX_KEY], [tag])


def forget(pipe: Any, tag: str) -> None:
    """Drop the ledger entry of ``tag`` on ``pipe``: its message was taken for good. Its suspect
    mark and recovery count, if any, are swept out by the next pass."""
    pipe.hdel(LEDGER_KEY, tag)
    pipe.zrem(LEDGER_INDEX_KEY, tag)


#: One handle per script source; redis-py sends each by its SHA and loads it on NOSCRIPT.
_SCRIPTS: dict[str, Any] = {}


def run_script(client: Any, source: str, keys: list[Any], args: list[Any]) -> Any:
    """Run a Lua script by its SHA on ``client``, loading it into that server the first time."""
    script = _SCRIPTS.get(source)
    if script is None:
        script = _SCRIPTS.setdefault(source, client.register_script(source))
    return script(keys=keys, args=args, client=client)


def find_lost(
    client: Any, *, unacked_key: str, grace: float, limit: int = 500, now: float | None = None
) -> list[tuple[str, str, str]]:
    """Return ``(tag, queue, message)`` of each entry found nowhere twice, ``grace`` apart.

    Looks at the ``limit`` oldest entries put more than ``grace`` ago; the oldest queued ones are
    near the head of their queue, where the search starts. One script call.
    """
    now = time.time() if now is None else now
    found = run_script(
        client,
        _FIND_LOST,
        [LEDGER_KEY, LEDGER_INDEX_KEY, SUSPECTS_KEY, unacked_key, RECOVERIES_KEY],
        [now, now - grace, limit, grace],
    )
    texts = [item.decode() if isinstance(item, bytes) else str(item) for item in found]
    return [(texts[i], texts[i + 1], texts[i + 2]) for i in range(0, len(texts), 3)]


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
        run_script(client, _REPUBLISH, keys, [tag, queue, raw, redelivered(raw), when, limit])
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
        if not is_task_message(payload):
            return
        pri = self._get_message_priority(payload, reverse=False)
        tag = payload["properties"]["delivery_tag"]
        for queue in self._lookup(exchange, routing_key)[:1]:
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
