"""Which Celery remote control a worker answers: none, the read commands, or all of it.

Remote control is a broker-level channel: anyone who can write the broker sends it, with no key.
Its control commands act (``revoke`` fails any queued job by its id, ``shutdown`` stops the
worker, ``enable_events`` puts a repr of every job's result on the broker in its
``task-succeeded`` events, ``election`` makes the worker publish a task named in the message),
while its read commands only report. So a worker answers (``BATON_REMOTE_CONTROL``,
``baton worker --remote-control``):

- ``off`` (the default): nothing; no control queue is consumed at all;
- ``read``: :data:`READ_COMMANDS` (``ping`` for health probes, what Flower's worker pages read),
  and refuses every other command with one logged line and an error reply;
- ``all`` (``true``): everything Celery's workers answer, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from celery.worker.control import Panel

logger = logging.getLogger("baton.worker")

RemoteControl = Literal["off", "read", "all"]

#: The spellings each mode accepts, in any case: the old boolean's included.
_SPELLINGS: dict[str, RemoteControl] = {
    **dict.fromkeys(("off", "false", "0", "no", ""), "off"),
    **dict.fromkeys(("read", "read-only", "readonly", "inspect"), "read"),
    **dict.fromkeys(("all", "true", "1", "yes", "on"), "all"),
}

#: Celery's inspect commands that report and change nothing (their ``dump_*`` aliases too).
#: Left out: ``hello`` (merges the caller's revoked ids into this worker's), and ``memdump``,
#: ``memsample`` and ``objgraph`` (memory debugging: slow, and ``objgraph`` writes files).
READ_COMMANDS = frozenset(
    {
        "ping",
        "stats",
        "active",
        "dump_active",
        "reserved",
        "dump_reserved",
        "scheduled",
        "dump_schedule",
        "revoked",
        "dump_revoked",
        "registered",
        "dump_tasks",
        "active_queues",
        "query_task",
        "clock",
        "conf",
        "dump_conf",
        "report",
    }
)


def parse(value: object) -> RemoteControl:
    """The mode ``value`` spells (a boolean, or one of ``off``, ``read``, ``all``); a
    ``ValueError`` naming the choices otherwise."""
    if isinstance(value, bool):
        return "all" if value else "off"
    mode = _SPELLINGS.get(str(value).strip().lower()) if isinstance(value, str) else None
    if mode is None:
        raise ValueError(
            f"{str(value)[:40]!r} is no remote control mode; use off (the default), read "
            "(ping and inspect only) or all (true: every Celery command, revoke and shutdown too)"
        )
    return mode


class ReadOnlyPanel(dict[str, Callable[..., Any]]):
    """Celery's command handlers, the read commands only: any other command name gets a
    handler that refuses it, logs one line and replies with an error (never a traceback)."""

    def __init__(self) -> None:
        super().__init__({name: Panel.data[name] for name in READ_COMMANDS if name in Panel.data})

    def __missing__(self, name: str) -> Callable[..., Any]:
        return _refusal(name)


#: Command names whose refusal this process has logged at warning level; later refusals of the
#: same name (Flower sends ``enable_events`` every 5 s) are logged at debug level. Names come
#: from the broker, so only so many are remembered: past that, every refusal is at debug level.
_WARNED: set[str] = set()
_WARNED_AT_MOST = 64


def _refusal(name: str) -> Callable[..., Any]:
    shown = repr(str(name)[:80])

    def refuse(*_: Any, **__: Any) -> dict[str, str]:
        first = shown not in _WARNED and len(_WARNED) < _WARNED_AT_MOST
        if first:
            _WARNED.add(shown)
        logger.log(
            logging.WARNING if first else logging.DEBUG,
            "remote control %s refused: this worker answers read commands only "
            "(BATON_REMOTE_CONTROL=read)",
            shown,
        )
        return {
            "error": f"refused: {shown} is not a read command, and this worker answers remote "
            "control read-only (BATON_REMOTE_CONTROL=read)"
        }

    return refuse


def restrict(consumer: Any, mode: RemoteControl) -> None:
    """Make the control mailbox of ``consumer`` (a Celery worker consumer, its steps applied)
    answer ``mode``'s commands only."""
    if mode != "read":
        return
    for step in consumer.blueprint.steps.values():
        box = getattr(step, "box", None)
        if box is not None:
            box.node.handlers = ReadOnlyPanel()
