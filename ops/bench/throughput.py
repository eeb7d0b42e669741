"""The worker-process measurements of throughput: a (no-op ratio), e (scaling) and the plot.

Each section starts its own workers, warms each one alone (see :func:`harness.start_warm`) and
then times drains of a pre-filled queue (see :mod:`drain`). Runs that are compared alternate
their order from round to round, so a machine that slows down during the run penalises both
sides alike.
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

#: Slots per worker process in the scaling measurement (e), and the process counts compared.
SCALE_CONCURRENCY = 10
SCALE_PROCESSES = (1, 2, 4)

#: A no-op drains at around a thousand per second; this only bounds the wait.
NOOP_RATE_FLOOR = 50.0

#: No-ops each worker runs before the first timed round.
NOOP_WARM = 50


def measure_noop(bench: Bench) -> dict[str, Any]:
    """(a) Drain rate of gated no-ops against plain no-ops, one solo worker each, alternating.

    Up to ``plan.noop_rounds`` rounds; after ``plan.noop_min_rounds``, none is started once
    ``plan.noop_seconds`` have gone by, so a slow machine runs fewer rounds, not a longer bench.

    The goal figure's no-ops are published as a Baton parent publishes: inside
    ``Orchestrator.propagating()``, one signed envelope for the block. Three more runs bound and
    split the price: gated no-ops that each carry a token of their own (the worst case: every
    job the only child of its parent), eight to a token (a turn's children), and plain no-ops
    carrying a signed header the plain worker never reads (the price of carrying it).
    """
    baton = WorkerSpec("noop-baton", "workers", queue_for(REGION), pool="solo")
    plain = WorkerSpec("noop-plain", "bench_plain", PLAIN_QUEUE, pool="solo")
    parent = bench.parent(bench.fast_url)
    contenders: dict[str, tuple[WorkerSpec, Publish]] = {
        BATON: (baton, lambda n: bench.publish_propagated_noops(parent, n)),
        PLAIN: (plain, bench.publish_plain_noops),
        PLAIN_HEADER: (plain, lambda n: bench.publish_plain_noops(n, carrying=parent)),
        BATON_FRESH: (baton, lambda n: bench.publish_baton_noops(parent, n)),
        BATON_SIBLINGS: (baton, lambda n: bench.publish_baton_noops(parent, n, per_token=8)),
    }
    try:
        fleet = start_warm(
            bench, {baton: contenders[BATON][1], plain: bench.publish_plain_noops}, warm=NOOP_WARM
        )
        try:
            rounds: list[dict[str, Drain]] = []
            names = list(contenders)
            started = time.monotonic()
            for index in range(bench.plan.noop_rounds):
                spent = time.monotonic() - started
                if index >= bench.plan.noop_min_rounds and spent > bench.plan.noop_seconds:
                    break  # bounded in time as well as in count; the figure is a median
                order = names[index % len(names) :] + names[: index % len(names)]
                rounds.append({name: _noop_run(bench, fleet, *contenders[name]) for name in order})
        finally:
            fleet.stop()
    finally:
        close_parent(parent)
    return _noop_figures(rounds)


#: The no-op runs of (a): gated as a parent publishes them, plain, plain carrying an unread
#: envelope header, gated with a token of its own every job, and eight jobs to a token.
BATON, PLAIN, PLAIN_HEADER = "noop-baton", "noop-plain", "noop-plain-header"
BATON_FRESH, BATON_SIBLINGS = "noop-baton-fresh", "noop-baton-siblings"


def _noop_run(bench: Bench, fleet: Fleet, spec: WorkerSpec, publish: Publish) -> Drain:
    jobs = bench.plan.noop_jobs
    return timed_drain(
        fleet,
        [spec],
        results=bench.results,
        publish=lambda: publish(jobs),
        timeout=drain_timeout(jobs, NOOP_RATE_FLOOR),
    )


def _median_ratio(rounds: list[dict[str, Drain]], top: str, bottom: str) -> float:
    return statistics.median(run[top].steady_rate / run[bottom].steady_rate for run in rounds)


def _noop_figures(rounds: list[dict[str, Drain]]) -> dict[str, Any]:
    """The figure is the median of per-round ratios of steady drain rates (first to last).

    Beside it, the ratio of the workers' CPU time per task, which a busy neighbour on the machine
    disturbs far less than it disturbs a rate; the worst case (a fresh token every job) and a
    turn's children; and the split of the worst case's price between carrying the header (plain
    with header / plain) and checking it (fresh tokens / plain with header).
    """
    cpu = {name: sum(run[name].cpu_seconds for run in rounds) for name in (BATON, PLAIN)}
    return {
        "a_noop_ratio": _median_ratio(rounds, BATON, PLAIN),
        "a_cpu_ratio": cpu[PLAIN] / cpu[BATON] if cpu[BATON] else math.nan,
        "a_fresh_ratio": _median_ratio(rounds, BATON_FRESH, PLAIN),
        "a_header_ratio": _median_ratio(rounds, PLAIN_HEADER, PLAIN),
        "a_gate_ratio": _median_ratio(rounds, BATON_FRESH, PLAIN_HEADER),
        "a_siblings_ratio": _median_ratio(rounds, BATON_SIBLINGS, PLAIN),
        "a_baton_noop_per_s": statistics.median(run[BATON].steady_rate for run in rounds),
        "a_plain_noop_per_s": statistics.median(run[PLAIN].steady_rate for run in rounds),
        "details": {
            "pool": "solo",
            "rounds_run": len(rounds),
            "ratios": [round(run[BATON].steady_rate / run[PLAIN].steady_rate, 4) for run in rounds],
            "rounds": [{name: d.summary() for name, d in run.items()} for run in rounds],
            "failures": sum(d.failures for run in rounds for d in run.values()),
        },
    }


def measure_scaling(bench: Bench) -> dict[str, Any]:
    """(e) 1, 2 and 4 worker processes (threads, c=10 each) on latency-bound jobs."""
    queue = queue_for(REGION)
    specs = [
        WorkerSpec(f"scale-{i}", "workers", queue, concurrency=SCALE_CONCURRENCY)
        for i in range(max(SCALE_PROCESSES))
    ]
    parent = bench.parent(bench.slow_url)
    publish: Publish = lambda n: spawn_jobs(parent, n, label="scale")  # noqa: E731
    runs: dict[int, list[Drain]] = {n: [] for n in SCALE_PROCESSES}
    try:
        fleet = start_warm(bench, dict.fromkeys(specs, publish), warm=SCALE_CONCURRENCY)
        try:
            for index in range(bench.plan.scale_rounds):
                order = SCALE_PROCESSES if index % 2 == 0 else SCALE_PROCESSES[::-1]
                for n in order:
                    runs[n].append(_scale_run(bench, fleet, specs[:n], publish))
        finally:
            fleet.stop()
    finally:
        close_parent(parent)
    return _scaling_figures(runs)


def _scale_run(bench: Bench, fleet: Fleet, specs: list[WorkerSpec], publish: Publish) -> Drain:
    jobs = bench.plan.scale_jobs_per_process * len(specs)
    expected = len(specs) * SCALE_CONCURRENCY / LATENCY_SECONDS
    return timed_drain(
        fleet,
        specs,
        results=bench.results,
        publish=lambda: publish(jobs),
        timeout=drain_timeout(jobs, expected / 4),
    )


def _scaling_figures(runs: dict[int, list[Drain]]) -> dict[str, Any]:
    """Efficiency is throughput(n) / (n * throughput(1)), each the median of its rounds."""
    rates = {n: statistics.median(d.rate for d in drains) for n, drains in runs.items()}
    figures: dict[str, Any] = {
        f"e_efficiency_{n}": rates[n] / (n * rates[1]) for n in SCALE_PROCESSES if n > 1
    }
    figures["e_throughput_1_per_s"] = rates[1]
    figures["details"] = {
        "concurrency_per_process": SCALE_CONCURRENCY,
        "ideal_per_process_per_s": SCALE_CONCURRENCY / LATENCY_SECONDS,
        "rates_per_s": {str(n): round(rate, 2) for n, rate in rates.items()},
        "runs": {str(n): [d.summary() for d in drains] for n, drains in runs.items()},
    }
    return figures


def measure_sweep(bench: Bench) -> dict[str, Any]:
    """Throughput against threads-pool concurrency at 0.2 s latency, for the plot."""
    queue = queue_for(REGION)
    specs = [
        WorkerSpec(f"sweep-c{c}", "workers", queue, concurrency=c) for c in bench.plan.sweep_levels
    ]
    parent = bench.parent(bench.slow_url)
    publish: Publish = lambda n: spawn_jobs(parent, n, label="sweep")  # noqa: E731
    points = []
    try:
        fleet = start_warm(bench, dict.fromkeys(specs, publish), warm=1)
        try:
            for spec in specs:
                jobs = max(bench.plan.sweep_waves * spec.concurrency, 2)
                ideal = spec.concurrency / LATENCY_SECONDS
                drain = timed_drain(
                    fleet,
                    [spec],
                    results=bench.results,
                    publish=lambda jobs=jobs: publish(jobs),
                    timeout=drain_timeout(jobs, ideal / 4),
                )
                points.append(
                    {"concurrency": spec.concurrency, "ideal_per_s": ideal, **drain.summary()}
                )
        finally:
            fleet.stop()
    finally:
        close_parent(parent)
    return {"points": points}
