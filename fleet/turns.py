"""One waiter per process and quota key talks to the governor's Redis; the others queue here.

A worker holding a thousand calls in flight under a rate lower than its demand had a thousand
calls polling the schedule, each at least once a second: at c250 on 4 s calls the worker spent
about 45 % of its CPU in those polls, and 14 ms of CPU a job against plain Celery's 7. Calls of
one process wait their turn behind a local lock instead, and only the call at the head looks at
the schedule; an admission hands the turn on at once, so the next call reserves its own start
without waiting for the previous one's sleep. Across processes the schedule in Redis stays the
one authority: this only takes a process's own queue off the network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fleet.tickets import QuotaKey


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
