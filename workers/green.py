"""A worker in a gevent-patched process: a broker poller that cooperates and has no 1,024 limit.

gevent's monkey-patching replaces ``select.select`` and ``select.poll`` with cooperative ones and
removes ``epoll``. kombu then picks ``select()`` for its Redis transport whenever it sees gevent
(``kombu.utils.eventio._get_poller``), and gevent's ``select()`` asks the system's ``select()``
first: a worker whose descriptors pass 1,024 (a thousand calls in flight hold that many sockets)
stopped with ``ValueError: filedescriptor out of range in select()``. :func:`green_poller` is
kombu's own ``poll`` wrapper over gevent's cooperative ``poll``, which has neither problem;
:class:`workers.delivery.recovery.RecoveringTransport` gives it to its channels' poller.

A poller that waits also misses the moment a slot frees. Celery runs a gevent pool without an
event loop: its consumer asks the broker for messages only while the prefetch window has room,
then waits in ``poll`` for up to two seconds. A job finishing and acknowledging its message frees
room, but nothing woke the wait, so the next messages came up to two seconds late: at c20 and
0.5 s per call, plain Celery on gevent reached 0.21 of the ideal rate, the threads pool 0.92.
:meth:`GreenPoll.wake` ends the wait, and the worker's QoS calls it on every acknowledgement
(:class:`workers.delivery.recovery.RecoveringQoS`).

A wake only makes kombu look at its channels again: its ``drain_events`` goes on waiting until a
message comes or its two seconds are up, and only then does Celery's loop run the callbacks queued
for it. Remote control queues its commands there (``add_consumer``, ``cancel_consumer``: they run
on the consumer's greenlet, never on the broadcast's), and a paused worker receives no message: a
resume from Flower took effect up to two seconds late, and so did a pause, during which a job
published meanwhile still ran. :meth:`GreenPoll.interrupt` ends the wait as its timeout would,
and the worker's consumer calls it whenever it queues a callback
(:class:`workers.consumer.BatonConsumer`).

Nothing here imports gevent unless the process is already patched, and nothing here patches.
"""

from __future__ import annotations

import os
import select
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
    waits, takes descriptors of any number, and :meth:`wake` ends a wait early."""

    def __init__(self) -> None:
        from gevent.select import poll  # noqa: PLC0415 - an extra, in a patched process only

        self._poller = poll()
        self._quick_poll = self._readable_on_error
        self._quick_register = self._poller.register
        self._quick_unregister = self._poller.unregister
        #: A pipe whose read end the wait watches; made at the first wait (only a consumer's
        #: connection ever waits, a publisher's never does).
        self._wake_fds: tuple[int, int] | None = None
        #: Set by :meth:`interrupt`: the next wait that ends without events ends kombu's
        #: ``drain_events`` too, as its timeout would.
        self._interrupted = False

    def _readable_on_error(self, timeout: int) -> list[tuple[int, int]]:
        """gevent's poll, its events as ``select()`` reports them, which is what kombu's
        consumer without an event loop expects: a socket in error or hung up is readable (the
        read raises the connection error kombu recovers from), and a descriptor closed under
        the wait is forgotten. Handed over as they are, an error event made kombu read a
        connection redis-py had already torn down, and the worker stopped on an AttributeError
        at the first dropped connection."""
        events = []
        for fd, event in self._poller.poll(timeout):
            if event & select.POLLNVAL:
                self.unregister(fd)
                continue
            failed = event & (select.POLLERR | select.POLLHUP)
            events.append((fd, event | select.POLLIN if failed else event))
        return events

    def unregister(self, fd: Any) -> Any:
        """kombu's, for a socket closed under it too: its ``fileno()`` is -1 then, which
        gevent refuses with ``ValueError`` where kombu expected ``OSError``, and the worker
        stopped on it after a dropped connection."""
        try:
            return super().unregister(fd)
        except (KeyError, ValueError):
            return fd

    def poll(self, timeout: float | None) -> list[tuple[int, int]] | None:
        """kombu's poll, with a wake-up: the wake pipe's event is drained and left out, so a
        woken wait returns no events and kombu's consumer looks at its channels again. A wait
        that ends without events after :meth:`interrupt` raises ``socket.timeout`` (an alias
        of ``TimeoutError``), which ends kombu's ``drain_events`` as its own timeout does."""
        if self._wake_fds is None:
            reader, writer = os.pipe()
            os.set_blocking(reader, False)
            os.set_blocking(writer, False)
            self._wake_fds = reader, writer
            self._quick_register(reader, select.POLLIN)
        events: list[tuple[int, int]] | None = super().poll(timeout)
        reader = self._wake_fds[0]
        if events and any(fd == reader for fd, _ in events):
            try:
                while os.read(reader, 4096):
                    pass
            except BlockingIOError:
                pass
            events = [(fd, event) for fd, event in events if fd != reader]
        if not events and self._interrupted:
            self._interrupted = False
            raise TimeoutError("interrupted: the consumer has callbacks to run")
        return events

    def wake(self) -> None:
        """End the current wait, if there is one: a slot has freed."""
        if self._wake_fds is not None:
            try:  # noqa: SIM105 - a full pipe already holds a wake-up
                os.write(self._wake_fds[1], b"!")
            except BlockingIOError:
                pass

    def interrupt(self) -> None:
        """End the current wait and the ``drain_events`` around it: a callback is queued."""
        self._interrupted = True
        self.wake()

    def close(self) -> None:
        """Close the wake pipe too."""
        fds, self._wake_fds = self._wake_fds, None
        for fd in fds or ():
            os.close(fd)
        super().close()


def poller_of(transport: Any) -> GreenPoll | None:
    """The :class:`GreenPoll` a kombu transport's consumer waits on, if it has one."""
    poller = getattr(getattr(transport, "cycle", None), "poller", None)
    return poller if isinstance(poller, GreenPoll) else None


def green_poller() -> Any | None:
    """A :class:`GreenPoll` in a gevent-patched process; None elsewhere (kombu's choice stands)."""
    return GreenPoll() if patched() else None
