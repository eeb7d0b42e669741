"""The ``baton`` command as a user meets it: help, one-line errors, exit codes, the demo."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clean_env

COMMANDS = ["run", "worker", "emulator", "demo", "doctor", "iam-policy", "status", "dead-letters"]


def baton(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_top_level_help_lists_every_command():
    result = baton("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    result = baton(command, "--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout


def test_run_without_any_region_is_one_clear_line_and_exit_2():
    result = baton("run", "--prompt", "hi", env=clean_env(BATON_ENVELOPE_KEY="k" * 32))
    assert result.returncode == 2
    assert "RegionNotConfigured" in result.stderr
    assert "never falls back to us-east-1" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_an_invalid_cross_region_value_is_refused():
    env = clean_env(
        BATON_ENVELOPE_KEY="k" * 32,
        AWS_REGION="eu-west-1",
        AWS_BEDROCK_CROSS_REGION_INFERENCE="maybe",
    )
    result = baton("run", "--prompt", "hi", env=env)
    assert result.returncode == 2
    assert "AWS_BEDROCK_CROSS_REGION_INFERENCE" in result.stderr


def test_worker_without_an_envelope_key_refuses_to_start():
    result = baton("worker", "--region", "eu-west-1")
    assert result.returncode == 2
    assert "BATON_ENVELOPE_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("flags", "env", "named", "why"),
    [
        (["--include", "no_such_module_here"], {}, "no_such_module_here", "ModuleNotFoundError"),
        ([], {"BATON_INCLUDE": "tests.baton.broken_tasks"}, "broken_tasks", "RuntimeError"),
    ],
    ids=["flag-missing-module", "env-module-that-raises"],
)
def test_worker_include_of_a_module_that_does_not_import_is_one_line_and_exit_2(
    flags, env, named, why
):
    result = baton(
        "worker", "--region", "eu-west-1", *flags, env=clean_env(BATON_ENVELOPE_KEY="k" * 32, **env)
    )
    assert result.returncode == 2
    assert named in result.stderr and why in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "queues", "message"),
    [
        ({}, "baton.eu-west-1", "BATON_ENVELOPE_KEY is not set"),
        ({"BATON_ENVELOPE_KEY": "k" * 32}, "celery", "consumes no baton.<region> queue"),
    ],
    ids=["no-key", "no-region-queue"],
)
def test_plain_celery_worker_refuses_to_start_when_misconfigured(env, queues, message, redis_urls):
    full_env = clean_env(BATON_BROKER_URL=redis_urls[0], BATON_RESULT_BACKEND=redis_urls[1], **env)
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", queues, "-P", "solo"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("region", "wrong"), [("eu-west-1", "us-east-1"), ("us-east-1", "us-west-2")]
)
def test_demo_shows_the_403_its_diagnosis_then_the_inherited_success(region, wrong):
    result = baton("demo", "--region", region, timeout=120)
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "403 AccessDeniedException" in out
    assert f"the call went to {wrong}, not {region}" in out
    assert f'"arn:aws:bedrock:{region}:111122223333:inference-profile/' in result.stdout
    assert result.stdout.count("ok job") == 2


@pytest.mark.integration
def test_run_json_from_a_worker_with_wrong_defaults(
    start_emulator, start_worker, envelope_key, redis_urls
):
    real, decoy = start_emulator("eu-west-1"), start_emulator("us-east-1")
    start_worker(
        "eu-west-1",
        env={
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": decoy.url,
            "AWS_BEARER_TOKEN_BEDROCK": "ambient",
        },
    )
    env = clean_env(
        BATON_ENVELOPE_KEY=envelope_key,
        BATON_BROKER_URL=redis_urls[0],
        BATON_RESULT_BACKEND=redis_urls[1],
        AWS_REGION="eu-west-1",
        AWS_BEDROCK_ENDPOINT=real.url,
    )

    ok = baton("run", "--json", "--prompt", "one", "--prompt", "two", "--timeout", "60", env=env)
    failed = baton(
        "run", "--json", "--agent", "nobody", "--prompt", "x", "--timeout", "60", env=env
    )

    assert ok.returncode == 0, ok.stderr + ok.stdout
    results = json.loads(ok.stdout)
    assert [r["region"] for r in results] == ["eu-west-1", "eu-west-1"]
    assert {r["model_id"] for r in results} == {"eu.anthropic.claude-sonnet-4-20250514-v1:0"}
    assert failed.returncode == 1
    assert json.loads(failed.stdout)[0]["error"]["type"] == "UnknownAgent"
    assert decoy.calls() == []
