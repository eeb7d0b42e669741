"""The envelope of the job running in this thread, for the task body and for publishes it makes.

A context variable, not a global: each pool thread has its own job, and ``asyncio.run`` inside a
task sees its caller's context.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from envelope import BedrockEnvelope
from workers.errors import NoCurrentEnvelope


@dataclass(frozen=True)
class Job:
    """An admitted job: its verified envelope and its own task id (the parent of its children)."""

    envelope: BedrockEnvelope
    task_id: str


#: The request attribute where the gate leaves the admitted job, for publishes Celery makes after
#: the body returns (chain steps, link callbacks) while the task is still current.
JOB_ATTRIBUTE = "baton_job"

_CURRENT: ContextVar[Job | None] = ContextVar("baton_current_job", default=None)


def current_job() -> Job | None:
    """Return the admitted job of this context, or None outside a Baton task."""
    return _CURRENT.get()


def current_envelope() -> BedrockEnvelope:
    """Return the inherited envelope of the running task.

    Raises:
        NoCurrentEnvelope: outside a Baton task, where there is nothing to inherit; Baton never
            substitutes local defaults.
    """
    job = _CURRENT.get()
    if job is None:
        raise NoCurrentEnvelope(
            "current_envelope() was called outside a Baton task, so there is no inherited "
            "Bedrock configuration; call it from a task registered on workers.app"
        )
    return job.envelope


def bind(job: Job) -> Token[Job | None]:
    """Make ``job`` current; give the returned token to :func:`unbind` when the body ends."""
    return _CURRENT.set(job)


def unbind(token: Token[Job | None]) -> None:
    """Restore the job that was current before :func:`bind`."""
    _CURRENT.reset(token)
