"""Producer settings, read once at the parent's edge."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from envelope import (
    DEFAULT_MAX_CHILDREN,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_TURNS,
    DEFAULT_TTL_SECONDS,
    MAX_CHILDREN,
    MAX_DEPTH,
    MAX_ENVELOPE_TTL_SECONDS,
    MAX_JOBS,
    MAX_TURNS,
    MIN_ENVELOPE_TTL_SECONDS,
)
from fleet import FleetConnection

#: How long a discovery answer is trusted before asking again.
DEFAULT_DISCOVERY_TTL_SECONDS = 3600.0


class ProducerSettings(FleetConnection, BaseSettings):
    """Where the parent enqueues, how it signs, and the limits it gives its tree."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore", frozen=True)

    envelope_ttl: int = Field(
        default=DEFAULT_TTL_SECONDS, ge=MIN_ENVELOPE_TTL_SECONDS, le=MAX_ENVELOPE_TTL_SECONDS
    )
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0, le=MAX_DEPTH)
    max_children: int = Field(default=DEFAULT_MAX_CHILDREN, ge=0, le=MAX_CHILDREN)
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, le=MAX_TURNS)
    max_jobs: int = Field(default=DEFAULT_MAX_JOBS, ge=0, le=MAX_JOBS)
    discovery: bool = True
    discovery_ttl: float = Field(default=DEFAULT_DISCOVERY_TTL_SECONDS, ge=0)
    cache_dir: Path | None = None
    identity: Literal["ambient", "profile", "assume_role", "sealed"] = "ambient"
    identity_profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    seal_key: SecretStr | None = None
