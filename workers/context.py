"""The envelope of the job running in this thread, for the task body and for publishes it makes.

A context variable, not a global: each pool thread has its own job, and ``asyncio.run`` inside a
task sees its caller's context.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from envelope import BedrockEnvelope
from workers.errors import NoCurrentEnvelope

if TYPE_CHECKING:
    from workers.runtime import WorkerRuntime


@dataclass(frozen=True)
class Job:
    """An admitted job: its verified envelope, its own task id (the parent of its children) and
    the runtime of the app that admitted it (whose keys, seal key and client cache serve it),
    and when it started (``time.monotonic``), from which its time limits count."""

    envelope: BedrockEnvelope
    task_id: str
    runtime: WorkerRuntime
    started: float = field(default_factory=time.monotonic)


#: The request attribute where the gate leaves the admitted job, for publishes Celery makes after
#: the body returns (chain steps, link callbacks) while the task is still current.
JOB_ATTRIBUTE = "baton_job"

_CURRENT: ContextVar[Job | None] = ContextVar("baton_current_job", default=None)


def current_job() -> Job | None:
    """Return the admitted job of this context, or None outside a Baton task."""
    return _CURRENT.get()


def require_job() -> Job:
    """Return the admitted job of this context.

    Raises:
        NoCurrentEnvelope: outside a Baton task (an ``EnvelopeMissing``): there is nothing to
            inherit, and Baton never substitutes local defaults.
    """
    job = _CURRENT.get()
    if job is None:
        raise NoCurrentEnvelope(
            "there is no inherited Bedrock configuration here: this is not inside a task "
            "registered on workers.app (or a thread or coroutine it started with its context); "
            "call it from such a task, enqueued by an Orchestrator or by another Baton task"
        )
    return job


def current_envelope() -> BedrockEnvelope:
    """Return the inherited envelope of the running task.

    Raises:
        NoCurrentEnvelope: outside a Baton task, where there is nothing to inherit; Baton never
            substitutes local defaults.
    """
    return require_job().envelope


def bind(job: Job) -> Token[Job | None]:
    """Make ``job`` current; give the returned token to :func:`unbind` when the body ends."""
    return _CURRENT.set(job)


def unbind(token: Token[Job | None]) -> None:
    """Restore the job that was current before :func:`bind`."""
    _CURRENT.reset(token)
