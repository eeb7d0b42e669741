"""The worker's consumer: Celery's, except for a message whose task this worker never imported,
for the queue it names as a message's, for mingling and gossip, and for the connection its worker
events go out on.

Celery logs such a message, rejects it (on Redis: drops it) and stores ``NotRegistered`` as its
result. On a queue whose workers load different ``--include`` lists, that loses every job the
wrong worker takes, and says nothing of the fix. Requeueing would not do better: the same
worker can take the message straight back, in a loop that never ends when no worker knows the
task, while the parent waits out its timeout. So Baton keeps the message as a dead letter,
which ``baton dead-letters replay`` re-publishes, as it was, once the workers load the module,
and fails the job at once with the fix (``TaskNotRegistered``: the ``--include`` the worker
lacks) when the message is bound to its id; an unbound one fails nothing (``workers.refusals``).

The task name comes from a message anyone who can write the broker can send, so it is never
imported or probed; it is only quoted, and only when it reads as a dotted Python name.

Under a gevent pool the consumer also ends its broker wait whenever it queues a callback, so that
remote control's pause and resume take effect at once rather than up to two seconds later
(:mod:`workers.green`).

Each task message's headers get the queue it was taken from, over whatever the sender put
there: a bound message's refusal fails its job only when it was taken from its own region's
queue, so a copy pushed onto another region's queue fails nothing (``workers.arrival``).

It never "mingles". At start, and after every consumer restart, a Celery worker broadcasts
``hello`` and adds every id any reply lists to its revoked set, with remote control on or off;
anyone who writes the broker can answer, so a keyless reply revoked any queued job it named (its
message arrived, was found revoked, and REVOKED was stored under its id). What mingle syncs is
the revokes sent before a worker started (a worker that answers remote control still takes each
revoke broadcast while it runs), and each start or reconnect is a second faster without its wait
for replies. Nor does it gossip: Celery's gossip reads every worker event on the broker, and
answered each ``worker-elect`` with an ack of its own and kept the request in memory, unbounded,
whoever sent it; what it is for, elections that remote control's ``election`` starts and logs of
workers joining and leaving, Baton does not use, and at fleet scale it is every worker reading
every other's heartbeats.

Worker events (online, heartbeat, offline, gossip) are published without RabbitMQ's publisher
confirms, which every other publish of Baton's waits for (``fleet.PUBLISH_OPTIONS``). On a gevent
worker Celery's consumer loop (``celery.worker.loops.synloop``) also reads the event connection,
from the main greenlet, to take in the broker's heartbeats, while a timer greenlet publishes
``worker-heartbeat`` on it and, with a confirm, waits on the same socket for the broker's
``basic.ack``. When the loop read that ack first, the publisher was left waiting for a reply that
had already come and gone, holding the event dispatcher's lock; the warm shutdown's
``worker-offline`` then waited for that lock, and the worker never exited (11 of 50 warm
shutdowns after ``test_dropped_connections``'s RabbitMQ run, none of 27 since). An event is for
monitoring: one lost with a dropped connection costs a missed heartbeat.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any

from celery import signals
from celery.utils.objects import Bunch
from celery.worker.consumer import Consumer
from kombu import Connection
from vine import promise

from envelope import BINDING_KEY, EMBEDDED, HEADER_KEY
from workers.arrival import ARRIVED_ON, queue_of
from workers.dead_letters import new_record_id
from workers.errors import MessageMalformed, TaskNotRegistered
from workers.green import poller_of
from workers.refusals import refuse
from workers.remote import restrict
from workers.wellformed import problem

logger = logging.getLogger("baton.worker")

#: A task name worth quoting as one: dotted Python identifiers, of a sane length.
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,20}", re.ASCII)
_MAX_NAME = 200

#: The event connection's transport options over the app's: no publisher confirms (see above).
_EVENT_TRANSPORT_OPTIONS: dict[str, Any] = {"confirm_publish": False}

#: The headers a binding check reads off the request, besides its id and arguments.
_BOUND_HEADERS = (HEADER_KEY, BINDING_KEY, "group", "group_index", "retries", "expires", ARRIVED_ON)


def not_registered(name: str, *, queue: str | None, dead_letter: str) -> str:
    """The refusal of a task named ``name`` that this worker has not imported."""
    where = f"consuming {queue}" if queue else "on this queue"
    if len(name) > _MAX_NAME or not _DOTTED_NAME.fullmatch(name):
        return (
            f"task {name[:80]!r} is not registered on this worker and is no Python task name; "
            f"the message is dead letter {dead_letter}"
        )
    module, dot, _ = name.rpartition(".")
    include = f"--include {module}" if dot else "--include <the module that defines it>"
    return (
        f"task {name} is not registered on this worker, so it did not run: every worker "
        f"{where} must import the module that defines it; start them with `{include}` (or "
        f"BATON_INCLUDE; the module named by the task's default name). The message is kept as "
        f"dead letter {dead_letter}: `baton dead-letters replay --id {dead_letter}` once they do"
    )


def _request(message: Any, job_id: str) -> SimpleNamespace:
    """The parts of a task request a dead-letter record and a binding check read, from the
    raw message (protocol 2: its headers, and the body's arguments and embedded signatures)."""
    try:
        args, kwargs, embed = message.decode()
    except Exception:  # a body this worker cannot read is still kept, without arguments
        args, kwargs, embed = [], {}, {}
    headers = message.headers if isinstance(message.headers, dict) else {}
    embed = embed if isinstance(embed, dict) else {}
    return SimpleNamespace(
        **{name: headers.get(name) for name in _BOUND_HEADERS},
        **{name: embed.get(name) for name in EMBEDDED},
        id=job_id,
        args=args if isinstance(args, list | tuple) else [],
        kwargs=kwargs if isinstance(kwargs, dict) else {},
        delivery_info=message.delivery_info or {},
        headers=headers,
    )


class BatonConsumer(Consumer):
    """Celery's consumer, dead-lettering a message for a task it does not know, with the fix, and
    sending its worker events unconfirmed."""

    # Set by Celery's Consumer; its stubs do not declare them.
    connection_errors: tuple[type[BaseException], ...]
    event_dispatcher: Any
    hub: Any
    task_consumer: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Celery's (which the worker calls with keywords), never mingling or gossiping (above),
        whatever the worker's options say, and answering the remote control its settings
        allow (``workers.remote``)."""
        quiet = {"without_mingle": True, "without_gossip": True}
        kwargs["worker_options"] = {**(kwargs.get("worker_options") or {}), **quiet}
        super().__init__(*args, **kwargs)
        runtime = getattr(self.app, "baton_runtime", None)
        if runtime is not None:
            restrict(self, runtime.settings.remote_control)

    def call_soon(self, p: Any, *args: Any, **kwargs: Any) -> Any:
        """Celery's: without an event loop (a gevent pool) the callback waits for the loop's
        next turn, which came only after a message or two seconds; the wait now ends at once.
        The callback still runs on the consumer's greenlet, as Celery means it to."""
        queued = super().call_soon(p, *args, **kwargs)
        channel = getattr(self.task_consumer, "channel", None)
        poller = None if self.hub else poller_of(getattr(channel, "connection", None))
        if poller is not None:
            poller.interrupt()
        return queued

    def create_task_handler(self, promise: Any = promise) -> Any:
        """Celery's handler, for a well-formed message only (``workers.wellformed``; any other
        is dead-lettered, as is one Celery's handler fails on), after writing the queue the
        message was taken from into its headers (``workers.arrival.ARRIVED_ON``), over whatever
        the sender put there."""
        handler = super().create_task_handler(promise)

        def on_task_received(message: Any) -> Any:
            why = problem(message)
            if why is not None:
                return self.on_malformed(message, why)
            headers = message.headers
            headers[ARRIVED_ON] = queue_of(self.task_consumer, message)
            try:
                return handler(message)
            except Exception as exc:  # in the main process an exception stops the worker
                if isinstance(exc, self.connection_errors):
                    raise
                logger.exception("Celery could not take in job %s", headers["id"][:200])
                return self.on_malformed(message, f"Celery failed on it ({type(exc).__name__})")

        return on_task_received

    def connection_for_write(
        self, url: str | None = None, heartbeat: float | None = None
    ) -> Connection:
        """The event dispatcher's connection (Celery's ``Events`` step is the only caller), as
        Celery's but without publisher confirms: one reader of its socket, the consumer loop."""
        return self.ensure_connected(
            self.app.connection_for_write(
                url=url, heartbeat=heartbeat, transport_options=_EVENT_TRANSPORT_OPTIONS
            )
        )

    def on_malformed(self, message: Any, why: str) -> None:
        """Dead-letter a task message Celery would fail on or store under its id, storing
        nothing (``workers.wellformed``). Celery would read a protocol 1 message's id, and
        every other field, from its body, where no binding and no queue of the worker's own
        reach."""
        headers = message.headers if isinstance(message.headers, dict) else {}
        named = headers.get("id")
        if not isinstance(named, str):  # protocol 1 names it in its body: shown, never used
            try:
                body = message.decode()
            except Exception:
                body = None
            named = body.get("id") if isinstance(body, dict) else None
        request = _request(message, str(named)[:200] if named is not None else "?")
        setattr(request, ARRIVED_ON, None)  # never the message's word: unbound by construction
        error = MessageMalformed(
            f"a task message that is not as every Baton publisher sends it ({why}) is not run, "
            "and fails no job"
        )
        refuse(self.app, request, task_name=str(headers.get("task"))[:200], error=error)
        if not message.acknowledged:
            message.reject_log_error(logger, self.connection_errors)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        headers = message.headers  # well formed, string id and task: on_task_received checked
        job_id, name = headers["id"], headers["task"]
        request = _request(message, job_id)
        delivery = request.delivery_info
        queue = getattr(request, ARRIVED_ON) or delivery.get("routing_key")
        dead_letter = new_record_id()
        error = TaskNotRegistered(not_registered(name, queue=queue, dead_letter=dead_letter))
        refusal = refuse(self.app, request, task_name=name, error=error, dead_letter=dead_letter)
        message.reject_log_error(logger, self.connection_errors)
        if refusal.stored:
            self._fail(job_id, name, error, message)
        signals.task_unknown.send(sender=self, message=message, exc=exc, name=name, id=job_id)

    def _fail(self, job_id: str, name: str, error: TaskNotRegistered, message: Any) -> None:
        """Store the refusal as the job's failure, as Celery does for an unknown task."""
        self.app.backend.mark_as_failure(
            job_id,
            error,
            request=Bunch(
                name=name,
                chord=None,
                root_id=(message.headers or {}).get("root_id"),
                correlation_id=message.properties.get("correlation_id"),
                reply_to=message.properties.get("reply_to"),
                errbacks=None,
            ),
        )
        if self.event_dispatcher:
            self.event_dispatcher.send("task-failed", uuid=job_id, exception=repr(error))
