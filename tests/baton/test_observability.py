"""What an operator sees: Prometheus metrics from a worker, live progress, and the job tree."""

from __future__ import annotations

import json

import pytest

from tests.baton.test_cli import baton
from tests.support.metrics import sample, scrape_until
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_worker_serves_job_call_cache_and_refusal_metrics(
    pool, start_emulator, start_worker, make_orchestrator, tmp_path
):
    bedrock = start_emulator("eu-west-1")
    port = free_port()
    start_worker(
        "eu-west-1",
        pool=pool,
        concurrency=2,
        metrics_port=port,
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    orch = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})
    orch.gather([orch.spawn(f"job {i}") for i in range(3)], timeout=60)
    refused = orch.app.send_task("baton.subagent", kwargs={"prompt": "x"}, queue="baton.eu-west-1")
    # An unbound refusal is dead-lettered, counted and logged, and no failure is stored under the
    # id it names (a broker writer could name a queued job's): wait for the count, not a result.
    text = scrape_until(port, "baton_envelope_refusals_total", reason="envelope_missing")
    assert refused.state == "PENDING"

    assert sample(text, "baton_jobs_total", region="eu-west-1", outcome="success") == 3
    assert sample(text, "baton_bedrock_calls_total", region="eu-west-1", code="ok") == 3
    assert sample(text, "baton_envelope_refusals_total", reason="envelope_missing") == 1
    misses = sample(text, "baton_client_cache_total", event="miss")
    hits = sample(text, "baton_client_cache_total", event="hit")
    assert 1 <= misses <= 2 and misses + hits == 3
    assert sample(text, "baton_job_seconds_count", region="eu-west-1") == 3


def test_run_shows_a_row_per_subagent_and_status_draws_the_tree(
    start_emulator, start_worker, parent_env
):
    bedrock = start_emulator("eu-west-1")
    start_worker("eu-west-1", pool="prefork", concurrency=1)
    env = parent_env(bedrock.url, COLUMNS="120")

    ran = baton(
        "run",
        "--prompt",
        "<<tree depth=1 width=2>>",
        "--prompt",
        "plain",
        "--agent",
        "planner",
        env=env,
        timeout=120,
    )
    root_id = ran.stderr.split("root ", 1)[1].split(",")[0].split()[0]
    shown = baton("status", root_id, env=env)
    listed = json.loads(baton("status", root_id, "--json", env=env).stdout)

    assert ran.returncode == 0, ran.stderr
    assert "2/2 subagents done" in ran.stderr
    assert ran.stderr.count("planner") >= 2 and "SUCCESS" in ran.stderr
    assert shown.returncode == 0
    assert f"root {root_id}: 4 job(s)" in shown.stdout
    assert len(listed) == 4 and {node["state"] for node in listed} == {"SUCCESS"}
    assert sorted(len(node["children"]) for node in listed) == [0, 0, 0, 2]
