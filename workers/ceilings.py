"""What a worker allows any parent to ask for, whatever its envelope says.

An envelope is signed by a key holder, and every parent and worker of a fleet holds the key; so
the limits an envelope carries are a parent's wishes, and a worker caps them with its own:
depth, children per job, turns per job, jobs per tree, and how long an envelope may live. Limits
above a ceiling are lowered to it (the tree stops there with its usual stop reason); a lifetime
above the ceiling, or an envelope issued in the future, is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from envelope import DEFAULT_CLOCK_SKEW_SECONDS, BedrockEnvelope, EnvelopeMalformed, Limits
from workers.errors import LifetimeNotAllowed

#: Deeper trees than this are runaway recursion, not a plan (the parent's default is 3).
DEFAULT_MAX_DEPTH = 5
#: Children one job may start (the parent's default is 8; the envelope allows up to 64).
DEFAULT_MAX_CHILDREN = 16
#: Converse turns one job may take (the parent's default is 8).
DEFAULT_MAX_TURNS = 16
#: Jobs one tree may hold, roots included (the parent's default is 256).
DEFAULT_MAX_JOBS = 1024
#: Seconds from ``iat`` to ``exp``: a captured token is worth no more than this (the parent's
#: default is 3600; twelve hours covers a working day's tree).
DEFAULT_MAX_ENVELOPE_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class Ceilings:
    """A worker's own maxima, applied to every envelope it admits."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_children: int = DEFAULT_MAX_CHILDREN
    max_turns: int = DEFAULT_MAX_TURNS
    max_jobs: int = DEFAULT_MAX_JOBS
    max_envelope_lifetime: int = DEFAULT_MAX_ENVELOPE_LIFETIME

    def apply(self, envelope: BedrockEnvelope, *, now: float | None = None) -> BedrockEnvelope:
        """Return ``envelope`` with its limits capped; refuse a window this worker won't honour.

        Raises:
            EnvelopeMalformed: issued further in the future than the clock skew allows.
            LifetimeNotAllowed: ``exp - iat`` is above ``max_envelope_lifetime``.
        """
        current = time.time() if now is None else now
        if envelope.iat > current + DEFAULT_CLOCK_SKEW_SECONDS:
            raise EnvelopeMalformed(
                f"envelope was issued {int(envelope.iat - current)} s in the future (iat="
                f"{envelope.iat}); check the parent's clock, which must be within "
                f"{DEFAULT_CLOCK_SKEW_SECONDS} s of the workers'"
            )
        lifetime = envelope.exp - envelope.iat
        if lifetime > self.max_envelope_lifetime:
            raise LifetimeNotAllowed(
                f"envelope is valid for {lifetime} s, longer than this worker's "
                f"{self.max_envelope_lifetime} s; lower the parent's BATON_ENVELOPE_TTL or raise "
                "the workers' BATON_MAX_ENVELOPE_LIFETIME"
            )
        limits = envelope.limits
        if (
            limits.max_depth <= self.max_depth
            and limits.max_children <= self.max_children
            and limits.max_turns <= self.max_turns
            and limits.max_jobs <= self.max_jobs
        ):
            return envelope  # the usual case: no new model to build (a few µs a token)
        capped = Limits(
            max_depth=min(limits.max_depth, self.max_depth),
            max_children=min(limits.max_children, self.max_children),
            max_turns=min(limits.max_turns, self.max_turns),
            max_jobs=min(limits.max_jobs, self.max_jobs),
        )
        return envelope.model_copy(update={"limits": capped})
