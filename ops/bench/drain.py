"""Timing a drain: fill a paused queue, resume its workers, read when each job finished.

Besides the rate, a drain reports the CPU time the workers spent per job (from /proc, all
threads), which tells a slow job from a starved one.

The finishing times are the result backend's own ``date_done`` stamps, written by the workers,
so the harness never has to watch jobs as they run: it polls one sentinel key cheaply, then
reads every result once. Both clocks are this machine's wall clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from workerfleet import Fleet, WorkerSpec

#: States after which a job's result no longer changes.
FINAL_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})

_META_PREFIX = "celery-task-meta-"
_CHUNK = 500
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Drain:
    """One timed run: how many jobs, how many failed, and when they started and finished."""

    jobs: int
    failures: int
    started: float
    first_done: float
    last_done: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        """Return jobs per second from resume to the last result, ramp-up and tail included."""
        return self.jobs / max(self.last_done - self.started, 1e-9)

    @property
    def steady_rate(self) -> float:
        """Return jobs per second between the first and the last result."""
        return (self.jobs - 1) / max(self.last_done - self.first_done, 1e-9)

    def summary(self) -> dict[str, float | int]:
        """Return the figures of this run for bench.json."""
        return {
            "jobs": self.jobs,
            "failures": self.failures,
            "seconds": round(self.last_done - self.started, 4),
            "rate": round(self.rate, 2),
            "steady_rate": round(self.steady_rate, 2),
            "worker_cpu_ms_per_job": round(self.cpu_seconds / self.jobs * 1000, 3),
        }


def _done_at(meta: dict[str, Any]) -> float:
    stamp = datetime.fromisoformat(str(meta["date_done"]))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _final(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    meta: dict[str, Any] = json.loads(raw)
    return meta if meta.get("status") in FINAL_STATES else None


def wait_for_results(
    client: redis.Redis, ids: Sequence[str], *, deadline: float
) -> list[dict[str, Any]]:
    """Wait until every job in ``ids`` has a final state; return the metas in ``ids`` order.

    Raises:
        TimeoutError: some job had no final state by ``deadline`` (a monotonic time).
    """
    sentinel = _META_PREFIX + ids[-1]
    while _final(client.get(sentinel)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {ids[-1]} (the last published) did not finish in time")
        time.sleep(_POLL_SECONDS)
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() <= deadline:
        missing = [job for job in ids if job not in found]
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for job, raw in zip(chunk, client.mget([_META_PREFIX + j for j in chunk]), strict=True):
                meta = _final(raw)
                if meta is not None:
                    found[job] = meta
        if len(found) == len(ids):
            return [found[job] for job in ids]
        time.sleep(_POLL_SECONDS * 5)
    raise TimeoutError(f"{len(ids) - len(found)} of {len(ids)} jobs did not finish in time")


def timed_drain(
    fleet: Fleet,
    specs: Sequence[WorkerSpec],
    *,
    results: redis.Redis,
    publish: Callable[[], list[str]],
    timeout: float,
) -> Drain:
    """Fill the queue while ``specs`` are paused, then time how fast they empty it.

    The workers are paused again afterwards, so the next run starts from the same state.
    """
    ids = publish()
    cpu_before = fleet.cpu_seconds(specs)
    started = time.time()
    fleet.resume(specs)
    try:
        metas = wait_for_results(results, ids, deadline=time.monotonic() + timeout)
    finally:
        fleet.pause(specs)
    cpu = fleet.cpu_seconds(specs) - cpu_before
    done = [_done_at(meta) for meta in metas]
    failures = sum(1 for meta in metas if meta.get("status") != "SUCCESS")
    return Drain(
        jobs=len(ids),
        failures=failures,
        started=started,
        first_done=min(done),
        last_done=max(done),
        cpu_seconds=cpu,
    )
