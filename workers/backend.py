"""The result backend's Redis, as Baton's own bookkeeping uses it: found once, called with retries.

Celery's Redis backend builds its connections without a retry policy, so a connection dropped in
the middle of a command (a Redis failover, a ``CLIENT KILL``, a restart) raises at once.
Celery's own reads and writes retry with ``result_backend_always_retry`` (set in
:func:`envelope.transport.celery_settings`); Baton's lock, budget and hand-off calls go through
:func:`retried`, so a job that has already called Bedrock is not lost over one dropped
connection. Every call retried this way is idempotent, or errs on the safe side when repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

T = TypeVar("T")

#: Up to 20 retries, waiting a random 0-10 ms, 0-20 ms ... and at most 2 s between them: about
#: 15 s in all, enough for a Redis restart or failover, bounded so a dead Redis still fails a job.
RETRIES = 20
BACKOFF_BASE_SECONDS = 0.01
BACKOFF_CAP_SECONDS = 2.0

_RETRY = Retry(
    ExponentialWithJitterBackoff(base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS),
    retries=RETRIES,
)


def backend_redis(backend: Any) -> redis.Redis | None:
    """Return the result backend's Redis client, or None when results live elsewhere."""
    client = getattr(backend, "client", None)
    return client if isinstance(client, redis.Redis) else None


def retried(call: Callable[[], T], *, retry: Retry = _RETRY) -> T:
    """Return ``call()``, calling it again while it raises a connection or timeout error.

    redis-py has already dropped the failed connection, so each attempt starts on a fresh one.
    """
    return retry.call_with_retry(call, _forget)


def _forget(error: Exception) -> None:
    """Nothing to undo between attempts: the failed connection is already out of the pool."""
