"""Inference profiles per source region, from the shared catalogue, and declared app profiles."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from emulator import ConfigurationError
from emulator.profiles import ProfileRegistry, system_profile, system_profiles
from envelope import catalogue, destinations, geographies_of

ACCOUNT = "111122223333"
SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "ap-southeast-2", "us-gov-west-1"])
def test_every_catalogue_profile_of_the_regions_geographies_is_listed(region):
    listed = {p.profile_id for p in system_profiles(region=region, account_id=ACCOUNT)}

    expected = {
        f"{geo}.{base}"
        for base, entry in catalogue().models.items()
        for geo in entry.profiles
        if geo in geographies_of(region)
    }
    assert listed == expected
    assert listed


def test_a_region_in_several_geographies_lists_each_of_them():
    listed = {
        p.profile_id.split(".")[0]
        for p in system_profiles(region="ap-southeast-2", account_id=ACCOUNT)
    }

    assert listed == {"au", "apac", "global"}


def test_a_profiles_models_are_the_foundation_model_in_each_destination_region():
    profile = system_profile(f"eu.{SONNET_4}", region="eu-west-3", account_id=ACCOUNT)

    assert profile is not None
    assert profile.arn == f"arn:aws:bedrock:eu-west-3:{ACCOUNT}:inference-profile/eu.{SONNET_4}"
    assert profile.model_arns == tuple(
        f"arn:aws:bedrock:{region}::foundation-model/{SONNET_4}"
        for region in destinations("eu", source_region="eu-west-3")
    )
    assert profile.model_arns[0].startswith("arn:aws:bedrock:eu-west-3::")


@pytest.mark.parametrize(
    "profile_id",
    [f"us.{SONNET_4}", "eu.anthropic.claude-opus-4-1-20250805-v1:0", "eu.no-such-model", SONNET_4],
)
def test_ids_that_are_not_a_profile_of_the_region_are_not_found(profile_id):
    assert system_profile(profile_id, region="eu-west-1", account_id=ACCOUNT) is None


def test_an_application_profile_exists_where_its_model_can_run():
    registry = ProfileRegistry({"team-a": f"eu.{SONNET_4}"})

    in_eu = registry.application("team-a", region="eu-west-1", account_id=ACCOUNT)

    assert in_eu is not None
    assert in_eu.arn == f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/team-a"
    assert in_eu.kind == "APPLICATION"
    assert len(in_eu.model_arns) == len(destinations("eu", source_region="eu-west-1"))
    assert registry.application("team-a", region="us-east-1", account_id=ACCOUNT) is None


def test_find_accepts_ids_and_arns_of_the_callers_region_and_account_only():
    registry = ProfileRegistry({"team-a": f"eu.{SONNET_4}"})
    arn = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{SONNET_4}"

    def find(identifier: str, region: str = "eu-west-1") -> str | None:
        found = registry.find(identifier, region=region, account_id=ACCOUNT)
        return found.profile_id if found else None

    assert find(f"eu.{SONNET_4}") == f"eu.{SONNET_4}"
    assert find(arn) == f"eu.{SONNET_4}"
    assert find("team-a") == "team-a"
    assert (
        find(f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/team-a")
        == "team-a"
    )
    assert find(arn, region="eu-west-3") is None
    assert find(arn.replace(ACCOUNT, "999999999999")) is None
    assert find("team-b") is None


@pytest.mark.parametrize(
    ("profiles", "complaint"),
    [
        ({"bad name!": f"eu.{SONNET_4}"}, "must be 1 to 64"),
        ({"team": "anthropic.no-such-model"}, "must be a catalogue model"),
        ({"team": "eu.anthropic.claude-opus-4-1-20250805-v1:0"}, "must be a catalogue model"),
    ],
)
def test_application_profiles_that_cannot_exist_are_refused(profiles, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        ProfileRegistry(profiles)


def _verdict(operation: Callable[..., object], **params: object) -> str:
    """Call ``operation``; return ``accepted``, or the error code it was refused with."""
    try:
        operation(**params)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "accepted"


def test_converse_and_get_inference_profile_give_the_same_verdict_for_each_identifier(
    make_emulator, make_client
):
    emulator = make_emulator(
        allowed_regions=frozenset({"eu-west-1", "eu-central-1"}),
        app_profiles={"team-a": f"eu.{SONNET_4}", "team-us": f"us.{SONNET_4}"},
    )
    runtime, control = make_client(emulator), make_client(emulator, service="bedrock")
    app = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/"
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    table = {
        app + "team-a": True,
        app + "doesnotexist": False,
        (app + "team-a").replace("eu-west-1", "eu-central-1"): False,
        (app + "team-a").replace(ACCOUNT, "999999999999"): False,
        app + "team-us": False,
        f"eu.{SONNET_4}": True,
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{SONNET_4}": True,
        f"us.{SONNET_4}": False,
        SONNET_4: False,
    }

    for identifier, accepted in table.items():
        conversed = _verdict(runtime.converse, modelId=identifier, messages=messages)
        got = _verdict(control.get_inference_profile, inferenceProfileIdentifier=identifier)

        assert (conversed == "accepted", got == "accepted") == (accepted, accepted), identifier
        if not accepted:
            assert conversed == "ValidationException", identifier
            assert got == "ResourceNotFoundException", identifier
