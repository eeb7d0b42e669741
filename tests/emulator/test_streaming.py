"""ConverseStream and InvokeModelWithResponseStream through real boto3 event-stream parsing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from emulator import task_directive
from emulator.streaming import text_deltas

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
PROMPT = "one two three four five six seven eight nine ten"


def _user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"text": text}]}]


def _anthropic_body(text: str) -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": text}],
        }
    )


@given(st.text(alphabet=" \tab\n", max_size=40), st.integers(min_value=1, max_value=5))
def test_text_deltas_join_back_to_exactly_the_text(text, words):
    assert "".join(text_deltas(text, words=words)) == text


def test_text_deltas_cut_every_few_words():
    assert text_deltas("a b c d e f g", words=3) == ["a b c ", "d e f ", "g"]


def test_converse_stream_sends_the_events_of_the_converse_answer(emulator, make_client):
    client = make_client(emulator)

    whole = client.converse(modelId=EU_PROFILE, messages=_user(PROMPT))
    events = list(client.converse_stream(modelId=EU_PROFILE, messages=_user(PROMPT))["stream"])

    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart"
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) > 1
    assert "".join(deltas) == whole["output"]["message"]["content"][0]["text"]
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}
    assert events[-1]["metadata"]["usage"] == whole["usage"]
    assert events[-1]["metadata"]["metrics"] == {"latencyMs": 0}


def test_converse_stream_answers_with_the_event_stream_content_type(emulator, make_client):
    response = make_client(emulator).converse_stream(modelId=EU_PROFILE, messages=_user("x"))

    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["transfer-encoding"] == "chunked"
    list(response["stream"])


def test_scripted_tool_use_streams_a_start_and_input_deltas(emulator, make_client, task_tools):
    client = make_client(emulator)
    long_prompt = "a prompt long enough to be cut into several input deltas " * 2
    directive = task_directive(description="explore", prompt=long_prompt)
    messages = _user(directive)

    whole = client.converse(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)
    events = list(
        client.converse_stream(modelId=EU_PROFILE, messages=messages, toolConfig=task_tools)[
            "stream"
        ]
    )

    expected = whole["output"]["message"]["content"][1]["toolUse"]
    (start,) = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert start == {
        "start": {"toolUse": {"toolUseId": expected["toolUseId"], "name": "Task"}},
        "contentBlockIndex": 1,
    }
    pieces = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {})
    ]
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == expected["input"]
    assert events[-2]["messageStop"] == {"stopReason": "tool_use"}


def test_invoke_model_with_response_stream_sends_anthropic_stream_events(emulator, make_client):
    client = make_client(emulator)
    body = _anthropic_body(PROMPT)

    whole = json.loads(client.invoke_model(modelId=EU_PROFILE, body=body)["body"].read())
    response = client.invoke_model_with_response_stream(modelId=EU_PROFILE, body=body)
    parts = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]

    assert response["contentType"] == "application/json"
    assert [p["type"] for p in parts][:2] == ["message_start", "content_block_start"]
    assert [p["type"] for p in parts][-3:] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert parts[0]["message"]["id"] == whole["id"]
    assert parts[0]["message"]["content"] == []
    text = "".join(p["delta"]["text"] for p in parts if p["type"] == "content_block_delta")
    assert text == whole["content"][0]["text"]
    assert parts[-2]["delta"]["stop_reason"] == "end_turn"
    assert parts[-2]["usage"]["output_tokens"] == whole["usage"]["output_tokens"]
    assert (
        parts[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"]
        == (whole["usage"]["input_tokens"])
    )


def test_a_stream_from_a_disallowed_region_is_a_plain_403_before_streaming(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse_stream(
            modelId="us.anthropic.claude-sonnet-4-20250514-v1:0", messages=_user("x")
        )

    error = caught.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert "perform: bedrock:InvokeModelWithResponseStream on resource" in error["Error"]["Message"]


def test_a_stream_with_a_bad_model_or_body_is_a_plain_400(emulator, make_client):
    client = make_client(emulator)

    with pytest.raises(ClientError) as bad_model:
        client.converse_stream(modelId="us.anthropic.x-v1:0", messages=_user("x"))
    with pytest.raises(ClientError) as bad_body:
        client.invoke_model_with_response_stream(modelId=EU_PROFILE, body=b"{}")

    assert bad_model.value.response["Error"]["Code"] == "ValidationException"
    assert "required key [anthropic_version]" in bad_body.value.response["Error"]["Message"]


def test_streamed_calls_are_journaled_under_their_operation(emulator, make_client):
    client = make_client(emulator)
    list(client.converse_stream(modelId=EU_PROFILE, messages=_user("x"))["stream"])
    list(
        client.invoke_model_with_response_stream(modelId=EU_PROFILE, body=_anthropic_body("x"))[
            "body"
        ]
    )

    calls = emulator.calls()

    assert [(c.operation, c.status) for c in calls] == [
        ("ConverseStream", 200),
        ("InvokeModelWithResponseStream", 200),
    ]
