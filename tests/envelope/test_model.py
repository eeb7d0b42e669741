"""The envelope model: frozen, validated, and safe to print."""

from __future__ import annotations

import functools

import pytest
from pydantic import ValidationError

from envelope import (
    AmbientAuth,
    AssumeRoleAuth,
    BedrockEnvelope,
    ClientSettings,
    Lineage,
    ProfileAuth,
    SealedAuth,
    check_endpoint_url,
    is_region,
)
from envelope.urls import is_loopback_host
from tests import factories

IAT = 1_700_000_000
EXP = IAT + 3600
CIPHERTEXT = "gAAAAABlSEALEDcredentialsDoNotLog0123456789"

#: This module's envelopes: a fixed clock, so validity windows need no real time.
make_envelope = functools.partial(factories.make_envelope, iat=IAT, exp=EXP, kid="k1")


def test_an_envelope_is_frozen():
    envelope = make_envelope()
    with pytest.raises(ValidationError):
        envelope.region = "us-east-1"  # type: ignore[misc]
    assert envelope.region == "eu-west-1"


def test_nested_parts_are_frozen_too():
    envelope = make_envelope()
    with pytest.raises(ValidationError):
        envelope.lineage.depth = 5  # type: ignore[misc]


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        make_envelope(region_override="us-east-1")


def test_defaults_are_ambient_auth_and_standard_retries():
    envelope = make_envelope()
    assert envelope.v == 1
    assert envelope.auth == AmbientAuth()
    assert envelope.client.retry_mode == "standard"
    assert envelope.endpoint_url is None


@pytest.mark.parametrize(
    "region", ["eu-west-1", "us-gov-west-1", "ap-southeast-4", "il-central-1", "us-isob-east-1"]
)
def test_a_region_name_is_accepted(region):
    assert make_envelope(region=region).region == region


@pytest.mark.parametrize(
    "region",
    [
        "",
        "EU-WEST-1",
        "eu-west",
        "eu_west_1",
        "eu-west-1a",
        "europe",
        " eu-west-1",
        "eu-west-1\n",
        "eu-west-\u0661",  # an Arabic-Indic digit one: a digit to Unicode, not to AWS
    ],
)
def test_a_value_that_is_not_a_region_name_is_refused(region):
    with pytest.raises(ValidationError) as refused:
        make_envelope(region=region)
    assert [error["loc"] for error in refused.value.errors()] == [("region",)]
    assert not is_region(region)


@pytest.mark.parametrize(
    "url",
    [
        "https://bedrock-runtime.eu-west-1.amazonaws.com",
        "https://vpce-0a1.bedrock-runtime.eu-west-1.vpce.amazonaws.com:443/",
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://[::1]:8000",
        "http://localhost:4566",
        "http://LOCALHOST",
    ],
)
def test_an_https_or_loopback_http_endpoint_is_accepted(url):
    assert check_endpoint_url(url) == url
    assert make_envelope(endpoint_url=url).endpoint_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://bedrock-runtime.eu-west-1.amazonaws.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.nip.io",
        "http://127.0.0.1@evil.example.com",
        "ftp://127.0.0.1",
        "bedrock-runtime.eu-west-1.amazonaws.com",
        "https://",
    ],
)
def test_a_plain_http_non_loopback_or_hostless_endpoint_is_refused(url):
    with pytest.raises(ValueError):
        check_endpoint_url(url)
    with pytest.raises(ValidationError):
        make_envelope(endpoint_url=url)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("10.0.0.1", False), ("x.io", False)],
)
def test_loopback_hosts_are_exactly_this_machine(host, expected):
    assert is_loopback_host(host) is expected


@pytest.mark.parametrize("exp", [IAT, IAT - 1])
def test_exp_must_be_after_iat(exp):
    with pytest.raises(ValidationError, match="must be after iat"):
        make_envelope(exp=exp)


def test_child_raises_depth_and_keeps_config_and_root():
    parent = make_envelope(
        auth=ProfileAuth(name="bedrock-eu"),
        endpoint_url="https://vpce.example.com",
        client=ClientSettings(max_attempts=5),
        lineage=Lineage(root_id="root-1", parent_id="p0", depth=1),
    )
    child = parent.child(parent_id="job-42", now=IAT + 100)
    assert child.lineage == Lineage(root_id="root-1", parent_id="job-42", depth=2)
    for name in ("region", "cross_region", "model_id", "endpoint_url", "client", "limits", "kid"):
        assert getattr(child, name) == getattr(parent, name), name


def test_child_keeps_the_aws_profile():
    # Reported in the wild: a client copy dropped the AWS profile.
    parent = make_envelope(auth=ProfileAuth(name="bedrock-eu"))
    assert parent.child(parent_id="job-1", now=IAT).auth == ProfileAuth(name="bedrock-eu")


def test_child_keeps_the_window_length_starting_now():
    child = make_envelope().child(parent_id="job-1", now=IAT + 1000.7)
    assert child.iat == IAT + 1000
    assert child.exp - child.iat == EXP - IAT


def test_child_leaves_the_parent_unchanged():
    parent = make_envelope()
    parent.child(parent_id="job-1", now=IAT + 5)
    assert parent.lineage.depth == 0
    assert parent.iat == IAT


def test_client_fingerprint_ignores_lineage_and_expiry():
    parent = make_envelope()
    child = parent.child(parent_id="job-1", now=IAT + 500)
    assert child.client_fingerprint == parent.client_fingerprint
    assert make_envelope(exp=EXP + 99).client_fingerprint == parent.client_fingerprint
    assert hash(child.client_fingerprint) == hash(parent.client_fingerprint)


@pytest.mark.parametrize(
    "change",
    [
        {"region": "eu-central-1"},
        {"endpoint_url": "https://vpce.example.com"},
        {"auth": ProfileAuth(name="other")},
        {"auth": AssumeRoleAuth(role_arn="arn:aws:iam::123456789012:role/baton")},
        {"client": ClientSettings(read_timeout=300)},
    ],
)
def test_client_fingerprint_changes_with_what_a_client_depends_on(change):
    assert make_envelope(**change).client_fingerprint != make_envelope().client_fingerprint


def test_summary_and_repr_of_a_sealed_envelope_show_no_ciphertext():
    envelope = make_envelope(auth=SealedAuth(ciphertext=CIPHERTEXT, exp=4102444800))
    summary = envelope.summary()
    assert summary["auth"] == "sealed"
    for text in (
        str(summary),
        repr(envelope),
        str(envelope),
        repr(envelope.auth),
        str(envelope.auth),
    ):
        assert CIPHERTEXT not in text
    assert f"{envelope.auth}" != CIPHERTEXT


def test_the_ciphertext_still_travels_in_the_signed_json():
    envelope = make_envelope(auth=SealedAuth(ciphertext=CIPHERTEXT, exp=4102444800))
    assert CIPHERTEXT.encode() in envelope.canonical_json()


def test_canonical_json_has_sorted_keys_and_no_whitespace():
    raw = make_envelope().canonical_json()
    assert raw.startswith(b'{"auth":{"mode":"ambient"},"client":')
    assert b" " not in raw
    assert BedrockEnvelope.model_validate_json(raw) == make_envelope()


def test_plain_http_to_a_named_host_is_accepted_only_when_opted_in():
    import pytest as _pytest
    from pydantic import ValidationError

    from envelope.model import INSECURE_ENDPOINTS_CONTEXT, BedrockEnvelope, check_endpoint_url

    with _pytest.raises(ValueError, match="BATON_ALLOW_INSECURE_ENDPOINTS"):
        check_endpoint_url("http://emulator:8750")
    assert (
        check_endpoint_url("http://emulator:8750", insecure_endpoints=frozenset({"emulator:8750"}))
        == "http://emulator:8750"
    )
    with _pytest.raises(ValueError):
        check_endpoint_url("http://emulator:8751", insecure_endpoints=frozenset({"emulator:8750"}))
    fields = {
        "region": "eu-west-1",
        "cross_region": True,
        "model_id": "m",
        "endpoint_url": "http://emulator:8750",
        "lineage": {"root_id": "r"},
        "iat": 1,
        "exp": 2,
        "kid": "k",
    }
    with _pytest.raises(ValidationError):
        BedrockEnvelope.model_validate(fields)
    ok = BedrockEnvelope.model_validate(
        fields, context={INSECURE_ENDPOINTS_CONTEXT: frozenset({"emulator:8750"})}
    )
    assert ok.endpoint_url == "http://emulator:8750"
