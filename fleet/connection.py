"""Where parents and workers meet: the broker, the result backend, the keys, the Celery settings.

Both sides' settings classes inherit ``FleetConnection``, so a parent and a worker given the same
environment agree on every one of these by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from envelope import BedrockEnvelope, Keyring, parse_insecure_endpoints
from fleet.routing import EnvelopeRouter

#: A local Redis, db 0: the quick start's broker.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: Results live beside the broker, in the next database, so a purge of one spares the other.
DEFAULT_RESULT_DB = 1

#: Every setting of a parent or a worker is read from a variable with this prefix.
ENV_PREFIX = "BATON_"

#: What a broker or result-backend URL starts with: ``redis://``, ``amqp://``, ``db+sqlite://``.
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

#: A rejected value shown as it is, unquoted: ``(got 0)``; anything else is quoted.
_PLAIN = re.compile(r"[\w.:/@*+-]+")

#: A rejected value is quoted in an error message up to this many characters.
_SHOWN_INPUT_CHARS = 80

#: Settings shown with their passwords hidden by ``repr`` and ``str``.
_URL_FIELDS = ("broker_url", "result_backend")

#: Fields whose rejected value is never quoted: it may be a secret.
_SECRET_FIELD_WORDS = ("key", "secret", "password", "token")


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for repr, logs and error messages.

    Each of Celery's ``;``-separated failover URLs is redacted. Everything between ``://`` and
    the last ``@`` but the user name is hidden: a password with an unescaped ``/`` or ``@`` in it
    is hidden too, at the cost of a garbled display of a URL that was wrong anyway.
    """
    return ";".join(_redact_one(part) for part in url.split(";"))


def _redact_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def check_service_url(url: str) -> str:
    """Return ``url`` if each of its ``;``-separated URLs is ``scheme://...`` with a valid port.

    Raises:
        ValueError: saying what a broker or result-backend URL looks like.
    """
    for part in url.split(";"):
        try:
            ok = _URL_SCHEME.match(part) is not None
            urlsplit(part).port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                "must be a URL of the form scheme://[user:password@]host[:port][/db-or-vhost] "
                f"with a port from 0 to 65535, such as {DEFAULT_BROKER_URL} or "
                "amqp://user:password@rabbitmq:5672//"
            )
    return url


def _shown(error: ErrorDetails) -> str:
    """Quote a rejected value for the message, unless its field may hold a secret."""
    field = str(error["loc"][0]) if error["loc"] else ""
    value = error.get("input")
    if any(word in field for word in _SECRET_FIELD_WORDS) or not isinstance(
        value, (str, int, float)
    ):
        return ""
    text = redact_url(value) if isinstance(value, str) else str(value)
    if len(text) > _SHOWN_INPUT_CHARS:
        text = text[:_SHOWN_INPUT_CHARS] + "..."
    return f" (got {text})" if _PLAIN.fullmatch(text) else f" (got {text!r})"


def _problem(error: ErrorDetails, *, env_prefix: str, title: str) -> str:
    """One problem as ``BATON_CONCURRENCY: must be >= 1 (got 0)``."""
    ctx = error.get("ctx") or {}
    kind = error["type"]
    phrases = {
        "greater_than_equal": f"must be >= {ctx.get('ge')}",
        "greater_than": f"must be > {ctx.get('gt')}",
        "less_than_equal": f"must be <= {ctx.get('le')}",
        "less_than": f"must be < {ctx.get('lt')}",
        "int_parsing": "must be a whole number",
        "float_parsing": "must be a number",
        "bool_parsing": "must be true or false (or 1/0, yes/no, on/off)",
        "literal_error": f"must be one of {ctx.get('expected')}",
        "value_error": str(ctx.get("error", error["msg"])),
    }
    message = phrases.get(kind, error["msg"][:1].lower() + error["msg"][1:])
    field = ".".join(str(part) for part in error["loc"])
    name = f"{env_prefix}{field.upper()}" if field else title
    return f"{name}: {message}{_shown(error)}"


def settings_problem(exc: ValidationError, *, env_prefix: str = ENV_PREFIX) -> str:
    """Return one line naming every bad variable in ``exc``, e.g.
    ``BATON_CONCURRENCY: must be >= 1 (got 0)``; never a password or a key.

    The single place a settings ``ValidationError`` becomes what the operator reads: the CLI
    prints it and exits 2, a plain ``celery -A workers worker`` logs it and exits 2.
    """
    errors = exc.errors(include_url=False)
    line = "; ".join(_problem(e, env_prefix=env_prefix, title=exc.title) for e in errors)
    return " ".join(line.split())  # one line, whatever a validator's message held


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

    @field_validator("broker_url", "result_backend")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else check_service_url(value)

    @field_validator("allow_insecure_endpoints")
    @classmethod
    def _check_insecure_endpoints(cls, value: str) -> str:
        parse_insecure_endpoints(value)  # a bad entry is an error at start, not at first use
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in _URL_FIELDS and isinstance(value, str):
                yield name, redact_url(value)
            else:
                yield name, value

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
#: among them, and with it a whole job tree). Redis ignores it. A worker's monitoring events go out
#: unconfirmed (``workers.consumer``).
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
