"""The fleet-wide governor: every Bedrock call of every worker waits its turn under one rate.

Bedrock's quotas are per account, region and model, so a fleet pacing each job on its own
hammers them: at a 10-a-second quota, 2 workers x 50 slots lost 218 of 400 subagents to 429s.
The governor keeps one schedule per quota key (source region + model or inference-profile ID
called) in the fleet's Redis, the result backend every worker already uses (the broker may be
RabbitMQ; the result backend is always Redis), and each step is one Lua script
(:mod:`fleet.governor_lua`).

- **It obeys configuration.** Where :class:`~fleet.quotas.QuotaTable` knows a key's requests
  or tokens per minute, calls start no faster than :data:`HEADROOM` of them. Tokens are
  counted as Bedrock counts them: a bucket holding a minute's quota, from which a call reserves
  its input plus ``maxTokens`` (or the model's maximum) when admitted; the unused part goes
  back when the call settles from its ``usage``.
- **It learns without configuration.** A key with no quota configured starts at
  :data:`INITIAL_RATE` calls a second and grows by one a success (slow start) until Bedrock first
  throttles. A throttle cuts the fleet's rate to what Bedrock delivered in the last second (at most
  0.95 of the rate), but never below :data:`BETA` of it, and only once per congestion: throttles of
  calls admitted before the last cut are the same congestion, not a new one, so a hundred throttled
  jobs cut the rate once, not a hundred times. After that it probes up by :data:`ALPHA` calls a
  second each second.

A call waits for admission; it does not fail and spends none of its retries. Starts within
:data:`HORIZON` are reserved; a call further out polls, at most every :data:`MAX_POLL` seconds.
A call that would wait past ``max_wait`` fails with :class:`~fleet.errors.AdmissionTimedOut`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fleet.errors import AdmissionTimedOut
from fleet.governor_lua import ADMIT, SETTLE
from fleet.ledger_lua import run_script
from fleet.quotas import ModelQuota, QuotaTable

#: Pace to just under a configured quota: the last 2 % absorbs the jitter between the moment a
#: call is let through and the moment Bedrock counts it.
HEADROOM = 0.98
#: A tokens quota is a bucket holding this many seconds of it: Bedrock's quota is per minute.
TOKEN_BUCKET_SECONDS = 60.0
#: Calls a second an unknown key starts at: below the default requests quotas of most models
#: (a few hundred a minute); slow start doubles it about every round trip.
INITIAL_RATE = 4.0
#: The rate never falls below one call in 20 s, so a key always recovers.
MIN_RATE = 0.05
#: Nor rises above this many calls a second.
MAX_RATE = 10_000.0
#: A throttle cuts the rate to what Bedrock delivered in the last second, but never below this
#: share of itself: after slow start the delivered count lags a round trip behind.
BETA = 0.7
#: Calls a second added each second after the first throttle.
ALPHA = 0.5
#: At most one cut in this many seconds: Bedrock's quotas are per minute, and a throttle that is
#: not the quota's (a fault, another tenant's burst) must not cut the rate at every call.
CUT_SPACING = 1.0
#: A start this close is reserved, and the caller sleeps until it.
HORIZON = 0.5
#: How far ahead of the schedule a call may start after a pause (GCRA's tolerance): half a
#: second's worth of the rate at once, within Bedrock's per-minute quota. Never more than one
#: second of the rate less one call, so a quota that holds a second's worth is never exceeded:
#: under a rate of one call a second or less, no burst at all.
BURST_SECONDS = 0.5
#: The longest a waiting call sleeps between two looks at the schedule.
MAX_POLL = 1.0
#: How often a call the tokens bucket holds back looks again: a settlement can give back tokens
#: at any moment, and a late look leaves them unused.
TOKEN_POLL = 0.2
#: A key's state outlives a day without calls: the learned rate is kept meanwhile.
STATE_TTL_SECONDS = 86_400
#: Every state key starts with this.
KEY_PREFIX = "baton:quota:"
#: A job waiting for admission is marked under this prefix, for ``baton status``.
WAITING_PREFIX = "baton:quota-wait:"
#: The mark outlives a crashed waiter by at most this long; a waiter renews it as it polls.
WAITING_MARK_SECONDS = 60

Outcome = Literal["ok", "throttled", "other"]


@dataclass(frozen=True, slots=True)
class QuotaKey:
    """What Bedrock keys a quota by: the source region and the model or profile ID called."""

    region: str
    model_id: str

    def __str__(self) -> str:
        return f"{self.region}/{self.model_id}"

    @property
    def redis_key(self) -> str:
        """Return the Redis key of this quota's state."""
        return f"{KEY_PREFIX}{self.region}|{self.model_id}"


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted call: when it was admitted and when it may start (Redis time), what it
    reserved, how long it waited, and the rate it was paced at."""

    key: QuotaKey
    admitted: float
    started: float
    reserved_tokens: int
    waited: float
    rate: float


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling a call did: whether it cut the fleet's rate, and the rate now."""

    cut: bool
    rate: float


class Governor:
    """Admit and settle calls against the fleet-wide schedule of each quota key.

    Args:
        client: the fleet's Redis (a redis-py client).
        quotas: the quotas operators configured (``BATON_BEDROCK_QUOTAS``).
        sleep: how to wait (``time.sleep``; gevent patches it).
        cut_spacing: the fewest seconds between two cuts of a key's rate.
    """

    def __init__(
        self,
        client: Any,
        *,
        quotas: QuotaTable | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cut_spacing: float = CUT_SPACING,
    ) -> None:
        self._client = client
        self.quotas = quotas or QuotaTable({})
        self._sleep = sleep
        self._cut_spacing = cut_spacing

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
    ) -> Ticket:
        """Wait until ``key``'s schedule lets a call start, and reserve its start and tokens.

        Args:
            key: the quota the call draws on.
            reserved_tokens: input tokens plus the output cap, as Bedrock reserves them.
            max_wait: seconds the caller's limits allow it to wait.
            on_wait: called with the rate before each sleep of a call that waits beyond the
                horizon (to mark it waiting, and keep the mark alive).

        Raises:
            AdmissionTimedOut: the call's start would fall after ``max_wait``; nothing reserved.
        """
        ceiling, per_token = self._limits(key)
        begun = time.monotonic()
        while True:
            slot, wait, rate, bound = self._try(key, reserved_tokens, ceiling, per_token)
            elapsed = time.monotonic() - begun
            if slot is not None:
                if wait > 0:
                    self._sleep(wait)
                return Ticket(key, slot[0], slot[1], reserved_tokens, elapsed + wait, rate)
            if elapsed + wait > max_wait:
                raise AdmissionTimedOut(_timed_out(key, rate, wait, elapsed, max_wait))
            if on_wait is not None:
                on_wait(rate)
            longest = TOKEN_POLL if bound else MAX_POLL
            self._sleep(min(wait - HORIZON, longest) * random.uniform(0.5, 1.0))

    def settle(self, ticket: Ticket, *, outcome: Outcome, used_tokens: int | None) -> Settled:
        """Record how a call ended: give back unused tokens, grow or cut the rate.

        Args:
            ticket: what :meth:`admit` returned.
            outcome: ``ok``, ``throttled`` (429 ThrottlingException) or ``other`` (an error
                Bedrock does not count: nothing used, the rate unchanged).
            used_tokens: what the call used (input, cache, output); None when unknown, which
                keeps the whole reservation.
        """
        ceiling, per_token = self._limits(ticket.key)
        used = ticket.reserved_tokens if used_tokens is None else used_tokens
        if outcome != "ok":
            used = 0
        cut, rate = run_script(
            self._client,
            SETTLE,
            [ticket.key.redis_key],
            [
                outcome,
                repr(ticket.admitted),
                ticket.reserved_tokens - used,
                per_token,
                ceiling,
                self._initial(ceiling, per_token),
                MIN_RATE,
                MAX_RATE,
                BETA,
                ALPHA,
                STATE_TTL_SECONDS,
                TOKEN_BUCKET_SECONDS,
                self._cut_spacing,
            ],
        )
        return Settled(bool(int(cut)), float(rate))

    @property
    def client(self) -> Any:
        """Return the Redis client the schedule lives in."""
        return self._client

    def rate(self, key: QuotaKey) -> float | None:
        """Return the rate (calls a second) the fleet is held to for ``key``; None if unused."""
        value = self._client.hget(key.redis_key, "rate")
        return None if value is None else float(value)

    def _try(
        self, key: QuotaKey, reserved_tokens: int, ceiling: float, per_token: float
    ) -> tuple[tuple[float, float] | None, float, float, bool]:
        """Run one admission step: (admitted at, start) or None (not yet), the wait, the rate,
        and whether the tokens bucket is what holds the call back."""
        admitted, wait, rate, start, now, bound = run_script(
            self._client,
            ADMIT,
            [key.redis_key],
            [
                reserved_tokens,
                HORIZON,
                ceiling,
                per_token,
                self._initial(ceiling, per_token),
                STATE_TTL_SECONDS,
                TOKEN_BUCKET_SECONDS,
                BURST_SECONDS,
            ],
        )
        slot = (float(now), float(start)) if int(admitted) else None
        return slot, float(wait), float(rate), bool(int(bound))

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


def _timed_out(key: QuotaKey, rate: float, wait: float, elapsed: float, max_wait: float) -> str:
    return (
        f"the call to {key.model_id} in {key.region} waited {elapsed:.0f} s for its Bedrock "
        f"quota and would start {wait:.0f} s later, past this job's limit of {max_wait:.0f} s; "
        f"the fleet is held to {rate * 60:.1f} calls a minute on quota {key}. Raise the quota "
        "(and BATON_BEDROCK_QUOTAS), spread the work over time, or give the job longer limits"
    )


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
