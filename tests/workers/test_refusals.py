"""One rule for what a refused message leaves: its failure under its id only when it is bound.

The real paths (the gate, an unknown task, Celery's expiry) against a worker and a keyless broker
writer are in tests/integration/test_review_holes.py and test_fail_closed.py.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery

from envelope import BINDING_KEY, HEADER_KEY, TASK_NAME, EnvelopeExpired, encode
from tests.factories import KEY, bound_request, keyring, make_envelope
from tests.support.fake_redis import FakeRedisServer
from workers import DeadLetters, RegionNotAllowed, WorkerSettings, create_app
from workers.arrival import ARRIVED_ON
from workers.consumer import BatonConsumer
from workers.refusals import refuse
from workers.runtime import WorkerRuntime

RUNTIME = WorkerRuntime(WorkerSettings(envelope_key=KEY, allowed_regions=("eu-west-1",)))


def token(**overrides: Any) -> str:
    return encode(make_envelope(**overrides), keyring=keyring())


def tampered(signed: str) -> str:
    """``signed`` with its region edited and its signature kept (so a binding over it holds)."""
    version, payload, signature = signed.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    edited = raw.replace(b'"region":"eu-west-1"', b'"region":"us-east-1"')
    return ".".join((version, base64.urlsafe_b64encode(edited).rstrip(b"=").decode(), signature))


def problem(request: Any) -> str | None:
    return RUNTIME.binding_problem(request, task_name="baton.subagent")


def test_a_refused_message_a_key_holder_bound_to_its_id_is_bound_expired_or_out_of_policy():
    now = int(time.time())
    assert problem(bound_request(token(iat=now - 7200, exp=now - 3600))) is None
    assert problem(bound_request(token(region="us-east-1", model_id="us.x"))) is None


def test_a_message_is_unbound_for_want_of_an_envelope_a_signature_a_key_or_a_binding():
    assert problem(SimpleNamespace(id="job-1", headers={})) == "it carries no baton_envelope header"
    # The publisher's hook bound the edited token: only its signature shows the edit.
    assert "signature does not verify" in str(problem(bound_request(tampered(token()))))
    foreign = encode(make_envelope(kid="old"), keyring=keyring("old", "k" * 32))
    assert "names key id 'old', which this worker does not hold" in str(
        problem(bound_request(foreign, ring=keyring("old", "k" * 32)))
    )
    copied = bound_request(token())
    copied.id = "a-queued-job"
    assert "baton_binding header is another's" in str(problem(copied))
    copied.baton_binding = copied.headers[BINDING_KEY] = None
    assert "baton_binding header is missing" in str(problem(copied))


@pytest.fixture()
def app(fake_redis: FakeRedisServer) -> Iterator[Celery]:
    settings = WorkerSettings(
        broker_url=fake_redis.url(0),
        result_backend="cache+memory://",
        envelope_key=KEY,
        allowed_regions=("eu-west-1",),
    )
    app = create_app(settings)
    yield app
    app.close()


def test_only_a_bound_refusal_may_be_stored_and_an_unbound_one_says_why_and_what_to_do(app):
    bound = bound_request(token(region="us-east-1", model_id="us.x"), job_id="bound")
    unbound = SimpleNamespace(id="named", headers={}, args=[], kwargs={})
    assert refuse(app, bound, task_name=TASK_NAME, error=RegionNotAllowed("us-east-1")).stored
    refusal = refuse(app, unbound, task_name=TASK_NAME, error=EnvelopeExpired("no envelope"))
    assert not refusal.stored

    records = {r["job_id"]: r for r in DeadLetters(app).entries()}
    assert records["bound"]["result_stored"] is True
    assert records["bound"]["message"] == "us-east-1"
    named = records["named"]
    assert (named["id"], named["result_stored"]) == (refusal.dead_letter, False)
    assert named["message"].startswith("no envelope. Not failed under job named: it carries no")
    assert "waits for its timeout" in named["message"]
    assert "orchestrator.Orchestrator" in named["message"]


def unknown_task(job_id: str, headers: dict[str, Any]) -> SimpleNamespace:
    """A message for a task the worker lacks, as its consumer hands it on: taken from
    baton.eu-west-1 unless ``headers`` say another queue."""
    return SimpleNamespace(
        headers={
            "id": job_id,
            "task": "myapp.tasks.gone",
            ARRIVED_ON: "baton.eu-west-1",
            **headers,
        },
        delivery_info={"routing_key": "baton.eu-west-1"},
        properties={},
        decode=lambda: ([], {"prompt": "hello"}, {}),
        reject_log_error=lambda *args: None,
    )


def test_an_unknown_task_fails_its_id_only_when_its_message_is_bound(app):
    signed = token()
    bound = bound_request(signed, job_id="bound", task="myapp.tasks.gone")
    consumer = SimpleNamespace(app=app, connection_errors=(), event_dispatcher=None)
    consumer._fail = lambda *args: BatonConsumer._fail(consumer, *args)  # type: ignore[arg-type]
    copied = bound_request(signed, job_id="copied", task="myapp.tasks.gone")
    for job_id, headers in (
        ("bound", {HEADER_KEY: signed, BINDING_KEY: bound.headers[BINDING_KEY]}),
        ("named", {HEADER_KEY: signed}),
        (
            "copied",
            {
                HEADER_KEY: signed,
                BINDING_KEY: copied.headers[BINDING_KEY],
                ARRIVED_ON: "baton.ap-southeast-2",
            },
        ),
    ):
        message = unknown_task(job_id, headers)
        BatonConsumer.on_unknown_task(consumer, None, message, KeyError("myapp.tasks.gone"))  # type: ignore[arg-type]

    assert app.AsyncResult("bound").state == "FAILURE"
    assert app.AsyncResult("named").state == "PENDING"
    assert app.AsyncResult("copied").state == "PENDING"
    records = {r["job_id"]: r for r in DeadLetters(app).entries()}
    assert {job: r["result_stored"] for job, r in records.items()} == {
        "bound": True,
        "named": False,
        "copied": False,
    }
    why = records["copied"]["message"]
    assert "every worker consuming baton.ap-southeast-2 must import" in why
    assert "taken from queue baton.ap-southeast-2, not baton.eu-west-1" in why


@pytest.mark.parametrize(
    ("arrived_on", "why"),
    [
        ("baton.ap-southeast-2", "taken from queue baton.ap-southeast-2, not baton.eu-west-1"),
        ("myapp.queue", "taken from queue myapp.queue, not baton.eu-west-1"),
        (None, "taken from a queue this worker cannot name, not baton.eu-west-1"),
    ],
)
def test_a_bound_message_taken_from_another_queue_than_its_regions_is_unbound(arrived_on, why):
    """A binding does not cover the queue: a broker writer who copies a queued job's message
    onto another region's queue must not fail the job through that queue's refusal."""
    assert problem(bound_request(token(), arrived_on="baton.eu-west-1")) is None
    assert why in str(problem(bound_request(token(), arrived_on=arrived_on)))


def test_a_message_that_is_not_protocol_2_fails_no_job_whatever_its_body_names(app, monkeypatch):
    """Celery takes a protocol 1 message's id from its body, where no check of Baton's reaches:
    it stored NotRegistered (or a refusal) under any id a keyless sender named."""
    from celery.worker.consumer import Consumer

    handled: list = []
    monkeypatch.setattr(Consumer, "create_task_handler", lambda self, promise=None: handled.append)
    consumer = BatonConsumer.__new__(BatonConsumer)
    consumer.app, consumer.connection_errors = app, ()
    on_task_received = consumer.create_task_handler()
    body = {"id": "victim", "task": "myapp.tasks.gone", "args": [], "kwargs": {}}
    for headers in ({}, {"id": "victim", "task": 5}, {"task": "baton.subagent"}):
        on_task_received(
            SimpleNamespace(
                headers=headers,
                delivery_info={"routing_key": "baton.eu-west-1"},
                properties={},
                decode=lambda: body,
                reject_log_error=lambda *args: None,
                acknowledged=False,
            )
        )

    assert handled == []  # never handed to Celery
    assert app.AsyncResult("victim").state == "PENDING"
    records = DeadLetters(app).entries()
    assert [(r["job_id"], r["reason"], r["result_stored"]) for r in records] == [
        ("victim", "message_malformed", False)
    ] * 3


def test_an_error_inside_celerys_handler_is_a_dead_letter_not_a_stopped_worker(app, monkeypatch):
    """In the main process, an exception out of Celery's handler stopped the worker; a lost
    broker connection still goes up to Celery, which reconnects."""
    from celery.worker.consumer import Consumer

    raised: list[BaseException] = [TypeError("a shape no check foresaw"), ConnectionError("gone")]

    def handler(message: Any) -> None:
        raise raised.pop(0)

    monkeypatch.setattr(Consumer, "create_task_handler", lambda self, promise=None: handler)
    consumer = BatonConsumer.__new__(BatonConsumer)
    consumer.app, consumer.connection_errors = app, (ConnectionError,)
    consumer.task_consumer = SimpleNamespace(_active_tags={})
    on_task_received = consumer.create_task_handler()

    def message() -> SimpleNamespace:
        return SimpleNamespace(
            headers={"id": "victim", "task": "baton.subagent"},
            delivery_info={},
            properties={},
            channel=None,
            decode=lambda: [[], {}, {}],
            reject_log_error=lambda *args: None,
            acknowledged=False,
        )

    on_task_received(message())
    with pytest.raises(ConnectionError):
        on_task_received(message())
    records = DeadLetters(app).entries()
    assert [(r["job_id"], r["reason"], r["result_stored"]) for r in records] == [
        ("victim", "message_malformed", False)
    ]
    assert "Celery failed on it (TypeError)" in records[0]["message"]
    assert app.AsyncResult("victim").state == "PENDING"
