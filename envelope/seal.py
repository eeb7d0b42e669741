"""Seal a parent's temporary credentials for its workers, and open them again.

Usage::

    from envelope import decode_seal_key, seal_credentials, unseal_credentials

    key = decode_seal_key(os.environ["BATON_SEAL_KEY"])
    auth = seal_credentials(credentials, key=key, root_id=root_id, exp=exp)  # on the parent
    credentials = unseal_credentials(auth, key=key, root_id=root_id)         # on a worker

A seal is ``base64url(nonce || AES-GCM(credentials JSON))`` under ``BATON_SEAL_KEY``, which
parents and workers share and the broker never sees, so the broker holds only ciphertext. The
authenticated data names the seal's version, the tree's root job and the seal's expiry: a seal
copied into another tree's envelope, or given a later ``exp``, does not open. Both directions
live here, as signing and verifying live in ``envelope.codec``, so they cannot drift apart.
"""

from __future__ import annotations

import base64
import json
import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from envelope.errors import SealExpired, SealInvalid, SealKeyInvalid
from envelope.model import SealedAuth

#: AES-256-GCM takes a 32-byte key.
SEAL_KEY_BYTES = 32

#: AES-GCM nonce length, as the algorithm recommends; a fresh random nonce per seal.
NONCE_BYTES = 12

#: The credentials a seal holds, as ``boto3.Session`` takes them.
CREDENTIAL_FIELDS = ("access_key", "secret_key", "token")

_MAKE_KEY = "python -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_seal_key(text: str) -> bytes:
    """Decode ``BATON_SEAL_KEY`` (base64url of 32 bytes); raise SealKeyInvalid otherwise."""
    try:
        key = _b64decode(text)
    except ValueError as exc:
        raise SealKeyInvalid(
            f"BATON_SEAL_KEY is not base64url; make one with: {_MAKE_KEY}"
        ) from exc
    if len(key) != SEAL_KEY_BYTES:
        raise SealKeyInvalid(
            f"BATON_SEAL_KEY must be {SEAL_KEY_BYTES} random bytes, base64url-encoded; make one "
            f"with: {_MAKE_KEY}"
        )
    return key


def associated_data(*, root_id: str, exp: int) -> bytes:
    """The bytes AES-GCM authenticates beside the ciphertext: version, root and expiry."""
    return f"baton-seal-v1|{root_id}|{exp}".encode()


def seal_credentials(
    credentials: dict[str, str], *, key: bytes, root_id: str, exp: int
) -> SealedAuth:
    """Seal ``credentials`` (access key, secret, token) for the tree ``root_id`` until ``exp``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(
        nonce, json.dumps(credentials).encode(), associated_data(root_id=root_id, exp=exp)
    )
    return SealedAuth(ciphertext=base64.urlsafe_b64encode(nonce + sealed).decode(), exp=exp)


def unseal_credentials(
    auth: SealedAuth, *, key: bytes, root_id: str, now: float | None = None
) -> dict[str, str]:
    """Open sealed credentials; raise SealExpired or SealInvalid if they may not or cannot be."""
    if auth.exp < (time.time() if now is None else now):
        raise SealExpired(
            f"the sealed credentials expired at {auth.exp}; re-run the parent to seal fresh ones"
        )
    try:
        raw = _b64decode(auth.ciphertext)
        plain = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(root_id=root_id, exp=auth.exp)
        )
        found = json.loads(plain)
        return {name: str(found[name]) for name in CREDENTIAL_FIELDS}
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise SealInvalid(
            "the sealed credentials do not open with this worker's BATON_SEAL_KEY (wrong key, "
            "or the seal was edited); check that parents and workers share the seal key"
        ) from exc
