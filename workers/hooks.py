"""Every Celery signal handler and patch of the worker side, installed and removed as a pair.

Importing ``workers`` installs none of them. A worker installs them all when it starts
(``connect``, from the worker app's ``baton.admission`` step, before the pool starts); a Baton app
installs the publish hook alone at its first publish (``connect_publish``), so a process that
only publishes gets no executor patch. ``disconnect`` removes them all, as OpenTelemetry's
``uninstrument`` does; the hooks hold no runtime of their own, so an app made with
``create_app`` is served with its own keys.

``before_task_publish`` carries the running job's envelope onward, on a Baton app's publishes
only (``fleet.baton_publishing``). A message published with no envelope of its own gets a
child envelope of the current job (depth + 1, this job as parent, freshly signed by the runtime
that admitted the job); a message that has one, such as a retry Celery copied, keeps it. Either
way the signatures its body embeds (link, link_error, the rest of a chain, a chord body) are
stamped with the message's token, so they carry it even when the worker's main process publishes
them after a hard time limit, with no task running; then the message is bound to its token
(``envelope.bind_message``) with the keys of the job's runtime, else of the publishing app's.

"The current job" is the gate's context variable inside a task body (it follows ``asyncio.run``),
else the job of Celery's current task (chain steps and callbacks are published after the body
returns, while the task is still current). Threads do not inherit context variables in Python
3.11, so ``connect()`` wraps ``ThreadPoolExecutor.submit`` to run the callable in a copy of the
submitter's context; ``disconnect()`` restores it. A bare ``threading.Thread`` can use
``workers.inherit(fn)``.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from celery import current_task
from celery.signals import after_setup_logger, after_setup_task_logger, before_task_publish

from envelope import HEADER_KEY, EnvelopeKeyError, bind_message
from fleet import baton_publishing, cap_secret_bearing_loggers, publishing_app, stamp_body
from workers import tracing
from workers.context import JOB_ATTRIBUTE, Job, current_job
from workers.runtime import WorkerRuntime

logger = logging.getLogger("baton.worker")

P = ParamSpec("P")
R = TypeVar("R")

_original_submit = ThreadPoolExecutor.submit
_publish_connected = False


def job_of_current_task() -> Job | None:
    """The job of Celery's current task: set while Celery publishes after the body returned."""
    task = current_task
    if not task:
        return None
    job = getattr(task.request, JOB_ATTRIBUTE, None)
    return job if isinstance(job, Job) else None


def _runtime_of(app: object) -> WorkerRuntime | None:
    runtime = getattr(app, "baton_runtime", None)
    return runtime if isinstance(runtime, WorkerRuntime) else None


def _carry_envelope(body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or not baton_publishing():
        return
    job = current_job() or job_of_current_task()
    token = headers.get(HEADER_KEY)
    if not token:
        if job is None:
            return
        token = job.runtime.sign(job.envelope.child(parent_id=job.task_id))
        headers[HEADER_KEY] = token
    tracing.inject(headers)
    stamp_body(body, token)
    runtime = job.runtime if job is not None else _runtime_of(publishing_app())
    if runtime is None:
        return  # the parent's own app: its own hook binds what it publishes
    try:
        keyring = runtime.keyring
    except EnvelopeKeyError:
        return  # a parent process without worker keys: its own hook binds what it publishes
    bind_message(keyring, headers, body, token)


def inherit(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` to run in a copy of the caller's context: the job's envelope goes with it."""
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(fn, *args, **kwargs)

    return run


def _submit_in_context(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    if current_job() is not None:
        fn = inherit(fn)
    return _original_submit(self, fn, *args, **kwargs)


def _cap_loggers(**_: Any) -> None:
    cap_secret_bearing_loggers()


def connect_publish() -> None:
    """Install the publish hook alone (idempotent): a Baton app's first publish does."""
    global _publish_connected  # noqa: PLW0603 - one flag, so a publish costs one check
    if not _publish_connected:
        before_task_publish.connect(
            _carry_envelope, weak=False, dispatch_uid="baton.carry_envelope"
        )
        _publish_connected = True


def connect() -> None:
    """Install the publish hook, the log caps and the executor patch (idempotent)."""
    connect_publish()
    cap_secret_bearing_loggers()
    after_setup_logger.connect(_cap_loggers, weak=False, dispatch_uid="baton.cap_loggers")
    after_setup_task_logger.connect(_cap_loggers, weak=False, dispatch_uid="baton.cap_task_loggers")
    ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign,assignment]


def disconnect() -> None:
    """Remove what ``connect`` installed (the loggers keep their caps)."""
    global _publish_connected  # noqa: PLW0603
    before_task_publish.disconnect(_carry_envelope, dispatch_uid="baton.carry_envelope")
    after_setup_logger.disconnect(_cap_loggers, dispatch_uid="baton.cap_loggers")
    after_setup_task_logger.disconnect(_cap_loggers, dispatch_uid="baton.cap_task_loggers")
    ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
    _publish_connected = False
