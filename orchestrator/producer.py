"""The parent's Celery app: it only publishes and reads results, it never runs tasks."""

from __future__ import annotations

import contextlib

from celery import Celery

from envelope import EnvelopeKeyError
from fleet import (
    PUBLISH_OPTIONS,
    PublishingApp,
    celery_settings,
    ledger_transport,
    propagating_envelope,
)
from orchestrator import propagation
from orchestrator.settings import ProducerSettings


class ProducerCelery(PublishingApp, Celery):
    """The parent's app: its publishes are Baton's, so the publish hooks attach and bind."""


def producer_app(settings: ProducerSettings) -> Celery:
    """Return a publish-only Celery app for ``settings`` that routes by envelope region."""
    app = ProducerCelery(
        "baton-orchestrator",
        broker=settings.broker_url,
        backend=settings.result_backend,
        set_as_current=False,
    )
    app.conf.update(
        {
            **celery_settings(current=propagating_envelope),
            "broker_transport_options": dict(PUBLISH_OPTIONS),
            # On Redis, every task message goes into the publish ledger with its LPUSH, so a
            # message lost between the broker and a worker can be put back.
            "broker_transport": ledger_transport(settings.broker_url),
        }
    )
    # Every message it publishes gets bound; a reader (status, dead-letters list) needs no key,
    # and what a keyless process publishes is refused unbound.
    with contextlib.suppress(EnvelopeKeyError):
        propagation.connect(settings.keyring())
    return app


def close_producer(app: Celery) -> None:
    """Close the broker pool and the result backend's connections of ``app``.

    ``Celery.close()`` releases broker connections only; the Redis result backend keeps a client
    pool and a pub/sub connection for ``AsyncResult.get`` open until garbage collection.
    """
    backend = app.backend
    consumer = getattr(backend, "result_consumer", None)
    if consumer is not None and hasattr(consumer, "stop"):
        consumer.stop()
    client = getattr(backend, "client", None)
    if client is not None and hasattr(client, "close"):
        client.close()
    app.close()
