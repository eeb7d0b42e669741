"""What this worker allows: the regions it serves and the endpoints its jobs may call.

A signature proves who wrote an envelope, not that this worker should serve it. The fleet policy
(:class:`FleetPolicy`) is the second gate: region, endpoint and depth, checked before any task
body runs.

An envelope's endpoint is where its jobs send prompts, SigV4 signatures and session tokens, so it
is parsed with ``envelope.urls`` (the host checked is the host urllib3 connects to) and compared
with ``BATON_ALLOWED_ENDPOINTS``: a comma-separated list of origins (``https://host[:port]``,
``http://host:port``) and two keywords:

- ``bedrock``, the default when the list is empty: the envelope region's Bedrock runtime over
  https on port 443, ``bedrock-runtime[-fips].<region>.amazonaws.com``, and its VPC-endpoint names
  ``vpce-<id>.bedrock-runtime[-fips].<region>.vpce.amazonaws.com``. No other AWS host: S3 buckets
  and API Gateway stages are ``*.amazonaws.com`` too, and anyone can own one;
- ``loopback``: any port of 127.0.0.0/8, ::1 or localhost, for an emulator or a local proxy. Only
  an operator who lists it gets it.

Plain http to any other host needs its ``host:port`` in ``BATON_ALLOW_INSECURE_ENDPOINTS`` as well,
as on the parent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from envelope import QUEUE_PREFIX, BedrockEnvelope, Endpoint, is_region, parse_endpoint, queue_for
from workers.errors import (
    DepthExceeded,
    EndpointNotAllowed,
    RegionNotAllowed,
    WorkerMisconfigured,
)

#: The allowlist keyword for the envelope region's own Bedrock runtime endpoints (the default).
BEDROCK_KEYWORD = "bedrock"

#: The allowlist keyword for every loopback port: emulators and local proxies, opted into.
LOOPBACK_KEYWORD = "loopback"

#: The first label of AWS's Bedrock runtime hosts.
_RUNTIME_SERVICES = frozenset({"bedrock-runtime", "bedrock-runtime-fips"})

#: The first label of a VPC interface endpoint's DNS names (regional and zonal).
_VPCE_LABEL = re.compile(r"vpce-[a-z0-9-]+", re.ASCII)


@dataclass(frozen=True)
class EndpointAllowlist:
    """Where jobs may send Bedrock calls (and credentials): ``BATON_ALLOWED_ENDPOINTS``, parsed."""

    origins: frozenset[Endpoint] = frozenset()
    bedrock: bool = True
    loopback: bool = False

    @classmethod
    def parse(cls, entries: Iterable[str]) -> EndpointAllowlist:
        """Parse allowlist entries; no entry at all means ``bedrock``.

        Raises:
            ValueError: naming the first entry that is neither a keyword nor a strict origin.
        """
        words = [entry.strip() for entry in entries if entry.strip()]
        if not words:
            return cls()
        keywords = {word.lower() for word in words} & {BEDROCK_KEYWORD, LOOPBACK_KEYWORD}
        origins = frozenset(_entry_endpoint(word) for word in words if word.lower() not in keywords)
        return cls(
            origins=origins,
            bedrock=BEDROCK_KEYWORD in keywords,
            loopback=LOOPBACK_KEYWORD in keywords,
        )

    def admits(self, endpoint: Endpoint, *, region: str) -> bool:
        """Tell whether jobs of ``region`` may call ``endpoint``."""
        if endpoint in self.origins or (self.loopback and endpoint.is_loopback):
            return True
        return self.bedrock and is_bedrock_runtime(endpoint, region=region)

    def describe(self) -> str:
        """The list as an operator would write it, for error messages."""
        words = [BEDROCK_KEYWORD] if self.bedrock else []
        words += [LOOPBACK_KEYWORD] if self.loopback else []
        return ",".join(words + sorted(origin.origin for origin in self.origins)) or "nothing"


def is_bedrock_runtime(endpoint: Endpoint, *, region: str) -> bool:
    """Tell whether ``endpoint`` is AWS's Bedrock runtime in ``region``, or a VPC endpoint of it."""
    if endpoint.scheme != "https" or endpoint.port != 443:
        return False
    first, _, rest = endpoint.host.partition(".")
    if first in _RUNTIME_SERVICES:
        return rest == f"{region}.amazonaws.com"
    service, _, vpce_rest = rest.partition(".")
    return (
        _VPCE_LABEL.fullmatch(first) is not None
        and service in _RUNTIME_SERVICES
        and vpce_rest == f"{region}.vpce.amazonaws.com"
    )


def endpoint_origin(entry: str) -> str:
    """Return one ``BATON_ALLOWED_ENDPOINTS`` entry as it is compared: a keyword, or the origin
    ``scheme://host:port``.

    Raises:
        ValueError: an entry that is neither.
    """
    if entry.strip().lower() in (BEDROCK_KEYWORD, LOOPBACK_KEYWORD):
        return entry.strip().lower()
    return _entry_endpoint(entry.strip()).origin


def _entry_endpoint(entry: str) -> Endpoint:
    try:
        return parse_endpoint(entry)
    except ValueError as exc:
        raise ValueError(
            f"{exc}; or use the keyword {BEDROCK_KEYWORD} or {LOOPBACK_KEYWORD}"
        ) from None


@dataclass(frozen=True)
class FleetPolicy:
    """Regions and endpoints this worker serves; everything else is refused, never defaulted."""

    allowed_regions: frozenset[str]
    allowed_endpoints: EndpointAllowlist = field(default_factory=EndpointAllowlist)

    @classmethod
    def for_worker(
        cls,
        *,
        allowed_regions: Iterable[str],
        consumed_queues: Iterable[str],
        allowed_endpoints: Iterable[str] = (),
        insecure_endpoints: frozenset[str] = frozenset(),
    ) -> FleetPolicy:
        """Build the policy: explicit regions win, else the regions of the queues consumed.

        ``insecure_endpoints`` are the ``host:port`` pairs of ``BATON_ALLOW_INSECURE_ENDPOINTS``:
        an allowlisted plain-http origin off this machine must be one of them.
        """
        regions = frozenset(allowed_regions) or regions_of_queues(consumed_queues)
        if not regions:
            raise WorkerMisconfigured(
                "this worker consumes no baton.<region> queue and BATON_ALLOWED_REGIONS is empty; "
                "start it with `baton worker --region eu-west-1` or "
                "`celery -A workers worker -Q baton.eu-west-1`"
            )
        try:
            endpoints = EndpointAllowlist.parse(allowed_endpoints)
        except ValueError as exc:
            raise WorkerMisconfigured(f"BATON_ALLOWED_ENDPOINTS: {exc}") from exc
        _check_transport(endpoints, insecure_endpoints)
        return cls(allowed_regions=regions, allowed_endpoints=endpoints)

    def check(self, envelope: BedrockEnvelope) -> None:
        """Raise a PolicyViolation when ``envelope`` may not run here."""
        if envelope.region not in self.allowed_regions:
            allowed = ", ".join(sorted(self.allowed_regions))
            raise RegionNotAllowed(
                f"region {envelope.region} is not allowed on this worker (allowed: {allowed}); "
                f"route the job to queue {queue_for(envelope.region)} or widen "
                "BATON_ALLOWED_REGIONS"
            )
        if envelope.endpoint_url is not None:
            refusal = _endpoint_refusal(
                self.allowed_endpoints, envelope.endpoint_url, envelope.region
            )
            if refusal is not None:
                raise EndpointNotAllowed(refusal)
        if envelope.lineage.depth > envelope.limits.max_depth:
            raise DepthExceeded(
                f"job is at depth {envelope.lineage.depth}, past the tree's max_depth "
                f"{envelope.limits.max_depth}; raise the parent's max_depth or stop spawning"
            )


@functools.lru_cache(maxsize=1024)  # positional: a keyword argument makes every lookup dearer
def _endpoint_refusal(allowlist: EndpointAllowlist, url: str, region: str) -> str | None:
    """Say why jobs of ``region`` may not call ``url``, or None when they may."""
    try:
        endpoint = parse_endpoint(url)
    except ValueError as exc:
        return (
            f"{exc}. This worker refuses it: a job's endpoint must be an origin listed in "
            f"BATON_ALLOWED_ENDPOINTS (here: {allowlist.describe()})"
        )
    if allowlist.admits(endpoint, region=region):
        return None
    return (
        f"endpoint {endpoint.origin} is not allowed on this worker for region {region} (allowed: "
        f"{allowlist.describe()}); a producer may only point workers at endpoints the fleet "
        "trusts: add its origin to BATON_ALLOWED_ENDPOINTS (default: bedrock, the region's "
        "bedrock-runtime host over https and its VPC endpoints)"
    )


def client_endpoint_refusal(
    allowlist: EndpointAllowlist, url: str, *, region: str, inherited: frozenset[Endpoint]
) -> str | None:
    """Say why a client a task built itself may not call ``url``, or None when it may.

    The job's own endpoints (``inherited``: its runtime endpoint and the control-plane sibling,
    as ``bedrock_client()`` and ``bedrock_control_client()`` use them) are always allowed;
    anything else only where ``BATON_ALLOWED_ENDPOINTS`` admits it for the job's region.
    """
    try:
        endpoint = parse_endpoint(url)
    except ValueError as exc:
        return f"{exc}. A task's own Bedrock client must name an origin, or leave endpoint_url out"
    if endpoint in inherited or allowlist.admits(endpoint, region=region):
        return None
    jobs = ", ".join(sorted(origin.origin for origin in inherited))
    return (
        f"endpoint {endpoint.origin} is not allowed on this worker for region {region} (allowed: "
        f"{allowlist.describe()}; this job's: {jobs}), so the call was not sent; leave "
        "endpoint_url out and a client from bedrock_session() goes where the job goes, or add "
        "the origin to BATON_ALLOWED_ENDPOINTS"
    )


def _check_transport(endpoints: EndpointAllowlist, insecure_endpoints: frozenset[str]) -> None:
    """Refuse to start with a plain-http origin off this machine that is not opted into."""
    bare = sorted(
        origin.origin
        for origin in endpoints.origins
        if origin.scheme == "http"
        and not origin.is_loopback
        and origin.netloc not in insecure_endpoints
    )
    if bare:
        raise WorkerMisconfigured(
            f"BATON_ALLOWED_ENDPOINTS lists {', '.join(bare)}: plain http to a host off this "
            "machine; use https, or also list its host:port in BATON_ALLOW_INSECURE_ENDPOINTS "
            "(for a private network such as compose's)"
        )


def regions_of_queues(queues: Iterable[str]) -> frozenset[str]:
    """Return the regions named by ``baton.<region>`` queue names."""
    names = (queue.removeprefix(QUEUE_PREFIX) for queue in queues if queue.startswith(QUEUE_PREFIX))
    return frozenset(name for name in names if is_region(name))
