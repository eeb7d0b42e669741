"""Converse and InvokeModel through real boto3: the answer says where it was served."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
APP_PROFILE = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc123"


def _user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_converse_from_an_allowed_region_succeeds(emulator, make_client):
    client = make_client(emulator, region="eu-west-1")

    response = client.converse(modelId=EU_PROFILE, messages=_user("Summarise the plan"))

    text = response["output"]["message"]["content"][0]["text"]
    assert text == f"[eu-west-1] {EU_PROFILE}: Summarise the plan"
    assert response["output"]["message"]["role"] == "assistant"
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}
    assert response["metrics"] == {"latencyMs": 0}


def test_converse_echoes_only_the_last_user_message_but_counts_every_message(emulator, make_client):
    client = make_client(emulator)
    messages = [
        *_user("first question"),
        {"role": "assistant", "content": [{"text": "first answer"}]},
        *_user("second"),
    ]

    response = client.converse(modelId=EU_PROFILE, messages=messages, system=[{"text": "Be brief"}])

    assert response["output"]["message"]["content"][0]["text"].endswith(": second")
    assert response["usage"]["inputTokens"] == 7


def test_converse_echo_is_shortened_for_long_prompts(emulator, make_client):
    client = make_client(emulator)

    response = client.converse(modelId=EU_PROFILE, messages=_user("word " * 200))

    text = response["output"]["message"]["content"][0]["text"]
    assert text.endswith("...")
    assert len(text) < 200


def test_converse_with_a_declared_application_profile_arn_of_the_region_succeeds(
    make_emulator, make_client
):
    client = make_client(make_emulator(app_profiles={"abc123": EU_PROFILE}))

    response = client.converse(modelId=APP_PROFILE, messages=_user("hi"))

    assert response["output"]["message"]["content"][0]["text"] == f"[eu-west-1] {APP_PROFILE}: hi"


def test_invoke_model_returns_an_anthropic_messages_body(emulator, make_client):
    client = make_client(emulator)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "system": "You are terse",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Name a colour"}]}],
    }

    response = client.invoke_model(modelId=EU_PROFILE, body=json.dumps(body))

    payload = json.loads(response["body"].read())
    assert payload["type"] == "message"
    assert payload["role"] == "assistant"
    assert payload["model"] == EU_PROFILE
    assert payload["content"] == [
        {"type": "text", "text": f"[eu-west-1] {EU_PROFILE}: Name a colour"}
    ]
    assert payload["stop_reason"] == "end_turn"
    assert payload["usage"] == {"input_tokens": 6, "output_tokens": 5}
    assert payload["id"].startswith("msg_bdrk_")
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "6"
    assert response["contentType"] == "application/json"


def test_invoke_model_answers_are_deterministic(emulator, make_client):
    client = make_client(emulator)
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "same prompt"}],
        }
    )

    first = client.invoke_model(modelId=EU_PROFILE, body=body)["body"].read()
    second = client.invoke_model(modelId=EU_PROFILE, body=body)["body"].read()

    assert first == second


def test_invoke_model_without_max_tokens_is_a_validation_error(emulator, make_client):
    client = make_client(emulator)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": []})

    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=EU_PROFILE, body=body)

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "required key [max_tokens] not found" in caught.value.response["Error"]["Message"]


def test_invoke_model_with_a_body_that_is_not_json_is_a_validation_error(emulator, make_client):
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=EU_PROFILE, body=b"not json")

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_configured_latency_is_waited_and_reported(make_emulator, make_client):
    emulator = make_emulator(latency=0.05)
    client = make_client(emulator)

    response = client.converse(modelId=EU_PROFILE, messages=_user("slow"))

    assert response["metrics"] == {"latencyMs": 50}
