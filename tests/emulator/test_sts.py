"""STS AssumeRole in the emulator, with real boto3: who may assume which role, the XML answers
and errors botocore parses, and the ``--deny-assume`` option."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator import (
    ISSUED_SECRET_MARKER,
    READY_PREFIX,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
)
from emulator.admin import SESSIONS_PATH
from tests.conftest import clean_env
from tests.support import boto
from tests.support.processes import Proc, python_argv

ROLE = "arn:aws:iam::111122223333:role/baton-eu"


def sts_client(url: str, *, access_key=TEST_ACCESS_KEY_ID, secret_key=TEST_SECRET_ACCESS_KEY):
    return boto.client(
        "sts",
        region_name="eu-west-1",
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            signature_version="v4",
            retries={"total_max_attempts": 1},
            parameter_validation=False,  # the emulator's own validation is under test
        ),
    )


def assume(url: str, role: str = ROLE, session: str = "baton-root-1", **extra) -> dict:
    client = sts_client(url)
    try:
        return client.assume_role(RoleArn=role, RoleSessionName=session, **extra)
    finally:
        client.close()


def error_of(call, *args, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status, response["Error"]["Code"], response["Error"]["Message"]


def test_assume_role_issues_temporary_credentials_for_the_assumed_role_identity(emulator):
    before = dt.datetime.now(dt.UTC)
    answer = assume(emulator.url, DurationSeconds=1800)

    credentials, user = answer["Credentials"], answer["AssumedRoleUser"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40
    assert ISSUED_SECRET_MARKER in credentials["SecretAccessKey"]
    assert ISSUED_SECRET_MARKER in credentials["SessionToken"]
    lifetime = (credentials["Expiration"] - before).total_seconds()
    assert 1790 <= lifetime <= 1810
    assert user["Arn"] == "arn:aws:sts::111122223333:assumed-role/baton-eu/baton-root-1"
    assert user["AssumedRoleId"].endswith(":baton-root-1")


def test_a_role_in_another_account_cannot_be_assumed(emulator):
    other = "arn:aws:iam::999988887777:role/baton-eu"
    client = sts_client(emulator.url)
    try:
        status, code, message = error_of(
            client.assume_role, RoleArn=other, RoleSessionName="baton-x"
        )
    finally:
        client.close()

    assert (status, code) == (403, "AccessDenied")
    assert message == (
        "User: arn:aws:iam::111122223333:user/baton-test is not authorized to perform: "
        f"sts:AssumeRole on resource: {other}"
    )
    assert [(c.operation, c.status, c.error_code) for c in emulator.calls()] == [
        ("AssumeRole", 403, "AccessDenied")
    ]
    assert emulator.sessions() == []


def test_deny_assume_refuses_one_role_and_allows_the_others(make_emulator):
    denied = "arn:aws:iam::111122223333:role/baton-us"
    emulator = make_emulator(deny_assume=[denied])
    client = sts_client(emulator.url)
    try:
        status, code, _ = error_of(client.assume_role, RoleArn=denied, RoleSessionName="s-1")
        allowed = client.assume_role(RoleArn=ROLE, RoleSessionName="s-2")
    finally:
        client.close()

    assert (status, code) == (403, "AccessDenied")
    assert allowed["Credentials"]["AccessKeyId"].startswith("ASIA")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"RoleSessionName": "bad name with spaces"}, "roleSessionName"),
        ({"RoleSessionName": "ok-name", "DurationSeconds": 60}, "durationSeconds"),
        ({"RoleArn": "arn:aws:iam::111122223333:user/not-a-role"}, "RoleArn"),
    ],
)
def test_invalid_parameters_are_a_validation_error(emulator, extra, needle):
    request = {"RoleArn": ROLE, "RoleSessionName": "baton-root-1", **extra}
    client = sts_client(emulator.url)
    try:
        status, code, message = error_of(client.assume_role, **request)
    finally:
        client.close()

    assert (status, code) == (400, "ValidationError")
    assert needle in message


def test_unknown_keys_and_bedrock_scoped_signatures_get_sts_errors(emulator, wire):
    client = sts_client(emulator.url, access_key="AKIDNOBODYHASTHIS01", secret_key="x" * 40)
    try:
        unknown = error_of(client.assume_role, RoleArn=ROLE, RoleSessionName="baton-1")
    finally:
        client.close()
    body = urllib.parse.urlencode(
        {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE, "RoleSessionName": "a1"}
    ).encode()
    headers = wire.sign(emulator, "/", body)  # scoped to "bedrock", not "sts"
    wrong_scope = wire.send(emulator, "POST", "/", body=body, headers=headers)

    assert unknown[:2] == (403, "InvalidClientTokenId")
    assert wrong_scope.status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in wrong_scope.body
    assert b"correct service: 'sts'" in wrong_scope.body


def test_an_action_other_than_assume_role_is_refused_and_journaled(emulator):
    client = sts_client(emulator.url)
    try:
        status, code, _ = error_of(client.get_caller_identity)
    finally:
        client.close()

    assert (status, code) == (400, "InvalidAction")
    assert [(c.operation, c.error_code) for c in emulator.calls()] == [
        ("GetCallerIdentity", "InvalidAction")
    ]


@pytest.mark.integration  # starts the emulator as a process
def test_the_cli_deny_assume_option_is_enforced():
    denied = "arn:aws:iam::111122223333:role/baton-denied"
    proc = Proc(
        python_argv("-m", "emulator", "--allow-region", "eu-west-1", "--deny-assume", denied),
        env=clean_env(),
        name="emulator",
    )
    try:
        url = proc.wait_for(READY_PREFIX).split()[-1]
        client = sts_client(url)
        try:
            status, code, _ = error_of(client.assume_role, RoleArn=denied, RoleSessionName="s-1")
            allowed = client.assume_role(RoleArn=ROLE, RoleSessionName="s-2")
        finally:
            client.close()
        with urllib.request.urlopen(f"{url}{SESSIONS_PATH}", timeout=10) as response:
            sessions = json.load(response)
    finally:
        assert proc.stop() == 0

    assert (status, code) == (403, "AccessDenied")
    assert [s["access_key_id"] for s in sessions] == [allowed["Credentials"]["AccessKeyId"]]
