"""The documented test key pairs the emulator accepts, and who each one is.

These are not secrets: they are published so tests, the demo and a developer's shell can sign
requests the emulator verifies for real. They only ever work against the emulator. A second
identity exists so a test can tell "signed by the right key" from "signed by some valid key".
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Identity:
    """An IAM user the emulator recognises by its access key."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    arn: str

    @property
    def account_id(self) -> str:
        """Return the 12-digit account, read from the ARN so the two never disagree."""
        return self.arn.split(":")[4]


#: Every identity the emulator knows, by access key id.
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
