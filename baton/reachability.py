"""Say in one line, within seconds, that the broker or the result backend does not answer.

Celery retries a lost broker or backend for a long time, and then fails with a traceback: right
for a worker riding out a failover, wrong for a command an operator just typed. Commands ask
once, with Celery's own connect timeout (``broker_connection_timeout``, 4 s; the backend's
``redis_socket_connect_timeout``, 5 s), before they publish or read.
"""

from __future__ import annotations

from celery import Celery

from baton.errors import CliExit
from fleet import redact_url


def require_broker(app: Celery) -> None:
    """Connect to ``app``'s broker once, without retrying.

    Raises:
        CliExit: the broker did not answer (exit 2), with its URL, password hidden.
    """
    url = str(app.conf.broker_url)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0)
    # Whatever the transport raises (refused, timed out, unknown host, bad URL): one line.
    except Exception as exc:
        raise CliExit(_unreachable("broker", url, exc, "BATON_BROKER_URL")) from exc


def require_backend(app: Celery) -> None:
    """Ping ``app``'s result backend once, when it is Redis (the only one Baton reads itself).

    Raises:
        CliExit: the result backend did not answer (exit 2), with its URL, password hidden.
    """
    url = str(app.conf.result_backend)
    try:
        client = getattr(app.backend, "client", None)
        if client is not None and hasattr(client, "ping"):
            client.ping()
    # As for the broker: whatever the client raises, one line.
    except Exception as exc:
        raise CliExit(_unreachable("result backend", url, exc, "BATON_RESULT_BACKEND")) from exc


def _unreachable(what: str, url: str, exc: Exception, variable: str) -> str:
    return (
        f"cannot reach the {what} at {redact_url(url)} ({type(exc).__name__}: "
        f"{redact_url(str(exc))}); start it, or set {variable} to where it runs"
    )
