"""The CLI's rich consoles."""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Columns when the output is not a terminal (a CI log, a file): wide enough that an ARN, a model
#: ID or a policy statement is never split across lines, as rich's default 80 would.
PIPED_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A rich console: the terminal's width, ``COLUMNS`` when set, else ``PIPED_WIDTH``."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=PIPED_WIDTH if wide else None)
