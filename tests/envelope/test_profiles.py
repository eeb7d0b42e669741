"""Model resolution: one concrete ID per region's geography, never a guess."""

from __future__ import annotations

import pytest

from envelope import (
    ArnRegionMismatch,
    ModelNotInGeography,
    ModelRequiresProfile,
    ProfileGeographyMismatch,
    ResolutionError,
    UnknownModel,
    catalogue,
    geographies_of,
    requires_profile,
    resolve,
)
from envelope.regions import geographies

SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS = "anthropic.claude-opus-4-1-20250805-v1:0"

#: A representative region of every geography.
REGIONS = (
    "us-east-1",  # us
    "eu-west-1",  # eu
    "ap-southeast-1",  # apac
    "ap-northeast-1",  # jp, then apac
    "ap-southeast-2",  # au, then apac
    "us-gov-west-1",  # us-gov
)

NOT_IN_GEO = ModelNotInGeography

#: Every catalogue model x every region above: the expected ID, or the expected error.
RESOLUTION_TABLE: dict[str, dict[str, str | type[ResolutionError]]] = {
    SONNET_4: {  # profiles: us, eu, apac
        "us-east-1": f"us.{SONNET_4}",
        "eu-west-1": f"eu.{SONNET_4}",
        "ap-southeast-1": f"apac.{SONNET_4}",
        "ap-northeast-1": f"apac.{SONNET_4}",
        "ap-southeast-2": f"apac.{SONNET_4}",
        "us-gov-west-1": NOT_IN_GEO,
    },
    SONNET_4_5: {  # profiles: us, eu, jp, global, us-gov
        "us-east-1": f"us.{SONNET_4_5}",
        "eu-west-1": f"eu.{SONNET_4_5}",
        "ap-southeast-1": NOT_IN_GEO,
        "ap-northeast-1": f"jp.{SONNET_4_5}",
        "ap-southeast-2": NOT_IN_GEO,
        "us-gov-west-1": f"us-gov.{SONNET_4_5}",
    },
    HAIKU: {  # profiles: us, eu, jp, au, global
        "us-east-1": f"us.{HAIKU}",
        "eu-west-1": f"eu.{HAIKU}",
        "ap-southeast-1": NOT_IN_GEO,
        "ap-northeast-1": f"jp.{HAIKU}",
        "ap-southeast-2": f"au.{HAIKU}",
        "us-gov-west-1": NOT_IN_GEO,
    },
    OPUS: {  # profiles: us
        "us-east-1": f"us.{OPUS}",
        "eu-west-1": NOT_IN_GEO,
        "ap-southeast-1": NOT_IN_GEO,
        "ap-northeast-1": NOT_IN_GEO,
        "ap-southeast-2": NOT_IN_GEO,
        "us-gov-west-1": NOT_IN_GEO,
    },
}

ROWS = [
    pytest.param(model, region, expected, id=f"{model.split('.')[1]}_in_{region}")
    for model, by_region in RESOLUTION_TABLE.items()
    for region, expected in by_region.items()
]


def test_the_table_covers_every_catalogue_model_and_every_region():
    assert set(RESOLUTION_TABLE) == set(catalogue().models)
    for by_region in RESOLUTION_TABLE.values():
        assert tuple(by_region) == REGIONS


@pytest.mark.parametrize(("model", "region", "expected"), ROWS)
def test_every_catalogue_model_resolves_per_geography_or_raises(model, region, expected):
    if isinstance(expected, str):
        assert resolve(model, region=region, cross_region=True) == expected
    else:
        with pytest.raises(expected):
            resolve(model, region=region, cross_region=True)


@pytest.mark.parametrize(("model", "region", "expected"), ROWS)
def test_every_alias_resolves_like_its_base_id(model, region, expected):
    aliases = [alias for alias, base in catalogue().aliases.items() if base == model]
    assert aliases, f"{model} has no alias"
    for alias in aliases:
        if isinstance(expected, str):
            assert resolve(alias, region=region, cross_region=True) == expected
        else:
            with pytest.raises(expected):
                resolve(alias, region=region, cross_region=True)


@pytest.mark.parametrize(
    ("model", "region"),
    [(m, r) for m, by in RESOLUTION_TABLE.items() for r, e in by.items() if e is NOT_IN_GEO],
)
def test_the_error_lists_where_the_model_is_available(model, region):
    with pytest.raises(ModelNotInGeography) as info:
        resolve(model, region=region, cross_region=True)
    message = str(info.value)
    assert region in message
    for geo in catalogue().models[model].profiles:
        assert geo in message


ALL_REGIONS = sorted(
    {
        *REGIONS,
        *(region for geo in geographies().values() for region in geo.regions),
        "ap-northeast-2",
        "ap-south-1",
        "ca-central-1",
        "sa-east-1",
        "il-central-1",
        "me-central-1",
        "us-gov-east-1",
        "cn-north-1",
    }
)


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_resolution_never_picks_global_by_itself(region):
    for name in [*catalogue().models, *catalogue().aliases]:
        try:
            resolved = resolve(name, region=region, cross_region=True)
        except ResolutionError:
            continue
        assert not resolved.startswith("global."), (name, region, resolved)
        assert resolved.split(".")[0] in geographies_of(region)


def test_an_explicit_global_profile_is_allowed_where_global_reaches():
    model = f"global.{SONNET_4_5}"
    assert resolve(model, region="ap-southeast-1", cross_region=True) == model


def test_an_explicit_global_profile_is_refused_in_govcloud():
    with pytest.raises(ProfileGeographyMismatch):
        resolve(f"global.{SONNET_4_5}", region="us-gov-west-1", cross_region=True)


@pytest.mark.parametrize(
    ("model", "region"),
    [
        (f"us.{HAIKU}", "eu-west-1"),
        (f"eu.{SONNET_4}", "us-east-1"),
        (f"jp.{HAIKU}", "ap-southeast-2"),
        (f"apac.{SONNET_4}", "eu-central-1"),
        (f"us.{SONNET_4_5}", "us-gov-west-1"),
        (f"us-gov.{SONNET_4_5}", "us-east-1"),
    ],
)
def test_an_explicit_profile_from_another_geography_is_a_mismatch(model, region):
    with pytest.raises(ProfileGeographyMismatch) as info:
        resolve(model, region=region, cross_region=True)
    assert region in str(info.value)


@pytest.mark.parametrize(
    ("model", "region"),
    [(f"jp.{HAIKU}", "ap-northeast-1"), (f"apac.{SONNET_4}", "ap-northeast-1")],
)
def test_an_explicit_profile_of_any_of_the_regions_geographies_passes_unchanged(model, region):
    assert resolve(model, region=region, cross_region=True) == model


@pytest.mark.parametrize(
    ("model", "region"),
    [
        (f"eu.{OPUS}", "eu-west-1"),
        (f"apac.{HAIKU}", "ap-southeast-1"),
        (f"au.{SONNET_4}", "ap-southeast-2"),
    ],
)
def test_a_synthesized_nonexistent_profile_is_model_not_in_geography(model, region):
    with pytest.raises(ModelNotInGeography, match="synthesize"):
        resolve(model, region=region, cross_region=True)


APP_ARN = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


@pytest.mark.parametrize("cross_region", [True, False])
def test_an_application_profile_arn_passes_unchanged_in_its_region(cross_region):
    assert resolve(APP_ARN, region="eu-west-1", cross_region=cross_region) == APP_ARN


def test_an_application_profile_arn_from_another_region_is_arn_region_mismatch():
    with pytest.raises(ArnRegionMismatch) as info:
        resolve(APP_ARN, region="eu-central-1", cross_region=True)
    assert "eu-west-1" in str(info.value)
    assert "eu-central-1" in str(info.value)


def test_a_foundation_model_arn_with_its_empty_account_field_is_recognised():
    arn = f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET_4}"
    assert resolve(arn, region="eu-west-1", cross_region=True) == arn
    with pytest.raises(ArnRegionMismatch):
        resolve(arn, region="us-east-1", cross_region=True)


def test_a_system_profile_arn_must_name_a_profile_of_the_regions_geography():
    arn = f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/us.{HAIKU}"
    with pytest.raises(ProfileGeographyMismatch):
        resolve(arn, region="eu-west-1", cross_region=True)
    good = f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{HAIKU}"
    assert resolve(good, region="eu-west-1", cross_region=True) == good


@pytest.mark.parametrize("model", ["sonnet", "haiku", SONNET_4, "claude-opus-4-1"])
def test_cross_region_off_with_a_profile_only_model_raises_model_requires_profile(model):
    with pytest.raises(ModelRequiresProfile, match="AWS_BEDROCK_CROSS_REGION_INFERENCE"):
        resolve(model, region="us-east-1", cross_region=False)


@pytest.mark.parametrize(
    "model",
    [
        f"eu.{SONNET_4}",
        f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{SONNET_4}",
    ],
)
def test_cross_region_off_with_an_explicit_profile_raises_model_requires_profile(model):
    with pytest.raises(ModelRequiresProfile):
        resolve(model, region="eu-west-1", cross_region=False)


def test_cross_region_off_passes_an_unlisted_on_demand_model_id_unchanged():
    model = "mistral.mistral-large-2402-v1:0"
    assert resolve(model, region="eu-west-1", cross_region=False) == model


@pytest.mark.parametrize("model", ["gpt-5", "claude", "mistral.mistral-large-2402-v1:0", ".x"])
def test_an_unknown_name_with_cross_region_on_is_unknown_model_listing_aliases(model):
    with pytest.raises(UnknownModel) as info:
        resolve(model, region="eu-west-1", cross_region=True)
    assert "haiku" in str(info.value)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("claude-sonnet-4", f"eu.{SONNET_4}"),
        ("bedrock/claude-sonnet-4", f"eu.{SONNET_4}"),
        ("sonnet", f"eu.{SONNET_4_5}"),
        ("Haiku", f"eu.{HAIKU}"),
        ("CLAUDE-HAIKU-4-5", f"eu.{HAIKU}"),
    ],
)
def test_aliases_are_matched_case_insensitively(alias, expected):
    assert resolve(alias, region="eu-west-1", cross_region=True) == expected


def test_the_default_alias_is_in_the_catalogue():
    assert catalogue().base_id(catalogue().default_alias) in catalogue().models


@pytest.mark.parametrize(
    ("model", "expected"),
    [("haiku", True), (SONNET_4, True), ("mistral.mistral-large-2402-v1:0", False), ("gpt", False)],
)
def test_requires_profile_tells_profile_only_catalogue_models(model, expected):
    assert requires_profile(model, "eu-west-1") is expected


# --- the bug class, as users reported it --------------------------------------------------------


def test_a_bare_model_id_in_the_eu_resolves_to_its_eu_profile_not_the_bare_id():
    # Reported: subagents called the bare ID and got 403 on arn:aws:bedrock:::foundation-model/...
    assert resolve(SONNET_4, region="eu-west-1", cross_region=True) == f"eu.{SONNET_4}"


def test_a_haiku_hard_coded_with_us_prefix_is_refused_in_the_eu():
    # Reported: a helper agent's `us.` Haiku got 400 "The provided model identifier is invalid."
    with pytest.raises(ProfileGeographyMismatch):
        resolve(f"us.{HAIKU}", region="eu-west-1", cross_region=True)
    assert resolve("haiku", region="eu-west-1", cross_region=True) == f"eu.{HAIKU}"


@pytest.mark.parametrize("parent_region", ["eu-west-1", "ap-northeast-1", "ap-southeast-2"])
def test_an_explorer_asking_for_the_small_model_resolves_in_the_parents_geography(parent_region):
    # Reported: explorer subagents ignored the small/fast model setting and hit us-east-1 (403).
    resolved = resolve("haiku", region=parent_region, cross_region=True)
    assert not resolved.startswith("us.")
    assert resolved.split(".")[0] == geographies_of(parent_region)[0]


@pytest.mark.parametrize("alias", sorted(catalogue().aliases))
def test_no_alias_resolves_to_a_us_profile_in_seoul(alias):
    # Reported: aliases resolved to `us.` in ap-northeast-2 and got 400.
    try:
        resolved = resolve(alias, region="ap-northeast-2", cross_region=True)
    except ModelNotInGeography as exc:
        assert "ap-northeast-2" in str(exc)
    else:
        assert resolved.startswith("apac.")


def test_an_alias_never_synthesizes_a_nonexistent_eu_profile():
    # Reported: an alias produced a made-up `eu.` ID and got 400.
    with pytest.raises(ModelNotInGeography, match="it exists in: us"):
        resolve("opus", region="eu-west-1", cross_region=True)
