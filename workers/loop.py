"""The agent loop's state and decisions, as plain values: no broker, no client.

A subagent job is a Converse loop with one tool, ``Task``. When the model asks for Task calls the
job starts its children as a chord and replaces itself with it; the chord's callback resumes the
conversation. So the whole conversation travels in the callback's signature
(``ConversationState``), never in a process, and a waiting parent holds no worker slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from envelope import BedrockEnvelope
from workers.conversation import TASK_TOOL, Reply, ToolUse, user_text
from workers.results import Usage

#: Stop reasons Baton adds to Bedrock's own (end_turn, max_tokens, ...) when a limit ends a job.
STOP_MAX_TURNS = "max_turns"
STOP_MAX_DEPTH = "max_depth"
STOP_MAX_CHILDREN = "max_children"
STOP_MAX_JOBS = "max_jobs"


class Pending(BaseModel):
    """One tool call of the current turn: answered by a child job, or already by an error."""

    model_config = ConfigDict(frozen=True)

    tool_use_id: str
    child_id: str | None = None
    error: str | None = None


class ConversationState(BaseModel):
    """Everything a job needs to resume after its children finish; JSON in the callback."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    agent: str
    model_id: str
    system: str | None
    messages: list[dict[str, Any]]
    turns: int = 0
    children: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    tree_jobs: int = 1
    pending: list[Pending] = Field(default_factory=list)
    as_tool: bool = False

    @classmethod
    def start(
        cls,
        *,
        job_id: str,
        agent: str,
        model_id: str,
        system: str | None,
        prompt: str,
        as_tool: bool = False,
    ) -> ConversationState:
        """Return the state of a job about to take its first turn."""
        return cls(
            job_id=job_id,
            agent=agent,
            model_id=model_id,
            system=system,
            messages=[user_text(prompt)],
            as_tool=as_tool,
        )

    def after_reply(self, reply: Reply) -> ConversationState:
        """Record the assistant's turn and its token usage."""
        return self.model_copy(
            update={
                "messages": [*self.messages, reply.message],
                "turns": self.turns + 1,
                "usage": self.usage + reply.usage,
            }
        )

    def awaiting(self, pending: list[Pending]) -> ConversationState:
        """Record the calls of this turn and the children started for them."""
        started = [call.child_id for call in pending if call.child_id]
        return self.model_copy(update={"pending": pending, "children": [*self.children, *started]})

    def with_results(self, child_results: list[dict[str, Any]]) -> ConversationState:
        """Answer every pending call, children's in chord order, and sum their subtrees."""
        results = iter(child_results)
        blocks, usage, jobs = [], self.usage, self.tree_jobs
        for call in self.pending:
            if call.child_id is None:
                blocks.append(tool_result(call.tool_use_id, call.error or "", ok=False))
                continue
            result = next(results)
            usage = usage + Usage.model_validate(result.get("usage") or {})
            jobs += int(result.get("tree_jobs", 1))
            blocks.append(_child_block(call.tool_use_id, result))
        return self.model_copy(
            update={
                "messages": [*self.messages, {"role": "user", "content": blocks}],
                "usage": usage,
                "tree_jobs": jobs,
                "pending": [],
            }
        )


def tool_result(tool_use_id: str, text: str, *, ok: bool) -> dict[str, Any]:
    """Return a toolResult content block."""
    return {
        "toolResult": {
            "toolUseId": tool_use_id,
            "content": [{"text": text}],
            "status": "success" if ok else "error",
        }
    }


def _child_block(tool_use_id: str, result: dict[str, Any]) -> dict[str, Any]:
    error = result.get("error")
    if error:
        return tool_result(tool_use_id, f"{error.get('type')}: {error.get('message')}", ok=False)
    return tool_result(tool_use_id, str(result.get("text", "")), ok=True)


@dataclass(frozen=True)
class ChildCall:
    """A Task call the model made, checked: what the child job is asked to do."""

    tool_use_id: str
    prompt: str
    description: str
    agent: str | None
    model: str | None


def plan_calls(tool_uses: tuple[ToolUse, ...]) -> list[ChildCall | Pending]:
    """Check a turn's tool calls, in order: a child to start, or an error answered right away."""
    return [_plan(use) for use in tool_uses]


def _plan(use: ToolUse) -> ChildCall | Pending:
    if use.name != TASK_TOOL:
        return _error(use, f"unknown tool {use.name!r}; the only tool is {TASK_TOOL}")
    prompt, description = use.input.get("prompt"), use.input.get("description", "")
    agent, model = use.input.get("subagent_type"), use.input.get("model")
    if not isinstance(prompt, str) or not prompt.strip():
        return _error(use, "Task needs a non-empty string 'prompt'")
    if not all(isinstance(value, str | None) for value in (description, agent, model)):
        return _error(use, "Task's description, subagent_type and model must be strings")
    return ChildCall(use.tool_use_id, prompt, str(description), agent, model)


def _error(use: ToolUse, message: str) -> Pending:
    return Pending(tool_use_id=use.tool_use_id, error=message)


def limit_reached(
    state: ConversationState, envelope: BedrockEnvelope, *, children: int
) -> str | None:
    """Return the stop reason if taking another turn or starting ``children`` breaks a limit."""
    limits = envelope.limits
    if state.turns >= limits.max_turns:
        return STOP_MAX_TURNS
    if children and envelope.lineage.depth + 1 > limits.max_depth:
        return STOP_MAX_DEPTH
    if len(state.children) + children > limits.max_children:
        return STOP_MAX_CHILDREN
    return None
