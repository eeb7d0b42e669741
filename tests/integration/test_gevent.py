"""One gevent worker, hundreds of calls in flight, and no cross-talk between them.

Two parents, in eu-west-1 and ap-southeast-2, interleave their jobs on one ``baton worker --pool
gevent`` serving both regions. What reached Bedrock is read at the emulator: each job's answer
echoes the region and model the emulator judged from that very call (its SigV4 scope and its
path) beside the job's own prompt, and the journal gives every call's signing key. The job count
and the concurrency are parameters (``BATON_TEST_GEVENT_JOBS``, ``BATON_TEST_GEVENT_CONCURRENCY``):
CI runs a few hundred at c200 on a shared two-core machine; the issue's 1,000 is a variable away.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest

from tests.conftest import clean_env
from tests.integration.harness import figures, settle
from tests.support.metrics import sample, scrape
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

JOBS = int(os.environ.get("BATON_TEST_GEVENT_JOBS", "400"))
CONCURRENCY = int(os.environ.get("BATON_TEST_GEVENT_CONCURRENCY", "200"))
#: Seconds the emulator takes to answer, and a spread: calls overlap and finish out of order.
LATENCY, JITTER = 0.5, 0.5
REGIONS = ("eu-west-1", "ap-southeast-2")
ROLES = {
    "eu-west-1": "arn:aws:iam::111122223333:role/baton-eu",
    "ap-southeast-2": "arn:aws:iam::111122223333:role/baton-au",
}
TIMEOUT = 180


@pytest.fixture()
def two_parents(producer_settings, start_emulator, start_worker, tmp_path):
    """The emulator, one gevent worker for both regions, a factory of the two parents (each
    assuming its own role, or both on the worker's ambient identity), and the worker's metrics
    port."""
    from orchestrator import Orchestrator, capture, close_producer, producer_app

    bedrock = start_emulator(*REGIONS, latency=LATENCY, jitter=JITTER)
    port = free_port()
    worker = start_worker(
        *REGIONS,
        pool="gevent",
        concurrency=CONCURRENCY,
        metrics_port=port,
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    apps: list[Any] = []

    def parents(*, assume_role: bool) -> list[Any]:
        made = []
        for region in REGIONS:
            identity = {"identity": "assume_role", "role_arn": ROLES[region]} if assume_role else {}
            settings = producer_settings.model_copy(update=identity)
            app = producer_app(settings)
            apps.append(app)
            config = capture(environ=clean_env(AWS_REGION=region, AWS_BEDROCK_ENDPOINT=bedrock.url))
            made.append(Orchestrator(config=config, settings=settings, app=app))
        return made

    yield bedrock, worker, parents, port
    for app in apps:
        close_producer(app)


def interleave(parents: list[Any], jobs: int) -> dict[str, tuple[Any, str]]:
    """Spawn ``jobs`` jobs alternating between the parents; map each job ID to its parent and
    prompt."""
    spawned: dict[str, tuple[Any, str]] = {}
    for index in range(jobs):
        orch = parents[index % len(parents)]
        prompt = f"job {index} of {orch.root_id}"
        spawned[orch.spawn(prompt).id] = (orch, prompt)
    return spawned


def check_every_answer(spawned: dict[str, tuple[Any, str]], results: dict[str, Any]) -> None:
    """Each job's answer is the emulator's echo of its own prompt, from its parent's region and
    model: the call that carried that prompt was signed for that region and named that model."""
    for job_id, (orch, prompt) in spawned.items():
        envelope = orch.envelope
        assert results[job_id]["text"] == f"[{envelope.region}] {envelope.model_id}: {prompt}"
        assert results[job_id]["region"] == envelope.region


def run_interleaved(bedrock: Any, worker: Any, parents: list[Any]) -> tuple[dict, list]:
    spawned = interleave(parents, JOBS)
    outcome = settle(parents[0].app, list(spawned), timeout=TIMEOUT)
    assert outcome.lost == [], [outcome.results[job] for job in outcome.lost[:3]]
    check_every_answer(spawned, outcome.results)
    converse = bedrock.calls("Converse")
    redelivered = [job for job, n in Counter(worker.received()).items() if n > 1]
    figures(
        "gevent no cross-talk",
        jobs=JOBS,
        concurrency=CONCURRENCY,
        bedrock_calls=len(converse),
        duplicates=len(converse) - JOBS,
        redelivered=len(redelivered),
    )
    assert len(converse) == JOBS, "no job called Bedrock twice, and none was left out"
    return spawned, converse


def test_one_gevent_worker_serves_two_regions_with_every_call_signed_for_its_own_job(two_parents):
    bedrock, worker, make, metrics_port = two_parents
    parents = make(assume_role=False)

    _, converse = run_interleaved(bedrock, worker, parents)

    key = worker.env["AWS_ACCESS_KEY_ID"]
    by_call = Counter((c["region"], c["model_id"], c["access_key_id"]) for c in converse)
    assert f"sized for {CONCURRENCY} task slots: broker pool {CONCURRENCY + 20}" in "".join(
        worker.proc.lines
    )
    assert by_call == Counter(
        {(o.envelope.region, o.envelope.model_id, key): JOBS // 2 for o in parents}
    )
    assert all(c["status"] == 200 and c["auth"] == "sigv4" for c in converse)
    check_metrics_by_region(metrics_port)


def check_metrics_by_region(port: int) -> None:
    """The worker's metrics count each job and call under its own job's region: the labels are
    read from the running job, which is per greenlet."""
    deadline = time.monotonic() + 30
    text = scrape(port)
    while (
        time.monotonic() < deadline
        and sum(
            sample(text, "baton_jobs_total", region=region, outcome="success") for region in REGIONS
        )
        < JOBS
    ):
        time.sleep(0.2)
        text = scrape(port)
    for region in REGIONS:
        assert sample(text, "baton_jobs_total", region=region, outcome="success") == JOBS // 2
        assert sample(text, "baton_bedrock_calls_total", region=region, code="ok") == JOBS // 2
        assert sample(text, "baton_job_seconds_count", region=region) == JOBS // 2


def test_each_parents_assumed_role_signs_only_its_own_jobs_calls(two_parents):
    bedrock, worker, make, _ = two_parents
    eu, au = make(assume_role=True)

    _, converse = run_interleaved(bedrock, worker, [eu, au])

    arn_of = {s["access_key_id"]: s["arn"] for s in bedrock.sessions()}
    signed = Counter(
        (c["region"], c["model_id"], arn_of.get(c["access_key_id"], "not an assumed role"))
        for c in converse
    )
    expected = {}
    for orch in (eu, au):
        role = ROLES[orch.envelope.region].rsplit("/", 1)[1]
        account = ROLES[orch.envelope.region].split(":")[4]
        arn = f"arn:aws:sts::{account}:assumed-role/{role}/baton-{orch.root_id}"
        expected[(orch.envelope.region, orch.envelope.model_id, arn)] = JOBS // 2
    assert signed == Counter(expected)
    assumed = [c for c in bedrock.calls("AssumeRole") if c["status"] == 200]
    assert sorted(c["model_id"] for c in assumed) == sorted(ROLES.values())


def test_a_gevent_worker_holding_over_1024_descriptors_keeps_serving(
    start_emulator, start_worker, make_orchestrator
):
    bedrock = start_emulator(REGIONS[0])
    worker = start_worker(
        REGIONS[0],
        pool="gevent",
        concurrency=50,
        flags=["--include", "tests.integration.many_descriptors"],
    )
    orch = make_orchestrator(clean_env(AWS_REGION=REGIONS[0], AWS_BEDROCK_ENDPOINT=bedrock.url))

    jobs = [orch.spawn(f"past select's limit {i}") for i in range(50)]
    outcome = settle(orch.app, [job.id for job in jobs], timeout=60)

    assert outcome.lost == []
    assert len(bedrock.calls("Converse")) == 50
    assert not [line for line in worker.proc.lines if "filedescriptor out of range" in line]
