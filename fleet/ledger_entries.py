"""Reading what anyone who writes the broker can write: ledger entries and kombu's records.

A Baton publisher writes only Celery task messages into the ledger, each under its own delivery
tag, and kombu writes ``[message, exchange, routing key]`` into its unacknowledged hash. Anything
else there came from someone else. It is dropped, one entry at a time, with a log line, and
never raised into the recovery pass or kombu's connection handling, where one bad entry would
stop every worker.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.utils.json import loads

#: What cannot be read is logged here.
logger = logging.getLogger("baton.ledger")

#: The most characters of a broker-written tag a log line shows.
SHOWN = 80


def is_task_message(message: dict[str, Any]) -> bool:
    """Whether ``message`` (kombu's dict) is a Celery task message with a delivery tag."""
    if not isinstance(message, dict):
        return False
    headers, properties = message.get("headers"), message.get("properties")
    if not (isinstance(headers, dict) and isinstance(properties, dict)):
        return False
    return bool(headers.get("id") and headers.get("task") and properties.get("delivery_tag"))


def groups(items: list[Any], size: int) -> list[tuple[str, ...]]:
    """``items`` a script returned, as text, in tuples of ``size``."""
    texts = [
        item.decode(errors="replace") if isinstance(item, bytes) else str(item) for item in items
    ]
    return [tuple(texts[i : i + size]) for i in range(0, len(texts) - size + 1, size)]


def dropped(tag: str, reason: str) -> None:
    """Log that the ledger entry of ``tag`` was dropped, and why."""
    logger.error(
        "ledger entry %r dropped: %s; a Baton publisher never writes such an entry, so something "
        "else writes to the broker",
        tag[:SHOWN],
        reason,
    )


def unreadable_record(tag: Any) -> None:
    """Log that kombu's unacknowledged record of ``tag`` was dropped: it is not one."""
    text = tag.decode(errors="replace") if isinstance(tag, bytes) else str(tag)
    logger.error(
        "unacknowledged record %r dropped: not a kombu message record; something other than a "
        "worker writes to the broker",
        text[:SHOWN],
    )


def lost_message(tag: str, raw: str) -> dict[str, Any] | None:
    """The task message a lost entry holds, or None (logged) when it is not one of ``tag``'s.

    A Baton publisher writes only Celery task messages, each under its own delivery tag; anything
    else in the ledger was written by someone else and is not put back.
    """
    try:
        message = loads(raw)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not is_task_message(message):
        dropped(tag, "its message is not a Celery task message")
        return None
    if str(message["properties"]["delivery_tag"]) != tag:
        dropped(tag, "its message carries another delivery tag")
        return None
    return message


def unacked_message(stored: bytes | str) -> tuple[dict[str, Any], str, str] | None:
    """Kombu's unacknowledged record ``[message, exchange, routing key]``, or None if it is not
    one (anyone who writes the broker can write it)."""
    try:
        record = loads(stored.decode() if isinstance(stored, bytes) else stored)
    except ValueError:
        return None
    if not isinstance(record, list) or len(record) != 3:
        return None
    message, exchange, routing_key = record
    if not (isinstance(message, dict) and isinstance(exchange, str)):
        return None
    return (message, exchange, routing_key) if isinstance(routing_key, str) else None
