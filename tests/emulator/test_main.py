"""``python -m emulator`` as a process: the READY line, a real call, and a clean SIGTERM.

Every test starts the emulator as a process, so all are marked integration.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator import READY_PREFIX, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

pytestmark = pytest.mark.integration

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
READY_TIMEOUT_SECONDS = 20.0
EXIT_TIMEOUT_SECONDS = 10.0


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Read one stdout line, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line from the emulator within {timeout} s")
    return process.stdout.readline()


@pytest.fixture
def start_process() -> Iterator:
    """Start ``python -m emulator`` processes; kill any still running afterwards, by pid."""
    processes: list[subprocess.Popen[str]] = []

    def factory(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield factory
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(EXIT_TIMEOUT_SECONDS)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _refusal(url: str, region: str) -> ClientError:
    """Make one Converse call that must be refused; return the error botocore raised."""
    client = _client(url, region)
    try:
        with pytest.raises(ClientError) as caught:
            client.converse(
                modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}]
            )
    finally:
        client.close()
    return caught.value


def _client(url: str, region: str, *, service: str = "bedrock-runtime"):
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        config=Config(
            signature_version="v4", retries={"mode": "standard", "total_max_attempts": 1}
        ),
    )


def test_the_cli_prints_the_ready_line_serves_and_exits_on_sigterm(start_process):
    process = start_process("--port", "0", "--allow-region", "eu-west-1")

    line = _read_line(process, READY_TIMEOUT_SECONDS)
    prefix, url = line.rstrip("\n").split(" ")
    assert prefix == READY_PREFIX == "BATON_EMULATOR_READY"
    assert url.startswith("http://127.0.0.1:")
    client = _client(url, "eu-west-1")
    try:
        reply = client.converse(
            modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "ping"}]}]
        )
    finally:
        client.close()
    with urllib.request.urlopen(f"{url}/_baton/calls", timeout=5) as response:
        calls = json.loads(response.read())

    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(EXIT_TIMEOUT_SECONDS) == 0
    assert reply["output"]["message"]["content"][0]["text"] == f"[eu-west-1] {EU_PROFILE}: ping"
    assert [(c["region"], c["status"]) for c in calls] == [("eu-west-1", 200)]
    assert process.stdout is not None
    assert process.stdout.read() == ""


def test_the_cli_without_allowed_regions_warns_and_denies_everything(start_process):
    process = start_process("--port", "0")

    _, url = _read_line(process, READY_TIMEOUT_SECONDS).split()
    refused = _refusal(url, "eu-west-1")
    os.kill(process.pid, signal.SIGINT)
    assert process.wait(EXIT_TIMEOUT_SECONDS) == 0

    assert refused.response["Error"]["Code"] == "AccessDeniedException"
    assert process.stderr is not None
    assert "no --allow-region" in process.stderr.read()


def test_the_cli_refuses_a_region_name_that_is_not_one(start_process):
    process = start_process("--allow-region", "europe")

    deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
    assert process.wait(max(deadline - time.monotonic(), 0)) == 2
    assert process.stderr is not None
    assert "not a region name: europe" in process.stderr.read()


def _exit_status_and_stderr(process: subprocess.Popen[str]) -> tuple[int, str]:
    status = process.wait(EXIT_TIMEOUT_SECONDS)
    assert process.stderr is not None
    return status, process.stderr.read()


def test_the_cli_enforces_a_policy_file_and_declares_app_profiles(start_process, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]})
    )
    process = start_process("--policy", str(policy), "--app-profile", f"team-a={EU_PROFILE}")

    _, url = _read_line(process, READY_TIMEOUT_SECONDS).split()
    client = _client(url, "eu-west-1")
    control = _client(url, "eu-west-1", service="bedrock")
    try:
        reply = client.converse(
            modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "ok"}]}]
        )
        apps = control.list_inference_profiles(typeEquals="APPLICATION")
    finally:
        client.close()
        control.close()
    os.kill(process.pid, signal.SIGTERM)
    status, stderr = _exit_status_and_stderr(process)

    assert status == 0
    assert reply["stopReason"] == "end_turn"
    assert [p["inferenceProfileId"] for p in apps["inferenceProfileSummaries"]] == ["team-a"]
    assert f"enforcing the policy in {policy}" in stderr
    assert "no --allow-region" not in stderr


def test_the_cli_injects_faults_by_rate(start_process):
    process = start_process("--allow-region", "eu-west-1", "--throttle-rate", "1", "--seed", "3")

    _, url = _read_line(process, READY_TIMEOUT_SECONDS).split()
    refused = _refusal(url, "eu-west-1")
    os.kill(process.pid, signal.SIGTERM)

    assert process.wait(EXIT_TIMEOUT_SECONDS) == 0
    assert refused.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--throttle-rate", "1.5"), "throttle_rate must be between 0 and 1"),
        (("--app-profile", "no-equals-sign"), "expected NAME=MODEL_ID"),
        (("--app-profile", "team=anthropic.nope"), "must be a catalogue model"),
        (("--policy", "/nonexistent/policy.json"), "cannot read policy file"),
    ],
)
def test_the_cli_refuses_options_it_cannot_use_with_status_2(start_process, args, complaint):
    process = start_process("--allow-region", "eu-west-1", *args)

    status, stderr = _exit_status_and_stderr(process)

    assert status == 2
    assert complaint in stderr
