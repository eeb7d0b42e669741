"""Fuzzing the decoder: whatever arrives in the header, ``decode`` answers with a typed
EnvelopeError or, only for a correctly signed and valid payload, an envelope. Never another
exception, and never acceptance of anything but the token that was signed.

The full suite draws a few hundred cases per property (the quick loop a fifth of them); the
``slow`` tests, which the quick loop leaves out, run 10,000 mutated tokens and every single-byte
substitution of a valid token.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envelope import (
    AssumeRoleAuth,
    BedrockEnvelope,
    EnvelopeError,
    EnvelopeMalformed,
    Keyring,
    Lineage,
    SealedAuth,
    decode,
    encode,
    peek,
)
from envelope.codec import MAX_TOKEN_BYTES
from tests.envelope.mutations import b64, mutate, sign_raw
from tests.factories import make_envelope
from tests.support.quick_loop import examples

KEY = b"fuzz-key-0123456789abcdefghijklmn"
KEYRING = Keyring(keys={"k1": KEY, "k0": b"previous-key-0123456789abcdefghij"}, active="k1")
IAT = 1_700_000_000
NOW = IAT + 60


#: The envelope every fuzzed token starts from: signed, with every optional part filled in.
valid_envelope = functools.partial(
    make_envelope,
    endpoint_url="https://bedrock-runtime.eu-west-1.amazonaws.com",
    auth=AssumeRoleAuth(
        role_arn="arn:aws:iam::111122223333:role/baton-eu", session_name="baton-root"
    ),
    lineage=Lineage(root_id="0f8fad5bd9cb469fa16570867728950e", parent_id="p", depth=1),
    iat=IAT,
    exp=IAT + 3600,
    kid="k1",
)


TOKEN = encode(valid_envelope(), keyring=KEYRING)
SEALED_TOKEN = encode(
    valid_envelope(auth=SealedAuth(ciphertext=b64(bytes(range(256))), exp=IAT + 3600)),
    keyring=KEYRING,
)


def refused(token: object) -> type[EnvelopeError]:
    """Decode ``token``; return the EnvelopeError type it raised, fail if it was accepted."""
    try:
        decode(token, keyring=KEYRING, now=NOW)  # type: ignore[arg-type]
    except EnvelopeError as exc:
        return type(exc)
    pytest.fail(f"a mutated token was accepted: {token!r}")


def test_the_unmutated_tokens_are_accepted():
    assert decode(TOKEN, keyring=KEYRING, now=NOW) == valid_envelope()
    assert decode(SEALED_TOKEN, keyring=KEYRING, now=NOW).auth.mode == "sealed"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from([TOKEN, SEALED_TOKEN]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return mutate(base, rng, rounds=draw(st.integers(1, 4)))


def fuzz(budget: int) -> settings:
    return settings(
        max_examples=examples(budget),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@fuzz(300)
@given(token=mutated())
def test_mutated_tokens_are_refused_with_a_typed_error(token):
    refused(token)


@pytest.mark.slow
@fuzz(10_000)
@given(token=mutated())
def test_ten_thousand_mutated_tokens_are_refused_with_a_typed_error(token):
    refused(token)


@fuzz(300)
@given(token=st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_is_refused_with_a_typed_error(token):
    refused(token)


@fuzz(300)
@given(
    token=st.builds(
        "{}.{}.{}".format,
        st.sampled_from(["v1", "v2", "", "V1"]),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="),
    )
)
def test_well_shaped_tokens_that_nobody_signed_are_refused(token):
    refused(token)


@fuzz(300)
@given(token=st.one_of(mutated(), st.text()))
def test_peek_answers_a_dict_or_envelope_malformed_for_anything(token):
    """Routing and dead-lettering read unverified tokens with ``peek``: it must not crash."""
    with contextlib.suppress(EnvelopeMalformed):
        assert isinstance(peek(token), dict)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = sorted(json.loads(valid_envelope().canonical_json()))


@st.composite
def signed_payloads(draw: st.DrawFn) -> str:
    """Correctly signed payloads: a valid envelope with some fields replaced or removed."""
    data = json.loads(valid_envelope().canonical_json())
    for field in draw(st.lists(st.sampled_from([*FIELDS, "extra"]), max_size=4)):
        if draw(st.booleans()):
            data.pop(field, None)
        else:
            data[field] = draw(json_values)
    if draw(st.booleans()):
        data = draw(json_values)
    return sign_raw(json.dumps(data).encode(), key=KEY)


@fuzz(500)
@given(token=signed_payloads())
def test_a_signed_payload_of_any_shape_is_an_envelope_or_a_typed_error(token):
    """The MAC matches here, so this reaches the validation behind it: it must not crash."""
    try:
        envelope = decode(token, keyring=KEYRING, now=NOW)
    except EnvelopeError:
        return
    assert isinstance(envelope, BedrockEnvelope)


def flips(token: str, *, every_byte: bool) -> list[str]:
    """Every single-bit flip of every byte, or (``every_byte``) every other value of each byte."""
    raw = token.encode("ascii")
    found = []
    for position, original in enumerate(raw):
        values = range(256) if every_byte else (original ^ (1 << bit) for bit in range(8))
        for value in values:
            if value != original:
                edited = raw[:position] + bytes([value]) + raw[position + 1 :]
                found.append(edited.decode("latin-1"))
    return found


@pytest.mark.parametrize("token", [TOKEN, SEALED_TOKEN], ids=["assume_role", "sealed"])
def test_every_single_bit_flip_of_a_valid_token_is_refused(token):
    corpus = flips(token, every_byte=False)
    errors = Counter(refused(flipped).__name__ for flipped in corpus)
    print(
        f"\n[figures] bit flips of a {len(token)}-byte token: cases={len(corpus)}, "
        f"accepted=0, refused={dict(errors)}"
    )
    assert sum(errors.values()) == len(corpus) == 8 * len(token)


@pytest.mark.slow
def test_every_single_byte_substitution_of_a_valid_token_is_refused():
    corpus = flips(TOKEN, every_byte=True)
    errors = Counter(refused(flipped).__name__ for flipped in corpus)
    print(
        f"\n[figures] byte substitutions: cases={len(corpus)}, accepted=0, refused={dict(errors)}"
    )
    assert sum(errors.values()) == len(corpus) == 255 * len(TOKEN)


def test_an_oversized_token_is_refused_before_any_parsing(monkeypatch):
    def must_not_run(*_: object) -> None:
        raise AssertionError("an oversized token reached the parser")

    monkeypatch.setattr("envelope.codec._b64decode", must_not_run)
    monkeypatch.setattr("envelope.codec.json.loads", must_not_run)
    token = TOKEN + "A" * (MAX_TOKEN_BYTES + 1 - len(TOKEN))

    with pytest.raises(EnvelopeMalformed, match=f"over the {MAX_TOKEN_BYTES}-byte limit"):
        decode(token, keyring=KEYRING, now=NOW)


def test_a_correctly_signed_token_over_the_limit_is_refused_for_its_size():
    big = valid_envelope(
        model_id="m" * 2048, auth=SealedAuth(ciphertext="c" * 3072, exp=IAT + 3600)
    )
    token = encode(big, keyring=KEYRING)

    assert len(token) > MAX_TOKEN_BYTES
    with pytest.raises(EnvelopeMalformed, match="byte limit"):
        decode(token, keyring=KEYRING, now=NOW)


def test_the_size_limit_counts_bytes_not_characters():
    token = "v1." + "é" * 3000 + ".x"  # 3,005 characters, 6,005 bytes in UTF-8

    with pytest.raises(EnvelopeMalformed, match="byte limit"):
        decode(token, keyring=KEYRING, now=NOW)
