"""The fleet policy: which verified envelopes this worker may act on.

A signature proves who wrote an envelope, not that this worker should serve it. The policy is the
second gate: region and depth, checked before any task body runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from envelope import QUEUE_PREFIX, BedrockEnvelope, is_loopback_host, is_region, queue_for
from workers.errors import (
    DepthExceeded,
    EndpointNotAllowed,
    RegionNotAllowed,
    WorkerMisconfigured,
)

#: With no BATON_ALLOWED_ENDPOINTS, an endpoint must be AWS's own or this machine's.
AWS_ENDPOINT_SUFFIX = ".amazonaws.com"


@functools.lru_cache(maxsize=1024)
def endpoint_origin(url: str) -> str:
    """Return ``scheme://host:port`` of ``url``, the form allowlist entries are compared in."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class FleetPolicy:
    """Regions and endpoints this worker serves; everything else is refused, never defaulted."""

    allowed_regions: frozenset[str]
    allowed_endpoints: frozenset[str] = frozenset()

    @classmethod
    def for_worker(
        cls,
        *,
        allowed_regions: Iterable[str],
        consumed_queues: Iterable[str],
        allowed_endpoints: Iterable[str] = (),
    ) -> FleetPolicy:
        """Build the policy: explicit regions win, else the regions of the queues consumed."""
        endpoints = frozenset(endpoint_origin(url) for url in allowed_endpoints)
        regions = frozenset(allowed_regions) or regions_of_queues(consumed_queues)
        if not regions:
            raise WorkerMisconfigured(
                "this worker consumes no baton.<region> queue and BATON_ALLOWED_REGIONS is empty; "
                "start it with `baton worker --region eu-west-1` or "
                "`celery -A workers worker -Q baton.eu-west-1`"
            )
        return cls(allowed_regions=regions, allowed_endpoints=endpoints)

    def endpoint_allowed(self, url: str) -> bool:
        """Tell whether jobs may send Bedrock calls (and credentials) to ``url``."""
        if self.allowed_endpoints:
            return endpoint_origin(url) in self.allowed_endpoints
        return _default_allowed(url)

    def check(self, envelope: BedrockEnvelope) -> None:
        """Raise a PolicyViolation when ``envelope`` may not run here."""
        if envelope.region not in self.allowed_regions:
            allowed = ", ".join(sorted(self.allowed_regions))
            raise RegionNotAllowed(
                f"region {envelope.region} is not allowed on this worker (allowed: {allowed}); "
                f"route the job to queue {queue_for(envelope.region)} or widen "
                "BATON_ALLOWED_REGIONS"
            )
        if envelope.endpoint_url is not None and not self.endpoint_allowed(envelope.endpoint_url):
            raise EndpointNotAllowed(
                f"endpoint {envelope.endpoint_url} is not allowed on this worker; a producer may "
                "only point workers at endpoints the fleet trusts: add it to "
                "BATON_ALLOWED_ENDPOINTS (default: *.amazonaws.com over https, and loopback)"
            )
        if envelope.lineage.depth > envelope.limits.max_depth:
            raise DepthExceeded(
                f"job is at depth {envelope.lineage.depth}, past the tree's max_depth "
                f"{envelope.limits.max_depth}; raise the parent's max_depth or stop spawning"
            )


@functools.lru_cache(maxsize=1024)
def _default_allowed(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if is_loopback_host(host):
        return True
    return parts.scheme == "https" and host.endswith(AWS_ENDPOINT_SUFFIX)


def regions_of_queues(queues: Iterable[str]) -> frozenset[str]:
    """Return the regions named by ``baton.<region>`` queue names."""
    names = (queue.removeprefix(QUEUE_PREFIX) for queue in queues if queue.startswith(QUEUE_PREFIX))
    return frozenset(name for name in names if is_region(name))
