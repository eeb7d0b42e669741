"""Inference profiles as Bedrock's control plane shows them, and the models behind each one.

Three things read this: ListInferenceProfiles / GetInferenceProfile, the model-ID check of an
invocation, and its IAM check, which needs the foundation model in every destination region of
the profile it goes through. All of them look a profile up with :meth:`ProfileRegistry.find`, so
the profile a client discovers is exactly what the emulator then lets it invoke and authorises,
as GetInferenceProfile in the source region is on AWS.

System profiles come from ``envelope``'s catalogue: one per model and geography that contains the
caller's region. Application profiles are declared to the emulator (``--app-profile
NAME=MODEL_ID``); each exists in every region where its model could be invoked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from emulator.errors import ConfigurationError
from envelope import catalogue, destinations, geographies_of, geography_prefix

SYSTEM_DEFINED = "SYSTEM_DEFINED"
APPLICATION = "APPLICATION"
#: Both profile types, in the order ListInferenceProfiles accepts them.
PROFILE_TYPES = (SYSTEM_DEFINED, APPLICATION)
#: A fixed creation time: listings are deterministic, like every other emulator answer.
CREATED_AT = "2025-01-01T00:00:00Z"

_LABELS = {"us": "US", "eu": "EU", "apac": "APAC", "jp": "JP", "au": "AU", "us-gov": "US-GOV"}
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")
_ARN = re.compile(
    r"^arn:aws:bedrock:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>application-inference-profile|inference-profile)/(?P<id>.+)$"
)


@dataclass(frozen=True, slots=True)
class InferenceProfile:
    """One inference profile as seen from one source region and account.

    Attributes:
        profile_id: ``eu.anthropic...`` for a system profile, the declared name otherwise.
        arn: the ARN IAM evaluates, in the source region and the caller's account.
        name: the human name ListInferenceProfiles shows.
        kind: ``SYSTEM_DEFINED`` or ``APPLICATION``.
        model_arns: the foundation model in each destination region, source region first.
        description: one line saying where requests go.
    """

    profile_id: str
    arn: str
    name: str
    kind: str
    model_arns: tuple[str, ...]
    description: str

    def as_dict(self) -> dict[str, object]:
        """Return the profile in the JSON shape of GetInferenceProfile and list summaries."""
        return {
            "inferenceProfileName": self.name,
            "description": self.description,
            "createdAt": CREATED_AT,
            "updatedAt": CREATED_AT,
            "inferenceProfileArn": self.arn,
            "models": [{"modelArn": arn} for arn in self.model_arns],
            "inferenceProfileId": self.profile_id,
            "status": "ACTIVE",
            "type": self.kind,
        }


def foundation_model_arn(model_id: str, *, region: str) -> str:
    """Return a foundation model's ARN, whose account field is empty."""
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _model_arns(model_id: str, *, region: str) -> tuple[str, ...] | None:
    """Return where ``model_id`` (a profile ID or base ID) runs from ``region``; None if nowhere."""
    prefix = geography_prefix(model_id)
    base = model_id[len(prefix) + 1 :] if prefix else model_id
    entry = catalogue().models.get(base)
    if entry is None:
        return None
    if prefix is None:
        if region not in entry.on_demand:
            return None
        return (foundation_model_arn(base, region=region),)
    if prefix not in entry.profiles or prefix not in geographies_of(region):
        return None
    return tuple(
        foundation_model_arn(base, region=dest)
        for dest in destinations(prefix, source_region=region)
    )


def system_profile(profile_id: str, *, region: str, account_id: str) -> InferenceProfile | None:
    """Return the system profile ``profile_id`` as called from ``region``, None if it is not one."""
    prefix = geography_prefix(profile_id)
    models = _model_arns(profile_id, region=region) if prefix else None
    if prefix is None or models is None:
        return None
    entry = catalogue().models[profile_id[len(prefix) + 1 :]]
    label = _LABELS.get(prefix, prefix.capitalize())
    return InferenceProfile(
        profile_id=profile_id,
        arn=f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{profile_id}",
        name=f"{label} {entry.name}",
        kind=SYSTEM_DEFINED,
        model_arns=models,
        description=f"Routes requests to {entry.name} in the {prefix} geography.",
    )


def system_profiles(*, region: str, account_id: str) -> list[InferenceProfile]:
    """Return every system profile callable from ``region``: by model, narrowest geography first."""
    found = []
    for base in sorted(catalogue().models):
        for prefix in geographies_of(region):
            profile = system_profile(f"{prefix}.{base}", region=region, account_id=account_id)
            if profile is not None:
                found.append(profile)
    return found


class ProfileRegistry:
    """The inference profiles one emulator knows: the system ones plus the declared ones.

    Args:
        app_profiles: application profiles, declared name to model ID (a geography profile ID
            or a base model ID of the catalogue).

    Raises:
        ConfigurationError: a name is not a valid profile ID, or its model is not in the catalogue.
    """

    def __init__(self, app_profiles: Mapping[str, str] | None = None) -> None:
        self._apps = dict(app_profiles or {})
        for name, model_id in self._apps.items():
            if not _NAME.fullmatch(name):
                raise ConfigurationError(
                    f"application profile name {name!r} must be 1 to 64 of [a-zA-Z0-9._-]"
                )
            prefix = geography_prefix(model_id)
            base = model_id[len(prefix) + 1 :] if prefix else model_id
            entry = catalogue().models.get(base)
            if entry is None or (prefix is not None and prefix not in entry.profiles):
                raise ConfigurationError(
                    f"application profile {name}={model_id}: the model must be a catalogue model "
                    "ID or one of its geography profile IDs, e.g. "
                    "eu.anthropic.claude-sonnet-4-20250514-v1:0"
                )

    def application(self, name: str, *, region: str, account_id: str) -> InferenceProfile | None:
        """Return the declared profile ``name`` in ``region``, None where its model cannot run."""
        model_id = self._apps.get(name)
        models = _model_arns(model_id, region=region) if model_id else None
        if model_id is None or models is None:
            return None
        return InferenceProfile(
            profile_id=name,
            arn=f"arn:aws:bedrock:{region}:{account_id}:application-inference-profile/{name}",
            name=name,
            kind=APPLICATION,
            model_arns=models,
            description=f"Application inference profile for {model_id}.",
        )

    def listing(self, *, region: str, account_id: str, kind: str) -> list[InferenceProfile]:
        """Return the profiles of type ``kind`` visible from ``region``, in a stable order."""
        if kind == SYSTEM_DEFINED:
            return system_profiles(region=region, account_id=account_id)
        found = (
            self.application(name, region=region, account_id=account_id)
            for name in sorted(self._apps)
        )
        return [profile for profile in found if profile is not None]

    def find(self, identifier: str, *, region: str, account_id: str) -> InferenceProfile | None:
        """Return the profile an ID or ARN names, as seen from ``region``; None if none.

        This is the one lookup of a profile: GetInferenceProfile answers with it, and the runtime
        operations invoke only what it finds, so the two can never disagree. An ARN must name the
        caller's region and account, as on AWS, where a profile ARN is regional and owned.
        """
        match = _ARN.match(identifier)
        if match is None and identifier.startswith("arn:"):
            return None
        if match is None:
            profile = system_profile(identifier, region=region, account_id=account_id)
            return profile or self.application(identifier, region=region, account_id=account_id)
        if match["region"] != region or match["account"] != account_id:
            return None
        if match["kind"] == "inference-profile":
            return system_profile(match["id"], region=region, account_id=account_id)
        return self.application(match["id"], region=region, account_id=account_id)
