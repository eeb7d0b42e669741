"""Which jobs wait for their Bedrock quota: a mark per waiting job, for ``baton status``."""

from __future__ import annotations

from typing import Any

from fleet.tickets import QuotaKey

#: A job waiting for admission is marked under this prefix, for ``baton status``.
WAITING_PREFIX = "baton:quota-wait:"
#: The mark outlives a crashed waiter by at most this long; a waiter renews it as it polls.
WAITING_MARK_SECONDS = 60


def waiting_key(job_id: str) -> str:
    """Return the key marking ``job_id`` as waiting for its quota."""
    return f"{WAITING_PREFIX}{job_id}"


def mark_waiting(client: Any, job_id: str, *, key: QuotaKey, rate: float) -> None:
    """Mark ``job_id`` as waiting for quota ``key`` held to ``rate`` calls a second."""
    client.set(waiting_key(job_id), f"{key} at {rate * 60:.1f} calls/min", ex=WAITING_MARK_SECONDS)


def waiting_for(client: Any, job_id: str) -> str | None:
    """Return what ``job_id`` waits for (its quota and rate), or None when it does not wait."""
    value = client.get(waiting_key(job_id))
    return value.decode() if isinstance(value, bytes) else value
