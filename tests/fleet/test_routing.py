"""The router: a message goes to its envelope's region queue, or is refused at publish."""

from __future__ import annotations

import pytest

from envelope import HEADER_KEY, EnvelopeMissing, encode
from fleet.routing import PROPAGATING, EnvelopeRouter
from tests.factories import keyring, make_envelope


def route(router: EnvelopeRouter, **options):
    return router("user.summarize", (), {}, options)


def test_the_envelope_in_the_options_decides_the_queue():
    token = encode(make_envelope(region="ap-southeast-2"), keyring=keyring())
    router = EnvelopeRouter(current=lambda: make_envelope(region="eu-west-1"))
    assert route(router, headers={HEADER_KEY: token}) == {"queue": "baton.ap-southeast-2"}


def test_without_a_header_the_current_envelope_decides():
    router = EnvelopeRouter(current=lambda: make_envelope(region="eu-central-1"))
    assert route(router) == {"queue": "baton.eu-central-1"}


def test_no_envelope_anywhere_is_refused_at_publish_naming_the_fix():
    router = EnvelopeRouter(current=lambda: None)
    with pytest.raises(EnvelopeMissing, match=r"user\.summarize .*propagating\(\)"):
        route(router)


def test_a_queue_named_outright_is_left_to_the_worker_gate():
    router = EnvelopeRouter(current=lambda: None)
    assert route(router, queue="baton.eu-west-1") is None


def test_a_worker_app_publish_inside_a_parent_block_is_routed_by_it():
    from workers import app

    envelope = make_envelope(region="eu-north-1")
    router = app.conf.task_routes[0]
    with pytest.raises(EnvelopeMissing):
        route(router)
    reset = PROPAGATING.set((envelope, "token"))
    try:
        assert route(router) == {"queue": "baton.eu-north-1"}
    finally:
        PROPAGATING.reset(reset)


def test_a_task_on_workers_app_published_with_no_envelope_fails_before_any_connection():
    from workers import app

    @app.task(name="tests.routing.summarize")
    def summarize(text: str) -> str:
        return text

    # Refused while routing: the broker (none need listen) is never asked.
    with pytest.raises(EnvelopeMissing, match=r"tests\.routing\.summarize was published with no"):
        summarize.delay("hello")
