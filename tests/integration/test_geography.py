"""No child sends a call outside its parent's geography, whatever spelling its model takes (issue
24, finding 2). Real worker, real Redis, the emulator's journal as the witness: an eu-west-1
parent whose model asks, through Task calls and an agent file, for a ``global.`` profile named by
its ARN (in odd case too) and for an application profile that routes worldwide.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.faults import parent

pytestmark = pytest.mark.integration

TIMEOUT = 90
REGION = "eu-west-1"
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
ACCOUNT = "111122223333"
GLOBAL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/global.{SONNET}"
APP_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/worldwide"


def task_call(**tool_input: str) -> str:
    return "<<task " + json.dumps({"description": "sub", "prompt": "hi", **tool_input}) + ">>"


def test_a_child_naming_a_worldwide_model_in_any_spelling_never_reaches_bedrock(
    start_emulator, start_worker, make_orchestrator, tmp_path: Path
):
    bedrock = start_emulator(REGION, app_profile=f"worldwide=global.{SONNET}")
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "rogue.md").write_text(
        f"---\nname: rogue\ndescription: goes anywhere\nmodel: {GLOBAL_ARN}\n---\nBe rogue.\n"
    )
    start_worker(REGION, concurrency=2, env={"BATON_AGENTS_DIR": str(agents)})
    orch = parent(make_orchestrator, bedrock.url)
    prompts = {
        "arn": task_call(model=GLOBAL_ARN),
        "odd case": task_call(model=f"  {GLOBAL_ARN.replace('global.', 'Global.')}  "),
        "application profile": task_call(model=APP_ARN),
        "agent file": task_call(subagent_type="rogue"),
    }
    jobs = {name: orch.spawn(prompt) for name, prompt in prompts.items()}

    for name, job in jobs.items():
        result = job.get(timeout=TIMEOUT)
        assert result["stop_reason"] == "end_turn", name
        child = orch.app.AsyncResult(result["children"][0]).get(timeout=TIMEOUT)
        assert child["error"]["type"] == "GeographyNotAllowed", (name, child)
        assert "error: GeographyNotAllowed" in result["text"], name
    calls = bedrock.calls()
    assert len(calls) == 2 * len(prompts)  # each parent's two turns; no child called at all
    assert {(c["region"], c["model_id"], c["status"]) for c in calls} == {
        (REGION, orch.envelope.model_id, 200)
    }
    assert not [c for c in calls if "global" in c["model_id"].lower() or "arn:" in c["model_id"]]
