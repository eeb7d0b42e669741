"""A generated policy, enforced by the emulator, allows exactly the intended calls.

The emulator evaluates IAM the way Bedrock does for cross-region inference: the profile in the
source region and the foundation model in every destination region must all be allowed.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Emulator
from orchestrator.iam import iam_policy

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"


def converse(url: str, region: str, model_id: str) -> str:
    client = boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        config=Config(signature_version="v4", retries={"total_max_attempts": 1}),
    )
    try:
        client.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": "x"}]}])
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    finally:
        client.close()
    return "ok"


@pytest.fixture()
def enforced(tmp_path):
    def start(policy: dict) -> Emulator:
        path = tmp_path / "policy.json"
        path.write_text(json.dumps(policy))
        return Emulator(policy=str(path))

    return start


def test_the_policy_allows_the_profile_from_its_region_and_nothing_outside_the_geography(enforced):
    policy = iam_policy(
        region="eu-west-1",
        model_id=f"eu.{SONNET}",
        account="111122223333",
        deny_outside_geography=True,
    )
    with enforced(policy) as bedrock:
        outcomes = {
            "eu profile from eu-west-1": converse(bedrock.url, "eu-west-1", f"eu.{SONNET}"),
            "eu profile from eu-central-1": converse(bedrock.url, "eu-central-1", f"eu.{SONNET}"),
            "us profile from us-east-1": converse(bedrock.url, "us-east-1", f"us.{SONNET}"),
            "bare model in eu-west-1": converse(bedrock.url, "eu-west-1", SONNET),
        }
    assert outcomes == {
        "eu profile from eu-west-1": "ok",
        "eu profile from eu-central-1": "AccessDeniedException",
        "us profile from us-east-1": "AccessDeniedException",
        "bare model in eu-west-1": "AccessDeniedException",
    }


def test_a_policy_missing_one_destination_model_is_refused(enforced):
    policy = iam_policy(region="eu-west-1", model_id=f"eu.{SONNET}", account="111122223333")
    models = policy["Statement"][1]["Resource"]
    policy["Statement"][1]["Resource"] = [arn for arn in models if ":eu-north-1:" not in arn]
    with enforced(policy) as bedrock:
        assert converse(bedrock.url, "eu-west-1", f"eu.{SONNET}") == "AccessDeniedException"
