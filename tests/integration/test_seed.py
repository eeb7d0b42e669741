"""The seed bug, reproduced and then fixed, with real Redis, workers and SigV4 over HTTP.

Every worker here has its own environment set wrong: us-east-1 region variables, endpoint
variables that point at a decoy emulator, and an ambient bearer token. The real emulator allows
only the parent's region. A subagent must reach the real emulator, signed for the parent's region,
with the parent's geography-prefixed model ID, and the decoy must see nothing.
"""

from __future__ import annotations

import subprocess

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from tests.conftest import clean_env

pytestmark = pytest.mark.integration

SCENARIOS = [
    pytest.param("eu-central-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0", id="eu-only"),
    pytest.param("ap-southeast-2", "apac.anthropic.claude-sonnet-4-20250514-v1:0", id="apac"),
    pytest.param("us-west-2", "us.anthropic.claude-sonnet-4-20250514-v1:0", id="development"),
    pytest.param("eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0", id="production"),
]

ALL_REGIONS = ("eu-central-1", "ap-southeast-2", "us-west-2", "eu-west-1")


def wrong_worker_env(decoy_url: str) -> dict[str, str]:
    return {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": decoy_url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": decoy_url,
        "AWS_BEARER_TOKEN_BEDROCK": "ambient-bearer-token-that-must-not-be-used",
    }


@pytest.mark.parametrize(("region", "expected_model"), SCENARIOS)
def test_subagent_calls_bedrock_with_the_parents_region_despite_wrong_worker_defaults(
    region, expected_model, start_emulator, start_worker, make_orchestrator
):
    real = start_emulator(region)
    decoy = start_emulator(*ALL_REGIONS, "us-east-1")
    start_worker(*ALL_REGIONS, env=wrong_worker_env(decoy.url))
    orch = make_orchestrator({"AWS_REGION": region, "AWS_BEDROCK_ENDPOINT": real.url})

    results = orch.gather([orch.spawn(f"hello from {region} #{i}") for i in range(3)], timeout=60)

    assert [r["region"] for r in results] == [region] * 3
    assert [r["model_id"] for r in results] == [expected_model] * 3
    assert all(r["endpoint"] == real.url for r in results)
    calls = real.calls()
    assert len(calls) == 3
    assert {(c["region"], c["model_id"], c["auth"], c["status"]) for c in calls} == {
        (region, expected_model, "sigv4", 200)
    }
    assert decoy.calls() == []


def test_development_and_production_parents_share_one_fleet_without_crosstalk(
    start_emulator, start_worker, make_orchestrator
):
    dev_bedrock, prod_bedrock = start_emulator("us-west-2"), start_emulator("eu-west-1")
    decoy = start_emulator("us-east-1")
    start_worker("us-west-2", "eu-west-1", env=wrong_worker_env(decoy.url), concurrency=8)
    dev = make_orchestrator({"AWS_REGION": "us-west-2", "AWS_BEDROCK_ENDPOINT": dev_bedrock.url})
    prod = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": prod_bedrock.url})

    jobs = [(orch, orch.spawn(f"job {i}")) for i in range(4) for orch in (dev, prod)]
    results = [(orch, orch.gather([job], timeout=60)[0]) for orch, job in jobs]

    for orch, result in results:
        assert result["region"] == orch.envelope.region
        assert result["model_id"] == orch.envelope.model_id
    assert {c["region"] for c in dev_bedrock.calls()} == {"us-west-2"}
    assert {c["region"] for c in prod_bedrock.calls()} == {"eu-west-1"}
    assert len(dev_bedrock.calls()) == len(prod_bedrock.calls()) == 4
    assert decoy.calls() == []


CONTROL = """
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
client = boto3.client("bedrock-runtime", config=Config(signature_version="v4"))
try:
    client.converse(modelId="us.anthropic.claude-sonnet-4-20250514-v1:0",
                    messages=[{"role": "user", "content": [{"text": "hi"}]}])
except ClientError as exc:
    print("CODE", exc.response["Error"]["Code"], client.meta.region_name)
else:
    print("CODE none", client.meta.region_name)
"""


def test_control_a_client_from_the_worker_local_defaults_gets_403(start_emulator):
    real = start_emulator("eu-central-1")
    env = clean_env(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=real.url,
        AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
    )
    import sys

    out = subprocess.run(
        [sys.executable, "-c", CONTROL],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "CODE AccessDeniedException us-east-1" in out
    assert [(c["region"], c["status"]) for c in real.calls()] == [("us-east-1", 403)]


def test_debug_worker_logs_the_inherited_region_model_and_endpoint(
    start_emulator, start_worker, make_orchestrator
):
    real = start_emulator("eu-central-1")
    worker = start_worker("eu-central-1", debug=True)
    orch = make_orchestrator({"AWS_REGION": "eu-central-1", "AWS_BEDROCK_ENDPOINT": real.url})

    orch.gather([orch.spawn("hi")], timeout=60)

    worker.proc.wait_for("Using inherited Bedrock region: eu-central-1", timeout=10)
    worker.proc.wait_for(f"Using inherited Bedrock model: {orch.envelope.model_id}", timeout=10)
    worker.proc.wait_for(f"Using inherited Bedrock endpoint: {real.url}", timeout=10)
