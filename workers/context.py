"""The envelope of the job running in this thread, for the task body and for publishes it makes.

A context variable, not a global: each pool thread has its own job, and ``asyncio.run`` inside a
task sees its caller's context.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envelope import HEADER_KEY, BedrockEnvelope
from workers.errors import NoCurrentEnvelope

if TYPE_CHECKING:
    from workers.runtime import WorkerRuntime


@dataclass(frozen=True)
class Job:
    """An admitted job: its verified envelope, its own task id (the parent of its children) and
    the runtime of the app that admitted it (whose keys, seal key and client cache serve it),
    and when it started (``time.monotonic``), from which its time limits count.

    It also says which tokens the worker may bind for it (:meth:`may_bind`): its own verified
    ``token`` (a retry, a replace, a chain step or link stamped with it), every token it minted
    (:meth:`mint`: its children, a chord's resume), and the tokens its verified message
    ``embedded`` (a chord body, callbacks, errbacks, the rest of a chain), which the message's
    binding covered. Nothing else: a token copied off the broker is never bound.
    """

    envelope: BedrockEnvelope
    task_id: str
    runtime: WorkerRuntime
    started: float = field(default_factory=time.monotonic)
    token: str = ""
    embedded: tuple[Any, ...] = ()
    minted: set[str] = field(default_factory=set, compare=False, repr=False)

    def mint(self, envelope: BedrockEnvelope) -> str:
        """Sign ``envelope`` (one this job derived: a child's, a refreshed one) and remember it
        as this job's to bind."""
        token = self.runtime.sign(envelope)
        self.minted.add(token)
        return token

    def may_bind(self, token: str) -> bool:
        """Tell whether ``token`` is this job's own, one it minted, or one its message embeds."""
        if token == self.token or token in self.minted:
            return True
        if token in embedded_tokens(self.embedded):
            self.minted.add(token)  # walked once per token, not once per publish
            return True
        return False


def embedded_tokens(value: Any, depth: int = 0) -> set[str]:
    """Every envelope token in the signatures ``value`` holds (their ``options.headers``, nested
    in a chain's or group's ``tasks``, a chord's ``header`` and ``body``), at most 32 deep."""
    found: set[str] = set()
    if depth > 32:
        return found
    if isinstance(value, Mapping):
        token = value.get(HEADER_KEY)
        if isinstance(token, str) and token:
            found.add(token)
        for item in value.values():
            if isinstance(item, Mapping | list | tuple):
                found |= embedded_tokens(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, Mapping | list | tuple):
                found |= embedded_tokens(item, depth + 1)
    return found


#: The request attribute where the gate leaves the admitted job, for publishes Celery makes after
#: the body returns (chain steps, link callbacks) while the task is still current.
JOB_ATTRIBUTE = "baton_job"

#: The request attribute where the gate leaves, for a refused message whose binding held, the
#: tokens of its chord body: the chord callback is the one thing it may still have published.
VOUCHED_ATTRIBUTE = "baton_vouched"

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
