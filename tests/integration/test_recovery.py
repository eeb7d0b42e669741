"""Nothing lost on a Redis broker: a message lost in transit is put back, a dead worker's jobs
return within about a lease window, and a live job is never redelivered early. Real Redis, real
workers, a real emulator.

"Lost in transit" is made exactly: the test takes a message off its queue as kombu's BRPOP does
(``RPOP``) and drops it, which is what a worker killed between BRPOP and kombu's unacknowledged
record leaves behind. Only the publish ledger still knows the message.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import redis

from baton.status import collect, label
from envelope import HEADER_KEY, EnvelopeExpired, recovered_key
from fleet.ledger import LEDGER_INDEX_KEY, LEDGER_KEY
from tests.integration.faults import FAST_REDELIVERY, parent, report, spawn
from tests.integration.harness import (
    QUEUE,
    REGION,
    crafted,
    figures,
    kill_whole_worker,
    publish,
    settle,
    wait_until,
)

pytestmark = pytest.mark.integration

PUT_BACK = "put back on its queue"


def take_off_the_queue(broker_db: redis.Redis) -> dict[str, Any]:
    """Take the next message off the queue as BRPOP would, and lose it."""
    raw = broker_db.rpop(QUEUE)
    assert raw is not None, "nothing was queued"
    message: dict[str, Any] = json.loads(raw)
    return message


@pytest.fixture()
def broker_db(redis_urls: tuple[str, str]) -> Any:
    client = redis.Redis.from_url(redis_urls[0])
    yield client
    client.close()


@pytest.fixture()
def results(redis_urls: tuple[str, str]) -> Any:
    client = redis.Redis.from_url(redis_urls[1])
    yield client
    client.close()


def test_a_subagent_job_lost_in_transit_is_put_back_under_its_own_id_and_runs_once(
    emulator_proc, start_worker, make_orchestrator, broker_db, results
):
    emulator = emulator_proc(REGION, latency=0.05)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, 6)
    lost = take_off_the_queue(broker_db)
    lost_id = lost["headers"]["id"]
    assert broker_db.hexists(LEDGER_KEY, lost["properties"]["delivery_tag"])

    worker = start_worker(env=FAST_REDELIVERY)
    outcome = settle(orch.app, jobs, timeout=60)

    deliveries = Counter(worker.received())
    report("lost in transit", outcome, emulator, deliveries=deliveries)
    assert outcome.lost == []
    assert outcome.results[lost_id]["job_id"] == lost_id
    assert deliveries[lost_id] == 1
    assert results.get(recovered_key(lost_id)) == b"lost_in_transit"
    _, nodes = collect(orch.app, orch.root_id)  # what `baton status` draws
    assert [job for job, node in nodes.items() if node["recovered"]] == [lost_id]
    assert "recovered (lost in transit)" in label(nodes[lost_id])
    assert sum(PUT_BACK in line and "lost in transit" in line for line in worker.proc.lines) == 1
    wait_until(lambda: broker_db.hlen(LEDGER_KEY) == 0, timeout=10)  # every acknowledgement forgot


def test_a_user_task_lost_in_transit_is_put_back_too(
    emulator_proc, start_worker, producer_settings, broker_db
):
    from orchestrator import close_producer, producer_app

    emulator = emulator_proc(REGION)
    app = producer_app(producer_settings)
    try:
        token = crafted(emulator.url, keyring=producer_settings.keyring())
        job = app.send_task(
            "baton.test.probe", kwargs={"tag": "lost"}, headers={HEADER_KEY: token}, queue=QUEUE
        )
        lost = take_off_the_queue(broker_db)
        assert lost["headers"]["id"] == job.id
        start_worker(env=FAST_REDELIVERY, flags=["--include", "tests.integration.worker_tasks"])
        seen = job.get(timeout=60)
    finally:
        close_producer(app)
    assert (seen["task_id"], seen["region"]) == (job.id, REGION)


def test_an_envelope_that_expired_while_its_job_was_lost_is_refused_and_dead_lettered(
    emulator_proc, start_worker, producer_settings, broker_db
):
    from orchestrator import close_producer, producer_app
    from workers.dead_letters import DeadLetters

    emulator = emulator_proc(REGION)
    app = producer_app(producer_settings)
    try:
        # Expired by the time it is put back: well past the workers' allowance for clock skew.
        now = int(time.time())
        token = crafted(
            emulator.url, keyring=producer_settings.keyring(), iat=now - 7200, exp=now - 3600
        )
        job = publish(app, token)
        take_off_the_queue(broker_db)
        start_worker(env=FAST_REDELIVERY)
        with pytest.raises(EnvelopeExpired):
            job.get(timeout=60)
        dead = DeadLetters(app).entries()
    finally:
        close_producer(app)
    assert emulator.calls("Converse") == []
    assert [(r["job_id"], r["error"]) for r in dead] == [(job.id, "EnvelopeExpired")]


def test_a_live_job_that_runs_past_the_lease_window_is_not_delivered_again(
    emulator_proc, start_workers, make_orchestrator
):
    """A 3 s lease window; one job waits 8 s for its countdown, one runs a 9 s Bedrock call.

    The waiting job calls a Bedrock of its own that answers at once, so the two overlap.
    """
    slow, fast = emulator_proc(REGION, latency=9.0), emulator_proc(REGION, latency=0.05)
    # The second would take any early redelivery.
    worker, second = start_workers(2, concurrency=2, env=FAST_REDELIVERY)
    orch, other = parent(make_orchestrator, slow.url), parent(make_orchestrator, fast.url)
    running = orch.spawn("runs long").id
    with other.propagating():
        waiting = other.app.send_task("baton.subagent", kwargs={"prompt": "waits"}, countdown=8).id
    outcome = settle(orch.app, [running, waiting], timeout=60)

    deliveries = Counter(worker.received() + second.received())
    calls = {"slow": slow.calls("Converse"), "fast": fast.calls("Converse")}
    figures(
        "long jobs under a 3 s lease window",
        lost=len(outcome.lost),
        deliveries=sum(deliveries.values()),
        bedrock_calls={name: len(made) for name, made in calls.items()},
    )
    assert outcome.lost == []
    assert deliveries == Counter({running: 1, waiting: 1})
    assert [len(made) for made in calls.values()] == [1, 1]
    assert not any(PUT_BACK in line for line in worker.proc.lines + second.proc.lines)


@pytest.mark.slow
def test_a_killed_workers_jobs_are_taken_up_within_two_lock_ttls_with_default_settings(
    emulator_proc, start_workers, make_orchestrator
):
    """The issue's run: two threads workers of 4, Bedrock answering in 0.5 s, 40 jobs, one
    worker SIGKILLed 2.5 s in. Default lease window (60 s) and job-lock TTL (60 s)."""
    emulator = emulator_proc(REGION, latency=0.5)
    doomed, survivor = start_workers(2, pool="threads", concurrency=4)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, 40)
    time.sleep(2.5)  # the moment of the kill, not a race being papered over
    kill_whole_worker(doomed)
    killed_at = time.monotonic()
    outcome = settle(orch.app, jobs, timeout=180)
    recovered_after = time.monotonic() - killed_at

    deliveries = Counter(doomed.received() + survivor.received())
    put_back = sum(PUT_BACK in line for line in survivor.proc.lines)
    report(
        "sigkill with default settings",
        outcome,
        emulator,
        deliveries=deliveries,
        seconds_from_kill_to_last_result=round(recovered_after, 1),
        put_back=put_back,
    )
    assert outcome.lost == []
    assert put_back >= 1, "the kill took no job with it; nothing was proven"
    assert recovered_after < 120


def poison_the_ledger(broker_db: redis.Redis, *, decoys: int = 500) -> None:
    """What anyone who writes the broker can do (issue 24, finding 3): the issue's two writes,
    a lost entry whose message is not JSON, an unacknowledged record kombu cannot read, and
    ``decoys`` entries at score 0 that stay put on a queue nobody consumes."""
    broker_db.hset(LEDGER_KEY, "poison", "no-separator-here")
    broker_db.zadd(LEDGER_INDEX_KEY, {"poison": 0})
    broker_db.hset(LEDGER_KEY, "not-json", f"{QUEUE}\0not json")
    broker_db.zadd(LEDGER_INDEX_KEY, {"not-json": 0})
    broker_db.hset("unacked", "bad-record", "not a kombu record")
    broker_db.zadd("unacked_index", {"bad-record": 0})
    with broker_db.pipeline() as pipe:
        for i in range(decoys):
            raw = json.dumps({"headers": {"id": f"d{i}", "task": "x"}, "properties": {}})
            pipe.lpush("baton.nowhere", raw)
            pipe.hset(LEDGER_KEY, f"decoy-{i}", f"baton.nowhere\0{raw}")
            pipe.zadd(LEDGER_INDEX_KEY, {f"decoy-{i}": 0})
        pipe.execute()


def test_a_poisoned_ledger_stops_no_worker_and_a_lost_job_still_comes_back(
    emulator_proc, start_worker, make_orchestrator, broker_db
):
    emulator = emulator_proc(REGION)
    orch = parent(make_orchestrator, emulator.url)
    jobs = spawn(orch, 1)
    lost = take_off_the_queue(broker_db)
    poison_the_ledger(broker_db)

    worker = start_worker(env=FAST_REDELIVERY)  # the old code exited: "Unrecoverable error"
    outcome = settle(orch.app, jobs, timeout=60)
    later = orch.gather([orch.spawn("after the poison")], timeout=30)[0]

    assert outcome.lost == []
    assert outcome.results[lost["headers"]["id"]]["job_id"] == lost["headers"]["id"]
    assert later["stop_reason"] == "end_turn"
    assert worker.proc.popen.poll() is None
    lines = "\n".join(worker.proc.lines)
    assert "Unrecoverable error" not in lines
    for bad in ("ledger entry 'poison' dropped", "ledger entry 'not-json' dropped"):
        assert bad in lines
    assert "unacknowledged record 'bad-record' dropped" in lines
    assert not broker_db.hexists(LEDGER_KEY, "poison")
    # The decoys alone are left, once the last acknowledgement is in: queued, so never lost.
    wait_until(lambda: broker_db.hlen(LEDGER_KEY) == 500, timeout=10)
