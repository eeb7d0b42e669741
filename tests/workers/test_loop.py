"""The agent loop's pure core: state, tool-call planning, limits and model choice."""

from __future__ import annotations

import pytest

from envelope import Limits, Lineage, ModelNotInGeography, resolve
from tests.factories import make_envelope
from workers.agents import AgentRegistry
from workers.conversation import Reply, ToolUse
from workers.loop import (
    STOP_MAX_CHILDREN,
    STOP_MAX_DEPTH,
    STOP_MAX_TURNS,
    ChildCall,
    ConversationState,
    Pending,
    limit_reached,
    plan_calls,
)
from workers.results import Usage
from workers.tasks import job_model_id

BUILTINS = AgentRegistry.load(directory=None)


def state(**overrides) -> ConversationState:
    base = ConversationState.start(
        job_id="j", agent="general-purpose", model_id="m", system=None, prompt="go"
    )
    return base.model_copy(update=overrides)


def test_task_calls_become_children_and_other_tools_become_errors_in_order():
    plan = plan_calls(
        (
            ToolUse("a", "Task", {"description": "d", "prompt": "p1", "subagent_type": "explorer"}),
            ToolUse("b", "Bash", {"command": "ls"}),
            ToolUse("c", "Task", {"description": "d"}),
            ToolUse("d", "Task", {"prompt": "p2", "model": 7}),
        )
    )
    assert [type(item).__name__ for item in plan] == ["ChildCall", "Pending", "Pending", "Pending"]
    assert plan[0] == ChildCall("a", "p1", "d", "explorer", None)
    assert "unknown tool 'Bash'" in plan[1].error
    assert "non-empty string 'prompt'" in plan[2].error
    assert "must be strings" in plan[3].error


def test_results_answer_every_pending_call_by_tool_use_id_and_sum_the_subtree():
    waiting = state(usage=Usage(input_tokens=1, output_tokens=1, total_tokens=2)).awaiting(
        [
            Pending(tool_use_id="a", child_id="c1"),
            Pending(tool_use_id="b", error="unknown tool"),
            Pending(tool_use_id="c", child_id="c2"),
        ]
    )
    resumed = waiting.with_results(
        [
            {
                "text": "first",
                "usage": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10},
                "tree_jobs": 3,
            },
            {"error": {"type": "ModelNotInGeography", "message": "nope"}, "tree_jobs": 1},
        ]
    )
    blocks = [b["toolResult"] for b in resumed.messages[-1]["content"]]
    assert [(b["toolUseId"], b["status"]) for b in blocks] == [
        ("a", "success"),
        ("b", "error"),
        ("c", "error"),
    ]
    assert blocks[2]["content"][0]["text"] == "ModelNotInGeography: nope"
    assert (resumed.usage.total_tokens, resumed.tree_jobs) == (12, 5)
    assert (resumed.children, resumed.pending) == (["c1", "c2"], [])


def test_a_reply_is_recorded_with_its_usage():
    reply = Reply(
        text="t",
        stop_reason="end_turn",
        usage=Usage(total_tokens=4),
        message={"role": "assistant", "content": [{"text": "t"}]},
    )
    after = state().after_reply(reply)
    assert (after.turns, after.usage.total_tokens, after.messages[-1]["role"]) == (
        1,
        4,
        "assistant",
    )


@pytest.mark.parametrize(
    ("overrides", "depth", "children", "expected"),
    [
        ({"turns": 8}, 0, 0, STOP_MAX_TURNS),
        ({}, 3, 1, STOP_MAX_DEPTH),
        ({}, 3, 0, None),
        ({"children": ["x"] * 8}, 0, 1, STOP_MAX_CHILDREN),
        ({"children": ["x"] * 7}, 0, 1, None),
    ],
)
def test_limits_stop_the_loop_with_a_clear_reason(overrides, depth, children, expected):
    envelope = make_envelope(lineage=Lineage(root_id="r", depth=depth), limits=Limits())
    assert limit_reached(state(**overrides), envelope, children=children) == expected


HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("eu-west-1", f"eu.{HAIKU}"),
        ("ap-northeast-1", f"jp.{HAIKU}"),
        ("ap-southeast-2", f"au.{HAIKU}"),
        ("us-east-2", f"us.{HAIKU}"),
    ],
)
def test_an_explorer_on_haiku_resolves_with_the_parents_geography(region, expected):
    parent_model = resolve("claude-sonnet-4", region=region, cross_region=True)
    envelope = make_envelope(region=region, model_id=parent_model)
    assert job_model_id(envelope, BUILTINS.get("explorer"), None) == expected


def test_an_explorer_in_an_apac_region_without_haiku_fails_typed():
    with pytest.raises(ModelNotInGeography, match="it exists in: us, eu, jp, au, global"):
        job_model_id(make_envelope(region="ap-southeast-1"), BUILTINS.get("explorer"), None)


def test_an_explicit_model_beats_the_agents_and_the_inherited_one():
    envelope = make_envelope(region="eu-west-1")
    explorer, default = BUILTINS.get("explorer"), BUILTINS.get(None)
    assert job_model_id(envelope, explorer, "sonnet").startswith("eu.anthropic.claude-sonnet-4-5")
    assert job_model_id(envelope, default, None) == envelope.model_id
