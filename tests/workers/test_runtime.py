"""Admission: decode, verify and policy, before any task body, with typed refusals."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import pytest

from envelope import (
    BINDING_KEY,
    HEADER_KEY,
    TASK_NAME,
    EnvelopeExpired,
    EnvelopeKeyError,
    EnvelopeMissing,
    EnvelopeSignatureInvalid,
    EnvelopeUnknownKey,
    encode,
)
from tests.factories import KEY, bound_request, keyring, make_envelope
from workers import DepthExceeded, RegionNotAllowed, WorkerSettings
from workers.runtime import WorkerRuntime, envelope_token


def runtime(**settings) -> WorkerRuntime:
    fields = {"envelope_key": KEY, "allowed_regions": ("eu-west-1",)}
    fields.update(settings)
    return WorkerRuntime(WorkerSettings(**fields))


def request_with(token: str | None, *, as_attribute: bool = True) -> SimpleNamespace:
    if token is None:
        return SimpleNamespace(id="job-1", headers={})
    request = bound_request(token)
    if not as_attribute:
        delattr(request, HEADER_KEY)
        delattr(request, BINDING_KEY)
    return request


def test_a_valid_envelope_is_admitted_from_the_request_attribute():
    token = encode(make_envelope(), keyring=keyring())
    assert runtime().admit(request_with(token), task_name=TASK_NAME).region == "eu-west-1"


def test_the_header_is_also_read_from_request_headers_as_eager_runs_fill_it():
    token = encode(make_envelope(), keyring=keyring())
    assert envelope_token(request_with(token, as_attribute=False)) == token


def test_headers_nested_by_integrations_are_found():
    token = encode(make_envelope(), keyring=keyring())
    request = SimpleNamespace(id="j", headers={"headers": {HEADER_KEY: token}})
    assert envelope_token(request) == token


def test_a_missing_envelope_is_refused_with_a_typed_error():
    with pytest.raises(EnvelopeMissing, match="no baton_envelope header"):
        runtime().admit(request_with(None), task_name=TASK_NAME)


def test_the_refusal_of_a_message_with_no_envelope_names_the_real_orchestrator_class():
    with pytest.raises(EnvelopeMissing) as caught:
        runtime().admit(request_with(None), task_name=TASK_NAME)
    assert "enqueue it through orchestrator.Orchestrator (spawn, or inside" in str(caught.value)
    assert "baton.Orchestrator" not in str(caught.value)


def test_a_tampered_envelope_is_refused():
    import base64

    version, payload, signature = encode(make_envelope(), keyring=keyring()).split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    edited = raw.replace(b'"region":"eu-west-1"', b'"region":"us-east-1"')
    forged = base64.urlsafe_b64encode(edited).rstrip(b"=").decode()
    with pytest.raises(EnvelopeSignatureInvalid):
        runtime(allowed_regions=("us-east-1",)).admit(
            request_with(f"{version}.{forged}.{signature}"), task_name=TASK_NAME
        )
    with pytest.raises(EnvelopeSignatureInvalid):
        runtime().admit(
            request_with(f"{version}.{payload}.{signature[:-4]}AAAA"), task_name=TASK_NAME
        )


def test_an_expired_envelope_is_refused():
    now = int(time.time())
    token = encode(make_envelope(iat=now - 7200, exp=now - 3600), keyring=keyring())
    with pytest.raises(EnvelopeExpired):
        runtime().admit(request_with(token), task_name=TASK_NAME)


def test_a_token_from_an_unknown_key_is_refused():
    token = encode(
        make_envelope(kid="other"), keyring=keyring("other", "another-key-of-enough-length")
    )
    with pytest.raises(EnvelopeUnknownKey):
        runtime().admit(request_with(token), task_name=TASK_NAME)


def test_a_region_outside_the_policy_is_refused_and_the_message_says_what_to_do():
    token = encode(make_envelope(region="us-east-1", model_id="us.x"), keyring=keyring())
    with pytest.raises(RegionNotAllowed, match=r"route the job to queue baton\.us-east-1"):
        runtime().admit(request_with(token), task_name=TASK_NAME)


def test_a_job_deeper_than_max_depth_is_refused():
    from envelope import Limits, Lineage

    envelope = make_envelope(lineage=Lineage(root_id="r", depth=4), limits=Limits(max_depth=3))
    with pytest.raises(DepthExceeded):
        runtime().admit(request_with(encode(envelope, keyring=keyring())), task_name=TASK_NAME)


def test_a_worker_without_keys_refuses_every_job():
    token = encode(make_envelope(), keyring=keyring())
    with pytest.raises(EnvelopeKeyError, match="BATON_ENVELOPE_KEY is not set"):
        runtime(envelope_key=None).admit(request_with(token), task_name=TASK_NAME)


def test_debug_logs_the_inherited_region_model_and_endpoint(caplog):
    token = encode(make_envelope(endpoint_url="http://127.0.0.1:9"), keyring=keyring())
    with caplog.at_level(logging.INFO, logger="baton.worker"):
        runtime(debug=True, allowed_endpoints=("loopback",)).admit(
            request_with(token), task_name=TASK_NAME
        )
    assert "Using inherited Bedrock region: eu-west-1" in caplog.text
    assert (
        "Using inherited Bedrock model: eu.anthropic.claude-sonnet-4-20250514-v1:0" in caplog.text
    )
    assert "Using inherited Bedrock endpoint: http://127.0.0.1:9" in caplog.text


def test_a_token_verified_once_is_still_refused_once_it_expires(monkeypatch):
    import workers.runtime as runtime_module

    now = int(time.time())
    token = encode(make_envelope(iat=now - 10, exp=now + 5), keyring=keyring())
    worker = runtime()
    assert worker.admit(request_with(token), task_name=TASK_NAME).region == "eu-west-1"
    assert (
        worker.admit(request_with(token), task_name=TASK_NAME).region == "eu-west-1"
    )  # the cached verification
    later = now + 5 + 31
    monkeypatch.setattr(runtime_module.time, "time", lambda: later)
    monkeypatch.setattr("envelope.codec.time.time", lambda: later)
    with pytest.raises(EnvelopeExpired):
        worker.admit(request_with(token), task_name=TASK_NAME)
