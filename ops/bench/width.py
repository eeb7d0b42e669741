"""(g) Thousands in flight: one worker process holding hundreds to a thousand slow calls.

2,000 subagent jobs at 4 s of emulator latency drain through one worker process at each
concurrency (250, 500, 1,000): Baton on ``--pool gevent`` (the worker sizes its own pools),
Baton on the threads pool, and the plain Celery task making the same Converse call on the gevent
pool, acknowledged late as a subagent is, tuned as its users would have to tune it
(``broker_pool_limit=None``, the Redis channel's ``max_connections`` at c + 20). Each run
reports its share of the ideal (``c / latency`` jobs a second), the duplicate Bedrock calls
(Converse calls in the emulator's journal beyond one a job), the worker's peak RSS and its CPU
per job, and the CPU ceiling: the share of the ideal one core reaches at that CPU per job (a
process runs its Python on one core; on a 2-core machine the emulator, Redis and the harness
share the other).

Unlike the other sections, the queue is filled before the worker starts, and the clock starts
when the worker says it consumes: publishing while the worker drains measured the publisher
(2,000 signed spawns take seconds on a busy machine), and a Celery gevent worker takes the other
sections' resume (``add_consumer`` by remote control) up to 2 s late, because its loop runs
remote-control commands only after a message or a 2 s wait (Baton's consumer ends that wait:
``workers/green.py``; plain Celery's does not). So the worker is cold: the clock includes its
first connections and its first client. (This section once blamed pause and resume for gevent
workers fetching about ten messages a second from then on; that was the credit wait, present
from the start, which the wake on every acknowledgement removed for Baton.)

At the top concurrency, Baton on gevent and plain Celery on gevent also run as one process a core
(c / cores slots each, the same total): past what one core can do, that is the README's advice,
and this measures it beside the single process.

The full run of this section takes about six minutes, so ``run.py`` runs it only when asked
(``--only g``); ``--smoke`` runs it at c20, 40 jobs and 0.5 s.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from drain import Drain, _done_at, wait_for_results
from harness import Bench, close_parent, drain_timeout, spawn_jobs
from names import PLAIN_CONVERSE_LATE_TASK, PLAIN_QUEUE, PLAIN_SETTINGS_VARIABLE, REGION
from services import start_emulators
from workerfleet import Fleet, WorkerSpec

from envelope import queue_for

#: The kinds of worker measured at each concurrency: app, pool.
KINDS: dict[str, tuple[str, str]] = {
    "baton_gevent": ("workers", "gevent"),
    "plain_gevent": ("bench_plain", "gevent"),
    "baton_threads": ("workers", "threads"),
}

#: The kinds also run at the top concurrency as one process a core.
PER_CORE_KINDS = ("baton_gevent", "plain_gevent")

#: Connections beyond the concurrency in plain Celery's tuned channel pool (as NOTES measured).
PLAIN_HEADROOM = 20

MODEL_ID = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def tuned(settings: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """Plain Celery's settings with the tuning a gevent pool of ``concurrency`` needs."""
    options = dict(settings.get("broker_transport_options") or {})
    options["max_connections"] = concurrency + PLAIN_HEADROOM
    return {**settings, "broker_pool_limit": None, "broker_transport_options": options}


def _journal(url: str, *, clear: bool = False) -> int:
    """Converse calls in the emulator's journal (cleared first with ``clear``)."""
    request = urllib.request.Request(f"{url}/_baton/calls", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        found = json.load(response)
    return 0 if clear else sum(1 for call in found if call["operation"] == "Converse")


def measure_width(bench: Bench) -> dict[str, Any]:
    """Every kind at every concurrency of the plan, one after another; figures of the top one."""
    plan = bench.plan
    url = start_emulators(bench.services, region=REGION, latencies={"wide": plan.width_latency})[
        "wide"
    ]
    parent = bench.parent(url)
    runs: dict[str, dict[str, Any]] = {}
    try:
        for concurrency in plan.width_levels:
            for kind in KINDS:
                runs[f"{kind}_c{concurrency}"] = _run(bench, url, parent, kind, concurrency)
        top = max(plan.width_levels)
        for kind in PER_CORE_KINDS:
            runs[f"{kind}_per_core_c{top}"] = _run(bench, url, parent, kind, top, processes=cores())
    finally:
        close_parent(parent)
    gevent, plain = runs[f"baton_gevent_c{top}"], runs[f"plain_gevent_c{top}"]
    gevent_cores, plain_cores = (
        runs[f"baton_gevent_per_core_c{top}"],
        runs[f"plain_gevent_per_core_c{top}"],
    )
    return {
        "g_gevent_fraction": gevent["fraction"],
        "g_plain_gevent_fraction": plain["fraction"],
        "g_gevent_over_plain": gevent["fraction"] / plain["fraction"],
        "g_threads_fraction": runs[f"baton_threads_c{top}"]["fraction"],
        "g_duplicates": sum(run["duplicates"] for name, run in runs.items() if "baton" in name),
        "g_plain_duplicates": sum(run["duplicates"] for n, run in runs.items() if "plain" in n),
        "g_gevent_peak_rss_mib": gevent["peak_rss_mib"],
        "g_plain_peak_rss_mib": plain["peak_rss_mib"],
        "g_gevent_cpu_ms_per_job": gevent["cpu_ms_per_job"],
        "g_plain_cpu_ms_per_job": plain["cpu_ms_per_job"],
        "g_gevent_cpu_ceiling": gevent["cpu_ceiling"],
        "g_plain_cpu_ceiling": plain["cpu_ceiling"],
        "g_gevent_per_core_fraction": gevent_cores["fraction"],
        "g_plain_per_core_fraction": plain_cores["fraction"],
        "details": {
            "jobs": plan.width_jobs,
            "latency_s": plan.width_latency,
            "top_concurrency": top,
            "processes_per_core_run": cores(),
            "runs": runs,
        },
    }


def cores() -> int:
    """How many worker processes the one-a-core runs start: the machine's cores, at least 2."""
    return max(2, os.cpu_count() or 1)


def _run(
    bench: Bench, url: str, parent: Any, kind: str, concurrency: int, *, processes: int = 1
) -> dict[str, Any]:
    """Start the kind's worker processes (``concurrency`` slots among them), drain the plan's
    jobs, stop them. CPU is summed over the processes; the peak RSS is the largest one's."""
    app, pool = KINDS[kind]
    plain = app == "bench_plain"
    queue = PLAIN_QUEUE if plain else queue_for(REGION)
    slots = concurrency // processes
    name = f"width-{kind}-{concurrency}"
    specs = [
        WorkerSpec(f"{name}-{index}" if processes > 1 else name, app, queue, pool, slots)
        for index in range(processes)
    ]
    env = dict(bench.worker_env)
    if plain:
        env[PLAIN_SETTINGS_VARIABLE] = json.dumps(tuned(bench.plain_settings, slots))
    publish = _plain_publisher(bench, url) if plain else _baton_publisher(parent)
    jobs, latency = bench.plan.width_jobs, bench.plan.width_latency
    ideal = concurrency / latency
    _journal(url, clear=True)
    ids = publish(jobs)
    fleet = Fleet(bench.services, specs, control=bench.producer, env=env)
    try:
        drain = _drain(bench, fleet, specs, ids, timeout=drain_timeout(jobs, ideal / 4))
        calls = _journal(url)
        rss = max(fleet.peak_rss_mib(spec) for spec in specs)
    finally:
        fleet.stop()
    return {
        "processes": processes,
        "fraction": drain.rate / ideal,
        "jobs_per_s": drain.rate,
        "failures": drain.failures,
        "bedrock_calls": calls,
        "duplicates": calls - jobs,
        "peak_rss_mib": rss,
        "cpu_ms_per_job": drain.cpu_seconds / jobs * 1000,
        # The share of the ideal a core a process could reach at this CPU per job: a worker
        # process runs its Python on one core, so past this no pool setting helps.
        "cpu_ceiling": (
            min(1.0, processes * jobs / drain.cpu_seconds / ideal) if drain.cpu_seconds else 1.0
        ),
        "drain": drain.summary(),
    }


def _drain(
    bench: Bench, fleet: Fleet, specs: list[WorkerSpec], ids: list[str], *, timeout: float
) -> Drain:
    """Time the workers that just said they consume until the last of ``ids`` has its result."""
    cpu_before = fleet.cpu_seconds(specs)
    started = time.time()
    metas = wait_for_results(bench.results, ids, deadline=time.monotonic() + timeout)
    done = [_done_at(meta) for meta in metas]
    return Drain(
        jobs=len(ids),
        failures=sum(1 for meta in metas if meta.get("status") != "SUCCESS"),
        started=started,
        first_done=min(done),
        last_done=max(done),
        cpu_seconds=fleet.cpu_seconds(specs) - cpu_before,
    )


def _baton_publisher(parent: Any) -> Callable[[int], list[str]]:
    return lambda count: spawn_jobs(parent, count, label="width")


def _plain_publisher(bench: Bench, url: str) -> Callable[[int], list[str]]:
    def publish(count: int) -> list[str]:
        return [
            str(
                bench.producer.send_task(
                    PLAIN_CONVERSE_LATE_TASK,
                    args=(url, REGION, MODEL_ID, f"width plain job {index}"),
                    queue=PLAIN_QUEUE,
                ).id
            )
            for index in range(count)
        ]

    return publish
