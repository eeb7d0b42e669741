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
that admitted the job); a message that has one keeps it, if the job may bind it
(``Job.may_bind``: the job's own token, as on a retry Celery copied, one it minted, or one its
verified message embedded), and is refused (``PublishRefused``) otherwise. The signatures its
body embeds (link, link_error, the rest of a chain, a chord body) are stamped with the message's
token, so they carry it whoever publishes them later; then the message is bound to its token
(``envelope.bind_message``) with the keys of the job's runtime. With no admitted job, a worker
app binds nothing: a message already bound, or a parent's, goes as it is; any other message
with a token is refused, so a built-in or a refused message cannot have a copied token signed.
After a hard time limit or a lost child, the main process publishes the job's errbacks as the
job (``workers.request``).

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
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from celery import current_task
from celery.signals import after_setup_logger, after_setup_task_logger, before_task_publish

from envelope import BINDING_KEY, HEADER_KEY, bind_message
from fleet import (
    baton_publishing,
    cap_secret_bearing_loggers,
    propagating_envelope,
    publishing_app,
    stamp_body,
)
from workers import tracing
from workers.context import JOB_ATTRIBUTE, VOUCHED_ATTRIBUTE, Job, current_job
from workers.errors import PublishRefused
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
    if job is None:
        runtime = _runtime_of(publishing_app())
        if not token or runtime is None or not _vouched(token):
            return  # a parent's (its hook binds it), bound already, or refused: never signed here
    elif not token:
        token = job.mint(job.envelope.child(parent_id=job.task_id))
        headers[HEADER_KEY] = token
        runtime = job.runtime
    elif refusal(job, token, headers) is not None:
        logger.error(
            "job %s: not binding %s, whose envelope is not the job's",
            job.task_id,
            headers.get("task"),
        )
        return  # sent unbound, so refused where it arrives; send_task refused it first
    else:
        runtime = job.runtime
    tracing.inject(headers)
    stamp_body(body, token)
    bind_message(runtime.keyring, headers, body, token)


def refusal(
    job: Job | None, token: str, headers: Mapping[str, Any], name: object = None
) -> str | None:
    """Why a worker app will not bind ``token`` on this publish, or None when it may, or need
    not (a message already bound, a parent's ``propagating()`` block: the parent's hook binds).

    It binds a running job's own token, those it minted and those its verified message embeds
    (``Job.may_bind``); with no job running, only a refused chord member's chord body
    (``VOUCHED_ATTRIBUTE``).
    """
    if job is not None:
        if job.may_bind(token):
            return None
        return (
            f"job {job.task_id} published {name or headers.get('task')} with an envelope that is "
            "neither its own, one it minted for a child, nor one its verified message carried, "
            "so this worker does not bind it; publish without a baton_envelope header and the "
            "job's child envelope is attached"
        )
    if headers.get(BINDING_KEY) or propagating_envelope() is not None or _vouched(token):
        return None
    return (
        f"{name or headers.get('task')} was published with an envelope while no admitted job runs "
        "here, so this worker does not bind it (it binds only its running job's envelopes); "
        "publish it from a parent (Orchestrator.propagating() or spawn) or from a Baton task"
    )


def _vouched(token: str) -> bool:
    """Tell whether the current task is a refused chord member and ``token`` its chord body's."""
    task = current_task
    vouched = getattr(task.request, VOUCHED_ATTRIBUTE, None) if task else None
    return vouched is not None and token in vouched


def check_publish(name: str, headers: Mapping[str, Any] | None) -> None:
    """Refuse, before anything is sent, a worker app's publish whose envelope it would not bind.

    Called by the worker app's ``send_task``: Celery logs and swallows what a publish signal
    raises, so the hook alone could only leave such a message unbound.

    Raises:
        PublishRefused: the message names an envelope the running job may not bind, or one
            with no admitted job running.
    """
    if not headers or not headers.get(HEADER_KEY):
        return
    job = current_job() or job_of_current_task()
    problem = refusal(job, headers[HEADER_KEY], headers, name)
    if problem is not None:
        raise PublishRefused(problem)


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
