"""``baton run`` with many prompts: one progress line while it waits, then a summary.

A table row per subagent suits a handful; a 2,000-row table is not what anyone wants to read, and
refreshing it read every job's state one round trip at a time. Past :data:`MANY_JOBS` jobs the
progress is one line of counts (one ``MGET`` a refresh) and the result is a summary: done,
failed (by error), by region, and the failed jobs' rows. ``--json`` prints every result, and
``--rows`` the table of every job.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from celery.result import AsyncResult
from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: Up to this many jobs, ``baton run`` shows a row per job; past it, counts and a summary.
MANY_JOBS = 20

#: Failed jobs listed in the summary; the rest are counted, and ``--json`` has them all.
SHOWN_FAILURES = 20


def backend_states(jobs: Sequence[AsyncResult[Any]]) -> list[str]:
    """Every job's stored state, in one ``MGET`` where the backend is Redis, else one by one."""
    if not jobs:
        return []
    backend: Any = jobs[0].app.backend
    client = getattr(backend, "client", None)
    if client is None or not hasattr(client, "mget"):
        return [job.state for job in jobs]
    raw = client.mget([backend.get_key_for_task(job.id) for job in jobs])
    states = []
    for item in raw:
        meta = json.loads(item) if item else {}
        states.append(str(meta.get("status", "PENDING")) if isinstance(meta, dict) else "PENDING")
    return states


def progress_line(states: Sequence[str], *, elapsed: float) -> str:
    """``1,200/2,000 done (1,190 succeeded, 10 failed), 800 waiting or running, 42.0 s``."""
    counts = Counter(states)
    failed = counts["FAILURE"] + counts["REVOKED"]
    done = counts["SUCCESS"] + failed
    return (
        f"{done:,}/{len(states):,} subagents done ({counts['SUCCESS']:,} succeeded, "
        f"{failed:,} failed), {len(states) - done:,} waiting or running, {elapsed:.1f} s"
    )


def summary(results: Sequence[dict[str, Any]]) -> Table:
    """The outcome of many jobs: totals, successes by region, failures by error type."""
    failed = [result for result in results if "error" in result]
    regions = Counter(str(result.get("region", "?")) for result in results if "error" not in result)
    errors = Counter(str(result["error"]["type"]) for result in failed)
    table = Table("", "jobs", title=f"{len(results):,} subagents", title_justify="left")
    table.add_row("[green]done[/]", f"{len(results) - len(failed):,}")
    table.add_row("[red]failed[/]" if failed else "failed", f"{len(failed):,}")
    for region, count in sorted(regions.items()):
        table.add_row(f"  done in {escape(region)}", f"{count:,}")
    for kind, count in errors.most_common():
        table.add_row(f"  failed with {escape(kind)}", f"{count:,}")
    return table


def print_summary(results: Sequence[dict[str, Any]], *, console: Console) -> None:
    """Print the summary, then the first failed jobs, and where the full rows are."""
    console.print(summary(results))
    failed = [result for result in results if "error" in result]
    for result in failed[:SHOWN_FAILURES]:
        error = result["error"]
        console.print(
            f"[red]{escape(result['job_id'])}[/] {escape(error['type'])}: "
            f"{escape(error['message'])}"
        )
    if len(failed) > SHOWN_FAILURES:
        console.print(f"... and {len(failed) - SHOWN_FAILURES:,} more failed")
    console.print("[dim]every row: --rows (a table) or --json[/]")
