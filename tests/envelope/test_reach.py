"""Where a model name sends a call, read the same for every spelling (issue 24, finding 2)."""

from __future__ import annotations

import pytest

from envelope import destinations
from envelope.reach import Reach, child_stays_within, reach_of, within

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
ACCOUNT = "111122223333"
EU_PARENT = f"eu.{SONNET}"


def profile_arn(profile_id: str, region: str = "eu-west-1") -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile_id}"


@pytest.mark.parametrize(
    "name",
    [
        f"global.{SONNET}",
        f"GLOBAL.{SONNET}",
        f"  Global.{SONNET}\t",
        profile_arn(f"global.{SONNET}"),
        profile_arn(f"GLOBAL.{SONNET}"),
        " " + profile_arn(f"global.{SONNET}").upper(),
    ],
)
def test_every_spelling_of_a_global_profile_reaches_the_whole_world(name):
    assert reach_of(name, region="eu-west-1") == Reach("geography", "eu-west-1", geography="global")


def test_a_profile_arn_reaches_the_geography_of_the_profile_it_names():
    reach = reach_of(profile_arn(f"eu.{HAIKU}"), region="eu-west-1")
    assert reach.regions() == frozenset(destinations("eu", source_region="eu-west-1"))


@pytest.mark.parametrize(
    "name",
    [SONNET, f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}", "meta.llama3-8b-v1:0"],
)
def test_a_base_model_or_a_foundation_model_arn_reaches_the_source_region_alone(name):
    assert reach_of(name, region="eu-west-1").regions() == frozenset({"eu-west-1"})


@pytest.mark.parametrize(
    "name",
    [
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/a1b2c3",
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:default-prompt-router/anthropic.claude:1",
        f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}",
        profile_arn(f"eu.{SONNET}", region="us-east-1"),
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/{SONNET}",
        "arn:aws:bedrock:eu-west-1",
        f"ca.{SONNET}",
        f"arn:aws:bedrock:eu-west-1::foundation-model/global.{SONNET}",
        f"arn:aws:bedrock:eu-west-1::foundation-model/US.{SONNET}",
        f"arn:aws:bedrock:eu-west-1::foundation-model/ca.{SONNET}",
    ],
)
def test_an_application_profile_or_any_name_baton_cannot_place_reaches_an_unknown_set(name):
    reach = reach_of(name, region="eu-west-1")
    assert reach.kind == "unknown"
    assert not within(reach, reach_of(f"global.{SONNET}", region="eu-west-1"))


@pytest.mark.parametrize(
    ("child", "parent", "region"),
    [
        (f"eu.{HAIKU}", EU_PARENT, "eu-west-1"),
        (profile_arn(f"eu.{HAIKU}"), EU_PARENT, "eu-west-1"),
        (HAIKU, EU_PARENT, "eu-west-1"),
        (f"au.{HAIKU}", "apac.anthropic.claude-sonnet-4-20250514-v1:0", "ap-southeast-2"),
        (f"jp.{HAIKU}", "apac.anthropic.claude-sonnet-4-20250514-v1:0", "ap-northeast-1"),
        (f"global.{HAIKU}", f"global.{SONNET}", "eu-west-1"),
        (f"eu.{HAIKU}", f"global.{SONNET}", "eu-west-1"),
    ],
)
def test_a_child_may_stay_in_its_parents_geography_or_narrow_it(child, parent, region):
    assert child_stays_within(child, parent_model=parent, region=region)


@pytest.mark.parametrize(
    ("child", "parent", "region"),
    [
        (profile_arn(f"global.{SONNET}"), EU_PARENT, "eu-west-1"),
        (f"global.{HAIKU}", f"eu.{SONNET}", "eu-west-1"),
        (f"Eu.{HAIKU}", SONNET, "eu-west-1"),  # an on-demand parent stays in its region
        (f"GLOBAL.{HAIKU}", SONNET, "eu-west-1"),
        (f"apac.{HAIKU}", f"au.{HAIKU}", "ap-southeast-2"),
        (
            f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/x",
            EU_PARENT,
            "eu-west-1",
        ),
        (
            f"eu.{HAIKU}",
            f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/x",
            "eu-west-1",
        ),
    ],
)
def test_a_child_may_not_widen_its_parents_reach_in_any_spelling(child, parent, region):
    assert not child_stays_within(child, parent_model=parent, region=region)


def test_an_application_profile_is_allowed_to_the_child_of_a_parent_that_chose_it():
    arn = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/team-a"
    assert child_stays_within(arn, parent_model=arn, region="eu-west-1")
    assert not child_stays_within(arn.upper(), parent_model=arn, region="eu-west-1")
