"""One waiter per process and quota key talks to the governor's Redis; the others queue here.

A worker holding a thousand calls in flight under a rate lower than its demand had a thousand
calls polling the schedule, each at least once a second: at c250 on 4 s calls the worker spent
about 45 % of its CPU in those polls, and 14 ms of CPU a job against plain Celery's 7. Calls of
one process wait their turn behind a local lock instead, and only the call at the head looks at
the schedule; an admission hands the turn on at once, so the next call reserves its own start
without waiting for the previous one's sleep. Across processes the schedule in Redis stays the
one authority: this only takes a process's own queue off the network.

A queued call wakes to look at its own limits (and write its waiting mark) every
:data:`QUEUE_POLL` seconds, not every second: through a gevent worker's slow start at c1000, a
thousand queued greenlets each woke every second, timed out of the lock and queued again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fleet.errors import AdmissionTimedOut
from fleet.tickets import QuotaKey

#: How often a call queued behind others wakes to look at its limits: within its waiting mark's
#: refresh (``workers.pacing.MARK_EVERY``), and never past its own limit.
QUEUE_POLL = 5.0


class Turns:
    """A lock a quota key in this process (under gevent, ``threading`` is patched, so a lock
    makes greenlets wait, not threads), and the last rate the head of its queue saw."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[QuotaKey, threading.Lock] = {}
        self.rates: dict[QuotaKey, float] = {}

    def _lock(self, key: QuotaKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def head(self, key: QuotaKey, *, timeout: float) -> Iterator[bool]:
        """Hold the head of ``key``'s queue for the block; yields False when ``timeout``
        seconds passed first (the block then runs without it, and must not look)."""
        lock = self._lock(key)
        held = lock.acquire(timeout=max(timeout, 0.0))
        try:
            yield held
        finally:
            if held:
                lock.release()


def queue_patience(*, begun: float, max_wait: float) -> float:
    """How long a queued call that began at ``begun`` waits for its turn before it looks again."""
    return max(min(QUEUE_POLL, max_wait - (time.monotonic() - begun)), 0.01)


def still_waiting(
    key: QuotaKey,
    rate: float | None,
    *,
    wait: float,
    begun: float,
    max_wait: float,
    on_wait: Callable[[float], None] | None,
) -> None:
    """Give up when the call's start would fall past ``max_wait``; else say it waits."""
    elapsed = time.monotonic() - begun
    if elapsed + wait > max_wait:
        raise AdmissionTimedOut(_timed_out(key, rate or 0.0, wait, elapsed, max_wait))
    if on_wait is not None and rate is not None:
        on_wait(rate)


def _timed_out(key: QuotaKey, rate: float, wait: float, elapsed: float, max_wait: float) -> str:
    return (
        f"the call to {key.model_id} in {key.region} waited {elapsed:.0f} s for its Bedrock "
        f"quota and would start {wait:.0f} s later, past this job's limit of {max_wait:.0f} s; "
        f"the fleet is held to {rate * 60:.1f} calls a minute on quota {key}. Raise the quota "
        "(and BATON_BEDROCK_QUOTAS), spread the work over time, or give the job longer limits"
    )
