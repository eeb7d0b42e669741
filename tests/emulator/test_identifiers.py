"""Model IDs Bedrock refuses with a 400, judged against envelope's geographies and catalogue."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from emulator.errors import ValidationError
from emulator.identifiers import INVALID_IDENTIFIER, validate_model_id

BASE_MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"
ON_DEMAND_MESSAGE = (
    f"Invocation of model ID {BASE_MODEL} with on-demand throughput isn\u2019t supported. Retry "
    "your request with the ID or ARN of an inference profile that contains this model."
)


def _refusal(client, model_id: str) -> dict:
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": "x"}]}])
    return caught.value.response


def test_a_us_profile_called_from_eu_west_1_is_an_invalid_identifier(emulator, make_client):
    client = make_client(emulator, region="eu-west-1")

    error = _refusal(client, "us.anthropic.claude-sonnet-4-20250514-v1:0")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == "The provided model identifier is invalid."


def test_a_bare_catalogue_id_needs_an_inference_profile(emulator, make_client):
    client = make_client(emulator, region="eu-west-1")

    error = _refusal(client, BASE_MODEL)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == ON_DEMAND_MESSAGE
    assert "\u2019" in error["Error"]["Message"]
    assert "isn't" not in error["Error"]["Message"]


def test_the_validation_body_uses_a_lower_case_message_key(emulator, wire):
    path = wire.model_path("us.anthropic.claude-sonnet-4-20250514-v1:0")
    body = wire.converse_body()

    response = wire.send(emulator, "POST", path, body=body, headers=wire.sign(emulator, path, body))

    assert response.status == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert response.json() == {"message": INVALID_IDENTIFIER}


def test_a_synthesized_prefix_the_model_has_no_profile_for_is_invalid(emulator, make_client):
    client = make_client(emulator, region="eu-west-1")

    error = _refusal(client, "eu.anthropic.claude-opus-4-1-20250805-v1:0")

    assert error["Error"]["Message"] == INVALID_IDENTIFIER


def test_an_unknown_model_is_invalid(emulator, make_client):
    client = make_client(emulator, region="eu-west-1")

    error = _refusal(client, "eu.anthropic.claude-imaginary-v9:0")

    assert error["Error"]["Message"] == INVALID_IDENTIFIER


@pytest.mark.parametrize(
    ("model_id", "region"),
    [
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", "eu-west-1"),
        ("apac.anthropic.claude-sonnet-4-20250514-v1:0", "ap-northeast-2"),
        ("jp.anthropic.claude-haiku-4-5-20251001-v1:0", "ap-northeast-1"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "eu-west-1"),
        ("us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-gov-west-1"),
        (
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/"
            "eu.anthropic.claude-sonnet-4-20250514-v1:0",
            "eu-west-1",
        ),
    ],
)
def test_profiles_of_the_region_geography_are_valid(model_id, region):
    validate_model_id(model_id, region=region)


@pytest.mark.parametrize(
    ("model_id", "region"),
    [
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "ap-northeast-2"),
        ("jp.anthropic.claude-sonnet-4-20250514-v1:0", "ap-northeast-1"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "us-gov-west-1"),
        ("claude-sonnet-4", "eu-west-1"),
        (
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            "eu-west-1",
        ),
        ("arn:aws:bedrock:eu-west-1::inference-profile/eu.x", "eu-west-1"),
        ("arn:aws:bedrock:eu-west-1:111122223333:something/else", "eu-west-1"),
    ],
)
def test_identifiers_bedrock_would_not_recognise_are_invalid(model_id, region):
    with pytest.raises(ValidationError, match=re.escape(INVALID_IDENTIFIER)):
        validate_model_id(model_id, region=region)


def test_a_foundation_model_arn_is_judged_like_the_bare_id():
    arn = f"arn:aws:bedrock:eu-west-1::foundation-model/{BASE_MODEL}"

    with pytest.raises(ValidationError) as caught:
        validate_model_id(arn, region="eu-west-1")

    assert caught.value.message == ON_DEMAND_MESSAGE
