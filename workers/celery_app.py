"""The Baton Celery app for workers.

Usage::

    celery -A workers worker -Q baton.eu-west-1        # or: baton worker --region eu-west-1

Every task on this app is gated: it runs only with a verified envelope the fleet policy allows,
and builds its Bedrock client from that envelope alone.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, NoReturn

from celery import Celery, bootsteps
from celery.apps.worker import Worker as CeleryWorker

from envelope import BatonError, BedrockEnvelope, recovered_key
from fleet import PublishingApp, celery_settings, ledger_transport, propagating_envelope
from workers import hooks, metrics
from workers.context import current_job
from workers.delivery.backend import backend_redis, chord_safe
from workers.delivery.guard import delivery_settings
from workers.delivery.recovery import recovering_transport
from workers.errors import WorkerMisconfigured
from workers.gate import GatedTask
from workers.green_loops import keep_running_loops_per_greenlet
from workers.runtime import WorkerRuntime
from workers.settings import WorkerSettings, settings_from_env
from workers.sizing import size_worker
from workers.tasks import register

logger = logging.getLogger("baton.worker")

#: The exit code of a worker that will not start: bad configuration, as for every command.
EXIT_CONFIG = 2

#: How long ``baton status`` shows a job as recovered after its message was put back.
RECOVERED_MARK_SECONDS = 86400


class BatonCelery(PublishingApp, Celery):
    """A Celery app that carries the process's WorkerRuntime; its publishes are Baton's."""

    baton_runtime: WorkerRuntime
    #: What is wrong with the environment the app was built from; a worker will not start.
    baton_settings_problem: str | None = None

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Celery's, with the publish hook installed first (once per process), refusing a
        message whose envelope this app would not bind (``PublishRefused``) before it is sent."""
        hooks.connect_publish()
        hooks.check_publish(name, kwargs.get("headers"))
        return super().send_task(name, *args, **kwargs)

    @property
    def Worker(self) -> type[CeleryWorker]:
        """``celery worker`` and ``baton worker`` start this: Celery's, checking settings first."""
        worker: type[CeleryWorker] = self.subclass_with_self(BatonWorker)
        return worker


class BatonWorker(CeleryWorker):
    """Celery's worker, refusing a bad environment before Celery parses the broker URL."""

    def on_before_init(self, quiet: bool = False, **kwargs: Any) -> None:
        problem = self.app.baton_settings_problem
        if problem is not None:
            refuse(f"{WorkerMisconfigured.__name__}: {problem}")
        super().on_before_init(quiet=quiet, **kwargs)


class AdmissionStep(bootsteps.Step):
    """Refuse to start a worker without keys or without a region it may serve; install the
    worker's hooks (``workers.hooks.connect``) in the main process, before the pool starts, so
    every pool process and thread has them; size the connection pools from the concurrency
    (``workers.sizing``); under gevent, keep asyncio's running loop per greenlet
    (``workers.green_loops``). Importing ``workers`` installs nothing."""

    name = "baton.admission"

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        try:
            regions = self.admit(worker.app)
        except BatonError as exc:
            refuse(f"{type(exc).__name__}: {exc}")
        size_worker(worker.app, concurrency=int(worker.concurrency or 1))
        keep_running_loops_per_greenlet()
        hooks.connect()
        logger.info("Baton worker serving regions: %s", ", ".join(sorted(regions)))

    @staticmethod
    def admit(app: BatonCelery) -> frozenset[str]:
        """Check settings, keys and policy; return the regions served."""
        if app.baton_settings_problem is not None:
            raise WorkerMisconfigured(app.baton_settings_problem)
        runtime = app.baton_runtime
        runtime.keyring  # noqa: B018 - raises EnvelopeKeyError now rather than at the first job
        queues = app.amqp.queues
        consumed = queues.consume_from if queues.consume_from is not None else queues
        return runtime.configure_policy(list(consumed)).allowed_regions


def refuse(line: str) -> NoReturn:
    """Log why the worker will not start, in one line, and exit 2 (bad configuration)."""
    logger.critical("Baton worker not started: %s", line)
    raise SystemExit(EXIT_CONFIG)


def _current_envelope() -> BedrockEnvelope | None:
    """Where a publish on this app takes its envelope from: the running job (a child), else a
    parent's open ``propagating()`` block, when a parent publishes the user's tasks itself."""
    job = current_job() or hooks.job_of_current_task()
    if job is not None:
        return job.envelope
    return propagating_envelope()


def create_app(settings: WorkerSettings) -> BatonCelery:
    """Build the worker app for ``settings``; the module-level ``app`` uses the environment."""
    app = BatonCelery("baton", task_cls=GatedTask, set_as_current=False)
    configure(app, settings)
    app.conf.update(
        {
            **celery_settings(current=_current_envelope),
            "worker_hijack_root_logger": False,
            # A message for a task this worker never imported is dead-lettered with the fix.
            "worker_consumer": "workers.consumer:BatonConsumer",
        }
    )
    app.steps["worker"].add(AdmissionStep)
    register(app)
    return app


def configure(app: BatonCelery, settings: WorkerSettings) -> None:
    """(Re)bind ``app`` to ``settings``: broker, backend and runtime."""
    app.conf.update(
        {
            "broker_url": settings.broker_url,
            "result_backend": chord_safe(settings.result_backend),
            # Anyone who can write the broker could otherwise stop the fleet with a keyless
            # `celery control shutdown`; health checks and Flower opt in (BATON_REMOTE_CONTROL).
            "worker_enable_remote_control": settings.remote_control != "off",
            **delivery_settings(
                soft_shutdown_timeout=settings.soft_shutdown_timeout,
                visibility_timeout=settings.visibility_timeout,
            ),
        }
    )
    app.conf.broker_transport = (
        recovering_transport(functools.partial(mark_recovered, app))
        if ledger_transport(settings.broker_url) is not None
        else None
    )
    app.baton_runtime = WorkerRuntime(settings)
    app.baton_runtime.redis = lambda: backend_redis(app.backend)
    app.baton_settings_problem = None


def mark_recovered(app: Celery, job_id: str, reason: str) -> None:
    """Count a job put back on its queue, and mark it for ``baton status`` (for a day)."""
    metrics.RECOVERED.labels(reason=reason).inc()
    client = backend_redis(app.backend)
    if client is not None:
        client.set(recovered_key(job_id), reason, ex=RECOVERED_MARK_SECONDS)


def _app_from_env() -> BatonCelery:
    """The module-level app: importing ``workers`` never fails on a bad variable; a worker of
    this app refuses to start with the problem instead (see ``settings_from_env``)."""
    settings, problem = settings_from_env()
    built = create_app(settings)
    built.baton_settings_problem = problem
    return built


app = _app_from_env()
