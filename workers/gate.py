"""The gate: no Baton task body runs before its envelope is verified and allowed.

Signal handlers cannot veto a task (Celery logs and swallows their exceptions), so the gate lives
in the task's call path, as the base class of every task on the Baton app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Retry

from envelope import BatonError
from workers import delivery, metrics, tracing
from workers.context import JOB_ATTRIBUTE, Job, current_job, running
from workers.deadletters import DeadLetters, make_record
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
        inherited = current_job()
        if self.request.called_directly and inherited is not None:
            return super().__call__(*args, **kwargs)  # a plain call inside a job: same config
        runtime: WorkerRuntime = self.app.baton_runtime  # type: ignore[attr-defined]
        try:
            envelope = runtime.admit(self.request)
        except BatonError as exc:
            DeadLetters(self.app).record(make_record(self.request, task_name=self.name, error=exc))
            metrics.REFUSALS.labels(reason=exc.code).inc()
            metrics.JOBS.labels(region="unknown", outcome="refused").inc()
            logger.error("refused job %s (%s): %s [%s]", self.request.id, self.name, exc, exc.code)
            raise
        job = Job(envelope=envelope, task_id=str(self.request.id))
        setattr(self.request, JOB_ATTRIBUTE, job)
        with (
            running(job),
            _observed(envelope.region),
            tracing.job_span(self.request, task_name=self.name, envelope=envelope),
        ):
            if not getattr(self, "baton_guarded", False):
                return super().__call__(*args, **kwargs)
            turns = int((kwargs.get("state") or {}).get("turns", 0))
            lock_ttl = runtime.settings.job_lock_ttl
            with delivery.guarded(self, expected_turns=turns, lock_ttl=lock_ttl) as stored:
                return stored if stored is not None else super().__call__(*args, **kwargs)


@contextmanager
def _observed(region: str) -> Iterator[None]:
    """Count the job's outcome and time it; a replace or retry is not a finished job."""
    started = time.perf_counter()
    outcome = "failure"
    try:
        yield
        outcome = "success"
    except (Ignore, Retry):
        outcome = "handed_on"
        raise
    finally:
        metrics.JOBS.labels(region=region, outcome=outcome).inc()
        metrics.JOB_SECONDS.labels(region=region).observe(time.perf_counter() - started)
