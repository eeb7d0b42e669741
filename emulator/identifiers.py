"""Which model identifiers Bedrock accepts from which region, and the 400s it sends otherwise.

This is the second symptom of a subagent that re-derived its model ID instead of inheriting it:
a ``us.`` profile called from an EU region, a prefix the model has no profile for, or a bare
foundation-model ID that needs a profile. The answers come from ``envelope``'s geography table and
model catalogue, so the emulator and the resolver can never disagree about what exists.
"""

from __future__ import annotations

import re

from emulator.errors import ValidationError
from envelope.profiles import catalogue
from envelope.regions import geographies_of, geography_prefix

INVALID_IDENTIFIER = "The provided model identifier is invalid."

_ARN = re.compile(
    r"^arn:aws:bedrock:(?P<region>[a-z0-9-]+):(?P<account>\d{12})?:"
    r"(?P<kind>application-inference-profile|inference-profile|foundation-model)/(?P<id>.+)$"
)


def on_demand_message(model_id: str) -> str:
    """Return Bedrock's refusal of a bare ID that runs only through a profile (note the ’)."""
    return (
        f"Invocation of model ID {model_id} with on-demand throughput isn’t supported. Retry "
        "your request with the ID or ARN of an inference profile that contains this model."
    )


def validate_model_id(model_id: str, *, region: str) -> None:
    """Raise ValidationError unless ``model_id`` can be invoked from ``region``.

    Args:
        model_id: the identifier from the path, URL-decoded: a profile ID, a foundation-model
            ID or a model ARN.
        region: the region the request was signed for.
    """
    if model_id.startswith("arn:"):
        _validate_arn(model_id, region=region)
    elif geography_prefix(model_id) is not None:
        _validate_profile(model_id, region=region)
    else:
        _validate_foundation_model(model_id, region=region)


def _validate_arn(arn: str, *, region: str) -> None:
    match = _ARN.match(arn)
    if match is None or match["region"] != region:
        raise ValidationError(INVALID_IDENTIFIER)
    if match["kind"] == "foundation-model":
        _validate_foundation_model(match["id"], region=region)
    elif match["kind"] == "inference-profile":
        if match["account"] is None or geography_prefix(match["id"]) is None:
            raise ValidationError(INVALID_IDENTIFIER)
        _validate_profile(match["id"], region=region)
    elif match["account"] is None:
        # An application inference profile is the caller's own: any ID in the right region
        # and with an account is accepted, since the emulator holds no list of them.
        raise ValidationError(INVALID_IDENTIFIER)


def _validate_profile(model_id: str, *, region: str) -> None:
    prefix, _, base = model_id.partition(".")
    entry = catalogue().models.get(base)
    if prefix not in geographies_of(region) or entry is None or prefix not in entry.profiles:
        raise ValidationError(INVALID_IDENTIFIER)


def _validate_foundation_model(model_id: str, *, region: str) -> None:
    entry = catalogue().models.get(model_id)
    if entry is None:
        raise ValidationError(INVALID_IDENTIFIER)
    if region not in entry.on_demand:
        raise ValidationError(on_demand_message(model_id))
