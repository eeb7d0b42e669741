"""Where parents and workers meet: the broker, the result backend, the keys, the Celery settings.

Both sides' settings classes inherit ``FleetConnection``, so a parent and a worker given the same
environment agree on every one of these by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr, model_validator

from envelope.codec import Keyring
from envelope.model import BedrockEnvelope, parse_insecure_endpoints
from envelope.routing import EnvelopeRouter

#: A local Redis, db 0: the quick start's broker.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: Results live beside the broker, in the next database, so a purge of one spares the other.
DEFAULT_RESULT_DB = 1


def default_result_backend(broker_url: str) -> str:
    """Return the result backend to use when ``BATON_RESULT_BACKEND`` is unset.

    A Redis broker keeps results in the same server, db 1; any other broker falls back to the
    default local Redis, db 1.
    """
    parts = urlsplit(broker_url)
    if parts.scheme not in ("redis", "rediss"):
        parts = urlsplit(DEFAULT_BROKER_URL)
    return urlunsplit(parts._replace(path=f"/{DEFAULT_RESULT_DB}"))


class FleetConnection(BaseModel):
    """The settings every parent and worker of one fleet must share (``BATON_*``)."""

    broker_url: str = DEFAULT_BROKER_URL
    result_backend: str | None = None
    envelope_key: SecretStr | None = None
    envelope_keys: SecretStr | None = None
    allow_insecure_endpoints: str = ""

    @property
    def insecure_endpoints(self) -> frozenset[str]:
        """``host:port`` pairs where plain http is accepted (``BATON_ALLOW_INSECURE_ENDPOINTS``).

        For local fleets such as docker compose, where the emulator is ``http://emulator:8750``.
        """
        return parse_insecure_endpoints(self.allow_insecure_endpoints)

    @model_validator(mode="after")
    def _default_backend(self) -> FleetConnection:
        if self.result_backend is None:
            object.__setattr__(self, "result_backend", default_result_backend(self.broker_url))
        return self

    def keyring(self) -> Keyring:
        """Return the envelope keys; raise EnvelopeKeyError when none are configured."""
        return Keyring.from_env_values(
            key=self.envelope_key.get_secret_value() if self.envelope_key else None,
            keys=self.envelope_keys.get_secret_value() if self.envelope_keys else None,
        )


#: Celery's result backend retries a read or write that lost its connection (it does not by
#: default: a job whose result store lost its connection was lost after Bedrock had answered).
#: Up to 20 times, each after a random wait of up to 20 ms, 40 ms ... and at most 2 s: about
#: 14 s in all on average, 29 s at most. Connections time out, so an unreachable Redis (5 s to
#: connect) or a half-open one (30 s to answer) raises, and is retried, rather than hanging.
BACKEND_RETRY_SETTINGS: dict[str, Any] = {
    "result_backend_always_retry": True,
    "result_backend_max_retries": 20,
    "result_backend_base_sleep_between_retries_ms": 10,
    "result_backend_max_sleep_between_retries_ms": 2000,
    "redis_socket_connect_timeout": 5.0,
    "redis_socket_timeout": 30.0,
    "redis_socket_keepalive": True,
}


#: Broker transport options both sides use. RabbitMQ confirms every publish: without it, a publish
#: whose connection the broker closes a moment later is lost without an error (a chord's callback
#: among them, and with it a whole job tree). Redis ignores it.
PUBLISH_OPTIONS: dict[str, Any] = {"confirm_publish": True}


def celery_settings(*, current: Callable[[], BedrockEnvelope | None]) -> dict[str, Any]:
    """Return the Celery settings both sides use: JSON only, routing by envelope region (a
    message with no envelope is refused at publish, so no default queue collects it), and
    backend calls that survive a dropped connection."""
    return {
        **BACKEND_RETRY_SETTINGS,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_routes": (EnvelopeRouter(current=current),),
        "broker_connection_retry_on_startup": True,
    }
