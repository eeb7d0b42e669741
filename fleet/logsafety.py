"""Keep credentials out of logs, whatever level the process logs at.

botocore's DEBUG records carry what Baton must never log in plain text: ``botocore.auth`` writes
the canonical request (with ``x-amz-security-token``), ``botocore.endpoint`` the request headers,
``botocore.parsers`` response bodies (an STS AssumeRole answer holds ``SecretAccessKey`` and
``SessionToken``). Parents and workers cap those loggers at INFO, so a ``--loglevel debug`` run
stays safe to share, or at the root logger's level when that is higher, so the cap never makes
a quiet process chattier (``Found credentials in environment variables`` under a WARNING root).

Baton's own lines quote what anyone who writes the broker chooses (a job id, a task name, a
routing key, a ledger tag), so every one is kept to one line: a control character in a message
is written escaped (``\\n``), never as it is, and cannot start a line of the writer's own.
"""

from __future__ import annotations

import logging

#: Loggers whose DEBUG records contain credentials, session tokens or signed payloads.
SECRET_BEARING_LOGGERS = (
    "botocore.auth",
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.credentials",
    "urllib3.connectionpool",
)


def cap_secret_bearing_loggers() -> None:
    """Raise the secret-bearing loggers to INFO, or to the root logger's level when that is
    higher (never lower a level someone set higher)."""
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in SECRET_BEARING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < floor:
            logger.setLevel(floor)


#: Baton's loggers whose lines quote values a broker writer chooses.
ONE_LINE_LOGGERS = ("baton.worker", "baton.ledger")


def printable(text: str) -> str:
    """``text`` with every control character (newline, escape, ...) written as its escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class OneLine(logging.Filter):
    """Keep a record's message to one printable line: control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not text.isprintable():
            record.msg, record.args = printable(text), None
        return True


def one_line_loggers() -> None:
    """Give Baton's broker-quoting loggers the :class:`OneLine` filter (idempotent)."""
    for name in ONE_LINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLine) for f in logger.filters):
            logger.addFilter(OneLine())


one_line_loggers()  # a filter on Baton's own loggers: nothing of anyone else's changes
