"""The fleet policy: which verified envelopes this worker may act on.

A signature proves who wrote an envelope, not that this worker should serve it. The policy is the
second gate: region and depth, checked before any task body runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from envelope import QUEUE_PREFIX, BedrockEnvelope, is_region, queue_for
from workers.errors import DepthExceeded, RegionNotAllowed, WorkerMisconfigured


@dataclass(frozen=True)
class FleetPolicy:
    """Regions this worker serves; everything else is refused, never re-routed or defaulted."""

    allowed_regions: frozenset[str]

    @classmethod
    def for_worker(
        cls, *, allowed_regions: Iterable[str], consumed_queues: Iterable[str]
    ) -> FleetPolicy:
        """Build the policy: explicit regions win, else the regions of the queues consumed."""
        regions = frozenset(allowed_regions) or regions_of_queues(consumed_queues)
        if not regions:
            raise WorkerMisconfigured(
                "this worker consumes no baton.<region> queue and BATON_ALLOWED_REGIONS is empty; "
                "start it with `baton worker --region eu-west-1` or "
                "`celery -A workers worker -Q baton.eu-west-1`"
            )
        return cls(allowed_regions=regions)

    def check(self, envelope: BedrockEnvelope) -> None:
        """Raise a PolicyViolation when ``envelope`` may not run here."""
        if envelope.region not in self.allowed_regions:
            allowed = ", ".join(sorted(self.allowed_regions))
            raise RegionNotAllowed(
                f"region {envelope.region} is not allowed on this worker (allowed: {allowed}); "
                f"route the job to queue {queue_for(envelope.region)} or widen "
                "BATON_ALLOWED_REGIONS"
            )
        if envelope.lineage.depth > envelope.limits.max_depth:
            raise DepthExceeded(
                f"job is at depth {envelope.lineage.depth}, past the tree's max_depth "
                f"{envelope.limits.max_depth}; raise the parent's max_depth or stop spawning"
            )


def regions_of_queues(queues: Iterable[str]) -> frozenset[str]:
    """Return the regions named by ``baton.<region>`` queue names."""
    names = (queue.removeprefix(QUEUE_PREFIX) for queue in queues if queue.startswith(QUEUE_PREFIX))
    return frozenset(name for name in names if is_region(name))
