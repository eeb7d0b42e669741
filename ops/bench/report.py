"""The goals, and the two outputs of a run: ``bench.json`` and the Markdown table ``bench.md``.

Goals are reported, never asserted: a figure that misses its goal is a finding, and the run
still succeeds. A measurement that could not be taken has the figure ``null`` and fails.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Goal:
    """One row of the table: what is measured, in which unit, and what it should reach."""

    key: str
    label: str
    unit: str
    op: str = "report"
    target: float | None = None

    def passes(self, figure: float | None, target: float | None) -> bool | None:
        """Tell whether ``figure`` meets ``target``; None for figures that are only reported."""
        if figure is None or not math.isfinite(figure):
            return False
        if self.op == "report" or target is None:
            return None
        if self.op == ">=":
            return figure >= target
        if self.op == "<=":
            return figure <= target
        return figure == target


#: Every measurement of a run, in table order. ``None`` targets are filled in by the run
#: (the LRU bound depends on the cache size it was given).
GOALS: tuple[Goal, ...] = (
    Goal(
        "a_noop_ratio",
        "a: no-op drain, envelope path as a parent publishes / plain Celery (median)",
        "ratio",
        ">=",
        0.95,
    ),
    Goal("a_baton_noop_per_s", "a: Baton gated no-op drain, solo (median)", "tasks/s"),
    Goal("a_plain_noop_per_s", "a: plain Celery no-op drain, solo (median)", "tasks/s"),
    Goal("a_cpu_ratio", "a: worker CPU per task, plain / envelope path", "ratio"),
    Goal("a_fresh_ratio", "a: worst case, a fresh token every job / plain", "ratio"),
    Goal("a_header_ratio", "a: plain no-op carrying an unread envelope header / plain", "ratio"),
    Goal("a_gate_ratio", "a: a fresh token every job / plain no-op carrying the header", "ratio"),
    Goal("a_siblings_ratio", "a: envelope path, 8 jobs to a token (siblings) / plain", "ratio"),
    Goal("a_gate_overhead_us", "a: gate CPU per fresh token, traced gated - plain no-op", "µs"),
    Goal(
        "b_cache_hit_us",
        "b: admit + cache hit (decode, verify, policy, lookup), median",
        "µs",
        "<=",
        20,
    ),
    Goal("b_session_client_ms", "b: new boto3 Session + client per task, median", "ms"),
    Goal("b_speedup", "b: Session+client / cache hit", "×", ">=", 2500),
    Goal("c_job_overhead_us", "c: a subagent job's CPU over a plain Converse task, traced", "µs"),
    Goal(
        "c_io_fraction",
        "c: threads c=50 at 0.2 s latency, share of c/latency",
        "fraction",
        ">=",
        0.92,
    ),
    Goal("c_io_jobs_per_s", "c: subagent jobs per second (ideal 250)", "jobs/s"),
    Goal("c_baton_over_plain", "c: Baton jobs/s / plain Celery jobs/s (same call)", "ratio"),
    Goal(
        "c_plain_converse_fraction",
        "c: reference, plain Celery task, same Converse call",
        "fraction",
    ),
    Goal(
        "c_plain_late_fraction",
        "c: reference, the same plain task acknowledged late, as a subagent is",
        "fraction",
    ),
    Goal("c_plain_sleep_fraction", "c: reference, plain Celery task sleeping 0.2 s", "fraction"),
    Goal("d_rss_kib_per_client", "d: RSS per distinct cached client config", "KiB", "<=", 200),
    Goal("d_lru_size", "d: cache size after K distinct configs, max_size below K", "clients", "<="),
    Goal("d_lru_evictions", "d: evictions counted (K - max_size expected)", "clients", "=="),
    Goal("e_throughput_1_per_s", "e: one process, threads c=10, 0.2 s latency", "jobs/s"),
    Goal("e_efficiency_2", "e: efficiency with 2 processes", "fraction", ">=", 0.9),
    Goal("e_efficiency_4", "e: efficiency with 4 processes", "fraction", ">=", 0.9),
    Goal("f_p50_ms", "f: spawn-to-result latency p50, zero-latency emulator", "ms"),
    Goal("f_p99_ms", "f: spawn-to-result latency p99, zero-latency emulator", "ms"),
    Goal(
        "g_gevent_fraction",
        "g: Baton --pool gevent, top concurrency (full run: c1000, 4 s), share of c/latency",
        "fraction",
        ">=",
        0.90,
    ),
    Goal(
        "g_plain_gevent_fraction",
        "g: plain Celery on gevent, tuned, same call, same concurrency",
        "fraction",
    ),
    Goal("g_gevent_over_plain", "g: Baton gevent share / plain Celery's", "ratio", ">=", 1.0),
    Goal("g_threads_fraction", "g: Baton threads pool, same concurrency", "fraction"),
    Goal("g_duplicates", "g: duplicate Bedrock calls, every Baton run", "calls", "==", 0),
    Goal("g_plain_duplicates", "g: duplicate Bedrock calls, every plain run", "calls"),
    Goal("g_gevent_peak_rss_mib", "g: Baton gevent worker peak RSS", "MiB", "<=", 200),
    Goal("g_plain_peak_rss_mib", "g: plain Celery gevent worker peak RSS", "MiB"),
    Goal("g_gevent_cpu_ms_per_job", "g: Baton gevent worker CPU per job", "ms"),
    Goal("g_plain_cpu_ms_per_job", "g: plain Celery gevent worker CPU per job", "ms"),
    Goal(
        "g_gevent_cpu_ceiling",
        "g: one core's ceiling at Baton gevent's CPU per job, share of c/latency",
        "fraction",
    ),
    Goal(
        "g_plain_cpu_ceiling",
        "g: one core's ceiling at plain Celery's CPU per job, share of c/latency",
        "fraction",
    ),
    Goal(
        "g_gevent_per_core_fraction",
        "g: Baton --pool gevent as one process a core (c / cores each), top concurrency",
        "fraction",
    ),
    Goal(
        "g_plain_per_core_fraction",
        "g: plain Celery on gevent, tuned, as one process a core, top concurrency",
        "fraction",
    ),
)

#: The keys a complete bench.json has, each with a numeric figure.
MEASUREMENT_KEYS = tuple(goal.key for goal in GOALS)


def _goal_text(goal: Goal, target: float | None) -> str:
    if goal.op == "report":
        return "report"
    return f"{goal.op} {target:g}" if target is not None else goal.op


def _figure_text(figure: float | None, unit: str) -> str:
    if figure is None:
        return "not measured"
    if unit in ("ratio", "fraction"):
        return f"{figure:.3f}"
    if unit == "×":
        return f"{figure:,.0f}×"
    return f"{figure:,.2f} {unit}" if abs(figure) < 1000 else f"{figure:,.0f} {unit}"


def measurements(
    figures: dict[str, float | None],
    targets: dict[str, float],
    *,
    omit: frozenset[str] = frozenset(),
    partial: bool = False,
) -> dict[str, dict[str, Any]]:
    """Return every goal with its figure, its target and whether it passed; the goals of the
    opt-in sections in ``omit``, which the run did not take, are left out. In a ``partial`` run
    (``--only``) a figure no section measured was not asked for: neither passed nor failed."""
    rows = {}
    for goal in GOALS:
        if goal.key.split("_", 1)[0] in omit:
            continue
        figure = figures.get(goal.key)
        target = targets.get(goal.key, goal.target)
        rows[goal.key] = {
            "label": goal.label,
            "figure": None if figure is None else round(float(figure), 4),
            "unit": goal.unit,
            "goal": _goal_text(goal, target),
            "pass": None if partial and figure is None else goal.passes(figure, target),
        }
    return rows


def markdown(rows: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    """Return the Markdown table of ``rows`` with a short header about the run."""
    verdict = {True: "pass", False: "**FAIL**", None: "reported"}
    skipped = "not run (`--only`)"
    lines = [
        f"# Baton benchmark ({'smoke' if meta['smoke'] else 'full'} run)",
        "",
        f"`{meta['command']}`: {meta['seconds']} s on {meta['cpus']} CPUs, "
        f"load average before {meta['loadavg_before']}, after {meta['loadavg_after']}.",
        "",
        "| measurement | figure | goal | pass/fail |",
        "|---|---|---|---|",
    ]
    for row in rows.values():
        figure = _figure_text(row["figure"], row["unit"])
        outcome = verdict[row["pass"]]
        if row["figure"] is None and row["pass"] is None:
            figure, outcome = "-", skipped
        lines.append(f"| {row['label']} | {figure} | {row['goal']} | {outcome} |")
    if meta.get("errors"):
        lines += ["", "Sections that failed:", ""]
        lines += [f"- {name}: {error}" for name, error in meta["errors"].items()]
    return "\n".join(lines) + "\n"


def write(out_dir: Path, document: dict[str, Any]) -> str:
    """Write ``bench.json`` and ``bench.md`` into ``out_dir``; return the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    text = markdown(document["measurements"], document["meta"])
    (out_dir / "bench.md").write_text(text)
    return text
