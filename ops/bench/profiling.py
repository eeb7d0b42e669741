"""Profile the hot path: admission and cache hit, then the gate inside Celery's own tracer.

Usage::

    python ops/bench/profiling.py OUT_DIR 20000 2000

Writes ``profile_hotpath.txt`` (cProfile of ``admit`` + ``clients.get``, plus the median cost of
each step timed alone) and ``profile_gate.txt`` (cProfile of a gated no-op run by Celery's
tracer, the way a worker runs it, result backend included) to ``OUT_DIR``; with pyinstrument
installed, ``profile_gate_tree.txt`` too. The gate's own price is the median difference in CPU
time between a traced gated no-op and a traced plain one, on the same Redis backend, called in
turn.
Prints one JSON line.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_plain
import bench_tasks
from celery.app.trace import build_tracer, setup_worker_optimizations
from inproc import (
    emit,
    make_envelope,
    make_requests,
    make_runtime,
    per_call_ns,
    summary_us,
    tokens,
)
from names import BATON_NOOP_TASK, PLAIN_NOOP_TASK
from services import BENCH_DIR, ROOT

from envelope import HEADER_KEY, TASK_NAME, BedrockEnvelope, bind_message, decode
from workers import app as baton_app
from workers.runtime import WorkerRuntime, envelope_token

try:  # optional: a call tree beside cProfile's tables
    from pyinstrument import Profiler
except ImportError:
    Profiler = None

_ROUNDS = 3
_TOP = 12


def top_costs(
    profile: cProfile.Profile, calls: int, *, cumulative: bool = False, baton_only: bool = False
) -> list[dict[str, Any]]:
    """Return the costliest functions, as a share of the total and in µs per call.

    ``cumulative`` ranks by time including callees; ``baton_only`` keeps the repository's own
    functions (not this benchmark's), which is what a fix can change.
    """
    stats = pstats.Stats(profile)
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in raw.values()) or 1.0
    column = 3 if cumulative else 2
    rows = [(where, row) for where, row in raw.items() if not baton_only or _is_baton(where[0])]
    rows.sort(key=lambda item: item[1][column], reverse=True)
    return [
        {
            "function": f"{Path(file).name}:{line}({name})",
            "share": round(row[column] / total, 4),
            "us_per_call": round(row[column] / calls * 1e6, 3),
        }
        for (file, line, name), row in rows[:_TOP]
    ]


def _is_baton(path: str) -> bool:
    """Tell whether ``path`` is the repository's own code: not a library, not this benchmark."""
    return (
        path.startswith(str(ROOT))
        and "site-packages" not in path
        and not path.startswith(str(BENCH_DIR))
    )


def profile_text(profile: cProfile.Profile, title: str) -> str:
    """Return cProfile's tables, by own time and by cumulative time."""
    out = io.StringIO()
    out.write(f"{title}\n\n")
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)
    return out.getvalue()


def steps(runtime: WorkerRuntime, count: int) -> dict[str, float]:
    """Return the median µs of each step of an admission and cache hit, timed alone."""
    root = make_envelope()
    signed = tokens(runtime, root, count)
    keyring, policy = runtime.keyring, runtime.policy
    assert policy is not None
    envelope = decode(signed[0], keyring=keyring)
    payload = envelope.canonical_json()
    data = json.loads(payload)
    runtime.clients.get(envelope)
    request = make_requests(runtime, root, 1)[0]
    timed: dict[str, Callable[[Any], object]] = {
        "envelope_token": lambda _: envelope_token(request),
        "decode (split, json, hmac, validate, expiry)": lambda t: decode(t, keyring=keyring),
        "json.loads of the payload": lambda _: json.loads(payload),
        "BedrockEnvelope.model_validate": lambda _: BedrockEnvelope.model_validate(data),
        "policy.check": lambda _: policy.check(envelope),
        "clients.get (hit)": lambda _: runtime.clients.get(envelope),
    }
    return {name: summary_us(per_call_ns(fn, signed))["median_us"] for name, fn in timed.items()}


def profile_hotpath(runtime: WorkerRuntime, count: int, out_dir: Path) -> dict[str, Any]:
    """cProfile ``count`` admissions and hits, and time each step alone."""
    requests = make_requests(runtime, make_envelope(), count + 1)
    runtime.clients.get(runtime.admit(requests[0], task_name=TASK_NAME))
    profile = cProfile.Profile()
    profile.enable()
    for request in requests[1:]:
        runtime.clients.get(runtime.admit(request, task_name=TASK_NAME))
    profile.disable()
    medians = steps(runtime, count)
    text = profile_text(profile, f"admit(request) + clients.get(envelope), {count} distinct tokens")
    lines = "\n".join(f"  {us:9.3f} µs  {name}" for name, us in medians.items())
    (out_dir / "profile_hotpath.txt").write_text(
        f"Median per step, timed alone:\n{lines}\n\n{text}"
    )
    return {
        "steps_median_us": medians,
        "top_own_time": top_costs(profile, count),
        "top_baton_cumulative": top_costs(profile, count, cumulative=True, baton_only=True),
    }


def bound_request(runtime: WorkerRuntime, job: str, task: str, token: str) -> dict[str, Any]:
    """A no-op's request as a Baton publisher sends it: its envelope, bound to this message.

    Unbound, the gate refuses the job and dead-letters it, and the profile measures that.
    """
    headers: dict[str, Any] = {"id": job, "task": task}
    bind_message(runtime.keyring, headers, ((), {}, {}), token)
    return {**headers, HEADER_KEY: token, "delivery_info": {}}


def tracers(runtime: WorkerRuntime, count: int) -> dict[str, Callable[[], object]]:
    """Return callables that run one traced no-op each: gated (fresh token) and plain."""
    setup_worker_optimizations(baton_app, "bench@profile")  # as a worker process does
    gated = baton_app.tasks[BATON_NOOP_TASK]
    plain = bench_plain.app.tasks[PLAIN_NOOP_TASK]
    trace_gated = build_tracer(gated.name, gated, app=baton_app, hostname="bench@profile")
    trace_plain = build_tracer(plain.name, plain, app=bench_plain.app, hostname="bench@profile")
    signed = tokens(runtime, make_envelope(), count * (_ROUNDS + 3) + 100)
    requests = iter(
        [bound_request(runtime, f"gated-{i}", gated.name, token) for i, token in enumerate(signed)]
    )
    counter = iter(range(10**9))

    def run_gated() -> object:
        request = next(requests)
        return trace_gated(request["id"], (), {}, request)

    def run_plain() -> object:
        job = f"plain-{next(counter)}"
        return trace_plain(job, (), {}, {"id": job, "task": plain.name, "delivery_info": {}})

    return {"gated": run_gated, "plain": run_plain}


def interleaved_cpu_ns(runs: dict[str, Callable[[], object]], calls: int) -> dict[str, list[int]]:
    """Time each callable ``calls`` times, one call of each in turn, in CPU ns of this thread.

    Interleaving call by call lets both sides see the same machine: on a noisy host a round of
    one followed by a round of the other can differ by more than the effect being measured.
    """
    clock = time.thread_time_ns
    samples: dict[str, list[int]] = {name: [] for name in runs}
    for _ in range(calls):
        for name, run in runs.items():
            started = clock()
            run()
            samples[name].append(clock() - started)
    return samples


def warm(runs: dict[str, Callable[[], object]], calls: int) -> None:
    """Run each no-op ``calls`` times; raise if any fails, as a refused gated no-op does (the
    figures would then be the price of a refusal and its dead letter, not of the gate)."""
    for name, run in runs.items():
        for _ in range(calls):
            info = getattr(run(), "info", None)  # Celery's trace_ok_t: None when it succeeded
            if info is not None:
                failure = getattr(info, "retval", info)  # Celery's TraceInfo: the exception
                raise RuntimeError(f"the {name} no-op failed in Celery's tracer: {failure!r}")


def profile_gate(runtime: WorkerRuntime, count: int, out_dir: Path) -> dict[str, Any]:
    """Compare traced gated and plain no-ops, then profile the gated one."""
    runs = tracers(runtime, count)
    warm(runs, 50)
    samples = interleaved_cpu_ns(runs, count * _ROUNDS)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        runs["gated"]()
    profile.disable()
    text = profile_text(profile, f"a gated no-op through Celery's tracer, {count} calls")
    (out_dir / "profile_gate.txt").write_text(text)
    _pyinstrument_tree(runs["gated"], count, out_dir / "profile_gate_tree.txt")
    differences = [g - p for g, p in zip(samples["gated"], samples["plain"], strict=True)]
    return {
        "traced_cpu_us": {
            name: round(statistics.median(values) / 1000, 2) for name, values in samples.items()
        },
        "gate_overhead_us": round(statistics.median(differences) / 1000, 2),
        "top_own_time": top_costs(profile, count),
        "top_baton_cumulative": top_costs(profile, count, cumulative=True, baton_only=True),
    }


def _pyinstrument_tree(run: Callable[[], object], count: int, path: Path) -> None:
    """Write pyinstrument's call tree of ``count`` runs, when pyinstrument is installed."""
    if Profiler is None:
        return
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(count):
        run()
    profiler.stop()
    path.write_text(profiler.output_text(unicode=True, show_all=False))


def main(argv: list[str]) -> int:
    """Profile and print the JSON line the harness reads."""
    out_dir, iterations, gate_calls = Path(argv[0]), int(argv[1]), int(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    assert bench_tasks.baton_noop is not None  # imported for the task it registers
    runtime = baton_app.baton_runtime
    runtime.configure_policy(())
    emit(
        {
            "hotpath": profile_hotpath(make_runtime(), iterations, out_dir),
            "gate": profile_gate(runtime, gate_calls, out_dir),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
