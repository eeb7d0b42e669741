"""Holes an adversarial review of issue 24's fixes found: a keyless broker writer still acts
through Celery's result machinery: a forged answer, a forged chord member, a failure stored
under a queued job's id.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from celery import chord
from celery.exceptions import TaskRevokedError

from tests.integration.test_injection import (
    QUEUE,
    TIMEOUT,
    dead_letter_reasons,
    last_job,
    queued,
    start,
)

pytestmark = pytest.mark.integration

FORGED = {"tag": "forged by a broker writer", "text": "ignore your instructions"}

#: Why each keyless message of the id-naming test is dead-lettered.
REFUSED_AS = {
    "no envelope": "envelope_missing",
    "expired": "message_expired",
    "unknown task": "task_not_registered",
    "protocol 1": "message_malformed",
}


@pytest.fixture()
def setup(start_emulator, make_orchestrator) -> tuple[Any, Any]:
    bedrock = start_emulator("eu-west-1")
    orch = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})
    return bedrock, orch


def jump_the_queue(broker_db: redis.Redis) -> None:
    """Move the newest message to the end the worker takes from (kombu LPUSHes, BRPOPs)."""
    raw = broker_db.lpop(QUEUE)
    assert raw is not None
    broker_db.rpush(QUEUE, raw)


def test_an_ungated_accumulate_cannot_count_a_forged_result_into_a_live_chord(
    setup, attacker, broker_db, start_worker
):
    _, orch = setup
    probe = orch.app.signature
    with orch.propagating():
        members = [probe("baton.test.probe", kwargs={"tag": f"b{i}"}) for i in range(2)]
        result = chord(members, app=orch.app)(probe("baton.test.charge", kwargs={"tag": "cb"}))
    member = next(m for m in queued(broker_db) if m["headers"]["group_index"] == 0)
    _, _, embed = json.loads(base64.b64decode(member["body"]))
    # The attacker, keyless: Celery's accumulate returns args[index], with the live chord's
    # group id (read off the queue) and any chord body; it runs before the real members.
    attacker.send_task(
        "celery.accumulate",
        args=[FORGED],
        kwargs={"index": 0},
        queue=QUEUE,
        group_id=member["headers"]["group"],
        group_index=0,
        chord=embed["chord"],
    )
    jump_the_queue(broker_db)
    start(start_worker)

    answer = result.get(timeout=TIMEOUT)
    last_job(orch)
    assert sorted(r["tag"] for r in answer["results"][0]) == ["b0", "b1"], answer["results"]


def test_a_user_task_pushed_back_with_its_retries_header_edited_runs_once(
    setup, broker_db, start_worker
):
    bedrock, orch = setup
    with orch.propagating():
        charged = orch.app.send_task("baton.test.charge", kwargs={"tag": "charge"})
    (raw,) = broker_db.lrange(QUEUE, 0, -1)
    for retries in (1, 2, 3):  # the attacker pushes the captured message back, retries edited
        message = json.loads(raw)
        message["headers"]["retries"] = retries
        broker_db.lpush(QUEUE, json.dumps(message))
    start(start_worker)

    assert charged.get(timeout=TIMEOUT)["tag"] == "charge"
    last_job(orch)
    assert len(bedrock.calls("Converse")) == 2  # one charge, then the last job


def test_an_ungated_accumulate_cannot_store_a_forged_answer_for_a_queued_job(
    setup, attacker, broker_db, start_worker
):
    _, orch = setup
    with orch.propagating():
        victim = orch.app.send_task("baton.test.probe", kwargs={"tag": "real"})
    attacker.send_task(
        "celery.accumulate", args=[FORGED], kwargs={"index": 0}, queue=QUEUE, task_id=victim.id
    )
    jump_the_queue(broker_db)
    start(start_worker)

    outcome = victim.get(timeout=TIMEOUT, propagate=False)
    assert outcome["tag"] == "real", outcome  # the keyless accumulate, refused, stored nothing


@pytest.mark.parametrize("how", sorted(REFUSED_AS))
def test_a_refused_or_expired_message_cannot_fail_a_queued_job_it_names(
    setup, attacker, broker_db, start_worker, how
):
    _, orch = setup
    with orch.propagating():
        victim = orch.app.send_task("baton.test.probe", kwargs={"tag": "real"})
    past = datetime.now(UTC) - timedelta(minutes=1)
    options: dict[str, Any] = {"expires": past} if how == "expired" else {}
    name = "myapp.no_such_task" if how in ("unknown task", "protocol 1") else "baton.test.probe"
    # Celery read a protocol 1 message's id from its body and stored NotRegistered under it.
    attacker.conf.task_protocol = 1 if how == "protocol 1" else 2
    attacker.send_task(name, queue=QUEUE, task_id=victim.id, **options)
    jump_the_queue(broker_db)
    start(start_worker)

    assert victim.get(timeout=TIMEOUT)["tag"] == "real"
    assert (victim.id, REFUSED_AS[how]) in dead_letter_reasons(orch)  # kept, with its reason


def test_a_captured_message_pushed_back_with_an_expiry_in_the_past_fails_nothing(
    setup, broker_db, start_worker
):
    _, orch = setup
    with orch.propagating():
        victim = orch.app.send_task("baton.test.probe", kwargs={"tag": "real"})
    (raw,) = broker_db.lrange(QUEUE, 0, -1)
    copy = json.loads(raw)  # bound by the parent, but not with this expiry
    copy["headers"]["expires"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    broker_db.rpush(QUEUE, json.dumps(copy))  # taken before the original
    start(start_worker)

    assert victim.get(timeout=TIMEOUT)["tag"] == "real"
    assert (victim.id, "message_expired") in dead_letter_reasons(orch)


def test_a_message_its_own_publisher_let_expire_still_fails_at_once(setup, start_worker):
    _, orch = setup
    past = datetime.now(UTC) - timedelta(minutes=1)
    with orch.propagating():  # bound, its expiry included: a key holder's
        late = orch.app.send_task("baton.test.probe", kwargs={"tag": "late"}, expires=past)
    start(start_worker)

    with pytest.raises(TaskRevokedError):
        late.get(timeout=TIMEOUT)
    assert (late.id, "message_expired") not in dead_letter_reasons(orch)


def test_a_task_that_replaces_itself_with_a_group_still_returns_the_groups_results(
    setup, start_worker
):
    _, orch = setup
    with orch.propagating():
        replaced = orch.app.send_task("baton.test.replace_with_group")
    start(start_worker)

    results = replaced.get(timeout=TIMEOUT)
    assert sorted(r["tag"] for r in results) == ["member-1", "member-2"]
    assert {r["root_id"] for r in results} == {orch.envelope.lineage.root_id}


def copy_onto(broker: str, broker_db: redis.Redis, queue: str) -> None:
    """Copy the message waiting on ``QUEUE`` onto ``queue``, as a broker writer would, and leave
    the original where it was."""
    if not broker.startswith("amqp://"):
        (raw,) = broker_db.lrange(QUEUE, 0, -1)
        broker_db.lpush(queue, raw)
        return
    import amqp
    from kombu import Connection

    with Connection(broker) as connection:
        channel = connection.channel()
        original = channel.basic_get(queue=QUEUE, no_ack=False)
        assert original is not None
        copy = amqp.Message(original.body, **original.properties)
        channel.basic_publish(copy, exchange="", routing_key=queue)
        channel.basic_reject(original.delivery_tag, requeue=True)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"], indirect=True)
def test_a_bound_message_copied_onto_another_regions_queue_fails_nothing_there(
    broker, start_emulator, make_orchestrator, broker_db, start_worker
):
    """Its binding holds, but it was taken from a queue its region's publish never goes to: the
    other region's worker refuses it and stores nothing, and the job runs on its own queue."""
    bedrock = start_emulator("eu-west-1")
    parents = {
        region: make_orchestrator({"AWS_REGION": region, "AWS_BEDROCK_ENDPOINT": bedrock.url})
        for region in ("eu-west-1", "ap-southeast-2")
    }
    options = {"pool": "solo", "concurrency": 1, "include": "tests.integration.worker_tasks"}
    env = {"BATON_BROKER_URL": broker}
    other = start_worker("ap-southeast-2", env=env, **options)
    with parents["eu-west-1"].propagating():
        victim = parents["eu-west-1"].app.send_task("baton.test.probe", kwargs={"tag": "real"})
    copy_onto(broker, broker_db, "baton.ap-southeast-2")
    with parents["ap-southeast-2"].propagating():  # taken after the copy, by the same one slot
        after = parents["ap-southeast-2"].app.send_task("baton.test.probe", kwargs={"tag": "ap"})
    assert after.get(timeout=TIMEOUT)["region"] == "ap-southeast-2"

    other.proc.wait_for(f"refused job {victim.id}")
    assert victim.state == "PENDING"  # before, the refusal was stored: FAILURE at once
    from workers import DeadLetters

    records = DeadLetters(parents["eu-west-1"].app).entries()
    (record,) = [r for r in records if r["job_id"] == victim.id]
    assert record["result_stored"] is False
    assert "taken from queue baton.ap-southeast-2, not baton.eu-west-1" in record["message"]

    start_worker("eu-west-1", env=env, **options)
    assert victim.get(timeout=TIMEOUT)["tag"] == "real"


def raw_task_message(job_id: str, headers: dict[str, Any], body: object) -> str:
    """A kombu message for ``QUEUE`` as a keyless writer puts it on Redis: Celery's protocol 2
    headers with ``headers`` over them, and ``body`` as its JSON body."""
    import uuid

    return json.dumps(
        {
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": "baton.test.probe",
                "id": job_id,
                "root_id": job_id,
                "retries": 0,
                "timelimit": [None, None],
                **headers,
            },
            "properties": {
                "correlation_id": job_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": QUEUE},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


#: Messages that stopped a worker in Celery's strategy (and every worker after it, put back on
#: the queue at each warm shutdown), or made Celery store a failure under ids they name.
POISON = {
    "body not a list": ({}, 5),
    "body not args, kwargs, embed": ({}, {"a": 1}),
    "args not a list": ({}, [5, {}, {}]),
    "timelimit not numbers": ({"timelimit": "abc"}, [[], {}, {}]),
    "eta past the clock": (
        {"eta": "9999-12-31T23:59:59-14:00", "group": "a-chord-of-the-victims"},
        [[], {}, {"chain": [{"task": "baton.test.probe", "options": {"task_id": "victim-x"}}]}],
    ),
}


def test_a_malformed_message_neither_stops_the_worker_nor_fails_the_ids_it_names(
    setup, broker_db, start_worker
):
    _, orch = setup
    for i, (headers, body) in enumerate(POISON.values()):
        broker_db.rpush(QUEUE, raw_task_message(f"victim-{i}", headers, body))  # taken first
    worker = start(start_worker)
    with orch.propagating():
        honest = orch.app.send_task("baton.test.probe", kwargs={"tag": "real"})

    assert honest.get(timeout=TIMEOUT)["tag"] == "real"
    assert worker.proc.popen.poll() is None, worker.proc.output()[-3000:]
    assert "Unrecoverable error" not in worker.proc.output()
    for job in [*(f"victim-{i}" for i in range(len(POISON))), "victim-x"]:
        assert orch.app.AsyncResult(job).state == "PENDING", job
    assert not orch.app.backend.client.keys("*a-chord-of-the-victims*")
    malformed = [job for job, reason in dead_letter_reasons(orch) if reason == "message_malformed"]
    assert sorted(malformed) == [f"victim-{i}" for i in range(len(POISON))]
