"""A process's settlements go to the governor's Redis together: one round trip for many calls.

A settlement's answer (the rate now) is only a metric to the call that ended, so a call need not
wait for its own. While one settlement of a process is on its way, those that end meanwhile
queue here and the one in flight sends them all in one script when it comes back (a group
commit): a worker running one call at a time sends each at once, as before, and a wide one
(bench (g): a gevent worker at c1000 spent about 10 % of its CPU settling, one round trip a call)
sends one for many. A throttle never queues: its cut must be in Redis before the call's retry
asks to start again, so it goes at once, with whatever is queued, and returns its own answer.

Every governor of a process talks to the same Redis (the result backend's), whichever client a
thread or greenlet holds, so one queue a process serves them all; entries that fail to send
are lost as a failed settlement always was (the bucket refills, the rate grows on the next).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fleet.governor_lua import SETTLE_MANY
from fleet.ledger_lua import run_script

#: One settlement: its two keys (state, wake list) and its arguments.
Entry = tuple[list[Any], list[Any]]
#: The most settlements one script takes (its argument list stays a few thousand values).
MAX_BATCH = 100


class Settlements:
    """The settlements of one process waiting for the one in flight (``threading`` locks make
    greenlets wait under gevent, as they make threads wait)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._queued: list[Entry] = []
        self._in_flight = False
        #: Round trips sent and settlements they carried, for the benchmark and the tests.
        self.sent = 0
        self.carried = 0

    def send(self, client: Any, entry: Entry, *, urgent: bool) -> tuple[Any, Any] | None:
        """Settle ``entry``: its answer (cut, rate), or None when it queued behind the
        settlement in flight, which sends it. ``urgent`` (a throttle) sends at once."""
        with self._guard:
            if self._in_flight and not urgent:
                self._queued.append(entry)
                return None
            self._in_flight = self._in_flight or not urgent
        if not urgent:
            time.sleep(0)  # calls ending at the same moment (one gevent loop turn) queue first
        with self._guard:
            batch = [*self._take(MAX_BATCH - 1), entry]
        try:
            answer = self._run(client, batch)[-1]
            if not urgent:
                self._drain(client)
        except BaseException:
            if not urgent:
                with self._guard:
                    self._in_flight = False
            raise
        return answer[0], answer[1]

    def _take(self, count: int) -> list[Entry]:
        batch, self._queued = self._queued[:count], self._queued[count:]
        return batch

    def _drain(self, client: Any) -> None:
        """Send what queued while this settlement was in flight; the queue is empty when the
        flight ends (under the guard, so nothing queues behind a flight that is over)."""
        while True:
            with self._guard:
                batch = self._take(MAX_BATCH)
                if not batch:
                    self._in_flight = False
                    return
            self._run(client, batch)

    def _run(self, client: Any, batch: list[Entry]) -> list[Any]:
        keys = [key for entry_keys, _ in batch for key in entry_keys]
        width = len(batch[0][1])
        args = [width, *(arg for _, entry_args in batch for arg in entry_args)]
        self.sent += 1
        self.carried += len(batch)
        answers: list[Any] = run_script(client, SETTLE_MANY, keys, args)
        return answers
