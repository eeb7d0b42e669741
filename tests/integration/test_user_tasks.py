"""A user's own tasks on ``workers.app``, published by a parent the ordinary way, run.

The parent is a separate program (``tests.integration.user_parent``) that imports the user's
task module and calls ``task.delay()``, canvases and callbacks inside ``propagating()``; the
worker is ``baton worker --include`` that module. Before the routing fix every one of these
messages went to a queue no worker consumes and the parent waited for good.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RedisServer, clean_env
from tests.integration.user_parent import PATHS
from tests.support.brokers import broker_url
from tests.support.processes import Proc, python_argv

pytestmark = pytest.mark.integration

REGION = "eu-west-1"

#: The parent of the run: every path, in one program, bounded by the per-path result timeouts.
PARENT_TIMEOUT = 300


@pytest.fixture(
    scope="module",
    params=[("redis", "prefork"), ("rabbitmq", "prefork"), ("redis", "threads")],
    ids=lambda param: f"{param[0]}-{param[1]}",
)
def run(request, redis_server: RedisServer) -> Iterator[dict[str, Any]]:
    broker_kind, pool = request.param
    with broker_url(broker_kind, redis_server.url(4)) as broker:
        yield _run(broker, redis_server.url(5), pool)


def _run(broker: str, backend: str, pool: str) -> dict[str, Any]:
    import secrets

    env = clean_env(
        BATON_BROKER_URL=broker,
        BATON_RESULT_BACKEND=backend,
        BATON_ENVELOPE_KEY=secrets.token_urlsafe(32),
    )
    worker = Proc(
        python_argv(
            "-m", "baton", "worker", "--region", REGION, "--pool", pool,
            "--concurrency", "3", "--include", "tests.integration.worker_tasks",
        ),
        env=env,
        name=f"worker-{pool}",
    )  # fmt: skip
    try:
        worker.wait_for(" ready.")
        paths = [p for p in PATHS if pool == "prefork" or "after" not in p]
        parent = subprocess.run(
            python_argv("-m", "tests.integration.user_parent", *paths),
            env=env | {"AWS_REGION": REGION},
            capture_output=True,
            text=True,
            timeout=PARENT_TIMEOUT,
            check=False,
        )
    finally:
        worker.kill()
    assert parent.returncode == 0, parent.stderr[-3000:]
    return dict(json.loads(parent.stdout))


def test_a_publish_with_no_envelope_anywhere_fails_at_publish_naming_the_fix(run):
    assert run["outside"].startswith("EnvelopeMissing: task baton.test.probe was published")
    assert "propagating()" in run["outside"]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_user_task_published_by_the_parent_runs_with_its_envelope(run, path: str):
    if path not in run["paths"]:
        pytest.skip("hard time limits and lost children exist only in the prefork pool")
    seen = run["paths"][path]
    assert isinstance(seen, list) and seen, seen
    parent = run["parent"]
    for observation in seen:
        assert (observation["region"], observation["model_id"]) == (
            parent["region"],
            parent["model_id"],
        )
        assert observation["root_id"] == parent["root_id"]
        expected = (observation.get("expect_depth", 0), observation.get("expect_parent"))
        assert (observation["depth"], observation["parent_id"]) == expected
