"""The gate: no Baton task body runs before its envelope is verified and allowed.

Signal handlers cannot veto a task (Celery logs and swallows their exceptions), so the gate lives
in the task's call path, as the base class of every task on the Baton app.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, Retry

from envelope import BatonError, BedrockEnvelope
from workers import metrics, tracing
from workers.context import JOB_ATTRIBUTE, Job, bind, current_job, unbind
from workers.dead_letters import DeadLetters, make_record
from workers.delivery import guard
from workers.runtime import WorkerRuntime

logger = logging.getLogger("baton.worker")

#: Celery's own bookkeeping tasks call no Bedrock and are not gated. Named one by one, so a task
#: called "celery.something" cannot slip past the gate.
UNGATED_TASKS = frozenset(
    {
        "celery.accumulate",
        "celery.backend_cleanup",
        "celery.chain",
        "celery.chord",
        "celery.chord_unlock",
        "celery.chunks",
        "celery.group",
        "celery.map",
        "celery.ping",
        "celery.starmap",
    }
)


class GatedTask(Task):  # type: ignore[type-arg]
    """A task that runs only with a verified, allowed envelope, which it makes current."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.name in UNGATED_TASKS:
            return super().__call__(*args, **kwargs)
        request = self.request  # a property that walks Celery's request stack: read it once
        if request.called_directly and current_job() is not None:
            return super().__call__(*args, **kwargs)  # a plain call inside a job: same config
        runtime: WorkerRuntime = self.app.baton_runtime  # type: ignore[attr-defined]
        envelope = self._admit(runtime, request)
        job = Job(envelope=envelope, task_id=str(request.id), runtime=runtime)
        setattr(request, JOB_ATTRIBUTE, job)
        started = time.perf_counter()
        outcome = "failure"
        token = bind(job)
        try:
            with tracing.job_span(request, task_name=self.name, envelope=envelope):
                result = self._run(runtime, args, kwargs)
            outcome = "success"
            return result
        except (Ignore, Retry, Reject):
            outcome = "handed_on"  # a replace, retry or requeue is not a finished job
            raise
        finally:
            unbind(token)
            seconds = time.perf_counter() - started
            metrics.job_finished(region=envelope.region, outcome=outcome, seconds=seconds)

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        """Give the job's lock back, then retry as Celery does.

        Celery sends the copy before the retry unwinds the body, and a copy sent with no
        countdown may run at once on another thread: holding the lock until then made it wait
        half a lock TTL for nothing.
        """
        guard.give_back(self.request)
        return super().retry(*args, **kwargs)

    def _admit(self, runtime: WorkerRuntime, request: Any) -> BedrockEnvelope:
        """Return the request's verified envelope; dead-letter, count and re-raise a refusal."""
        try:
            return runtime.admit(request, task_name=self.name)
        except BatonError as exc:
            DeadLetters(self.app).record(make_record(request, task_name=self.name, error=exc))
            metrics.REFUSALS.labels(reason=exc.code).inc()
            metrics.JOBS.labels(region="unknown", outcome="refused").inc()
            logger.error("refused job %s (%s): %s [%s]", request.id, self.name, exc, exc.code)
            raise

    def _run(self, runtime: WorkerRuntime, args: Any, kwargs: Any) -> Any:
        """Run the body; a guarded task's only when its delivery guard lets it.

        Only Celery's tracer gets here, and it has pushed the task and its request already:
        ``run`` is called as Celery calls it for a task without a ``__call__`` of its own, not
        through ``Task.__call__``, which would push a copy of the request (a few µs a job).
        """
        if not getattr(self, "baton_guarded", False):
            return self.run(*args, **kwargs)
        turns = int((kwargs.get("state") or {}).get("turns", 0))
        lock_ttl = runtime.settings.job_lock_ttl
        with guard.guarded(self, expected_turns=turns, lock_ttl=lock_ttl) as stored:
            return stored if stored is not None else self.run(*args, **kwargs)
