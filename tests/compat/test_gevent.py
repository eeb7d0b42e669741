"""The framework adapters and ``claude_code_env`` subprocesses on one gevent worker, per greenlet.

``tests/integration/test_gevent.py`` proves Baton's own subagent jobs keep apart on one
``baton worker --pool gevent``; these tests do the same for what user tasks run there: the five
frameworks through Baton's adapters, the environment ``claude_code_env()`` gives a subprocess,
and the real Claude Code CLI. Two parents, each on its own emulator, interleave their jobs
through ONE gevent worker serving both regions:

- eu-west-1, on the worker's ambient identity;
- ap-southeast-2, on a role the worker assumes for it, through its own emulator's STS.

So a job that picked up its neighbour's region, endpoint, model or identity would show at the
emulators: a call signed for the other region, on the other emulator, naming the other model or
signed by the other key. Every call is counted there (one per job and operation, no duplicate,
one AssumeRole for the whole tree), and every answer must echo its own job's prompt. The
emulators answer after a delay, so calls overlap; the journal's answer times prove they did.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from tests.compat.harness import (
    CLI_JOB_TIMEOUT,
    TASKS,
    assert_claude_code_calls,
    claude_cli,
    describe_calls,
    require_frameworks,
)
from tests.conftest import EmulatorProc, Worker, clean_env
from tests.integration.harness import figures, settle

pytestmark = [pytest.mark.compat, pytest.mark.integration]

require_frameworks()

__all__ = ["claude_cli"]

EU, AU = "eu-west-1", "ap-southeast-2"
#: The role the worker assumes for the ap-southeast-2 parent; the eu-west-1 one stays ambient.
AU_ROLE = "arn:aws:iam::111122223333:role/baton-au"
#: Seconds each emulator waits before answering, and a random spread on top: calls overlap and
#: finish out of order.
LATENCY, JITTER = 0.5, 0.5
#: Jobs each parent runs per framework, and the worker's slots: every job can be in flight at once.
JOBS_PER_FRAMEWORK = 4
CONCURRENCY = 50
#: The model calls each framework makes for one one-line prompt (as ``test_frameworks``).
RUNTIME_CALLS = {
    "anthropic": "InvokeModel",
    "langchain": "Converse",
    "litellm": "Converse",
    "pydantic_ai": "Converse",
    "strands": "ConverseStream",
}
#: ``claude_code_env`` subprocesses each parent starts, and real Claude Code CLI runs.
ENV_JOBS = 12
CLI_RUNS = 2
TIMEOUT = 60


@dataclass
class Parent:
    """One parent: its orchestrator and the emulator its envelope names."""

    orch: Any
    bedrock: EmulatorProc

    @property
    def region(self) -> str:
        return str(self.orch.envelope.region)

    @property
    def model(self) -> str:
        return str(self.orch.envelope.model_id)

    def signing_key(self) -> str:
        """The access key the parent's identity signs with, as its emulator knows it."""
        if self.region == EU:
            return TEST_ACCESS_KEY_ID
        role = AU_ROLE.rsplit("/", 1)[1]
        arn = f"arn:aws:sts::111122223333:assumed-role/{role}/baton-{self.orch.root_id}"
        (key,) = [s["access_key_id"] for s in self.bedrock.sessions() if s["arn"] == arn]
        return str(key)

    def publish(self, task: str, **kwargs: Any) -> str:
        with self.orch.propagating():
            return str(self.orch.app.signature(task, kwargs=kwargs).apply_async().id)


@dataclass
class GreenFleet:
    worker: Worker
    parents: list[Parent]


def worker_home(root: Path) -> dict[str, str]:
    """A HOME of its own for the worker, whose Claude Code settings and AWS region point at
    us-east-1, which neither emulator allows: a subprocess that read them would be refused."""
    (root / ".claude").mkdir(parents=True)
    settings = {"env": {"AWS_REGION": "us-east-1"}}
    (root / ".claude" / "settings.json").write_text(json.dumps(settings))
    return {"HOME": str(root), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture()
def green_fleet(producer_settings, start_emulator, start_worker, tmp_path):
    """An emulator per region, one gevent worker for both with the framework tasks, and the two
    parents: eu-west-1 ambient, ap-southeast-2 on its assumed role."""
    from orchestrator import Orchestrator, capture, close_producer, producer_app

    env = worker_home(tmp_path / "home") | {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    worker = start_worker(
        EU, AU, pool="gevent", concurrency=CONCURRENCY, env=env, flags=["--include", TASKS]
    )
    parents, apps = [], []
    for region, identity in ((EU, {}), (AU, {"identity": "assume_role", "role_arn": AU_ROLE})):
        bedrock = start_emulator(region, latency=LATENCY, jitter=JITTER)
        settings = producer_settings.model_copy(update=identity)
        apps.append(producer_app(settings))
        config = capture(environ=clean_env(AWS_REGION=region, AWS_BEDROCK_ENDPOINT=bedrock.url))
        orch = Orchestrator(config=config, settings=settings, app=apps[-1])
        parents.append(Parent(orch=orch, bedrock=bedrock))
    yield GreenFleet(worker=worker, parents=parents)
    for app in apps:
        close_producer(app)


def label(spawned: Parent | tuple[Parent, str, str]) -> str:
    """A job's parent region, and its framework when it has one."""
    if isinstance(spawned, Parent):
        return spawned.region
    return f"{spawned[0].region} {spawned[1]}"


def settled(parents: list[Parent], spawned: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Wait for every job; fail on any that did not succeed, showing what it left."""
    outcome = settle(parents[0].orch.app, list(spawned), timeout=timeout)
    lost = Counter(
        (label(spawned[job]), outcome.states[job], str(outcome.results[job])[:300])
        for job in outcome.lost
    )
    assert not lost, "\n".join(f"{n} x {what}" for what, n in lost.items())
    return outcome.results


def overlapping_answers(parents: list[Parent]) -> int:
    """Pairs of calls from different parents answered less than ``LATENCY`` apart.

    Each call waits at least ``LATENCY`` at its emulator, so two such answers can only come from
    calls that were in flight together on the one worker.
    """
    times = [
        (call["at"], parent.region)
        for parent in parents
        for call in parent.bedrock.calls()
        if call["operation"] != "AssumeRole"
    ]
    times.sort()
    return sum(
        1
        for i, (at, region) in enumerate(times)
        for later, other in times[i + 1 :]
        if later - at < LATENCY and other != region
    )


def check_assume_role(parents: list[Parent]) -> None:
    """One AssumeRole for the ap-southeast-2 tree, by the worker's key, whatever the greenlets
    raced; none for the ambient parent."""
    eu, au = parents
    assert eu.bedrock.calls("AssumeRole") == []
    assumed = [
        (c["region"], c["model_id"], c["access_key_id"], c["status"])
        for c in au.bedrock.calls("AssumeRole")
    ]
    assert assumed == [(AU, AU_ROLE, TEST_ACCESS_KEY_ID, 200)]


def test_every_framework_adapter_on_one_gevent_worker_calls_only_as_its_own_job(green_fleet):
    parents = green_fleet.parents
    spawned: dict[str, tuple[Parent, str, str]] = {}
    for index in range(JOBS_PER_FRAMEWORK):
        for framework in RUNTIME_CALLS:
            for parent in parents:
                prompt = f"{framework} job {index} of {parent.orch.root_id}"
                job = parent.publish(f"baton.compat.{framework}", prompt=prompt)
                spawned[job] = (parent, framework, prompt)

    results = settled(parents, spawned, timeout=TIMEOUT)

    for job, (parent, framework, prompt) in spawned.items():
        answer = results[job]
        assert answer["framework"] == framework
        assert answer["text"] == f"[{parent.region}] {parent.model}: {prompt}", answer
        assert answer["region"] == parent.region
    for parent in parents:
        key, calls = parent.signing_key(), parent.bedrock.calls()
        made = Counter(
            (c["operation"], c["region"], c["model_id"], c["access_key_id"], c["auth"], c["status"])
            for c in calls
            if c["operation"] != "AssumeRole"
        )
        expected = Counter(
            {
                (operation, parent.region, parent.model, key, "sigv4", 200): JOBS_PER_FRAMEWORK
                * list(RUNTIME_CALLS.values()).count(operation)
                for operation in set(RUNTIME_CALLS.values())
            }
        )
        assert made == expected, describe_calls(calls)
    check_assume_role(parents)
    overlaps = overlapping_answers(parents)
    figures(
        "gevent adapters",
        jobs=len(spawned),
        concurrency=CONCURRENCY,
        bedrock_calls=sum(len(p.bedrock.calls()) for p in parents),
        cross_parent_overlaps=overlaps,
    )
    assert overlaps > 0, "no two parents' calls were in flight together: nothing was interleaved"


def check_subprocess_env(env: dict[str, str], parent: Parent, *, secrets: list[str]) -> None:
    """The child's environment is its own job's region, endpoint, model and identity, with none
    of the worker's region or fleet settings."""
    regional = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_BEDROCK_REGION")
    regional += ("ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION",)
    assert {env[name] for name in regional} == {parent.region}
    endpoints = {env["ANTHROPIC_BEDROCK_BASE_URL"], env["AWS_BEDROCK_ENDPOINT"]}
    assert endpoints == {parent.bedrock.url}
    assert {env["ANTHROPIC_MODEL"], env["CLAUDE_CODE_SUBAGENT_MODEL"]} == {parent.model}
    assert env["AWS_ACCESS_KEY_ID"] == parent.signing_key()
    if parent.region == EU:
        assert env["AWS_SECRET_ACCESS_KEY"] == TEST_SECRET_ACCESS_KEY
        assert "AWS_SESSION_TOKEN" not in env
    else:
        assert env["AWS_SECRET_ACCESS_KEY"] != TEST_SECRET_ACCESS_KEY
        assert env["AWS_SESSION_TOKEN"]
    assert [name for name in env if name.upper().startswith("BATON_")] == []
    assert [name for name, value in env.items() if any(s in value for s in secrets)] == []


def overlapping_spans(spans: list[tuple[float, float, str]]) -> int:
    """Pairs of subprocesses of different parents that were running at the same moment."""
    return sum(
        1
        for i, (start, end, region) in enumerate(spans)
        for other_start, other_end, other in spans[i + 1 :]
        if other != region and start < other_end and other_start < end
    )


def test_each_claude_code_env_subprocess_on_a_gevent_worker_gets_its_own_jobs_environment(
    green_fleet,
):
    parents, worker = green_fleet.parents, green_fleet.worker
    spawned = {
        parent.publish("baton.compat.claude_code_env"): parent
        for _ in range(ENV_JOBS)
        for parent in parents
    }

    results = settled(parents, spawned, timeout=TIMEOUT)

    fleet_secrets = [worker.env[name] for name in worker.env if name.startswith("BATON_")]
    fleet_secrets = [value for value in fleet_secrets if len(value) > 8]
    assert worker.env["BATON_ENVELOPE_KEY"] in fleet_secrets
    for job, parent in spawned.items():
        assert results[job]["region"] == parent.region
        check_subprocess_env(results[job]["env"], parent, secrets=fleet_secrets)
    check_assume_role(parents)
    spans = [(*results[job]["span"], parent.region) for job, parent in spawned.items()]
    overlaps = overlapping_spans(spans)
    figures("gevent claude_code_env", subprocesses=len(spawned), cross_parent_overlaps=overlaps)
    assert overlaps > 0, "no two parents' subprocesses ran together: nothing was interleaved"


def test_real_claude_code_clis_interleaved_on_a_gevent_worker_call_only_as_their_own_job(
    claude_cli, green_fleet
):
    parents = green_fleet.parents
    spawned = {
        parent.publish("baton.compat.claude_code"): parent
        for _ in range(CLI_RUNS)
        for parent in parents
    }

    results = settled(parents, spawned, timeout=CLI_JOB_TIMEOUT)

    for job, parent in spawned.items():
        result = results[job]
        assert result["error"] is None and not result["timed_out"], result
        assert result["returncode"] == 0, f"{result['stderr']}\n{result['stdout']}"
        answer = result["answer"]
        assert answer["is_error"] is False, answer
        assert answer["result"].startswith(f"[{parent.region}] {parent.model}:"), answer["result"]
    conversations = {}
    for parent in parents:
        calls = [c for c in parent.bedrock.calls() if c["operation"] != "AssumeRole"]
        journal = f"{parent.region} emulator:\n{describe_calls(calls)}"
        assert_claude_code_calls(
            calls,
            model=parent.model,
            access_key=parent.signing_key(),
            journal=journal,
            region=parent.region,
        )
        conversation = [c for c in calls if c["operation"] == "InvokeModelWithResponseStream"]
        conversations[parent.region] = len(conversation)
    check_assume_role(parents)
    figures("gevent claude code CLI", runs=len(spawned), conversation_calls=conversations)
    assert conversations == {parent.region: CLI_RUNS for parent in parents}
