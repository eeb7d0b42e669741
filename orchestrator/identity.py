"""The parent's identity mode: which credentials its subagents call Bedrock with.

``ambient`` (the default) lets each worker use its own credential chain; ``profile`` names a
profile that must exist on the workers; ``assume_role`` has workers assume a role through STS;
``sealed`` hands workers the parent's own temporary credentials, AES-GCM sealed under
``BATON_SEAL_KEY`` so the broker only ever holds ciphertext.
"""

from __future__ import annotations

import base64
import json
import os
import time

import boto3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from envelope import AmbientAuth, AssumeRoleAuth, Auth, ProfileAuth, SealedAuth
from orchestrator.errors import InvalidSetting
from orchestrator.settings import ProducerSettings

#: AES-GCM nonce length, as the algorithm recommends.
NONCE_BYTES = 12


def seal_key(text: str | None) -> bytes:
    """Decode ``BATON_SEAL_KEY`` (base64url of 32 bytes); raise InvalidSetting otherwise."""
    try:
        key = base64.urlsafe_b64decode((text or "") + "=" * (-len(text or "") % 4))
    except ValueError as exc:
        raise InvalidSetting("BATON_SEAL_KEY is not base64url") from exc
    if len(key) != 32:
        raise InvalidSetting(
            "BATON_SEAL_KEY must be 32 random bytes, base64url-encoded; make one with: python -c "
            "'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
        )
    return key


def seal(credentials: dict[str, str], *, key: bytes, root_id: str, exp: int) -> SealedAuth:
    """Seal ``credentials`` (access key, secret, token) for one tree until ``exp``."""
    draft = SealedAuth(ciphertext="-", exp=exp)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(
        nonce, json.dumps(credentials).encode(), draft.associated_data(root_id=root_id)
    )
    return SealedAuth(ciphertext=base64.urlsafe_b64encode(nonce + sealed).decode(), exp=exp)


def parent_credentials() -> dict[str, str]:
    """Return the parent's current credentials from its own chain; refuse long-term keys."""
    found = boto3.Session().get_credentials()
    if found is None:
        raise InvalidSetting("BATON_IDENTITY=sealed, but the parent has no AWS credentials")
    frozen = found.get_frozen_credentials()
    if not frozen.token:
        raise InvalidSetting(
            "BATON_IDENTITY=sealed hands workers temporary credentials only; the parent holds "
            "long-term keys (no session token). Use assume_role or ambient instead"
        )
    return {
        "access_key": str(frozen.access_key),
        "secret_key": str(frozen.secret_key),
        "token": str(frozen.token),
    }


def auth_for(settings: ProducerSettings, *, root_id: str) -> Auth:
    """Return the envelope's ``auth`` for the parent's ``BATON_IDENTITY`` setting."""
    mode = settings.identity
    if mode == "profile":
        if not settings.identity_profile:
            raise InvalidSetting("BATON_IDENTITY=profile needs BATON_IDENTITY_PROFILE")
        return ProfileAuth(name=settings.identity_profile)
    if mode == "assume_role":
        if not settings.role_arn:
            raise InvalidSetting("BATON_IDENTITY=assume_role needs BATON_ROLE_ARN")
        return AssumeRoleAuth(
            role_arn=settings.role_arn,
            external_id=settings.external_id,
            session_name=f"baton-{root_id}"[:64],
        )
    if mode == "sealed":
        key = seal_key(settings.seal_key.get_secret_value() if settings.seal_key else None)
        exp = int(time.time()) + settings.envelope_ttl
        return seal(parent_credentials(), key=key, root_id=root_id, exp=exp)
    return AmbientAuth()
