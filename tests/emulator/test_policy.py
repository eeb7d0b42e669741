"""The region-scoped Allow policy, and the 403 Bedrock sends when it does not match."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator import OTHER_ACCESS_KEY_ID, OTHER_SECRET_ACCESS_KEY, RegionPolicy, resource_arn

US_PROFILE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
BASE_MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"


def test_a_profile_id_is_authorised_as_an_inference_profile_of_the_source_region():
    arn = resource_arn(EU_PROFILE, region="eu-west-1", account_id="111122223333")

    assert arn == f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/{EU_PROFILE}"


def test_a_bare_model_id_is_authorised_as_a_foundation_model_without_account():
    arn = resource_arn(BASE_MODEL, region="eu-west-1", account_id="111122223333")

    assert arn == f"arn:aws:bedrock:eu-west-1::foundation-model/{BASE_MODEL}"


def test_an_arn_is_authorised_as_itself():
    arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/x1"

    assert resource_arn(arn, region="eu-west-1", account_id="111122223333") == arn


def test_policy_allows_only_resources_in_its_regions():
    policy = RegionPolicy.of(["eu-west-1"])

    assert policy.allows("arn:aws:bedrock:eu-west-1:111122223333:inference-profile/x")
    assert policy.allows("arn:aws:bedrock:eu-west-1::foundation-model/x")
    assert not policy.allows("arn:aws:bedrock:us-east-1::foundation-model/x")
    assert not policy.allows("arn:aws:s3:eu-west-1::bucket")
    assert not RegionPolicy.of([]).allows("arn:aws:bedrock:eu-west-1::foundation-model/x")


def test_policy_statements_are_one_allow_per_region():
    statements = RegionPolicy.of(["eu-west-3", "eu-west-1"]).statements()

    assert [s["Resource"] for s in statements] == [
        "arn:aws:bedrock:eu-west-1:*:*",
        "arn:aws:bedrock:eu-west-3:*:*",
    ]
    assert {s["Effect"] for s in statements} == {"Allow"}


def test_converse_from_a_disallowed_region_is_denied_with_the_exact_resource(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=US_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["Error"]["Message"] == (
        "User: arn:aws:iam::111122223333:user/baton-test is not authorized to perform: "
        "bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1:111122223333:"
        f"inference-profile/{US_PROFILE} because no identity-based policy allows the "
        "bedrock:InvokeModel action"
    )


def test_access_denied_body_uses_a_capital_m_and_the_error_type_header(emulator, wire):
    path = wire.model_path(US_PROFILE)
    body = wire.converse_body()
    headers = wire.sign(emulator, path, body, region="us-east-1")

    response = wire.send(emulator, "POST", path, body=body, headers=headers)

    assert response.status == 403
    assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert response.headers["Content-Type"] == "application/json"
    assert list(response.json()) == ["Message"]


def test_a_bare_model_id_denied_names_the_foundation_model_arn(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=BASE_MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert (
        f"on resource: arn:aws:bedrock:us-east-1::foundation-model/{BASE_MODEL} because"
        in caught.value.response["Error"]["Message"]
    )


def test_the_denial_names_the_caller_identity(emulator, make_client):
    client = make_client(
        emulator,
        region="us-west-2",
        access_key=OTHER_ACCESS_KEY_ID,
        secret_key=OTHER_SECRET_ACCESS_KEY,
    )

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=US_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert caught.value.response["Error"]["Message"].startswith(
        "User: arn:aws:iam::111122223333:user/baton-other is not authorized"
    )


def test_an_emulator_with_no_allowed_region_denies_everything(make_emulator, make_client):
    emulator = make_emulator(allowed_regions=frozenset())
    client = make_client(emulator, region="eu-west-1")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_policy_is_checked_before_the_model_id(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse(
            modelId="eu.no-such-model-v1:0", messages=[{"role": "user", "content": [{"text": "x"}]}]
        )

    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
