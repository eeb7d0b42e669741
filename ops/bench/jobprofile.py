"""The price of the envelope path on a real subagent job, in-process: what (c) pays per job.

Usage::

    python ops/bench/jobprofile.py OUT_DIR EMULATOR_URL 600

Runs a ``baton.subagent`` job (gate, guard, Converse, result) and the plain Celery task that
makes the same Converse call, each through Celery's own tracer with its result backend, one of
each in turn, against the zero-latency emulator. The price is the median difference in CPU time
of this thread. Writes ``profile_job.txt`` (cProfile of the Baton job) to ``OUT_DIR`` and prints
one JSON line.
"""

from __future__ import annotations

import cProfile
import itertools
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_plain
from celery.app.trace import build_tracer, setup_worker_optimizations
from inproc import MODEL_ID, bound_request, emit, make_envelope, tokens
from names import PLAIN_CONVERSE_TASK, REGION
from profiling import interleaved_cpu_ns, profile_text, top_costs

from envelope import BINDING_KEY, HEADER_KEY, TASK_NAME
from workers import app as baton_app

_HOST = "bench@jobprofile"
_WARM = 30


def tracers(endpoint_url: str, count: int) -> dict[str, Callable[[], object]]:
    """Return callables that run one traced job each: a subagent and a plain Converse task.

    Each subagent job carries a token of its own, signed beforehand so that signing is not timed.
    """
    runtime = baton_app.baton_runtime
    runtime.configure_policy(())
    setup_worker_optimizations(baton_app, _HOST)  # as a worker process does
    subagent = baton_app.tasks[TASK_NAME]
    plain = bench_plain.app.tasks[PLAIN_CONVERSE_TASK]
    trace_subagent = build_tracer(subagent.name, subagent, app=baton_app, hostname=_HOST)
    trace_plain = build_tracer(plain.name, plain, app=bench_plain.app, hostname=_HOST)
    root = make_envelope(endpoint_url=endpoint_url)
    counter = itertools.count()
    signed = iter(tokens(runtime, root, count))

    def run_subagent() -> object:
        job = f"job-{next(counter)}"
        kwargs = {"prompt": f"job {job}"}
        bound = bound_request(runtime, job, next(signed), kwargs)
        request = {
            "id": job,
            "task": subagent.name,
            HEADER_KEY: getattr(bound, HEADER_KEY),
            BINDING_KEY: getattr(bound, BINDING_KEY),
            "delivery_info": {},
        }
        return trace_subagent(job, (), kwargs, request)

    def run_plain() -> object:
        job = f"plain-{next(counter)}"
        args = (endpoint_url, REGION, MODEL_ID, f"job {job}")
        return trace_plain(job, args, {}, {"id": job, "task": plain.name, "delivery_info": {}})

    return {"subagent": run_subagent, "plain": run_plain}


def main(argv: list[str]) -> int:
    """Measure and print the JSON line the harness reads."""
    out_dir, endpoint_url, calls = Path(argv[0]), argv[1], int(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = tracers(endpoint_url, 2 * calls + _WARM + 1)
    for run in runs.values():
        for _ in range(_WARM):
            run()
    for name, run in runs.items():
        retval = run()[0]  # type: ignore[index]  # the tracer returns (retval, info, ...)
        if not isinstance(retval, dict) or "text" not in retval:
            raise RuntimeError(f"the {name} job did not answer: {retval!r}")
    samples = interleaved_cpu_ns(runs, calls)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        runs["subagent"]()
    profile.disable()
    title = f"a baton.subagent job through Celery's tracer, {calls} calls"
    (out_dir / "profile_job.txt").write_text(profile_text(profile, title))
    differences = [b - p for b, p in zip(samples["subagent"], samples["plain"], strict=True)]
    result: dict[str, Any] = {
        "job_overhead_us": round(statistics.median(differences) / 1000, 2),
        "traced_cpu_us": {
            name: round(statistics.median(values) / 1000, 2) for name, values in samples.items()
        },
        "top_baton_cumulative": top_costs(profile, calls, cumulative=True, baton_only=True),
    }
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
