"""The header token: signing, verification, key rotation, and refusal of everything else."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from envelope import (
    AssumeRoleAuth,
    EnvelopeError,
    EnvelopeExpired,
    EnvelopeKeyError,
    EnvelopeMalformed,
    EnvelopeSignatureInvalid,
    EnvelopeUnknownKey,
    Keyring,
    Lineage,
    SealedAuth,
    decode,
    encode,
    peek,
    verify_signature,
)
from envelope.codec import DEFAULT_CLOCK_SKEW_SECONDS, MAX_TOKEN_BYTES
from tests import factories
from tests.support.quick_loop import examples

KEY_A = "a" * 32
KEY_B = "b" * 32
IAT = 1_700_000_000
EXP = IAT + 3600
NOW = IAT + 60
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


#: This module's envelopes: a fixed clock (expiry is tested with ``now=``) and key id k1.
make_envelope = functools.partial(factories.make_envelope, iat=IAT, exp=EXP, kid="k1")


def make_keyring(spec: str = f"k1:{KEY_A}") -> Keyring:
    return Keyring.from_env_values(key=None, keys=spec)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_raw(payload: bytes, key: str = KEY_A, prefix: str = "v1") -> str:
    """Sign raw bytes per the wire format: tokens that encode() would never produce."""
    signing_input = f"{prefix}.{b64(payload)}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


KEYRING = make_keyring()
TOKEN = encode(make_envelope(), keyring=KEYRING)


# --- round trip ---------------------------------------------------------------------------------


def test_a_token_round_trips_to_an_equal_envelope():
    envelope = make_envelope(endpoint_url="https://vpce.example.com")
    assert decode(encode(envelope, keyring=KEYRING), keyring=KEYRING, now=NOW) == envelope


def test_the_token_has_the_documented_wire_format():
    envelope = make_envelope()
    prefix, payload, signature = TOKEN.split(".")
    assert prefix == "v1"
    assert base64.urlsafe_b64decode(payload + "==") == envelope.canonical_json()
    assert sign_raw(envelope.canonical_json()) == TOKEN
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32


def test_encode_stamps_the_active_key_id():
    envelope = make_envelope(kid="stale")
    decoded = decode(encode(envelope, keyring=KEYRING), keyring=KEYRING, now=NOW)
    assert decoded.kid == "k1"


def test_peek_reads_the_payload_without_a_key():
    assert peek(TOKEN)["region"] == "eu-west-1"


def test_a_realistic_envelope_encodes_under_one_kibibyte():
    # A nested job that assumes a role: the largest common shape (an ambient one is ~650 bytes).
    envelope = make_envelope(
        auth=AssumeRoleAuth(
            role_arn="arn:aws:iam::123456789012:role/baton-subagent-bedrock-invoke",
            external_id="4f6c0d2e-8b1a-4c3e-9d7f-2a5b6c8e0f13",
            session_name="baton-0f8fad5bd9cb469fa16570867728950e",
        ),
        lineage=Lineage(
            root_id="0f8fad5bd9cb469fa16570867728950e",
            parent_id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
            depth=2,
        ),
        kid="2025-06",
    )
    token = encode(envelope, keyring=make_keyring(f"2025-06:{KEY_A}"))
    assert len(token.encode()) < 1024


# --- tampering and keys -------------------------------------------------------------------------


def test_an_edited_payload_is_rejected_as_signature_invalid():
    prefix, payload, signature = TOKEN.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["region"] = "us-east-1"
    edited = b64(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(EnvelopeSignatureInvalid):
        decode(f"{prefix}.{edited}.{signature}", keyring=KEYRING, now=NOW)


def test_an_edited_signature_is_rejected_as_signature_invalid():
    prefix, payload, signature = TOKEN.split(".")
    flipped = bytearray(base64.urlsafe_b64decode(signature + "="))
    flipped[0] ^= 0x01
    with pytest.raises(EnvelopeSignatureInvalid):
        decode(f"{prefix}.{payload}.{b64(bytes(flipped))}", keyring=KEYRING, now=NOW)


def test_a_signature_differing_only_in_unused_trailing_bits_is_rejected():
    # 32 bytes take 43 base64 characters whose last one carries 2 unused bits: four spellings
    # decode to the same MAC. Only the canonical one is the token that was signed.
    last = TOKEN[-1]
    twin = B64_ALPHABET[B64_ALPHABET.index(last) ^ 0x01]
    with pytest.raises(EnvelopeMalformed):
        decode(TOKEN[:-1] + twin, keyring=KEYRING, now=NOW)


def test_a_token_signed_with_another_key_under_the_same_kid_is_signature_invalid():
    token = encode(make_envelope(), keyring=make_keyring(f"k1:{KEY_B}"))
    with pytest.raises(EnvelopeSignatureInvalid):
        decode(token, keyring=KEYRING, now=NOW)


def test_a_token_naming_an_unknown_kid_is_rejected_as_unknown_key():
    token = encode(make_envelope(), keyring=make_keyring(f"foreign:{KEY_A}"))
    with pytest.raises(EnvelopeUnknownKey, match="'foreign'"):
        decode(token, keyring=KEYRING, now=NOW)


def test_a_token_signed_by_the_old_key_verifies_while_the_old_key_is_in_the_ring():
    old_ring = make_keyring(f"old:{KEY_A}")
    token = encode(make_envelope(), keyring=old_ring)
    rotated = make_keyring(f"new:{KEY_B},old:{KEY_A}")
    assert rotated.active == "new"
    assert decode(token, keyring=rotated, now=NOW).kid == "old"
    assert decode(encode(make_envelope(), keyring=rotated), keyring=rotated, now=NOW).kid == "new"


def test_a_token_signed_by_the_old_key_fails_once_the_old_key_is_removed():
    token = encode(make_envelope(), keyring=make_keyring(f"old:{KEY_A}"))
    with pytest.raises(EnvelopeUnknownKey):
        decode(token, keyring=make_keyring(f"new:{KEY_B}"), now=NOW)


# --- expiry -------------------------------------------------------------------------------------


def test_an_expired_envelope_is_rejected():
    with pytest.raises(EnvelopeExpired):
        decode(TOKEN, keyring=KEYRING, now=EXP + DEFAULT_CLOCK_SKEW_SECONDS + 1)


def test_verify_signature_shows_a_key_holder_made_an_expired_or_invalid_token():
    expired = encode(make_envelope(iat=IAT - 7200, exp=IAT - 3600), keyring=KEYRING)
    assert verify_signature(expired, keyring=KEYRING) == "k1"
    invalid = sign_raw(b'{"kid":"k1","region":"nowhere"}')
    assert verify_signature(invalid, keyring=KEYRING) == "k1"
    prefix, payload, signature = TOKEN.split(".")
    edited = b64(base64.urlsafe_b64decode(payload + "==").replace(b"eu-west-1", b"us-east-1"))
    with pytest.raises(EnvelopeSignatureInvalid):
        verify_signature(f"{prefix}.{edited}.{signature}", keyring=KEYRING)
    with pytest.raises(EnvelopeUnknownKey):
        verify_signature(TOKEN, keyring=make_keyring(f"k2:{KEY_B}"))


def test_an_envelope_within_clock_skew_of_expiry_is_accepted():
    assert decode(TOKEN, keyring=KEYRING, now=EXP + DEFAULT_CLOCK_SKEW_SECONDS).exp == EXP


def test_clock_skew_is_configurable():
    with pytest.raises(EnvelopeExpired):
        decode(TOKEN, keyring=KEYRING, now=EXP + 1, clock_skew=0)


# --- malformed input ----------------------------------------------------------------------------

PAYLOAD, SIGNATURE = TOKEN.split(".")[1:]

MALFORMED = [
    pytest.param("", id="empty"),
    pytest.param(f"v1.{PAYLOAD}", id="two_segments"),
    pytest.param(f"{TOKEN}.extra", id="four_segments"),
    pytest.param(f"v2.{PAYLOAD}.{SIGNATURE}", id="wrong_version_prefix"),
    pytest.param(sign_raw(make_envelope().canonical_json(), prefix="v2"), id="v2_signed"),
    pytest.param(f"v1.a.{SIGNATURE}", id="payload_not_base64"),
    pytest.param(f"v1.{PAYLOAD}.@@@@", id="signature_not_base64"),
    pytest.param(f"v1.{PAYLOAD}é.{SIGNATURE}", id="non_ascii"),
    pytest.param(sign_raw(b"not json"), id="non_json"),
    pytest.param(sign_raw(b"\xff\xfe\xfd"), id="not_utf8"),
    pytest.param(sign_raw(b"[1, 2]"), id="json_array"),
    pytest.param(sign_raw(b'"v1"'), id="json_string"),
    pytest.param(sign_raw(b"[" * 2500), id="deeply_nested_json"),
    pytest.param(sign_raw(b'{"region": "eu-west-1"}'), id="object_without_kid"),
    pytest.param(sign_raw(b'{"kid": "k1", "region": "eu-west-1"}'), id="signed_but_incomplete"),
    pytest.param("v1." + "A" * (MAX_TOKEN_BYTES - 2) + ".x", id="over_4096_bytes"),
]


@pytest.mark.parametrize("token", MALFORMED)
def test_a_malformed_token_is_rejected_as_malformed(token):
    with pytest.raises(EnvelopeMalformed):
        decode(token, keyring=KEYRING, now=NOW)


@pytest.mark.parametrize("token", [None, b"v1.a.b", 123, ["v1", "a", "b"]])
def test_a_header_that_is_not_a_string_is_rejected_as_malformed(token):
    with pytest.raises(EnvelopeMalformed, match="string"):
        decode(token, keyring=KEYRING, now=NOW)


def test_a_token_of_exactly_the_size_limit_is_parsed_not_refused_for_size():
    token = "v1." + "A" * (MAX_TOKEN_BYTES - 5) + ".x"
    assert len(token) == MAX_TOKEN_BYTES
    with pytest.raises(EnvelopeMalformed) as info:
        decode(token, keyring=KEYRING, now=NOW)
    assert "limit" not in str(info.value)


def test_bad_base64_chains_its_cause():
    with pytest.raises(EnvelopeMalformed) as info:
        decode(f"v1.a.{SIGNATURE}", keyring=KEYRING, now=NOW)
    assert isinstance(info.value.__cause__, ValueError)


def test_non_json_chains_its_cause():
    with pytest.raises(EnvelopeMalformed) as info:
        decode(sign_raw(b"not json"), keyring=KEYRING, now=NOW)
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


def test_a_signed_but_invalid_payload_chains_the_validation_error():
    data = json.loads(make_envelope().canonical_json())
    data["exp"] = data["iat"]
    with pytest.raises(EnvelopeMalformed) as info:
        decode(sign_raw(json.dumps(data).encode()), keyring=KEYRING, now=NOW)
    assert isinstance(info.value.__cause__, ValidationError)


def test_a_signed_but_invalid_payload_message_does_not_echo_the_ciphertext():
    data = json.loads(
        make_envelope(
            auth=SealedAuth(ciphertext="CIPHERTEXT-0123", exp=4102444800)
        ).canonical_json()
    )
    data["exp"] = data["iat"]
    with pytest.raises(EnvelopeMalformed) as info:
        decode(sign_raw(json.dumps(data).encode()), keyring=KEYRING, now=NOW)
    assert "must be after iat" in str(info.value)
    assert "CIPHERTEXT" not in str(info.value)


# --- keyring ------------------------------------------------------------------------------------


def test_baton_envelope_keys_is_parsed_in_order_and_the_first_entry_signs():
    ring = Keyring.from_env_values(key=None, keys=f" k2:{KEY_B} , k1:{KEY_A} ")
    assert ring.active == "k2"
    assert dict(ring.keys) == {"k2": KEY_B.encode(), "k1": KEY_A.encode()}


def test_a_key_may_contain_colons():
    ring = make_keyring(f"k1:{KEY_A}:tail")
    assert ring.keys["k1"] == f"{KEY_A}:tail".encode()


def test_baton_envelope_keys_wins_over_baton_envelope_key():
    ring = Keyring.from_env_values(key=KEY_B, keys=f"k1:{KEY_A}")
    assert ring.active == "k1"
    assert set(ring.keys) == {"k1"}


def test_a_lone_baton_envelope_key_gets_the_default_kid():
    ring = Keyring.from_env_values(key=KEY_A, keys=None)
    assert ring.active == "default"
    assert ring.keys["default"] == KEY_A.encode()


def test_no_key_at_all_is_a_key_error():
    with pytest.raises(EnvelopeKeyError, match="BATON_ENVELOPE_KEY"):
        Keyring.from_env_values(key=None, keys=None)


@pytest.mark.parametrize("spec", ["justakey", f"k1:{KEY_A},", f":{KEY_A}", "k1:"])
def test_a_keys_entry_without_kid_and_key_is_a_key_error(spec):
    with pytest.raises(EnvelopeKeyError, match="kid1:key1"):
        make_keyring(spec)


@pytest.mark.parametrize(
    ("key", "keys"),
    [
        pytest.param("short", None, id="baton_envelope_key"),
        pytest.param(None, f"k1:{KEY_A},k2:fifteen-bytes!!", id="one_entry_of_baton_envelope_keys"),
    ],
)
def test_a_short_key_is_rejected(key, keys):
    with pytest.raises(EnvelopeKeyError, match="at least 16"):
        Keyring.from_env_values(key=key, keys=keys)


def test_an_active_kid_outside_the_ring_is_rejected():
    with pytest.raises(EnvelopeKeyError):
        Keyring(keys={"k1": KEY_A.encode()}, active="k2")


@pytest.mark.parametrize(
    "spec",
    [f"k1:{KEY_A},k1:{KEY_B}", f"k1:{KEY_A},k2:{KEY_B},k1:{KEY_B}", f"k1:{KEY_A}, k1:{KEY_A}"],
    ids=["last-would-sign", "after-another-kid", "same-key-twice"],
)
def test_a_kid_named_twice_in_baton_envelope_keys_is_a_key_error_not_the_last_one_signing(spec):
    with pytest.raises(EnvelopeKeyError, match="names key id 'k1' twice") as refused:
        make_keyring(spec)
    assert "entries 1 and" in str(refused.value)
    assert KEY_A not in str(refused.value) and KEY_B not in str(refused.value)


@pytest.mark.parametrize("kid", ["a b", "k1/", "kid\u00e9", "x" * 65])
def test_a_kid_the_envelope_could_not_carry_is_a_key_error_when_the_keyring_is_built(kid):
    with pytest.raises(EnvelopeKeyError, match="may hold only letters, digits"):
        make_keyring(f"{kid}:{KEY_A}")


def test_every_kid_a_keyring_accepts_signs_an_envelope_that_verifies():
    kid = "Rot_2025.10-a"
    ring = make_keyring(f"{kid}:{KEY_A}")
    assert decode(encode(make_envelope(), keyring=ring), keyring=ring, now=NOW).kid == kid


def test_repr_and_str_of_a_keyring_never_show_a_key():
    ring = make_keyring(f"k1:{KEY_A},k2:{KEY_B}")
    for text in (repr(ring), str(ring), f"{ring}"):
        assert KEY_A not in text
        assert KEY_B not in text
        assert "k1" in text


# --- any single mutation is rejected ------------------------------------------------------------

TOKEN_LENGTH = len(TOKEN)

mutation_chars = st.one_of(
    st.sampled_from(B64_ALPHABET),
    st.sampled_from(".=+/ \n"),
    st.characters(),
)
positions = st.one_of(
    st.integers(0, TOKEN_LENGTH),
    # The signature's last character carries unused bits: the classic malleable spot.
    st.integers(TOKEN_LENGTH - 1, TOKEN_LENGTH),
)


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["replace", "insert", "delete"]))
    position = draw(positions)
    if kind == "insert":
        return TOKEN[:position] + draw(mutation_chars) + TOKEN[position:]
    position = min(position, TOKEN_LENGTH - 1)
    if kind == "delete":
        return TOKEN[:position] + TOKEN[position + 1 :]
    char = draw(mutation_chars.filter(lambda c: c != TOKEN[position]))
    return TOKEN[:position] + char + TOKEN[position + 1 :]


@settings(
    max_examples=examples(300),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much],
)
@given(token=mutated_tokens())
def test_any_single_mutation_of_a_valid_token_is_rejected_with_an_envelope_error(token):
    assert token != TOKEN
    with pytest.raises(EnvelopeError):
        decode(token, keyring=KEYRING, now=NOW)
