"""A stored success is final, even against a copy whose read of the state is already stale.

The race, as CI met it: a throttled turn raised Celery's retry; the retry message, sent with no
countdown, ran at once on another pool thread, called Bedrock and stored SUCCESS, in between the
first thread's read of the job's state and its write of RETRY. Celery's read-then-write let RETRY
replace the success, and the job never finished. The interleaving is set up here exactly: the
state is read (by Celery's backend; Baton's reads nothing before its script), then another
backend stores the success, then the write is made. On fakeredis, which runs the store script's
Lua as a server does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from celery import Celery
from celery.app.task import Context

from tests.support.fake_redis import FakeRedisServer
from workers.delivery.backend import BatonRedisBackend, chord_safe

JOB = "job-raced"


def results_app(url: str, *, baton: bool, **settings: object) -> Celery:
    """A Celery app whose result backend at ``url`` is Baton's, or Celery's own."""
    app = Celery("result-store-test", broker="memory://", backend=chord_safe(url) if baton else url)
    app.conf.update(result_serializer="json", **settings)
    assert isinstance(app.backend, BatonRedisBackend) is baton
    return app


def store_retry_on_a_stale_read(app: Celery, other: Celery) -> None:
    """Store RETRY for ``JOB`` through ``app``; ``other`` stores SUCCESS after any read of the
    state and just before the write."""
    backend: Any = app.backend
    write = backend._set_with_state

    def the_other_copy_succeeds_then_write(key: str, value: Any, state: str) -> Any:
        other.backend.store_result(JOB, {"text": "answered"}, "SUCCESS")
        return write(key, value, state)

    backend._set_with_state = the_other_copy_succeeds_then_write
    try:
        backend.mark_as_retry(JOB, RuntimeError("throttled"))
    finally:
        del backend._set_with_state


@pytest.mark.parametrize("baton", [True, False], ids=["baton", "celery-control"])
def test_a_retry_written_on_a_stale_read_does_not_replace_the_stored_success(fake_redis, baton):
    """Baton's backend keeps the success; Celery's own, the control, loses it to RETRY."""
    app = results_app(fake_redis.url(1), baton=baton)
    other = results_app(fake_redis.url(1), baton=True)
    app.backend.store_result(JOB, None, "STARTED")

    store_retry_on_a_stale_read(app, other)

    meta = other.backend.get_task_meta(JOB)
    assert (meta["status"] == "SUCCESS") is baton
    if baton:
        assert meta["result"] == {"text": "answered"}


def test_a_refused_write_is_not_announced_and_a_stored_one_is(fake_redis: FakeRedisServer):
    app = results_app(fake_redis.url(1), baton=True)
    key = app.backend.get_key_for_task(JOB)
    listener = fake_redis.client(1).pubsub()
    listener.subscribe(key)
    try:
        app.backend.store_result(JOB, {"text": "answered"}, "SUCCESS")
        app.backend.mark_as_retry(JOB, RuntimeError("late copy"))  # Celery's read skips it
        retry = {"status": "RETRY", "result": None, "task_id": JOB}
        app.backend._set(key, app.backend.encode(retry))  # and so does the script
        # Every reply, the subscription's own first: a publish is delivered as it is made.
        replies = list(iter(lambda: listener.get_message(timeout=0.1), None))
    finally:
        listener.close()

    announced = [reply for reply in replies if reply["type"] == "message"]
    statuses = [app.backend.decode(m["data"])["status"] for m in announced]
    assert statuses == ["SUCCESS"]
    assert app.backend.get_task_meta(JOB)["status"] == "SUCCESS"


def test_states_expire_as_configured_and_a_failure_as_failures_do(fake_redis):
    app = results_app(fake_redis.url(1), baton=True, result_expires=600, result_failure_expires=60)
    client = app.backend.client

    app.backend.store_result("job-running", None, "STARTED")
    app.backend.mark_as_failure("job-failed", RuntimeError("denied"))

    assert 590 <= client.ttl(app.backend.get_key_for_task("job-running")) <= 600
    assert 50 <= client.ttl(app.backend.get_key_for_task("job-failed")) <= 60


def test_a_failure_after_a_failure_and_a_group_result_are_stored_as_before(fake_redis):
    app = results_app(fake_redis.url(1), baton=True)

    app.backend.mark_as_failure(JOB, RuntimeError("first"))
    app.backend.mark_as_failure(JOB, RuntimeError("second"))
    group = app.GroupResult("group-saved", [app.AsyncResult(JOB)])
    app.backend.save_group(group.id, group)

    assert "second" in str(app.backend.get_task_meta(JOB)["result"])
    assert app.backend.restore_group("group-saved").results == [app.AsyncResult(JOB)]


def commands_sent(backend: Any, store: Any) -> list[str]:
    """The commands ``backend``'s client sends while ``store()`` runs."""
    client = backend.client
    sent: list[str] = []
    send = client.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return send(*args, **options)

    client.execute_command = counted
    try:
        store()
    finally:
        del client.execute_command
    return sent


def test_a_store_is_one_round_trip_and_never_replaces_a_success(fake_redis):
    """No read of the state before the store script: one command a store, a success kept."""
    app = results_app(fake_redis.url(1), baton=True)
    backend: Any = app.backend
    backend.store_result("job-warm", None, "STARTED")  # the script is loaded: EVALSHA runs
    running = commands_sent(backend, lambda: backend.store_result(JOB, None, "STARTED"))
    done = commands_sent(backend, lambda: backend.store_result(JOB, {"n": 1}, "SUCCESS"))
    late = commands_sent(backend, lambda: backend.mark_as_retry(JOB, RuntimeError("late copy")))
    again = commands_sent(backend, lambda: backend.store_result(JOB, {"n": 2}, "SUCCESS"))

    assert running == done == late == again == ["EVALSHA"]
    meta = backend.get_task_meta(JOB)
    assert (meta["status"], meta["result"]) == ("SUCCESS", {"n": 1})


@pytest.mark.parametrize("extended", [True, False])
def test_the_stored_meta_is_the_one_celery_stores(fake_redis, extended):
    """Baton's store writes what Celery's own builds, extended results included."""
    request = Context(
        id=JOB,
        task="mytasks.charge",
        args=[1],
        kwargs={"k": "v"},
        hostname="w1",
        retries=2,
        group="g1",
        parent_id="p1",
        delivery_info={"routing_key": "baton.eu-west-1"},
    )
    stored = []
    for baton, db in ((True, 1), (False, 2)):
        app = results_app(fake_redis.url(db), baton=baton, result_extended=extended)
        app.backend.store_result(JOB, {"text": "answered"}, "SUCCESS", request=request)
        raw = fake_redis.client(db).get(app.backend.get_key_for_task(JOB))
        stored.append({k: v for k, v in json.loads(raw).items() if k != "date_done"})

    assert stored[0] == stored[1]
    assert ("name" in stored[0]) is extended
