"""The fleet's shared settings: URLs checked, passwords never shown, one line per bad variable."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet import FleetConnection
from fleet.connection import ENV_PREFIX, check_service_url, redact_url, settings_problem

PASSWORD = "s3cr3t-Pa55"


class FleetSettings(FleetConnection, BaseSettings):
    """A settings class as parents and workers declare theirs, with one field of each kind."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    concurrency: int = 1
    ratio: float = 0.5
    debug: bool = False
    seal_key: SecretStr | None = None

    @field_validator("seal_key")
    @classmethod
    def _refuse_any_seal_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raise ValueError("must be 32 random bytes, base64url-encoded")
        return value


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{PASSWORD}@redis:6379/0", "redis://:***@redis:6379/0"),
        (f"amqp://baton:{PASSWORD}@rabbitmq:5672//", "amqp://baton:***@rabbitmq:5672//"),
        (f"rediss://default:{PASSWORD}@r.example:6380/1", "rediss://default:***@r.example:6380/1"),
        (
            f"amqp://u:{PASSWORD}@a:5672//;amqp://u:{PASSWORD}@b:5672//",
            "amqp://u:***@a:5672//;amqp://u:***@b:5672//",
        ),
        (f"redis://:{PASSWORD}/with/slash@h:6379/0", "redis://:***@h:6379/0"),
        (f"redis://:{PASSWORD}@with@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("amqp://guest@rabbitmq//", "amqp://guest@rabbitmq//"),
        ("notaurl", "notaurl"),
    ],
)
def test_redact_url_hides_every_password_and_keeps_the_rest(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "broker_url", [f"redis://:{PASSWORD}@redis:6379/0", f"amqp://baton:{PASSWORD}@rabbitmq//"]
)
def test_repr_and_str_of_fleet_settings_never_show_the_broker_or_backend_password(broker_url):
    settings = FleetConnection(
        broker_url=broker_url, result_backend=f"redis://:{PASSWORD}@results:6379/1"
    )
    for text in (repr(settings), str(settings), f"{settings!r}"):
        assert PASSWORD not in text, text
        assert "***@redis" in text or "***@rabbitmq" in text
        assert "***@results:6379/1" in text
    assert settings.broker_url == broker_url  # only the display is redacted


def test_the_default_backend_derived_from_a_broker_with_a_password_is_redacted_too():
    settings = FleetConnection(broker_url=f"redis://:{PASSWORD}@redis:6379/0")
    assert settings.result_backend == f"redis://:{PASSWORD}@redis:6379/1"
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:pw@r.example:6380/0?ssl_cert_reqs=required",
        "amqp://guest:guest@rabbitmq:5672//",
        "amqp://a:5672//;amqp://b:5672//",
        "sentinel://s1:26379;sentinel://s2:26379",
        "memory://",
        "db+sqlite:///results.db",
    ],
)
def test_a_broker_or_backend_url_celery_understands_is_accepted(url):
    assert check_service_url(url) == url
    assert FleetConnection(broker_url=url, result_backend=url).broker_url == url


@pytest.mark.parametrize(
    "url",
    ["notaurl", "redis://:99999", "redis://h:port/0", "127.0.0.1:6379", "amqp://a//;b:1", ""],
)
def test_a_broker_url_that_is_not_a_url_is_refused_with_what_one_looks_like(url):
    with pytest.raises(ValidationError) as refused:
        FleetConnection(broker_url=url)
    line = settings_problem(refused.value)
    assert line.startswith("BATON_BROKER_URL: must be a URL of the form scheme://")
    assert "redis://127.0.0.1:6379/0" in line


def test_a_refused_url_is_quoted_without_its_password():
    with pytest.raises(ValidationError) as refused:
        FleetConnection(broker_url=f"redis://:{PASSWORD}@h:99999/0")
    line = settings_problem(refused.value)
    assert PASSWORD not in line
    assert "(got redis://:***@h:99999/0)" in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BATON_CONCURRENCY", "abc", "BATON_CONCURRENCY: must be a whole number (got abc)"),
        ("BATON_RATIO", "x", "BATON_RATIO: must be a number (got x)"),
        ("BATON_DEBUG", "maybe", "BATON_DEBUG: must be true or false"),
        ("BATON_RESULT_BACKEND", "nope", "BATON_RESULT_BACKEND: must be a URL"),
    ],
)
def test_settings_problem_names_the_variable_says_what_is_expected_and_quotes_the_value(
    monkeypatch, variable, value, expected
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        FleetSettings()
    assert settings_problem(refused.value).startswith(expected)


def test_settings_problem_puts_every_bad_variable_on_one_line(monkeypatch):
    monkeypatch.setenv("BATON_CONCURRENCY", "abc")
    monkeypatch.setenv("BATON_BROKER_URL", "notaurl")
    with pytest.raises(ValidationError) as refused:
        FleetSettings()
    line = settings_problem(refused.value)
    assert "\n" not in line
    assert line.startswith("BATON_BROKER_URL: must be a URL")
    assert "; BATON_CONCURRENCY: must be a whole number (got abc)" in line


def test_settings_problem_never_quotes_the_value_of_a_key(monkeypatch):
    monkeypatch.setenv("BATON_SEAL_KEY", PASSWORD)
    with pytest.raises(ValidationError) as refused:
        FleetSettings()
    line = settings_problem(refused.value)
    assert line.startswith("BATON_SEAL_KEY: must be 32 random bytes")
    assert PASSWORD not in line
