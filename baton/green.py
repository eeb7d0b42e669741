"""``baton worker --pool gevent``: monkey-patch the process before anything opens a socket.

gevent makes sockets, locks, threads and ``time.sleep`` cooperative only in a process patched
before they are made, as Celery's own entry point does (``celery.maybe_patch_concurrency``). So
``baton``'s entry module calls :func:`patch_if_asked` first, before it imports the worker app,
kombu, redis or boto3. Nothing else in Baton patches anything: a parent, ``baton run`` and every
other command run unpatched.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: The pool that needs the process patched, and the extra that installs it.
GEVENT = "gevent"
INSTALL_HINT = "pip install 'baton[gevent]'"


def asks_for_gevent(argv: Sequence[str]) -> bool:
    """True when ``argv`` (without the program name) is ``worker ... --pool gevent``."""
    args = list(argv)
    if "worker" not in args:
        return False
    for index, arg in enumerate(args):
        if arg == "--pool" and index + 1 < len(args) and args[index + 1] == GEVENT:
            return True
        if arg == f"--pool={GEVENT}":
            return True
    return False


def patch_if_asked(argv: Sequence[str]) -> bool:
    """Monkey-patch the process for gevent when ``argv`` starts a gevent worker.

    Returns whether it patched. A missing gevent is one line on stderr naming the extra to
    install, and exit 2 (bad configuration), before anything else happens.
    """
    if not asks_for_gevent(argv):
        return False
    try:
        from gevent import monkey
    except ImportError:
        sys.stderr.write(
            f"Error: --pool gevent needs gevent, which is not installed: {INSTALL_HINT}\n"
        )
        raise SystemExit(2) from None
    monkey.patch_all()
    return True
