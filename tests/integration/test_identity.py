"""Identity modes end to end: ``assume_role`` through the emulator's STS, ``profile`` on the
worker, and ``sealed`` parent credentials, each proven by which access key signed Converse.
"""

from __future__ import annotations

import base64
import os
import time

import boto3
import pytest
from botocore.config import Config

from envelope import SealedAuth
from tests.integration.harness import AMBIENT, OTHER, REGION, crafted, figures, publish, settle
from workers import IdentityUnavailable

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::111122223333:role/baton-eu"
PARENT_ROLE = "arn:aws:iam::111122223333:role/baton-parent"


@pytest.fixture()
def parent(redis_urls, envelope_key):
    """Factory: an Orchestrator for the emulator at ``url`` with identity settings."""
    from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app

    broker, backend = redis_urls
    apps = []

    def make(url: str, **identity: str):
        settings = ProducerSettings(
            broker_url=broker, result_backend=backend, envelope_key=envelope_key, **identity
        )
        app = producer_app(settings)
        apps.append(app)
        config = capture(environ={"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": url})
        return Orchestrator(config=config, settings=settings, app=app)

    yield make
    for app in apps:
        close_producer(app)


def temporary_credentials(url: str, *, session: str = "parent") -> dict[str, str]:
    """What a parent running under an assumed role holds: credentials from the emulator's STS."""
    sts = boto3.session.Session().client(
        "sts",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=AMBIENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AMBIENT["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="v4"),
    )
    try:
        found = sts.assume_role(RoleArn=PARENT_ROLE, RoleSessionName=session)["Credentials"]
    finally:
        sts.close()
    return {
        "AWS_ACCESS_KEY_ID": found["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
        "AWS_SESSION_TOKEN": found["SessionToken"],
    }


def as_parent(monkeypatch, credentials: dict[str, str]) -> None:
    """Give this (the parent's) process exactly ``credentials``, as its environment would."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)


def seal_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_assume_role_jobs_call_bedrock_as_the_role_with_one_assume_role_per_session(
    emulator_proc, start_worker, parent
):
    emulator = emulator_proc(REGION)
    start_worker(pool="threads", concurrency=4)
    first = parent(emulator.url, identity="assume_role", role_arn=ROLE)
    second = parent(emulator.url, identity="assume_role", role_arn=ROLE)

    results = [
        orch.gather([orch.spawn(f"{orch.root_id} job {i}") for i in range(5)], timeout=60)
        for orch in (first, second)
    ]

    calls, sessions = emulator.calls(), emulator.sessions()
    assumed = [c for c in calls if c["operation"] == "AssumeRole"]
    figures("assume_role", jobs=10, assume_role_calls=len(assumed), sessions=len(sessions))
    assert [(c["access_key_id"], c["model_id"], c["status"]) for c in assumed] == [
        (AMBIENT["AWS_ACCESS_KEY_ID"], ROLE, 200)
    ] * 2
    by_key = {s["access_key_id"]: s["arn"] for s in sessions}
    for orch, answers in zip((first, second), results, strict=True):
        arn = f"arn:aws:sts::111122223333:assumed-role/baton-eu/baton-{orch.root_id}"
        signed_by = {
            c["access_key_id"]
            for c in calls
            if c["operation"] == "Converse"
            and c["access_key_id"] in by_key
            and by_key[c["access_key_id"]] == arn
        }
        assert len(signed_by) == 1, f"one set of credentials per (role, session): {signed_by}"
        assert next(iter(signed_by)).startswith("ASIA")
        assert all(a["region"] == REGION for a in answers)
    converse = [c for c in calls if c["operation"] == "Converse"]
    assert len(converse) == 10
    assert all(c["access_key_id"].startswith("ASIA") and c["status"] == 200 for c in converse)
    assert calls.index(assumed[0]) < calls.index(converse[0])


def test_each_prefork_child_assumes_the_role_once_and_reuses_it(
    emulator_proc, start_worker, parent
):
    emulator = emulator_proc(REGION)
    start_worker(pool="prefork", concurrency=2)
    orch = parent(emulator.url, identity="assume_role", role_arn=ROLE)

    orch.gather([orch.spawn(f"job {i}") for i in range(8)], timeout=60)

    assumed = emulator.calls("AssumeRole")
    keys = {c["access_key_id"] for c in emulator.calls("Converse")}
    figures("assume_role prefork", jobs=8, assume_role_calls=len(assumed), keys_used=len(keys))
    assert 1 <= len(assumed) <= 2
    assert len(keys) == len(assumed)
    assert {s["access_key_id"] for s in emulator.sessions()} == keys


def test_a_role_whose_trust_refuses_the_worker_is_identity_unavailable(
    emulator_proc, start_worker, parent
):
    emulator = emulator_proc(REGION, deny_assume=[ROLE])
    start_worker()
    orch = parent(emulator.url, identity="assume_role", role_arn=ROLE)

    with pytest.raises(IdentityUnavailable, match=f"STS AssumeRole of {ROLE} failed"):
        orch.spawn("refused").get(timeout=30)
    assert [(c["operation"], c["status"]) for c in emulator.calls()] == [("AssumeRole", 403)]


def profile_files(tmp_path, profiles: dict[str, dict[str, str]]) -> dict[str, str]:
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("".join(f"[profile {name}]\nregion = us-east-1\n" for name in profiles))
    credentials.write_text(
        "".join(
            f"[{name}]\naws_access_key_id = {keys['AWS_ACCESS_KEY_ID']}\n"
            f"aws_secret_access_key = {keys['AWS_SECRET_ACCESS_KEY']}\n"
            for name, keys in profiles.items()
        )
    )
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}


def test_profile_mode_uses_the_named_profile_and_names_a_missing_one(
    emulator_proc, start_worker, parent, tmp_path
):
    emulator = emulator_proc(REGION)
    start_worker(env=profile_files(tmp_path, {"baton-eu": OTHER}))
    present = parent(emulator.url, identity="profile", identity_profile="baton-eu")
    missing = parent(emulator.url, identity="profile", identity_profile="baton-missing")

    answer = present.spawn("as the profile").get(timeout=30)
    with pytest.raises(IdentityUnavailable) as caught:
        missing.spawn("no such profile").get(timeout=30)

    assert answer["region"] == REGION  # the profile's us-east-1 is not used
    assert [(c["access_key_id"], c["region"]) for c in emulator.calls()] == [
        (OTHER["AWS_ACCESS_KEY_ID"], REGION)
    ]
    assert "AWS profile 'baton-missing', which does not exist on this worker" in str(caught.value)


def test_sealed_parent_credentials_sign_the_call_and_need_the_seal_key(
    emulator_proc, start_worker, parent, monkeypatch
):
    emulator = emulator_proc(REGION)
    credentials = temporary_credentials(emulator.url)
    as_parent(monkeypatch, credentials)
    key = seal_key()
    orch = parent(emulator.url, identity="sealed", seal_key=key)
    keyed = start_worker(env={"BATON_SEAL_KEY": key, **OTHER})

    answers = orch.gather([orch.spawn(f"sealed {i}") for i in range(3)], timeout=60)
    keyed.proc.stop()
    start_worker(env=OTHER)  # no BATON_SEAL_KEY
    unkeyed = orch.spawn("without the key")
    outcome = settle(orch.app, [unkeyed.id], timeout=30)

    converse = emulator.calls("Converse")
    figures("sealed", jobs=3, converse_signed_by_parent_key=len(converse), refused_unkeyed=1)
    assert all(a["region"] == REGION for a in answers)
    assert {c["access_key_id"] for c in converse} == {credentials["AWS_ACCESS_KEY_ID"]}
    assert len(converse) == 3
    assert outcome.states[unkeyed.id] == "FAILURE"
    with pytest.raises(IdentityUnavailable, match="BATON_SEAL_KEY is not set"):
        unkeyed.get(timeout=5)


def test_sealed_credentials_do_not_open_with_another_seal_key(
    emulator_proc, start_worker, parent, monkeypatch
):
    emulator = emulator_proc(REGION)
    as_parent(monkeypatch, temporary_credentials(emulator.url))
    orch = parent(emulator.url, identity="sealed", seal_key=seal_key())
    start_worker(env={"BATON_SEAL_KEY": seal_key(), **OTHER})

    with pytest.raises(IdentityUnavailable, match="do not open with this worker's BATON_SEAL_KEY"):
        orch.spawn("wrong key").get(timeout=30)
    assert emulator.calls("Converse") == []


def test_a_sealed_ciphertext_that_is_not_base64_is_identity_unavailable(
    emulator_proc, start_worker, producer_settings
):
    from orchestrator import close_producer, producer_app

    emulator = emulator_proc(REGION)
    start_worker(env={"BATON_SEAL_KEY": seal_key()})
    app = producer_app(producer_settings)
    sealed = SealedAuth(ciphertext="A", exp=int(time.time()) + 600)
    token = crafted(emulator.url, keyring=producer_settings.keyring(), auth=sealed)
    try:
        outcome = settle(app, [publish(app, token).id], timeout=30)
    finally:
        close_producer(app)

    (result,) = outcome.results.values()
    assert emulator.calls() == []
    assert result["exc_type"] == "IdentityUnavailable", result
