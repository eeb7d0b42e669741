"""What the governor (:mod:`fleet.governor`) hands out and keys by: a quota's key, an admitted
call's ticket, and what settling it did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Every state key starts with this.
KEY_PREFIX = "baton:quota:"
#: Every wake list's key starts with this.
WAKE_PREFIX = "baton:quota-wake:"

#: How an attempt ended: a success, a 429 ThrottlingException ("Too many requests", or one whose
#: message is unknown), a 429 "Too many tokens", or an error Bedrock does not count.
Outcome = Literal["ok", "throttled", "throttled_tokens", "other"]


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

    @property
    def wake_key(self) -> str:
        """Return the Redis list that wakes calls waiting for this quota's tokens."""
        return f"{WAKE_PREFIX}{self.region}|{self.model_id}"


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted call: when it was admitted and when it may start (Redis time), what it
    reserved (its input estimate calibrated), how long it waited, the rate it was paced at, and
    its input estimate before calibration (to calibrate with when it settles), and the key's
    running total of tokens spent as it found it (to tell, should Bedrock answer "Too many
    tokens", what the fleet spent after it)."""

    key: QuotaKey
    admitted: float
    started: float
    reserved_tokens: int
    waited: float
    rate: float
    input_estimate: int = 0
    spent: float = 0.0


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling a call did: whether it cut the fleet's rate, and the rate now."""

    cut: bool
    rate: float
