"""Diagnoses read Bedrock's own messages and name the fix."""

from __future__ import annotations

import pytest

from orchestrator.diagnosis import (
    access_denied,
    bedrock_error,
    connection_error,
    invalid_model,
    no_credentials,
    on_demand,
    other_error,
)

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"
DENIED = (
    "User: arn:aws:iam::111122223333:user/baton-test is not authorized to perform: "
    "bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
    f"us.{SONNET} because no identity-based policy allows the bedrock:InvokeModel action"
)
WHERE = {"region": "us-east-1", "model_id": f"us.{SONNET}"}


def test_a_403_names_identity_resource_region_and_the_missing_statement():
    verdict = access_denied(DENIED, region="us-east-1", model_id=f"us.{SONNET}")
    text = "\n".join(verdict.lines)
    assert not verdict.ok
    assert "identity: arn:aws:iam::111122223333:user/baton-test" in text
    assert f"resource: arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.{SONNET}" in text
    assert '"Sid": "InvokeInferenceProfile"' in text
    assert '"Sid": "InvokeFoundationModelThroughProfile"' not in text


def test_a_403_in_another_region_than_the_envelope_blames_local_defaults():
    verdict = access_denied(DENIED, region="eu-west-1", model_id=f"eu.{SONNET}")
    assert any("a client built from local defaults" in line for line in verdict.lines)


def test_an_invalid_model_id_names_the_prefix_that_fits():
    verdict = invalid_model(region="ap-southeast-2", model_id=f"us.{SONNET}")
    assert f"use: apac.{SONNET} (or pass the alias and let Baton resolve it)" in verdict.lines


def test_an_on_demand_refusal_says_to_use_a_profile():
    verdict = on_demand(region="eu-west-1", model_id=SONNET)
    assert any(f"eu.{SONNET}" in line for line in verdict.lines)


def test_a_connection_error_lists_the_proxy_variables():
    verdict = connection_error(
        OSError("refused"), endpoint="https://x", environ={"HTTPS_PROXY": "http://proxy:3128"}
    )
    assert "proxy settings: HTTPS_PROXY=http://proxy:3128" in verdict.lines


def test_missing_credentials_are_not_called_a_connection_problem():
    verdict = no_credentials(OSError("Unable to locate credentials"))
    assert verdict.title == "no AWS credentials: the call was not sent"
    assert "error: Unable to locate credentials" in verdict.lines
    assert not any("DNS" in line or "proxy" in line for line in verdict.lines)


@pytest.mark.parametrize(
    ("code", "message", "same_as"),
    [
        ("AccessDeniedException", DENIED, lambda: access_denied(DENIED, **WHERE)),
        (
            "ValidationException",
            "The provided model identifier is invalid.",
            lambda: invalid_model(**WHERE),
        ),
        (
            "ValidationException",
            "Invocation of model ID x with on-demand throughput isn’t supported.",
            lambda: on_demand(**WHERE),
        ),
        (
            "ThrottlingException",
            "slow down",
            lambda: other_error("ThrottlingException", 429, "slow down"),
        ),
    ],
    ids=["403", "invalid model ID", "on-demand", "any other"],
)
def test_an_error_bedrock_answered_with_gets_the_explanation_of_its_kind(code, message, same_as):
    assert bedrock_error(code, 429, message, **WHERE) == same_as()
