"""What a subagent job returns: its answer and exactly where it came from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """Token counts Bedrock reported."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class SubagentResult(BaseModel):
    """The result of one subagent job, as stored in the result backend (JSON)."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    agent: str
    text: str
    region: str
    model_id: str
    endpoint: str | None
    usage: Usage
    stop_reason: str
    depth: int
    root_id: str
    parent_id: str | None
    children: list[str] = Field(default_factory=list)
