"""The rules every adapter shares: what the envelope decides cannot be passed in, and a missing
framework is named with the extra that installs it."""

from __future__ import annotations

from collections.abc import Iterable

from workers.errors import WorkerMisconfigured


def refuse_pinned(
    arguments: Iterable[str], pinned: frozenset[str], *, call: str, others: str
) -> None:
    """Raise ``TypeError`` naming every argument in ``pinned`` that was passed to ``call``.

    A region, endpoint, model or credential given by hand would silently undo the envelope,
    which is exactly the bug Baton exists to prevent; ``others`` names what may be passed.
    """
    found = sorted(pinned.intersection(arguments))
    if found:
        raise TypeError(
            f"{', '.join(found)} come from the job's envelope and cannot be passed to {call}; "
            f"pass its other options ({others})"
        )


def missing_sdk(package: str, *, extra: str, call: str) -> WorkerMisconfigured:
    """The error for ``call`` on a worker where ``package`` (``extra``'s framework) is missing."""
    return WorkerMisconfigured(
        f"{call} needs {package}, which is not installed on this worker; install it with "
        f"pip install 'baton[{extra}]'"
    )
