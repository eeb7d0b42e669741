"""The Bedrock runtime operations the emulator serves: Converse and InvokeModel.

The answers are deterministic and say where they were served: ``[eu-west-1]
eu.anthropic.claude-sonnet-4-20250514-v1:0: <echo of the last user text>``. A test can then read
the region and model a subagent really used straight from its result text, and token counts
(word counts) are stable from run to run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from emulator.errors import ValidationError
from emulator.responses import json_response
from emulator.server import Response

#: Enough of the prompt to recognise it in a result, short enough to keep responses small.
ECHO_CHARS = 120

MALFORMED = "Malformed input request: {detail}, please reformat your input and try again."


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


def converse(invocation: Invocation) -> Response:
    """Answer ``POST /model/{modelId}/converse`` with Bedrock's Converse response shape."""
    body = _load_object(invocation.body)
    messages = _require_list(body, "messages")
    texts = [*_block_texts(body.get("system") or []), *_message_texts(messages)]
    answer = reply_text(
        region=invocation.region, model_id=invocation.model_id, prompt=_last_user_text(messages)
    )
    input_tokens, output_tokens = max(count_tokens(texts), 1), count_tokens([answer])
    return json_response(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": invocation.latency_ms},
        }
    )


def invoke_model(invocation: Invocation) -> Response:
    """Answer ``POST /model/{modelId}/invoke`` with an Anthropic Messages API body."""
    body = _load_object(invocation.body)
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
    payload = {
        "id": f"msg_bdrk_{digest.hexdigest()[:24]}",
        "type": "message",
        "role": "assistant",
        "model": invocation.model_id,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    headers = (
        ("X-Amzn-Bedrock-Input-Token-Count", str(input_tokens)),
        ("X-Amzn-Bedrock-Output-Token-Count", str(output_tokens)),
        ("X-Amzn-Bedrock-Invocation-Latency", str(invocation.latency_ms)),
    )
    return json_response(payload, extra_headers=headers)


#: Operation name (as journaled) to the function that serves it.
OPERATIONS: dict[str, Callable[[Invocation], Response]] = {
    "Converse": converse,
    "InvokeModel": invoke_model,
}


def _load_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(MALFORMED.format(detail="body is not valid JSON")) from None
    if not isinstance(body, dict):
        raise ValidationError(MALFORMED.format(detail="#: expected type: JSONObject"))
    return body


def _require_list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list) or not value:
        raise ValidationError(MALFORMED.format(detail=f"#: required key [{key}] not found"))
    return value


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
