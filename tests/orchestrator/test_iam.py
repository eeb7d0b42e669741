"""Least-privilege policies: the profile in the source region, the model in every destination."""

from __future__ import annotations

from envelope import destinations
from orchestrator.iam import iam_policy

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"


def resources(policy: dict, sid: str) -> list[str]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)["Resource"]


def test_a_geography_profile_needs_the_profile_and_the_model_in_every_destination():
    policy = iam_policy(region="eu-west-1", model_id=f"eu.{SONNET}", account="111122223333")
    profile = f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.{SONNET}"
    assert resources(policy, "InvokeInferenceProfile") == [profile]
    models = resources(policy, "InvokeFoundationModelThroughProfile")
    assert models == [
        f"arn:aws:bedrock:{r}::foundation-model/{SONNET}"
        for r in destinations("eu", source_region="eu-west-1")
    ]
    assert models[0].startswith("arn:aws:bedrock:eu-west-1::")
    condition = next(s for s in policy["Statement"] if "Condition" in s)["Condition"]
    assert condition == {"StringEquals": {"bedrock:InferenceProfileArn": profile}}


def test_an_unknown_account_uses_a_wildcard_and_a_like_condition():
    policy = iam_policy(region="eu-west-1", model_id=f"eu.{SONNET}")
    condition = policy["Statement"][1]["Condition"]
    assert list(condition) == ["StringLike"]
    assert ":*:inference-profile/" in resources(policy, "InvokeInferenceProfile")[0]


def test_without_cross_region_only_the_model_in_the_region_is_allowed():
    policy = iam_policy(region="us-east-1", model_id=SONNET)
    assert [s["Resource"] for s in policy["Statement"]] == [
        [f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}"]
    ]


def test_deny_outside_geography_names_exactly_the_profiles_regions():
    policy = iam_policy(
        region="ap-southeast-2", model_id=f"au.{SONNET}", deny_outside_geography=True
    )
    deny = policy["Statement"][-1]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == [
        "ap-southeast-2",
        "ap-southeast-4",
    ]


def test_discovered_destinations_replace_the_shipped_table():
    policy = iam_policy(
        region="eu-west-1", model_id=f"eu.{SONNET}", destination_regions=["eu-west-1", "eu-west-3"]
    )
    assert [r.split(":")[3] for r in resources(policy, "InvokeFoundationModelThroughProfile")] == [
        "eu-west-1",
        "eu-west-3",
    ]


def test_an_application_profile_arn_is_granted_as_itself():
    arn = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc123"
    assert iam_policy(region="eu-west-1", model_id=arn)["Statement"][0]["Resource"] == [arn]
