"""The parent's settings: bounded limits, named in one line when wrong, no password in repr."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from envelope import (
    MAX_CHILDREN,
    MAX_DEPTH,
    MAX_ENVELOPE_TTL_SECONDS,
    MAX_JOBS,
    MAX_TURNS,
    MIN_ENVELOPE_TTL_SECONDS,
    Limits,
)
from fleet import settings_problem
from orchestrator import ProducerSettings

BOUNDS = [
    ("BATON_MAX_DEPTH", 0, MAX_DEPTH),
    ("BATON_MAX_CHILDREN", 0, MAX_CHILDREN),
    ("BATON_MAX_TURNS", 1, MAX_TURNS),
    ("BATON_MAX_JOBS", 0, MAX_JOBS),
    ("BATON_ENVELOPE_TTL", MIN_ENVELOPE_TTL_SECONDS, MAX_ENVELOPE_TTL_SECONDS),
]


@pytest.fixture(autouse=True)
def _no_baton_environment(monkeypatch):
    for name in ("BATON_BROKER_URL", "BATON_RESULT_BACKEND", "BATON_IDENTITY"):
        monkeypatch.delenv(name, raising=False)
    for name, _, _ in BOUNDS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("variable", "low", "high"), BOUNDS)
def test_each_limit_accepts_its_bounds_and_names_itself_one_step_outside(
    monkeypatch, variable, low, high
):
    field = variable.removeprefix("BATON_").lower()
    for value in (low, high):
        monkeypatch.setenv(variable, str(value))
        assert getattr(ProducerSettings(), field) == value
    for value, says in ((low - 1, f"must be >= {low}"), (high + 1, f"must be <= {high}")):
        monkeypatch.setenv(variable, str(value))
        with pytest.raises(ValidationError) as refused:
            ProducerSettings()
        assert settings_problem(refused.value) == f"{variable}: {says} (got {value})"


def test_the_parent_maxima_fit_in_an_envelope():
    Limits(max_depth=MAX_DEPTH, max_children=MAX_CHILDREN, max_turns=MAX_TURNS, max_jobs=MAX_JOBS)


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("BATON_MAX_CHILDREN", "100000", f"BATON_MAX_CHILDREN: must be <= {MAX_CHILDREN}"),
        ("BATON_MAX_DEPTH", "-1", "BATON_MAX_DEPTH: must be >= 0 (got -1)"),
        ("BATON_ENVELOPE_TTL", "abc", "BATON_ENVELOPE_TTL: must be a whole number (got abc)"),
        ("BATON_IDENTITY", "bogus", "BATON_IDENTITY: must be one of 'ambient', 'profile'"),
        ("BATON_BROKER_URL", "redis://:99999", "BATON_BROKER_URL: must be a URL"),
    ],
)
def test_a_bad_parent_variable_is_one_line_naming_it(monkeypatch, variable, value, line):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        ProducerSettings()
    assert settings_problem(refused.value).startswith(line)


def test_repr_and_str_of_producer_settings_never_show_the_broker_password():
    settings = ProducerSettings(
        broker_url="amqp://baton:hunter2@rabbitmq:5672//",
        result_backend="redis://:hunter3@redis:6379/1",
    )
    for text in (repr(settings), str(settings)):
        assert "hunter2" not in text and "hunter3" not in text
        assert "amqp://baton:***@rabbitmq:5672//" in text
