"""The one Celery router: a job goes to the queue of its envelope's region, or is not sent.

It is a plain callable with Celery's router signature, so this package needs no Celery import.
Celery routes a message before ``before_task_publish`` runs, so the header a publish hook adds
is not there yet: the router also asks where the envelope will come from, the running job (on a
worker) or the parent's open ``propagating()`` block, which lives here so that every Baton app
routes by it, the parent's own and ``workers.app`` alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from envelope import (
    HEADER_KEY,
    BedrockEnvelope,
    EnvelopeMalformed,
    EnvelopeMissing,
    peek,
    queue_for,
)

#: The envelope and its signed token while a parent's ``propagating()`` block is open in this
#: context (set by ``orchestrator.propagating``).
PROPAGATING: ContextVar[tuple[BedrockEnvelope, str] | None] = ContextVar(
    "baton_propagating", default=None
)


#: The Baton app (the parent's or the workers') publishing in this context, if any: the publish
#: hooks touch only its messages, never another Celery app's in the same process, and the worker
#: hook binds them with that app's keys.
_BATON_PUBLISHING: ContextVar[object | None] = ContextVar("baton_publishing", default=None)


def baton_publishing() -> bool:
    """Tell whether the publish under way in this context is a Baton app's."""
    return _BATON_PUBLISHING.get() is not None


def publishing_app() -> object | None:
    """Return the Baton app whose publish is under way in this context, if any."""
    return _BATON_PUBLISHING.get()


class PublishingApp:
    """Mixin for a Celery app class: marks its publishes as Baton's for the publish hooks.

    Every publish of an app goes through ``send_task`` (``apply_async``, canvases, retries,
    chord callbacks and errbacks included), so that is where the mark is set.
    """

    def send_task(self, *args: Any, **kwargs: Any) -> Any:
        reset = _BATON_PUBLISHING.set(self)
        try:
            return super().send_task(*args, **kwargs)  # type: ignore[misc]
        finally:
            _BATON_PUBLISHING.reset(reset)


def propagating_envelope() -> BedrockEnvelope | None:
    """Return the envelope of the open ``propagating()`` block of this context, if any."""
    active = PROPAGATING.get()
    return active[0] if active is not None else None


class EnvelopeRouter:
    """Route by the envelope in the message options, else by the caller's current envelope.

    The header is read without verification: routing is not a trust decision, the worker that
    receives the job verifies it. A message with neither, and no queue named outright, is
    refused at publish with ``EnvelopeMissing``: on no queue would a worker run it.
    """

    def __init__(self, *, current: Callable[[], BedrockEnvelope | None]) -> None:
        self._current = current

    def __call__(
        self,
        name: str,
        args: Any,
        kwargs: Any,
        options: Mapping[str, Any],
        task: Any = None,
        **_: Any,
    ) -> dict[str, str] | None:
        region = self._region_from_options(options)
        if region is None:
            current = self._current()
            region = current.region if current is not None else None
        if region:
            return {"queue": queue_for(region)}
        if options.get("queue"):
            return None  # sent where its caller said; the worker there refuses it, dead-lettered
        raise EnvelopeMissing(
            f"task {name} was published with no Bedrock envelope, so no worker may run it; "
            "publish it inside `with orchestrator.propagating():` (or with Orchestrator.spawn), "
            f"from inside a Baton task, or with headers={{{HEADER_KEY!r}: token}}"
        )

    @staticmethod
    def _region_from_options(options: Mapping[str, Any]) -> str | None:
        token = (options.get("headers") or {}).get(HEADER_KEY)
        if not token:
            return None
        try:
            region = peek(token).get("region")
        except EnvelopeMalformed:
            return None
        return region if isinstance(region, str) else None
