"""ops/iam: each group's policy matches what Baton resolves for its regions, nothing more."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from envelope import destinations, geography_prefix, resolve
from tests.ops.fleet import FLEET, IAM_DIR

#: The models the policies cover: the default alias and the `explorer` agent's model.
MODELS = ("claude-sonnet-4", "haiku")
INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
ACCOUNT = "<ACCOUNT_ID>"


def load(name: str) -> dict[str, Any]:
    policy = json.loads((IAM_DIR / name).read_text())
    assert policy["Version"] == "2012-10-17", name
    return policy


def statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [s for s in policy["Statement"] if s["Sid"] == sid]
    assert len(found) == 1, sid
    return found[0]


def expected(regions: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """Return the profile ARNs and foundation-model ARNs Baton's tables give these regions."""
    profiles, models = set(), set()
    for region in regions:
        for alias in MODELS:
            profile = resolve(alias, region=region, cross_region=True)
            geography = geography_prefix(profile)
            assert geography is not None, f"{alias} in {region} resolves to a geography profile"
            profiles.add(f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile}")
            base = profile.split(".", 1)[1]
            models |= {
                f"arn:aws:bedrock:{dest}::foundation-model/{base}"
                for dest in destinations(geography, source_region=region)
            }
    return profiles, models


@pytest.mark.parametrize("group", sorted(FLEET))
def test_each_group_policy_allows_exactly_the_profiles_resolved_for_its_regions(group):
    profiles, _ = expected(FLEET[group])
    allow = statement(load(f"worker-{group}.json"), "InvokeGeographyProfilesInTheGroupsRegions")
    assert allow["Effect"] == "Allow" and set(allow["Action"]) == INVOKE
    assert set(allow["Resource"]) == profiles


@pytest.mark.parametrize("group", sorted(FLEET))
def test_each_group_policy_allows_models_in_destination_regions_only_through_its_profiles(group):
    profiles, models = expected(FLEET[group])
    allow = statement(
        load(f"worker-{group}.json"), "InvokeFoundationModelsOnlyThroughThoseProfiles"
    )
    assert allow["Effect"] == "Allow" and set(allow["Action"]) == INVOKE
    assert set(allow["Resource"]) == models
    condition = allow["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
    assert set(condition) == profiles


def test_the_eu_residency_deny_allows_nothing_outside_the_eu_geography():
    deny = statement(
        load("data-residency-eu-deny.json"), "DenyBedrockInferenceOutsideTheEuGeography"
    )
    assert deny["Effect"] == "Deny" and set(deny["Action"]) == INVOKE
    assert "Resource" not in deny, "NotResource: deny everything except the EU resources"
    eu_regions = set(destinations("eu", source_region="eu-west-1"))
    for pattern in deny["NotResource"]:
        region, resource = pattern.split(":")[3], pattern.split(":", 5)[5]
        assert region in eu_regions, pattern
        assert resource in {"foundation-model/*", "inference-profile/eu.*"}, pattern


def test_the_eu_residency_deny_never_blocks_what_the_eu_workers_need():
    not_resource = load("data-residency-eu-deny.json")["Statement"][0]["NotResource"]
    profiles, models = expected(FLEET["eu"])
    for arn in profiles | models:
        assert any(fnmatchcase(arn, pattern) for pattern in not_resource), arn


def test_the_eu_residency_deny_blocks_global_and_other_geographies():
    not_resource = load("data-residency-eu-deny.json")["Statement"][0]["NotResource"]
    outside = [
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-20250514-v1:0",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/abc123",
    ]
    for arn in outside:
        assert not any(fnmatchcase(arn, pattern) for pattern in not_resource), arn
