"""Who signed a request: the documented test key pairs, and temporary keys STS has issued.

The test pairs are not secrets: they are published so tests, the demo and a developer's shell can
sign requests the emulator verifies for real. They only ever work against the emulator. A second
identity exists so a test can tell "signed by the right key" from "signed by some valid key".
Temporary keys (``ASIA...``) are added by :mod:`emulator.sts` when a caller assumes a role; they
work only with their session token and only until they expire, as on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from emulator.errors import ExpiredToken, UnrecognizedClient
from emulator.server import Request
from emulator.sigv4 import SERVICE, UNKNOWN_KEY_MESSAGE, Authorization, Scope, verify

#: The account every test identity lives in; it appears in inference-profile ARNs and 403s.
TEST_ACCOUNT_ID = "111122223333"
#: The primary test access key: sign with it unless a test is about telling identities apart.
TEST_ACCESS_KEY_ID = "AKIDBATONEXAMPLE01"
#: The secret that goes with :data:`TEST_ACCESS_KEY_ID`.
TEST_SECRET_ACCESS_KEY = "baton-test-secret-access-key-0001"
#: A second, equally valid key for a different user.
OTHER_ACCESS_KEY_ID = "AKIDBATONEXAMPLE02"
#: The secret that goes with :data:`OTHER_ACCESS_KEY_ID`.
OTHER_SECRET_ACCESS_KEY = "baton-test-secret-access-key-0002"

EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"


@dataclass(frozen=True)
class Identity:
    """An IAM user, or an assumed-role session, the emulator recognises by its access key.

    Attributes:
        access_key_id: the key a request names in its credential scope.
        secret_access_key: the secret it is signed with.
        arn: who the caller is; 403 messages name it.
        session_token: for temporary credentials, the token every request must carry.
        expires_at: for temporary credentials, when they stop working (epoch seconds).
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    arn: str
    session_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None

    @property
    def account_id(self) -> str:
        """Return the 12-digit account, read from the ARN so the two never disagree."""
        return self.arn.split(":")[4]


#: Every long-term identity the emulator knows, by access key id.
IDENTITIES: dict[str, Identity] = {
    identity.access_key_id: identity
    for identity in (
        Identity(
            access_key_id=TEST_ACCESS_KEY_ID,
            secret_access_key=TEST_SECRET_ACCESS_KEY,
            arn=f"arn:aws:iam::{TEST_ACCOUNT_ID}:user/baton-test",
        ),
        Identity(
            access_key_id=OTHER_ACCESS_KEY_ID,
            secret_access_key=OTHER_SECRET_ACCESS_KEY,
            arn=f"arn:aws:iam::{TEST_ACCOUNT_ID}:user/baton-other",
        ),
    )
}


def lookup(access_key_id: str) -> Identity | None:
    """Return the identity that owns ``access_key_id``, or None for a key nobody issued."""
    return IDENTITIES.get(access_key_id)


class _Secrets(Mapping[str, str]):
    """A live view of the table's secrets, in the shape :func:`~emulator.sigv4.verify` takes."""

    def __init__(self, identities: dict[str, Identity]) -> None:
        self._identities = identities

    def __getitem__(self, access_key_id: str) -> str:
        return self._identities[access_key_id].secret_access_key

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._identities))

    def __len__(self) -> int:
        return len(self._identities)


class CredentialTable:
    """The keys one emulator accepts: the long-term ones, plus those its STS issues.

    Args:
        identities: the long-term identities; the documented test pairs by default.
    """

    def __init__(self, identities: Mapping[str, Identity] = IDENTITIES) -> None:
        self._identities = dict(identities)
        self._issued: list[Identity] = []
        self._lock = threading.Lock()
        self._secrets = _Secrets(self._identities)

    def add(self, identity: Identity) -> None:
        """Accept ``identity``'s key from now on; temporary ones are listed by :meth:`issued`."""
        with self._lock:
            self._identities[identity.access_key_id] = identity
            if identity.session_token is not None:
                self._issued.append(identity)

    def issued(self) -> list[dict[str, object]]:
        """Return the temporary credentials issued so far, without secret or token."""
        with self._lock:
            return [
                {"access_key_id": i.access_key_id, "arn": i.arn, "expires_at": i.expires_at}
                for i in self._issued
            ]

    def authenticate(
        self, request: Request, authorization: Authorization, *, now: float, service: str = SERVICE
    ) -> tuple[Scope, Identity]:
        """Verify the signature, then a temporary key's token and expiry; return who signed.

        Raises:
            AuthenticationError: a subclass saying why the caller cannot be trusted.
        """
        scope = verify(request, authorization, secrets=self._secrets, now=now, service=service)
        identity = self._identities[scope.access_key_id]
        if identity.session_token is not None:
            if request.headers.get("x-amz-security-token") != identity.session_token:
                raise UnrecognizedClient(UNKNOWN_KEY_MESSAGE)
            if identity.expires_at is not None and identity.expires_at <= now:
                raise ExpiredToken(EXPIRED_TOKEN_MESSAGE)
        return scope, identity
