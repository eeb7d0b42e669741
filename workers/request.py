"""The main process's side of a job: what it publishes after a hard time limit or a lost child,
and what it stores for a message that arrives expired.

Under the prefork pool, a job whose child hits the hard time limit or dies is failed by the
worker's main process, which then publishes the job's errbacks (and counts it in its chord) with
no task running, so with no admitted job for the publish hook. :class:`GatedRequest` admits the
message there as the gate would (envelope, binding, policy) and makes it the current job for
that handling alone, so the hook binds its stamped errbacks as that job's and nothing else. A
message that is not admitted is disarmed as the gate disarms a refusal: it publishes nothing,
and it fails its job id only when it is bound to that id (``workers.refusals``).

The main process also discards a message past its Celery ``expires`` before any child sees it,
storing REVOKED under its id and adding the id to the worker's revoked set. A message that is not
bound to its id does neither: it is dead-lettered, so that a message naming a queued job's id
cannot revoke that job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from celery.exceptions import Ignore
from celery.worker.request import Request
from celery.worker.state import task_ready

from envelope import BatonError
from workers.context import bind, unbind
from workers.errors import MessageExpired
from workers.gate import ADMITTED_BUILTINS, disarm
from workers.refusals import refuse
from workers.runtime import WorkerRuntime

logger = logging.getLogger("baton.worker")


class GatedRequest(Request):
    """Celery's worker request, failing a job in the main process as that job, and only a
    message bound to its id."""

    _already_revoked: bool  # Celery's, set in its __init__

    def revoked(self) -> bool:
        """Celery's check, except that a message past its expiry and not bound to its id is
        dead-lettered and acknowledged: no REVOKED under the id, no id in the revoked set."""
        runtime = None if self._already_revoked or not self._past_expiry() else self._runtime()
        if runtime is None:  # every message asks: the cheap checks come first
            return bool(super().revoked())
        context, name = self._context, self.task.name  # type: ignore[attr-defined]
        if runtime.binding_problem(context, task_name=name) is None:
            return bool(super().revoked())  # its publisher's expiry: Celery's REVOKED
        error = MessageExpired(
            f"job {self.id} ({name}) arrived after its Celery expires time ({self.expires}) "
            "and was discarded unrun"
        )
        refuse(self.task.app, context, task_name=name, error=error)
        self._drop()
        self._already_revoked = True
        return True

    def on_timeout(self, soft: bool, timeout: float) -> None:
        with self._as_job() as stored:
            if stored or soft:
                super().on_timeout(soft, timeout)
            else:
                self._drop()

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> None:
        exc = getattr(exc_info.exception, "exc", exc_info.exception)  # ExceptionWithTraceback
        if isinstance(exc, Ignore):  # acknowledged, nothing stored or published: not a job's
            super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
            return
        with self._as_job() as stored:
            if stored:
                super().on_failure(
                    exc_info, send_failed_event=send_failed_event, return_ok=return_ok
                )
            else:
                self._drop()

    def _runtime(self) -> WorkerRuntime | None:
        return getattr(self.task.app, "baton_runtime", None)

    def _past_expiry(self) -> bool:
        """Whether Celery's ``maybe_expire`` would call the message expired (without its side
        effect, the id in the revoked set)."""
        expires = self.expires
        if not expires:
            return False
        return bool(datetime.now(UTC if expires.tzinfo else None) > expires)

    def _drop(self) -> None:
        """Finish the message with nothing stored under its id: it is not bound to that id."""
        task_ready(self)
        self.acknowledge()

    @contextmanager
    def _as_job(self) -> Iterator[bool]:
        """Run Celery's handling as the admitted job; yield whether it may store the failure
        (admitted, or refused but bound to its id)."""
        runtime = self._runtime()
        name = self.task.name
        if runtime is None or (name.startswith("celery.") and name not in ADMITTED_BUILTINS):
            yield True
            return
        request = self._context  # type: ignore[attr-defined]  # not in celery-types
        try:
            envelope = runtime.admit(request, task_name=name)
        except BatonError as exc:
            logger.warning("job %s failing in the main process was not admitted: %s", self.id, exc)
            bound = disarm(runtime, request, task_name=name)
            if not bound:  # the gate, had it run, dead-lettered it too: nothing is lost
                refuse(self.task.app, request, task_name=name, error=exc)
            yield bound
            return
        job = runtime.job(request, envelope)
        token = bind(job)
        try:
            yield True
        finally:
            unbind(token)
