"""Worker settings, read once from the environment at the process edge.

Only ``BATON_*`` variables configure a worker. The worker's own ``AWS_*`` defaults are never used
to pick a region, an endpoint or a model: those come from each job's envelope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from envelope import SealKeyInvalid, decode_seal_key, is_region
from fleet import ENV_PREFIX, FleetConnection, QuotaTable, settings_problem
from workers.allowlist import EndpointAllowlist
from workers.ceilings import (
    DEFAULT_MAX_CHILDREN,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_ENVELOPE_LIFETIME,
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_TURNS,
)
from workers.delivery.guard import DEFAULT_LOCK_TTL_SECONDS, VISIBILITY_TIMEOUT
from workers.remote import RemoteControl
from workers.remote import parse as parse_remote_control

#: botocore keeps 10 connections per client by default; a threads pool needs one per slot.
DEFAULT_MIN_POOL_CONNECTIONS = 10

#: How many distinct client configurations one process keeps before evicting the oldest.
DEFAULT_CLIENT_CACHE_SIZE = 64

#: URL settings a fallback keeps as written when they are bad, so that a parent's publish on
#: ``workers.app`` fails loudly instead of going to the default broker.
_KEPT_AS_WRITTEN = ("broker_url", "result_backend")


class WorkerSettings(FleetConnection, BaseSettings):
    """Everything a worker process needs to know before it takes its first job."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    allowed_regions: Annotated[tuple[str, ...], NoDecode] = ()
    allowed_endpoints: Annotated[tuple[str, ...], NoDecode] = ()
    include: Annotated[tuple[str, ...], NoDecode] = ()
    concurrency: int = Field(default=1, ge=1)
    client_cache_size: int = Field(default=DEFAULT_CLIENT_CACHE_SIZE, ge=1)
    debug: bool = False
    agents_dir: Path | None = None
    soft_shutdown_timeout: float = Field(default=0.0, ge=0)
    seal_key: SecretStr | None = None
    visibility_timeout: float = Field(default=VISIBILITY_TIMEOUT, ge=1)
    job_lock_ttl: float = Field(default=DEFAULT_LOCK_TTL_SECONDS, ge=1)
    remote_control: RemoteControl = "off"
    worker_max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0)
    worker_max_children: int = Field(default=DEFAULT_MAX_CHILDREN, ge=0)
    worker_max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1)
    worker_max_jobs: int = Field(default=DEFAULT_MAX_JOBS, ge=1)
    max_envelope_lifetime: int = Field(default=DEFAULT_MAX_ENVELOPE_LIFETIME, ge=10)
    bedrock_quotas: str | None = None
    bedrock_pacing: bool = True

    @field_validator("allowed_regions", "allowed_endpoints", "include", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("remote_control", mode="before")
    @classmethod
    def _parse_remote_control(cls, value: object) -> RemoteControl:
        return parse_remote_control(value)

    @field_validator("allowed_regions")
    @classmethod
    def _check_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [region for region in value if not is_region(region)]
        if bad:
            raise ValueError(
                f"not AWS region names: {', '.join(map(repr, bad))}; list regions such as "
                "eu-west-1,eu-central-1"
            )
        return value

    @field_validator("allowed_endpoints")
    @classmethod
    def _check_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        EndpointAllowlist.parse(value)  # its ValueError names the entry and the fix
        return value

    @field_validator("seal_key")
    @classmethod
    def _check_seal_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            decode_seal_key(value.get_secret_value())
        except SealKeyInvalid as exc:
            # settings_problem names the variable itself
            raise ValueError(str(exc).removeprefix("BATON_SEAL_KEY ")) from None
        return value

    @field_validator("bedrock_quotas")
    @classmethod
    def _check_quotas(cls, value: str | None) -> str | None:
        QuotaTable.parse(value)  # its QuotaConfigInvalid (a ValueError) names the entry and fix
        return value

    @property
    def quota_table(self) -> QuotaTable:
        """The Bedrock quotas operators configured (``BATON_BEDROCK_QUOTAS``), parsed."""
        return QuotaTable.parse(self.bedrock_quotas)

    @property
    def max_pool_connections(self) -> int:
        """Connections per client: at least one per concurrent task slot."""
        return max(self.concurrency, DEFAULT_MIN_POOL_CONNECTIONS)


def settings_from_env() -> tuple[WorkerSettings, str | None]:
    """Read the worker's settings from the environment, never raising for a bad variable.

    ``workers`` builds its app when imported, and a parent imports it too (to publish tasks
    defined on ``workers.app``): a worker-only mistake in the parent's environment, such as
    ``BATON_CONCURRENCY=0``, must not stop it. So a bad field falls back to its default (a bad
    URL is kept as written, so that using it fails rather than reaching the default broker),
    and the one-line problem is returned beside the settings; a worker of the app refuses to
    start with it, before Celery reads the broker URL (``workers.celery_app.BatonWorker``).

    Returns:
        The settings and None, or the fallback settings and what is wrong with the environment.
    """
    try:
        return WorkerSettings(), None
    except ValidationError as exc:
        problem = settings_problem(exc)
        bad = {str(error["loc"][0]): error.get("input") for error in exc.errors() if error["loc"]}
    fields = WorkerSettings.model_fields
    defaults = {
        name: fields[name].get_default(call_default_factory=True) for name in bad if name in fields
    }
    try:
        fallback = WorkerSettings(**defaults)
    except ValidationError:  # a model-level problem: no field to put back
        fallback = WorkerSettings.model_validate({})
    kept = {name: bad[name] for name in _KEPT_AS_WRITTEN if isinstance(bad.get(name), str)}
    return fallback.model_copy(update=kept), problem
