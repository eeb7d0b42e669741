"""Parent-side propagation: under ``Orchestrator.propagating()`` every publish carries the envelope.

Signatures embedded in the message (link, link_error, later chain steps, a chord body) are
stamped with the same token, so the workers that publish them later send the same configuration.

The signal handler and its pair live here, on the producer side; the worker side has its own in
``workers.hooks``. Neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.signals import before_task_publish

from envelope import HEADER_KEY, BedrockEnvelope
from envelope.routing import PROPAGATING
from envelope.stamping import stamp_body


def _attach(body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    active = PROPAGATING.get()
    if headers is None or active is None:
        return
    token = headers.get(HEADER_KEY)
    if not token:
        token = headers[HEADER_KEY] = active[1]
    stamp_body(body, token)


def connect() -> None:
    """Install the producer's publish hook (idempotent)."""
    before_task_publish.connect(_attach, weak=False, dispatch_uid="baton.orchestrator.attach")


def disconnect() -> None:
    """Remove the producer's publish hook."""
    before_task_publish.disconnect(_attach, dispatch_uid="baton.orchestrator.attach")


@contextmanager
def propagating(envelope: BedrockEnvelope, token: str) -> Iterator[BedrockEnvelope]:
    """Attach ``token`` to every Celery publish in this context that has no envelope yet."""
    connect()
    reset = PROPAGATING.set((envelope, token))
    try:
        yield envelope
    finally:
        PROPAGATING.reset(reset)
