"""``baton status``'s readers: a job tree drawn from the result backend, finished or running.

The backend is Celery's Redis backend on fakeredis; the keys are the ones workers write.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery
from rich.console import Console

from baton.status import MAX_NODES, collect, job_node, render
from envelope import child_jobs_key, job_lock_key, recovered_key, root_jobs_key
from fleet import QuotaKey, mark_waiting
from tests.support.fake_redis import FakeRedisServer

ROOT = "root-0"


@pytest.fixture()
def app(fake_redis: FakeRedisServer) -> Iterator[Celery]:
    app = Celery("status-test", broker="memory://", backend=fake_redis.url(1))
    app.conf.result_serializer = "json"
    yield app
    app.backend.client.close()


def succeeded(app: Celery, job_id: str, **fields: object) -> None:
    result = {
        "agent": "explorer",
        "region": "eu-west-1",
        "model_id": "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        "stop_reason": "end_turn",
        "depth": 0,
        "usage": {"total_tokens": 42},
        **fields,
    }
    app.backend.store_result(job_id, result, "SUCCESS")


def test_a_finished_job_shows_its_result_fields_tokens_and_children(app):
    succeeded(app, "job-1", children=["job-2"], tree_jobs=2)

    node = job_node(app, "job-1")

    assert node["state"] == "SUCCESS"
    assert (node["agent"], node["region"], node["tokens"]) == ("explorer", "eu-west-1", 42)
    assert (node["tree_jobs"], node["children"]) == (2, ["job-2"])
    assert node["recovered"] is None


def test_a_running_job_waiting_for_quota_says_so_with_its_key_and_rate(app):
    key = QuotaKey("eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0")
    app.backend.client.set(job_lock_key("job-1"), "token")
    mark_waiting(app.backend.client, "job-1", key=key, rate=9.5)

    node = job_node(app, "job-1")
    console = Console(width=200, record=True)
    console.print(render(["job-1"], {"job-1": node}, ROOT))

    assert node["state"] == "STARTED"
    text = console.export_text()
    assert f"waiting for quota {key} at 570.0 calls/min" in text


def test_a_job_that_no_longer_waits_does_not_say_so(app):
    succeeded(app, "job-1")
    key = QuotaKey("eu-west-1", "m")
    mark_waiting(app.backend.client, "job-1", key=key, rate=1)  # a stale mark

    assert job_node(app, "job-1")["waiting"] is None


def test_a_failed_job_shows_its_error(app):
    app.backend.mark_as_failure("job-1", RuntimeError("AccessDenied"))

    node = job_node(app, "job-1")

    assert node["state"] == "FAILURE"
    assert node["error"] == {"type": "RuntimeError", "message": "AccessDenied"}


def test_a_running_job_is_started_and_lists_each_child_it_recorded_once(app):
    client = app.backend.client
    client.set(job_lock_key("job-1"), "token", px=30_000)
    client.rpush(child_jobs_key("job-1"), "job-2", "job-3", "job-2")  # a retried RPUSH
    client.set(recovered_key("job-1"), "worker_lost")

    node = job_node(app, "job-1")

    assert node["state"] == "STARTED"
    assert node["children"] == ["job-2", "job-3"]
    assert node["recovered"] == "worker_lost"


def test_collect_walks_the_tree_from_the_roots_recorded_for_the_root_id(app):
    app.backend.client.rpush(root_jobs_key(ROOT), "job-1", "job-4")
    succeeded(app, "job-1", children=["job-2", "job-3"])
    succeeded(app, "job-2", depth=1)
    app.backend.client.rpush(child_jobs_key("job-4"), "job-5")  # pending, children recorded

    roots, nodes = collect(app, ROOT)

    assert roots == ["job-1", "job-4"]
    assert set(nodes) == {f"job-{n}" for n in range(1, 6)}
    assert [nodes[j]["state"] for j in ("job-2", "job-3", "job-5")] == ["SUCCESS", *["PENDING"] * 2]


def test_collect_stops_at_the_node_limit(app):
    client = app.backend.client
    client.rpush(root_jobs_key(ROOT), "job-0")
    for n in range(MAX_NODES + 5):
        client.rpush(child_jobs_key(f"job-{n}"), f"job-{n + 1}")

    _, nodes = collect(app, ROOT)

    assert len(nodes) == MAX_NODES


def test_collect_of_an_unknown_root_finds_nothing(app):
    assert collect(app, "nobody") == ([], {})


def test_the_tree_shows_each_job_under_its_parent(app):
    app.backend.client.rpush(root_jobs_key(ROOT), "job-1")
    succeeded(app, "job-1", children=["job-2"])
    app.backend.mark_as_failure("job-2", ValueError("bad [model]"))
    app.backend.client.set(recovered_key("job-2"), "lost_in_transit")

    console = Console(width=200, record=True)
    console.print(render(*collect(app, ROOT), ROOT))
    lines = console.export_text().splitlines()

    assert lines[0] == f"root {ROOT}: 2 job(s)"
    assert "job-1 SUCCESS explorer eu-west-1" in lines[1] and "42 tokens" in lines[1]
    assert lines[2].endswith("job-2 FAILURE recovered (lost in transit) ValueError")
