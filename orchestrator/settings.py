"""Producer settings, read once at the parent's edge."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from envelope import DEFAULT_BROKER_URL, Keyring, default_result_backend
from envelope.model import (
    DEFAULT_MAX_CHILDREN,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_TURNS,
    DEFAULT_TTL_SECONDS,
)


class ProducerSettings(BaseSettings):
    """Where the parent enqueues, how it signs, and the limits it gives its tree."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore", frozen=True)

    broker_url: str = DEFAULT_BROKER_URL
    result_backend: str | None = None
    envelope_key: SecretStr | None = None
    envelope_keys: SecretStr | None = None
    envelope_ttl: int = Field(default=DEFAULT_TTL_SECONDS, ge=10, le=7 * 24 * 3600)
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0, le=16)
    max_children: int = Field(default=DEFAULT_MAX_CHILDREN, ge=0, le=64)
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, le=64)
    max_jobs: int = Field(default=DEFAULT_MAX_JOBS, ge=0, le=10_000)

    @model_validator(mode="after")
    def _default_backend(self) -> ProducerSettings:
        if self.result_backend is None:
            object.__setattr__(self, "result_backend", default_result_backend(self.broker_url))
        return self

    def keyring(self) -> Keyring:
        """Return the signing keys; raise EnvelopeKeyError when none are configured."""
        return Keyring.from_env_values(
            key=self.envelope_key.get_secret_value() if self.envelope_key else None,
            keys=self.envelope_keys.get_secret_value() if self.envelope_keys else None,
        )
