"""The fleet's envelope keys: one signs, every one verifies, each with its binding subkey.

Loaded once per process from ``BATON_ENVELOPE_KEYS`` (``kid:key,...``, for rotation) or
``BATON_ENVELOPE_KEY``; ``envelope.codec`` signs and verifies tokens with it and
``envelope.binding`` binds messages to them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from envelope.errors import EnvelopeKeyError

#: Shortest signing key accepted: HMAC-SHA256 wants at least 128 bits of secret.
MIN_KEY_LENGTH = 16

#: The key id given to a lone ``BATON_ENVELOPE_KEY``.
DEFAULT_KID = "default"

#: What a key id may be: the envelope's ``kid`` field accepts exactly these (envelope/model.py).
_KID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Keyring:
    """Signing keys by key id; the first is used to sign, all of them verify."""

    keys: Mapping[str, bytes] = field(repr=False)
    active: str
    # Each key's HMAC state after absorbing the key, copied per token: the key schedule is
    # about a third of the cost of an HMAC of a short message.
    _bases: Mapping[str, hmac.HMAC] = field(init=False, repr=False, compare=False)
    # Each key's subkey for message bindings (``envelope.binding``), derived once: a binding is
    # a keyed BLAKE2b under it, one hash pass per message where an HMAC takes two.
    _binding_keys: Mapping[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise EnvelopeKeyError(f"active key id {self.active!r} is not in the keyring")
        for kid, key in self.keys.items():
            if not _KID_PATTERN.fullmatch(kid):
                raise EnvelopeKeyError(
                    f"envelope key id {kid!r} may hold only letters, digits, '_', '.' and '-' "
                    "(1 to 64 of them); rename it in BATON_ENVELOPE_KEYS on every parent and worker"
                )
            if len(key) < MIN_KEY_LENGTH:
                raise EnvelopeKeyError(
                    f"envelope key {kid!r} is {len(key)} bytes; use at least {MIN_KEY_LENGTH} "
                    "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        bases = {kid: hmac.new(key, digestmod=hashlib.sha256) for kid, key in self.keys.items()}
        object.__setattr__(self, "_bases", bases)
        binding = {kid: self.mac(kid, b"baton-binding-key-v1") for kid in self.keys}
        object.__setattr__(self, "_binding_keys", binding)

    def binding_key(self, kid: str) -> bytes:
        """Return the subkey that binds messages to tokens of key ``kid`` (which must exist)."""
        return self._binding_keys[kid]

    def mac(self, kid: str, signing_input: bytes) -> bytes:
        """Return the HMAC-SHA256 of ``signing_input`` under key ``kid`` (which must exist)."""
        state = self._bases[kid].copy()
        state.update(signing_input)
        return state.digest()

    def __repr__(self) -> str:
        return f"Keyring(kids={sorted(self.keys)!r}, active={self.active!r})"

    @classmethod
    def from_env_values(cls, *, key: str | None, keys: str | None) -> Keyring:
        """Build the keyring from ``BATON_ENVELOPE_KEYS`` (``kid:key,...``) or ``..._KEY``.

        ``BATON_ENVELOPE_KEYS`` wins when both are set; its first entry signs, and a key id
        may appear in it only once.
        """
        if keys:
            return cls._parse_list(keys)
        if key:
            return cls(keys={DEFAULT_KID: key.encode()}, active=DEFAULT_KID)
        raise EnvelopeKeyError(
            "BATON_ENVELOPE_KEY is not set; every parent and worker of a fleet must share it. "
            "Set BATON_ENVELOPE_KEY (or BATON_ENVELOPE_KEYS=kid:key,... for rotation)"
        )

    @classmethod
    def _parse_list(cls, text: str) -> Keyring:
        parsed: dict[str, bytes] = {}
        for entry, item in enumerate((part.strip() for part in text.split(",")), start=1):
            kid, sep, secret = item.partition(":")
            if not sep or not kid or not secret:
                raise EnvelopeKeyError(
                    "BATON_ENVELOPE_KEYS must look like kid1:key1,kid2:key2; "
                    f"found an entry without 'kid:' (entry {entry})"
                )
            if kid in parsed:
                first = list(parsed).index(kid) + 1
                raise EnvelopeKeyError(
                    f"BATON_ENVELOPE_KEYS names key id {kid!r} twice (entries {first} and "
                    f"{entry}); give each key its own id (the first entry signs)"
                )
            parsed[kid] = secret.encode()
        return cls(keys=parsed, active=next(iter(parsed)))
