"""asyncio's running event loop, kept per greenlet in a gevent worker.

asyncio records the loop a thread is running in the C thread state, not in a ``threading.local``
gevent could patch, and every greenlet of a gevent worker shares the one thread. So frameworks
whose synchronous API runs an event loop of its own collided as soon as two jobs overlapped:
Strands' ``Agent(...)(prompt)`` (``asyncio.run`` in a helper thread, itself a greenlet here)
failed with "asyncio.run() cannot be called from a running event loop" and Pydantic AI's
``run_sync`` with "This event loop is already running", because while one job's loop waited on
Bedrock the next job saw that loop as its own thread's (15 of the 16 such jobs among 40 at c50
failed, ``tests/compat/test_gevent.py``).

:func:`keep_running_loops_per_greenlet` fixes that with greenlet's switch hook: on every switch
the loop the leaving greenlet was running is put aside on it, and the one the arriving greenlet
had is put back (none, for a greenlet that runs no loop). The thread's async generator hooks go
with it: a loop installs its own as it starts, and a generator first iterated under another
greenlet's was closed by that loop's ``shutdown_asyncgens`` while still in use (Pydantic AI's jobs
then failed with "generator didn't stop after athrow()", and Strands' hung). Each job's loop then
stays its own, and still waits cooperatively: gevent's ``select`` under asyncio's selector yields
to the hub.
"""

from __future__ import annotations

import sys
from asyncio import events
from typing import Any

from workers.green import patched

#: Where a greenlet's running loop and async generator hooks wait while another greenlet runs.
_ATTRIBUTE = "_baton_running_loop"

#: A thread's async generator hooks when no loop has set any.
_NO_HOOKS = (None, None)

#: Marks the tracer this module installed, so installing twice chains nothing.
_MARK = "baton_keeps_running_loops"


def _swap_running_loop(origin: Any, target: Any) -> None:
    """Put aside what ``origin`` leaves running, put back what ``target`` had: nothing to do on
    most switches, where neither runs a loop. Only a greenlet switched out holds the attribute."""
    loop, hooks = events._get_running_loop(), sys.get_asyncgen_hooks()
    saved = target.__dict__.pop(_ATTRIBUTE, None)
    if loop is not None or hooks != _NO_HOOKS:
        origin.__dict__[_ATTRIBUTE] = (loop, hooks)
    elif saved is None:
        return
    restored_loop, restored_hooks = saved or (None, _NO_HOOKS)
    events._set_running_loop(restored_loop)
    sys.set_asyncgen_hooks(*restored_hooks)


def keep_running_loops_per_greenlet() -> bool:
    """In a gevent-patched process, make asyncio's running loop per greenlet in this thread (the
    worker's, where the pool's greenlets run); return whether the hook is installed.

    Idempotent; a tracer installed before keeps receiving every event.
    """
    if not patched():
        return False
    import greenlet  # noqa: PLC0415 - the gevent extra's, in a patched process only

    previous = greenlet.gettrace()
    if getattr(previous, _MARK, False):
        return True

    def trace(event: str, args: tuple[Any, Any]) -> None:
        if event in ("switch", "throw"):
            _swap_running_loop(*args)
        if previous is not None:
            previous(event, args)

    setattr(trace, _MARK, True)
    greenlet.settrace(trace)
    return True
