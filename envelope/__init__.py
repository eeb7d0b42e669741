"""The wire contract between a parent and its workers: the signed Bedrock envelope.

Usage::

    from envelope import BedrockEnvelope, Keyring, encode, decode, resolve

    model_id = resolve("haiku", region="eu-west-1", cross_region=True)
    token = encode(envelope, keyring=keyring)      # goes in the baton_envelope header
    envelope = decode(token, keyring=keyring)      # on the worker; raises EnvelopeError

This package imports nothing else of Baton's: stdlib and pydantic only.
"""

from envelope.codec import MAX_TOKEN_BYTES, Keyring, decode, encode, peek
from envelope.constants import (
    ENVELOPE_VERSION,
    HEADER_KEY,
    QUEUE_PREFIX,
    TASK_NAME,
    child_jobs_key,
    job_lock_key,
    queue_for,
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
    UnknownModel,
)
from envelope.model import (
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
from envelope.profiles import catalogue, requires_profile, resolve
from envelope.regions import destinations, geographies_of, geography_prefix, is_region
from envelope.routing import EnvelopeRouter
from envelope.transport import (
    DEFAULT_BROKER_URL,
    FleetConnection,
    celery_settings,
    default_result_backend,
)
from envelope.urls import Endpoint, check_endpoint_url, is_loopback_host, parse_endpoint

__all__ = [
    "DEFAULT_BROKER_URL",
    "ENVELOPE_VERSION",
    "HEADER_KEY",
    "MAX_TOKEN_BYTES",
    "QUEUE_PREFIX",
    "TASK_NAME",
    "AmbientAuth",
    "ArnRegionMismatch",
    "AssumeRoleAuth",
    "Auth",
    "BatonError",
    "BedrockEnvelope",
    "ClientSettings",
    "Endpoint",
    "EnvelopeBindingInvalid",
    "EnvelopeError",
    "EnvelopeExpired",
    "EnvelopeKeyError",
    "EnvelopeMalformed",
    "EnvelopeMissing",
    "EnvelopeRouter",
    "EnvelopeSignatureInvalid",
    "EnvelopeUnknownKey",
    "FleetConnection",
    "Keyring",
    "Limits",
    "Lineage",
    "ModelNotInGeography",
    "ModelRequiresProfile",
    "ProfileAuth",
    "ProfileGeographyMismatch",
    "ResolutionError",
    "SealedAuth",
    "UnknownModel",
    "catalogue",
    "celery_settings",
    "check_endpoint_url",
    "child_jobs_key",
    "decode",
    "default_result_backend",
    "destinations",
    "encode",
    "geographies_of",
    "geography_prefix",
    "is_loopback_host",
    "is_region",
    "job_lock_key",
    "parse_endpoint",
    "peek",
    "queue_for",
    "requires_profile",
    "resolve",
    "root_jobs_key",
]
