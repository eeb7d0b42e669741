"""A worker in a gevent-patched process: a broker poller that cooperates and has no 1,024 limit.

gevent's monkey-patching replaces ``select.select`` and ``select.poll`` with cooperative ones and
removes ``epoll``. kombu then picks ``select()`` for its Redis transport whenever it sees gevent
(``kombu.utils.eventio._get_poller``), and gevent's ``select()`` asks the system's ``select()``
first: a worker whose descriptors pass 1,024 (a thousand calls in flight hold that many sockets)
stopped with ``ValueError: filedescriptor out of range in select()``. :func:`green_poller` is
kombu's own ``poll`` wrapper over gevent's cooperative ``poll``, which has neither problem;
:class:`workers.delivery.recovery.RecoveringTransport` gives it to its channels' poller.

Nothing here imports gevent unless the process is already patched, and nothing here patches.
"""

from __future__ import annotations

import sys
from typing import Any

from kombu.utils import eventio


def patched() -> bool:
    """True in a process gevent has monkey-patched (``baton worker --pool gevent``,
    ``celery worker -P gevent``)."""
    monkey = sys.modules.get("gevent.monkey")  # a patched process imported it to patch
    return monkey is not None and bool(monkey.is_module_patched("socket"))


class GreenPoll(eventio._poll):  # type: ignore[misc,name-defined]  # kombu's, untyped
    """kombu's ``poll`` wrapper over gevent's cooperative ``poll``: it yields to the hub while it
    waits, and takes descriptors of any number."""

    def __init__(self) -> None:
        from gevent.select import poll  # noqa: PLC0415 - an extra, in a patched process only

        self._poller = poll()
        self._quick_poll = self._poller.poll
        self._quick_register = self._poller.register
        self._quick_unregister = self._poller.unregister


def green_poller() -> Any | None:
    """A :class:`GreenPoll` in a gevent-patched process; None elsewhere (kombu's choice stands)."""
    return GreenPoll() if patched() else None
