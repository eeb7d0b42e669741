"""Errors of the wire contract.

Every message says what happened, what was expected, and what to do about it. The classes take a
single message argument so that Celery can rebuild them from a result backend.

    EnvelopeError
    ├── EnvelopeMissing
    ├── EnvelopeMalformed
    ├── EnvelopeSignatureInvalid
    ├── EnvelopeUnknownKey
    ├── EnvelopeExpired
    ├── EnvelopeBindingInvalid
    └── EnvelopeKeyError
    SealError
    ├── SealKeyInvalid
    ├── SealExpired
    └── SealInvalid
    ResolutionError
    ├── UnknownModel
    ├── ModelNotInGeography
    ├── ProfileGeographyMismatch
    ├── ArnRegionMismatch
    └── ModelRequiresProfile
"""

from __future__ import annotations


class BatonError(Exception):
    """Raised for any failure Baton explains itself; the root of every package's hierarchy."""

    #: A short, stable code for logs, metrics and dead letters.
    code = "baton_error"


class EnvelopeError(BatonError):
    """Raised when an envelope cannot be trusted; the job must not run."""

    code = "envelope_error"


class EnvelopeMissing(EnvelopeError):
    """Raised when a message carries no envelope header at all."""

    code = "envelope_missing"


class EnvelopeMalformed(EnvelopeError):
    """Raised when a token or its payload is not a well-formed v1 envelope."""

    code = "envelope_malformed"


class EnvelopeSignatureInvalid(EnvelopeError):
    """Raised when the HMAC does not match: the token was edited or signed with another key."""

    code = "envelope_signature_invalid"


class EnvelopeBindingInvalid(EnvelopeError):
    """Raised when a valid envelope arrives on a message it was not bound to (a replay)."""

    code = "envelope_binding_invalid"


class EnvelopeUnknownKey(EnvelopeError):
    """Raised when the token names a key id this process does not hold (retired or foreign)."""

    code = "envelope_unknown_key"


class EnvelopeExpired(EnvelopeError):
    """Raised when the envelope's ``exp`` has passed, beyond the allowed clock skew."""

    code = "envelope_expired"


class EnvelopeKeyError(EnvelopeError):
    """Raised when the signing keys themselves are missing or unusable."""

    code = "envelope_key_error"


class SealError(BatonError):
    """Raised when sealed credentials cannot be made or opened; the call must not be made."""

    code = "seal_error"


class SealKeyInvalid(SealError):
    """Raised when ``BATON_SEAL_KEY`` is not 32 random bytes, base64url-encoded."""

    code = "seal_key_invalid"


class SealExpired(SealError):
    """Raised when a seal's ``exp`` has passed: its credentials are no longer honoured."""

    code = "seal_expired"


class SealInvalid(SealError):
    """Raised when a seal does not open: another key, another tree, or an edited seal."""

    code = "seal_invalid"


class ResolutionError(BatonError):
    """Raised when a model name cannot be turned into one concrete ID for the region."""

    code = "resolution_error"


class UnknownModel(ResolutionError):
    """Raised when a model name is neither an alias, a catalogue ID, a profile ID nor an ARN."""

    code = "unknown_model"


class ModelNotInGeography(ResolutionError):
    """Raised when a model has no inference profile in the region's geography."""

    code = "model_not_in_geography"


class ProfileGeographyMismatch(ResolutionError):
    """Raised when an explicit profile ID belongs to a geography that excludes the region."""

    code = "profile_geography_mismatch"


class ArnRegionMismatch(ResolutionError):
    """Raised when a model ARN names a region other than the envelope's."""

    code = "arn_region_mismatch"


class ModelRequiresProfile(ResolutionError):
    """Raised when cross-region inference is off but the model runs only through a profile."""

    code = "model_requires_profile"
