"""Subagents that start subagents through the Task tool, driven by the emulator's scripted tool
use, with real workers. Every call of a tree is in the parent's region with the parent's
geography, and a tree completes on one worker slot because a waiting parent holds none.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from tests.conftest import RedisServer, clean_env
from tests.support.brokers import broker_url
from tests.support.processes import Proc, python_argv

pytestmark = pytest.mark.integration

TIMEOUT = 120


def task_directive(prompt: str, **extra: str) -> str:
    return "<<task " + json.dumps({"description": "sub", "prompt": prompt, **extra}) + ">>"


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request, redis_server: RedisServer) -> Iterator[str]:
    with broker_url(request.param, redis_server.url(4)) as url:
        yield url


@pytest.fixture()
def tree_fleet(broker: str, redis_server: RedisServer, start_emulator) -> Iterator[Any]:
    """Factory: a one-slot prefork worker for ``regions`` and a parent in the first region."""
    from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app

    procs, apps = [], []

    def make(*regions: str, **limits: int) -> tuple[Any, Any]:
        bedrock = start_emulator(*regions)
        key, backend = secrets.token_urlsafe(32), redis_server.url(5)
        env = clean_env(
            BATON_BROKER_URL=broker,
            BATON_RESULT_BACKEND=backend,
            BATON_ENVELOPE_KEY=key,
            BATON_ALLOWED_ENDPOINTS=bedrock.url,
            AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
            AWS_DEFAULT_REGION="us-east-1",
        )
        argv = ["-m", "baton", "worker", "--pool", "prefork", "--concurrency", "1"]
        proc = Proc(
            python_argv(*argv, *[a for r in regions for a in ("--region", r)]),
            env=env,
            name="worker",
        )
        procs.append(proc)
        proc.wait_for(" ready.")
        settings = ProducerSettings(
            broker_url=broker, result_backend=backend, envelope_key=key, **limits
        )
        app = producer_app(settings)
        apps.append(app)
        config = capture(environ={"AWS_REGION": regions[0], "AWS_BEDROCK_ENDPOINT": bedrock.url})
        return Orchestrator(config=config, settings=settings, app=app), bedrock

    yield make
    for app in apps:
        close_producer(app)
    for proc in procs:
        proc.kill()


def test_a_depth_3_tree_completes_on_one_slot_in_the_parents_region(tree_fleet):
    orch, bedrock = tree_fleet("eu-central-1")

    result = orch.gather([orch.spawn("<<tree depth=3 width=2>>")], timeout=TIMEOUT)[0]

    assert result["stop_reason"] == "end_turn"
    assert (result["tree_jobs"], len(result["children"]), result["turns"]) == (15, 2, 2)
    calls = bedrock.calls()
    assert len(calls) == 7 * 2 + 8  # seven parents take two turns, eight leaves one
    assert {(c["region"], c["model_id"], c["status"]) for c in calls} == {
        ("eu-central-1", orch.envelope.model_id, 200)
    }
    child = orch.app.AsyncResult(result["children"][0]).get(timeout=TIMEOUT)
    assert (child["depth"], child["parent_id"], child["root_id"]) == (
        1,
        result["job_id"],
        orch.root_id,
    )
    assert child["tree_jobs"] == 7
    grandchild = orch.app.AsyncResult(child["children"][0]).get(timeout=TIMEOUT)
    assert (grandchild["depth"], grandchild["parent_id"]) == (2, child["job_id"])
    assert result["usage"]["total_tokens"] > child["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("ap-southeast-2", "au.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("ap-northeast-1", "jp.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ],
)
def test_an_explorer_child_runs_haiku_in_the_parents_geography(tree_fleet, region, expected):
    orch, bedrock = tree_fleet(region)

    prompt = task_directive("look around", subagent_type="explorer")
    result = orch.gather([orch.spawn(prompt)], timeout=TIMEOUT)[0]

    child = orch.app.AsyncResult(result["children"][0]).get(timeout=TIMEOUT)
    assert (child["agent"], child["model_id"], child["region"]) == ("explorer", expected, region)
    assert {c["region"] for c in bedrock.calls()} == {region}
    assert {c["model_id"] for c in bedrock.calls()} == {orch.envelope.model_id, expected}


def test_a_child_model_missing_from_the_geography_fails_typed_and_the_parent_carries_on(
    tree_fleet,
):
    orch, bedrock = tree_fleet("ap-southeast-1")

    prompt = task_directive("think hard", model="opus")
    result = orch.gather([orch.spawn(prompt)], timeout=TIMEOUT)[0]

    child = orch.app.AsyncResult(result["children"][0]).get(timeout=TIMEOUT)
    assert child["error"]["type"] == "ModelNotInGeography"
    assert "it exists in: us" in child["error"]["message"]
    assert result["stop_reason"] == "end_turn"
    assert "error: ModelNotInGeography" in result["text"]
    assert all(c["model_id"].startswith("apac.") for c in bedrock.calls())


def test_a_model_that_keeps_asking_for_task_stops_at_the_limits(tree_fleet):
    orch, _ = tree_fleet("eu-west-1", max_depth=2, max_children=2)

    result = orch.gather([orch.spawn("<<loop>>")], timeout=TIMEOUT)[0]

    assert result["stop_reason"] == "max_children"
    assert result["tree_jobs"] == 7
    child = orch.app.AsyncResult(result["children"][0]).get(timeout=TIMEOUT)
    grandchild = orch.app.AsyncResult(child["children"][0]).get(timeout=TIMEOUT)
    assert (child["stop_reason"], grandchild["stop_reason"]) == ("max_children", "max_depth")


def test_the_jobs_under_one_root_are_bounded(tree_fleet):
    # The root counts too: 1 + its 2 children + one child's 2 children = 5; the other child's
    # 2 would make 7.
    orch, _ = tree_fleet("eu-west-1", max_jobs=5)

    result = orch.gather([orch.spawn("<<tree depth=2 width=2>>")], timeout=TIMEOUT)[0]

    stops = [
        orch.app.AsyncResult(c).get(timeout=TIMEOUT)["stop_reason"] for c in result["children"]
    ]
    assert sorted(stops) == ["end_turn", "max_jobs"]
    assert result["tree_jobs"] == 1 + (1 + 2) + 1  # the refused child started none


def test_an_unknown_tool_gets_an_error_tool_result(tree_fleet):
    orch, bedrock = tree_fleet("eu-west-1")

    result = orch.gather([orch.spawn('<<tool Bash {"command": "ls"}>>')], timeout=TIMEOUT)[0]

    assert (result["stop_reason"], result["children"], result["turns"]) == ("end_turn", [], 2)
    assert "error: unknown tool 'Bash'" in result["text"]
    assert len(bedrock.calls()) == 2
