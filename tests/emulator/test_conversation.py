"""Converse conversations Bedrock refuses with a 400, and what a valid one reduces to."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from emulator.conversation import (
    ALTERNATE_ROLES,
    START_WITH_USER,
    TOOL_CONFIG_REQUIRED,
    ToolResult,
    read_conversation,
)

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def _text(role: str, text: str) -> dict:
    return {"role": role, "content": [{"text": text}]}


def _asks(*tool_use_ids: str) -> dict:
    uses = [{"toolUse": {"toolUseId": i, "name": "Task", "input": {}}} for i in tool_use_ids]
    return {"role": "assistant", "content": uses}


def _answers(*tool_use_ids: str, status: str = "success") -> dict:
    results = [
        {"toolResult": {"toolUseId": i, "content": [{"text": f"ok {i}"}], "status": status}}
        for i in tool_use_ids
    ]
    return {"role": "user", "content": results}


def _refusal(client, messages, tools) -> dict:
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=tools)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value.response["Error"]


def test_a_tool_result_with_an_unknown_tool_use_id_is_a_validation_error(
    emulator, make_client, task_tools
):
    client = make_client(emulator)
    messages = [_text("user", "go"), _asks("tooluse_0_0_a"), _answers("tooluse_0_0_b")]

    error = _refusal(client, messages, task_tools)

    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        "messages.2.content.0.toolResult: toolUseId tooluse_0_0_b does not match any toolUse"
    )
    assert "tooluse_0_0_a" in error["Message"]


def test_a_tool_use_left_unanswered_is_a_validation_error_listing_its_id(
    emulator, make_client, task_tools
):
    client = make_client(emulator)
    messages = [_text("user", "go"), _asks("a", "b"), _answers("a")]

    error = _refusal(client, messages, task_tools)

    assert (
        error["Message"]
        == "Expected toolResult blocks at messages.2.content for the following Ids: b"
    )


def test_answering_one_tool_use_twice_is_a_validation_error(emulator, make_client, task_tools):
    client = make_client(emulator)
    messages = [_text("user", "go"), _asks("a"), _answers("a", "a")]

    error = _refusal(client, messages, task_tools)

    assert "number of toolResult blocks at messages.2.content exceeds" in error["Message"]


def test_a_tool_result_in_the_first_message_is_a_validation_error(
    emulator, make_client, task_tools
):
    client = make_client(emulator)

    error = _refusal(client, [_answers("a")], task_tools)

    assert "toolUseId a does not match any toolUse block" in error["Message"]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([_text("assistant", "hi"), _text("user", "go")], START_WITH_USER),
        ([_text("user", "go"), _text("user", "again")], ALTERNATE_ROLES),
        ([_text("user", "go"), _text("assistant", "a"), _text("assistant", "b")], ALTERNATE_ROLES),
    ],
    ids=["starts with assistant", "two user turns", "two assistant turns"],
)
def test_roles_that_do_not_alternate_from_the_user_are_a_validation_error(
    emulator, make_client, task_tools, messages, message
):
    client = make_client(emulator)

    assert _refusal(client, messages, task_tools)["Message"] == message


def test_tool_blocks_without_a_tool_config_are_a_validation_error(emulator, make_client):
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        client.converse(
            modelId=EU_PROFILE, messages=[_text("user", "go"), _asks("a"), _answers("a")]
        )

    assert caught.value.response["Error"]["Message"] == TOOL_CONFIG_REQUIRED


def test_a_role_outside_user_and_assistant_is_refused_on_the_wire(emulator, wire):
    body = json.dumps({"messages": [_text("system", "go")]}).encode()
    path = wire.model_path(EU_PROFILE)

    answer = wire.send(emulator, "POST", path, body=body, headers=wire.sign(emulator, path, body))

    assert answer.status == 400
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "Member must satisfy enum value set: [user, assistant]" in answer.json()["message"]


def test_a_valid_conversation_reduces_to_its_turn_texts_and_last_results():
    messages = [
        _text("user", "root prompt"),
        _asks("a", "b"),
        _answers("a", "b", status="error"),
    ]

    conversation = read_conversation(messages, tools_configured=True)

    assert conversation.first_text == "root prompt"
    assert conversation.turn == 1
    assert conversation.results == (ToolResult("a", "ok a", True), ToolResult("b", "ok b", True))
    assert conversation.texts == ("root prompt", "ok a", "ok b")


def test_results_are_only_read_from_a_final_user_message():
    messages = [_text("user", "go"), _asks("a"), _answers("a"), _text("assistant", "prefill")]

    conversation = read_conversation(messages, tools_configured=True)

    assert conversation.results == ()
    assert conversation.turn == 2
    assert conversation.last_text == ""
