"""Sign and verify envelopes as compact header tokens.

A token is ``v1.<base64url(canonical JSON)>.<base64url(HMAC-SHA256)>``; the MAC covers the
``v1.<payload>`` prefix, as a JWS does. Celery's ``auth`` serializer signs only the body, so this
signature is the only thing standing between an edited header and a worker.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from typing import NoReturn

from pydantic import ValidationError

from envelope.errors import (
    EnvelopeExpired,
    EnvelopeMalformed,
    EnvelopeSignatureInvalid,
    EnvelopeUnknownKey,
)
from envelope.keyring import Keyring
from envelope.model import INSECURE_ENDPOINTS_CONTEXT, BedrockEnvelope

#: Tokens larger than this are refused before any parsing: a v1 envelope is well under 1 KiB.
MAX_TOKEN_BYTES = 4096

#: Clock difference tolerated between the parent that signed and the worker that checks.
DEFAULT_CLOCK_SKEW_SECONDS = 30

_PREFIX = "v1"
_PREFIX_DOT = b"v1."

_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")

#: How canonical JSON introduces the key id.
_KID_FIELD = b'"kid":"'


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # The decoder skips stray characters and ignores a final character's unused bits, so several
    # strings decode to one MAC. Accept only the canonical one, or an edited token would verify.
    if _b64encode(raw) != text:
        raise ValueError("not canonical unpadded base64url")
    return raw


def _payload_bytes(segment: bytes) -> bytes:
    """Decode the payload segment (lenient, as ``base64.urlsafe_b64decode``, with less work)."""
    return binascii.a2b_base64(segment.translate(_FROM_URLSAFE) + b"=" * (-len(segment) % 4))


def encode(envelope: BedrockEnvelope, *, keyring: Keyring) -> str:
    """Sign ``envelope`` with the keyring's active key and return the header token.

    The envelope's ``kid`` must be the active key id, so a reader knows which key to use.
    """
    if envelope.kid != keyring.active:
        envelope = envelope.model_copy(update={"kid": keyring.active})
    signing_input = f"{_PREFIX}.{_b64encode(envelope.canonical_json())}"
    mac = keyring.mac(keyring.active, signing_input.encode("ascii"))
    return f"{signing_input}.{_b64encode(mac)}"


def _split(token: str) -> tuple[bytes, bytes, str]:
    """Return the signing input, the decoded payload and the signature text of ``token``."""
    if not isinstance(token, str):
        raise EnvelopeMalformed(f"envelope header must be a string, got {type(token).__name__}")
    ascii_only = token.isascii()
    size = len(token) if ascii_only else len(token.encode("utf-8", "surrogatepass"))
    if size > MAX_TOKEN_BYTES:
        raise EnvelopeMalformed(
            f"envelope token is {size} bytes, over the {MAX_TOKEN_BYTES}-byte limit; "
            "it was not produced by Baton"
        )
    raw = token.encode("ascii") if ascii_only else b""
    if raw.count(b".") != 2 or not raw.startswith(_PREFIX_DOT):
        raise EnvelopeMalformed(
            "envelope token is not of the form v1.<payload>.<signature> in ASCII; "
            "check that the producer runs a Baton release that writes envelope v1"
        )
    end = raw.rindex(b".")
    try:
        # The payload needs no canonical check: the MAC covers its exact text, so any other
        # spelling of the same bytes fails verification.
        payload = _payload_bytes(raw[len(_PREFIX_DOT) : end])
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeMalformed("envelope token is not valid base64url") from exc
    return raw[:end], payload, token[end + 1 :]


def _refuse_signature(kid: str, signature: str) -> NoReturn:
    """Explain a signature that did not match: not a MAC's spelling at all, or another MAC."""
    try:
        _b64decode(signature)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeMalformed("envelope token is not valid base64url") from exc
    raise EnvelopeSignatureInvalid(
        f"envelope signature does not match key {kid!r}: the header was edited or signed "
        "with a different secret; check that parent and workers share BATON_ENVELOPE_KEY"
    )


def _payload_dict(payload: bytes) -> dict[str, object]:
    try:
        # A str, not bytes: json.loads spends longer detecting the encoding of bytes.
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EnvelopeMalformed("envelope payload is not JSON") from exc
    if not isinstance(data, dict):
        raise EnvelopeMalformed("envelope payload is not a JSON object")
    return data


def _key_id(payload: bytes) -> str:
    """Return the key id the payload names, reading its text rather than parsing it.

    The payload is then parsed once, by the model's validator, and only after its MAC has been
    checked with that key. A misreading can only pick a key whose MAC then fails, or one whose
    holder signed the payload; :func:`decode` also requires the parsed ``kid`` to be the same.
    Where the text is not canonical (no ``"kid":"`` in it), the JSON is parsed instead, which
    also says precisely what is wrong with a payload that has no key id.
    """
    start = payload.find(_KID_FIELD)
    if start >= 0:
        start += len(_KID_FIELD)
        end = payload.find(b'"', start)
        kid = payload[start:end]
        if end > start and kid.isascii():
            return kid.decode("ascii")
    found = _payload_dict(payload).get("kid")
    if not isinstance(found, str):
        raise EnvelopeMalformed("envelope payload has no key id (kid)")
    return found


def _validated(payload: bytes, insecure_endpoints: frozenset[str]) -> BedrockEnvelope:
    """Parse and validate a verified payload into an envelope, or explain what is invalid."""
    try:
        return BedrockEnvelope.model_validate_json(
            payload, context={INSECURE_ENDPOINTS_CONTEXT: insecure_endpoints}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'envelope'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise EnvelopeMalformed(f"envelope payload is signed but invalid: {problems}") from exc


def key_id(token: str) -> str:
    """Return the key id ``token`` names, WITHOUT verifying it (to pick the key to bind with)."""
    _, payload, _ = _split(token)
    return _key_id(payload)


def peek(token: str) -> dict[str, object]:
    """Return the payload of ``token`` WITHOUT verifying it: for routing and diagnostics only."""
    _, payload, _ = _split(token)
    return _payload_dict(payload)


def _signed(token: str, keyring: Keyring) -> tuple[str, bytes]:
    """Return the key id and payload of ``token`` once its MAC verifies; raise otherwise."""
    signing_input, payload, signature = _split(token)
    kid = _key_id(payload)
    if kid not in keyring.keys:
        raise EnvelopeUnknownKey(
            f"envelope was signed with key id {kid!r}, which this process does not hold "
            f"(known: {', '.join(sorted(keyring.keys))}); add it to BATON_ENVELOPE_KEYS "
            "or re-enqueue the job from a parent with a current key"
        )
    # Compared as text: only the canonical spelling of the right MAC matches, so a signature
    # that decodes to the same bytes with other characters or unused bits set does not.
    if not hmac.compare_digest(_b64encode(keyring.mac(kid, signing_input)), signature):
        _refuse_signature(kid, signature)
    return kid, payload


def verify_signature(token: str, *, keyring: Keyring) -> str:
    """Return the key id of ``token`` if a key holder made it (expired, out of policy or invalid
    as it may be); raise EnvelopeMalformed, EnvelopeUnknownKey or EnvelopeSignatureInvalid."""
    return _signed(token, keyring)[0]


def decode(
    token: str,
    *,
    keyring: Keyring,
    now: float | None = None,
    clock_skew: float = DEFAULT_CLOCK_SKEW_SECONDS,
    insecure_endpoints: frozenset[str] = frozenset(),
) -> BedrockEnvelope:
    """Verify ``token`` and return its envelope; raise a typed EnvelopeError otherwise.

    ``insecure_endpoints`` lists the ``host:port`` pairs this process accepts over plain http
    (``BATON_ALLOW_INSECURE_ENDPOINTS``); loopback always is.
    """
    kid, payload = _signed(token, keyring)
    envelope = _validated(payload, insecure_endpoints)
    if envelope.kid != kid:
        raise EnvelopeMalformed(f"envelope payload names more than one key id ({kid!r} first)")
    current = time.time() if now is None else now
    if envelope.exp + clock_skew < current:
        raise EnvelopeExpired(
            f"envelope expired {int(current - envelope.exp)} s ago (exp={envelope.exp}); "
            "re-run the parent to issue a fresh envelope, or raise its TTL"
        )
    return envelope
