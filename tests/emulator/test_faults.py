"""Injected faults: settings, seeded draws, what real clients see, and the admin endpoint."""

from __future__ import annotations

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, ConfigurationError
from emulator.admin import FAULTS_PATH
from emulator.faults import FaultInjector, FaultSettings
from tests.support import boto

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "x"}]}]


def _outcome(client) -> str:
    """Return ``ok`` or the error code of one Converse call."""
    try:
        client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return "ok"


def _pattern(fault) -> str:
    if fault.drop:
        return "drop"
    return type(fault.error).__name__ if fault.error else "ok"


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"throttle_rate": 1.5}, "throttle_rate must be between 0 and 1"),
        ({"drop_rate": -0.1}, "drop_rate must be between 0 and 1"),
        ({"throttle_rate": 0.6, "unavailable_rate": 0.6}, "add up to 1.2"),
        ({"latency": -1}, "latency must be zero or positive"),
        ({"jitter": -1}, "jitter must be zero or positive"),
        ({"slowness": 1}, "unknown fault setting slowness"),
        ({"latency": "fast"}, "latency must be a number"),
        ({"latency": True}, "latency must be a number"),
    ],
)
def test_settings_that_cannot_be_drawn_from_are_refused(changes, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        FaultSettings().updated(changes)


def test_no_settings_means_no_fault_and_no_draw():
    injector = FaultInjector(seed=1)

    assert {_pattern(injector.draw()) for _ in range(50)} == {"ok"}


def test_the_same_seed_draws_the_same_sequence():
    settings = FaultSettings(throttle_rate=0.3, drop_rate=0.2, model_error_rate=0.2)
    first, second = FaultInjector(settings, seed=42), FaultInjector(settings, seed=42)

    sequence = [_pattern(first.draw()) for _ in range(40)]

    assert sequence == [_pattern(second.draw()) for _ in range(40)]
    assert {"ok", "Throttling", "ModelError", "drop"} <= set(sequence)


def test_reseeding_restarts_the_sequence():
    injector = FaultInjector(FaultSettings(throttle_rate=0.5), seed=3)
    sequence = [_pattern(injector.draw()) for _ in range(20)]

    injector.configure(injector.settings, seed=3)

    assert [_pattern(injector.draw()) for _ in range(20)] == sequence


def test_jitter_adds_up_to_its_value_on_top_of_the_latency():
    injector = FaultInjector(FaultSettings(latency=0.1, jitter=0.05), seed=9)

    delays = [injector.draw().delay for _ in range(100)]

    assert all(0.1 <= delay <= 0.15 for delay in delays)
    assert len(set(delays)) > 50


@pytest.mark.parametrize(
    ("option", "status", "code"),
    [
        ("throttle_rate", 429, "ThrottlingException"),
        ("unavailable_rate", 503, "ServiceUnavailableException"),
        ("model_error_rate", 424, "ModelErrorException"),
        ("not_ready_rate", 429, "ModelNotReadyException"),
    ],
)
def test_each_error_fault_reaches_boto3_with_its_status_and_code(
    make_emulator, make_client, option, status, code
):
    emulator = make_emulator(**{option: 1.0})

    with pytest.raises(ClientError) as caught:
        make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert caught.value.response["Error"]["Code"] == code
    assert [(c.status, c.error_code) for c in emulator.calls()] == [(status, code)]


def test_throttling_says_what_bedrock_says(make_emulator, make_client):
    emulator = make_emulator(throttle_rate=1.0)

    with pytest.raises(ClientError) as caught:
        make_client(emulator).converse_stream(modelId=EU_PROFILE, messages=MESSAGES)

    assert caught.value.response["Error"]["Message"] == (
        "Too many requests, please wait before trying again."
    )


def test_a_dropped_connection_gets_no_response_and_is_journaled(make_emulator, make_client):
    emulator = make_emulator(drop_rate=1.0)

    with pytest.raises(ConnectionClosedError):
        make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    assert [(c.status, c.error_code) for c in emulator.calls()] == [(0, "ConnectionDropped")]


def _first_draws(settings: FaultSettings, seed: int, count: int) -> list[str]:
    injector = FaultInjector(settings, seed=seed)
    return [_pattern(injector.draw()) for _ in range(count)]


def test_boto3_standard_retries_get_past_a_throttled_first_attempt(make_emulator):
    settings = FaultSettings(throttle_rate=0.5)
    seed = next(s for s in range(100) if _first_draws(settings, s, 2) == ["Throttling", "ok"])
    emulator = make_emulator(throttle_rate=0.5, seed=seed)
    client = boto.client(
        "bedrock-runtime",
        region_name="eu-west-1",
        endpoint_url=emulator.url,
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )
    try:
        response = client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    finally:
        client.close()

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert [c.error_code for c in emulator.calls()] == ["ThrottlingException", None]


def test_faults_never_hide_a_403_a_400_or_a_control_plane_answer(make_emulator, make_client):
    emulator = make_emulator(throttle_rate=1.0)

    denied = _outcome(make_client(emulator, region="us-east-1"))
    with pytest.raises(ClientError) as invalid:
        make_client(emulator).converse(modelId="us.anthropic.x-v1:0", messages=MESSAGES)
    listed = make_client(emulator, service="bedrock").list_inference_profiles()

    assert denied == "AccessDeniedException"
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    assert listed["inferenceProfileSummaries"]


def test_seeded_emulators_fail_the_same_calls(make_emulator, make_client):
    outcomes = []
    for _ in range(2):
        emulator = make_emulator(throttle_rate=0.5, seed=11)
        client = make_client(emulator)
        outcomes.append([_outcome(client) for _ in range(12)])

    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {"ok", "ThrottlingException"}


def test_faults_change_at_runtime_through_the_python_api(make_emulator, make_client):
    emulator = make_emulator()
    client = make_client(emulator)

    before = _outcome(client)
    emulator.set_faults(throttle_rate=1.0)
    during = _outcome(client)
    emulator.clear_faults()

    assert (before, during, _outcome(client)) == ("ok", "ThrottlingException", "ok")
    assert emulator.faults == FaultSettings()


def test_latency_set_at_runtime_is_reported_in_converse_metrics(make_emulator, make_client):
    emulator = make_emulator()
    emulator.set_faults(latency=0.02)

    response = make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    assert response["metrics"] == {"latencyMs": 20}
    assert emulator.latency == 0.02


def test_the_admin_endpoint_shows_changes_and_clears_faults(emulator, make_client, wire):
    client = make_client(emulator)

    changed = wire.send(
        emulator, "POST", FAULTS_PATH, body=json.dumps({"unavailable_rate": 1, "seed": 5}).encode()
    )
    during = _outcome(client)
    shown = wire.send(emulator, "GET", FAULTS_PATH).json()
    cleared = wire.send(emulator, "DELETE", FAULTS_PATH).json()

    assert changed.status == 200
    assert changed.json()["unavailable_rate"] == 1.0
    assert during == "ServiceUnavailableException"
    assert shown == changed.json()
    assert cleared == FaultSettings().as_dict()
    assert _outcome(client) == "ok"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"throttle_rate": 2}', b'{"seed": "x"}', b'{"nope": 1}'],
)
def test_the_admin_endpoint_refuses_bad_settings_and_keeps_the_old_ones(emulator, wire, body):
    response = wire.send(emulator, "POST", FAULTS_PATH, body=body)

    assert response.status == 400
    assert response.json()["message"]
    assert emulator.faults == FaultSettings()
