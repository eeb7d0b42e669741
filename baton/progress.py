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
from envelope import queue_for

#: How often the table polls the result backend: a refresh rate, not a correctness knob.
POLL_INTERVAL_SECONDS = 0.2

#: How long ``baton run`` waits for a worker to take a job before it says none has: a worker
#: that is up takes one in well under a second; the default timeout is five minutes.
NO_WORKER_SECONDS = 5.0

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


def waiting_in_queue(app: Any, queue: str) -> int | None:
    """How many messages ``queue`` holds on the broker, or None when the broker will not say."""
    try:
        with app.connection_for_read() as connection:
            declared = connection.default_channel.queue_declare(queue=queue, passive=True)
            return int(declared.message_count)
    except Exception:  # a hint, never a failure of the run
        return None


def none_taken(jobs: Sequence[AsyncResult[Any]], *, queue: str) -> bool:
    """Whether no worker has taken any of ``jobs``: none started or finished, and the queue
    still holds at least as many messages (fewer would mean a worker holds some, unstarted)."""
    if not jobs or any(job_state(job.app, job.id, job.state) != "PENDING" for job in jobs):
        return False
    waiting = waiting_in_queue(jobs[0].app, queue)
    return waiting is None or waiting >= len(jobs)


def no_worker_line(region: str, *, waited: float) -> str:
    """What ``baton run`` says while no worker has taken a job of ``region``."""
    queue = queue_for(region)
    return (
        f"no worker has taken a job from {queue} yet ({waited:.0f} s): start one with "
        f"`baton worker --region {region}`, or check that the running workers consume {queue} "
        "and share this BATON_BROKER_URL"
    )


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
    warned = False
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
            if not warned and elapsed >= NO_WORKER_SECONDS:
                warned = True  # once: the live table goes on showing each job's state
                if none_taken(jobs, queue=queue_for(region)):
                    live.console.print(f"[yellow]{no_worker_line(region, waited=elapsed)}[/]")
            time.sleep(POLL_INTERVAL_SECONDS)
    if not console.is_terminal:
        console.line()  # Live leaves its last frame without a newline off a terminal
    return all(job.ready() for job in jobs)
