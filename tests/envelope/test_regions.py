"""Regions and the inference-profile geographies that contain them, narrowest first."""

from __future__ import annotations

import pytest

from envelope import geographies_of, geography_prefix, is_region

#: The geography table of docs/geographies.md, one row per region.
GEOGRAPHY_TABLE = [
    *[
        (region, ("us", "global"))
        for region in ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
    ],
    *[
        (region, ("eu", "global"))
        for region in (
            "eu-central-1",
            "eu-central-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
        )
    ],
    *[(region, ("jp", "apac", "global")) for region in ("ap-northeast-1", "ap-northeast-3")],
    *[(region, ("au", "apac", "global")) for region in ("ap-southeast-2", "ap-southeast-4")],
    *[
        (region, ("apac", "global"))
        for region in (
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-east-1",
            "me-central-1",
        )
    ],
    *[(region, ("us-gov",)) for region in ("us-gov-west-1", "us-gov-east-1")],
    *[(region, ("global",)) for region in ("ca-central-1", "sa-east-1", "il-central-1")],
    *[(region, ()) for region in ("cn-north-1", "us-iso-east-1", "us-isob-east-1")],
]


@pytest.mark.parametrize(("region", "expected"), GEOGRAPHY_TABLE)
def test_a_region_belongs_to_its_geographies_narrowest_first(region, expected):
    assert geographies_of(region) == expected


def test_global_is_always_the_broadest_geography_of_a_commercial_region():
    for region, expected in GEOGRAPHY_TABLE:
        if "global" in expected:
            assert geographies_of(region)[-1] == "global", region


def test_me_central_1_is_apac_but_other_middle_east_regions_are_not():
    assert "apac" in geographies_of("me-central-1")
    assert "apac" not in geographies_of("me-south-1")


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", "eu"),
        ("us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-gov"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "global"),
        ("apac.anthropic.claude-sonnet-4-20250514-v1:0", "apac"),
        ("anthropic.claude-sonnet-4-20250514-v1:0", None),
        ("ca.anthropic.claude-sonnet-4-20250514-v1:0", None),
        ("haiku", None),
        ("arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/x", None),
    ],
)
def test_geography_prefix_is_read_only_from_a_known_prefix(model_id, expected):
    assert geography_prefix(model_id) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("eu-west-1", True),
        ("us-gov-west-1", True),
        ("us-isob-east-1", True),
        ("ap-southeast-4", True),
        ("eu-west", False),
        ("EU-WEST-1", False),
        ("eu-west-1 ", False),
        ("eu-west-1\n", False),
        ("us-east-100", False),
        ("", False),
        ("cn-northwest-1", True),
        ("mx-central-1", True),
        ("xy-southwest-9", True),  # a country AWS has not opened yet
        ("eu-wst-1", False),  # a typo
        ("eu-est-1", False),
    ],
)
def test_is_region_accepts_exactly_aws_region_names(name, expected):
    assert is_region(name) is expected
