"""``baton run`` as a new user meets it: what it says while waiting and about failed jobs.

Each test runs ``python -m baton run`` as a process against the suite's private Redis, real
workers and the emulator, so they are marked integration.
"""

from __future__ import annotations

import json

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from tests.baton.test_cli import baton
from tests.conftest import clean_env

pytestmark = pytest.mark.integration

MODEL = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.fixture()
def parent_env(redis_urls, envelope_key):
    """Factory: the environment of a parent in ``region`` on ``endpoint``, tables 250 wide."""

    def make(region: str, endpoint: str | None = None) -> dict[str, str]:
        env = clean_env(
            BATON_ENVELOPE_KEY=envelope_key,
            BATON_BROKER_URL=redis_urls[0],
            BATON_RESULT_BACKEND=redis_urls[1],
            BATON_DISCOVERY="false",
            AWS_REGION=region,
            AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
            COLUMNS="250",
        )
        return env | ({"AWS_BEDROCK_ENDPOINT": endpoint} if endpoint else {})

    return make


def test_run_says_while_waiting_that_no_worker_has_taken_a_job_from_the_queue(parent_env):
    result = baton("run", "--prompt", "hi", "--timeout", "8", env=parent_env("eu-west-2"))

    assert result.returncode == 3, result.stderr
    expected = (
        "no worker has taken a job from baton.eu-west-2 yet (5 s): start one with "
        "`baton worker --region eu-west-2`"
    )
    assert expected in " ".join(result.stderr.split())
    assert result.stderr.index("no worker has taken") < result.stderr.index("timed out after 8 s")


def test_failed_jobs_in_the_final_table_show_agent_region_and_model(
    parent_env, start_emulator, start_worker
):
    bedrock = start_emulator("eu-west-1")
    start_worker()
    env = parent_env("eu-west-1", bedrock.url)

    result = baton("run", "--agent", "nobody", "--prompt", "x", "--timeout", "60", env=env)

    assert result.returncode == 1, result.stderr
    [row] = [line for line in result.stdout.splitlines() if "UnknownAgent" in line]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[1:4] == ["nobody", "eu-west-1", MODEL]
    assert "no worker has taken" not in result.stderr
    failed = json.loads(
        baton("run", "--json", "--agent", "nobody", "--prompt", "x", env=env).stdout
    )
    assert (failed[0]["agent"], failed[0]["region"], failed[0]["model_id"]) == (
        "nobody",
        "eu-west-1",
        MODEL,
    )


def test_a_worker_with_no_credentials_says_none_were_found_and_where_it_looked(
    parent_env, start_emulator, start_worker, tmp_path
):
    bedrock = start_emulator("eu-west-1")
    nowhere = str(tmp_path / "none")
    start_worker(
        env={
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )

    result = baton("run", "--json", "--prompt", "x", env=parent_env("eu-west-1", bedrock.url))

    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)[0]["error"]
    assert error["type"] == "IdentityUnavailable"
    assert error["message"].startswith(
        f"no AWS credentials were found on this worker, so the call to {bedrock.url} "
        "(eu-west-1) was not sent"
    )
    assert "AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY" in error["message"]
    assert "could not reach Bedrock" not in error["message"]
    assert bedrock.calls() == []


def test_a_403_from_an_emulator_without_the_region_names_its_allow_region_option(
    parent_env, start_emulator, start_worker
):
    bedrock = start_emulator("eu-west-1")
    start_worker("eu-central-1")

    result = baton("run", "--json", "--prompt", "x", env=parent_env("eu-central-1", bedrock.url))

    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)[0]["error"]
    assert error["message"].startswith("Bedrock answered 403 AccessDeniedException in eu-central-1")
    assert error["message"].endswith(
        "; this 403 came from Baton's local emulator, which allows only eu-west-1 (its "
        "--allow-region list); restart it with one --allow-region per region the fleet calls: "
        "`baton emulator --allow-region eu-central-1 --allow-region eu-west-1`"
    )
    assert "baton iam-policy" not in error["message"]
