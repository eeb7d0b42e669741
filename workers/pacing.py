"""Every Bedrock call a job makes waits its turn under the fleet-wide governor (``fleet``).

The hooks sit where every client passes: botocore's ``before-sign`` and ``needs-retry`` events of
``bedrock-runtime``, once per attempt, registered by :func:`attach` on Baton's cached clients and
on the sessions ``bedrock_session()`` hands out (a client made from a session inherits its
handlers), so a user's client and a framework's are paced with Baton's own; and httpx event
hooks for the anthropic SDK (:func:`httpx_hooks`). Before an attempt is signed it is admitted
(the signature is then fresh however long it waited); after it, the attempt is settled: a 429
ThrottlingException cuts the fleet's rate, a success gives back unused tokens from ``usage``.

Waiting spends none of the job's retries: the attempt is not sent until admitted. The job's
lease and lock are renewed by background threads (``workers.delivery``), which a waiting
thread does not hold up. The wait is bounded by the job's own limits, its envelope's expiry and
its soft time limit, less :data:`CALL_MARGIN`; past them the call fails with
``AdmissionTimedOut``, naming the quota key and the rate. Outside a job, on a worker whose
results are not in Redis, or while that Redis does not answer (logged), calls are not paced:
pacing is not a gate, and without it a call behaves as it did before the governor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import redis

from fleet import (
    Outcome,
    QuotaKey,
    Ticket,
    input_tokens,
    mark_waiting,
    quota_key,
    request_tokens,
    used_tokens,
    waiting_key,
)
from workers import metrics
from workers.context import Job, current_job
from workers.delivery.guard import TASK_SOFT_TIME_LIMIT

logger = logging.getLogger("baton.worker")

#: Seconds kept back from a job's limits for the call itself, once admitted.
CALL_MARGIN = 30.0
#: A waiting call rewrites its mark for ``baton status`` this often (it lives a minute).
MARK_EVERY = 20.0
#: A call is marked waiting once it has waited this long: `baton status` is for waits of
#: seconds to minutes, and a thousand calls queued through a wide worker's slow start each wrote
#: a mark for a wait of a second or two.
MARK_AFTER = 2.0
#: How Bedrock's 429 begins when the tokens quota, not the requests quota, was hit ("Too many
#: tokens, please wait before trying again."; "Too many requests, ..." for the other).
TOO_MANY_TOKENS = "too many tokens"
#: Where an attempt's ticket waits for its settlement: botocore's per-call context dict.
_TICKET = "baton_ticket"
_HANDLERS = (
    ("before-sign.bedrock-runtime", "baton-pacing-admit"),
    ("needs-retry.bedrock-runtime", "baton-pacing-settle"),
)


def attach(events: Any) -> None:
    """Register the pacing hooks on a botocore event emitter (a client's or a session's).

    Registering twice is harmless (the handlers are registered by unique id), so a client built
    from a session that already has them is paced once.
    """
    handlers = {"baton-pacing-admit": before_sign, "baton-pacing-settle": after_attempt}
    for event, unique_id in _HANDLERS:
        events.register(event, handlers[unique_id], unique_id=unique_id)


def max_wait(job: Job, *, now: float | None = None, clock: float | None = None) -> float:
    """Return how long a call of ``job`` may wait: until its envelope expires or its soft time
    limit, whichever is first, less :data:`CALL_MARGIN`."""
    now = time.time() if now is None else now
    clock = time.monotonic() if clock is None else clock
    left = min(job.envelope.exp - now, job.started + TASK_SOFT_TIME_LIMIT - clock)
    return max(left - CALL_MARGIN, 0.0)


def admit(key: QuotaKey | None, body: Any) -> Ticket | None:
    """Wait for the running job's call on ``key`` to be admitted; None when it is not paced.

    Raises:
        AdmissionTimedOut: it would wait past the job's limits.
    """
    job = current_job()
    if key is None or job is None:
        return None
    governor = job.runtime.governor()
    if governor is None:
        return None
    quota = governor.quota(key)
    told: list[float] = []  # when the mark was last written
    asked = time.monotonic()

    def waiting(rate: float) -> None:
        if time.monotonic() - asked < MARK_AFTER:
            return
        if told and time.monotonic() - told[-1] < MARK_EVERY:
            return
        told.append(time.monotonic())
        metrics.quota_rate(key, rate)
        mark_waiting(governor.client, job.task_id, key=key, rate=rate)

    estimate, cap = request_tokens(body, max_output_tokens=quota.max_output_tokens)
    ticket: Ticket | None = None
    try:
        ticket = governor.admit(
            key,
            reserved_tokens=estimate + cap,
            input_estimate=estimate,
            max_wait=max_wait(job),
            on_wait=waiting,
            mark_key=waiting_key(job.task_id),  # the admission clears the mark
        )
    except redis.RedisError:
        logger.warning("the fleet's Redis did not answer: a call on quota %s is not paced", key)
        return None
    finally:
        if told and ticket is None:  # an admission clears the mark itself
            with contextlib.suppress(redis.RedisError):
                governor.client.delete(waiting_key(job.task_id))
    metrics.ADMISSION_SECONDS.labels(region=key.region).observe(ticket.waited)
    metrics.quota_rate(key, ticket.rate)
    return ticket


def settle(
    ticket: Ticket | None,
    *,
    status: int,
    code: str | None,
    used: int | None,
    counted_input: int | None = None,
    message: str | None = None,
) -> None:
    """Settle an attempt: ``throttled`` on 429 ThrottlingException (``throttled_tokens`` when
    its ``message`` says the tokens quota was hit), ``ok`` on success, else ``other`` (nothing
    used, the rate unchanged); ``counted_input``, the input Bedrock counted, calibrates the key's
    input estimate. Never raises: an observer logs."""
    if ticket is None:
        return
    throttled = code == "ThrottlingException"
    if throttled:
        metrics.throttled(ticket.key)
    outcome: Outcome = "ok" if 200 <= status < 300 else "other"
    if throttled:
        tokens = (message or "").lower().startswith(TOO_MANY_TOKENS)
        outcome = "throttled_tokens" if tokens else "throttled"
    job = current_job()
    governor = job.runtime.governor() if job is not None else None
    if governor is None:
        return
    try:
        settled = governor.settle(
            ticket, outcome=outcome, used_tokens=used, input_tokens=counted_input
        )
    except Exception:  # an observer: the call's own outcome must not change
        logger.warning("could not settle a Bedrock call on quota %s", ticket.key, exc_info=True)
        return
    if settled is not None:  # None: it went with another call's settlement
        metrics.quota_rate(ticket.key, settled.rate)


def before_sign(request: Any = None, region_name: str | None = None, **_: Any) -> None:
    """botocore ``before-sign``: admit the attempt, and keep its ticket in the call's context."""
    if request is None or not region_name:
        return
    key = quota_key(path=urlsplit(str(getattr(request, "url", ""))).path, region=region_name)
    ticket = admit(key, getattr(request, "body", None) or getattr(request, "data", None))
    context = getattr(request, "context", None)
    if ticket is not None and isinstance(context, dict):
        context[_TICKET] = ticket


def after_attempt(
    request_dict: Any = None, response: Any = None, caught_exception: Any = None, **_: Any
) -> None:
    """botocore ``needs-retry``: settle the attempt just made (returns None: botocore's own
    retry handler decides whether to retry)."""
    context = request_dict.get("context") if isinstance(request_dict, dict) else None
    ticket = context.pop(_TICKET, None) if isinstance(context, dict) else None
    if ticket is None:
        return
    if response is None:
        settle(ticket, status=0, code=type(caught_exception).__name__, used=None)
        return
    http_response, parsed = response
    error = parsed.get("Error") if isinstance(parsed, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    usage = parsed.get("usage") if isinstance(parsed, dict) else None
    if usage is not None:
        used, counted = used_tokens(usage), input_tokens(usage)
    else:
        used, counted = _header_tokens(http_response)
    status = int(getattr(http_response, "status_code", 0))
    message = error.get("Message") if isinstance(error, dict) else None
    settle(
        ticket,
        status=status,
        code=code,
        used=used,
        counted_input=counted,
        message=message if isinstance(message, str) else None,
    )


def _header_tokens(http_response: Any) -> tuple[int | None, int | None]:
    """InvokeModel's tokens used and input counted, from its ``X-Amzn-Bedrock-*-Token-Count``
    headers; (None, None) without them."""
    headers = getattr(http_response, "headers", None) or {}
    counts = [headers.get(f"X-Amzn-Bedrock-{kind}-Token-Count") for kind in ("Input", "Output")]
    if not all(isinstance(count, str) and count.isdigit() for count in counts):
        return None, None
    numbers = [int(str(count)) for count in counts]
    return sum(numbers), numbers[0]


def _error_message(response: Any) -> str | None:
    """The ``message`` of an httpx response's JSON error body (read here if not yet: an error's
    body is small), or None."""
    try:
        response.read()
        document = response.json()
    except Exception:  # an observer: a body that is not JSON says nothing
        return None
    message = document.get("message") if isinstance(document, dict) else None
    return message if isinstance(message, str) else None


def httpx_hooks() -> dict[str, list[Any]]:
    """httpx ``event_hooks`` pacing the anthropic SDK's requests as the botocore hooks do."""

    def on_request(request: Any) -> None:
        job = current_job()  # the anthropic client is pinned to the job's region
        region = job.envelope.region if job is not None else None
        ticket = admit(
            quota_key(path=request.url.raw_path.decode(), region=region), request.content
        )
        if ticket is not None:
            request.extensions[_TICKET] = ticket

    def on_response(response: Any) -> None:
        ticket = response.request.extensions.pop(_TICKET, None)
        code = response.headers.get("x-amzn-ErrorType", "").split(":", 1)[0] or None
        used, counted = _header_tokens(response)
        settle(
            ticket,
            status=response.status_code,
            code=code,
            used=used,
            counted_input=counted,
            message=_error_message(response) if code == "ThrottlingException" else None,
        )

    return {"request": [on_request], "response": [on_response]}


def async_httpx_hooks() -> dict[str, list[Any]]:
    """The same hooks for the async anthropic client: admission waits in a thread (with the
    job's context), so the event loop keeps serving the job's other coroutines meanwhile."""
    hooks = httpx_hooks()
    on_request, on_response = hooks["request"][0], hooks["response"][0]

    async def on_async_request(request: Any) -> None:
        await asyncio.to_thread(on_request, request)

    async def on_async_response(response: Any) -> None:
        if response.status_code == 429:  # its message says which quota; read here, not in a thread
            with contextlib.suppress(Exception):
                await response.aread()
        await asyncio.to_thread(on_response, response)

    return {"request": [on_async_request], "response": [on_async_response]}
