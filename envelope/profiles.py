"""Model catalogue and inference-profile resolution.

Resolution happens once, on the parent: an alias or base ID becomes one concrete ID for the
region's geography, and that exact string travels in the envelope. Subagents never re-derive a
prefix. Nothing here guesses: a model that has no profile where the parent runs is an error that
says where it does exist, never a quiet switch to another geography.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from envelope.errors import (
    ArnRegionMismatch,
    ModelNotInGeography,
    ModelRequiresProfile,
    ProfileGeographyMismatch,
    UnknownModel,
)
from envelope.regions import geographies_of, geography_prefix

#: Geographies that resolution never picks by itself: ``global`` routes anywhere in the world,
#: which a data-residency rule must opt into by naming a ``global.`` ID explicitly.
AUTO_EXCLUDED_GEOGRAPHIES = frozenset({"global"})

_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]+):(?P<account>\d{12})?:"
    r"(?P<kind>application-inference-profile|inference-profile|foundation-model)/(?P<id>.+)$"
)


@dataclass(frozen=True)
class CatalogueModel:
    """One foundation model and the geographies that have a profile for it."""

    model_id: str
    name: str
    profiles: tuple[str, ...]
    on_demand: frozenset[str]


@dataclass(frozen=True)
class Catalogue:
    """The shipped model table: models by base ID, plus aliases."""

    models: dict[str, CatalogueModel]
    aliases: dict[str, str]
    default_alias: str

    def base_id(self, name: str) -> str | None:
        """Return the base model ID an alias or base ID stands for, else None."""
        if name in self.models:
            return name
        return self.aliases.get(name) or self.aliases.get(name.lower())

    def with_discovered(self, *, region: str, profile_ids: Iterable[str]) -> Catalogue:
        """Return this catalogue corrected by the profiles discovered in ``region``.

        For every geography that contains ``region``, discovery is the truth: a profile the
        shipped table lists but discovery does not is dropped, and a discovered one is added
        (models the table does not know are added under their base ID). Geographies that do not
        contain ``region`` cannot be seen from it and keep the shipped entries.
        """
        visible = set(geographies_of(region))
        found: dict[str, set[str]] = {}
        for profile_id in profile_ids:
            prefix = geography_prefix(profile_id)
            if prefix is not None:
                found.setdefault(profile_id[len(prefix) + 1 :], set()).add(prefix)
        models = {}
        for base in {*self.models, *found}:
            shipped = self.models.get(base)
            hidden = [g for g in (shipped.profiles if shipped else ()) if g not in visible]
            models[base] = CatalogueModel(
                model_id=base,
                name=shipped.name if shipped else base,
                profiles=(*hidden, *sorted(found.get(base, ()))),
                on_demand=shipped.on_demand if shipped else frozenset(),
            )
        return Catalogue(models=models, aliases=self.aliases, default_alias=self.default_alias)


@functools.cache
def catalogue() -> Catalogue:
    """Return the catalogue shipped in ``data/catalogue.json``."""
    raw = json.loads(resources.files("envelope").joinpath("data/catalogue.json").read_text())
    models = {
        model_id: CatalogueModel(
            model_id=model_id,
            name=spec["name"],
            profiles=tuple(spec["profiles"]),
            on_demand=frozenset(spec.get("on_demand", ())),
        )
        for model_id, spec in raw["models"].items()
    }
    return Catalogue(
        models=models, aliases=dict(raw["aliases"]), default_alias=raw["default_alias"]
    )


def requires_profile(model: str, region: str, *, source: Catalogue | None = None) -> bool:
    """Tell whether ``model`` (an alias or base ID) can run in ``region`` only through a profile."""
    table = source or catalogue()
    base = table.base_id(model)
    return base is not None and region not in table.models[base].on_demand


def resolve(model: str, *, region: str, cross_region: bool, source: Catalogue | None = None) -> str:
    """Return the one concrete model ID to call from ``region``.

    Args:
        model: an alias (``haiku``), a base ID, a geography profile ID, or a model ARN.
        region: the parent's source region.
        cross_region: whether a geography profile may be used.
        source: the catalogue to resolve against: a discovered one (see
            ``Catalogue.with_discovered``), else the shipped one.

    Raises:
        ResolutionError: a subclass that says what was wrong and what would work.
    """
    table = source or catalogue()
    match = _ARN.match(model)
    if match:
        return _check_arn(model, match, region=region, cross_region=cross_region, table=table)
    prefix = geography_prefix(model)
    if prefix is not None:
        return _check_profile_id(
            model, prefix, region=region, cross_region=cross_region, table=table
        )
    base = table.base_id(model)
    if base is None:
        if not cross_region and model.count(".") >= 1 and not model.startswith("."):
            return model  # an on-demand model the catalogue does not list: the user named it
        raise UnknownModel(
            f"model {model!r} is not an alias, a catalogue model, a profile ID or an ARN; "
            f"known aliases: {', '.join(sorted(table.aliases))}"
        )
    return _resolve_base(table.models[base], region=region, cross_region=cross_region)


def _resolve_base(entry: CatalogueModel, *, region: str, cross_region: bool) -> str:
    if not cross_region:
        if region in entry.on_demand:
            return entry.model_id
        raise ModelRequiresProfile(
            f"{entry.name} ({entry.model_id}) runs in {region} only through an inference "
            "profile, but cross-region inference is off; set "
            "AWS_BEDROCK_CROSS_REGION_INFERENCE=true or choose a model with on-demand "
            "throughput in this region"
        )
    for geo in geographies_of(region):
        if geo in entry.profiles and geo not in AUTO_EXCLUDED_GEOGRAPHIES:
            return f"{geo}.{entry.model_id}"
    raise ModelNotInGeography(
        f"{entry.name} has no inference profile in {region}'s geography "
        f"({', '.join(g for g in geographies_of(region) if g not in AUTO_EXCLUDED_GEOGRAPHIES)}); "
        f"it exists in: {', '.join(entry.profiles)}. Pick another model, run the parent in one of "
        "those geographies, or name a global. profile ID explicitly to allow worldwide routing"
    )


def _check_profile_id(
    model: str, prefix: str, *, region: str, cross_region: bool, table: Catalogue
) -> str:
    allowed = geographies_of(region)
    if prefix not in allowed:
        raise ProfileGeographyMismatch(
            f"profile {model!r} belongs to geography {prefix!r}, which cannot be called from "
            f"{region} (its geographies: {', '.join(allowed)}); use the same model with one of "
            "those prefixes, or pass the alias and let Baton resolve it"
        )
    base = model[len(prefix) + 1 :]
    entry = table.models.get(base)
    if entry is not None and prefix not in entry.profiles:
        raise ModelNotInGeography(
            f"{model!r} does not exist: {entry.name} has profiles only in "
            f"{', '.join(entry.profiles)}; do not synthesize a prefix"
        )
    if not cross_region:
        raise ModelRequiresProfile(
            f"{model!r} is a cross-region inference profile of geography {prefix!r}, but "
            "cross-region inference is off; set AWS_BEDROCK_CROSS_REGION_INFERENCE=true to allow "
            f"routing within {prefix!r}, or name a model with on-demand throughput in {region}"
        )
    return model


def _check_arn(
    model: str, match: re.Match[str], *, region: str, cross_region: bool, table: Catalogue
) -> str:
    arn_region = match["region"]
    if arn_region != region:
        raise ArnRegionMismatch(
            f"{match['kind']} ARN {model!r} names region {arn_region}, but the parent runs in "
            f"{region}; use an ARN created in {region} or run the parent there"
        )
    if match["kind"] == "inference-profile":
        prefix = geography_prefix(match["id"])
        if prefix is not None:
            _check_profile_id(
                match["id"], prefix, region=region, cross_region=cross_region, table=table
            )
    return model
