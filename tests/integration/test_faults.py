"""Nothing lost under faults: a killed worker (on Redis and on RabbitMQ), a killed pool child, a
throttling Bedrock; and 403/400 are final at once. Real Redis, real workers, a real emulator.
Dropped connections have their own module, tests/integration/test_dropped_connections.py.

Each test prints its figures (run with ``-s``): lost, duplicated, retried, refused, crashes.
On Redis a dead worker's messages go back once their lease is a window old, and a message lost
in transit once the publish ledger has found it nowhere twice (``workers.delivery.recovery``); the
fleet here runs with ``BATON_VISIBILITY_TIMEOUT=3`` and ``BATON_JOB_LOCK_TTL=3`` so that happens
within seconds.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter

import pytest

from tests.integration.faults import (
    FAST_REDELIVERY,
    JOBS,
    lost_where,
    one_result_each,
    parent,
    put_back,
    report,
    spawn,
)
from tests.integration.harness import (
    MODEL,
    REGION,
    crafted,
    figures,
    finished,
    kill_whole_worker,
    publish,
    settle,
    wait_until,
)
from workers import BedrockCallFailed

pytestmark = pytest.mark.integration

REDELIVERY_WAIT = 4.0
#: billiard's maintenance loop notices a dead child within a few seconds.
LOSS_NOTICED_WITHIN = 8.0
#: billiard's message when a pool child dies holding a job; the number identifies the job.
LOST_JOB = re.compile(r"Worker exited prematurely: .*? Job: (\d+)")
#: Jobs of the throttle run: with seed 7, 14 of their calls are throttled. The governor, which
#: cannot tell a random throttle from a quota's, paces about 2.8 calls a second under one in
#: five, so 40 jobs take about 20 s (100 took 50 s, for 36 throttles).
THROTTLED_JOBS = 40


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"], indirect=True)
def test_sigkill_of_the_whole_worker_loses_no_job_it_was_given_and_runs_each_to_one_result(
    broker, emulator_proc, start_worker, make_orchestrator, in_flight
):
    """On Redis too: a message BRPOP had taken at the kill is put back from the publish ledger."""
    emulator = emulator_proc(REGION, latency=0.05)
    env = {**FAST_REDELIVERY, "BATON_BROKER_URL": broker}
    first = start_worker(pool="prefork", concurrency=4, env=env)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, JOBS)

    wait_until(lambda: finished(orch.app, jobs) >= JOBS // 3, timeout=60)
    done_before = finished(orch.app, jobs)
    killed = kill_whole_worker(first)
    time.sleep(REDELIVERY_WAIT)  # the unacked messages grow older than the visibility timeout
    second = start_worker(pool="prefork", concurrency=4, env=env)
    on_redis = broker.startswith("redis://")
    outcome = settle(orch.app, jobs, timeout=90, idle=in_flight(jobs) if on_redis else None)

    deliveries = Counter(first.received() + second.received())
    lost_by_baton, never_received = lost_where(outcome, deliveries)
    report(
        f"sigkill whole worker, {broker.split(':', 1)[0]} broker",
        outcome,
        emulator,
        deliveries=deliveries,
        crashes=1,
        processes_killed=killed,
        done_before_kill=done_before,
        lost_before_any_worker=len(never_received),
        put_back=dict(put_back(second)),
    )
    assert any(count > 1 for count in deliveries.values()), "no job was in flight at the kill"
    assert lost_by_baton == []
    assert never_received == []
    assert one_result_each(outcome)
    assert [r["job_id"] for r in orch.gather([orch.app.AsyncResult(j) for j in jobs])] == jobs


def kill_a_busy_child(running, emulator, *, attempts: int = 5) -> int:
    """SIGKILL pool children until one dies holding a job (Celery logs WorkerLostError).

    The emulator slows down for the moment of the kill (``POST /_baton/faults``), so every
    child is inside a Bedrock call then: an idle child could die unnoticed, and the test is
    about the job it was running. Returns the number of children killed.
    """
    emulator.set_faults(latency=0.5)
    try:
        for kills in range(1, attempts + 1):
            time.sleep(0.6)
            os.kill(running.children()[0], signal.SIGKILL)
            try:
                running.proc.wait_for("WorkerLostError", timeout=LOSS_NOTICED_WITHIN)
            except TimeoutError:
                continue
            return kills
    finally:
        emulator.set_faults(latency=0.05)
    raise AssertionError(f"no job was lost in {attempts} child kills; the fault was not injected")


@pytest.mark.slow
def test_sigkill_of_one_pool_child_loses_nothing(emulator_proc, start_worker, make_orchestrator):
    emulator = emulator_proc(REGION, latency=0.05)
    running = start_worker(pool="prefork", concurrency=4, env=FAST_REDELIVERY)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, JOBS)

    wait_until(lambda: finished(orch.app, jobs) >= JOBS // 3, timeout=60)
    kills = kill_a_busy_child(running, emulator)
    outcome = settle(orch.app, jobs, timeout=90)

    report(
        "sigkill one pool child",
        outcome,
        emulator,
        deliveries=Counter(running.received()),
        crashes=kills,
        jobs_lost_with_the_child=len(
            {m for line in running.proc.lines for m in LOST_JOB.findall(line)}
        ),
    )
    assert running.proc.popen.poll() is None, "the worker's main process must survive"
    assert outcome.lost == []
    assert one_result_each(outcome)


def test_a_bedrock_that_throttles_one_call_in_five_still_completes_every_job(
    emulator_proc, start_worker, make_orchestrator
):
    emulator = emulator_proc(REGION, throttle_rate=0.2, seed=7)
    running = start_worker(pool="threads", concurrency=8)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, THROTTLED_JOBS)

    outcome = settle(orch.app, jobs, timeout=90)

    celery_retries = sum("Retry in" in line for line in running.proc.lines)
    report(
        "throttle 20%",
        outcome,
        emulator,
        deliveries=Counter(running.received()),
        celery_retries=celery_retries,
    )
    throttled = [c for c in emulator.calls("Converse") if c["status"] == 429]
    assert outcome.lost == []
    assert throttled, "the seed must throttle some calls, or nothing was proven"
    assert {c["error_code"] for c in throttled} == {"ThrottlingException"}


PERMANENT = [
    pytest.param("us-east-1", MODEL, 403, "AccessDeniedException", id="403-region-denied"),
    pytest.param(
        REGION,
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        400,
        "ValidationException",
        id="400-wrong-geography",
    ),
]


@pytest.mark.parametrize(("allowed", "model", "status", "code"), PERMANENT)
def test_403_and_400_are_final_at_once_with_a_typed_error_naming_region_resource_and_hint(
    emulator_proc, start_worker, producer_settings, allowed, model, status, code
):
    from orchestrator import close_producer, producer_app

    emulator = emulator_proc(allowed)
    start_worker(pool="threads", concurrency=2)
    app = producer_app(producer_settings)
    try:
        started = time.monotonic()
        job = publish(
            app, crafted(emulator.url, keyring=producer_settings.keyring(), model_id=model)
        )
        with pytest.raises(BedrockCallFailed) as caught:
            job.get(timeout=30)
        seconds = time.monotonic() - started
        time.sleep(1.5)  # any retry, by botocore or by Celery, would have reached it by now
        calls = emulator.calls("Converse")
    finally:
        close_producer(app)

    message = str(caught.value)
    figures(
        f"permanent {status}",
        bedrock_calls=len(calls),
        retried=len(calls) - 1,
        seconds_to_result=round(seconds, 3),
        error=type(caught.value).__name__,
    )
    assert [(c["status"], c["error_code"]) for c in calls] == [(status, code)]
    assert type(caught.value).__name__ == "BedrockCallFailed"
    assert f"{status} {code} in {REGION}" in message
    assert model in message
    # A hint the user can act on: the emulator's own 403 names its --allow-region list (issue
    # 25); a 400, or a 403 from Bedrock itself, points at baton doctor / baton iam-policy.
    hints = ("baton doctor", "baton iam-policy", "--allow-region")
    assert any(hint in message for hint in hints)
    if status == 403:
        assert f"arn:aws:bedrock:{REGION}:111122223333:inference-profile/{model}" in message
