"""The botocore sessions a worker calls Bedrock with, one per identity an envelope names.

- ``ambient``: the worker's own credential chain (one shared session per process);
- ``profile``: a named profile that must exist on the worker;
- ``assume_role``: STS AssumeRole from the ambient identity, as refreshable credentials cached
  per (role, session name), so a whole tree shares one set and renews it before it expires;
- ``sealed``: the parent's temporary credentials, opened in memory with ``BATON_SEAL_KEY``
  (``envelope.seal``) and honoured only until the seal's expiry.

Sessions are created under the cache's lock: botocore sessions are not thread-safe.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound
from botocore.session import get_session

from envelope import (
    AmbientAuth,
    AssumeRoleAuth,
    BedrockEnvelope,
    ProfileAuth,
    SealedAuth,
    SealError,
    parse_endpoint,
    unseal_credentials,
)
from workers.errors import IdentityUnavailable

#: Assumed-role sessions last this long; botocore refreshes them ahead of expiry.
ASSUMED_ROLE_SECONDS = 3600


def _unsealed(auth: SealedAuth, *, key: bytes | None, root_id: str) -> dict[str, str]:
    """Open sealed credentials; raise IdentityUnavailable if they cannot or may not be used."""
    if key is None:
        raise IdentityUnavailable(
            "the envelope carries sealed credentials, but BATON_SEAL_KEY is not set on this "
            "worker; give workers the parent's seal key or use another identity mode"
        )
    try:
        return unseal_credentials(auth, key=key, root_id=root_id)
    except SealError as exc:
        raise IdentityUnavailable(str(exc)) from exc


class Identities:
    """Sessions by identity; call ``session`` with the cache's lock held."""

    def __init__(self, *, seal_key: bytes | None) -> None:
        self._seal_key = seal_key
        self._sessions: dict[object, boto3.Session] = {}

    def clear(self) -> None:
        """Forget every session (after fork)."""
        self._sessions = {}

    def session(self, envelope: BedrockEnvelope) -> boto3.Session:
        """Return the session for ``envelope.auth``, creating it once."""
        auth = envelope.auth
        key: object = auth if not isinstance(auth, AmbientAuth) else None
        session = self._sessions.get(key)
        if session is None:
            session = self._create(envelope)
            self._sessions[key] = session
        return session

    def _create(self, envelope: BedrockEnvelope) -> boto3.Session:
        auth = envelope.auth
        if isinstance(auth, AmbientAuth):
            return boto3.Session()
        if isinstance(auth, ProfileAuth):
            return _profile_session(auth.name)
        if isinstance(auth, SealedAuth):
            found = _unsealed(auth, key=self._seal_key, root_id=envelope.lineage.root_id)
            return boto3.Session(
                aws_access_key_id=found["access_key"],
                aws_secret_access_key=found["secret_key"],
                aws_session_token=found["token"],
            )
        return _assumed_role_session(auth, envelope=envelope)


def _profile_session(name: str) -> boto3.Session:
    """A session for profile ``name``, checked now: botocore would only fail at first use."""
    missing = IdentityUnavailable(
        f"the envelope asks for AWS profile {name!r}, which does not exist on this worker; "
        "add it to the worker's ~/.aws/config or send the job to workers that have it"
    )
    if name not in boto3.Session().available_profiles:
        raise missing
    try:
        return boto3.Session(profile_name=name)
    except ProfileNotFound as exc:
        raise missing from exc


def _sts_endpoint(envelope: BedrockEnvelope) -> str | None:
    """STS goes to the regional STS endpoint over https, except beside a loopback Bedrock (the
    emulator), which serves STS too.

    AssumeRole carries the worker's own signed request and returns a role's credentials, so the
    loopback decision uses the strict parser: an endpoint it refuses (``http://remote\\@localhost``
    reads as localhost to ``urlsplit`` and as ``remote`` to urllib3) is never loopback. A real
    Bedrock endpoint override (a VPC endpoint) does not serve STS.
    """
    url = envelope.endpoint_url
    if url is None:
        return None
    try:
        return url if parse_endpoint(url).is_loopback else None
    except ValueError:
        return None


def _assumed_role_session(auth: AssumeRoleAuth, *, envelope: BedrockEnvelope) -> boto3.Session:
    """A session whose credentials come from STS AssumeRole, refreshed before they expire."""
    sts = boto3.Session().client(
        "sts",
        region_name=envelope.region,
        endpoint_url=_sts_endpoint(envelope),
        config=Config(signature_version="v4", ignore_configured_endpoint_urls=True),  # type: ignore[call-arg]
    )
    lock = threading.Lock()

    def fetch() -> dict[str, Any]:
        request: dict[str, Any] = {
            "RoleArn": auth.role_arn,
            "RoleSessionName": auth.session_name,
            "DurationSeconds": ASSUMED_ROLE_SECONDS,
        }
        if auth.external_id:
            request["ExternalId"] = auth.external_id
        with lock:
            try:
                found = sts.assume_role(**request)["Credentials"]
            except (BotoCoreError, ClientError) as exc:
                raise IdentityUnavailable(
                    f"STS AssumeRole of {auth.role_arn} failed in {envelope.region}: {exc}; check "
                    "the role's trust policy names this worker's identity"
                ) from exc
        return {
            "access_key": found["AccessKeyId"],
            "secret_key": found["SecretAccessKey"],
            "token": found["SessionToken"],
            "expiry_time": found["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="baton-assume-role"
    )
    botocore_session = get_session()
    # No public setter takes refreshable credentials; this is the pattern AWS's own examples use.
    botocore_session._credentials = credentials  # type: ignore[attr-defined]
    return boto3.Session(botocore_session=botocore_session)
