"""The streaming runtime operations: ConverseStream and InvokeModelWithResponseStream.

The answers are the same as Converse's and InvokeModel's (built by :mod:`emulator.runtime` from
the same request), cut into the events Bedrock streams, each framed as an AWS event-stream
message and sent as one HTTP chunk. Text is cut every few words and tool input JSON every few
characters, so a client has to reassemble deltas exactly as it must against Bedrock. Everything
is decided before the first byte, so a bad request is still a plain JSON 400, never a broken
stream.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from emulator.eventstream import CONTENT_TYPE, event
from emulator.responses import request_id
from emulator.runtime import Invocation, answer_converse, answer_messages
from emulator.server import Response

#: Words per text delta: several deltas per answer, so reassembly is exercised.
DELTA_WORDS = 3
#: Characters per toolUse input delta: partial JSON, as Bedrock sends it.
INPUT_DELTA_CHARS = 32

_WORD = re.compile(r"\S+")


def text_deltas(text: str, *, words: int = DELTA_WORDS) -> list[str]:
    """Cut ``text`` every ``words`` words; the pieces join back to exactly ``text``."""
    starts = [match.start() for match in _WORD.finditer(text)][::words]
    if not starts:
        return [text] if text else []
    starts[0] = 0
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def _stream_response(events: list[bytes], *extra: tuple[str, str]) -> Response:
    headers = (("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", request_id()), *extra)
    return Response(200, headers=headers, chunks=tuple(events))


def converse_stream(invocation: Invocation) -> Response:
    """Answer ``POST /model/{modelId}/converse-stream`` with ConverseStream's events."""
    answer = answer_converse(invocation)
    events = [event("messageStart", {"role": "assistant"})]
    events.extend(
        event("contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": 0})
        for piece in text_deltas(answer.text)
    )
    events.append(event("contentBlockStop", {"contentBlockIndex": 0}))
    for index, use in enumerate(answer.tool_uses, start=1):
        events.extend(_tool_use_events(use, index))
    events.append(event("messageStop", {"stopReason": answer.stop_reason}))
    metadata = {"usage": answer.usage(), "metrics": {"latencyMs": invocation.latency_ms}}
    events.append(event("metadata", metadata))
    return _stream_response(events)


def _tool_use_events(use: dict[str, Any], index: int) -> list[bytes]:
    start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
    events = [event("contentBlockStart", {"start": start, "contentBlockIndex": index})]
    raw = json.dumps(use["input"], separators=(",", ":"))
    for offset in range(0, len(raw), INPUT_DELTA_CHARS):
        delta = {"toolUse": {"input": raw[offset : offset + INPUT_DELTA_CHARS]}}
        events.append(event("contentBlockDelta", {"delta": delta, "contentBlockIndex": index}))
    events.append(event("contentBlockStop", {"contentBlockIndex": index}))
    return events


def invoke_model_with_response_stream(invocation: Invocation) -> Response:
    """Answer ``POST /model/{modelId}/invoke-with-response-stream`` with Anthropic stream events.

    Each event is a ``chunk`` whose ``bytes`` are the base64 of one Anthropic streaming JSON
    event; the last one carries ``amazon-bedrock-invocationMetrics`` as Bedrock's does.
    """
    message = answer_messages(invocation)
    text = message["content"][0]["text"]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {"input_tokens": usage["input_tokens"], "output_tokens": 1}
    parts: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    parts.extend(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
        for p in text_deltas(text)
    )
    metrics = {
        "inputTokenCount": usage["input_tokens"],
        "outputTokenCount": usage["output_tokens"],
        "invocationLatency": invocation.latency_ms,
        "firstByteLatency": invocation.latency_ms,
    }
    parts += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics},
    ]
    events = [event("chunk", {"bytes": _b64(part)}) for part in parts]
    return _stream_response(events, ("X-Amzn-Bedrock-Content-Type", "application/json"))


def _b64(part: dict[str, Any]) -> str:
    raw = json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")
