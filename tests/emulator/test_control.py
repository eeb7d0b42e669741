"""ListInferenceProfiles and GetInferenceProfile through a real boto3 ``bedrock`` client."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator.profiles import system_profiles
from envelope import destinations, geographies_of

ACCOUNT = "111122223333"
SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"
EU_PROFILE = f"eu.{SONNET_4}"


def _ids(response) -> list[str]:
    return [p["inferenceProfileId"] for p in response["inferenceProfileSummaries"]]


def test_list_returns_the_system_profiles_callable_from_the_region(emulator, make_client):
    client = make_client(emulator, service="bedrock")

    response = client.list_inference_profiles()

    summaries = response["inferenceProfileSummaries"]
    assert _ids(response) == [
        p.profile_id for p in system_profiles(region="eu-west-1", account_id=ACCOUNT)
    ]
    assert {p["inferenceProfileId"].split(".")[0] for p in summaries} <= set(
        geographies_of("eu-west-1")
    )
    assert {(p["type"], p["status"]) for p in summaries} == {("SYSTEM_DEFINED", "ACTIVE")}
    assert "nextToken" not in response


def test_a_listed_profile_names_its_arn_and_destination_models(emulator, make_client):
    client = make_client(emulator, service="bedrock", region="eu-central-1")

    summaries = client.list_inference_profiles()["inferenceProfileSummaries"]

    (profile,) = [p for p in summaries if p["inferenceProfileId"] == EU_PROFILE]
    assert profile["inferenceProfileArn"] == (
        f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:inference-profile/{EU_PROFILE}"
    )
    assert [m["modelArn"] for m in profile["models"]] == [
        f"arn:aws:bedrock:{region}::foundation-model/{SONNET_4}"
        for region in destinations("eu", source_region="eu-central-1")
    ]
    assert profile["inferenceProfileName"] == "EU Claude Sonnet 4"


def test_the_paginator_walks_small_pages_to_the_same_list(emulator, make_client):
    client = make_client(emulator, service="bedrock", region="ap-southeast-2")

    whole = _ids(client.list_inference_profiles())
    pages = list(client.get_paginator("list_inference_profiles").paginate(maxResults=2))

    assert len(pages) > 1
    assert [i for page in pages for i in _ids(page)] == whole
    assert all(len(_ids(page)) <= 2 for page in pages)


def test_application_profiles_are_listed_only_when_asked_for(make_emulator, make_client):
    emulator = make_emulator(app_profiles={"team-a": EU_PROFILE, "team-b": f"us.{SONNET_4}"})
    client = make_client(emulator, service="bedrock")

    system = _ids(client.list_inference_profiles())
    apps = client.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]

    assert "team-a" not in system
    assert [(p["inferenceProfileId"], p["type"]) for p in apps] == [("team-a", "APPLICATION")]


def test_get_answers_for_an_id_or_an_arn(emulator, make_client):
    client = make_client(emulator, service="bedrock")
    arn = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/{EU_PROFILE}"

    by_id = client.get_inference_profile(inferenceProfileIdentifier=EU_PROFILE)
    by_arn = client.get_inference_profile(inferenceProfileIdentifier=arn)

    assert by_id["inferenceProfileArn"] == by_arn["inferenceProfileArn"] == arn
    assert by_id["models"] == by_arn["models"]
    assert emulator.calls()[-1].model_id == arn


def test_get_of_a_profile_of_another_geography_is_not_found(emulator, make_client):
    client = make_client(emulator, service="bedrock")

    with pytest.raises(ClientError) as caught:
        client.get_inference_profile(inferenceProfileIdentifier=f"us.{SONNET_4}")

    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_reads_are_allowed_even_when_no_region_is(make_emulator, make_client):
    emulator = make_emulator(allowed_regions=())

    assert _ids(make_client(emulator, service="bedrock").list_inference_profiles())


def test_a_policy_file_can_deny_the_reads(make_emulator, make_client, policy_file):
    deny = {"Effect": "Deny", "Action": "bedrock:*InferenceProfile*", "Resource": "*"}
    emulator = make_emulator(policy=policy_file(deny))
    client = make_client(emulator, service="bedrock")

    with pytest.raises(ClientError) as listing:
        client.list_inference_profiles()
    with pytest.raises(ClientError) as getting:
        client.get_inference_profile(inferenceProfileIdentifier=EU_PROFILE)

    assert (
        "bedrock:ListInferenceProfiles on resource: * with an explicit deny"
        in (listing.value.response["Error"]["Message"])
    )
    assert (
        f"bedrock:GetInferenceProfile on resource: arn:aws:bedrock:eu-west-1:{ACCOUNT}:"
        f"inference-profile/{EU_PROFILE} with an explicit deny"
    ) in getting.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("type=CUSTOM", "Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]"),
        ("maxResults=0", "Member must have value between 1 and 1000"),
        ("nextToken=bm90LWFuLW9mZnNldA", "pagination token is invalid"),
    ],
)
def test_bad_list_parameters_are_validation_errors(emulator, wire, query, complaint):
    path = "/inference-profiles"
    headers = wire.sign(emulator, f"{path}?{query}", b"", method="GET")

    response = wire.send(emulator, "GET", f"{path}?{query}", headers=headers)

    assert response.status == 400
    assert complaint in response.json()["message"]


def test_control_plane_calls_are_verified_and_journaled(emulator, wire):
    unsigned = wire.send(emulator, "GET", "/inference-profiles")

    assert unsigned.status == 403
    assert [(c.operation, c.error_code) for c in emulator.calls()] == [
        ("ListInferenceProfiles", "MissingAuthenticationTokenException")
    ]
