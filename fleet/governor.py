"""The fleet-wide governor: every Bedrock call of every worker waits its turn under one rate.

Bedrock's quotas are per account, region and model, so a fleet pacing each job on its own
hammers them: at a 10-a-second quota, 2 workers x 50 slots lost 218 of 400 subagents to 429s.
The governor keeps one schedule per quota key (source region + model or inference-profile ID
called) in the fleet's Redis, the result backend every worker already uses (the broker may be
RabbitMQ; the result backend is always Redis), and each step is one Lua script
(:mod:`fleet.governor_lua`).

- **It obeys configuration.** Where :class:`~fleet.quotas.QuotaTable` knows a key's requests or
  tokens per minute, calls start no faster than :data:`HEADROOM` of them; what is configured is
  never learned. Tokens are counted as Bedrock counts them: a bucket holding a minute's quota,
  from which a call reserves its input plus ``maxTokens`` (or the model's maximum) when admitted;
  the unused part goes back when the call settles from its ``usage``. The input is estimated from
  the request's text, then calibrated per key against what Bedrock counted (``usage``), so a
  reservation comes to Bedrock's own. A call the bucket holds back blocks on the key's wake list,
  which a settlement that gives tokens back (or an admission that leaves enough for another call)
  pushes to: it tries again at once, not at its next look.
- **It learns without configuration** (:mod:`fleet.learning`): a key with no requests quota
  configured is paced by a rate learned from Bedrock's "Too many requests" and what it delivered;
  a key with no tokens quota configured learns one from "Too many tokens", and from then on its
  calls reserve and settle against a bucket of that size, as configured ones do.

A call waits for admission; it does not fail and spends none of its retries. Starts within
:data:`HORIZON` are reserved; a call further out polls, at most every :data:`MAX_POLL` seconds
(:data:`TOKEN_POLL` for one the tokens bucket holds back, which is also woken). Only one call a
process and key looks at a time (:mod:`fleet.turns`); the others queue behind it, locally. A call
the tokens bucket holds back is never admitted ahead: a settlement may give tokens back before the
refill would, and a call asleep until its reserved start would not notice.
A call that would wait past ``max_wait`` fails with :class:`~fleet.errors.AdmissionTimedOut`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from fleet.governor_lua import ADMIT
from fleet.learning import (
    ALPHA,
    BETA,
    CUT_SPACING,
    INITIAL_RATE,
    MAX_RATE,
    MIN_RATE,
    PROBE_FLOOR,
    learning_args,
)
from fleet.ledger_lua import run_script
from fleet.quotas import ModelQuota, QuotaTable
from fleet.settlements import Settlements
from fleet.tickets import Outcome, QuotaKey, Settled, Ticket
from fleet.turns import Turns, queue_patience, still_waiting

#: Pace to just under a configured quota: the last 2 % absorbs the jitter between the moment a
#: call is let through and the moment Bedrock counts it.
HEADROOM = 0.98
#: A tokens quota is a bucket holding this many seconds of it: Bedrock's quota is per minute.
TOKEN_BUCKET_SECONDS = 60.0
#: A start this close is reserved, and the caller sleeps until it.
HORIZON = 0.5
#: How far ahead of the schedule a call may start after a pause (GCRA's tolerance): half a
#: second's worth of the rate at once, within Bedrock's per-minute quota. Never more than one
#: second of the rate less one call, so a quota that holds a second's worth is never exceeded:
#: under a rate of one call a second or less, no burst at all.
BURST_SECONDS = 0.5
#: The longest a waiting call sleeps between two looks at the schedule.
MAX_POLL = 1.0
#: The longest a call the tokens bucket holds back blocks on the wake list before it looks
#: again: settlements wake it when they give tokens back, so this only bounds a missed wake
#: (woken for tokens another waiter took first).
TOKEN_POLL = 0.5
#: Wakes kept for waiters not yet blocking (the rest are dropped): a spare wake costs one look.
WAKE_DEPTH = 8
#: How far one call's input count moves the calibration of a key's input estimate down (up, it
#: moves at once: a reservation smaller than Bedrock's is the risk, a larger one only slows).
CALIBRATION_WEIGHT = 0.2
#: A key's state outlives a day without calls: the learned rate is kept meanwhile.
STATE_TTL_SECONDS = 86_400


class Governor:
    """Admit and settle calls against the fleet-wide schedule of each quota key.

    Args:
        client: the fleet's Redis (a redis-py client).
        quotas: the quotas operators configured (``BATON_BEDROCK_QUOTAS``).
        sleep: how to wait (``time.sleep``; gevent patches it).
        cut_spacing: the fewest seconds between two cuts of a key's rate.
        turns: the process's local queue of waiting calls (one a process: the worker's
            runtime passes its own; a new one by default).
        settlements: the process's queue of settlements (:mod:`fleet.settlements`; likewise).
    """

    def __init__(
        self,
        client: Any,
        *,
        quotas: QuotaTable | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cut_spacing: float = CUT_SPACING,
        turns: Turns | None = None,
        settlements: Settlements | None = None,
    ) -> None:
        self._client = client
        self.quotas = quotas or QuotaTable({})
        self._sleep = sleep
        self._cut_spacing = cut_spacing
        self._turns = turns or Turns()
        self._settlements = settlements or Settlements()

    def quota(self, key: QuotaKey) -> ModelQuota:
        """Return the configured quota of ``key`` (or the unknown one)."""
        return self.quotas.lookup(region=key.region, model_id=key.model_id)

    def admit(
        self,
        key: QuotaKey,
        *,
        reserved_tokens: int,
        max_wait: float,
        on_wait: Callable[[float], None] | None = None,
        input_estimate: int = 0,
        mark_key: str | None = None,
    ) -> Ticket:
        """Wait until ``key``'s schedule lets a call start, and reserve its start and tokens.

        Args:
            key: the quota the call draws on.
            reserved_tokens: input tokens plus the output cap, as Bedrock reserves them.
            max_wait: seconds the caller's limits allow it to wait.
            on_wait: called with the rate before each sleep of a call that waits beyond the
                horizon (to mark it waiting, and keep the mark alive).
            input_estimate: the part of ``reserved_tokens`` that estimates the input, which the
                key's calibration scales to what Bedrock counts (0: none, reserved as given).
            mark_key: the call's waiting mark (:mod:`fleet.waiting`), cleared by the admission
                itself, in its round trip.

        Raises:
            AdmissionTimedOut: the call's start would fall after ``max_wait``; nothing reserved.
        """
        ceiling, per_token = self._limits(key)
        begun = time.monotonic()
        while True:
            patience = queue_patience(begun=begun, max_wait=max_wait)
            with self._turns.head(key, timeout=patience) as head:
                if not head:  # calls ahead of this one in this process wait: so does it
                    rate_seen = self._turns.rates.get(key)
                    still_waiting(
                        key, rate_seen, wait=0.0, begun=begun, max_wait=max_wait, on_wait=on_wait
                    )
                    continue
                slot, wait, rate, bound, cost = self._try(
                    key, reserved_tokens, input_estimate, ceiling, per_token, mark_key=mark_key
                )
                self._turns.rates[key] = rate
                if slot is not None:
                    break
                still_waiting(key, rate, wait=wait, begun=begun, max_wait=max_wait, on_wait=on_wait)
                self._pause(key, wait, bound=bool(bound))
        waited = time.monotonic() - begun + wait
        if wait > 0:
            self._sleep(wait)
        return Ticket(key, slot[0], slot[1], cost, waited, rate, input_estimate, slot[2])

    def _pause(self, key: QuotaKey, wait: float, *, bound: bool) -> None:
        """Sleep before the next look (at the head of the queue, so those behind do not look):
        woken by a settlement when tokens hold the call back, else a poll."""
        if bound:
            self._await_tokens(key, min(wait, TOKEN_POLL * random.uniform(0.5, 1)))
        else:
            self._sleep(min(wait - HORIZON, MAX_POLL) * random.uniform(0.5, 1.0))

    def settle(
        self,
        ticket: Ticket,
        *,
        outcome: Outcome,
        used_tokens: int | None,
        input_tokens: int | None = None,
    ) -> Settled | None:
        """Record how a call ended: give back unused tokens (waking a waiter), grow or cut the
        rate, calibrate the key's input estimate. A success (or an error Bedrock did not count)
        that ends while another settlement of the process is in flight goes with the next
        round trip, and returns None; a throttle goes at once (:mod:`fleet.settlements`).

        Args:
            ticket: what :meth:`admit` returned.
            outcome: ``ok``, ``throttled`` (429 ThrottlingException, "Too many requests" or a
                message not known), ``throttled_tokens`` (429 "Too many tokens": the tokens
                quota, learned where none is configured) or ``other`` (an error Bedrock does not
                count: nothing used, the rate unchanged).
            used_tokens: what the call used (input, cache, output); None when unknown, which
                keeps the whole reservation.
            input_tokens: the input Bedrock counted (input and cache), to calibrate the input
                estimate with; None when unknown.
        """
        ceiling, per_token = self._limits(ticket.key)
        used = ticket.reserved_tokens if used_tokens is None else used_tokens
        if outcome != "ok":
            used = 0
        # fmt: off
        args = [
            outcome, repr(ticket.admitted), ticket.reserved_tokens - used, per_token, ceiling,
            self._initial(ceiling, per_token), MIN_RATE, MAX_RATE, BETA, ALPHA,
            STATE_TTL_SECONDS, TOKEN_BUCKET_SECONDS, self._cut_spacing, ticket.input_estimate,
            -1 if input_tokens is None else input_tokens, CALIBRATION_WEIGHT, WAKE_DEPTH,
            *_learning_args(ticket),
        ]
        # fmt: on
        entry = ([ticket.key.redis_key, ticket.key.wake_key], args)
        urgent = outcome in ("throttled", "throttled_tokens")
        answer = self._settlements.send(self._client, entry, urgent=urgent)
        return None if answer is None else Settled(bool(int(answer[0])), float(answer[1]))

    @property
    def client(self) -> Any:
        """Return the Redis client the schedule lives in."""
        return self._client

    def rate(self, key: QuotaKey) -> float | None:
        """Return the rate (calls a second) the fleet is held to for ``key``; None if unused."""
        value = self._client.hget(key.redis_key, "rate")
        return None if value is None else float(value)

    def _await_tokens(self, key: QuotaKey, timeout: float) -> None:
        """Block until a settlement wakes this call (one wake, one waiter, first come first
        served), or for ``timeout`` seconds; each thread or greenlet blocks on a connection of
        its own from the client's pool."""
        self._client.blpop([key.wake_key], timeout=max(timeout, 0.01))

    def _try(
        self,
        key: QuotaKey,
        reserved_tokens: int,
        input_estimate: int,
        ceiling: float,
        per_token: float,
        *,
        mark_key: str | None,
    ) -> tuple[tuple[float, float, float] | None, float, float, bool, int]:
        """Run one admission step: (admitted at, start, spent before) or None (not yet), the
        wait, the rate, whether the tokens bucket is what holds the call back, and the
        reservation."""
        admitted, wait, rate, start, now, bound, cost, spent = run_script(
            self._client,
            ADMIT,
            [key.redis_key, key.wake_key, *([mark_key] if mark_key else [])],
            [
                reserved_tokens,
                HORIZON,
                ceiling,
                per_token,
                self._initial(ceiling, per_token),
                STATE_TTL_SECONDS,
                TOKEN_BUCKET_SECONDS,
                BURST_SECONDS,
                input_estimate,
                WAKE_DEPTH,
                MAX_RATE,
            ],
        )
        slot = (float(now), float(start), float(spent)) if int(admitted) else None
        return slot, float(wait), float(rate), bool(int(bound)), int(cost)

    def _limits(self, key: QuotaKey) -> tuple[float, float]:
        """Return the configured calls and tokens a second to pace to (0: not configured)."""
        quota = self.quota(key)
        requests = quota.requests_per_minute
        tokens = quota.tokens_per_minute
        return (
            requests * HEADROOM / 60 if requests else 0.0,
            tokens * HEADROOM / 60 if tokens else 0.0,
        )

    @staticmethod
    def _initial(ceiling: float, per_token: float) -> float:
        """The rate a key starts at: its requests quota; unbounded where only its tokens quota
        is known (tokens pace it); else :data:`INITIAL_RATE`."""
        if ceiling > 0:
            return ceiling
        return MAX_RATE if per_token > 0 else INITIAL_RATE


def _learning_args(ticket: Ticket) -> list[float | str]:
    """The settle script's arguments for learning (:mod:`fleet.learning`): its figures, then what
    the ticket says of its call's admission (the spending it found, its start, its rate)."""
    return [
        *learning_args(),
        repr(ticket.spent),
        repr(ticket.started),
        repr(ticket.rate),
        PROBE_FLOOR,
    ]
