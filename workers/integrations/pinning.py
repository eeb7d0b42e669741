"""The one rule every adapter shares: what the envelope decides cannot be passed in."""

from __future__ import annotations

from collections.abc import Iterable


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
