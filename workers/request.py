"""The main process's side of a job: what it publishes after a hard time limit or a lost child.

Under the prefork pool, a job whose child hits the hard time limit or dies is failed by the
worker's main process, which then publishes the job's errbacks (and counts it in its chord) with
no task running, so with no admitted job for the publish hook. :class:`GatedRequest` admits the
message there as the gate would (envelope, binding, policy) and makes it the current job for
that handling alone, so the hook binds its stamped errbacks as that job's and nothing else. A
message that is not admitted is disarmed as the gate disarms a refusal: it publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.worker.request import Request

from envelope import BatonError
from workers.context import bind, unbind
from workers.gate import ADMITTED_BUILTINS, disarm
from workers.runtime import WorkerRuntime

logger = logging.getLogger("baton.worker")


class GatedRequest(Request):
    """Celery's worker request, failing a job in the main process as that job."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        with self._as_job():
            super().on_timeout(soft, timeout)

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> None:
        with self._as_job():
            super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    @contextmanager
    def _as_job(self) -> Iterator[None]:
        runtime: WorkerRuntime | None = getattr(self.task.app, "baton_runtime", None)
        name = self.task.name
        if runtime is None or (name.startswith("celery.") and name not in ADMITTED_BUILTINS):
            yield
            return
        request = self._context  # type: ignore[attr-defined]  # not in celery-types
        try:
            envelope = runtime.admit(request, task_name=self.task.name)
        except BatonError as exc:
            logger.warning("job %s failing in the main process was not admitted: %s", self.id, exc)
            disarm(runtime, request, task_name=self.task.name)
            yield
            return
        job = runtime.job(request, envelope)
        token = bind(job)
        try:
            yield
        finally:
            unbind(token)
