"""Scripted tool use: directives in the first prompt make Converse call tools, via real boto3."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from emulator import task_directive, tree_directive
from emulator.errors import ValidationError
from emulator.scripting import MAX_TREE_WIDTH, parse_script

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
PREFIX = f"[eu-west-1] {EU_PROFILE}"


def _user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"text": text}]}]


def _uses(response) -> list[dict]:
    return [block["toolUse"] for block in response["output"]["message"]["content"][1:]]


def _results(response, texts: list[str], *, status: str = "success") -> dict:
    blocks = [
        {
            "toolResult": {
                "toolUseId": use["toolUseId"],
                "content": [{"text": text}],
                "status": status,
            }
        }
        for use, text in zip(_uses(response), texts, strict=True)
    ]
    return {"role": "user", "content": blocks}


def _run_agent(client, prompt: str, tools: dict) -> str:
    """Drive one agent loop to the end, running every Task call as a child agent, depth first."""
    messages = _user(prompt)
    while True:
        response = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=tools)
        if response["stopReason"] != "tool_use":
            return response["output"]["message"]["content"][0]["text"]
        answers = [_run_agent(client, use["input"]["prompt"], tools) for use in _uses(response)]
        messages += [response["output"]["message"], _results(response, answers)]


def test_a_tree_directive_yields_one_task_call_per_child_with_the_next_depth(
    emulator, make_client, task_tools
):
    client = make_client(emulator)

    response = client.converse(
        modelId=EU_PROFILE, messages=_user("Plan <<tree depth=2 width=3>>"), toolConfig=task_tools
    )

    assert response["stopReason"] == "tool_use"
    assert response["output"]["message"]["content"][0] == {"text": f"{PREFIX}: calling 3 tool(s)"}
    assert [(use["name"], use["input"]) for use in _uses(response)] == [
        ("Task", {"description": f"child {i}", "prompt": f"child {i} at depth 2: {inner}"})
        for i, inner in enumerate(["<<tree depth=1 width=3>>"] * 3)
    ]


def test_a_tree_directive_hands_its_agent_and_model_to_every_child(
    emulator, make_client, task_tools
):
    client = make_client(emulator)
    prompt = tree_directive(depth=1, width=2, agent="code-explorer", model="haiku")

    response = client.converse(modelId=EU_PROFILE, messages=_user(prompt), toolConfig=task_tools)

    assert _uses(response)[1]["input"] == {
        "description": "child 1",
        "prompt": "child 1 at depth 1: <<tree depth=0 width=2 agent=code-explorer model=haiku>>",
        "subagent_type": "code-explorer",
        "model": "haiku",
    }


def test_a_tree_of_depth_zero_answers_with_text(emulator, make_client, task_tools):
    client = make_client(emulator)

    response = client.converse(
        modelId=EU_PROFILE, messages=_user("leaf <<tree depth=0 width=4>>"), toolConfig=task_tools
    )

    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["content"] == [
        {"text": f"{PREFIX}: leaf <<tree depth=0 width=4>>"}
    ]


def test_a_nested_task_directive_reaches_the_child_intact(emulator, make_client, task_tools):
    client = make_client(emulator)
    grandchild = task_directive(description="leaf", prompt='say "hi" <<tree depth=0 width=1>>')
    child = task_directive(
        description="middle", prompt=f"delegate {grandchild}", subagent_type="planner"
    )

    parent = client.converse(modelId=EU_PROFILE, messages=_user(child), toolConfig=task_tools)
    middle = _uses(parent)[0]["input"]
    nested = client.converse(
        modelId=EU_PROFILE, messages=_user(middle["prompt"]), toolConfig=task_tools
    )

    assert len(_uses(parent)) == 1
    assert middle == {
        "description": "middle",
        "prompt": f"delegate {grandchild}",
        "subagent_type": "planner",
    }
    assert _uses(nested)[0]["input"] == {
        "description": "leaf",
        "prompt": 'say "hi" <<tree depth=0 width=1>>',
    }


def test_several_directives_become_tool_uses_in_their_order(emulator, make_client, task_tools):
    client = make_client(emulator)
    prompt = (
        task_directive(description="first", prompt="a")
        + " then <<tool Grep {}>> and "
        + task_directive(description="last", prompt="b")
    )

    response = client.converse(modelId=EU_PROFILE, messages=_user(prompt), toolConfig=task_tools)

    assert [use["name"] for use in _uses(response)] == ["Task", "Grep", "Task"]
    assert _uses(response)[2]["input"]["description"] == "last"


def test_tool_use_ids_are_deterministic_unique_and_valid_for_bedrock(
    emulator, make_client, task_tools
):
    client = make_client(emulator)
    messages = _user("<<tree depth=3 width=5>>")

    first = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)
    second = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)

    ids = [use["toolUseId"] for use in _uses(first)]
    assert ids == [use["toolUseId"] for use in _uses(second)]
    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool_use_id) for tool_use_id in ids)
    assert first["usage"] == second["usage"]


def test_a_follow_up_with_tool_results_ends_the_turn_with_a_digest(
    emulator, make_client, task_tools
):
    client = make_client(emulator)
    messages = _user("<<tree depth=1 width=2>>")
    first = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)
    messages += [first["output"]["message"], _results(first, ["alpha\n" + "x" * 80, "beta"])]

    response = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)

    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["content"] == [
        {"text": f"{PREFIX}: got 2 results: alpha {'x' * 54} | beta"}
    ]


def test_error_results_are_marked_in_the_digest(emulator, make_client, task_tools):
    client = make_client(emulator)
    messages = _user("<<tool Unknown {}>>")
    first = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)
    messages += [first["output"]["message"], _results(first, ["no such tool"], status="error")]

    response = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)

    assert response["output"]["message"]["content"][0]["text"].endswith(
        "got 1 results: error: no such tool"
    )


def test_a_loop_directive_keeps_asking_for_a_task_after_every_result(
    emulator, make_client, task_tools
):
    client = make_client(emulator)
    messages = _user("<<loop>>")
    seen = []
    for _ in range(4):
        response = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)
        seen.append((response["stopReason"], _uses(response)[0]["input"]["prompt"]))
        messages += [response["output"]["message"], _results(response, ["done"])]

    assert seen == [("tool_use", "loop <<loop>>")] * 4
    assert _uses(response)[0]["toolUseId"].startswith("tooluse_3_0_")


def test_a_tool_directive_emits_an_arbitrary_tool_even_without_a_tool_config(emulator, make_client):
    client = make_client(emulator)

    response = client.converse(
        modelId=EU_PROFILE, messages=_user('<<tool web_search {"query": "eu regions"}>>')
    )

    assert response["stopReason"] == "tool_use"
    assert _uses(response) == [
        {
            "toolUseId": _uses(response)[0]["toolUseId"],
            "name": "web_search",
            "input": {"query": "eu regions"},
        }
    ]


@pytest.mark.parametrize(
    "tool_config",
    [None, {"tools": [{"toolSpec": {"name": "Read", "inputSchema": {"json": {}}}}]}],
    ids=["no tool config", "no Task tool"],
)
def test_without_a_task_tool_a_directive_gets_plain_text(emulator, make_client, tool_config):
    client = make_client(emulator)
    extra = {"toolConfig": tool_config} if tool_config else {}

    response = client.converse(
        modelId=EU_PROFILE, messages=_user("<<tree depth=2 width=2>> <<loop>>"), **extra
    )

    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["content"] == [
        {"text": f"{PREFIX}: <<tree depth=2 width=2>> <<loop>>"}
    ]


def test_a_malformed_directive_is_a_validation_error_naming_it(emulator, make_client, task_tools):
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        client.converse(
            modelId=EU_PROFILE, messages=_user('go <<task {"prompt": 1}>>'), toolConfig=task_tools
        )

    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "<<task>> directive at character 3" in error["Message"]
    assert '"description" must be a string' in error["Message"]


def test_a_whole_tree_can_be_driven_to_the_end(emulator, make_client, task_tools):
    client = make_client(emulator)

    text = _run_agent(client, "root <<tree depth=2 width=2>>", task_tools)

    child_digest = f"{PREFIX}: got 2 results"[:60]  # each result is cut to 60 characters
    assert text == f"{PREFIX}: got 2 results: {child_digest} | {child_digest}"
    assert len(emulator.calls()) == 7 + 3  # one call per agent, plus one follow-up per parent


def test_directives_nested_in_task_json_are_not_read_at_the_top_level():
    inner = task_directive(description="x", prompt="<<loop>> <<tree depth=5 width=9>>")

    script = parse_script(f"<< not a directive {inner} <<tool Bash>>")

    assert not script.loop
    assert [call.name for call in script.calls] == ["Task", "Bash"]
    assert script.calls[1].input == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<<task {}", "must be a string"),
        ('<<task {"description": "d", "prompt": "p"}', "expected >>"),
        ("<<task [1]>>", "must be an object"),
        ("<<task {oops}>>", "does not decode"),
        ("<<tree depth=2>>", "width= must be a whole number"),
        ("<<tree depth=1 width=2 colour=red>>", "unknown argument colour="),
        (f"<<tree depth=1 width={MAX_TREE_WIDTH + 1}>>", "over the limit"),
        ("<<tool >>", "expected a tool name"),
        ("<<loop forever>>", "expected >>"),
    ],
)
def test_unreadable_directives_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValidationError, match=re.escape(reason)):
        parse_script(text)
