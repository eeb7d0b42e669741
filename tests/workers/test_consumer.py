"""The worker's consumer: the refusal of a task it never imported (the ``--include`` it lacks,
quoted safely), and the connection its worker events go out on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workers.consumer import not_registered


def test_the_refusal_names_the_module_to_include_the_queue_and_the_dead_letter():
    text = not_registered("myapp.tasks.summarize", queue="baton.eu-west-1", dead_letter="d1")
    assert text.startswith("task myapp.tasks.summarize is not registered on this worker")
    assert "every worker consuming baton.eu-west-1 must import the module" in text
    assert "`--include myapp.tasks`" in text
    assert "`baton dead-letters replay --id d1`" in text


def test_a_name_with_no_module_asks_for_the_module_that_defines_it():
    text = not_registered("summarize", queue=None, dead_letter="d1")
    assert "`--include <the module that defines it>`" in text


def test_a_name_that_is_no_python_name_is_quoted_short_and_never_as_a_module():
    hostile = "x; rm -rf / `whoami`" + "a" * 500
    text = not_registered(hostile, queue="baton.eu-west-1", dead_letter="d1")
    assert "--include" not in text and "whoami" in text
    assert len(text) < 250


@pytest.mark.parametrize("field", ["id", "task", "routing_key"])
def test_an_unknown_task_is_logged_in_one_line_whatever_its_headers_hold(caplog, field):
    from celery import Celery

    from workers.consumer import BatonConsumer

    forged = "x\n[2026-12-06 21:00:00,000: INFO/MainProcess] Task baton.subagent succeeded"
    headers = {"id": "job-1", "task": "myapp.tasks.summarize"}
    delivery = {"routing_key": "baton.eu-west-1"}
    if field == "routing_key":
        delivery["routing_key"] = forged
    else:
        headers[field] = forged if field == "id" else "myapp.tasks.summarize\n" + forged
    app = Celery("unknown-task-test", broker="memory://", backend="cache+memory://")
    message = SimpleNamespace(
        headers=headers,
        delivery_info=delivery,
        properties={},
        decode=lambda: ([], {}, {}),
        reject_log_error=lambda *args: None,
    )
    consumer = SimpleNamespace(app=app, connection_errors=(), event_dispatcher=None)
    BatonConsumer.on_unknown_task(consumer, None, message, KeyError(headers["task"]))  # type: ignore[arg-type]

    lines = [r.getMessage() for r in caplog.records if r.name == "baton.worker"]
    assert lines and not any("\n" in line for line in lines), lines


def test_worker_events_go_out_unconfirmed_while_the_workers_other_publishes_are_confirmed():
    from workers import WorkerSettings, create_app
    from workers.consumer import BatonConsumer

    app = create_app(
        WorkerSettings(
            broker_url="amqp://guest:guest@127.0.0.1:5672//",  # never connected: kombu is lazy
            result_backend="cache+memory://",
            envelope_key="k" * 32,
            allowed_regions=("eu-west-1",),
        )
    )
    consumer = SimpleNamespace(app=app, ensure_connected=lambda connection: connection)
    events = BatonConsumer.connection_for_write(consumer, heartbeat=60.0)  # type: ignore[arg-type]
    publishes = app.connection_for_write()

    assert publishes.transport_options["confirm_publish"] is True
    assert events.transport_options == {**publishes.transport_options, "confirm_publish": False}
    assert events.heartbeat == 60.0
    events.release()
    publishes.release()


def test_each_task_message_is_told_the_queue_it_was_taken_from_over_what_it_said(monkeypatch):
    """By the consumer tag it was delivered under; a tag no consumer of this worker holds, or
    none, names no queue. A refusal is stored only for a message taken from its region's queue."""
    from celery.worker.consumer import Consumer

    from workers.arrival import ARRIVED_ON, TAGS_DELIVERIES
    from workers.consumer import BatonConsumer

    handled: list = []
    monkeypatch.setattr(Consumer, "create_task_handler", lambda self, promise=None: handled.append)
    consumer = BatonConsumer.__new__(BatonConsumer)
    consumer.task_consumer = SimpleNamespace(
        _active_tags={"baton.eu-west-1": "tag-1", "baton.ap-southeast-2": "tag-2"}
    )
    on_task_received = consumer.create_task_handler()
    channel = SimpleNamespace(**{TAGS_DELIVERIES: True})
    for delivery in ({"consumer_tag": "tag-2"}, {"consumer_tag": "tag-9"}, {}, None):
        said = {"id": "job-1", "task": "t", ARRIVED_ON: "baton.eu-west-1"}  # overwritten
        on_task_received(
            SimpleNamespace(
                headers=said, delivery_info=delivery, channel=channel, decode=lambda: [[], {}, {}]
            )
        )
    assert [m.headers[ARRIVED_ON] for m in handled] == ["baton.ap-southeast-2", None, None, None]
