"""Scripted tool use: directives in a prompt that make the emulated model call tools.

A test drives an agent loop by writing what the "model" should do into the first user message.
The directives are read from the text blocks of ``messages[0]`` only, left to right:

``<<task {JSON}>>``
    One ``Task`` call whose input is the JSON object: ``description`` and ``prompt`` (strings),
    optional ``subagent_type`` and ``model`` (strings); other keys pass through. The object is
    decoded with ``json.JSONDecoder.raw_decode``, so its ``prompt`` may hold nested directives
    (JSON-escaped) for the child, which is how a test builds a deep, uneven tree.
``<<tree depth=D width=W [agent=NAME] [model=M]>>``
    W ``Task`` calls when D > 0. Child ``i`` (0-based) gets description ``child {i}`` and prompt
    ``child {i} at depth {D}: <<tree depth={D-1} width={W} ...>>`` with the same agent/model,
    plus ``subagent_type``/``model`` when given. ``depth=0`` answers with text.
``<<loop>>``
    Every turn, even after tool results, answers with one ``Task`` call whose prompt is
    ``loop <<loop>>``: for testing depth and turn limits. It wins over the other directives.
``<<tool NAME {JSON}>>``
    One call of any tool ``NAME`` (``[a-zA-Z0-9_-]{1,64}``) with the JSON input, ``{}`` when it
    is left out. Its input is not checked, so ``<<tool Task {...}>>`` sends a malformed Task.

``<<task>>``, ``<<tree>>`` and ``<<loop>>`` call ``Task`` only when the request's
``toolConfig.tools`` offers a toolSpec named ``Task``; ``<<tool>>`` is emitted regardless. All but
``<<loop>>`` act on the first assistant turn only, when the request holds no assistant message.
A directive that cannot be read, or a width over :data:`MAX_TREE_WIDTH`, is a 400
ValidationException naming it and its position.

The answer (built in :mod:`emulator.runtime`): a tool-use turn is a text block ``[{region}]
{model_id}: calling {n} tool(s)`` then the toolUse blocks, ``stopReason: tool_use``; each
toolUseId is ``tooluse_{turn}_{i}_{8 hex of sha256(name, input)}``. A later turn whose last user
message holds toolResults ends the turn with ``[{region}] {model_id}: got {n} results: {r0} |
{r1}``, each result's text with whitespace collapsed, cut to 60 characters, and prefixed
``error: `` when its status is ``error``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from emulator.bodies import find_lone_surrogate
from emulator.errors import ValidationError

#: The one tool Baton's worker offers: starting a subagent.
TASK_TOOL = "Task"
#: More children per turn than any real model asks for; it keeps one scripted answer small.
MAX_TREE_WIDTH = 100
#: Digits a ``depth=`` or ``width=`` may have: Python's int() refuses over 4,300 with a
#: ValueError, and no tree a test drives is deeper than a billion levels.
MAX_COUNT_DIGITS = 9
#: The prompt of every ``<<loop>>`` call: the child loops too, so only a limit stops the tree.
LOOP_PROMPT = "loop <<loop>>"

_OPENER = re.compile(r"<<(task|tree|loop|tool)(?![\w-])")
_CLOSER = re.compile(r"\s*>>")
_SPACE = re.compile(r"\s*")
_TREE_ARGS = re.compile(r"((?:\s+[a-z]+=[^\s>]+)*)\s*>>")
_TOOL_NAME = re.compile(r"\s+([a-zA-Z0-9_-]{1,64})(?![\w-])")
_TREE_KEYS = frozenset({"depth", "width", "agent", "model"})
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One toolUse the scripted model makes.

    Attributes:
        name: the tool's name.
        input: the tool's input, sent as the toolUse block's ``input``.
        needs_task_tool: whether the call is made only when the request offers ``Task``.
    """

    name: str
    input: dict[str, Any]
    needs_task_tool: bool = True


@dataclass(frozen=True, slots=True)
class Script:
    """What a first user message asks the model to do: its calls, in order, and whether to loop."""

    calls: tuple[ToolCall, ...] = ()
    loop: bool = False


_NO_SCRIPT = Script()
_LOOP_CALL = ToolCall(TASK_TOOL, {"description": "loop", "prompt": LOOP_PROMPT})


def task_directive(
    *, description: str, prompt: str, subagent_type: str | None = None, model: str | None = None
) -> str:
    """Return a ``<<task {JSON}>>`` directive, escaping ``prompt`` (nested directives too)."""
    data = {"description": description, "prompt": prompt}
    data.update({k: v for k, v in (("subagent_type", subagent_type), ("model", model)) if v})
    return f"<<task {json.dumps(data)}>>"


def tree_directive(
    *, depth: int, width: int, agent: str | None = None, model: str | None = None
) -> str:
    """Return a ``<<tree ...>>`` directive."""
    extra = "".join(
        f" {key}={value}" for key, value in (("agent", agent), ("model", model)) if value
    )
    return f"<<tree depth={depth} width={width}{extra}>>"


def parse_script(text: str) -> Script:
    """Read every directive of ``text``, left to right.

    Raises:
        ValidationError: a directive is malformed; the message names it and its position.
    """
    if "<<" not in text:
        return _NO_SCRIPT
    calls: list[ToolCall] = []
    loop = False
    position = 0
    while (opener := _OPENER.search(text, position)) is not None:
        kind, start = opener[1], opener.start()
        if kind == "loop":
            loop, position = True, _expect_closer(text, opener.end(), kind=kind, start=start)
        else:
            found, position = _PARSERS[kind](text, opener.end(), start=start)
            calls.extend(found)
    return Script(tuple(calls), loop)


def plan_turn(script: Script, *, turn: int, task_tool: bool) -> tuple[ToolCall, ...]:
    """Return the calls of assistant turn ``turn`` (0 is the first); Task ones need Task offered."""
    if script.loop and task_tool:
        return (_LOOP_CALL,)
    if turn:
        return ()
    return tuple(call for call in script.calls if task_tool or not call.needs_task_tool)


def tool_use_id(call: ToolCall, *, turn: int, index: int) -> str:
    """Return a deterministic ID, unique in its conversation, matching ``^[a-zA-Z0-9_-]{1,64}$``."""
    canonical = json.dumps([call.name, call.input], sort_keys=True, separators=(",", ":"))
    return f"tooluse_{turn}_{index}_{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


def tree_calls(
    *, depth: int, width: int, agent: str | None = None, model: str | None = None
) -> tuple[ToolCall, ...]:
    """Return the Task calls of ``<<tree depth=D width=W ...>>``: none at depth 0."""
    if depth <= 0:
        return ()
    inner = tree_directive(depth=depth - 1, width=width, agent=agent, model=model)
    extra = {k: v for k, v in (("subagent_type", agent), ("model", model)) if v}
    return tuple(
        ToolCall(
            TASK_TOOL,
            {
                "description": f"child {i}",
                "prompt": f"child {i} at depth {depth}: {inner}",
                **extra,
            },
        )
        for i in range(width)
    )


def _parse_task(text: str, position: int, *, start: int) -> tuple[tuple[ToolCall, ...], int]:
    data, end = _decode_object(text, position, kind="task", start=start)
    for key in ("description", "prompt"):
        if not isinstance(data.get(key), str):
            raise _malformed("task", start, f'"{key}" must be a string')
    for key in ("subagent_type", "model"):
        if key in data and not isinstance(data[key], str):
            raise _malformed("task", start, f'"{key}" must be a string when given')
    return (ToolCall(TASK_TOOL, data),), _expect_closer(text, end, kind="task", start=start)


def _parse_tool(text: str, position: int, *, start: int) -> tuple[tuple[ToolCall, ...], int]:
    name = _TOOL_NAME.match(text, position)
    if name is None:
        raise _malformed("tool", start, "expected a tool name of 1 to 64 of [a-zA-Z0-9_-]")
    closer = _CLOSER.match(text, name.end())
    if closer is not None:
        return (ToolCall(name[1], {}, needs_task_tool=False),), closer.end()
    data, end = _decode_object(text, name.end(), kind="tool", start=start)
    call = ToolCall(name[1], data, needs_task_tool=False)
    return (call,), _expect_closer(text, end, kind="tool", start=start)


def _parse_tree(text: str, position: int, *, start: int) -> tuple[tuple[ToolCall, ...], int]:
    match = _TREE_ARGS.match(text, position)
    if match is None:
        raise _malformed("tree", start, "expected key=value arguments, then >>")
    args = dict(pair.split("=", 1) for pair in match[1].split())
    unknown = sorted(set(args) - _TREE_KEYS)
    if unknown:
        raise _malformed("tree", start, f"unknown argument {unknown[0]}=")
    depth, width = _count(args, "depth", start=start), _count(args, "width", start=start)
    if width > MAX_TREE_WIDTH:
        raise _malformed("tree", start, f"width={width} is over the limit of {MAX_TREE_WIDTH}")
    calls = tree_calls(depth=depth, width=width, agent=args.get("agent"), model=args.get("model"))
    return calls, match.end()


_PARSERS = {"task": _parse_task, "tree": _parse_tree, "tool": _parse_tool}


def _count(args: dict[str, str], key: str, *, start: int) -> int:
    value = args.get(key, "")
    if not (value.isascii() and value.isdigit()):
        raise _malformed("tree", start, f"{key}= must be a whole number, 0 or more")
    if len(value) > MAX_COUNT_DIGITS:
        raise _malformed("tree", start, f"{key}= has more than {MAX_COUNT_DIGITS} digits")
    return int(value)


def _decode_object(
    text: str, position: int, *, kind: str, start: int
) -> tuple[dict[str, Any], int]:
    begin = _SPACE.match(text, position)
    try:
        data, end = _DECODER.raw_decode(text, begin.end() if begin else position)
    except (ValueError, RecursionError) as exc:
        raise _malformed(kind, start, f"its JSON does not decode ({exc})") from exc
    if not isinstance(data, dict):
        raise _malformed(kind, start, "its JSON must be an object")
    surrogate = find_lone_surrogate(data)
    if surrogate is not None:
        raise _malformed(kind, start, f"its JSON is not valid Unicode: {surrogate}")
    return data, end


def _expect_closer(text: str, position: int, *, kind: str, start: int) -> int:
    closer = _CLOSER.match(text, position)
    if closer is None:
        raise _malformed(kind, start, "expected >> after it")
    return closer.end()


def _malformed(kind: str, start: int, why: str) -> ValidationError:
    return ValidationError(
        f"The <<{kind}>> directive at character {start} of the first user message cannot be "
        f"read: {why}. See the grammar in emulator/scripting.py."
    )
