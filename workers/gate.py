"""The gate: no Baton task body runs before its envelope is verified and allowed.

Signal handlers cannot veto a task (Celery logs and swallows their exceptions), so the gate lives
in the task's call path, as the base class of every task on the Baton app.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from envelope import BatonError
from workers.context import Job, running
from workers.runtime import WorkerRuntime

logger = logging.getLogger("baton.worker")

#: Celery's own tasks (chord bookkeeping, ping) carry no Bedrock call and are not gated.
UNGATED_PREFIX = "celery."


class GatedTask(Task):  # type: ignore[type-arg]
    """A task that runs only with a verified, allowed envelope, which it makes current."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.name.startswith(UNGATED_PREFIX):
            return super().__call__(*args, **kwargs)
        runtime: WorkerRuntime = self.app.baton_runtime  # type: ignore[attr-defined]
        try:
            envelope = runtime.admit(self.request)
        except BatonError as exc:
            logger.error("refused job %s (%s): %s [%s]", self.request.id, self.name, exc, exc.code)
            raise
        with running(Job(envelope=envelope, task_id=str(self.request.id))):
            return super().__call__(*args, **kwargs)
