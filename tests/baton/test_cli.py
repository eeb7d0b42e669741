"""The ``baton`` command as a user meets it: help, one-line errors, exit codes, the demo.

Help is read in-process. Everything else runs ``python -m baton`` (or ``celery -A workers
worker``) as a process, about a second each, so it is marked integration: the quick loop leaves
it to the full suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from baton.cli import main
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
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout


@pytest.mark.parametrize("region", ["eu-wst-1", "eu-west", "EU-WEST-1"])
def test_worker_refuses_a_region_that_is_no_aws_region_name_before_starting(region):
    result = CliRunner().invoke(main, ["worker", "--region", "eu-west-1", "--region", region])
    assert result.exit_code == 2
    assert f"{region!r} is not an AWS region name such as eu-west-1" in result.output


@pytest.mark.integration
def test_run_without_any_region_is_one_clear_line_and_exit_2():
    result = baton("run", "--prompt", "hi", env=clean_env(BATON_ENVELOPE_KEY="k" * 32))
    assert result.returncode == 2
    assert "RegionNotConfigured" in result.stderr
    assert "never falls back to us-east-1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_run_with_an_invalid_cross_region_value_is_refused():
    env = clean_env(
        BATON_ENVELOPE_KEY="k" * 32,
        AWS_REGION="eu-west-1",
        AWS_BEDROCK_CROSS_REGION_INFERENCE="maybe",
    )
    result = baton("run", "--prompt", "hi", env=env)
    assert result.returncode == 2
    assert "AWS_BEDROCK_CROSS_REGION_INFERENCE" in result.stderr


@pytest.mark.integration
def test_worker_without_an_envelope_key_refuses_to_start():
    result = baton("worker", "--region", "eu-west-1")
    assert result.returncode == 2
    assert "BATON_ENVELOPE_KEY is not set" in result.stderr


@pytest.mark.integration
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


@pytest.mark.integration
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


#: A fleet environment that is fine but for the variable under test: a key, a region, no AWS
#: discovery call, and a broker port nothing listens on (a command that got as far as the
#: broker would say so, not name the variable).
GOOD = {
    "BATON_ENVELOPE_KEY": "k" * 32,
    "AWS_REGION": "eu-west-1",
    "BATON_DISCOVERY": "false",
    "BATON_BROKER_URL": "redis://127.0.0.1:1/0",
}

#: Variables every parent command reads (ProducerSettings), each set wrong.
PARENT_VARIABLES = [
    ("BATON_MAX_CHILDREN", "100000"),
    ("BATON_MAX_DEPTH", "-1"),
    ("BATON_ENVELOPE_TTL", "abc"),
    ("BATON_IDENTITY", "bogus"),
    ("BATON_BROKER_URL", "notaurl"),
    ("BATON_BROKER_URL", "redis://:99999"),
]

#: Variables only a worker reads (WorkerSettings), each set wrong, and the fleet's broker URL.
WORKER_VARIABLES = [
    ("BATON_ALLOWED_REGIONS", "bogus"),
    ("BATON_CONCURRENCY", "0"),
    ("BATON_CLIENT_CACHE_SIZE", "abc"),
    ("BATON_ALLOWED_ENDPOINTS", "https://h:99999"),
    ("BATON_SEAL_KEY", "abc"),
    ("BATON_BROKER_URL", "redis://:99999"),
    ("BATON_REMOTE_CONTROL", "maybe"),
]

#: Key lists no parent may sign with nor worker verify with.
BAD_KEY_LISTS = [
    ("BATON_ENVELOPE_KEYS", f"a b:{'k' * 32}"),
    ("BATON_ENVELOPE_KEYS", f"k1:{'k' * 32},k1:{'j' * 32}"),
]

PARENT_COMMANDS = {
    "run": ["run", "--prompt", "hi"],
    "status": ["status", "0" * 32],
    "doctor": ["doctor"],
}
WORKER_COMMANDS = {
    "worker": ["worker", "--region", "eu-west-1", "--pool", "solo"],
    "dead-letters": ["dead-letters", "list"],
}


def _ids(cases):
    return [f"{name}={value[:20]}" for name, value in cases]


def assert_one_line_naming(result, variable):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]


@pytest.mark.integration
@pytest.mark.parametrize("command", PARENT_COMMANDS)
@pytest.mark.parametrize(("variable", "value"), PARENT_VARIABLES, ids=_ids(PARENT_VARIABLES))
def test_a_bad_parent_variable_is_one_line_and_exit_2_for_every_parent_command(
    command, variable, value
):
    result = baton(*PARENT_COMMANDS[command], env=clean_env(**{**GOOD, variable: value}))
    assert_one_line_naming(result, variable)


@pytest.mark.integration
@pytest.mark.parametrize("command", ["run", "worker"])
@pytest.mark.parametrize(("variable", "value"), BAD_KEY_LISTS, ids=["space-in-kid", "kid-twice"])
def test_a_bad_key_list_is_one_line_and_exit_2_where_keys_are_used(command, variable, value):
    args = {**PARENT_COMMANDS, **WORKER_COMMANDS}[command]
    result = baton(*args, env=clean_env(**{**GOOD, variable: value}))
    assert_one_line_naming(result, variable)
    assert "EnvelopeKeyError" in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("command", WORKER_COMMANDS)
@pytest.mark.parametrize(("variable", "value"), WORKER_VARIABLES, ids=_ids(WORKER_VARIABLES))
def test_a_bad_worker_variable_is_one_line_and_exit_2_for_worker_commands(command, variable, value):
    result = baton(*WORKER_COMMANDS[command], env=clean_env(**{**GOOD, variable: value}))
    assert_one_line_naming(result, variable)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("variable", "value"),
    [*WORKER_VARIABLES, ("BATON_BROKER_URL", "notaurl"), *BAD_KEY_LISTS[:1]],
    ids=[*_ids(WORKER_VARIABLES), "BATON_BROKER_URL=notaurl", "space-in-kid"],
)
def test_a_plain_celery_worker_with_a_bad_variable_logs_one_line_and_exits_2(variable, value):
    # Celery's own warning to a worker run as root (as in some CI containers) is not Baton's.
    quiet_root = {"PYTHONWARNINGS": "ignore:You're running the worker with superuser"}
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "baton.eu-west-1"],
        env=clean_env(**{**GOOD, **quiet_root, variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_one_line_naming(result, variable)
    assert "Baton worker not started" in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("command", ["run", "status"])
def test_a_broker_that_does_not_answer_is_one_line_and_exit_2_within_seconds(command):
    secret = "pw-not-shown"
    env = clean_env(**{**GOOD, "BATON_BROKER_URL": f"redis://:{secret}@127.0.0.1:1/0"})
    started = time.monotonic()
    result = baton(*PARENT_COMMANDS[command], env=env, timeout=30)
    assert time.monotonic() - started < 20
    assert_one_line_naming(result, "BATON_")
    assert "cannot reach the" in result.stderr
    assert "redis://:***@127.0.0.1:1/" in result.stderr and secret not in result.stderr


@pytest.mark.integration
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
def test_run_json_from_a_worker_with_wrong_defaults(start_emulator, start_worker, parent_env):
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
    env = parent_env(real.url)

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


def test_baton_emulator_takes_a_bad_quota_as_one_line_and_exit_2():
    result = CliRunner().invoke(
        main, ["emulator", "--allow-region", "eu-west-1", "--requests-per-minute", "0"]
    )
    assert result.exit_code == 2
    assert "requests_per_minute must be a whole number of at least 1" in result.output
    assert "Traceback" not in result.output
