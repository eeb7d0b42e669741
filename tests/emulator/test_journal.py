"""The journal: every call that arrived, refused ones included, served at /_baton/calls."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from emulator import OTHER_ACCESS_KEY_ID, OTHER_SECRET_ACCESS_KEY, TEST_ACCESS_KEY_ID
from emulator.admin import CALLS_PATH, FAULTS_PATH
from emulator.journal import Call, Journal

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
US_PROFILE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "x"}]}]


def test_a_successful_call_is_recorded_with_region_model_and_key(emulator, make_client):
    make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    assert emulator.calls() == [
        Call(
            operation="Converse",
            region="eu-west-1",
            model_id=EU_PROFILE,
            access_key_id=TEST_ACCESS_KEY_ID,
            auth="sigv4",
            status=200,
            error_code=None,
        )
    ]


def test_refused_calls_are_recorded_with_their_status_and_error(emulator, make_client):
    denied = make_client(emulator, region="us-east-1")
    other = make_client(
        emulator, access_key=OTHER_ACCESS_KEY_ID, secret_key=OTHER_SECRET_ACCESS_KEY
    )
    with pytest.raises(ClientError):
        denied.converse(modelId=US_PROFILE, messages=MESSAGES)
    with pytest.raises(ClientError):
        other.invoke_model(modelId=US_PROFILE, body=b"{}")

    first, second = emulator.calls()

    assert (first.region, first.status, first.error_code) == (
        "us-east-1",
        403,
        "AccessDeniedException",
    )
    assert (second.operation, second.access_key_id, second.status, second.error_code) == (
        "InvokeModel",
        OTHER_ACCESS_KEY_ID,
        400,
        "ValidationException",
    )


def test_unsigned_and_bearer_calls_are_recorded_without_region(emulator, wire):
    path = wire.model_path(EU_PROFILE)
    wire.send(emulator, "POST", path, body=wire.converse_body())
    wire.send(emulator, "POST", path, body=b"{}", headers={"Authorization": "Bearer t"})

    unsigned, bearer = emulator.calls()

    assert (unsigned.auth, unsigned.region, unsigned.access_key_id) == ("none", None, None)
    assert (bearer.auth, bearer.status) == ("bearer", 403)
    assert bearer.model_id == EU_PROFILE


def test_the_journal_is_served_as_json_without_a_signature(emulator, make_client, wire):
    make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    response = wire.send(emulator, "GET", CALLS_PATH)

    assert response.status == 200
    served = response.json()
    assert 0 < served[0].pop("at") <= time.time()
    assert served == [
        {
            "operation": "Converse",
            "region": "eu-west-1",
            "model_id": EU_PROFILE,
            "access_key_id": TEST_ACCESS_KEY_ID,
            "auth": "sigv4",
            "status": 200,
            "error_code": None,
            "message": None,
        }
    ]


def test_delete_clears_the_journal_and_admin_calls_are_not_journaled(emulator, make_client, wire):
    make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    cleared = wire.send(emulator, "DELETE", CALLS_PATH)

    assert cleared.json() == {"cleared": 1}
    assert wire.send(emulator, "GET", CALLS_PATH).json() == []
    assert emulator.calls() == []


def test_other_methods_on_the_journal_are_not_allowed(emulator, wire):
    response = wire.send(emulator, "POST", CALLS_PATH, body=b"{}")

    assert response.status == 405
    assert response.headers["Allow"] == "GET, DELETE"


def test_a_decoy_emulator_receives_nothing_when_the_client_uses_the_right_one(
    make_emulator, make_client
):
    real, decoy = make_emulator(), make_emulator()

    make_client(real).converse(modelId=EU_PROFILE, messages=MESSAGES)

    assert len(real.calls()) == 1
    assert decoy.calls() == []


def test_the_journal_keeps_only_the_most_recent_entries():
    journal = Journal(maxlen=3)
    for status in range(5):
        journal.record(Call("Converse", "eu-west-1", "m", "k", "sigv4", status, None))

    assert [call.status for call in journal.calls()] == [2, 3, 4]
    assert len(journal) == 3
    assert journal.clear() == 3
    assert journal.calls() == []


def test_admin_paths_are_not_journaled_and_unknown_ones_are_404(emulator, wire):
    wire.send(emulator, "GET", FAULTS_PATH)
    unknown = wire.send(emulator, "GET", "/_baton/nothing")
    wrong_method = wire.send(emulator, "PUT", CALLS_PATH)

    assert unknown.status == 404
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "GET, DELETE"
    assert emulator.calls() == []
