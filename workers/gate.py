"""The gate: no Baton task body runs before its envelope is verified and allowed.

Signal handlers cannot veto a task (Celery logs and swallows their exceptions), so the gate lives
in the task's call path, as the base class of every task on the Baton app.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, Retry

from envelope import BatonError, BedrockEnvelope
from workers import metrics, tracing
from workers.context import JOB_ATTRIBUTE, VOUCHED_ATTRIBUTE, bind, current_job, unbind
from workers.delivery import guard, once
from workers.errors import BuiltinNotAllowed
from workers.refusals import refuse
from workers.runtime import WorkerRuntime

#: Celery's built-ins that publish nothing and call no Bedrock: they run ungated, but stripped
#: of everything a message could ask of them afterwards (callbacks, errbacks, the rest of a
#: chain, a place in a chord) and with no result stored, so that a message naming a job's id or
#: a live chord's group cannot answer for that job or count a result of its choosing into that
#: chord. Named one by one, so a task called "celery.something" cannot slip past the gate.
UNGATED_TASKS = frozenset({"celery.backend_cleanup", "celery.ping"})

#: The built-in that returns what it is given: Celery publishes it on the job's behalf when a
#: task replaces itself with a group, as the job's own result and place in its chord. It runs
#: like any task, with a verified envelope bound to its message; ungated, a keyless message
#: named any job's id or chord group and had its arguments stored as that job's answer.
ADMITTED_BUILTINS = frozenset({"celery.accumulate"})

#: Every other built-in (``celery.group``, ``chord``, ``chord_unlock``, ``chunks``, ``map``,
#: ``starmap``, ``chain``, and whatever a later Celery registers) publishes on the worker's
#: behalf. Neither Baton's canvases nor a user's send one as a message (Celery runs them in the
#: publisher, and the Redis backend joins chords natively), so a message that asks for one is
#: refused (``BuiltinNotAllowed``), dead-lettered, and publishes nothing: deny by default.
BUILTIN_PREFIX = "celery."

#: What a refused message may not do through Celery afterwards: publish its callbacks, errbacks
#: or the rest of its chain, all of which would carry a token the worker did not vouch for.
_PUBLISHED_AFTER = ("callbacks", "errbacks", "chain")


class GatedTask(Task):  # type: ignore[type-arg]
    """A task that runs only with a verified, allowed envelope, which it makes current."""

    #: The main process fails a job (hard time limit, lost child) as that job.
    Request = "workers.request:GatedRequest"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request  # a property that walks Celery's request stack: read it once
        if self.name in UNGATED_TASKS:
            for name in (*_PUBLISHED_AFTER, "chord", "group"):
                setattr(request, name, None)
            request.ignore_result = True
            return super().__call__(*args, **kwargs)
        if request.called_directly and current_job() is not None:
            return super().__call__(*args, **kwargs)  # a plain call inside a job: same config
        runtime: WorkerRuntime = self.app.baton_runtime  # type: ignore[attr-defined]
        envelope = self._admit(runtime, request)
        job = runtime.job(request, envelope)
        setattr(request, JOB_ATTRIBUTE, job)
        started = time.perf_counter()
        outcome = "failure"
        token = bind(job)
        try:
            with tracing.job_span(request, task_name=self.name, envelope=envelope):
                result = self._run(runtime, envelope, args, kwargs)
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
        """Return the request's verified envelope; dead-letter and count a refusal, and raise
        it, to be stored as the job's failure, only when the message is bound to its id
        (``workers.refusals``); else raise ``Ignore``, which stores nothing."""
        try:
            if self.name.startswith(BUILTIN_PREFIX) and self.name not in ADMITTED_BUILTINS:
                raise BuiltinNotAllowed(
                    f"job {request.id} asks for Celery's built-in {self.name}, which publishes "
                    "on the worker's behalf; no broker message may start one (Baton and Celery "
                    "run canvases in the process that publishes them)"
                )
            return runtime.admit(request, task_name=self.name)
        except BatonError as exc:
            disarm(runtime, request, task_name=self.name)
            metrics.JOBS.labels(region="unknown", outcome="refused").inc()
            refusal = refuse(self.app, request, task_name=self.name, error=exc)
            if refusal.stored or request.is_eager:  # an eager caller is in this process
                raise
            raise Ignore() from exc  # acknowledged, nothing stored under an id it chose

    def _run(
        self, runtime: WorkerRuntime, envelope: BedrockEnvelope, args: Any, kwargs: Any
    ) -> Any:
        """Run the body once per message: a guarded task's only when its delivery guard lets
        it, any other task's only on the first delivery of its message
        (:mod:`workers.delivery.once`), or under the guard when it is acknowledged late.

        Only Celery's tracer gets here, and it has pushed the task and its request already:
        ``run`` is called as Celery calls it for a task without a ``__call__`` of its own, not
        through ``Task.__call__``, which would push a copy of the request (a few µs a job).
        """
        guarded = getattr(self, "baton_guarded", False)
        if not guarded and not self.acks_late:
            if getattr(self, "baton_once", True):  # @app.task(baton_once=False) opts out
                once.first_delivery(self, envelope)
            return self.run(*args, **kwargs)
        turns = int((kwargs.get("state") or {}).get("turns", 0)) if guarded else 0
        lock_ttl = runtime.settings.job_lock_ttl
        with guard.guarded(self, expected_turns=turns, lock_ttl=lock_ttl) as stored:
            return stored if stored is not None else self.run(*args, **kwargs)


def disarm(runtime: WorkerRuntime, request: Any, *, task_name: str) -> bool:
    """Keep a refused message from acting through Celery once the gate has raised.

    Celery would publish its errbacks (and count it in a chord) with the refusal as its error.
    A refused message publishes nothing of its own. It stays in its chord only when its binding
    holds (a key holder made this very message, group and index included, and a policy or an
    expiry refused it), so its parent's chord still completes and the parent carries on; then
    the chord body's token, which that binding covered, is the one token it may have bound
    (``VOUCHED_ATTRIBUTE``). A message whose binding fails counts in no chord at all.

    Returns whether the binding holds.
    """
    vouched = runtime.vouched_tokens(request, task_name=task_name)
    for name in _PUBLISHED_AFTER:
        setattr(request, name, None)
    if vouched is None:
        request.chord = None
        request.group = None
        return False
    setattr(request, VOUCHED_ATTRIBUTE, vouched)
    return True
