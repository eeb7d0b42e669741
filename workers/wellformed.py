"""Whether a task message is one Celery can take in without storing anything or stopping.

Celery's consumer trusts a task message's shape before any check of Baton's runs. A body or a
header of the wrong shape raised inside Celery's strategy, in the worker's main process, where
an exception stops the worker ("Unrecoverable error"); the message went back to its queue, and
stopped the next worker too. An ETA that overflows the clock made Celery store the failure under
the id the message names, and fail its chain and count it into the chord its ``group`` header
names; arguments that are not a list made the tracer store a failure before the gate ran. Anyone
who writes the broker could send any of these, with no key.

So the consumer asks :func:`problem` first, and a message it describes is dead-lettered and
stores nothing (``workers.consumer``). Every Baton publisher sends protocol 2 with a body of
``[args, kwargs, embed]``, ISO 8601 ``eta`` and ``expires`` with a time zone, and ``timelimit``
as two numbers or nulls: none of its messages has a problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from celery.utils.time import maybe_iso8601, to_utc


def problem(message: Any) -> str | None:
    """What makes ``message`` (a kombu task message) one Celery would fail on or store under its
    id, or None when it is well formed."""
    headers = message.headers
    if not (
        isinstance(headers, dict)
        and isinstance(headers.get("task"), str)
        and isinstance(headers.get("id"), str)
    ):  # not protocol 2: Celery would read protocol 1's id, and all else, from its body
        return "it has no string task and id headers"
    return _headers_problem(headers) or _body_problem(message)


def _headers_problem(headers: Mapping[str, Any]) -> str | None:
    for name in ("eta", "expires"):
        if (why := _when_problem(headers.get(name))) is not None:
            return f"its {name} header {why}"
    limits = headers.get("timelimit")
    if limits is not None and not (
        isinstance(limits, list | tuple)
        and len(limits) == 2
        and all(_number_or_none(limit) for limit in limits)
    ):
        return "its timelimit header is not two numbers or nulls"
    retries = headers.get("retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)):
        return "its retries header is not a whole number"
    return None


def _body_problem(message: Any) -> str | None:
    try:
        body = message.decode()
    except Exception as exc:  # Celery would drop it too; kept here, with why
        return f"its body cannot be decoded ({type(exc).__name__})"
    if not (isinstance(body, list | tuple) and len(body) == 3):
        return "its body is not [args, kwargs, embed]"
    args, kwargs, embed = body
    if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping):
        return "its body's args are not a list, or its kwargs not a mapping"
    if embed is not None and not isinstance(embed, Mapping):
        return "its body's embedded signatures are not a mapping"
    return None


def _when_problem(value: object) -> str | None:
    """Why an ``eta`` or ``expires`` header would make Celery fail, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "is not an ISO 8601 text"
    try:
        when = maybe_iso8601(value)
        if isinstance(when, datetime):
            to_utc(when).timestamp()  # Celery's ETA timer and expiry both convert it
            when.astimezone().timestamp()
    except (ValueError, OverflowError, OSError):
        return "is not a time the worker's clock can hold"
    return None


def _number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
