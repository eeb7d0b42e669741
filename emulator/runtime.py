"""The Bedrock runtime operations answered in one piece: Converse and InvokeModel.

The answers are deterministic and say where they were served: ``[eu-west-1]
eu.anthropic.claude-sonnet-4-20250514-v1:0: <echo of the last user text>``. A test can then read
the region and model a subagent really used straight from its result text, and token counts
(word counts) are stable from run to run. Converse also plays a scripted agent: directives in the
first user message make it call tools (see :mod:`emulator.scripting`), and a turn that follows
tool results answers with a digest of them, so a test can check which results reached the parent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from emulator.bodies import load_object
from emulator.conversation import Conversation, ToolResult, read_conversation
from emulator.errors import MALFORMED, ValidationError
from emulator.responses import json_response
from emulator.scripting import TASK_TOOL, ToolCall, parse_script, plan_turn, tool_use_id
from emulator.server import Response

#: Enough of the prompt to recognise it in a result, short enough to keep responses small.
ECHO_CHARS = 120
#: Enough of each tool result to tell the children's answers apart in the parent's digest.
DIGEST_CHARS = 60


@dataclass(frozen=True, slots=True)
class Invocation:
    """One authorised, validated call: what to run, where, and the body the client sent."""

    model_id: str
    region: str
    body: bytes
    latency_ms: int = 0


def reply_text(*, region: str, model_id: str, prompt: str) -> str:
    """Return the deterministic answer: region, model ID and a short echo of ``prompt``."""
    echo = " ".join(prompt.split())
    if len(echo) > ECHO_CHARS:
        echo = echo[: ECHO_CHARS - 3] + "..."
    return f"[{region}] {model_id}: {echo}"


def count_tokens(texts: Iterable[str]) -> int:
    """Count words as tokens: crude, but deterministic and never zero for a real prompt."""
    return sum(len(text.split()) for text in texts)


def digest_text(*, region: str, model_id: str, results: tuple[ToolResult, ...]) -> str:
    """Return the answer to tool results: how many, and the start of each (``error:`` marked)."""
    gists = []
    for result in results:
        gist = " ".join(result.text.split())[:DIGEST_CHARS]
        gists.append(f"error: {gist}" if result.is_error else gist)
    return f"[{region}] {model_id}: got {len(results)} results: {' | '.join(gists)}"


@dataclass(frozen=True, slots=True)
class ConverseAnswer:
    """What the scripted model says to a Converse call, before it is shaped for the wire.

    Converse sends it as one JSON document and ConverseStream as events, so both are built from
    this one value and can never disagree.
    """

    text: str
    tool_uses: tuple[dict[str, Any], ...]
    stop_reason: str
    input_tokens: int
    output_tokens: int

    def usage(self) -> dict[str, int]:
        """Return the token counts in Converse's ``usage`` shape."""
        total = self.input_tokens + self.output_tokens
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": total,
        }


def answer_converse(invocation: Invocation) -> ConverseAnswer:
    """Validate a Converse body and decide the answer: text, tool uses, stop reason, tokens.

    Raises:
        ValidationError: the body or the conversation is one Bedrock refuses with a 400.
    """
    body = load_object(invocation.body)
    config = body.get("toolConfig")
    messages = _require_list(body, "messages")
    chat = read_conversation(messages, tools_configured=isinstance(config, dict))
    script = parse_script(chat.first_text)
    calls = plan_turn(script, turn=chat.turn, task_tool=TASK_TOOL in _tool_names(config))
    text = _converse_text(invocation, chat, calls)
    input_tokens = max(count_tokens([*_block_texts(body.get("system") or []), *chat.texts]), 1)
    return ConverseAnswer(
        text=text,
        tool_uses=tuple(_tool_uses(calls, turn=chat.turn)),
        stop_reason="tool_use" if calls else "end_turn",
        input_tokens=input_tokens,
        output_tokens=count_tokens([text, *_input_texts(calls)]),
    )


def converse(invocation: Invocation) -> Response:
    """Answer ``POST /model/{modelId}/converse`` with Bedrock's Converse response shape."""
    answer = answer_converse(invocation)
    content = [{"text": answer.text}, *({"toolUse": use} for use in answer.tool_uses)]
    return json_response(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": answer.stop_reason,
            "usage": answer.usage(),
            "metrics": {"latencyMs": invocation.latency_ms},
        }
    )


def answer_messages(invocation: Invocation) -> dict[str, Any]:
    """Validate an Anthropic Messages body and return the message the model answers with.

    Raises:
        ValidationError: a required key is missing, or the body is not a JSON object of valid
            Unicode (:func:`emulator.bodies.load_object`).
    """
    body = load_object(invocation.body)
    for key in ("anthropic_version", "max_tokens"):
        if key not in body:
            raise ValidationError(MALFORMED.format(detail=f"#: required key [{key}] not found"))
    messages = _require_list(body, "messages")
    system = body.get("system") or []
    texts = [system] if isinstance(system, str) else list(_block_texts(system))
    texts.extend(_message_texts(messages))
    answer = reply_text(
        region=invocation.region, model_id=invocation.model_id, prompt=_last_user_text(messages)
    )
    input_tokens, output_tokens = max(count_tokens(texts), 1), count_tokens([answer])
    digest = hashlib.sha256(f"{invocation.region}|{invocation.model_id}|{answer}".encode())
    return {
        "id": f"msg_bdrk_{digest.hexdigest()[:24]}",
        "type": "message",
        "role": "assistant",
        "model": invocation.model_id,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def invoke_model(invocation: Invocation) -> Response:
    """Answer ``POST /model/{modelId}/invoke`` with an Anthropic Messages API body."""
    payload = answer_messages(invocation)
    usage = payload["usage"]
    headers = (
        ("X-Amzn-Bedrock-Input-Token-Count", str(usage["input_tokens"])),
        ("X-Amzn-Bedrock-Output-Token-Count", str(usage["output_tokens"])),
        ("X-Amzn-Bedrock-Invocation-Latency", str(invocation.latency_ms)),
    )
    return json_response(payload, extra_headers=headers)


#: Operation name (as journaled) to the function that serves it.
OPERATIONS: dict[str, Callable[[Invocation], Response]] = {
    "Converse": converse,
    "InvokeModel": invoke_model,
}


def _require_list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list) or not value:
        raise ValidationError(MALFORMED.format(detail=f"#: required key [{key}] not found"))
    return value


def _converse_text(invocation: Invocation, chat: Conversation, calls: tuple[ToolCall, ...]) -> str:
    region, model_id = invocation.region, invocation.model_id
    if calls:
        return f"[{region}] {model_id}: calling {len(calls)} tool(s)"
    if chat.results:
        return digest_text(region=region, model_id=model_id, results=chat.results)
    return reply_text(region=region, model_id=model_id, prompt=chat.last_text)


def _tool_names(config: object) -> frozenset[str]:
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list):
        return frozenset()
    specs = (tool.get("toolSpec") for tool in tools if isinstance(tool, dict))
    return frozenset(
        spec["name"]
        for spec in specs
        if isinstance(spec, dict) and isinstance(spec.get("name"), str)
    )


def _tool_uses(calls: tuple[ToolCall, ...], *, turn: int) -> list[dict[str, Any]]:
    return [
        {
            "toolUseId": tool_use_id(call, turn=turn, index=index),
            "name": call.name,
            "input": call.input,
        }
        for index, call in enumerate(calls)
    ]


def _input_texts(calls: tuple[ToolCall, ...]) -> list[str]:
    return [value for call in calls for value in call.input.values() if isinstance(value, str)]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return " ".join(_content_texts(message.get("content")))
    return ""


def _message_texts(messages: list[Any]) -> list[str]:
    texts: list[str] = []
    for message in messages:
        if isinstance(message, dict):
            texts.extend(_content_texts(message.get("content")))
    return texts


def _content_texts(content: object) -> list[str]:
    """Collect the text of a message's content, in Converse or Anthropic form."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    texts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        nested = block.get("toolResult", block if block.get("type") == "tool_result" else None)
        if isinstance(nested, dict):
            texts.extend(_content_texts(nested.get("content")))
        else:
            texts.extend(_block_texts([block]))
    return texts


def _block_texts(blocks: object) -> list[str]:
    if not isinstance(blocks, list):
        return []
    return [
        block["text"]
        for block in blocks
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    ]
