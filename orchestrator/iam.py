"""Least-privilege IAM policies for calling one model from one region, the way Bedrock checks.

For a geographic cross-region profile, AWS authorises the call on the inference profile in the
source region **and** on the foundation model in every destination region the profile may route
to. Missing any one of those gives a 403 that names a region the caller never chose, which is
why this is generated rather than written by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from envelope import destinations, geography_prefix

#: What a subagent needs: Converse is authorised as InvokeModel, ConverseStream as the stream.
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")

_APP_PROFILE = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:application-inference-profile/"
)


def profile_arn(*, region: str, account: str, profile_id: str) -> str:
    """Return a system inference profile's ARN in ``region``."""
    return f"arn:aws:bedrock:{region}:{account}:inference-profile/{profile_id}"


def foundation_model_arn(*, region: str, model_id: str) -> str:
    """Return a foundation model's ARN in ``region`` (its account field is always empty)."""
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def iam_policy(
    *,
    region: str,
    model_id: str,
    account: str = "*",
    deny_outside_geography: bool = False,
    destination_regions: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Return the policy document that allows exactly the calls ``model_id`` from ``region`` needs.

    Args:
        region: the source region the parent and its workers call.
        model_id: the resolved ID: a geography profile ID, a base model ID (cross-region off), or
            an application-inference-profile ARN.
        account: the account ID in inference-profile ARNs; ``*`` when unknown.
        deny_outside_geography: add an explicit Deny for every other region, for data residency.
        destination_regions: the profile's destinations from discovery; the shipped table when
            None.
    """
    statements = _allow_statements(region, model_id, account, destination_regions)
    if deny_outside_geography:
        statements.append(_deny_outside(_regions_of(statements)))
    return {"Version": "2012-10-17", "Statement": statements}


def _allow_statements(
    region: str, model_id: str, account: str, destination_regions: Sequence[str] | None
) -> list[dict[str, Any]]:
    if _APP_PROFILE.match(model_id):
        return [_allow("InvokeApplicationInferenceProfile", [model_id])]
    prefix = geography_prefix(model_id)
    if prefix is None:
        return [
            _allow(
                "InvokeFoundationModelInRegion",
                [foundation_model_arn(region=region, model_id=model_id)],
            )
        ]
    base = model_id[len(prefix) + 1 :]
    profile = profile_arn(region=region, account=account, profile_id=model_id)
    regions = destination_regions or destinations(prefix, source_region=region)
    models = [foundation_model_arn(region=r, model_id=base) for r in regions]
    through_profile = _allow("InvokeFoundationModelThroughProfile", models)
    operator = "StringLike" if "*" in profile else "StringEquals"
    through_profile["Condition"] = {operator: {"bedrock:InferenceProfileArn": profile}}
    return [_allow("InvokeInferenceProfile", [profile]), through_profile]


def _allow(sid: str, resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(INVOKE_ACTIONS), "Resource": resources}


def _regions_of(statements: list[dict[str, Any]]) -> list[str]:
    regions = (arn.split(":")[3] for s in statements for arn in s["Resource"])
    return sorted(set(regions))


def _deny_outside(regions: list[str]) -> dict[str, Any]:
    return {
        "Sid": "DenyBedrockOutsideGeography",
        "Effect": "Deny",
        "Action": "bedrock:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": regions}},
    }
