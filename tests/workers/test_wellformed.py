"""What the consumer refuses before Celery takes a message in: shapes that stopped the worker in
Celery's strategy or made it store a failure under the ids they name. A real worker fed them is
in tests/integration/test_review_holes.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from workers.wellformed import problem

GOOD_HEADERS = {"id": "job-1", "task": "baton.subagent", "timelimit": [None, None], "retries": 0}


def message(body: Any = ([], {"prompt": "hi"}, {}), **headers: Any) -> SimpleNamespace:
    return SimpleNamespace(headers={**GOOD_HEADERS, **headers}, decode=lambda: body)


def undecodable() -> SimpleNamespace:
    def decode() -> Any:
        raise ValueError("not JSON")

    return SimpleNamespace(headers=GOOD_HEADERS, decode=decode)


@pytest.mark.parametrize(
    "honest",
    [
        message(),
        message(body=[[1, "a"], {}, None]),
        message(eta="2026-12-07T12:00:00.123456+00:00", expires="2026-12-08T12:00:00+00:00"),
        message(eta="2026-12-07T12:00:00"),  # naive, as Celery's own protocol allows
        message(timelimit=[30, 25.5], retries=3),
    ],
)
def test_what_a_baton_publisher_sends_has_no_problem(honest):
    assert problem(honest) is None


@pytest.mark.parametrize(
    ("malformed", "why"),
    [
        (message(body=5), "its body is not [args, kwargs, embed]"),
        (message(body={"a": 1}), "its body is not [args, kwargs, embed]"),
        (message(body=[5, {}, {}]), "its body's args are not a list"),
        (message(body=[[], [], {}]), "its body's args are not a list, or its kwargs not a mapping"),
        (message(body=[[], {}, 5]), "its body's embedded signatures are not a mapping"),
        (message(timelimit="abc"), "its timelimit header is not two numbers or nulls"),
        (message(timelimit=[True, None]), "its timelimit header is not two numbers or nulls"),
        (message(retries="2"), "its retries header is not a whole number"),
        (message(eta="9999-12-31T23:59:59-14:00"), "its eta header is not a time the worker's"),
        (message(eta="0001-01-01T00:00:00+14:00"), "its eta header is not a time the worker's"),
        (message(expires="yesterday"), "its expires header is not a time the worker's"),
        (message(expires=1_700_000_000), "its expires header is not an ISO 8601 text"),
        (undecodable(), "its body cannot be decoded (ValueError)"),
    ],
)
def test_each_shape_celery_fails_on_is_named(malformed, why):
    assert str(problem(malformed)).startswith(why)
