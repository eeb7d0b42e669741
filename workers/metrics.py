"""Prometheus metrics of a worker: jobs, Bedrock calls, the client cache, refusals, latency.

Counters live in prometheus-client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set
(``baton worker --metrics-port`` sets it before the pool forks), so prefork children report
through the main process's endpoint. Without it they are ordinary in-process metrics.

Every label takes its value from a closed set, and anything outside it is counted as ``other``.
A label fed from outside (an error code from the server, a region, a refusal's reason) could
otherwise grow one series per distinct value without bound: 2,000 error codes were 2,000 series.
The metrics enforce this themselves, in ``labels()``, so no call site can get it wrong.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from envelope import BatonError, catalogue, geography_prefix, is_region

#: The label of any value outside its label's closed set.
OTHER = "other"
#: The ``code`` of a Bedrock call that succeeded.
OK = "ok"
#: The ``region`` of a job refused before its envelope, and so its region, could be trusted.
UNKNOWN_REGION = "unknown"
#: Longest region label: AWS region names run to about 15 characters, and the region pattern is
#: not asked about anything much longer.
MAX_REGION_CHARS = 32

#: Error codes a Bedrock runtime call can fail with: the service's own (its API reference lists
#: them) and the authentication errors AWS answers before the service sees the call, which
#: ``baton doctor`` tells apart. Any other code, from a proxy or a future API, counts as ``other``.
BEDROCK_ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "ValidationException",
        "ThrottlingException",
        "ModelNotReadyException",
        "ModelErrorException",
        "ModelTimeoutException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ResourceNotFoundException",
        "ServiceQuotaExceededException",
        "ModelStreamErrorException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
    }
)
#: How a job can finish: see ``workers.gate``.
OUTCOMES = frozenset({"success", "failure", "handed_on", "refused"})
#: What the client cache can report: see ``workers.clients``.
CACHE_EVENTS = frozenset({"hit", "miss", "eviction"})


def region_label(value: str) -> str:
    """Return ``value`` if it has the shape of an AWS region (or is ``unknown``), else ``other``."""
    if value == UNKNOWN_REGION or (len(value) <= MAX_REGION_CHARS and is_region(value)):
        return value
    return OTHER


def code_label(value: str) -> str:
    """Return ``value`` if it is ``ok`` or a known Bedrock error code, else ``other``."""
    return value if value == OK or value in BEDROCK_ERROR_CODES else OTHER


#: Why a job's message was put back on its queue: see ``workers.delivery.recovery``.
RECOVERY_REASONS = frozenset({"worker_lost", "lost_in_transit"})


def reason_label(value: str) -> str:
    """Return ``value`` if it is the ``code`` of one of Baton's error classes or a recovery
    reason (:data:`RECOVERY_REASONS`), else ``other``.

    Those codes are class attributes, a closed set by construction; the check makes sure of it.
    The classes are walked on each call, not cached, so a class imported later still counts;
    refusals are rare next to jobs, and the walk takes microseconds.
    """
    return value if value in RECOVERY_REASONS or value in _error_codes() else OTHER


def outcome_label(value: str) -> str:
    """Return ``value`` if it is one of :data:`OUTCOMES`, else ``other``."""
    return value if value in OUTCOMES else OTHER


def event_label(value: str) -> str:
    """Return ``value`` if it is one of :data:`CACHE_EVENTS`, else ``other``."""
    return value if value in CACHE_EVENTS else OTHER


def model_label(value: str) -> str:
    """Return ``value`` if it is a catalogue model ID, bare or behind a geography prefix (a
    cross-Region profile ID), else ``other``: the IDs Baton resolves, a bounded set."""
    prefix = geography_prefix(value)
    base = value[len(prefix) + 1 :] if prefix is not None else value
    return value if base in catalogue().models else OTHER


#: Each label name's closed set, as the function that maps a value into it.
LABEL_SETS: dict[str, Callable[[str], str]] = {
    "region": region_label,
    "code": code_label,
    "reason": reason_label,
    "outcome": outcome_label,
    "event": event_label,
    "model": model_label,
}


def _error_codes() -> set[str]:
    codes: set[str] = set()
    pending: list[type[BatonError]] = [BatonError]
    while pending:
        cls = pending.pop()
        if isinstance(cls.code, str):
            codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def _closed(
    names: tuple[str, ...], labelvalues: tuple[object, ...], labelkwargs: dict[str, object]
) -> dict[str, str]:
    """Map label values, given by position or by name, into their closed sets."""
    if labelvalues and labelkwargs:
        raise ValueError("pass label values by position or by name, not both")
    given = labelkwargs or dict(zip(names, labelvalues, strict=True))
    closed = {}
    for name, value in given.items():
        label_set = LABEL_SETS.get(name)
        if label_set is None:
            raise ValueError(f"label {name!r} has no closed set; add it to metrics.LABEL_SETS")
        closed[name] = label_set(str(value))
    return closed


_Counter = TypeVar("_Counter", bound="ClosedCounter")
_Gauge = TypeVar("_Gauge", bound="ClosedGauge")
_Histogram = TypeVar("_Histogram", bound="ClosedHistogram")


class ClosedCounter(Counter):
    """A Counter whose label values are mapped into their closed sets (:data:`LABEL_SETS`)."""

    def labels(self: _Counter, *labelvalues: object, **labelkwargs: object) -> _Counter:
        """Return the child of these labels, each value outside its closed set read ``other``."""
        return super().labels(**_closed(self._labelnames, labelvalues, labelkwargs))


class ClosedHistogram(Histogram):
    """A Histogram whose label values are mapped into their closed sets (:data:`LABEL_SETS`)."""

    def labels(self: _Histogram, *labelvalues: object, **labelkwargs: object) -> _Histogram:
        """Return the child of these labels, each value outside its closed set read ``other``."""
        return super().labels(**_closed(self._labelnames, labelvalues, labelkwargs))


class ClosedGauge(Gauge):
    """A Gauge whose label values are mapped into their closed sets (:data:`LABEL_SETS`)."""

    def labels(self: _Gauge, *labelvalues: object, **labelkwargs: object) -> _Gauge:
        """Return the child of these labels, each value outside its closed set read ``other``."""
        return super().labels(**_closed(self._labelnames, labelvalues, labelkwargs))


#: Latency buckets for a job: sub-second emulator calls up to multi-minute agent turns.
JOB_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

JOBS = ClosedCounter("baton_jobs", "Jobs finished, by region and outcome.", ["region", "outcome"])
BEDROCK_CALLS = ClosedCounter(
    "baton_bedrock_calls",
    "Bedrock calls, by region and result code (ok or the error code).",
    ["region", "code"],
)
CLIENT_CACHE = ClosedCounter("baton_client_cache", "Client cache lookups and evictions.", ["event"])
CLIENT_CACHE_SIZE = Gauge(
    "baton_client_cache_size",
    "Distinct client configurations cached.",
    multiprocess_mode="livesum",
)
REFUSALS = ClosedCounter(
    "baton_envelope_refusals", "Jobs refused before running, by reason.", ["reason"]
)
RECOVERED = ClosedCounter(
    "baton_jobs_recovered",
    "Jobs whose message was put back on its queue, by reason: their worker stopped renewing "
    "its lease (worker_lost) or the message was lost between broker and worker (lost_in_transit).",
    ["reason"],
)
JOB_SECONDS = ClosedHistogram(
    "baton_job_seconds", "Job run time, by region.", ["region"], buckets=JOB_SECONDS_BUCKETS
)


THROTTLED = ClosedCounter(
    "baton_bedrock_throttled",
    "Bedrock calls answered 429 ThrottlingException, by source region and model or profile ID.",
    ["region", "model"],
)
QUOTA_RATE = ClosedGauge(
    "baton_quota_rate",
    "Calls a second the fleet-wide governor holds a quota key (region, model) to, as this "
    "process last saw it.",
    ["region", "model"],
    multiprocess_mode="mostrecent",
)
#: Waits for admission: none at all up to the length of a job's soft time limit.
ADMISSION_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
ADMISSION_SECONDS = ClosedHistogram(
    "baton_quota_wait_seconds",
    "Time Bedrock calls waited for admission under the fleet-wide governor, by region.",
    ["region"],
    buckets=ADMISSION_BUCKETS,
)


def throttled(key: Any) -> None:
    """Count a throttled call on a quota key (``fleet.QuotaKey``)."""
    THROTTLED.labels(region=key.region, model=key.model_id).inc()


def quota_rate(key: Any, rate: float) -> None:
    """Record the rate the governor holds a quota key (``fleet.QuotaKey``) to."""
    QUOTA_RATE.labels(region=key.region, model=key.model_id).set(rate)


@functools.lru_cache(maxsize=256)  # bounded: regions are allowlisted, but need not be here
def _job_children(region: str, outcome: str) -> tuple[Any, Any]:
    """The counter and histogram children of one region and outcome, bound once per process.

    ``labels()`` takes a lock, builds a key and checks the closed sets on every call; a worker
    sees few regions.
    """
    return JOBS.labels(region=region, outcome=outcome), JOB_SECONDS.labels(region=region)


def job_finished(*, region: str, outcome: str, seconds: float) -> None:
    """Count a finished job by region and outcome and record how long it ran."""
    jobs, job_seconds = _job_children(region, outcome)
    jobs.inc()
    job_seconds.observe(seconds)


def observe_bedrock_call(*, region: str, http_response: Any, parsed: Any, **_: Any) -> None:
    """botocore ``after-call`` observer: count the call by its outcome."""
    error = parsed.get("Error") if isinstance(parsed, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    _call_child(region, str(code) if code else OK).inc()


@functools.lru_cache(maxsize=256)  # bounded: error codes come from the server
def _call_child(region: str, code: str) -> Any:
    """The child of one region and code; ``labels()`` maps an unknown code to ``other``."""
    return BEDROCK_CALLS.labels(region=region, code=code)


def serve(port: int, *, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``host:port``, aggregating pool children when in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host)
