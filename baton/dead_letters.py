"""``baton dead-letters``: list, replay or purge what workers refused."""

from __future__ import annotations

from typing import Any

import click

from baton.errors import CliExit, explained
from baton.reachability import require_broker


@click.group("dead-letters")
def dead_letters() -> None:
    """List, replay or purge refused messages (the `baton.dead` list or queue on the broker).

    Every message a worker refused (missing, tampered, expired or unknown-key envelope, region or
    endpoint outside policy, a task the worker never imported) is kept with its reason, time, task
    name and an envelope summary without secrets, and says whether its failure was stored under
    its job id (only for a message a key holder bound to that id). Replay re-publishes it as it
    was, once the operator has fixed the fleet's configuration: a tampered envelope is refused
    again.

    \b
    Examples:
      baton dead-letters list
      baton dead-letters replay --id 3f2a...   # or --all
      baton dead-letters purge --yes
    """


def _shown(value: object) -> str:
    """``value`` for one terminal line: a broker writer chooses job ids and task names, so a
    control character (a newline, an escape sequence) is shown escaped, never sent as it is."""
    text = "-" if value is None else str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _dead_letter_store() -> Any:
    """The dead letters on the workers' broker, once its settings are known good and it answers."""
    with explained():
        from workers import DeadLetters, app
    if app.baton_settings_problem is not None:  # a bad BATON_* variable, as a worker says it
        raise CliExit(app.baton_settings_problem)
    require_broker(app)
    return DeadLetters(app)


@dead_letters.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def dead_letters_list(as_json: bool) -> None:
    """Show every dead letter, oldest first, without removing it."""
    import json

    records = _dead_letter_store().entries()
    for record in records:
        record.pop("token", None)  # signed, not secret, but long and useless on a terminal
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for record in records:
        where = (record.get("envelope") or {}).get("region") or "-"
        fields = (record["id"], record.get("time"), record["task"], where)
        line = "  ".join(_shown(field) for field in fields)
        click.echo(f"{line}  {_shown(record.get('reason'))}: {_shown(record.get('message'))}")
    click.echo(f"{len(records)} dead letter(s)", err=True)


@dead_letters.command("replay")
@click.option("--id", "ids", multiple=True, help="A record ID from `list` (repeat).")
@click.option("--all", "replay_all", is_flag=True, help="Replay every record.")
def dead_letters_replay(ids: tuple[str, ...], replay_all: bool) -> None:
    """Re-publish dead letters as they were, after the configuration has been fixed."""
    if not ids and not replay_all:
        raise CliExit("name records with --id, or pass --all")
    replayed = _dead_letter_store().replay(None if replay_all else ids)
    for record in replayed:
        shown = [_shown(record[name]) for name in ("id", "job_id", "task")]
        click.echo(f"replayed {shown[0]} (job {shown[1]}, {shown[2]})")
    click.echo(f"{len(replayed)} replayed", err=True)


@dead_letters.command("purge")
@click.option("--yes", is_flag=True, help="Do it: every dead letter is dropped.")
def dead_letters_purge(yes: bool) -> None:
    """Drop every dead letter."""
    if not yes:
        raise CliExit("purge drops every dead letter for good; pass --yes to confirm")
    click.echo(f"purged {_dead_letter_store().purge()} dead letter(s)")
