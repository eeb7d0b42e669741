"""Dead letters: every refused message, kept with its reason so an operator can fix and replay.

Redis has no dead-letter exchange and RabbitMQ's would lose the reason, so the worker writes its
own record: a Redis list ``baton.dead`` on a Redis broker, a durable queue ``baton.dead`` bound to
the ``baton.dlx`` exchange on RabbitMQ (kombu gives both from one code path). A record holds the
reason, the time, the task name, an envelope summary without secrets, and the original message
(arguments, the signed token and its binding), which ``replay`` sends again as it was, past the
publish hooks, so nothing is signed anew: a tampered envelope or a missing or foreign binding is
refused again, a region refused by policy runs once the operator has widened it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from celery import Celery
from kombu import Exchange, Queue
from kombu.simple import SimpleQueue

from envelope import BINDING_KEY, HEADER_KEY, BatonError, EnvelopeMalformed, peek, queue_for
from workers.arrival import ARRIVED_ON
from workers.runtime import envelope_token, request_header

logger = logging.getLogger("baton.worker")

DEAD_LETTER_QUEUE = "baton.dead"
DEAD_LETTER_EXCHANGE = "baton.dlx"

#: Summary fields copied from an (unverified) envelope: nothing secret, nothing large.
SUMMARY_FIELDS = ("region", "model_id", "endpoint_url", "cross_region", "kid", "exp")


def _store(connection: Any) -> SimpleQueue:
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
    queue = Queue(DEAD_LETTER_QUEUE, exchange, routing_key=DEAD_LETTER_QUEUE, durable=True)
    return SimpleQueue(connection.default_channel, queue)  # type: ignore[arg-type]


def summarize(token: str | None) -> dict[str, Any]:
    """Return the safe fields of an envelope token without trusting it, or why there are none."""
    if token is None:
        return {"missing": True}
    try:
        data = peek(token)
    except EnvelopeMalformed as exc:
        return {"malformed": str(exc)}
    summary = {key: data.get(key) for key in SUMMARY_FIELDS}
    lineage, auth = data.get("lineage"), data.get("auth")
    summary["depth"] = lineage.get("depth") if isinstance(lineage, dict) else None
    summary["auth"] = auth.get("mode") if isinstance(auth, dict) else None
    return summary


def new_record_id() -> str:
    """A fresh dead-letter record id, for a refusal that quotes it before it is written."""
    return uuid.uuid4().hex


def make_record(request: Any, *, task_name: str, error: BatonError) -> dict[str, Any]:
    """Build the dead-letter record of a refused request."""
    token = envelope_token(request)
    delivery = getattr(request, "delivery_info", None) or {}
    expires = getattr(request, "expires", None)
    return {
        "id": new_record_id(),
        "job_id": str(getattr(request, "id", "")),
        "task": task_name,
        "reason": error.code,
        "error": type(error).__name__,
        "message": str(error),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "envelope": summarize(token),
        "queue": getattr(request, ARRIVED_ON, None) or delivery.get("routing_key"),
        "args": list(getattr(request, "args", None) or []),
        "kwargs": dict(getattr(request, "kwargs", None) or {}),
        "token": token,
        "binding": request_header(request, BINDING_KEY),
        "retries": _retries(request),
        "expires": expires if isinstance(expires, str) else None,  # a binding covers it
    }


#: What each field of a record holds, as ``make_record`` writes it; the first five are needed to
#: replay it, the rest may be missing (an older record).
_NEEDED: dict[str, type] = {"id": str, "job_id": str, "task": str, "args": list, "kwargs": dict}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    **dict.fromkeys(("reason", "error", "message", "time"), str),
    "envelope": dict,
    **dict.fromkeys(("queue", "token", "binding", "expires"), (str, type(None))),
    "retries": int,
    "result_stored": bool,
}


def readable(payload: Any) -> dict[str, Any] | None:
    """The record ``payload`` holds, or None when it is not one ``make_record`` wrote: anyone
    who writes the broker can write this list, and one odd record must not stop the listing or
    the replay of every other."""
    if not isinstance(payload, dict):
        return None
    if not all(isinstance(payload.get(name), kind) for name, kind in _NEEDED.items()):
        return None
    if not all(isinstance(payload[k], t) for k, t in _OPTIONAL.items() if k in payload):
        return None
    return dict(payload)


def _unreadable(message: Any) -> None:
    logger.error(
        "dead letter %r is not a record a worker wrote (something else writes to the broker); "
        "left in place, skipped (`baton dead-letters purge` drops it with the rest)",
        str(message.payload)[:80],
    )


def _retries(request: Any) -> int:
    """The request's retry count, 0 when it is none a worker would have written."""
    retries = getattr(request, "retries", 0)
    return retries if type(retries) is int and retries > 0 else 0


class DeadLetters:
    """The dead-letter store of one Celery app's broker."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def record(self, record: dict[str, Any]) -> None:
        """Append a record; a broker failure is logged, never raised over the refusal itself."""
        try:
            with self.app.connection_for_write() as connection:
                _store(connection).put(record, serializer="json")
        except Exception:  # an observer of a refusal must not mask the refusal
            logger.exception("could not dead-letter job %s", record.get("job_id"))

    def _drain(self, connection: Any) -> tuple[SimpleQueue, list[Any]]:
        queue = _store(connection)
        messages = []
        while True:
            try:
                messages.append(queue.get(block=False))
            except SimpleQueue.Empty:
                return queue, messages

    def entries(self) -> list[dict[str, Any]]:
        """Return every record, oldest first, leaving them in place."""
        with self.app.connection_for_read() as connection:
            queue, messages = self._drain(connection)
            records = []
            for message in messages:
                record = readable(message.payload)
                if record is None:
                    _unreadable(message)
                else:
                    records.append(record)
                message.requeue()
            queue.close()
        return records

    def replay(self, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Re-publish the records named by ``ids`` (all when None) as they were; return them."""
        wanted = None if ids is None else set(ids)
        replayed = []
        with self.app.connection_for_read() as connection:
            queue, messages = self._drain(connection)
            for message in messages:
                record = readable(message.payload)
                if record is None:
                    _unreadable(message)
                    message.requeue()
                    continue
                if wanted is not None and record["id"] not in wanted:
                    message.requeue()
                    continue
                if not self._publish(record):
                    logger.error("dead letter %s names no queue; left in place", record["id"])
                    message.requeue()
                    continue
                message.ack()
                replayed.append(record)
            queue.close()
        return replayed

    def _publish(self, record: dict[str, Any]) -> bool:
        """Send the stored message as it was, past every publish hook: nothing is signed or
        bound again, so a message refused for its binding is refused again. False, and nothing
        sent, when the record names no queue and no region to send it to."""
        region = (record.get("envelope") or {}).get("region")
        name = record.get("queue") or (queue_for(region) if isinstance(region, str) else None)
        if not name:
            return False
        message = self.app.amqp.create_task_message(
            record["job_id"] or uuid.uuid4().hex, record["task"], record["args"], record["kwargs"]
        )
        headers = dict(message.headers)
        if record.get("token"):
            headers[HEADER_KEY] = record["token"]
        if record.get("binding"):
            headers[BINDING_KEY] = record["binding"]
        if record.get("retries"):  # a retry's binding covers its count
            headers["retries"] = record["retries"]
        if record.get("expires"):  # and a message's binding its expiry
            headers["expires"] = record["expires"]
        queue = self.app.amqp.queues[name]
        with self.app.connection_for_write() as connection:
            connection.Producer().publish(
                message.body,
                exchange=queue.exchange,
                routing_key=queue.routing_key,
                headers=headers,
                serializer="json",
                declare=[queue],
                retry=True,
                **message.properties,
            )
        return True

    def purge(self) -> int:
        """Drop every record; return how many there were."""
        with self.app.connection_for_write() as connection:
            queue = _store(connection)
            count = int(queue.clear() or 0)
            queue.close()
        return count
