"""Credentials the emulator's STS issued: accepted for Bedrock calls under the assumed-role
identity, only with their own session token, only until they expire, listed without secrets."""

from __future__ import annotations

import datetime as dt
import json
import types
import urllib.parse

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from emulator.access import AccessPolicy, RegionPolicy
from emulator.admin import SESSIONS_PATH
from emulator.faults import FaultInjector
from emulator.journal import Journal
from emulator.profiles import ProfileRegistry
from emulator.server import Headers, Request
from emulator.service import BedrockService
from tests.emulator.test_sts import ROLE, assume, error_of
from tests.support import boto

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
US_PROFILE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]


def runtime_client(url: str, credentials: dict, *, region="eu-west-1", token=True):
    return boto.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"] if token else None,
        config=Config(signature_version="v4", retries={"total_max_attempts": 1}),
    )


def test_issued_credentials_sign_bedrock_calls_the_emulator_accepts(emulator):
    credentials = assume(emulator.url)["Credentials"]
    client = runtime_client(emulator.url, credentials)
    try:
        reply = client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    finally:
        client.close()

    assert reply["stopReason"] == "end_turn"
    sts_call, converse_call = emulator.calls()
    assert (sts_call.operation, sts_call.model_id, sts_call.access_key_id, sts_call.status) == (
        "AssumeRole",
        ROLE,
        TEST_ACCESS_KEY_ID,
        200,
    )
    assert (converse_call.access_key_id, converse_call.status) == (credentials["AccessKeyId"], 200)


def test_a_denied_call_names_the_assumed_role_identity(emulator):
    credentials = assume(emulator.url, session="baton-job-42")["Credentials"]
    client = runtime_client(emulator.url, credentials, region="us-east-1")
    try:
        status, code, message = error_of(client.converse, modelId=US_PROFILE, messages=MESSAGES)
    finally:
        client.close()

    assert (status, code) == (403, "AccessDeniedException")
    assert message.startswith(
        "User: arn:aws:sts::111122223333:assumed-role/baton-eu/baton-job-42 is not authorized"
    )


def test_temporary_credentials_without_their_session_token_are_refused(emulator):
    credentials = assume(emulator.url)["Credentials"]
    client = runtime_client(emulator.url, credentials, token=False)
    try:
        status, code, _ = error_of(client.converse, modelId=EU_PROFILE, messages=MESSAGES)
    finally:
        client.close()

    assert (status, code) == (403, "UnrecognizedClientException")


def test_a_session_token_of_other_credentials_is_refused(emulator):
    first = assume(emulator.url, session="first")["Credentials"]
    second = assume(emulator.url, session="second")["Credentials"]
    client = runtime_client(emulator.url, {**first, "SessionToken": second["SessionToken"]})
    try:
        status, code, _ = error_of(client.converse, modelId=EU_PROFILE, messages=MESSAGES)
    finally:
        client.close()

    assert (status, code) == (403, "UnrecognizedClientException")


def test_the_sessions_endpoint_lists_issued_keys_without_their_secrets(emulator, wire):
    credentials = assume(emulator.url, session="listed")["Credentials"]

    response = wire.send(emulator, "GET", SESSIONS_PATH)

    assert response.status == 200
    assert response.json() == [
        {
            "access_key_id": credentials["AccessKeyId"],
            "arn": "arn:aws:sts::111122223333:assumed-role/baton-eu/listed",
            "expires_at": credentials["Expiration"].timestamp(),
        }
    ]
    assert credentials["SecretAccessKey"].encode() not in response.body
    assert credentials["SessionToken"].encode() not in response.body
    assert wire.send(emulator, "DELETE", SESSIONS_PATH).status == 405


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def freeze_signing_clock(moment: dt.datetime, monkeypatch) -> None:
    """Make botocore's SigV4 signer read ``moment`` as the time, whichever clock it reads.

    Newer botocore releases ask ``botocore.auth.get_current_datetime``; older ones, 1.39 among
    them (the lower bound), call ``datetime.datetime.utcnow`` through ``botocore.auth``.
    """
    if hasattr(botocore.auth, "get_current_datetime"):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: moment)
        return

    class Frozen(dt.datetime):
        @classmethod
        def utcnow(cls) -> dt.datetime:  # type: ignore[override]
            return moment

    monkeypatch.setattr(botocore.auth, "datetime", types.SimpleNamespace(datetime=Frozen))


def signed(path, body, credentials, *, service: str, at: float, monkeypatch) -> Request:
    """Sign as botocore does, at the time ``at`` of the service's fake clock."""
    moment = dt.datetime.fromtimestamp(at, dt.UTC).replace(tzinfo=None)
    freeze_signing_clock(moment, monkeypatch)
    url = f"http://127.0.0.1{path}"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Host": "127.0.0.1"})
    SigV4Auth(credentials, service, "eu-west-1").add_auth(request)
    headers = Headers({name.lower(): str(value) for name, value in request.headers.items()})
    return Request("POST", path, "", headers, body)


def test_temporary_credentials_stop_working_when_they_expire(monkeypatch):
    clock = Clock(dt.datetime.now(dt.UTC).timestamp())
    service = BedrockService(
        policy=AccessPolicy(RegionPolicy.of({"eu-west-1"}).document(), ProfileRegistry()),
        journal=Journal(),
        faults=FaultInjector(),
        profiles=ProfileRegistry(),
        clock=clock,
    )
    form = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE}
    form.update(RoleSessionName="short", DurationSeconds="900")
    body = urllib.parse.urlencode(form).encode()
    caller = Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
    issued = service(
        signed("/", body, caller, service="sts", at=clock.now, monkeypatch=monkeypatch)
    )
    assert issued.status == 200, issued.body
    text = issued.body.decode()
    temporary = Credentials(
        *(text.split(f"<{tag}>")[1].split("<")[0] for tag in ("AccessKeyId", "SecretAccessKey")),
        text.split("<SessionToken>")[1].split("<")[0],
    )
    path = "/model/eu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    converse = json.dumps({"messages": MESSAGES}).encode()

    def call_at(moment: float):
        clock.now = moment
        request = signed(
            path, converse, temporary, service="bedrock", at=moment, monkeypatch=monkeypatch
        )
        return service(request)

    start = clock.now
    fresh, stale = call_at(start + 899), call_at(start + 901)

    assert fresh.status == 200
    assert stale.status == 403
    assert dict(stale.headers)["x-amzn-ErrorType"] == "ExpiredTokenException"
