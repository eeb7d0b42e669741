"""Options are validated when an emulator is built, before any socket is opened."""

from __future__ import annotations

import pytest

from emulator import ConfigurationError, Emulator
from emulator.iam import Decision, PolicyDocument
from emulator.settings import EmulatorSettings

FM = "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"
ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]}


def test_defaults_allow_nothing_and_inject_nothing():
    settings = EmulatorSettings.of()

    assert settings.host == "127.0.0.1"
    assert settings.port == 0
    assert settings.faults.total_rate == 0
    assert settings.document().evaluate("bedrock:InvokeModel", FM, {}) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    "policy", [ALLOW_ALL, PolicyDocument.from_json(ALLOW_ALL), "path"], ids=["json", "doc", "path"]
)
def test_a_policy_may_be_a_json_value_a_document_or_a_path(policy, tmp_path):
    if policy == "path":
        policy = tmp_path / "p.json"
        policy.write_text('{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}')

    settings = EmulatorSettings.of(policy=policy)

    assert settings.document().evaluate("bedrock:InvokeModel", FM, {}) is Decision.ALLOW


def test_the_policy_file_adds_to_the_region_shortcut():
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": FM}]}

    settings = EmulatorSettings.of(allowed_regions=["eu-west-1"], policy=deny)

    assert settings.document().evaluate("bedrock:InvokeModel", FM, {}) is Decision.EXPLICIT_DENY
    assert len(settings.document().statements) == 3


def test_fault_options_are_gathered_into_fault_settings():
    settings = EmulatorSettings.of(latency=0.2, jitter=0.1, throttle_rate=0.25, seed=4)

    assert (settings.faults.latency, settings.faults.jitter) == (0.2, 0.1)
    assert settings.faults.throttle_rate == 0.25
    assert settings.seed == 4


def test_a_misspelt_option_is_a_type_error():
    with pytest.raises(TypeError, match="unknown emulator option throtle_rate"):
        Emulator(throtle_rate=0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "options",
    [
        {"policy": {"Statement": [{"Effect": "Allow"}]}},
        {"app_profiles": {"x": "no.such.model"}},
        {"drop_rate": 2.0},
    ],
)
def test_a_bad_option_fails_when_the_emulator_is_built_not_when_it_starts(options):
    with pytest.raises(ConfigurationError):
        Emulator(**options)
