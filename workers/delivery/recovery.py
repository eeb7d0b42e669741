"""On a Redis broker: leases on the messages a worker holds, and the return of lost ones.

Kombu redelivers an unacknowledged Redis message only once it is older than the visibility
timeout, whether its worker is alive or dead: a long timeout left a dead worker's jobs waiting
twenty minutes, a short one redelivered every live job that ran longer. Baton's workers hold a
lease instead. Each consuming process has one thread (:mod:`workers.delivery.leases`) that,
every quarter of the lease window (``BATON_VISIBILITY_TIMEOUT``, 60 s by default), stamps every
message it still holds as fresh in kombu's unacknowledged index. A live worker's messages,
running or waiting for their countdown, are never older than a quarter window, however long they
run; a dead worker's stop being stamped, and once they are a window old a live worker puts them
back at the head of their queue.

The same pass looks in the publish ledger (:mod:`fleet.ledger`) for messages lost between
kombu's BRPOP and its unacknowledged record, and puts those back too, under their own id with
their own envelope. A pass runs on every worker, every quarter window, and only one at a time
fleet-wide does the work: the one that takes kombu's own restore mutex (a Redis lock). So no
extra process needs deploying or watching, and a fleet that has workers recovers. A put-back job
is counted (``baton_jobs_recovered_total{reason}``) and marked for ``baton status``; the delivery
guard makes a copy that was not lost after all harmless, and an envelope that expired meanwhile
is refused and dead-lettered by the gate like any other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kombu.transport.redis import Mutex, MutexHeld
from redis.exceptions import ResponseError

from fleet import (
    LedgerChannel,
    LedgerQoS,
    LedgerTransport,
    drop_entry,
    find_lost,
    lost_message,
    republish,
    task_id_of,
    unacked_message,
)
from workers.arrival import tagged
from workers.delivery.leases import keeper, lease_timings
from workers.green import GreenPoll, green_poller, poller_of

logger = logging.getLogger("baton.worker")

#: The most messages one pass takes back of each kind.
PASS_LIMIT = 500
#: A message lost in transit is put back at most this many times, then dropped with an error:
#: only a consumer that acknowledges without the ledger (not a Baton worker) loses it again.
MAX_RECOVERIES = 3
#: Why a job was put back: its worker stopped renewing its lease, or it was lost in transit.
WORKER_LOST = "worker_lost"
LOST_IN_TRANSIT = "lost_in_transit"
REASONS = frozenset({WORKER_LOST, LOST_IN_TRANSIT})

#: Told of every job put back: its task id and the reason.
OnRecovered = Callable[[str, str], None]


class RecoveringQoS(LedgerQoS):
    """The ledger's QoS, with leases and the pass that takes back expired and lost messages."""

    on_recovered: OnRecovered = staticmethod(lambda task_id, reason: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pass_lock = threading.Lock()
        self._next_pass = 0.0

    @property
    def window(self) -> float:
        return float(self.visibility_timeout)

    def ack(self, delivery_tag: str) -> None:
        """Acknowledge, and wake a consumer waiting in a green poll: its window has room."""
        super().ack(delivery_tag)
        self._wake_consumer()

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        """Reject, and wake a consumer waiting in a green poll: its window has room."""
        super().reject(delivery_tag, requeue=requeue)
        self._wake_consumer()

    def _wake_consumer(self) -> None:
        poller = poller_of(self.channel.connection)
        if poller is not None:
            poller.wake()

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        """Kombu's periodic call: a pass, if one is due (the lease keeper makes the same call)."""
        self.maintain()

    def held(self) -> list[str]:
        """The delivery tags of the messages this channel holds unacknowledged."""
        for _ in range(3):
            try:
                return list(self._delivered or ())
            except RuntimeError:  # changed size while copied by the consumer's thread
                continue
        return []

    def renew(self) -> int:
        """Stamp every message this channel holds as fresh; return how many were stamped."""
        tags = self.held()
        if not tags:
            return 0
        now = time.time()
        with self.channel.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
            for start in range(0, len(tags), PASS_LIMIT):
                chunk = tags[start : start + PASS_LIMIT]
                pipe.zadd(self.unacked_index_key, dict.fromkeys(chunk, now), xx=True)
            pipe.execute()
        return len(tags)

    def maintain(self, *, now: float | None = None) -> tuple[int, int] | None:
        """Run a pass if one is due here and no other worker is running one.

        Returns how many jobs it put back (lease expired, lost in transit), or None when it
        did not run. It never raises: kombu calls it on its connection path, where an error
        would stop the worker, so a failed pass is logged and the next beat tries again.
        """
        now = time.time() if now is None else now
        every, grace = lease_timings(self.window)
        if now < self._next_pass or not self._pass_lock.acquire(blocking=False):
            return None
        try:
            self._next_pass = now + every
            with (
                self.channel.conn_or_acquire() as client,
                Mutex(client, self.unacked_mutex_key, self.unacked_mutex_expire),
            ):
                return self._restore_expired(client, now), self._reap(client, grace, now)
        except MutexHeld:
            return None
        except Exception as exc:  # Redis away, or a ledger no script can read: next beat
            logger.error("recovery pass failed, tried again next beat: %r", exc)
            return None
        finally:
            self._pass_lock.release()

    def _restore_expired(self, client: Any, now: float) -> int:
        """Put back the messages whose lease ran out: their worker stopped renewing it."""
        expired = client.zrange(
            self.unacked_index_key,
            "-inf",
            now - self.window,
            byscore=True,
            offset=0,
            num=PASS_LIMIT,
        )
        restored = 0
        for tag in expired:
            stored = client.hget(self.unacked_key, tag)
            self.restore_by_tag(tag, client)  # drops, and logs, a record it cannot read
            record = unacked_message(stored) if stored is not None else None
            if record is not None:
                restored += 1
                self._recovered(_task_id(record[0]), WORKER_LOST)
        return restored

    def _reap(self, client: Any, grace: float, now: float) -> int:
        """Put back the messages found nowhere, twice, ``grace`` apart."""
        returned = 0
        for tag, queue, raw in find_lost(
            client, unacked_key=self.unacked_key, grace=grace, limit=PASS_LIMIT, now=now
        ):
            if lost_message(tag, raw) is None:  # logged: not a message Baton wrote
                drop_entry(client, tag)
                continue
            try:
                count = republish(
                    client,
                    tag,
                    queue,
                    raw,
                    unacked_key=self.unacked_key,
                    limit=MAX_RECOVERIES,
                    now=now,
                )
            except ResponseError as exc:  # its queue key changed type meanwhile: next pass
                logger.error("ledger entry %r not put back: %s", tag[:80], exc)
                continue
            task_id = task_id_of(raw)
            if count > 0:
                returned += 1
                self._recovered(task_id, LOST_IN_TRANSIT)
            elif count < 0:
                logger.error(
                    "job %s was lost in transit %d times and is not put back again; a consumer "
                    "that is not a Baton worker may be taking messages from %s",
                    task_id,
                    MAX_RECOVERIES,
                    queue,
                )
        return returned

    def _recovered(self, task_id: str | None, reason: str) -> None:
        logger.warning(
            "job %s put back on its queue (%s)", task_id or "?", reason.replace("_", " ")
        )
        if task_id is not None:
            try:
                type(self).on_recovered(task_id, reason)
            except Exception:  # a failed mark must not stop the pass
                logger.exception("could not record the recovery of job %s", task_id)


def _task_id(message: dict[str, Any]) -> str | None:
    task_id = (message.get("headers") or {}).get("id")
    return task_id if isinstance(task_id, str) else None


class RecoveringChannel(LedgerChannel):
    """The ledger's channel; a channel that consumes has its leases kept by :data:`keeper`."""

    QoS = RecoveringQoS
    baton_tags_deliveries = True  # workers.arrival.TAGS_DELIVERIES: basic_consume tags them

    def basic_consume(
        self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any
    ) -> Any:
        """Kombu's, with each delivery told its consumer tag (``workers.arrival``)."""
        tagged_callback = tagged(callback, consumer_tag)
        consumer = super().basic_consume(queue, no_ack, tagged_callback, consumer_tag, **kwargs)
        keeper.hold(self.qos)
        return consumer

    def close(self) -> None:
        if self._qos is not None:
            keeper.drop(self._qos)
        super().close()


class RecoveringTransport(LedgerTransport):
    """The ledger's transport with leases; in a gevent-patched worker its channels wait on
    gevent's cooperative ``poll``, never on ``select()`` (:mod:`workers.green`)."""

    Channel = RecoveringChannel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        poller, cycle = green_poller(), self.cycle
        if poller is not None and cycle is not None:
            cycle.poller.close()
            cycle.poller = poller

    def close_connection(self, connection: Any) -> None:
        """Close the connection, and the green poller's wake pipe with it."""
        poller = getattr(self.cycle, "poller", None)
        super().close_connection(connection)
        if isinstance(poller, GreenPoll):
            poller.close()


def recovering_transport(on_recovered: OnRecovered) -> type[LedgerTransport]:
    """A Redis transport class for a worker app: the ledger, leases, and ``on_recovered`` told
    of each job put back."""
    qos = type("AppRecoveringQoS", (RecoveringQoS,), {"on_recovered": staticmethod(on_recovered)})
    channel = type("AppRecoveringChannel", (RecoveringChannel,), {"QoS": qos})
    return type("AppRecoveringTransport", (RecoveringTransport,), {"Channel": channel})
