"""AWS regions and the inference-profile geographies that contain them.

The table is data (``data/geographies.json``), loaded once; this module only answers questions
about it. A region may sit in several geographies (ap-southeast-2 is in ``au``, ``apac`` and
``global``); callers get them narrowest first.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

#: An AWS region name: ``eu-west-1``, ``us-gov-west-1``, ``ap-southeast-4``. The middle word is
#: one of the compass words every AWS region has used, so a region of a country AWS opens next
#: passes and a typo (``eu-wst-1``) does not.
REGION_PATTERN = re.compile(
    r"^[a-z]{2}(-gov|-iso[a-z]?)?"
    r"-(north|south|east|west|central|northeast|northwest|southeast|southwest)"
    r"-[0-9]{1,2}$"  # ASCII digits only
)


@dataclass(frozen=True)
class Geography:
    """One geography prefix (``eu``) and the rule for which regions belong to it."""

    prefix: str
    rank: int
    regions: frozenset[str]
    patterns: tuple[str, ...]
    exclude: tuple[str, ...]
    destinations: tuple[str, ...] = ()

    def contains(self, region: str) -> bool:
        """Tell whether a profile of this geography may be called from ``region``."""
        if any(fnmatch.fnmatchcase(region, pattern) for pattern in self.exclude):
            return False
        if region in self.regions:
            return True
        return any(fnmatch.fnmatchcase(region, pattern) for pattern in self.patterns)


@functools.cache
def geographies() -> dict[str, Geography]:
    """Return every known geography by prefix, loaded from the shipped table."""
    raw = json.loads(resources.files("envelope").joinpath("data/geographies.json").read_text())
    return {
        prefix: Geography(
            prefix=prefix,
            rank=int(spec["rank"]),
            regions=frozenset(spec.get("regions", ())),
            patterns=tuple(spec.get("patterns", ())),
            exclude=tuple(spec.get("exclude", ())),
            destinations=tuple(spec.get("destinations", ())),
        )
        for prefix, spec in raw["geographies"].items()
    }


def is_region(name: str) -> bool:
    """Tell whether ``name`` has the shape of an AWS region."""
    return bool(REGION_PATTERN.fullmatch(name))


@functools.cache
def geographies_of(region: str) -> tuple[str, ...]:
    """Return the geography prefixes that contain ``region``, narrowest first."""
    found = [geo for geo in geographies().values() if geo.contains(region)]
    return tuple(geo.prefix for geo in sorted(found, key=lambda geo: (geo.rank, geo.prefix)))


def geography_prefix(model_id: str) -> str | None:
    """Return the geography prefix of a profile ID (``eu`` of ``eu.anthropic...``), else None."""
    head, dot, _ = model_id.partition(".")
    return head if dot and head in geographies() else None


def destinations(geography: str, *, source_region: str) -> tuple[str, ...]:
    """Return the regions a ``geography`` profile called from ``source_region`` may route to.

    The source region always comes first: it is where the profile is invoked, and IAM needs the
    foundation model there too. The rest come from the shipped table, which discovery
    (GetInferenceProfile) supersedes where it answers.
    """
    listed = geographies()[geography].destinations
    return (source_region, *sorted(region for region in listed if region != source_region))
