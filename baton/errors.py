"""How the CLI turns errors into one clear line, a hint, and an exit code.

Exit codes:

    0  every job succeeded
    1  at least one subagent job failed (its typed error is printed)
    2  bad input or configuration (capture, keys, flags, a bad BATON_* variable, a broker
       that does not answer): one line on stderr, never a traceback
    3  timed out waiting for results
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from pydantic import ValidationError

from envelope import BatonError
from fleet import settings_problem

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_CONFIG = 2
EXIT_TIMEOUT = 3


class CliExit(click.ClickException):
    """Raised when a command stops with one explained line and a chosen exit code."""

    exit_code = EXIT_CONFIG

    def format_message(self) -> str:
        """The message on one line, whatever the error it explains held."""
        return " ".join(self.message.split())


@contextmanager
def explained() -> Iterator[None]:
    """Turn what a command's setup raises for bad configuration into one line and exit code 2.

    A BatonError prints as ``Error: <Type>: <message>``; a settings ValidationError (a bad
    ``BATON_*`` variable) as ``Error: BATON_CONCURRENCY: must be >= 1 (got 0)``. Every command
    wraps its setup in this, so no bad variable ever shows a traceback.
    """
    try:
        yield
    except BatonError as exc:
        raise CliExit(f"{type(exc).__name__}: {exc}") from exc
    except ValidationError as exc:
        raise CliExit(settings_problem(exc)) from exc
