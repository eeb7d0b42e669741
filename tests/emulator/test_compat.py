"""Third-party clients, unchanged: the AWS CLI from PyPI and the anthropic SDK's AnthropicBedrock.

They need the ``compat`` extra; without it these tests are skipped and the core suite still runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
CLI_TIMEOUT_SECONDS = 60


def _aws(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m awscli`` with only the test keys in its environment."""
    pytest.importorskip("awscli")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    return subprocess.run(
        [sys.executable, "-m", "awscli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.integration  # each AWS CLI call is a process
def test_the_aws_cli_converses_with_the_emulator(emulator, tmp_path):
    messages = json.dumps([{"role": "user", "content": [{"text": "from the cli"}]}])

    result = _aws(
        "bedrock-runtime",
        "converse",
        "--endpoint-url",
        emulator.url,
        "--region",
        "eu-west-1",
        "--model-id",
        EU_PROFILE,
        "--messages",
        messages,
        tmp_path=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert (
        reply["output"]["message"]["content"][0]["text"]
        == f"[eu-west-1] {EU_PROFILE}: from the cli"
    )
    assert [(c.operation, c.region, c.status) for c in emulator.calls()] == [
        ("Converse", "eu-west-1", 200)
    ]


@pytest.mark.integration
def test_the_aws_cli_shows_the_403_of_a_disallowed_region(emulator, tmp_path):
    result = _aws(
        "bedrock-runtime",
        "converse",
        "--endpoint-url",
        emulator.url,
        "--region",
        "us-east-1",
        "--model-id",
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "--messages",
        '[{"role": "user", "content": [{"text": "x"}]}]',
        tmp_path=tmp_path,
    )

    assert result.returncode != 0
    assert "AccessDeniedException" in result.stderr
    assert "arn:aws:bedrock:us-east-1:111122223333:inference-profile/" in result.stderr


@pytest.mark.integration
def test_the_aws_cli_lists_inference_profiles(emulator, tmp_path):
    result = _aws(
        "bedrock",
        "list-inference-profiles",
        "--endpoint-url",
        emulator.url,
        "--region",
        "eu-west-1",
        tmp_path=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    ids = [p["inferenceProfileId"] for p in json.loads(result.stdout)["inferenceProfileSummaries"]]
    assert EU_PROFILE in ids


@pytest.fixture
def anthropic_client(emulator):
    """An AnthropicBedrock client signing with the test keys, pointed at the emulator."""
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.AnthropicBedrock(
        aws_access_key=TEST_ACCESS_KEY_ID,
        aws_secret_key=TEST_SECRET_ACCESS_KEY,
        aws_region="eu-west-1",
        base_url=emulator.url,
        max_retries=0,
    )
    yield client
    client.close()


def test_anthropic_bedrock_creates_a_message(emulator, anthropic_client):
    message = anthropic_client.messages.create(
        model=EU_PROFILE,
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello from the SDK"}],
    )

    assert message.content[0].text == f"[eu-west-1] {EU_PROFILE}: Hello from the SDK"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    assert [(c.operation, c.model_id) for c in emulator.calls()] == [("InvokeModel", EU_PROFILE)]


def test_anthropic_bedrock_streams_a_message(emulator, anthropic_client):
    prompt = "stream this answer back in several pieces please"

    with anthropic_client.messages.stream(
        model=EU_PROFILE, max_tokens=64, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text == f"[eu-west-1] {EU_PROFILE}: {prompt}"
    assert final.stop_reason == "end_turn"
    assert emulator.calls()[0].operation == "InvokeModelWithResponseStream"


def test_anthropic_bedrock_create_with_stream_true_yields_raw_events(anthropic_client):
    events = anthropic_client.messages.create(
        model=EU_PROFILE, max_tokens=64, messages=[{"role": "user", "content": "hi"}], stream=True
    )

    types = [event.type for event in events]

    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    assert "content_block_delta" in types


def test_anthropic_bedrock_surfaces_the_403_of_a_disallowed_region(make_emulator):
    anthropic = pytest.importorskip("anthropic")
    emulator = make_emulator(allowed_regions={"us-east-1"})
    client = anthropic.AnthropicBedrock(
        aws_access_key=TEST_ACCESS_KEY_ID,
        aws_secret_key=TEST_SECRET_ACCESS_KEY,
        aws_region="eu-west-1",
        base_url=emulator.url,
        max_retries=0,
    )
    try:
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            client.messages.create(
                model=EU_PROFILE, max_tokens=8, messages=[{"role": "user", "content": "x"}]
            )
    finally:
        client.close()

    assert caught.value.status_code == 403
