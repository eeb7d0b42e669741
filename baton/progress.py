"""Live progress of ``baton run``: one row per subagent, refreshed while they work."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from celery.result import AsyncResult
from celery.states import READY_STATES
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from baton.status import job_state
from baton.summary import MANY_JOBS, backend_states, progress_line

#: How often the table polls the result backend: a refresh rate, not a correctness knob.
POLL_INTERVAL_SECONDS = 0.2

_COLOURS = {"SUCCESS": "green", "FAILURE": "red", "STARTED": "yellow", "RETRY": "yellow"}


def progress_table(
    jobs: Sequence[AsyncResult[Any]], *, region: str, agent: str | None, elapsed: float
) -> Table:
    """Return the table of jobs with their region, agent and current state."""
    stored = [job.state for job in jobs]  # one read each: a pending job's is fetched per access
    done = sum(1 for state in stored if state in READY_STATES)
    table = Table(title=f"{done}/{len(jobs)} subagents done, {elapsed:.1f} s", title_justify="left")
    for column in ("job", "region", "agent", "status"):
        table.add_column(column)
    for job, backend_state in zip(jobs, stored, strict=True):
        state = job_state(job.app, job.id, backend_state)
        colour = _COLOURS.get(state, "dim")
        table.add_row(job.id[:8], region, agent or "general-purpose", f"[{colour}]{state}[/]")
    return table


def wait_with_progress(
    jobs: Sequence[AsyncResult[Any]],
    *,
    timeout: float,
    console: Console,
    region: str,
    agent: str | None,
) -> bool:
    """Show the live table (past ``MANY_JOBS`` jobs, one line of counts) until every job is
    ready or ``timeout`` passes; True if all ready."""
    started = time.monotonic()
    deadline = started + timeout
    with Live(console=console, auto_refresh=False) as live:
        while True:
            elapsed = time.monotonic() - started
            if len(jobs) > MANY_JOBS:
                states = backend_states(jobs)
                live.update(Text(progress_line(states, elapsed=elapsed)), refresh=True)
                ready = all(state in READY_STATES for state in states)
            else:
                live.update(
                    progress_table(jobs, region=region, agent=agent, elapsed=elapsed), refresh=True
                )
                ready = all(job.ready() for job in jobs)
            if ready or time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL_SECONDS)
    if not console.is_terminal:
        console.line()  # Live leaves its last frame without a newline off a terminal
    return all(job.ready() for job in jobs)
