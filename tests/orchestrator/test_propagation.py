"""The parent's publish hook touches Baton's own apps only, and binds what it attaches.

Producer-side only: the in-memory transport carries the messages, and a ``before_task_publish``
receiver connected after Baton's reads the headers as they go out.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish

from envelope import BINDING_KEY, HEADER_KEY


@pytest.fixture()
def orch() -> Iterator[Any]:
    from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app
    from orchestrator.propagation import disconnect

    settings = ProducerSettings(
        broker_url="memory://localhost/",
        result_backend="cache+memory://",
        envelope_key=secrets.token_urlsafe(32),  # type: ignore[arg-type]
    )
    app = producer_app(settings)
    yield Orchestrator(
        config=capture(environ={"AWS_REGION": "eu-west-1"}), settings=settings, app=app
    )
    close_producer(app)
    disconnect()  # the hook is process-wide: later tests start without it or this keyring


@pytest.fixture()
def sent() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def grab(headers: dict[str, Any] | None = None, **_: Any) -> None:
        seen.append(dict(headers or {}))

    before_task_publish.connect(grab, weak=False, dispatch_uid="tests.grab")
    yield seen
    before_task_publish.disconnect(grab, dispatch_uid="tests.grab")


def test_another_celery_apps_publish_inside_a_block_gets_no_envelope(orch, sent):
    other = Celery("someone-else", broker="memory://localhost/", set_as_current=False)
    try:
        with orch.propagating():
            other.send_task("their.task", kwargs={"x": 1})
    finally:
        other.close()
    assert len(sent) == 1
    assert HEADER_KEY not in sent[0] and BINDING_KEY not in sent[0]


def test_the_parents_own_publish_inside_a_block_carries_the_envelope_bound_to_it(orch, sent):
    with orch.propagating():
        orch.app.send_task("user.summarize", kwargs={"text": "hi"})
    assert sent[0][HEADER_KEY] and sent[0][BINDING_KEY]


def test_a_spawn_is_bound_too(orch, sent):
    orch.spawn("hello")
    assert sent[0][HEADER_KEY] and sent[0][BINDING_KEY]


def test_disconnect_removes_the_hook_so_a_publish_carries_nothing(orch, sent):
    from orchestrator.propagation import disconnect

    disconnect()
    with orch.propagating():
        orch.app.send_task("user.summarize", kwargs={"text": "hi"})
    assert HEADER_KEY not in sent[0] and BINDING_KEY not in sent[0]
