"""The parent orchestrator: capture once, resolve once, sign, and hand work to the fleet.

Usage::

    from orchestrator import Orchestrator

    orch = Orchestrator.from_env()
    jobs = [orch.spawn(prompt=p, agent="explorer") for p in prompts]
    results = orch.gather(jobs, timeout=120)
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.result import AsyncResult

from envelope import (
    HEADER_KEY,
    INSECURE_ENDPOINTS_CONTEXT,
    TASK_NAME,
    BedrockEnvelope,
    Catalogue,
    Limits,
    Lineage,
    encode,
    queue_for,
    resolve,
    root_jobs_key,
)
from fleet import cap_secret_bearing_loggers
from orchestrator import propagation
from orchestrator.capture import CapturedConfig, capture, capture_location
from orchestrator.discovery import default_cache_dir, discover
from orchestrator.identity import auth_for
from orchestrator.producer import close_producer, producer_app
from orchestrator.settings import ProducerSettings
from orchestrator.tracing import spawn_span


def discovered_catalogue(
    environ: Mapping[str, str],
    *,
    settings: ProducerSettings,
    region: str | None,
    endpoint_url: str | None,
) -> Catalogue | None:
    """Return the catalogue corrected by discovery in the parent's region, or None without it."""
    if not settings.discovery:
        return None
    cap_secret_bearing_loggers()
    where, endpoint = capture_location(environ=environ, region=region, endpoint_url=endpoint_url)
    found = discover(
        region=where.value,
        endpoint_url=endpoint.value,
        cache_dir=settings.cache_dir or default_cache_dir(environ),
        ttl=settings.discovery_ttl,
    )
    return found.catalogue() if found is not None else None


class Orchestrator:
    """A parent agent's handle on the fleet, bound to one captured Bedrock configuration."""

    def __init__(
        self,
        *,
        config: CapturedConfig,
        settings: ProducerSettings,
        app: Celery | None = None,
        root_id: str | None = None,
        source: Catalogue | None = None,
    ) -> None:
        cap_secret_bearing_loggers()
        self.config = config
        self.source = source
        self.settings = settings
        self.app = app if app is not None else producer_app(settings)
        self.root_id = root_id or uuid.uuid4().hex
        self._keyring = settings.keyring()
        propagation.connect(self._keyring)  # binds every message this process publishes
        fields = {
            "region": config.region.value,
            "cross_region": config.cross_region.value,
            "model_id": config.model_id,
            "endpoint_url": config.endpoint_url.value,
            "lineage": Lineage(root_id=self.root_id),
            "auth": auth_for(settings, root_id=self.root_id),
            "limits": Limits(
                max_depth=settings.max_depth,
                max_children=settings.max_children,
                max_turns=settings.max_turns,
                max_jobs=settings.max_jobs,
            ),
            "iat": 0,
            "exp": settings.envelope_ttl,
            "kid": self._keyring.active,
        }
        self._template = BedrockEnvelope.model_validate(
            fields, context={INSECURE_ENDPOINTS_CONTEXT: settings.insecure_endpoints}
        )

    @classmethod
    def from_env(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        region: str | None = None,
        model: str | None = None,
        endpoint_url: str | None = None,
        app: Celery | None = None,
    ) -> Orchestrator:
        """Capture the parent's config from the environment (and CLI flags) and resolve it."""
        env = os.environ if environ is None else environ
        settings = ProducerSettings()
        source = discovered_catalogue(
            env, settings=settings, region=region, endpoint_url=endpoint_url
        )
        config = capture(
            environ=env, region=region, model=model, endpoint_url=endpoint_url, source=source
        )
        return cls(config=config, settings=settings, app=app, source=source)

    @property
    def envelope(self) -> BedrockEnvelope:
        """The root envelope as it would be issued now (depth 0, fresh validity window)."""
        return self._issue(self._template.model_id)

    def _issue(self, model_id: str) -> BedrockEnvelope:
        now = int(time.time())
        return self._template.model_copy(
            update={"model_id": model_id, "iat": now, "exp": now + self.settings.envelope_ttl}
        )

    def resolve_model(self, model: str | None) -> str:
        """Resolve a per-job model override with the parent's region and geography."""
        if model is None:
            return self._template.model_id
        return resolve(
            model, region=self._template.region, cross_region=self._template.cross_region
        )

    def spawn(
        self,
        prompt: str,
        *,
        agent: str | None = None,
        model: str | None = None,
        description: str | None = None,
    ) -> AsyncResult[Any]:
        """Enqueue one subagent job on ``baton.<region>`` with the signed envelope."""
        envelope = self._issue(self.resolve_model(model))
        headers = {HEADER_KEY: encode(envelope, keyring=self._keyring)}
        with spawn_span(headers, region=envelope.region, agent=agent):
            job = self.app.send_task(
                TASK_NAME,
                kwargs={
                    "prompt": prompt,
                    "agent": agent,
                    "description": description,
                    "model": model,
                },
                headers=headers,
                queue=queue_for(envelope.region),
            )
        self._record(job.id)
        return job

    def _record(self, job_id: str) -> None:
        """List the job under this root in the result backend, for ``baton status``."""
        client = getattr(self.app.backend, "client", None)
        if client is None or not hasattr(client, "rpush"):
            return
        key = root_jobs_key(self.root_id)
        client.rpush(key, job_id)
        client.expire(key, self.settings.envelope_ttl)

    def gather(
        self,
        results: Iterable[AsyncResult[Any]],
        *,
        timeout: float | None = None,
        propagate: bool = True,
    ) -> list[Any]:
        """Wait for ``results`` and return their values in order.

        With ``propagate=False`` a failed job's value is its exception instead of a raise.
        """
        return [result.get(timeout=timeout, propagate=propagate) for result in results]

    def close(self) -> None:
        """Release broker and result-backend connections; the handle is unusable afterwards."""
        close_producer(self.app)

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def propagating(self) -> Iterator[BedrockEnvelope]:
        """Make every Celery publish in this block carry the root envelope."""
        envelope = self.envelope
        with propagation.propagating(envelope, encode(envelope, keyring=self._keyring)):
            yield envelope
