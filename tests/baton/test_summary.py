"""``baton run`` with many prompts: a line of counts while it waits, a summary at the end."""

from __future__ import annotations

import subprocess
import sys

import pytest
from rich.console import Console

from baton.summary import MANY_JOBS, SHOWN_FAILURES, print_summary, progress_line


def ok(job: int, region: str = "eu-west-1") -> dict:
    return {"job_id": f"job-{job}", "region": region, "agent": "general-purpose", "text": "t"}


def failed(job: int, kind: str = "TreeBudgetExhausted") -> dict:
    return {"job_id": f"job-{job}", "error": {"type": kind, "message": f"why {job}"}}


def printed(results: list[dict]) -> str:
    console = Console(record=True, width=120)
    print_summary(results, console=console)
    return console.export_text()


def test_the_progress_line_counts_done_failed_and_waiting():
    states = ["SUCCESS"] * 1190 + ["FAILURE"] * 10 + ["PENDING"] * 790 + ["RETRY"] * 10

    line = progress_line(states, elapsed=42)

    assert line == (
        "1,200/2,000 subagents done (1,190 succeeded, 10 failed), 800 waiting or running, 42.0 s"
    )


def test_the_summary_counts_done_by_region_and_failed_by_error():
    results = [ok(i) for i in range(1500)] + [ok(i, "ap-southeast-2") for i in range(490)]
    results += [failed(i) for i in range(7)] + [failed(i, "Timeout") for i in range(3)]

    text = " ".join(printed(results).split())

    assert "2,000 subagents" in text
    assert "done │ 1,990" in text and "failed │ 10" in text
    assert "done in ap-southeast-2 │ 490" in text and "done in eu-west-1 │ 1,500" in text
    assert "failed with TreeBudgetExhausted │ 7" in text and "failed with Timeout │ 3" in text


def test_the_summary_lists_the_first_failures_and_says_where_every_row_is():
    results = [failed(i) for i in range(SHOWN_FAILURES + 5)]

    text = printed(results)

    assert "job-0 TreeBudgetExhausted: why 0" in text
    assert f"job-{SHOWN_FAILURES} " not in text
    assert "... and 5 more failed" in text
    assert "--rows" in text and "--json" in text


@pytest.mark.integration
def test_run_with_many_prompts_prints_a_summary_and_rows_on_request(
    start_emulator, start_worker, parent_env
):
    bedrock = start_emulator("eu-west-1")
    start_worker("eu-west-1", pool="gevent", concurrency=50)
    env = parent_env(bedrock.url)
    prompts = [arg for i in range(MANY_JOBS + 10) for arg in ("--prompt", f"p{i}")]

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "baton", "run", *prompts, "--timeout", "60", *flags],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    summarised, rows = run(), run("--rows")

    assert summarised.returncode == 0, summarised.stderr
    text = " ".join(summarised.stdout.split())
    assert f"{MANY_JOBS + 10} subagents" in text and f"done in eu-west-1 │ {MANY_JOBS + 10}" in text
    assert "p0" not in summarised.stdout  # no row per job
    assert f"{MANY_JOBS + 10}/{MANY_JOBS + 10} subagents done" in summarised.stderr
    assert rows.returncode == 0 and rows.stdout.count("[eu-west-1]") == MANY_JOBS + 10  # answers
