"""Inside the quota: real workers, real Redis, the emulator counting a per-model quota as Bedrock
does. What reached Bedrock, and when, is read from the emulator's journal, not from Baton.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from baton.status import collect
from fleet.governor import BURST_SECONDS, HEADROOM
from tests.integration.faults import FAST_REDELIVERY, parent, report, spawn
from tests.integration.harness import REGION, figures, settle

pytestmark = pytest.mark.integration

#: The emulator's quota: 5 calls a second (a burst of 5) per region and model.
REQUESTS_PER_MINUTE = 300
CONFIGURED = {"BATON_BEDROCK_QUOTAS": json.dumps({"*": {"requests_per_minute": 300}})}


def busiest_second(calls: list[dict]) -> int:
    """The most calls Bedrock answered within any one second of the run."""
    times = sorted(call["at"] for call in calls)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def forty_jobs_on_two_workers(
    title: str,
    emulator: Any,
    start_workers: Any,
    make_orchestrator: Any,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> tuple[list[dict], list[Any]]:
    """Two workers at c8 drain 40 jobs calling ``emulator``; none may be lost. Print the run's
    figures under ``title``; return the Converse calls the emulator answered, and the workers."""
    workers = start_workers(2, concurrency=8, env=env)
    orch = parent(make_orchestrator, emulator.url)
    outcome = settle(orch.app, spawn(orch, 40), timeout=timeout)

    calls = emulator.calls("Converse")
    deliveries = Counter(job for worker in workers for job in worker.received())
    report(title, outcome, emulator, deliveries=deliveries)
    assert outcome.lost == []
    return calls, workers


def test_two_workers_share_one_fleet_wide_rate_and_bedrock_throttles_nothing(
    emulator_proc, start_workers, make_orchestrator
):
    emulator = emulator_proc(REGION, latency=0.2, requests_per_minute=REQUESTS_PER_MINUTE)
    title = "two workers, quota configured"
    calls, workers = forty_jobs_on_two_workers(
        title, emulator, start_workers, make_orchestrator, env=CONFIGURED, timeout=90
    )

    assert all(worker.received() for worker in workers), "both workers must have called Bedrock"
    assert [call["status"] for call in calls] == [200] * 40
    # One schedule lets at most 1 + (1 s + the burst tolerance) x 4.9 calls into any second,
    # and needs (39 - tolerance x 4.9) / 4.9 s for all 40; each worker alone is let through at
    # 4.9 a second, so two unshared would send 9.8 a second and be throttled.
    assert busiest_second(calls) <= 1 + (1 + BURST_SECONDS) * 5
    span = calls[-1]["at"] - calls[0]["at"]
    shortest = (39 - BURST_SECONDS * 5) / 5
    figures(title, span_s=round(span, 1), shortest_s=shortest)
    assert span >= shortest


def test_without_configuration_the_fleet_learns_the_quota_and_no_job_fails(
    emulator_proc, start_workers, make_orchestrator
):
    emulator = emulator_proc(REGION, latency=0.2, requests_per_minute=REQUESTS_PER_MINUTE)
    calls, _ = forty_jobs_on_two_workers(
        "two workers, quota learned", emulator, start_workers, make_orchestrator
    )

    assert sum(call["status"] == 200 for call in calls) == 40
    throttled = sum(call["status"] == 429 for call in calls)
    assert throttled <= len(calls) // 2  # unpaced, most attempts of such a burst are throttled


def test_a_job_that_waits_for_quota_keeps_its_lease_runs_once_and_says_it_waits(
    emulator_proc, start_worker, make_orchestrator
):
    # 12 a minute: the governor lets one call through every 5.3 s, while a lease lasts 3 s.
    emulator = emulator_proc(REGION, latency=0.05, requests_per_minute=12)
    quota = json.dumps({"*": {"requests_per_minute": 12}})
    worker = start_worker(concurrency=4, env={**FAST_REDELIVERY, "BATON_BEDROCK_QUOTAS": quota})
    orch = parent(make_orchestrator, emulator.url)

    jobs = spawn(orch, 3)
    waiting_seen = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not waiting_seen:
        _, nodes = collect(orch.app, orch.root_id)  # what `baton status` draws
        waiting_seen = next((n["waiting"] for n in nodes.values() if n.get("waiting")), "")
        time.sleep(0.2)
    outcome = settle(orch.app, jobs, timeout=60)

    deliveries = Counter(worker.received())
    report("a waiting job keeps its lease", outcome, emulator, deliveries=deliveries)
    assert outcome.lost == []
    assert set(deliveries.values()) == {1}, "a job was delivered again: its lease lapsed"
    assert [call["status"] for call in emulator.calls("Converse")] == [200] * 3
    assert f"{REGION}/{orch.envelope.model_id} at {12 * HEADROOM:.1f} calls/min" in waiting_seen
    assert not any("put back on its queue" in line for line in worker.proc.lines)


def test_under_a_configured_tokens_quota_calls_wait_for_tokens_and_bedrock_throttles_nothing(
    emulator_proc, start_workers, make_orchestrator
):
    # A bucket of 4,200 tokens; a subagent's call reserves about 1,040 (its maxTokens of 1,024
    # and its prompt) and holds them for 0.5 s: 16 slots contend for 3 reservations at a time
    # (98 % of the bucket), so most calls wait for tokens a settlement gives back, and the
    # input estimate is calibrated to the emulator's count as the calls settle.
    emulator = emulator_proc(REGION, latency=0.5, tokens_per_minute=4_200)
    quota = {"BATON_BEDROCK_QUOTAS": json.dumps({"*": {"tokens_per_minute": 4_200}})}
    calls, workers = forty_jobs_on_two_workers(
        "two workers, tokens quota configured",
        emulator,
        start_workers,
        make_orchestrator,
        env=quota,
    )

    assert all(worker.received() for worker in workers), "both workers must have called Bedrock"
    assert [call["status"] for call in calls] == [200] * 40


def test_without_configuration_the_fleet_learns_a_tokens_quota_from_too_many_tokens(
    emulator_proc, start_workers, make_orchestrator
):
    # The tokens quota of the configured test above, told to no worker: 16 slots contend for
    # 4 reservations at a time. Paced by calls a second alone, the fleet sends far more at once.
    emulator = emulator_proc(REGION, latency=0.5, tokens_per_minute=4_200)
    calls, _ = forty_jobs_on_two_workers(
        "two workers, tokens quota learned", emulator, start_workers, make_orchestrator
    )

    throttled = [call for call in calls if call["status"] == 429]
    assert sum(call["status"] == 200 for call in calls) == 40
    figures("two workers, tokens quota learned", throttled=len(throttled), attempts=len(calls))
    # learned, 3 of 43 attempts were throttled; paced by calls a second alone, 12 of 52
    assert len(throttled) <= len(calls) // 6
