"""``baton doctor`` and ``baton iam-policy`` as a user runs them, against the emulator."""

from __future__ import annotations

import json

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from tests.baton.test_cli import baton
from tests.conftest import clean_env

pytestmark = pytest.mark.integration

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.fixture()
def doctor(start_emulator, tmp_path):
    bedrock = start_emulator("eu-central-1")

    def run(*args: str, **env: str):
        full = clean_env(
            AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
            BATON_CACHE_DIR=str(tmp_path),
            **env,
        )
        return baton("doctor", "--endpoint", bedrock.url, *args, env=full)

    return run


def test_doctor_succeeds_with_exit_0_when_the_call_works(doctor):
    result = doctor("--region", "eu-central-1")
    assert result.returncode == 0, result.stdout
    assert "ok: Bedrock answered the call" in result.stdout
    assert "region eu-central-1 (from --region)" in result.stdout


def test_doctor_explains_a_403_with_the_missing_statement(doctor):
    result = doctor(AWS_REGION="eu-west-1")
    out = " ".join(result.stdout.split())
    assert result.returncode == 1
    assert "403 AccessDeniedException" in out
    assert "identity: arn:aws:iam::111122223333:user/baton-test" in out
    assert '"Sid": "InvokeInferenceProfile"' in out
    assert (
        "this 403 came from Baton's local emulator, which allows only eu-central-1 (its "
        "--allow-region list); restart it with one --allow-region per region the fleet calls: "
        "`baton emulator --allow-region eu-central-1 --allow-region eu-west-1`"
    ) in out


def test_doctor_explains_a_wrong_prefix_with_the_one_that_fits(doctor):
    result = doctor("--region", "eu-central-1", "--model", f"us.{SONNET}")
    out = " ".join(result.stdout.split())
    assert result.returncode == 1
    assert "400 ValidationException: wrong model ID for this region" in out
    assert f"use: eu.{SONNET}" in out


def test_doctor_explains_an_on_demand_refusal(doctor):
    result = doctor(
        "--region", "eu-central-1", "--model", SONNET, AWS_BEDROCK_CROSS_REGION_INFERENCE="false"
    )
    assert result.returncode == 1
    assert "this model runs only through a profile" in result.stdout


def test_doctor_explains_an_unreachable_endpoint(doctor):
    result = baton(
        "doctor",
        "--region",
        "eu-central-1",
        "--endpoint",
        "http://127.0.0.1:9",
        env=clean_env(AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY="x" * 40),
    )
    assert result.returncode == 1
    assert "could not reach Bedrock" in result.stdout
    assert "proxy settings: none set" in result.stdout


def test_iam_policy_prints_the_profile_and_every_destination_model():
    result = baton(
        "iam-policy",
        "--region",
        "ap-southeast-2",
        "--model",
        "haiku",
        "--account",
        "111122223333",
        "--deny-outside-geography",
    )
    policy = json.loads(result.stdout)
    arns = [arn for s in policy["Statement"] if s["Effect"] == "Allow" for arn in s["Resource"]]
    assert arns[0] == (
        "arn:aws:bedrock:ap-southeast-2:111122223333:inference-profile/"
        "au.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    assert {a.split(":")[3] for a in arns[1:]} == {"ap-southeast-2", "ap-southeast-4"}
    assert policy["Statement"][-1]["Effect"] == "Deny"


def test_doctor_without_credentials_says_so_and_not_that_bedrock_is_unreachable(
    start_emulator, tmp_path
):
    bedrock = start_emulator("eu-central-1")
    # no variables, no ~/.aws files, no instance metadata: nowhere to find credentials
    env = clean_env(
        BATON_CACHE_DIR=str(tmp_path), HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true"
    )
    result = baton("doctor", "--region", "eu-central-1", "--endpoint", bedrock.url, env=env)
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out
    assert "no AWS credentials: the call was not sent" in out
    assert "could not reach Bedrock" not in out
