"""The Baton Celery app for workers.

Usage::

    celery -A workers worker -Q baton.eu-west-1        # or: baton worker --region eu-west-1

Every task on this app is gated: it runs only with a verified envelope the fleet policy allows,
and builds its Bedrock client from that envelope alone.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, bootsteps

from envelope import BedrockEnvelope
from envelope.routing import propagating_envelope
from envelope.transport import celery_settings
from workers import hooks
from workers.backend import chord_safe
from workers.context import current_job
from workers.delivery import delivery_settings
from workers.gate import GatedTask
from workers.runtime import WorkerRuntime
from workers.settings import WorkerSettings
from workers.tasks import register

logger = logging.getLogger("baton.worker")


class BatonCelery(Celery):
    """A Celery app that carries the process's WorkerRuntime."""

    baton_runtime: WorkerRuntime


class AdmissionStep(bootsteps.Step):
    """Refuse to start a worker without keys or without a region it may serve."""

    name = "baton.admission"

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        runtime: WorkerRuntime = worker.app.baton_runtime
        runtime.keyring  # noqa: B018 - raises EnvelopeKeyError now rather than at the first job
        queues = worker.app.amqp.queues
        consumed = queues.consume_from if queues.consume_from is not None else queues
        policy = runtime.configure_policy(list(consumed))
        logger.info("Baton worker serving regions: %s", ", ".join(sorted(policy.allowed_regions)))


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
        }
    )
    app.steps["worker"].add(AdmissionStep)
    register(app)
    return app


def configure(app: BatonCelery, settings: WorkerSettings) -> None:
    """(Re)bind ``app`` to ``settings``: broker, backend, runtime and hooks."""
    app.conf.update(
        {
            "broker_url": settings.broker_url,
            "result_backend": chord_safe(settings.result_backend),
            **delivery_settings(
                soft_shutdown_timeout=settings.soft_shutdown_timeout,
                visibility_timeout=settings.visibility_timeout,
            ),
        }
    )
    app.baton_runtime = WorkerRuntime(settings)
    hooks.disconnect()
    hooks.connect(app.baton_runtime)


app = create_app(WorkerSettings())
