"""The emulator's configuration, validated once, and the service assembled from it.

:class:`~emulator.runner.Emulator`, :func:`~emulator.runner.serve` and ``python -m emulator``
all take the same options (:class:`EmulatorOptions`, defined once so they cannot drift apart);
they build one :class:`EmulatorSettings` and hand it to :func:`build_service`, so a bad policy
file, application profile or fault rate is refused before any socket is opened, with a message
that names the option.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from emulator.access import AccessPolicy, RegionPolicy
from emulator.faults import FaultInjector, FaultSettings
from emulator.iam import PolicyDocument
from emulator.journal import DEFAULT_JOURNAL_SIZE, Journal
from emulator.profiles import ProfileRegistry
from emulator.quotas import (
    DEFAULT_BURST_SECONDS,
    DEFAULT_MAX_OUTPUT_TOKENS,
    QuotaBook,
    QuotaSettings,
)
from emulator.server import DEFAULT_HOST, DEFAULT_PORT
from emulator.service import BedrockService

#: What ``policy=`` accepts: a parsed document, its JSON value, or the path of a JSON file.
PolicySource = PolicyDocument | Mapping[str, Any] | str | os.PathLike[str]


def load_policy(source: PolicySource | None) -> PolicyDocument | None:
    """Return the policy ``source`` names, parsed; None for no policy file.

    Raises:
        ConfigurationError: the file cannot be read or the document is not in the IAM subset.
    """
    if source is None or isinstance(source, PolicyDocument):
        return source
    if isinstance(source, Mapping):
        return PolicyDocument.from_json(source)
    return PolicyDocument.load(os.fspath(source))


class EmulatorOptions(TypedDict, total=False):
    """The keyword options of :class:`~emulator.runner.Emulator` and :func:`~emulator.runner.serve`.

    Attributes:
        host: the one address to bind; loopback by default.
        port: the port, or 0 (the default) for a free one.
        allowed_regions: the ``--allow-region`` shortcut: Bedrock in these regions, plus the
            foundation models behind their inference profiles. None by default: every call 403s.
        policy: an IAM policy (a file path, its JSON value or a parsed document) granted too.
        app_profiles: application inference profiles to declare, name to model ID.
        latency: seconds waited before each runtime answer.
        jitter: the most seconds added at random (uniformly) on top of ``latency``.
        throttle_rate: share of runtime calls answered 429 ThrottlingException.
        unavailable_rate: share answered 503 ServiceUnavailableException.
        model_error_rate: share answered 424 ModelErrorException.
        not_ready_rate: share answered 429 ModelNotReadyException.
        drop_rate: share whose connection is closed without a response.
        seed: makes the fault draws repeatable; None draws differently on every run.
        journal_size: how many calls the journal keeps.
        deny_assume: role ARNs STS refuses to let anyone assume; every other role of the test
            account may be assumed.
        requests_per_minute: each (region, model ID) key's requests quota; None for none.
        tokens_per_minute: each key's tokens quota; None for none.
        quota_burst: seconds' worth of each quota usable at once.
        max_output_tokens: what a call without ``maxTokens`` reserves.
    """

    host: str
    port: int
    allowed_regions: Iterable[str]
    policy: PolicySource | None
    app_profiles: Mapping[str, str] | None
    latency: float
    jitter: float
    throttle_rate: float
    unavailable_rate: float
    model_error_rate: float
    not_ready_rate: float
    drop_rate: float
    seed: int | None
    journal_size: int
    deny_assume: Iterable[str]
    requests_per_minute: int | None
    tokens_per_minute: int | None
    quota_burst: float
    max_output_tokens: int


@dataclass(frozen=True)
class EmulatorSettings:
    """Everything one emulator is configured with, validated.

    Attributes:
        host: the one address to bind.
        port: the port, or 0 for a free one.
        allowed_regions: the ``--allow-region`` shortcut's regions.
        policy: the ``--policy`` document, added to the shortcut's grants; None for none.
        app_profiles: declared application inference profiles, name to model ID.
        faults: the faults injected from the start.
        seed: the seed of the fault draws; None for a different sequence on every run.
        journal_size: how many calls the journal keeps.
        denied_roles: role ARNs STS refuses to let anyone assume (``--deny-assume``).
        quotas: the per-model requests and tokens per minute.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allowed_regions: frozenset[str] = frozenset()
    policy: PolicyDocument | None = None
    app_profiles: Mapping[str, str] = field(default_factory=dict)
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int | None = None
    journal_size: int = DEFAULT_JOURNAL_SIZE
    denied_roles: frozenset[str] = frozenset()
    quotas: QuotaSettings = field(default_factory=QuotaSettings)

    @classmethod
    def of(cls, **options: Unpack[EmulatorOptions]) -> EmulatorSettings:
        """Build settings from keyword options, loading the policy and checking every value.

        Raises:
            TypeError: an option that does not exist (a typo), as for any keyword argument.
            ConfigurationError: an option cannot be used; the message says which and why.
        """
        unknown = sorted(set(options) - EmulatorOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"unknown emulator option {', '.join(unknown)}")
        faults = FaultSettings(
            throttle_rate=options.get("throttle_rate", 0.0),
            unavailable_rate=options.get("unavailable_rate", 0.0),
            model_error_rate=options.get("model_error_rate", 0.0),
            not_ready_rate=options.get("not_ready_rate", 0.0),
            drop_rate=options.get("drop_rate", 0.0),
            latency=options.get("latency", 0.0),
            jitter=options.get("jitter", 0.0),
        )
        return cls(
            host=options.get("host", DEFAULT_HOST),
            port=options.get("port", DEFAULT_PORT),
            allowed_regions=frozenset(options.get("allowed_regions", ())),
            policy=load_policy(options.get("policy")),
            app_profiles=dict(options.get("app_profiles") or {}),
            faults=faults,
            seed=options.get("seed"),
            journal_size=options.get("journal_size", DEFAULT_JOURNAL_SIZE),
            denied_roles=frozenset(options.get("deny_assume", ())),
            quotas=QuotaSettings(
                requests_per_minute=options.get("requests_per_minute"),
                tokens_per_minute=options.get("tokens_per_minute"),
                burst_seconds=options.get("quota_burst", DEFAULT_BURST_SECONDS),
                max_output_tokens=options.get("max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS),
            ),
        )

    def document(self) -> PolicyDocument:
        """Return the effective policy: the shortcut's grants plus the policy file's statements."""
        shortcut = RegionPolicy.of(self.allowed_regions).document()
        return shortcut if self.policy is None else shortcut + self.policy


def build_service(settings: EmulatorSettings, journal: Journal | None = None) -> BedrockService:
    """Assemble the handler: profiles, policy, quotas, fault injector, journal and STS trust.

    Raises:
        ConfigurationError: an application profile names a model the catalogue does not have.
    """
    profiles = ProfileRegistry(settings.app_profiles)
    return BedrockService(
        policy=AccessPolicy(
            settings.document(), profiles, allowed_regions=settings.allowed_regions
        ),
        journal=journal if journal is not None else Journal(settings.journal_size),
        faults=FaultInjector(settings.faults, seed=settings.seed),
        profiles=profiles,
        denied_roles=settings.denied_roles,
        quotas=QuotaBook(settings.quotas),
    )
