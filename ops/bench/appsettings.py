"""Print the Baton app's values of the settings the plain baseline app copies, as one JSON line.

Usage::

    python ops/bench/appsettings.py

Run by ``run.py`` in a fresh process (the harness keeps Baton's app and its publish hook out of
its own process); the harness hands the values to every plain worker
(``BATON_BENCH_PLAIN_SETTINGS``), so the baseline follows the Baton app wherever it goes.
"""

from __future__ import annotations

import sys

from inproc import emit
from names import MIRRORED_SETTINGS

from workers import app


def main() -> int:
    """Print the settings."""
    emit({key: app.conf[key] for key in MIRRORED_SETTINGS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
