"""``baton run``: spawn one subagent per prompt, show progress, print results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from celery.result import AsyncResult
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from baton.errors import EXIT_JOB_FAILED, EXIT_OK, EXIT_TIMEOUT
from baton.progress import wait_with_progress
from baton.summary import MANY_JOBS, print_summary
from orchestrator import Orchestrator


def outcome(job: AsyncResult[Any]) -> dict[str, Any]:
    """Return a job's result dict, or ``{"job_id", "error": {"type", "message"}}`` if it failed."""
    if not job.ready():
        return {"job_id": job.id, "error": {"type": "Timeout", "message": "no result in time"}}
    value = job.get(propagate=False)
    if isinstance(value, BaseException) or job.failed():
        return {"job_id": job.id, "error": {"type": type(value).__name__, "message": str(value)}}
    return dict(value)


def render(results: list[dict[str, Any]], *, as_json: bool, console: Console) -> None:
    """Print results as JSON (for scripts) or as a table."""
    if as_json:
        console.print_json(json.dumps(results))
        return
    table = Table("job", "agent", "region")
    table.add_column("model", overflow="fold")
    table.add_column("result", overflow="fold")
    for result in results:
        if "error" in result:
            error = result["error"]
            table.add_row(
                result["job_id"][:8],
                result.get("agent", "-"),
                result.get("region", "-"),
                result.get("model_id", "-"),
                f"[red]{escape(error['type'])}[/]: {escape(error['message'])}",
            )
        else:
            table.add_row(
                result["job_id"][:8],
                result["agent"],
                result["region"],
                result["model_id"],
                escape(result["text"]),
            )
    console.print(table)


def run_prompts(
    orch: Orchestrator,
    prompts: Sequence[str],
    *,
    agent: str | None,
    timeout: float,
    as_json: bool,
    out: Console,
    err: Console,
    rows: bool = False,
) -> int:
    """Spawn, wait and print (past ``MANY_JOBS`` jobs, a summary unless ``rows`` or
    ``as_json``); return the exit code."""
    jobs = [orch.spawn(prompt, agent=agent) for prompt in prompts]
    err.print(
        f"spawned {len(jobs)} subagent(s) on queue baton.{orch.envelope.region}, "
        f"root {orch.root_id} (see `baton status {orch.root_id}`)"
    )
    finished = wait_with_progress(
        jobs, timeout=timeout, console=err, region=orch.envelope.region, agent=agent
    )
    sent = {
        "agent": agent or "general-purpose",
        "region": orch.envelope.region,
        "model_id": orch.envelope.model_id,
    }
    # A failed job has no result of its own to say where it ran: what it was sent with does.
    results = [{**sent, **found} if "error" in found else found for found in map(outcome, jobs)]
    if as_json or rows or len(results) <= MANY_JOBS:
        render(results, as_json=as_json, console=out)
    else:
        print_summary(results, console=out)
    if not finished:
        err.print(f"timed out after {timeout:g} s; is a worker for {orch.envelope.region} running?")
        return EXIT_TIMEOUT
    return EXIT_JOB_FAILED if any("error" in result for result in results) else EXIT_OK
