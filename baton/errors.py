"""How the CLI turns errors into one clear line, a hint, and an exit code.

Exit codes:

    0  every job succeeded
    1  at least one subagent job failed (its typed error is printed)
    2  bad input or configuration (capture, keys, flags)
    3  timed out waiting for results
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from envelope import BatonError

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_CONFIG = 2
EXIT_TIMEOUT = 3


class CliExit(click.ClickException):
    """Raised when a command stops with one explained line and a chosen exit code."""

    exit_code = EXIT_CONFIG


@contextmanager
def explained() -> Iterator[None]:
    """Turn a BatonError raised while setting up into ``error: ...`` and exit code 2."""
    try:
        yield
    except BatonError as exc:
        raise CliExit(f"{type(exc).__name__}: {exc}") from exc
