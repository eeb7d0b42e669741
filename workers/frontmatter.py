"""Reading an agent file's YAML front matter safely: bounded, plain data, nothing clever.

Agent files come from a directory on the worker, which a team (or a compromised repository)
fills. So the reader refuses what plain ``yaml.safe_load`` would accept and regret: files and
front matter past a size, anchors and aliases (an alias bomb expands to gigabytes from a few
lines), nesting deep enough to exhaust the recursion limit, and duplicate keys (where the last
one would silently win).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

#: Largest agent file read. Claude Code's definitions are a few KiB; anything near this is a
#: mistake or an attack on the worker's memory, and the file is read whole before it is parsed.
MAX_AGENT_FILE_BYTES = 64 * 1024

#: Largest front matter. Name, description (examples included), model and tools fit in a few KiB,
#: and PyYAML's pure-Python parser is slow, so it never sees more than this.
MAX_FRONT_MATTER_BYTES = 16 * 1024

#: Deepest nesting in front matter: flat keys and a list of tools need two levels, and PyYAML's
#: composer recurses once per level, so a deep one would end in a RecursionError, not a refusal.
MAX_FRONT_MATTER_DEPTH = 8


class FrontMatterInvalid(Exception):
    """Raised when an agent file cannot be read or its front matter is not allowed; the message
    says what to change (the caller names the file)."""


def read_text(path: Path) -> str:
    """Return the file's text, newlines translated as ``read_text`` does, refusing large files.

    At most one byte past the limit is read, so a huge file costs no more than a small one.
    """
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_AGENT_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FrontMatterInvalid(f"cannot be read as UTF-8 text ({exc})") from exc
    if len(raw) > MAX_AGENT_FILE_BYTES:
        raise FrontMatterInvalid(
            f"is larger than {MAX_AGENT_FILE_BYTES // 1024} KiB; an agent definition is a few KiB "
            "of front matter and system prompt, so shorten it",
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str) -> tuple[str, str]:
    """Return the YAML between the opening and closing fence lines, and the body after them."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise FrontMatterInvalid(
            "has no front matter; open the file with a '---' line, then "
            "name: and description:, then a closing '---' line",
        )
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise FrontMatterInvalid("front matter is never closed; add a '---' line after its last key")


class _FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing anchors, aliases, deep nesting and duplicate keys.

    Anchors and aliases are refused as the document is composed, from the parser's events and
    before any node is built, so an alias bomb ("billion laughs") costs one event, not memory.
    Duplicate keys are refused rather than letting the last one silently win.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            kind, sigil = ("alias", "*") if isinstance(event, yaml.AliasEvent) else ("anchor", "&")
            raise FrontMatterInvalid(
                f"front matter uses the YAML {kind} {sigil}{anchor} ({_where(event)}); anchors and "
                "aliases are not allowed in agent files, so write each value out in full"
            )
        if self._depth >= MAX_FRONT_MATTER_DEPTH:
            raise FrontMatterInvalid(
                f"front matter nests deeper than {MAX_FRONT_MATTER_DEPTH} levels "
                f"({_where(event)}); use flat 'key: value' lines"
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # SafeConstructor refuses an unhashable key itself, just below
            if key in seen:
                raise FrontMatterInvalid(
                    f"front matter has the key {key!r} twice ({_where(key_node)}); keep one of them"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _where(item: yaml.Event | yaml.Node) -> str:
    """Say where ``item`` starts, as a line of the file (its front matter starts on line 2)."""
    mark = item.start_mark
    return f"line {mark.line + 2}, column {mark.column + 1}" if mark else "unknown position"


def parse_front_matter(front: str) -> dict[str, Any]:
    """Load the front matter as plain data: no tags, anchors, aliases or duplicate keys."""
    if len(front.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise FrontMatterInvalid(
            f"front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} KiB; keep it to name, "
            "description, model and tools, and put long text in the body",
        )
    try:
        fields = yaml.load(front, Loader=_FrontMatterLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise FrontMatterInvalid(f"front matter is not valid YAML ({exc}); fix the syntax") from exc
    if not isinstance(fields, dict):
        raise FrontMatterInvalid(
            "front matter must be 'key: value' lines; add name: and description:"
        )
    return fields
