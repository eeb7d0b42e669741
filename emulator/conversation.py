"""Reading a Converse conversation the way Bedrock validates it, in one pass.

Bedrock refuses a conversation that does not start with a user message, whose roles do not
alternate, or whose tool use does not pair up: every toolUse of an assistant message must be
answered by a toolResult carrying its toolUseId in the very next user message, and a toolResult
must answer a toolUse of the message just before it. A worker whose Converse loop gets this wrong
sees the same 400 ValidationException here as it would from Bedrock. The same pass collects what
the scripted model needs, so a request is walked once: the handler is benchmarked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import MALFORMED, ValidationError

START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
ALTERNATE_ROLES = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)
TOOL_CONFIG_REQUIRED = (
    "The toolConfig field must be defined when using toolUse and toolResult content blocks."
)
_ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One toolResult block: which toolUse it answers, its text, and whether it reports an error."""

    tool_use_id: str
    text: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    """A validated conversation, reduced to what the scripted model reads.

    Attributes:
        first_text: the text blocks of the first user message, where directives live.
        last_text: the text blocks of the last user message, which a plain answer echoes.
        turn: how many assistant messages came before: 0 on the first call.
        results: the toolResult blocks of the last message, when it is a user message.
        texts: every text and toolResult text, system prompt excluded, for counting tokens.
    """

    first_text: str
    last_text: str
    turn: int
    results: tuple[ToolResult, ...]
    texts: tuple[str, ...]


@dataclass(slots=True)
class _Blocks:
    text: str = ""
    texts: list[str] = field(default_factory=list)
    uses: list[str] = field(default_factory=list)
    results: list[tuple[int, ToolResult]] = field(default_factory=list)


def read_conversation(messages: list[Any], *, tools_configured: bool) -> Conversation:
    """Validate ``messages`` as Bedrock does and return what the answer depends on.

    Args:
        messages: the request's ``messages``, non-empty.
        tools_configured: whether the request has a ``toolConfig``.

    Raises:
        ValidationError: the conversation is one Bedrock refuses with a 400.
    """
    texts: list[str] = []
    first_text = last_text = ""
    expected: list[str] = []
    results: tuple[ToolResult, ...] = ()
    for index, message in enumerate(messages):
        blocks = _read_blocks(_content_of(message, index), index)
        texts.extend(blocks.texts)
        if (blocks.uses or blocks.results) and not tools_configured:
            raise ValidationError(TOOL_CONFIG_REQUIRED)
        if index % 2:
            expected = blocks.uses
            continue
        _match_results(index, expected, blocks.results)
        expected, last_text = [], blocks.text
        results = tuple(result for _, result in blocks.results)
        first_text = first_text if index else blocks.text
    if not len(messages) % 2:
        results = ()
    return Conversation(first_text, last_text, len(messages) // 2, results, tuple(texts))


def _content_of(message: object, index: int) -> list[Any]:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in _ROLES:
        raise ValidationError(
            f"1 validation error detected: Value '{role}' at 'messages.{index + 1}.member.role' "
            "failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"
        )
    if role != _ROLES[index % 2]:
        raise ValidationError(START_WITH_USER if index == 0 else ALTERNATE_ROLES)
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        raise ValidationError(
            MALFORMED.format(detail=f"#/messages/{index}/content: expected type: JSONArray")
        )
    return content


def _read_blocks(content: list[Any], index: int) -> _Blocks:
    blocks = _Blocks()
    plain: list[str] = []
    for position, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            plain.append(block["text"])
        elif "toolUse" in block:
            where = f"{index}/content/{position}/toolUse"
            blocks.uses.append(_tool_use_id(block["toolUse"], where))
        elif "toolResult" in block:
            result = _tool_result(block["toolResult"], f"{index}/content/{position}/toolResult")
            blocks.results.append((position, result))
    blocks.text = " ".join(plain)
    blocks.texts = plain + [result.text for _, result in blocks.results if result.text]
    return blocks


def _tool_use_id(block: object, where: str) -> str:
    tool_use_id = block.get("toolUseId") if isinstance(block, dict) else None
    if not isinstance(tool_use_id, str):
        detail = f"#/messages/{where}: required key [toolUseId] not found"
        raise ValidationError(MALFORMED.format(detail=detail))
    return tool_use_id


def _tool_result(block: object, where: str) -> ToolResult:
    if not isinstance(block, dict):
        detail = f"#/messages/{where}: expected type: JSONObject"
        raise ValidationError(MALFORMED.format(detail=detail))
    tool_use_id = _tool_use_id(block, where)
    content = block.get("content") or []
    if not isinstance(content, list):
        detail = f"#/messages/{where}/content: expected type: JSONArray"
        raise ValidationError(MALFORMED.format(detail=detail))
    parts: list[str] = []
    for item in content:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            parts.append(item["text"])
        elif isinstance(item, dict) and "json" in item:
            parts.append(json.dumps(item["json"], sort_keys=True))
    return ToolResult(tool_use_id, " ".join(parts), block.get("status") == "error")


def _match_results(index: int, expected: list[str], results: list[tuple[int, ToolResult]]) -> None:
    if not expected and not results:
        return
    for position, result in results:
        if result.tool_use_id not in expected:
            raise ValidationError(
                f"messages.{index}.content.{position}.toolResult: toolUseId "
                f"{result.tool_use_id} does not match any toolUse block of the previous "
                f"assistant message (its toolUseIds: {', '.join(expected) or 'none'}). Answer "
                "each toolUse with exactly one toolResult carrying its toolUseId."
            )
    if len(results) > len(expected):
        raise ValidationError(
            f"The number of toolResult blocks at messages.{index}.content exceeds the number of "
            "toolUse blocks of previous turn."
        )
    answered = {result.tool_use_id for _, result in results}
    missing = [tool_use_id for tool_use_id in expected if tool_use_id not in answered]
    if missing:
        raise ValidationError(
            f"Expected toolResult blocks at messages.{index}.content for the following Ids: "
            f"{', '.join(missing)}"
        )
