"""Model IDs Bedrock refuses with a 400, judged against envelope's geographies and catalogue."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from emulator import TEST_ACCOUNT_ID
from emulator.errors import ValidationError
from emulator.identifiers import INVALID_IDENTIFIER, validate_model_id
from emulator.profiles import ProfileRegistry

BASE_MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"
EU_PROFILE = f"eu.{BASE_MODEL}"
APP_ARN = f"arn:aws:bedrock:eu-west-1:{TEST_ACCOUNT_ID}:application-inference-profile/{{name}}"
ANTHROPIC_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "x"}],
    }
)
ON_DEMAND_MESSAGE = (
    f"Invocation of model ID {BASE_MODEL} with on-demand throughput isn\u2019t supported. Retry "
    "your request with the ID or ARN of an inference profile that contains this model."
)


def _validate(model_id: str, *, region: str, profiles: ProfileRegistry | None = None) -> None:
    validate_model_id(
        model_id, region=region, account_id=TEST_ACCOUNT_ID, profiles=profiles or ProfileRegistry()
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
    _validate(model_id, region=region)


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
        _validate(model_id, region=region)


def test_a_foundation_model_arn_is_judged_like_the_bare_id():
    arn = f"arn:aws:bedrock:eu-west-1::foundation-model/{BASE_MODEL}"

    with pytest.raises(ValidationError) as caught:
        _validate(arn, region="eu-west-1")

    assert caught.value.message == ON_DEMAND_MESSAGE


def _invoke(client, operation: str, model_id: str) -> None:
    """Call one runtime operation and read a streamed answer to its end."""
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    if operation == "converse":
        client.converse(modelId=model_id, messages=messages)
    elif operation == "converse_stream":
        list(client.converse_stream(modelId=model_id, messages=messages)["stream"])
    elif operation == "invoke_model":
        client.invoke_model(modelId=model_id, body=ANTHROPIC_BODY)
    else:
        response = client.invoke_model_with_response_stream(modelId=model_id, body=ANTHROPIC_BODY)
        list(response["body"])


RUNTIME_OPERATIONS = [
    "converse",
    "converse_stream",
    "invoke_model",
    "invoke_model_with_response_stream",
]


@pytest.mark.parametrize("operation", RUNTIME_OPERATIONS)
def test_an_application_profile_arn_nobody_declared_is_refused_by_every_runtime_operation(
    make_emulator, make_client, operation
):
    emulator = make_emulator(app_profiles={"team-a": EU_PROFILE})
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        _invoke(client, operation, APP_ARN.format(name="doesnotexist"))

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == INVALID_IDENTIFIER
    assert emulator.calls()[-1].error_code == "ValidationException"


@pytest.mark.parametrize("operation", RUNTIME_OPERATIONS)
def test_a_declared_application_profile_whose_model_cannot_run_here_is_refused(
    make_emulator, make_client, operation
):
    emulator = make_emulator(app_profiles={"team-us": f"us.{BASE_MODEL}"})
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        _invoke(client, operation, APP_ARN.format(name="team-us"))

    assert caught.value.response["Error"]["Message"] == INVALID_IDENTIFIER


def test_only_the_declared_application_profiles_of_the_callers_account_are_valid():
    profiles = ProfileRegistry({"team-a": EU_PROFILE})
    declared = APP_ARN.format(name="team-a")

    _validate(declared, region="eu-west-1", profiles=profiles)
    for refused in (
        APP_ARN.format(name="team-b"),
        declared.replace(TEST_ACCOUNT_ID, "999999999999"),
        declared.replace("eu-west-1", "eu-central-1"),
    ):
        with pytest.raises(ValidationError, match=re.escape(INVALID_IDENTIFIER)):
            _validate(refused, region="eu-west-1", profiles=profiles)
