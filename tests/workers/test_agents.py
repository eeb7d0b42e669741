"""Named subagents: the built-ins, Markdown definitions from a directory, and their errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from workers.agents import (
    BUILTIN_AGENTS,
    DEFAULT_AGENT,
    MAX_AGENT_FILE_BYTES,
    MAX_FRONT_MATTER_BYTES,
    Agent,
    AgentRegistry,
    load_agent_file,
)
from workers.errors import AgentDefinitionInvalid, UnknownAgent, WorkerError

SECURITY_REVIEWER = """\
---
name: security-reviewer
description: Reviews a diff for security problems.
model: haiku
tools: Read, Grep
---
You are a security reviewer.
"""

#: The built-in agents alone, as a worker without BATON_AGENTS_DIR has them.
BUILTINS = AgentRegistry.load(directory=None)


@pytest.fixture
def write_agent(tmp_path: Path) -> Callable[[str, str], Path]:
    """Return a factory that writes one definition into ``tmp_path/agents`` (cleaned by pytest)."""
    directory = tmp_path / "agents"
    directory.mkdir()

    def write(filename: str, text: str) -> Path:
        path = directory / filename
        path.write_text(text, encoding="utf-8")
        return path

    return write


def agents_dir(tmp_path: Path) -> Path:
    return tmp_path / "agents"


# --- built-ins ---------------------------------------------------------------------------------


def test_builtins_include_the_default_explorer_planner_and_code_architect():
    registry = AgentRegistry.load(directory=None)
    assert set(registry.names()) == {DEFAULT_AGENT, "explorer", "planner", "code-architect"}
    assert all(agent.source == "builtin" for agent in BUILTIN_AGENTS.values())


def test_the_explorer_runs_on_haiku_and_the_others_inherit_the_parents_model():
    assert BUILTINS.get("explorer").model == "haiku"
    assert BUILTINS.get("planner").model is None
    assert BUILTINS.get("code-architect").model is None
    assert BUILTINS.get(DEFAULT_AGENT).model is None


def test_no_agent_name_means_the_general_purpose_agent():
    assert BUILTINS.get(None).name == "general-purpose"


def test_unknown_agent_lists_the_known_names():
    with pytest.raises(UnknownAgent) as caught:
        BUILTINS.get("nope")
    message = str(caught.value)
    assert "'nope'" in message
    for name in ("code-architect", "explorer", "general-purpose", "planner"):
        assert name in message


def test_unknown_agent_in_a_loaded_registry_lists_user_agents_too(write_agent, tmp_path):
    write_agent("security-reviewer.md", SECURITY_REVIEWER)
    registry = AgentRegistry.load(directory=agents_dir(tmp_path))
    with pytest.raises(UnknownAgent, match="security-reviewer"):
        registry.get("nope")


def test_the_builtin_table_and_registry_cannot_be_changed():
    with pytest.raises(TypeError):
        BUILTIN_AGENTS["explorer"] = BUILTIN_AGENTS["planner"]  # type: ignore[index]
    registry = AgentRegistry.load(directory=None)
    with pytest.raises(AttributeError):
        registry._agents = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        registry.get("explorer").model = "opus"  # type: ignore[misc]


def test_a_registry_without_the_default_agent_is_refused():
    with pytest.raises(AgentDefinitionInvalid, match=DEFAULT_AGENT):
        AgentRegistry({"planner": BUILTIN_AGENTS["planner"]})


def test_a_loaded_registrys_agents_are_its_own_not_the_builtins(write_agent, tmp_path):
    write_agent("security-reviewer.md", SECURITY_REVIEWER)
    registry = AgentRegistry.load(directory=agents_dir(tmp_path))
    assert registry.get("security-reviewer").model == "haiku"
    with pytest.raises(UnknownAgent):
        BUILTINS.get("security-reviewer")


# --- loading a directory -----------------------------------------------------------------------


def test_a_directory_of_markdown_agents_is_overlaid_on_the_builtins(write_agent, tmp_path):
    path = write_agent("security-reviewer.md", SECURITY_REVIEWER)
    registry = AgentRegistry.load(directory=agents_dir(tmp_path))
    assert registry.get("security-reviewer") == Agent(
        name="security-reviewer",
        description="Reviews a diff for security problems.",
        system_prompt="You are a security reviewer.",
        model="haiku",
        source=str(path),
    )
    assert "explorer" in registry
    assert len(registry) == len(BUILTIN_AGENTS) + 1
    assert list(registry) == sorted(registry.names())
    assert registry["security-reviewer"].source == str(path)


def test_an_empty_directory_yields_the_builtins(tmp_path):
    assert (
        AgentRegistry.load(directory=tmp_path).names() == AgentRegistry.load(directory=None).names()
    )


def test_only_markdown_files_at_the_top_level_are_read(write_agent, tmp_path):
    write_agent("notes.txt", "not an agent")
    nested = agents_dir(tmp_path) / "drafts"
    nested.mkdir()
    (nested / "draft.md").write_text("no front matter", encoding="utf-8")
    assert "draft" not in AgentRegistry.load(directory=agents_dir(tmp_path))


def test_a_user_file_overrides_a_builtin_of_the_same_name(write_agent, tmp_path):
    path = write_agent(
        "explorer.md",
        "---\nname: explorer\ndescription: Our explorer.\nmodel: sonnet\n---\nExplore our way.\n",
    )
    explorer = AgentRegistry.load(directory=agents_dir(tmp_path)).get("explorer")
    assert (explorer.model, explorer.system_prompt, explorer.source) == (
        "sonnet",
        "Explore our way.",
        str(path),
    )
    assert BUILTINS.get("explorer").model == "haiku"


def test_the_body_is_the_system_prompt_with_surrounding_whitespace_trimmed(write_agent):
    path = write_agent(
        "a.md", "---\nname: a\ndescription: '  A.  '\n---\n\n\n  Line one.\n\n  Line two.\n\n\n"
    )
    agent = load_agent_file(path)
    assert agent.system_prompt == "Line one.\n\n  Line two."
    assert agent.description == "A."


def test_unknown_front_matter_keys_are_ignored(write_agent):
    path = write_agent(
        "a.md",
        "---\nname: a\ndescription: A.\ntools: [Read, Grep]\ncolor: purple\n"
        "permissionMode: plan\n---\nPrompt.\n",
    )
    assert load_agent_file(path).name == "a"


def test_model_is_kept_as_a_name_and_never_resolved(write_agent):
    path = write_agent("a.md", "---\nname: a\ndescription: A.\nmodel: claude-sonnet-4\n---\nP.\n")
    assert load_agent_file(path).model == "claude-sonnet-4"


def test_model_inherit_means_the_parents_model(write_agent):
    path = write_agent("a.md", "---\nname: a\ndescription: A.\nmodel: inherit\n---\nP.\n")
    assert load_agent_file(path).model is None


def test_windows_line_endings_and_a_byte_order_mark_are_accepted(write_agent):
    path = write_agent("a.md", "\ufeff---\r\nname: a\r\ndescription: A.\r\n---\r\nPrompt.\r\n")
    agent = load_agent_file(path)
    assert (agent.name, agent.system_prompt) == ("a", "Prompt.")


def test_a_horizontal_rule_in_the_body_stays_in_the_prompt(write_agent):
    path = write_agent("a.md", "---\nname: a\ndescription: A.\n---\nBefore.\n---\nAfter.\n")
    assert load_agent_file(path).system_prompt == "Before.\n---\nAfter."


# --- invalid definitions -----------------------------------------------------------------------

INVALID = {
    "no front matter": ("Just a prompt.\n", "no front matter"),
    "unclosed front matter": ("---\nname: a\ndescription: A.\nPrompt.\n", "never closed"),
    "invalid yaml": ("---\nname: [a\ndescription: A.\n---\nP.\n", "not valid YAML"),
    "front matter not a mapping": ("---\n- a\n- b\n---\nP.\n", "'key: value'"),
    "empty front matter": ("---\n---\nP.\n", "'key: value'"),
    "missing name": ("---\ndescription: A.\n---\nP.\n", "no 'name'"),
    "missing description": ("---\nname: a\n---\nP.\n", "no 'description'"),
    "blank description": ("---\nname: a\ndescription: '  '\n---\nP.\n", "'description'"),
    "uppercase name": ("---\nname: Security\ndescription: A.\n---\nP.\n", "kebab-case"),
    "name with a space": ("---\nname: a b\ndescription: A.\n---\nP.\n", "kebab-case"),
    "name starting with a hyphen": ("---\nname: -a\ndescription: A.\n---\nP.\n", "kebab-case"),
    "name with an underscore": ("---\nname: a_b\ndescription: A.\n---\nP.\n", "kebab-case"),
    "name not text": ("---\nname: 42\ndescription: A.\n---\nP.\n", "'name'"),
    "model a number": ("---\nname: a\ndescription: A.\nmodel: 3.5\n---\nP.\n", "'model'"),
    "model a list": ("---\nname: a\ndescription: A.\nmodel: [haiku]\n---\nP.\n", "'model'"),
    "model empty": ("---\nname: a\ndescription: A.\nmodel: ''\n---\nP.\n", "'model'"),
    "empty body": ("---\nname: a\ndescription: A.\n---\n\n  \n", "no body"),
    "a yaml anchor": ("---\nname: &n a\ndescription: A.\n---\nP.\n", "anchor &n (line 2"),
    "a yaml alias": ("---\nname: a\ndescription: *d\n---\nP.\n", "alias *d (line 3"),
    "a duplicate key": ("---\nname: a\ndescription: A.\nname: b\n---\nP.\n", "'name' twice"),
    "a duplicate key in a nested mapping": (
        "---\nname: a\ndescription: A.\nextra: {k: 1, k: 2}\n---\nP.\n",
        "'k' twice",
    ),
    "front matter nested too deep": (
        "---\nname: a\ndescription: A.\ntools: " + "[" * 50 + "]" * 50 + "\n---\nP.\n",
        "nests deeper than 8 levels",
    ),
    "front matter too large": (
        "---\nname: a\ndescription: " + "A" * MAX_FRONT_MATTER_BYTES + "\n---\nP.\n",
        "front matter is larger than 16 KiB",
    ),
    "file too large": (
        "---\nname: a\ndescription: A.\n---\n" + "P" * MAX_AGENT_FILE_BYTES,
        "is larger than 64 KiB",
    ),
}


@pytest.mark.parametrize(("text", "problem"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_definition_raises_agent_definition_invalid_naming_the_file(
    write_agent, tmp_path, text, problem
):
    path = write_agent("broken.md", text)
    with pytest.raises(AgentDefinitionInvalid) as caught:
        AgentRegistry.load(directory=agents_dir(tmp_path))
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_invalid_yaml_chains_the_parser_error(write_agent):
    path = write_agent("a.md", "---\nname: [a\n---\nP.\n")
    with pytest.raises(AgentDefinitionInvalid) as caught:
        load_agent_file(path)
    assert caught.value.__cause__ is not None


def test_yaml_tags_that_would_build_python_objects_are_refused(write_agent):
    path = write_agent("a.md", "---\nname: !!python/object/apply:os.getcwd []\n---\nP.\n")
    with pytest.raises(AgentDefinitionInvalid, match="not valid YAML"):
        load_agent_file(path)


#: The classic "billion laughs": nine anchors, each a list of nine aliases of the one before, so
#: expanding ``i`` means 9**9 (387 million) strings. Nothing reads ``i``, so a loader that builds
#: it lazily (as PyYAML's shared references do) loads the agent; one that refuses anchors never
#: gets past ``a``.
BILLION_LAUGHS = """\
---
name: laughs
description: An alias bomb.
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
---
Laugh.
"""


def test_a_billion_laughs_alias_bomb_is_refused_before_anything_is_expanded(write_agent):
    path = write_agent("laughs.md", BILLION_LAUGHS)

    with pytest.raises(AgentDefinitionInvalid) as caught:
        load_agent_file(path)

    assert str(path) in str(caught.value)
    assert "anchor &a (line 4, column 4)" in str(caught.value)


def test_a_file_just_under_the_size_limit_loads(write_agent):
    head = "---\nname: a\ndescription: A.\n---\n"
    path = write_agent("a.md", head + "P" * (MAX_AGENT_FILE_BYTES - len(head)))

    assert len(load_agent_file(path).system_prompt) == MAX_AGENT_FILE_BYTES - len(head)


def test_a_list_of_tools_is_still_allowed(write_agent):
    path = write_agent("a.md", "---\nname: a\ndescription: A.\ntools: [Read, Grep]\n---\nP.\n")

    assert load_agent_file(path).name == "a"


def test_a_file_that_is_not_utf8_raises_agent_definition_invalid(write_agent, tmp_path):
    path = agents_dir(tmp_path) / "latin1.md"
    path.write_bytes(b"---\nname: a\ndescription: caf\xe9\n---\nP.\n")
    with pytest.raises(AgentDefinitionInvalid, match=r"latin1\.md"):
        AgentRegistry.load(directory=agents_dir(tmp_path))


def test_two_files_with_the_same_name_raise_naming_both_files(write_agent, tmp_path):
    first = write_agent("a.md", "---\nname: twin\ndescription: A.\n---\nP.\n")
    second = write_agent("b.md", "---\nname: twin\ndescription: B.\n---\nQ.\n")
    with pytest.raises(AgentDefinitionInvalid) as caught:
        AgentRegistry.load(directory=agents_dir(tmp_path))
    assert str(first) in str(caught.value)
    assert str(second) in str(caught.value)
    assert "'twin'" in str(caught.value)


def test_a_missing_directory_raises_agent_definition_invalid_naming_it(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(AgentDefinitionInvalid, match="no-such-dir"):
        AgentRegistry.load(directory=missing)


def test_a_file_given_as_the_directory_raises_agent_definition_invalid(write_agent, tmp_path):
    path = write_agent("a.md", SECURITY_REVIEWER)
    with pytest.raises(AgentDefinitionInvalid, match="not a directory"):
        AgentRegistry.load(directory=path)


def test_agent_definition_invalid_is_a_worker_error_with_its_own_code():
    assert issubclass(AgentDefinitionInvalid, WorkerError)
    assert AgentDefinitionInvalid.code == "agent_definition_invalid"
