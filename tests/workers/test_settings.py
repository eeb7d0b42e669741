"""The worker's settings: each bad variable in one line; ``import workers`` survives them."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from fleet import DEFAULT_BROKER_URL, settings_problem
from tests.conftest import clean_env
from workers import WorkerSettings
from workers.settings import DEFAULT_CLIENT_CACHE_SIZE, settings_from_env

SEAL_KEY = base64.urlsafe_b64encode(b"s" * 32).decode()


@pytest.fixture(autouse=True)
def _no_baton_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("BATON_ALLOWED_REGIONS", "bogus", "BATON_ALLOWED_REGIONS: not AWS region names: 'bogus'"),
        ("BATON_CONCURRENCY", "0", "BATON_CONCURRENCY: must be >= 1 (got 0)"),
        ("BATON_CLIENT_CACHE_SIZE", "abc", "BATON_CLIENT_CACHE_SIZE: must be a whole number"),
        ("BATON_ALLOWED_ENDPOINTS", "https://h:99999", "BATON_ALLOWED_ENDPOINTS: "),
        ("BATON_SEAL_KEY", "c2hvcnQ", "BATON_SEAL_KEY: must be 32 random bytes"),
        ("BATON_SEAL_KEY", "not base64!", "BATON_SEAL_KEY: is not base64url"),
        ("BATON_BROKER_URL", "notaurl", "BATON_BROKER_URL: must be a URL"),
        ("BATON_BEDROCK_QUOTAS", "{oops", "BATON_BEDROCK_QUOTAS: is not valid JSON"),
        (
            "BATON_BEDROCK_QUOTAS",
            '{"*": {"rpm": 60}}',
            "BATON_BEDROCK_QUOTAS: entry '*': unknown field rpm",
        ),
        ("BATON_BEDROCK_QUOTAS", "/no/quotas.json", "BATON_BEDROCK_QUOTAS: is neither a JSON"),
        ("BATON_REMOTE_CONTROL", "maybe", "BATON_REMOTE_CONTROL: 'maybe' is no remote control"),
    ],
)
def test_a_bad_worker_variable_is_one_line_naming_it(monkeypatch, variable, value, line):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        WorkerSettings()
    problem = settings_problem(refused.value)
    assert problem.startswith(line)
    assert "\n" not in problem


def test_an_allowed_endpoint_with_a_bad_port_names_the_entry(monkeypatch):
    monkeypatch.setenv("BATON_ALLOWED_ENDPOINTS", "https://ok.example,https://h:99999")
    with pytest.raises(ValidationError) as refused:
        WorkerSettings()
    assert "99999" in settings_problem(refused.value)


def test_a_good_seal_key_is_accepted(monkeypatch):
    monkeypatch.setenv("BATON_SEAL_KEY", SEAL_KEY)
    assert WorkerSettings().seal_key is not None


def test_settings_from_env_reports_nothing_for_a_good_environment(monkeypatch):
    monkeypatch.setenv("BATON_CONCURRENCY", "4")
    settings, problem = settings_from_env()
    assert (settings.concurrency, problem) == (4, None)


def test_settings_from_env_puts_a_bad_worker_field_back_to_its_default_and_says_why(monkeypatch):
    monkeypatch.setenv("BATON_CONCURRENCY", "0")
    monkeypatch.setenv("BATON_CLIENT_CACHE_SIZE", "abc")
    monkeypatch.setenv("BATON_BROKER_URL", "redis://good:6379/0")
    settings, problem = settings_from_env()
    assert settings.concurrency == 1
    assert settings.client_cache_size == DEFAULT_CLIENT_CACHE_SIZE
    assert settings.broker_url == "redis://good:6379/0"  # the good fields are kept
    assert problem is not None
    assert "BATON_CONCURRENCY: must be >= 1 (got 0)" in problem
    assert "BATON_CLIENT_CACHE_SIZE: must be a whole number (got abc)" in problem


@pytest.mark.parametrize("url", ["notaurl", "redis://:99999"])
def test_settings_from_env_keeps_a_bad_broker_url_as_written_never_the_default(monkeypatch, url):
    monkeypatch.setenv("BATON_BROKER_URL", url)
    settings, problem = settings_from_env()
    assert settings.broker_url == url != DEFAULT_BROKER_URL
    assert problem is not None and problem.startswith("BATON_BROKER_URL: ")


@pytest.mark.integration  # a fresh interpreter each, about a second
@pytest.mark.parametrize(
    ("variable", "value"),
    [("BATON_CONCURRENCY", "0"), ("BATON_ALLOWED_REGIONS", "bogus"), ("BATON_SEAL_KEY", "abc")],
)
def test_a_parent_imports_workers_even_when_worker_only_settings_are_bad(variable, value):
    code = "import workers; print(workers.app.baton_settings_problem)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{variable}: ")


def test_repr_and_str_of_worker_settings_never_show_the_broker_password():
    settings = WorkerSettings(
        broker_url="redis://:hunter2@redis:6379/0", result_backend="redis://u:hunter3@r:6379/1"
    )
    for text in (repr(settings), str(settings)):
        assert "hunter2" not in text and "hunter3" not in text
        assert "redis://:***@redis:6379/0" in text and "redis://u:***@r:6379/1" in text
