"""Worker settings, read once from the environment at the process edge.

Only ``BATON_*`` variables configure a worker. The worker's own ``AWS_*`` defaults are never used
to pick a region, an endpoint or a model: those come from each job's envelope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from envelope import is_region
from envelope.transport import FleetConnection
from workers.delivery import DEFAULT_LOCK_TTL_SECONDS, VISIBILITY_TIMEOUT

#: botocore keeps 10 connections per client by default; a threads pool needs one per slot.
DEFAULT_MIN_POOL_CONNECTIONS = 10

#: How many distinct client configurations one process keeps before evicting the oldest.
DEFAULT_CLIENT_CACHE_SIZE = 64


class WorkerSettings(FleetConnection, BaseSettings):
    """Everything a worker process needs to know before it takes its first job."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore", frozen=True)

    allowed_regions: Annotated[tuple[str, ...], NoDecode] = ()
    allowed_endpoints: Annotated[tuple[str, ...], NoDecode] = ()
    include: Annotated[tuple[str, ...], NoDecode] = ()
    concurrency: int = Field(default=1, ge=1)
    client_cache_size: int = Field(default=DEFAULT_CLIENT_CACHE_SIZE, ge=1)
    debug: bool = False
    agents_dir: Path | None = None
    soft_shutdown_timeout: float = Field(default=0.0, ge=0)
    seal_key: SecretStr | None = None
    visibility_timeout: float = Field(default=VISIBILITY_TIMEOUT, gt=0)
    job_lock_ttl: float = Field(default=DEFAULT_LOCK_TTL_SECONDS, ge=1)

    @field_validator("allowed_regions", "allowed_endpoints", "include", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_regions")
    @classmethod
    def _check_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [region for region in value if not is_region(region)]
        if bad:
            raise ValueError(f"BATON_ALLOWED_REGIONS has non-region entries: {', '.join(bad)}")
        return value

    @property
    def max_pool_connections(self) -> int:
        """Connections per client: at least one per concurrent task slot."""
        return max(self.concurrency, DEFAULT_MIN_POOL_CONNECTIONS)
