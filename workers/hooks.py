"""Every Celery signal handler of the worker side, connected and disconnected as a pair.

``before_task_publish`` carries the running job's envelope onward: a message published from inside
a Baton task with no envelope of its own gets a child envelope (depth + 1, this job as parent,
freshly signed). A message that already has one, such as a retry Celery copied, keeps it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import before_task_publish

from envelope import HEADER_KEY
from workers.context import current_job
from workers.runtime import WorkerRuntime

logger = logging.getLogger("baton.worker")

_runtime: WorkerRuntime | None = None


def _carry_envelope(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or headers.get(HEADER_KEY) or _runtime is None:
        return
    job = current_job()
    if job is None:
        return
    child = job.envelope.child(parent_id=job.task_id)
    headers[HEADER_KEY] = _runtime.sign(child)


def connect(runtime: WorkerRuntime) -> None:
    """Install the worker's signal handlers for ``runtime``."""
    global _runtime  # noqa: PLW0603 - the one process-wide runtime the handlers serve
    _runtime = runtime
    before_task_publish.connect(_carry_envelope, weak=False, dispatch_uid="baton.carry_envelope")


def disconnect() -> None:
    """Remove the handlers ``connect`` installed."""
    global _runtime  # noqa: PLW0603
    before_task_publish.disconnect(_carry_envelope, dispatch_uid="baton.carry_envelope")
    _runtime = None
