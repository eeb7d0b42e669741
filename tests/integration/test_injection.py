"""What a keyless broker writer can still make a worker sign or run: nothing (issue 24, 1 and 4).

The attacker reads the broker and holds no key. It copies a live ``baton_envelope`` token off the
queue and asks a worker, through Celery's own built-ins, to publish jobs carrying it; it replays
a finished chord member into another chord; it pushes a user task's message back three more
times; and it waits for an operator to replay the dead letters with the key set. A key holder
that is not the parent sends a resumed conversation on a ``global.`` model. Every test checks
Bedrock's side, the emulator's journal, after a job the parent published last (one ``solo``
worker takes its queue in order, so whatever the attack published ran before it).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest
import redis
from celery import chord, group

from envelope import BINDING_KEY, HEADER_KEY, TASK_NAME, encode
from tests.integration.harness import wait_until
from tests.support.processes import python_argv

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
QUEUE = f"baton.{REGION}"
TIMEOUT = 60
GLOBAL_MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture()
def setup(start_emulator, make_orchestrator) -> tuple[Any, Any]:
    bedrock = start_emulator(REGION)
    orch = make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": bedrock.url})
    return bedrock, orch


def queued(broker_db: redis.Redis) -> list[dict[str, Any]]:
    """The raw messages on ``QUEUE``, oldest first, as a broker reader sees them."""
    return [json.loads(raw) for raw in reversed(broker_db.lrange(QUEUE, 0, -1))]


def last_job(orch: Any) -> Any:
    """A job the parent publishes after the attack; with one solo worker, all before it ran."""
    with orch.propagating():
        job = orch.app.send_task("baton.test.charge", kwargs={"tag": "last"})
    return job.get(timeout=TIMEOUT)


def start(start_worker: Any) -> Any:
    return start_worker(
        REGION, pool="solo", concurrency=1, include="tests.integration.worker_tasks"
    )


def dead_letter_reasons(orch: Any) -> set[tuple[str, str]]:
    from workers import DeadLetters

    return {(r["job_id"], r["reason"]) for r in DeadLetters(orch.app).entries()}


def test_a_copied_token_sent_through_celery_group_and_chord_runs_nothing(
    setup, attacker, broker_db, start_worker
):
    bedrock, orch = setup
    original = orch.spawn("the parent's own prompt")
    token = queued(broker_db)[-1]["headers"][HEADER_KEY]
    headers = {HEADER_KEY: token}
    state = {"job_id": original.id, "agent": "general-purpose", "model_id": GLOBAL_MODEL}
    state |= {
        "system": None,
        "turns": 1,
        "messages": [{"role": "user", "content": [{"text": "x"}]}],
    }
    members = [
        attacker.signature(TASK_NAME, kwargs={"prompt": f"injected {i}"}, headers=headers)
        for i in range(2)
    ]
    resume = attacker.signature(
        "baton.subagent.resume", args=([],), kwargs={"state": state}, headers=headers
    )
    injected = group([*members, resume], app=attacker).freeze()
    built_ins = {
        "celery.group": {
            "tasks": [dict(sig) for sig in (*members, resume)],
            "result": injected.as_tuple(),
            "group_id": injected.id,
            "partial_args": [],
        },
        "celery.chord": {"header": [dict(sig) for sig in members], "body": dict(resume)},
    }
    sent = {
        name: attacker.send_task(name, kwargs=kwargs, queue=QUEUE)
        for name, kwargs in built_ins.items()
    }
    start(start_worker)

    assert "the parent's own prompt" in original.get(timeout=TIMEOUT)["text"]
    last_job(orch)
    converse = bedrock.calls("Converse")
    assert len(converse) == 2, converse  # the parent's job and the last one, nothing injected
    assert {c["model_id"] for c in converse} == {orch.envelope.model_id}
    reasons = dead_letter_reasons(orch)
    assert {(job.id, "builtin_not_allowed") for job in sent.values()} <= reasons
    # Keyless, so bound to nothing: refused without a failure stored under the ids they named.
    assert {orch.app.AsyncResult(job.id).state for job in sent.values()} == {"PENDING"}


def test_a_resumed_state_on_a_global_model_fails_even_when_a_key_holder_bound_it(
    setup, start_worker
):
    from workers.loop import ConversationState

    bedrock, orch = setup
    job_id = uuid.uuid4().hex
    state = ConversationState.start(
        job_id=job_id, agent="general-purpose", system=None, model_id=GLOBAL_MODEL, prompt="hi"
    ).model_dump(mode="json")
    token = encode(orch.envelope, keyring=orch.settings.keyring())
    forged = orch.app.send_task(  # bound by the parent's hook: only the state is hostile
        "baton.subagent.resume",
        args=([],),
        kwargs={"state": state},
        task_id=job_id,
        headers={HEADER_KEY: token},
        queue=QUEUE,
    )
    start(start_worker)

    with pytest.raises(Exception, match="routes worldwide"):
        forged.get(timeout=TIMEOUT)
    last_job(orch)
    assert not [c for c in bedrock.calls() if "global." in str(c["model_id"])]
    assert len(bedrock.calls("Converse")) == 1  # the last job's


def test_replaying_the_dead_letters_with_the_key_set_signs_nothing(
    setup, attacker, broker_db, start_worker, redis_urls
):
    bedrock, orch = setup
    orch.spawn("the parent's own prompt")
    token = queued(broker_db)[-1]["headers"][HEADER_KEY]
    copied = attacker.send_task(
        TASK_NAME, kwargs={"prompt": "exfiltrate"}, headers={HEADER_KEY: token}, queue=QUEUE
    )
    worker = start(start_worker)
    refused = (copied.id, "envelope_binding_invalid")
    wait_until(lambda: refused in dead_letter_reasons(orch), timeout=TIMEOUT)
    assert orch.app.AsyncResult(copied.id).state == "PENDING"  # its binding fails: no failure

    argv = python_argv("-m", "baton", "dead-letters", "replay", "--all")
    operator = subprocess.run(
        argv, check=False, env=worker.env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert operator.returncode == 0, operator.stderr
    last_job(orch)

    assert len(bedrock.calls("Converse")) == 2  # the parent's job and the last one
    from workers import DeadLetters

    again = [r for r in DeadLetters(orch.app).entries() if r["job_id"] == copied.id]
    assert [r["reason"] for r in again] == ["envelope_binding_invalid"]
    assert again[0]["binding"] is None  # sent as it was: still no binding


def test_a_user_task_pushed_back_three_more_times_runs_once(setup, broker_db, start_worker):
    bedrock, orch = setup
    with orch.propagating():
        charged = orch.app.send_task("baton.test.charge", kwargs={"tag": "charge"})
    (raw,) = broker_db.lrange(QUEUE, 0, -1)
    for _ in range(3):
        broker_db.lpush(QUEUE, raw)  # the attacker pushes the captured message back
    start(start_worker)

    assert charged.get(timeout=TIMEOUT)["tag"] == "charge"
    last_job(orch)
    assert len(bedrock.calls("Converse")) == 2  # one charge, then the last job


def test_a_finished_chord_member_replayed_into_another_chord_is_refused(
    setup, broker_db, start_worker
):
    bedrock, orch = setup
    probe = orch.app.signature
    with orch.propagating():
        first = chord(
            [probe("baton.test.probe", kwargs={"tag": f"a{i}"}) for i in range(2)], app=orch.app
        )(probe("baton.test.charge", kwargs={"tag": "callback a"}))
    member = next(m for m in queued(broker_db) if m["headers"]["group_index"] == 0)
    start(start_worker)
    assert first.get(timeout=TIMEOUT)["tag"] == "callback a"

    with orch.propagating():  # a second chord, whose last member waits 5 s for its countdown
        members = [
            probe("baton.test.probe", kwargs={"tag": "b0"}),
            probe("baton.test.probe", kwargs={"tag": "b1"}, countdown=5),
        ]
        second = chord(members, app=orch.app)(probe("baton.test.charge", kwargs={"tag": "cb b"}))
    waiting = second.parent  # the header's GroupResult
    waiting.results[0].get(timeout=TIMEOUT)  # b0 has counted; b1 waits for its countdown

    member["headers"]["group"] = waiting.id  # the finished a0, replayed into the second chord
    broker_db.lpush(QUEUE, json.dumps(member))

    result = second.get(timeout=TIMEOUT)
    assert result["tag"] == "cb b"
    assert sorted(r["tag"] for r in result["results"][0]) == ["b0", "b1"]
    last_job(orch)
    charges = bedrock.calls("Converse")
    assert len(charges) == 3, charges  # callback a, callback b, the last job: none fired twice
    assert (member["headers"]["id"], "envelope_binding_invalid") in dead_letter_reasons(orch)
    assert BINDING_KEY in member["headers"]
