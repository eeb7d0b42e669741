"""Sealed credentials: only the sealing tree's workers open them, and only until they expire."""

from __future__ import annotations

import base64
import os

import pytest

from envelope import (
    SealedAuth,
    SealKeyInvalid,
    decode_seal_key,
    seal_credentials,
    unseal_credentials,
)
from envelope.errors import SealExpired, SealInvalid

KEY = os.urandom(32)
CREDENTIALS = {"access_key": "ASIAEXAMPLE", "secret_key": "secret", "token": "session-token"}
EXP = 1_700_003_600
NOW = EXP - 60


def test_a_sealed_credential_opens_with_the_same_key_in_the_same_tree():
    auth = seal_credentials(CREDENTIALS, key=KEY, root_id="root-1", exp=EXP)

    assert unseal_credentials(auth, key=KEY, root_id="root-1", now=NOW) == CREDENTIALS
    assert "secret" not in auth.ciphertext and "secret" not in repr(auth)


def test_two_seals_of_the_same_credentials_differ():
    first = seal_credentials(CREDENTIALS, key=KEY, root_id="root-1", exp=EXP)
    second = seal_credentials(CREDENTIALS, key=KEY, root_id="root-1", exp=EXP)

    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize(
    ("key", "root_id", "exp"),
    [(os.urandom(32), "root-1", EXP), (KEY, "root-2", EXP), (KEY, "root-1", EXP + 3600)],
    ids=["another key", "another tree", "a later expiry"],
)
def test_a_seal_does_not_open_with_another_key_tree_or_expiry(key, root_id, exp):
    auth = seal_credentials(CREDENTIALS, key=KEY, root_id="root-1", exp=EXP)
    moved = SealedAuth(ciphertext=auth.ciphertext, exp=exp)

    with pytest.raises(SealInvalid, match="do not open with this worker's BATON_SEAL_KEY"):
        unseal_credentials(moved, key=key, root_id=root_id, now=NOW)


@pytest.mark.parametrize("ciphertext", ["A", "not base64 at all!", "AAAA" * 8])
def test_a_ciphertext_that_is_no_seal_is_invalid_not_a_crash(ciphertext):
    with pytest.raises(SealInvalid):
        unseal_credentials(
            SealedAuth(ciphertext=ciphertext, exp=EXP), key=KEY, root_id="root-1", now=NOW
        )


def test_an_expired_seal_is_refused_before_it_is_opened():
    auth = seal_credentials(CREDENTIALS, key=KEY, root_id="root-1", exp=EXP)

    with pytest.raises(SealExpired, match=f"expired at {EXP}"):
        unseal_credentials(auth, key=KEY, root_id="root-1", now=EXP + 1)


def test_the_seal_key_is_32_bytes_of_base64url_with_or_without_padding():
    text = base64.urlsafe_b64encode(KEY).decode()

    assert decode_seal_key(text) == KEY
    assert decode_seal_key(text.rstrip("=")) == KEY


@pytest.mark.parametrize("text", ["", "c2hvcnQ", base64.urlsafe_b64encode(b"x" * 33).decode()])
def test_a_seal_key_of_the_wrong_size_says_how_to_make_one(text):
    with pytest.raises(SealKeyInvalid, match=r"must be 32 random bytes.*os\.urandom"):
        decode_seal_key(text)
