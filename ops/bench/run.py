"""Benchmark Baton's envelope path against plain Celery, on a private Redis and the emulator.

Usage::

    python ops/bench/run.py [--smoke] [--out DIR] [--plot PATH]

It starts its own ``redis-server`` on a free loopback port, two emulators (0.2 s and no added
latency) and, section by section, the worker processes each measurement needs; every one of them
is stopped by pid at the end, on error too. It writes ``bench.json`` and ``bench.md`` (the table
of figures against goals, also printed) and the profiles to ``--out`` (default
``ops/bench/results/``), worker and server logs to ``OUT/logs/``, and the throughput plot to
``--plot`` (default ``ops/bench/throughput.png``; a smoke run plots into ``OUT``).

The full run takes about three minutes on a 2-core machine; ``--smoke`` runs every measurement
with tiny counts in well under a minute, to prove the harness still works. Goals are reported,
not asserted: the exit status is 1 only when a measurement could not be taken.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import LATENCY_SECONDS, Bench, elapsed, new_key
from iobound import measure_io
from names import REGION
from plan import Plan
from plot import plot_throughput
from report import MEASUREMENT_KEYS, measurements, write
from services import BENCH_DIR, SCRUBBED_PREFIXES, Services, start_emulators, start_redis
from throughput import measure_noop, measure_scaling, measure_sweep
from width import measure_width

Section = Callable[[Bench], dict[str, Any]]


def _script(name: str, *args: Callable[[Bench], object]) -> Section:
    """Return a section that runs ``ops/bench/<name>`` with arguments taken from the bench."""
    return lambda bench: bench.run_script(name, *(str(arg(bench)) for arg in args))


#: The sections in run order: in-process ones first, while no worker is running.
SECTIONS: tuple[tuple[str, Section], ...] = (
    (
        "b",
        _script("hotpath.py", lambda b: b.plan.hit_iterations, lambda b: b.plan.build_iterations),
    ),
    ("d", _script("memory.py", lambda b: b.plan.rss_clients, lambda b: b.plan.lru_size)),
    (
        "profile",
        _script(
            "profiling.py",
            lambda b: b.out_dir,
            lambda b: b.plan.profile_iterations,
            lambda b: b.plan.gate_calls,
        ),
    ),
    (
        "job",
        _script(
            "jobprofile.py",
            lambda b: b.out_dir,
            lambda b: b.fast_url,
            lambda b: b.plan.job_calls,
        ),
    ),
    ("a", measure_noop),
    ("c_f", measure_io),
    ("e", measure_scaling),
    ("sweep", measure_sweep),
    ("g", measure_width),
)

#: Sections a full run takes only when named in ``--only`` (about five minutes each); a smoke
#: run takes them all.
OPT_IN = frozenset({"g"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python ops/bench/run.py", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts: prove it works")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="output dir")
    parser.add_argument("--plot", type=Path, help="where to write the throughput PNG")
    parser.add_argument(
        "--only",
        type=lambda text: frozenset(text.split(",")),
        help=f"run only these sections ({','.join(name for name, _ in SECTIONS)})",
    )
    return parser


def _scrub_environment() -> None:
    """Drop the host's AWS/BATON settings from this process: parents here are built explicitly."""
    for name in [name for name in os.environ if name.startswith(SCRUBBED_PREFIXES)]:
        del os.environ[name]


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the ``finally`` blocks stop every child by pid."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def selected(only: frozenset[str] | None, *, smoke: bool) -> frozenset[str]:
    """The sections a run takes: ``only``, else every one (but the opt-in ones in a full run)."""
    if only is not None:
        return only
    names = frozenset(name for name, _ in SECTIONS)
    return names if smoke else names - OPT_IN


def run_sections(
    bench: Bench, only: frozenset[str] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the sections (all, or ``only``); a failing one is recorded and the others still run."""
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, section in SECTIONS:
        if name not in selected(only, smoke=bench.plan.smoke_run):
            continue
        started = time.monotonic()
        print(f"bench: section {name} ...", flush=True)
        try:
            results[name] = section(bench)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            (bench.out_dir / "logs" / f"section-{name}.traceback").write_text(
                traceback.format_exc()
            )
        print(f"bench: section {name} took {elapsed(started)} s", flush=True)
    return results, errors


def _figures(results: dict[str, Any]) -> dict[str, float | None]:
    figures: dict[str, float | None] = {}
    for section in results.values():
        figures.update({k: v for k, v in section.items() if k in MEASUREMENT_KEYS})
    gate = results.get("profile", {}).get("gate", {})
    figures["a_gate_overhead_us"] = gate.get("gate_overhead_us")
    figures["c_job_overhead_us"] = results.get("job", {}).get("job_overhead_us")
    return figures


def _loadavg() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def measure(
    plan: Plan, out_dir: Path, only: frozenset[str] | None
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Start the services, run the sections, stop everything.

    Returns the results, the errors by section, and the settings the plain workers copied.
    """
    services = Services(out_dir / "logs")
    try:
        redis = start_redis(services)
        urls = start_emulators(
            services, region=REGION, latencies={"slow": LATENCY_SECONDS, "fast": 0.0}
        )
        bench = Bench(services, redis, new_key(), urls["slow"], urls["fast"], out_dir, plan)
        try:
            return (*run_sections(bench, only), bench.plain_settings)
        finally:
            bench.close()
    finally:
        services.stop_all()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write its outputs and print the table."""
    args = _parser().parse_args(argv)
    out_dir: Path = args.out.resolve()
    plot_path: Path = args.plot or (out_dir if args.smoke else BENCH_DIR) / "throughput.png"
    _scrub_environment()
    _stop_on_sigterm()
    started, load_before = time.monotonic(), _loadavg()
    plan = Plan.smoke() if args.smoke else Plan()
    results, errors, plain_settings = measure(plan, out_dir, args.only)
    sweep = results.get("sweep", {}).get("points")
    plot_error = "no sweep" if not sweep else None
    if sweep:
        plot_error = plot_throughput(sweep, latency=LATENCY_SECONDS, path=plot_path)
    meta = {
        "command": " ".join(["python", "ops/bench/run.py", *(argv or sys.argv[1:])]),
        "smoke": args.smoke,
        "seconds": elapsed(started),
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": _loadavg(),
        "python": sys.version.split()[0],
        "plot": None if plot_error else str(plot_path),
        "plot_error": plot_error,
        "plain_settings": plain_settings,
        "errors": errors,
    }
    targets = {"d_lru_size": plan.lru_size, "d_lru_evictions": plan.rss_clients - plan.lru_size}
    omitted = frozenset(name for name, _ in SECTIONS) - selected(args.only, smoke=args.smoke)
    document = {
        "meta": meta,
        "measurements": measurements(
            _figures(results), targets, omit=omitted & OPT_IN, partial=args.only is not None
        ),
        "sections": results,
    }
    print(write(out_dir, document))
    print(f"bench: wrote {out_dir / 'bench.json'} and {out_dir / 'bench.md'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
