"""The wire contract between a parent and its workers: the signed Bedrock envelope.

Usage::

    from envelope import BedrockEnvelope, Keyring, encode, decode, resolve

    model_id = resolve("haiku", region="eu-west-1", cross_region=True)
    token = encode(envelope, keyring=keyring)      # goes in the baton_envelope header
    envelope = decode(token, keyring=keyring)      # on the worker; raises EnvelopeError

Everything the producer (``orchestrator``), the consumer (``workers``), the emulator and the CLI
take from the contract is exported here, and they import it from here, never from a submodule:
the envelope model and its codec, seals and message bindings, the names and limits both sides
agree on, model resolution, and the publish-side machinery both sides share (routing, stamping,
the Celery settings of a fleet).

This package imports nothing else of Baton's: the stdlib, pydantic, and cryptography for seals.
The publish ledger (``LedgerTransport`` and its helpers) is a kombu transport, so its names are
exported lazily: ``import envelope`` loads no broker library, and the first use of one of them
loads kombu.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

from envelope.binding import BINDING_KEY, EMBEDDED, bind_message, binding_group, check_binding
from envelope.codec import DEFAULT_CLOCK_SKEW_SECONDS, Keyring, decode, encode, key_id, peek
from envelope.constants import (
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
from envelope.ledger_lua import run_script
from envelope.logsafety import cap_secret_bearing_loggers
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
from envelope.regions import destinations, geographies_of, geography_prefix, is_region
from envelope.routing import (
    PROPAGATING,
    PublishingApp,
    baton_publishing,
    propagating_envelope,
    publishing_app,
)
from envelope.seal import decode_seal_key, seal_credentials, unseal_credentials
from envelope.stamping import stamp_body
from envelope.transport import (
    BACKEND_RETRY_SETTINGS,
    DEFAULT_BROKER_URL,
    ENV_PREFIX,
    PUBLISH_OPTIONS,
    FleetConnection,
    celery_settings,
    redact_url,
    settings_problem,
)
from envelope.urls import (
    INSECURE_ENDPOINTS_VARIABLE,
    Endpoint,
    check_endpoint_url,
    parse_endpoint,
    parse_insecure_endpoints,
)

if TYPE_CHECKING:
    from envelope.ledger import (
        LedgerChannel,
        LedgerQoS,
        LedgerTransport,
        find_lost,
        ledger_transport,
        republish,
        task_id_of,
    )

#: Names of ``envelope.ledger``, exported on first use (it imports kombu).
_LEDGER_NAMES = frozenset(
    {
        "LedgerChannel",
        "LedgerQoS",
        "LedgerTransport",
        "find_lost",
        "ledger_transport",
        "republish",
        "task_id_of",
    }
)


def __getattr__(name: str) -> object:
    if name in _LEDGER_NAMES:
        return getattr(_importlib.import_module("envelope.ledger"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKEND_RETRY_SETTINGS",
    "BINDING_KEY",
    "DEFAULT_BROKER_URL",
    "DEFAULT_CLOCK_SKEW_SECONDS",
    "DEFAULT_MAX_CHILDREN",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_JOBS",
    "DEFAULT_MAX_TURNS",
    "DEFAULT_TTL_SECONDS",
    "EMBEDDED",
    "ENV_PREFIX",
    "HEADER_KEY",
    "INSECURE_ENDPOINTS_CONTEXT",
    "INSECURE_ENDPOINTS_VARIABLE",
    "MAX_CHILDREN",
    "MAX_DEPTH",
    "MAX_ENVELOPE_TTL_SECONDS",
    "MAX_JOBS",
    "MAX_TURNS",
    "MIN_ENVELOPE_TTL_SECONDS",
    "PROPAGATING",
    "PUBLISH_OPTIONS",
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
    "FleetConnection",
    "Keyring",
    "LedgerChannel",
    "LedgerQoS",
    "LedgerTransport",
    "Limits",
    "Lineage",
    "ModelNotInGeography",
    "ModelRequiresProfile",
    "ProfileAuth",
    "ProfileGeographyMismatch",
    "PublishingApp",
    "ResolutionError",
    "SealError",
    "SealExpired",
    "SealInvalid",
    "SealKeyInvalid",
    "SealedAuth",
    "UnknownModel",
    "baton_publishing",
    "bind_message",
    "binding_group",
    "cap_secret_bearing_loggers",
    "catalogue",
    "celery_settings",
    "check_binding",
    "check_endpoint_url",
    "child_jobs_key",
    "decode",
    "decode_seal_key",
    "destinations",
    "encode",
    "find_lost",
    "geographies_of",
    "geography_prefix",
    "is_region",
    "job_lock_key",
    "key_id",
    "ledger_transport",
    "parse_endpoint",
    "parse_insecure_endpoints",
    "peek",
    "propagating_envelope",
    "publishing_app",
    "queue_for",
    "recovered_key",
    "redact_url",
    "republish",
    "requires_profile",
    "resolve",
    "root_jobs_key",
    "run_script",
    "seal_credentials",
    "settings_problem",
    "stamp_body",
    "task_id_of",
    "unseal_credentials",
]
