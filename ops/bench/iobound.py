"""(c) I/O-bound throughput at 0.2 s emulator latency, and (f) spawn-to-result latency.

(c) drains real ``baton.subagent`` jobs (one Converse call each) on one threads-pool worker at
c=50 and divides the rate by the ideal ``c / latency``. Three references run on a plain Celery
worker with the same pool and slots, in the same alternating rounds: a task that only sleeps for
the latency (Celery's own ceiling), a task that makes the same Converse call with a cached
boto3 client and nothing of Baton's (Celery's and boto3's ceiling), and that task acknowledged
late, as a subagent job is (the price of losing nothing on a crash, apart from the envelope).
They tell how much of any shortfall is Baton's. (f) then times jobs one after another against
the zero-latency emulator.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from drain import Drain, timed_drain
from harness import (
    LATENCY_SECONDS,
    Bench,
    Publish,
    close_parent,
    drain_timeout,
    spawn_jobs,
    start_warm,
)
from names import PLAIN_QUEUE, REGION
from workerfleet import Fleet, WorkerSpec

from envelope import queue_for
from orchestrator import Orchestrator

#: Threads-pool slots of the I/O-bound measurement (c) and of the latency one (f).
IO_CONCURRENCY = 50

#: Jobs spawned before (f) starts timing: they open the result channel and the connections.
LATENCY_WARM = 3


def measure_io(bench: Bench) -> dict[str, Any]:
    """(c) then (f), on one Baton worker and one plain reference worker."""
    baton = WorkerSpec("io-baton", "workers", queue_for(REGION), concurrency=IO_CONCURRENCY)
    plain = WorkerSpec("io-plain", "bench_plain", PLAIN_QUEUE, concurrency=IO_CONCURRENCY)
    slow, fast = bench.parent(bench.slow_url), bench.parent(bench.fast_url)
    kinds: dict[str, tuple[WorkerSpec, Publish]] = {
        "baton": (baton, lambda n: spawn_jobs(slow, n, label="io")),
        "plain_converse": (plain, bench.publish_plain_converses),
        "plain_converse_late": (plain, lambda n: bench.publish_plain_converses(n, late=True)),
        "plain_sleep": (plain, bench.publish_plain_sleeps),
    }
    try:
        fleet = start_warm(
            bench, {baton: kinds["baton"][1], plain: kinds["plain_converse"][1]}, warm=0
        )
        try:
            runs = _rounds(bench, fleet, kinds)
            fleet.resume([baton])
            latencies = _latencies(fast, bench.plan.latency_jobs)
        finally:
            fleet.stop()
    finally:
        close_parent(slow)
        close_parent(fast)
    return _figures(runs, latencies)


def _rounds(
    bench: Bench, fleet: Fleet, kinds: dict[str, tuple[WorkerSpec, Publish]]
) -> dict[str, list[Drain]]:
    """Drain every kind once per round, rotating which goes first."""
    jobs = bench.plan.io_jobs
    names = list(kinds)
    runs: dict[str, list[Drain]] = {name: [] for name in names}
    for index in range(bench.plan.io_rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            spec, publish = kinds[name]
            runs[name].append(
                timed_drain(
                    fleet,
                    [spec],
                    results=bench.results,
                    publish=lambda publish=publish: publish(jobs),
                    timeout=drain_timeout(jobs, IO_CONCURRENCY / LATENCY_SECONDS / 4),
                )
            )
    return runs


def _figures(runs: dict[str, list[Drain]], latencies: list[float]) -> dict[str, Any]:
    ideal = IO_CONCURRENCY / LATENCY_SECONDS
    rates = {name: statistics.median(d.rate for d in drains) for name, drains in runs.items()}
    return {
        "c_io_fraction": rates["baton"] / ideal,
        "c_io_jobs_per_s": rates["baton"],
        "c_baton_over_plain": rates["baton"] / rates["plain_converse"],
        "c_plain_converse_fraction": rates["plain_converse"] / ideal,
        "c_plain_late_fraction": rates["plain_converse_late"] / ideal,
        "c_plain_sleep_fraction": rates["plain_sleep"] / ideal,
        **percentiles(latencies),
        "details": {
            "ideal_per_s": ideal,
            "fractions": {name: round(rate / ideal, 4) for name, rate in rates.items()},
            "worker_cpu_ms_per_job": {
                name: statistics.median(d.cpu_seconds / d.jobs * 1000 for d in drains)
                for name, drains in runs.items()
            },
            "runs": {name: [d.summary() for d in drains] for name, drains in runs.items()},
            "latency_ms": [round(ms, 3) for ms in latencies],
        },
    }


def _latencies(parent: Orchestrator, count: int) -> list[float]:
    """Spawn ``count`` jobs one after another; return each spawn-to-result time in ms."""
    times = []
    for index in range(count + LATENCY_WARM):
        started = time.perf_counter()
        parent.spawn(prompt=f"latency job {index}").get(timeout=30)
        if index >= LATENCY_WARM:
            times.append((time.perf_counter() - started) * 1000)
    return times


def percentiles(latencies: list[float]) -> dict[str, float]:
    """Return p50 and p99 by the nearest-rank method."""
    ordered = sorted(latencies)

    def rank(p: float) -> float:
        return ordered[max(0, min(len(ordered), math.ceil(p * len(ordered))) - 1)]

    return {"f_p50_ms": rank(0.50), "f_p99_ms": rank(0.99)}
