"""Which model identifiers Bedrock accepts from which region, and the 400s it sends otherwise.

This is the second symptom of a subagent that re-derived its model ID instead of inheriting it:
a ``us.`` profile called from an EU region, a prefix the model has no profile for, a bare
foundation-model ID that needs a profile, or an application-profile ARN that names another region
or a profile nobody created. Foundation models are judged against ``envelope``'s catalogue, so
the emulator and the resolver can never disagree about what exists. Every inference profile, ID
or ARN, is looked up with :meth:`ProfileRegistry.find`, the very lookup GetInferenceProfile
answers with, so a profile the control plane refuses can never be invoked, and the other way
round.
"""

from __future__ import annotations

import re

from emulator.errors import ValidationError
from emulator.profiles import ProfileRegistry
from envelope import catalogue, geography_prefix

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


def validate_model_id(
    model_id: str, *, region: str, account_id: str, profiles: ProfileRegistry
) -> None:
    """Raise ValidationError unless ``model_id`` can be invoked from ``region`` by the account.

    A profile Bedrock cannot resolve (undeclared, of another region or account, of a geography
    the region is not in) gets the same 400 as any unknown identifier: that is what Bedrock
    answers, and a 404 here would tell the caller the path, not the model, was wrong.

    Args:
        model_id: the identifier from the path, URL-decoded: a profile ID, a foundation-model
            ID or a model ARN.
        region: the region the request was signed for.
        account_id: the caller's account, which owns every profile ARN it may invoke.
        profiles: the one registry GetInferenceProfile also looks profiles up in.
    """
    if model_id.startswith("arn:"):
        match = _ARN.match(model_id)
        if match is None or match["region"] != region:
            raise ValidationError(INVALID_IDENTIFIER)
        if match["kind"] == "foundation-model":
            _validate_foundation_model(match["id"], region=region)
            return
    elif geography_prefix(model_id) is None:
        # An unprefixed ID is read as a foundation model, as Bedrock reads it: an application
        # profile is invoked by its ARN, never by its bare ID.
        _validate_foundation_model(model_id, region=region)
        return
    if profiles.find(model_id, region=region, account_id=account_id) is None:
        raise ValidationError(INVALID_IDENTIFIER)


def _validate_foundation_model(model_id: str, *, region: str) -> None:
    entry = catalogue().models.get(model_id)
    if entry is None:
        raise ValidationError(INVALID_IDENTIFIER)
    if region not in entry.on_demand:
        raise ValidationError(on_demand_message(model_id))
