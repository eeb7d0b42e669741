"""Named subagents: a system prompt per ``subagent_type``, built in or read from Markdown files.

Usage::

    registry = AgentRegistry.load(directory=Path(".claude/agents"))
    agent = registry.get("security-reviewer")       # registry.get(None) is the default agent

A user-defined agent is a Markdown file in Claude Code's ``.claude/agents/*.md`` format, so
existing definitions load unchanged::

    ---
    name: security-reviewer
    description: Reviews a diff for security problems.
    model: haiku          # optional
    tools: Read, Grep     # optional; keys Baton does not use are ignored
    ---
    You are a security reviewer... (the body is the system prompt)

The built-ins stay in code rather than in shipped Markdown: four short prompts gain nothing from
package data, and as code they cannot go missing from a wheel or drift from their tests. A file in
the directory may override a built-in by using its name; the directory wins, so a team can retune
``explorer`` without forking Baton.

An agent's ``model`` is only a NAME (an alias such as ``haiku``, or an ID). It is never resolved
here: resolution happens elsewhere, against the parent envelope's region and geography, because a
subagent that derived its own inference-profile prefix would call the wrong place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from workers.errors import AgentDefinitionInvalid, UnknownAgent
from workers.frontmatter import (
    MAX_AGENT_FILE_BYTES,
    MAX_FRONT_MATTER_BYTES,
    FrontMatterInvalid,
    parse_front_matter,
    read_text,
    split_front_matter,
)

__all__ = [
    "MAX_AGENT_FILE_BYTES",
    "MAX_FRONT_MATTER_BYTES",
    "Agent",
    "AgentRegistry",
    "load_agent_file",
]

#: The agent a job runs as when it names none.
DEFAULT_AGENT = "general-purpose"

#: ``source`` of every agent that ships with Baton; user agents carry their file's path instead.
BUILTIN_SOURCE = "builtin"

#: Claude Code's spelling for "use the parent's model"; Baton's spelling for that is no model.
INHERIT_MODEL = "inherit"

#: Agent names are used in CLI flags, task kwargs and logs, so they stay lowercase kebab-case.
_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class Agent:
    """A subagent type: its name, what it is for, and the system prompt it runs with.

    Attributes:
        name: The ``subagent_type`` a job asks for.
        description: One line a parent model reads to decide when to use this agent.
        system_prompt: The system prompt every Converse call of this agent sends.
        model: A model alias or ID to run with instead of the parent's, or None to inherit it.
            Only a name: it is resolved against the parent's region, never here.
        source: ``"builtin"`` or the path of the file that defined the agent, so an error or a
            log line can say which definition is in effect.
    """

    name: str
    description: str
    system_prompt: str
    model: str | None = None
    source: str = BUILTIN_SOURCE


_BUILTINS = (
    Agent(
        name=DEFAULT_AGENT,
        description="Answers the prompt directly.",
        system_prompt="You are a helpful subagent. Answer the task you are given concisely.",
    ),
    Agent(
        name="explorer",
        description="Reads and searches quickly; reports facts, not plans.",
        system_prompt="You are an explorer subagent. Find the facts the task asks for and report "
        "them briefly, with where you found each.",
        model="haiku",
    ),
    Agent(
        name="planner",
        description="Breaks a goal into ordered, checkable steps.",
        system_prompt="You are a planning subagent. Turn the task into a short numbered plan whose "
        "every step can be checked.",
    ),
    Agent(
        name="code-architect",
        description="Designs module boundaries and interfaces.",
        system_prompt="You are a software architect subagent. Propose modules, their "
        "responsibilities and interfaces for the task, and name the trade-offs.",
    ),
)

#: The agents that ship with Baton, by name.
BUILTIN_AGENTS: Mapping[str, Agent] = MappingProxyType({agent.name: agent for agent in _BUILTINS})


class AgentRegistry:
    """An immutable set of agents by name, read once at the process edge and passed down.

    It supports ``in``, ``len``, iteration over names and ``registry[name]`` like a read-only
    mapping, but it is deliberately not a ``collections.abc.Mapping``: ``Mapping.get`` promises
    None for a missing key, while ``get`` here raises UnknownAgent with the names that do exist,
    because a job that names a missing agent must fail loudly rather than run as something else.
    """

    __slots__ = ("_agents",)
    _agents: Mapping[str, Agent]

    def __init__(self, agents: Mapping[str, Agent]) -> None:
        """Freeze a copy of ``agents``; it must contain the default agent every job can fall to."""
        if DEFAULT_AGENT not in agents:
            raise AgentDefinitionInvalid(
                f"an agent registry needs the default agent {DEFAULT_AGENT!r}; "
                "start from the built-ins (AgentRegistry.load) and overlay your own"
            )
        object.__setattr__(self, "_agents", MappingProxyType(dict(agents)))

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse assignment: one registry is shared by every job a worker runs."""
        raise AttributeError(f"AgentRegistry is immutable; cannot set {name!r}")

    @classmethod
    def load(cls, *, directory: Path | None) -> AgentRegistry:
        """Return the built-ins overlaid with every ``*.md`` definition in ``directory``.

        A file whose ``name`` matches a built-in replaces that built-in. Only the directory's top
        level is read, in sorted order, so the result does not depend on the file system.

        Args:
            directory: A directory of agent definitions, or None for the built-ins alone.

        Raises:
            AgentDefinitionInvalid: The directory does not exist, or a file in it is not a valid
                definition, or two files define the same name. Nothing is loaded partially.
        """
        if directory is None:
            return _BUILTIN_REGISTRY
        if not directory.is_dir():
            raise AgentDefinitionInvalid(
                f"agents directory {directory} does not exist or is not a directory; "
                "create it or point the worker at the directory holding your *.md agents"
            )
        agents = dict(BUILTIN_AGENTS)
        defined_by: dict[str, Path] = {}
        for path in sorted(p for p in directory.glob("*.md") if p.is_file()):
            agent = load_agent_file(path)
            if agent.name in defined_by:
                raise AgentDefinitionInvalid(
                    f"agent definition {path}: name {agent.name!r} is already defined by "
                    f"{defined_by[agent.name]}; rename one of them or delete the duplicate"
                )
            defined_by[agent.name] = path
            agents[agent.name] = agent
        return cls(agents)

    def get(self, name: str | None) -> Agent:
        """Return the agent called ``name``, or the default agent when no name is given.

        Raises:
            UnknownAgent: No agent has that name; the message lists the names that exist.
        """
        agent = self._agents.get(name or DEFAULT_AGENT)
        if agent is None:
            raise UnknownAgent(
                f"no subagent type {name!r} on this worker; known: {', '.join(self.names())}; "
                "use one of these or add a Markdown definition by that name to the agents directory"
            )
        return agent

    def names(self) -> tuple[str, ...]:
        """Return every agent name, sorted, for help text and error messages."""
        return tuple(sorted(self._agents))

    def __getitem__(self, name: str) -> Agent:
        """Return the agent called ``name``; raise KeyError like any mapping when there is none."""
        return self._agents[name]

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._agents)


_BUILTIN_REGISTRY = AgentRegistry(BUILTIN_AGENTS)


def load_agent_file(path: Path) -> Agent:
    """Parse one Markdown agent definition.

    Args:
        path: A ``.md`` file: YAML front matter between ``---`` lines, then the system prompt.

    Raises:
        AgentDefinitionInvalid: The file cannot be read or is not a valid definition; the
            message names the file and says what to change.
    """
    try:
        front, body = split_front_matter(read_text(path))
        fields = parse_front_matter(front)
    except FrontMatterInvalid as exc:
        raise _invalid(path, str(exc)) from exc
    name = _required_text(fields, "name", path)
    if not _NAME_PATTERN.fullmatch(name):
        raise _invalid(
            path,
            f"name {name!r} is not lowercase kebab-case; use letters a-z, digits and hyphens, "
            "starting with a letter or digit (for example security-reviewer)",
        )
    system_prompt = body.strip()
    if not system_prompt:
        raise _invalid(path, "has no body; write the agent's system prompt after the front matter")
    return Agent(
        name=name,
        description=_required_text(fields, "description", path),
        system_prompt=system_prompt,
        model=_optional_model(fields, path),
        source=str(path),
    )


def _required_text(fields: Mapping[str, Any], key: str, path: Path) -> str:
    """Return ``fields[key]`` as a non-blank string, stripped."""
    value = fields.get(key)
    if value is None:
        raise _invalid(path, f"front matter has no {key!r}; add a '{key}:' line")
    if not isinstance(value, str) or not value.strip():
        raise _invalid(path, f"{key!r} must be non-empty text, got {value!r}")
    return value.strip()


def _optional_model(fields: Mapping[str, Any], path: Path) -> str | None:
    """Return the model name, or None when the agent inherits the parent's model.

    Claude Code writes ``model: inherit`` for that; it maps to None here so such files load
    unchanged instead of failing later as an unknown model alias.
    """
    value = fields.get("model")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(
            path,
            f"'model' must be a model alias or ID as text (for example haiku), got {value!r}; "
            "quote it or remove the line to inherit the parent's model",
        )
    model = value.strip()
    return None if model == INHERIT_MODEL else model


def _invalid(path: Path, problem: str) -> AgentDefinitionInvalid:
    return AgentDefinitionInvalid(f"agent definition {path}: {problem}")
