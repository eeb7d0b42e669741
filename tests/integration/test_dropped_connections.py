"""Dropped connections lose nothing Baton was given: every Redis client connection (broker and
result backend) is closed nine times in a run, and RabbitMQ's too where it is the broker. Real
Redis, real RabbitMQ, a real worker, a real emulator.

Redis as a broker has a window of kombu's: BRPOP took a message off the queue and the reply died
with the connection before kombu recorded it as unacknowledged (kombu issues #305, #593). It lost
a job in about one run in four here, until the publish ledger (``fleet.ledger``): such a
message is now put back, and the runs must lose nothing on either broker.

The worker then stops on SIGTERM as Celery's warm shutdown should, exit status 0: the worker
fixture kills its workers at teardown, and a shutdown after dropped connections is the one that
hung. A gevent worker on RabbitMQ hung in it in about one run in five (11 of 50), its
``worker-offline`` event waiting forever for a lock that a ``worker-heartbeat`` publish held;
``workers.consumer`` says why, and ``tests/workers/test_consumer.py`` pins the cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from envelope import child_jobs_key
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
from tests.integration.harness import REGION, finished, settle, wait_until
from tests.support.brokers import close_all_connections

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Trees of the tree run: each a root, two children, four grandchildren (three chords).
TREES, TREE = 30, "<<tree depth=2 width=2>>"
JOBS_PER_TREE = 7
#: Converse calls per tree: three parents take two turns each, four leaves one.
CALLS_PER_TREE = 3 * 2 + 4


@pytest.fixture()
def dropper(redis_server: Any, broker: str) -> Iterator[Callable[[], int]]:
    """Drops every client connection of Redis, and of RabbitMQ when it brokers; returns how many
    Redis connections it closed."""
    admin = redis.Redis(port=redis_server.port)

    def drop() -> int:
        closed = int(admin.execute_command("CLIENT", "KILL", "TYPE", "normal"))
        if broker.startswith("amqp://"):
            close_all_connections(broker)
        return closed

    yield drop
    admin.close()


def drop_nine_times(drop: Callable[[], int], progress: Callable[[], float]) -> list[int]:
    """Drop every connection at each tenth of the run, as ``progress`` (0 to 1) tells it."""
    killed = []
    for tenth in range(1, 10):
        try:
            wait_until(lambda t=tenth: progress() >= t / 10, timeout=30)
        except TimeoutError:
            break  # the run stalled: what the test asserts next says where
        killed.append(drop())
    return killed


def tree_of(app: Any, root: str) -> list[str]:
    """Every job ID of ``root``'s tree, from the children lists the workers keep."""
    tree, todo = [], [root]
    while todo:
        job = todo.pop()
        tree.append(job)
        todo += [child.decode() for child in app.backend.client.lrange(child_jobs_key(job), 0, -1)]
    return tree


def told_about(worker: Any, jobs: list[str]) -> str:
    """The worker's log records that name any of ``jobs`` or a chord, tracebacks included."""
    told, naming = [], False
    for line in worker.proc.lines:
        if line.startswith("["):  # a new record
            naming = "chord" in line.lower() or any(job in line for job in jobs)
        if naming:
            told.append(line)
    return "\n".join(told)


def run_leaf_jobs(
    broker: str,
    emulator_proc: Any,
    start_worker: Any,
    make_orchestrator: Any,
    drop: Callable[[], int],
    in_flight: Callable[[list[str]], Callable[[], bool]],
    pool: str = "threads",
) -> tuple[Any, Any, int]:
    """Run JOBS leaf jobs while dropping every connection nine times; return what happened
    (the outcome, the worker, and how many Bedrock calls were duplicates)."""
    emulator = emulator_proc(REGION, latency=0.05)
    env = {**FAST_REDELIVERY, "BATON_BROKER_URL": broker}
    running = start_worker(pool=pool, concurrency=8, env=env)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, JOBS)
    killed = drop_nine_times(drop, lambda: finished(orch.app, jobs) / JOBS)
    idle = None if broker.startswith("amqp://") else in_flight(jobs)
    outcome = settle(orch.app, jobs, timeout=90, idle=idle)
    deliveries = Counter(running.received())
    duplicated = report(
        f"connections dropped, {broker.split(':', 1)[0]} broker",
        outcome,
        emulator,
        deliveries=deliveries,
        connections_killed=killed,
        consumer_restarts=sum("Connection to broker lost" in line for line in running.proc.lines),
        lost_before_any_worker=sum(job not in deliveries for job in outcome.lost),
        put_back=dict(put_back(running)),
    )
    return outcome, running, duplicated


@pytest.mark.parametrize(
    ("broker", "pool"),
    [("redis", "threads"), ("rabbitmq", "threads"), ("redis", "gevent"), ("rabbitmq", "gevent")],
    indirect=["broker"],
)
def test_dropped_connections_lose_no_job_a_worker_was_given_and_it_still_stops_cleanly(
    broker, pool, emulator_proc, start_worker, make_orchestrator, dropper, in_flight
):
    outcome, running, duplicated = run_leaf_jobs(
        broker, emulator_proc, start_worker, make_orchestrator, dropper, in_flight, pool=pool
    )

    lost_by_baton, never_received = lost_where(outcome, running.received())
    assert running.proc.popen.poll() is None
    assert lost_by_baton == [], told_about(running, lost_by_baton)
    assert never_received == []
    assert one_result_each(outcome)
    if pool == "gevent":  # a job left running through a dropped connection is never killed
        assert duplicated == 0

    ran = len(running.proc.lines)
    code = running.proc.stop()  # SIGTERM, and SIGKILL (-9) after STOP_TIMEOUT
    after = running.proc.lines[ran:]
    assert code == 0, "\n".join(after[-40:])
    assert any("Warm shutdown" in line for line in after)


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)
def test_dropped_connections_lose_no_job_tree(
    broker, emulator_proc, start_worker, make_orchestrator, dropper
):
    emulator = emulator_proc(REGION, latency=0.05)
    running = start_worker(
        pool="threads", concurrency=8, env={**FAST_REDELIVERY, "BATON_BROKER_URL": broker}
    )
    orch = parent(make_orchestrator, emulator.url)
    roots = spawn(orch, TREES, TREE)
    calls = TREES * CALLS_PER_TREE

    killed = drop_nine_times(dropper, lambda: len(emulator.calls("Converse")) / calls)
    outcome = settle(orch.app, roots, timeout=60)

    report(
        "connections dropped, job trees",
        outcome,
        emulator,
        deliveries=Counter(running.received()),
        calls_per_job=CALLS_PER_TREE,
        connections_killed=killed,
    )
    lost_trees = [job for root in outcome.lost for job in tree_of(orch.app, root)]
    last_lines = "\n".join(running.proc.lines[-40:])
    assert outcome.lost == [], f"{told_about(running, lost_trees)}\n--- last ---\n{last_lines}"
    assert one_result_each(outcome)
    assert {outcome.results[root]["tree_jobs"] for root in roots} == {JOBS_PER_TREE}
