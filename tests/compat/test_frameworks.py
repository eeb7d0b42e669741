"""Agent frameworks inside user tasks call Bedrock exactly as the parent's envelope says.

Each test publishes one user task from an eu-west-1 parent to a real worker whose own AWS
defaults all point at a decoy (see ``harness``). The task calls its framework once through
Baton's adapter. The parent's emulator must have journaled every call the framework made,
runtime and control plane, signed with SigV4 for eu-west-1, for the parent's model, by the
envelope's identity; the decoy must have journaled nothing. Every framework runs in ambient and
in assume_role mode, with a geography profile ID and with an application inference profile ARN.
"""

from __future__ import annotations

import pytest

from tests.compat.harness import (
    AMBIENT_KEY,
    APP_PROFILE_ARN,
    CLI_JOB_TIMEOUT,
    PARENT_REGION,
    PROFILE_ID,
    ROLE_ARN,
    assert_claude_code_calls,
    claude_cli,
    describe_calls,
    emulators,
    fleet,
    make_parent,
    require_frameworks,
    run_task,
    trapped_worker,
)

pytestmark = [pytest.mark.compat, pytest.mark.integration]

require_frameworks()

__all__ = ["claude_cli", "emulators", "fleet", "make_parent", "trapped_worker"]

#: The model calls each framework makes for one one-line prompt.
RUNTIME_CALLS = {
    "anthropic": ["InvokeModel"],
    "langchain": ["Converse"],
    "litellm": ["Converse"],
    "pydantic_ai": ["Converse"],
    "strands": ["ConverseStream"],
}

MODELS = {"profile_id": PROFILE_ID, "app_profile_arn": APP_PROFILE_ARN}


def expected_operations(framework: str, model: str) -> list[str]:
    """LangChain must know an ARN's provider, which only GetInferenceProfile tells."""
    if framework == "langchain" and model == APP_PROFILE_ARN:
        return ["GetInferenceProfile", *RUNTIME_CALLS[framework]]
    return RUNTIME_CALLS[framework]


def signing_key(emulator, *, identity: str, root_id: str) -> str:
    """The access key the envelope's identity signs with, as the emulator knows it."""
    if identity == "ambient":
        return AMBIENT_KEY
    role_session = f"arn:aws:sts::111122223333:assumed-role/baton-compat/baton-{root_id}"
    (key,) = [s["access_key_id"] for s in emulator.sessions() if s["arn"] == role_session]
    assert key.startswith("ASIA"), key  # issued by the emulator's STS, not the worker's own
    return key


@pytest.mark.parametrize("identity", ["ambient", "assume_role"])
@pytest.mark.parametrize("model", list(MODELS.values()), ids=list(MODELS))
@pytest.mark.parametrize("framework", sorted(RUNTIME_CALLS))
def test_a_framework_in_a_user_task_calls_bedrock_only_as_the_parent_envelope_says(
    trapped_worker, emulators, make_parent, framework, model, identity
):
    emulators.clear()
    orch = make_parent(model=model, identity=identity)

    answer = run_task(orch, f"baton.compat.{framework}")

    calls = emulators.real.calls()
    assumed = [c for c in calls if c["operation"] == "AssumeRole"]
    made = [c for c in calls if c["operation"] != "AssumeRole"]
    key = signing_key(emulators.real, identity=identity, root_id=orch.root_id)
    print(
        f"\n[journal] {framework} {identity}: "
        + "; ".join(
            f"{c['operation']} {c['region']} {c['auth']} {c['access_key_id']} {c['model_id']}"
            for c in calls
        )
    )
    assert answer["text"].startswith(f"[{PARENT_REGION}] {model}:"), answer
    assert [c["operation"] for c in made] == expected_operations(framework, model)
    assert [
        (c["region"], c["model_id"], c["access_key_id"], c["auth"], c["status"]) for c in made
    ] == [(PARENT_REGION, model, key, "sigv4", 200)] * len(made)
    # Baton's own STS call, made once per tree with the worker's key; no framework makes one.
    assume = [(PARENT_REGION, ROLE_ARN, AMBIENT_KEY, 200)] if identity == "assume_role" else []
    assert [(c["region"], c["model_id"], c["access_key_id"], c["status"]) for c in assumed] == (
        assume
    )
    assert emulators.decoy.calls() == []


@pytest.mark.parametrize("identity", ["ambient", "assume_role"])
def test_the_claude_code_cli_as_a_subagent_calls_bedrock_only_as_the_parent_envelope_says(
    claude_cli, trapped_worker, emulators, make_parent, identity
):
    """The real CLI, started by a user task with ``env=claude_code_env()``, in a worker whose
    environment, HOME and ``~/.claude/settings.json`` all point at the decoy."""
    emulators.clear()
    orch = make_parent(model=PROFILE_ID, identity=identity)

    result = run_task(orch, "baton.compat.claude_code", timeout=CLI_JOB_TIMEOUT)

    calls, strays = emulators.real.calls(), emulators.decoy.calls()
    assumed = [c for c in calls if c["operation"] == "AssumeRole"]
    made = [c for c in calls if c["operation"] != "AssumeRole"]
    key = signing_key(emulators.real, identity=identity, root_id=orch.root_id)
    journal = f"parent's emulator:\n{describe_calls(calls)}\ndecoy:\n{describe_calls(strays)}"
    print(
        f"\n[journal] claude_code {identity}: "
        + "; ".join(
            f"{c['operation']} {c['region']} {c['auth']} {c['access_key_id']} {c['model_id']} "
            f"{c['status']}"
            for c in calls
        )
    )
    assert result["error"] is None, result
    assert not result["timed_out"], f"claude -p did not finish\n{result['stderr']}"
    assert result["returncode"] == 0, f"{result['stderr']}\n{result['stdout']}\n{journal}"
    answer = result["answer"]
    assert answer is not None and answer["is_error"] is False, result
    assert answer["result"].startswith(f"[{PARENT_REGION}] {PROFILE_ID}:"), answer["result"]
    assert strays == [], journal
    assert_claude_code_calls(made, model=PROFILE_ID, access_key=key, journal=journal)
    # Baton's own STS call, made once per tree with the worker's key; the CLI makes none.
    assume = [(PARENT_REGION, ROLE_ARN, AMBIENT_KEY, 200)] if identity == "assume_role" else []
    assert [(c["region"], c["model_id"], c["access_key_id"], c["status"]) for c in assumed] == (
        assume
    )


#: botocore's refusal to send the worker's stray bearer token to the decoy's plain-http URL: the
#: boto3-based frameworks stop there, before any request, having taken both from the worker.
BEARER_OVER_HTTP = "Bearer authorization requires an HTTPS endpoint"


@pytest.mark.parametrize("framework", sorted(RUNTIME_CALLS))
def test_the_same_framework_built_from_the_worker_defaults_goes_astray(
    trapped_worker, emulators, make_parent, framework
):
    emulators.clear()
    orch = make_parent(model=PROFILE_ID, identity="ambient")

    answer = run_task(orch, f"baton.compat.naive.{framework}")

    astray = emulators.decoy.calls()
    print(
        f"\n[naive] {framework}: {answer['error'] or answer['text']}; decoy: "
        + "; ".join(
            f"{c['operation']} {c['region']} {c['auth']} {c['access_key_id']} {c['status']}"
            for c in astray
        )
    )
    assert emulators.real.calls() == []
    assert all(c["region"] == "us-east-1" or c["auth"] == "bearer" for c in astray), astray
    assert astray or BEARER_OVER_HTTP in (answer["error"] or ""), answer
