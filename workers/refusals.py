"""What a refused message leaves behind: a dead letter always, its failure only when it is bound.

A worker refuses a message on several paths: the gate (no envelope; a tampered, expired or foreign
one; a binding made for another message; a policy; a Celery built-in no message may start), the
consumer (a task this worker never imported) and Celery's expiry of a message past its
``expires`` (``workers.request``). Celery would store each refusal as the result of the job id
the message names, and that id is the message's own choice: anyone who writes the broker, with
no key, could name a queued job's id and make its parent's ``.get()`` raise before the real job
ran (a denial of service, never a forged answer).

So every path asks :func:`refuse`, and one rule decides: a refusal is stored under the message's
id only when the message is bound (``WorkerRuntime.binding_problem``: its token's signature
verifies under a key this worker holds, and its binding covers this very message, its expiry
included). A key holder made it for that id, so its parent may learn at once. Otherwise nothing
is stored under the id: the message is dead-lettered and logged with why, and whoever waits on
the id waits for its timeout. An honest publish without Baton's hooks (a plain ``send_task`` to a
Baton queue) is one of these: its record says how to publish instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import Celery

from envelope import BatonError
from workers import metrics
from workers.dead_letters import DeadLetters, make_record

logger = logging.getLogger("baton.worker")


@dataclass(frozen=True)
class Refusal:
    """What :func:`refuse` decided for one refused message."""

    #: The id of its dead-letter record (``baton dead-letters list``).
    dead_letter: str
    #: Why the message is not provably a key holder's for its id, or None when it is.
    unbound: str | None

    @property
    def stored(self) -> bool:
        """Whether its failure may be stored under its id (only a bound message's may)."""
        return self.unbound is None


def refuse(
    app: Celery,
    request: Any,
    *,
    task_name: str,
    error: BatonError,
    dead_letter: str | None = None,
) -> Refusal:
    """Dead-letter, count and log the refusal of ``request``; say whether it may be stored.

    ``dead_letter`` is the record's id when the caller quoted it in ``error`` already.
    """
    runtime = getattr(app, "baton_runtime", None)
    unbound = (
        "this app has no Baton runtime to check its binding"
        if runtime is None
        else runtime.binding_problem(request, task_name=task_name)
    )
    record = make_record(request, task_name=task_name, error=error)
    if dead_letter is not None:
        record["id"] = dead_letter
    record["result_stored"] = unbound is None
    if unbound is not None:
        record["message"] = not_stored(record, unbound=unbound)
    DeadLetters(app).record(record)
    metrics.REFUSALS.labels(reason=error.code).inc()
    logger.error(
        "refused job %s (%s): %s [%s]",
        record["job_id"],
        task_name[:200],
        record["message"],
        error.code,
    )
    return Refusal(dead_letter=record["id"], unbound=unbound)


def not_stored(record: dict[str, Any], *, unbound: str) -> str:
    """The refusal's explanation, with why it was not stored under its job id and what to do."""
    return (
        f"{record['message'].rstrip('.')}. Not failed under job {record['job_id']}: {unbound}, "
        "so nothing shows a key holder sent it for that id (anyone who writes the broker can "
        "name one), and a caller waiting on that id waits for its timeout. Publish jobs through "
        "orchestrator.Orchestrator (spawn, or inside `with orch.propagating():`) or from a "
        "Baton task, which sign and bind every message; this one is kept as dead letter "
        f"{record['id']}"
    )
