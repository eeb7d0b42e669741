"""Named subagents: a system prompt per ``subagent_type``.

Built-ins cover the common roles. An agent never carries a region or a model prefix of its own:
its model, if any, is resolved on the parent against the parent's region.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.errors import UnknownAgent


@dataclass(frozen=True)
class Agent:
    """A subagent type: its name, what it is for, and the system prompt it runs with."""

    name: str
    description: str
    system_prompt: str
    model: str | None = None


#: The agent a job runs as when it names none.
DEFAULT_AGENT = "general-purpose"

BUILTIN_AGENTS: dict[str, Agent] = {
    agent.name: agent
    for agent in (
        Agent(
            name=DEFAULT_AGENT,
            description="Answers the prompt directly.",
            system_prompt="You are a helpful subagent. Answer the task you are given concisely.",
        ),
        Agent(
            name="explorer",
            description="Reads and searches quickly; reports facts, not plans.",
            system_prompt="You are an explorer subagent. Find the facts the task asks for and "
            "report them briefly, with where you found each.",
            model="haiku",
        ),
        Agent(
            name="planner",
            description="Breaks a goal into ordered, checkable steps.",
            system_prompt="You are a planning subagent. Turn the task into a short numbered plan "
            "whose every step can be checked.",
        ),
        Agent(
            name="code-architect",
            description="Designs module boundaries and interfaces.",
            system_prompt="You are a software architect subagent. Propose modules, their "
            "responsibilities and interfaces for the task, and name the trade-offs.",
        ),
    )
}


def get_agent(name: str | None) -> Agent:
    """Return the agent called ``name`` (the default agent for None)."""
    agent = BUILTIN_AGENTS.get(name or DEFAULT_AGENT)
    if agent is None:
        raise UnknownAgent(
            f"no subagent type {name!r} on this worker; known: {', '.join(sorted(BUILTIN_AGENTS))}"
        )
    return agent
