"""The parent's identity mode: which credentials its subagents call Bedrock with.

``ambient`` (the default) lets each worker use its own credential chain; ``profile`` names a
profile that must exist on the workers; ``assume_role`` has workers assume a role through STS;
``sealed`` hands workers the parent's own temporary credentials, sealed under ``BATON_SEAL_KEY``
by ``envelope.seal`` so the broker only ever holds ciphertext.
"""

from __future__ import annotations

import time

import boto3

from envelope import (
    AmbientAuth,
    AssumeRoleAuth,
    Auth,
    ProfileAuth,
    SealKeyInvalid,
    decode_seal_key,
    seal_credentials,
)
from orchestrator.errors import InvalidSetting
from orchestrator.settings import ProducerSettings


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
        exp = int(time.time()) + settings.envelope_ttl
        return seal_credentials(
            parent_credentials(), key=_seal_key(settings), root_id=root_id, exp=exp
        )
    return AmbientAuth()


def _seal_key(settings: ProducerSettings) -> bytes:
    """The parent's ``BATON_SEAL_KEY``, decoded; raise InvalidSetting if it is unusable."""
    try:
        return decode_seal_key(settings.seal_key.get_secret_value() if settings.seal_key else "")
    except SealKeyInvalid as exc:
        raise InvalidSetting(str(exc)) from exc
