"""The wire contract between a parent and its workers: the signed Bedrock envelope.

Usage::

    from envelope import BedrockEnvelope, Keyring, encode, decode, resolve

    model_id = resolve("haiku", region="eu-west-1", cross_region=True)
    token = encode(envelope, keyring=keyring)      # goes in the baton_envelope header
    envelope = decode(token, keyring=keyring)      # on the worker; raises EnvelopeError

Everything the producer (``orchestrator``), the consumer (``workers``), how messages travel
(``fleet``), the emulator and the CLI take from the contract is exported here, and they import it
from here, never from a submodule: the envelope model and its codec, seals and message bindings,
the names and limits both sides agree on, regions, endpoint URLs, model resolution and the errors.
How a message carrying an envelope is delivered (connection settings, routing, stamping, the
publish ledger) is ``fleet``'s.

This package imports nothing else of Baton's, and no broker library: the stdlib, pydantic, and
cryptography for seals. ``import envelope`` loads no Celery, kombu or redis.
"""

from envelope.binding import (
    BINDING_KEY,
    EMBEDDED,
    bind_message,
    binding_expires,
    binding_group,
    binding_retries,
    check_binding,
)
from envelope.codec import (
    DEFAULT_CLOCK_SKEW_SECONDS,
    decode,
    encode,
    key_id,
    peek,
    verify_signature,
)
from envelope.constants import (
    EMULATOR_REGIONS_HEADER,
    HEADER_KEY,
    MAX_CHILDREN,
    MAX_DEPTH,
    MAX_ENVELOPE_TTL_SECONDS,
    MAX_JOBS,
    MAX_TURNS,
    MIN_ENVELOPE_TTL_SECONDS,
    QUEUE_PREFIX,
    TASK_NAME,
    child_jobs_key,
    job_lock_key,
    queue_for,
    recovered_key,
    root_jobs_key,
)
from envelope.errors import (
    ArnRegionMismatch,
    BatonError,
    EnvelopeBindingInvalid,
    EnvelopeError,
    EnvelopeExpired,
    EnvelopeKeyError,
    EnvelopeMalformed,
    EnvelopeMissing,
    EnvelopeSignatureInvalid,
    EnvelopeUnknownKey,
    ModelNotInGeography,
    ModelRequiresProfile,
    ProfileGeographyMismatch,
    ResolutionError,
    SealError,
    SealExpired,
    SealInvalid,
    SealKeyInvalid,
    UnknownModel,
)
from envelope.keyring import Keyring
from envelope.model import (
    DEFAULT_MAX_CHILDREN,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_TURNS,
    DEFAULT_TTL_SECONDS,
    INSECURE_ENDPOINTS_CONTEXT,
    AmbientAuth,
    AssumeRoleAuth,
    Auth,
    BedrockEnvelope,
    ClientSettings,
    Limits,
    Lineage,
    ProfileAuth,
    SealedAuth,
)
from envelope.profiles import Catalogue, catalogue, requires_profile, resolve
from envelope.reach import Reach, child_stays_within, reach_of
from envelope.regions import destinations, geographies_of, geography_prefix, is_region
from envelope.seal import decode_seal_key, seal_credentials, unseal_credentials
from envelope.urls import (
    INSECURE_ENDPOINTS_VARIABLE,
    Endpoint,
    check_endpoint_url,
    parse_endpoint,
    parse_insecure_endpoints,
)

__all__ = [
    "BINDING_KEY",
    "DEFAULT_CLOCK_SKEW_SECONDS",
    "DEFAULT_MAX_CHILDREN",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_JOBS",
    "DEFAULT_MAX_TURNS",
    "DEFAULT_TTL_SECONDS",
    "EMBEDDED",
    "EMULATOR_REGIONS_HEADER",
    "HEADER_KEY",
    "INSECURE_ENDPOINTS_CONTEXT",
    "INSECURE_ENDPOINTS_VARIABLE",
    "MAX_CHILDREN",
    "MAX_DEPTH",
    "MAX_ENVELOPE_TTL_SECONDS",
    "MAX_JOBS",
    "MAX_TURNS",
    "MIN_ENVELOPE_TTL_SECONDS",
    "QUEUE_PREFIX",
    "TASK_NAME",
    "AmbientAuth",
    "ArnRegionMismatch",
    "AssumeRoleAuth",
    "Auth",
    "BatonError",
    "BedrockEnvelope",
    "Catalogue",
    "ClientSettings",
    "Endpoint",
    "EnvelopeBindingInvalid",
    "EnvelopeError",
    "EnvelopeExpired",
    "EnvelopeKeyError",
    "EnvelopeMalformed",
    "EnvelopeMissing",
    "EnvelopeSignatureInvalid",
    "EnvelopeUnknownKey",
    "Keyring",
    "Limits",
    "Lineage",
    "ModelNotInGeography",
    "ModelRequiresProfile",
    "ProfileAuth",
    "ProfileGeographyMismatch",
    "Reach",
    "ResolutionError",
    "SealError",
    "SealExpired",
    "SealInvalid",
    "SealKeyInvalid",
    "SealedAuth",
    "UnknownModel",
    "bind_message",
    "binding_expires",
    "binding_group",
    "binding_retries",
    "catalogue",
    "check_binding",
    "check_endpoint_url",
    "child_jobs_key",
    "child_stays_within",
    "decode",
    "decode_seal_key",
    "destinations",
    "encode",
    "geographies_of",
    "geography_prefix",
    "is_region",
    "job_lock_key",
    "key_id",
    "parse_endpoint",
    "parse_insecure_endpoints",
    "peek",
    "queue_for",
    "reach_of",
    "recovered_key",
    "requires_profile",
    "resolve",
    "root_jobs_key",
    "seal_credentials",
    "unseal_credentials",
    "verify_signature",
]
