"""Prometheus metrics of a worker: jobs, Bedrock calls, the client cache, refusals, latency.

Counters live in prometheus-client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set
(``baton worker --metrics-port`` sets it before the pool forks), so prefork children report
through the main process's endpoint. Without it they are ordinary in-process metrics.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client import multiprocess as prometheus_multiprocess

#: Latency buckets for a job: sub-second emulator calls up to multi-minute agent turns.
JOB_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

JOBS = Counter("baton_jobs", "Jobs finished, by region and outcome.", ["region", "outcome"])
BEDROCK_CALLS = Counter(
    "baton_bedrock_calls",
    "Bedrock calls, by region and result code (ok or the error code).",
    ["region", "code"],
)
CLIENT_CACHE = Counter("baton_client_cache", "Client cache lookups and evictions.", ["event"])
CLIENT_CACHE_SIZE = Gauge(
    "baton_client_cache_size",
    "Distinct client configurations cached.",
    multiprocess_mode="livesum",
)
REFUSALS = Counter("baton_envelope_refusals", "Jobs refused before running, by reason.", ["reason"])
JOB_SECONDS = Histogram(
    "baton_job_seconds", "Job run time, by region.", ["region"], buckets=JOB_SECONDS_BUCKETS
)


@functools.cache
def _job_children(region: str, outcome: str) -> tuple[Any, Any]:
    """The counter and histogram children of one region and outcome, bound once per process.

    ``labels()`` takes a lock and builds a key on every call; a worker sees few regions.
    """
    return JOBS.labels(region=region, outcome=outcome), JOB_SECONDS.labels(region=region)


def job_finished(*, region: str, outcome: str, seconds: float) -> None:
    """Count a finished job by region and outcome and record how long it ran."""
    jobs, job_seconds = _job_children(region, outcome)
    jobs.inc()
    job_seconds.observe(seconds)


def observe_bedrock_call(*, region: str, http_response: Any, parsed: Any, **_: Any) -> None:
    """botocore ``after-call`` observer: count the call by its outcome."""
    error = (parsed or {}).get("Error", {}) if isinstance(parsed, dict) else {}
    _call_child(region, error.get("Code") or "ok").inc()


@functools.lru_cache(maxsize=256)  # bounded: error codes come from the server
def _call_child(region: str, code: str) -> Any:
    return BEDROCK_CALLS.labels(region=region, code=code)


def serve(port: int, *, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``host:port``, aggregating pool children when in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host)
