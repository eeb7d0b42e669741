"""Celery's chord scripts as Baton's backend amends them, on fakeredis: a chord's last part whose
script ran but whose reply was lost, and was sent again, still calls the chord back.

The same fault on a real connection, dropped by a proxy, is in tests/workers/test_backend.py
(integration); here the client runs the script twice and hands back the second answer, which is
what a resend after a lost reply does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.app.task import Context
from celery.backends.redis import CHORD_PART_RETURN_LUA

from tests.support.fake_redis import FakeRedisServer
from workers.delivery.backend import BatonRedisBackend, chord_safe


@pytest.fixture(params=[True, False], ids=["baton", "celery-control"])
def app(request: pytest.FixtureRequest, fake_redis: FakeRedisServer) -> Iterator[Celery]:
    """A Celery app whose result backend is Baton's, or Celery's own (the control)."""
    url = fake_redis.url(1)
    app = Celery(
        "chord-test", broker=fake_redis.url(0), backend=chord_safe(url) if request.param else url
    )
    assert isinstance(app.backend, BatonRedisBackend) is request.param
    yield app
    app.backend.client.close()
    app.close()


def chord_of_one(app: Celery, group_id: str) -> Any:
    """A chord of one part, set up as Celery's apply_chord leaves it; returns the part's request."""
    app.backend.set_chord_size(group_id, 1)
    callback = app.signature("chord-test.callback", queue="callbacks")
    return Context(id=f"{group_id}-part", group=group_id, group_index=0, chord=dict(callback))


def lose_the_next_reply(client: Any) -> None:
    """Make the next script call run twice on the server and answer with its second run."""
    evalsha = client.evalsha

    def sent_again(*args: Any) -> Any:
        client.evalsha = evalsha
        evalsha(*args)  # ran; its reply was lost with the connection
        return evalsha(*args)

    client.evalsha = sent_again


def test_a_chords_last_part_calls_back_once(app, fake_redis):
    request = chord_of_one(app, "group-once")

    app.backend.on_chord_part_return(request, "SUCCESS", {"text": "part"})

    assert fake_redis.client(0).llen("callbacks") == 1


def test_a_last_part_whose_reply_was_lost_still_calls_back(app, fake_redis):
    """Baton's backend sends the callback; Celery's own, the control, loses the chord."""
    request = chord_of_one(app, "group-lost-reply")
    app.backend.client.script_load(CHORD_PART_RETURN_LUA)  # so the lost reply is the script's

    lose_the_next_reply(app.backend.client)
    app.backend.on_chord_part_return(request, "SUCCESS", {"text": "part"})

    baton = isinstance(app.backend, BatonRedisBackend)
    assert fake_redis.client(0).llen("callbacks") == (1 if baton else 0)
