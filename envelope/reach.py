"""Where a call through a model name may be served, and whether a child's stays inside its parent's.

Every form of model name gets one answer, read without regard to case or surrounding whitespace,
so that no spelling slips past the rule:

| name | reach, called from region R |
|---|---|
| base model ID (``anthropic.claude-...``) | R alone (on-demand) |
| foundation-model ARN | its region, which must be R (of a base model ID; of any other, unknown) |
| profile ID (``eu.anthropic...``), inference-profile ARN of one | the geography (``eu``) |
| application-inference-profile ARN | unknown: it routes as the profile it was copied from |
| any other ARN, or a dotted ID whose prefix is no known geography | unknown |

A worker cannot know where an application profile routes without asking Bedrock, with the
job's identity, and trusting its answer; so a child may name one only if it is exactly the
parent's own model, which the parent chose and signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from envelope.regions import destinations, geographies

#: The kinds of reach: one region (on-demand), a geography, or unknown (an application
#: profile, or a name Baton cannot place).
ReachKind = Literal["region", "geography", "unknown"]

#: The geography that routes worldwide; only a parent whose own model is global may give it on.
GLOBAL = "global"

_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]*):(?P<account>[0-9]*):"
    r"(?P<kind>[a-z-]+)/(?P<id>.+)$"
)


@dataclass(frozen=True)
class Reach:
    """Where one model name sends a call made from ``source``.

    Attributes:
        kind: ``region`` (served in ``source`` alone), ``geography`` or ``unknown``.
        source: the region the call is signed for.
        geography: the geography's prefix, for kind ``geography``.
        note: why the reach is what it is, for an error message.
    """

    kind: ReachKind
    source: str
    geography: str | None = None
    note: str = ""

    def regions(self) -> frozenset[str] | None:
        """The regions a call may be served in; None where it cannot be known (or is global)."""
        if self.kind == "region":
            return frozenset({self.source})
        if self.kind == "geography" and self.geography not in (None, GLOBAL):
            return frozenset(destinations(str(self.geography), source_region=self.source))
        return None

    def describe(self) -> str:
        """Say where calls go, in a few words."""
        if self.kind == "region":
            return f"{self.source} only"
        if self.geography == GLOBAL:
            return "any commercial region in the world (global routes worldwide)"
        if self.kind == "geography":
            return f"the {self.geography} geography"
        return f"an unknown set of regions ({self.note})"


def reach_of(model_id: str, *, region: str) -> Reach:
    """Return where a call through ``model_id``, signed for ``region``, may be served."""
    name = model_id.strip().lower()
    match = _ARN.match(name)
    if match is not None:
        return _arn_reach(match, region=region)
    if name.startswith("arn:"):
        return Reach("unknown", region, note="an ARN Baton cannot parse")
    head, dot, rest = name.partition(".")
    if dot and head in geographies():
        return Reach("geography", region, geography=head)
    if dot and "." in rest:  # prefix.provider.model: a geography Baton does not know
        return Reach("unknown", region, note=f"the prefix {head!r} is no known geography")
    return Reach("region", region)


def _arn_reach(match: re.Match[str], *, region: str) -> Reach:
    kind, resource = match["kind"], match["id"]
    if match["region"] != region:
        return Reach("unknown", region, note=f"an ARN of region {match['region'] or '(none)'}")
    if kind == "foundation-model":
        if reach_of(resource, region=region).kind != "region":  # a profile ID as a model's
            return Reach("unknown", region, note=f"a foundation-model ARN of {resource!r}")
        return Reach("region", region)
    if kind == "inference-profile":
        inner = reach_of(resource, region=region)
        if inner.kind == "geography":
            return inner
        return Reach("unknown", region, note=f"an inference profile {resource!r} of no geography")
    return Reach("unknown", region, note=f"a {kind} ARN, which routes as it was made")


def within(child: Reach, parent: Reach) -> bool:
    """Tell whether every region ``child`` may reach is one ``parent`` may reach.

    ``global`` holds everything a geography or a region can reach; an unknown reach holds only
    the source region, which every call from it may be served in.
    """
    if child.kind == "unknown":
        return False
    if child.kind == "region":
        return True
    if child.geography == GLOBAL:
        return parent.geography == GLOBAL
    if parent.geography == GLOBAL:
        return True
    inner, outer = child.regions(), parent.regions()
    return inner is not None and outer is not None and inner <= outer


def child_stays_within(child_model: str, *, parent_model: str, region: str) -> bool:
    """Tell whether a child calling ``child_model`` stays where its parent's model sends calls.

    The parent's own model, exactly as the envelope names it, is always allowed: the parent
    chose and signed it.
    """
    if child_model.strip() == parent_model.strip():
        return True
    return within(reach_of(child_model, region=region), reach_of(parent_model, region=region))
