"""The lease keeper: one thread per consuming process that keeps its messages' leases fresh.

Every quarter of the lease window it stamps each message its channels hold as fresh in kombu's
unacknowledged index and runs the recovery pass when due (:mod:`workers.delivery.recovery`). In a
gevent-patched worker the thread is a greenlet, and its Redis calls yield to the hub.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any

logger = logging.getLogger("baton.worker")

#: Lease stamps per lease window: a worker misses three before its messages are taken back.
BEATS_PER_WINDOW = 4


def lease_timings(window: float) -> tuple[float, float]:
    """How often a worker stamps its leases and runs a pass, and the ledger's grace period."""
    every = window / BEATS_PER_WINDOW
    return every, max(window / 2, 2 * every)


class LeaseKeeper:
    """One daemon thread per consuming process: renews leases and runs passes when due."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._held: weakref.WeakSet[Any] = weakref.WeakSet()
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def hold(self, qos: Any) -> None:
        """Renew the leases of ``qos`` and run its passes until :meth:`drop`."""
        with self._mutex:
            self._held.add(qos)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="baton-leases", daemon=True)
                self._thread.start()

    def drop(self, qos: Any) -> None:
        """Stop renewing the leases of ``qos``: its channel closed, its messages go back."""
        with self._mutex:
            self._held.discard(qos)

    def _run(self) -> None:
        while True:
            with self._mutex:
                held = list(self._held)
            every = min((lease_timings(qos.window)[0] for qos in held), default=1.0)
            for qos in held:
                try:
                    if not qos.channel.closed:
                        qos.renew()
                        qos.maintain()
                except Exception as exc:  # Redis away: the next beat tries again
                    logger.warning("could not renew leases or run a recovery pass: %s", exc)
            self._wake.wait(every)


#: The process's keeper.
keeper = LeaseKeeper()
