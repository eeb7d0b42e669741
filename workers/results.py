"""What a subagent job returns: its answer and exactly where it came from."""

from __future__ import annotations

from typing import TypedDict

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """Token counts Bedrock reported."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        # Sums of two validated counts need no validation of their own.
        return Usage.model_construct(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )

    def as_dict(self) -> UsageDict:
        """Return the counts as the plain dict a result carries."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }


class UsageDict(TypedDict):
    """Token counts in a stored result."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class ChildFailure(BaseModel):
    """What a child started through the Task tool returns when it fails: its parent reads it as
    an error toolResult and carries on, instead of losing the whole chord."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    error: dict[str, str]
    usage: Usage = Field(default_factory=Usage)
    tree_jobs: int = 1


class SubagentResult(TypedDict):
    """The result of one subagent job, as stored in the result backend (JSON).

    A plain dict built from already-typed parts: validating it again and dumping it back to JSON
    cost a job more than the rest of its bookkeeping together.
    """

    job_id: str
    agent: str
    text: str
    region: str
    model_id: str
    endpoint: str | None
    usage: UsageDict
    stop_reason: str
    depth: int
    root_id: str
    parent_id: str | None
    children: list[str]
    turns: int
    tree_jobs: int
