"""Nothing lost under faults: a killed worker, a killed pool child, dropped broker connections, a
throttling Bedrock; and 403/400 are final at once. Real Redis, real workers, a real emulator.

Each test prints its figures (run with ``-s``): lost, duplicated, retried, refused, crashes.
Redis redelivers an unacknowledged message only once it is older than the visibility timeout,
and a worker looks for such messages when it starts polling; the fleet here runs with
``BATON_VISIBILITY_TIMEOUT=3`` and ``BATON_JOB_LOCK_TTL=3`` so that happens within seconds.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from envelope import job_lock_key
from tests.integration.brokers import broker_url, close_all_connections
from tests.integration.harness import (
    MODEL,
    QUEUE,
    REGION,
    Outcome,
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

JOBS = 200
#: Short enough that a crashed worker's jobs come back within seconds.
FAST_REDELIVERY = {"BATON_VISIBILITY_TIMEOUT": "3", "BATON_JOB_LOCK_TTL": "3"}
REDELIVERY_WAIT = 4.0
#: billiard's maintenance loop notices a dead child within a few seconds.
LOSS_NOTICED_WITHIN = 8.0
#: billiard's message when a pool child dies holding a job; the number identifies the job.
LOST_JOB = re.compile(r"Worker exited prematurely: .*? Job: (\d+)")


def parent(make_orchestrator, url: str):
    return make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": url})


def spawn(orch, count: int) -> list[str]:
    return [orch.spawn(f"job {i}").id for i in range(count)]


def one_result_each(outcome) -> bool:
    return all(
        outcome.results[job] and outcome.results[job].get("job_id") == job for job in outcome.states
    )


def report(title: str, outcome, bedrock, *, deliveries: Counter, **extra: object) -> int:
    """Print the run's figures; return how many Bedrock calls were duplicates."""
    converse = bedrock.calls("Converse")
    succeeded = sum(call["status"] == 200 for call in converse)
    duplicated = succeeded - sum(state == "SUCCESS" for state in outcome.states.values())
    figures(
        title,
        jobs=len(outcome.states),
        lost=len(outcome.lost),
        duplicated_bedrock_calls=duplicated,
        redelivered_jobs=sum(count > 1 for count in deliveries.values()),
        deliveries=sum(deliveries.values()),
        throttled_429=sum(call["status"] == 429 for call in converse),
        **extra,
    )
    return duplicated


@pytest.mark.slow
def test_sigkill_of_the_whole_worker_loses_nothing_and_runs_each_job_to_one_result(
    emulator_proc, worker_proc, make_orchestrator
):
    emulator = emulator_proc(REGION, latency=0.05)
    first = worker_proc(pool="prefork", concurrency=4, env=FAST_REDELIVERY)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, JOBS)

    wait_until(lambda: finished(orch.app, jobs) >= JOBS // 3, timeout=60)
    done_before = finished(orch.app, jobs)
    killed = kill_whole_worker(first)
    time.sleep(REDELIVERY_WAIT)  # the unacked messages grow older than the visibility timeout
    second = worker_proc(pool="prefork", concurrency=4, env=FAST_REDELIVERY)
    outcome = settle(orch.app, jobs, timeout=90)

    deliveries = Counter(first.received() + second.received())
    report(
        "sigkill whole worker",
        outcome,
        emulator,
        deliveries=deliveries,
        crashes=1,
        processes_killed=killed,
        done_before_kill=done_before,
    )
    assert any(count > 1 for count in deliveries.values()), "no job was in flight at the kill"
    assert outcome.lost == []
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
def test_sigkill_of_one_pool_child_loses_nothing(emulator_proc, worker_proc, make_orchestrator):
    emulator = emulator_proc(REGION, latency=0.05)
    running = worker_proc(pool="prefork", concurrency=4, env=FAST_REDELIVERY)
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


@pytest.fixture()
def broker(request, redis_urls) -> Iterator[str]:
    """The broker URL: the test Redis unless a test asks for ``rabbitmq`` (indirect)."""
    with broker_url(getattr(request, "param", "redis"), redis_urls[0]) as url:
        yield url


@pytest.fixture()
def producer_settings(broker, redis_urls, envelope_key) -> Any:
    from orchestrator import ProducerSettings

    return ProducerSettings(
        broker_url=broker, result_backend=redis_urls[1], envelope_key=envelope_key
    )


def drop_every_connection(admin: redis.Redis, broker: str) -> int:
    """Close every client connection of Redis (broker and backend), and RabbitMQ's if it brokers."""
    closed = int(admin.execute_command("CLIENT", "KILL", "TYPE", "normal"))
    if broker.startswith("amqp://"):
        close_all_connections(broker)
    return closed


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"], indirect=True)
def test_killed_broker_connections_lose_nothing_a_worker_was_given(
    broker, emulator_proc, worker_proc, make_orchestrator, redis_server
):
    """Nine times in a run, every connection to Redis (broker and result backend) and to RabbitMQ
    is closed. Baton loses no job a worker received; RabbitMQ loses none at all.

    Redis as a broker can lose a message in one window: BRPOP took it off the queue and the
    reply died with the connection before kombu recorded it as unacknowledged (kombu #305,
    #593). At most one per consumer restart; such a job never reaches a worker.
    """
    emulator = emulator_proc(REGION, latency=0.05)
    running = worker_proc(
        pool="threads", concurrency=8, env={**FAST_REDELIVERY, "BATON_BROKER_URL": broker}
    )
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, JOBS)

    killed = []
    admin = redis.Redis(port=redis_server.port)
    for tenth in range(1, 10):  # at every tenth of the run: each kill may catch a reply in flight
        wait_until(lambda t=tenth: finished(orch.app, jobs) >= JOBS * t / 10, timeout=60)
        killed.append(drop_every_connection(admin, broker))
    idle = None if broker.startswith("amqp://") else (lambda: nothing_in_flight(admin, jobs))
    outcome = settle(orch.app, jobs, timeout=90, idle=idle)
    admin.close()

    deliveries = Counter(running.received())
    restarts = sum("Connection to broker lost" in line for line in running.proc.lines)
    never_received = [job for job in outcome.lost if job not in deliveries]
    report(
        f"connections dropped, {broker.split(':', 1)[0]} broker",
        outcome,
        emulator,
        deliveries=deliveries,
        connections_killed=killed,
        consumer_restarts=restarts,
        lost_before_any_worker=len(never_received),
        crashes=0,
    )
    assert running.proc.popen.poll() is None
    lost_by_baton = [job for job in outcome.lost if job in deliveries]
    assert lost_by_baton == [], told_about(running, lost_by_baton)
    if broker.startswith("amqp://"):
        assert outcome.lost == []
    assert len(never_received) <= restarts, "a message lost without a BRPOP reply in flight"
    assert one_result_each(
        Outcome(
            states={j: s for j, s in outcome.states.items() if j not in never_received},
            results=outcome.results,
        )
    )


def nothing_in_flight(admin: redis.Redis, jobs: list[str]) -> bool:
    """No job is queued, unacknowledged or running on the Redis broker (db 0, locks in db 1)."""
    broker_db = redis.Redis(port=admin.connection_pool.connection_kwargs["port"], db=0)
    backend_db = redis.Redis(port=admin.connection_pool.connection_kwargs["port"], db=1)
    try:
        queued = broker_db.llen(QUEUE) + broker_db.hlen("unacked")
        running = backend_db.exists(*(job_lock_key(job) for job in jobs))
        return queued == 0 and running == 0
    finally:
        broker_db.close()
        backend_db.close()


def told_about(worker, jobs: list[str]) -> str:
    """The worker's log records that name any of ``jobs``, tracebacks included."""
    told, naming = [], False
    for line in worker.proc.lines:
        if line.startswith("["):  # a new record
            naming = any(job in line for job in jobs)
        if naming:
            told.append(line)
    return "\n".join(told)


def test_a_bedrock_that_throttles_one_call_in_five_still_completes_every_job(
    emulator_proc, worker_proc, make_orchestrator
):
    emulator = emulator_proc(REGION, throttle_rate=0.2, seed=7)
    running = worker_proc(pool="threads", concurrency=8)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, 100)

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
    emulator_proc, worker_proc, producer_settings, allowed, model, status, code
):
    from orchestrator import close_producer, producer_app

    emulator = emulator_proc(allowed)
    worker_proc(pool="threads", concurrency=2)
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
    assert "baton doctor" in message or "baton iam-policy" in message
    if status == 403:
        assert f"arn:aws:bedrock:{REGION}:111122223333:inference-profile/{model}" in message
