"""Where parents and workers meet: the broker and result-backend defaults both sides share."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

#: A local Redis, db 0: the quick start's broker.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: Results live beside the broker, in the next database, so a purge of one spares the other.
DEFAULT_RESULT_DB = 1


def default_result_backend(broker_url: str) -> str:
    """Return the result backend to use when ``BATON_RESULT_BACKEND`` is unset.

    A Redis broker keeps results in the same server, db 1; any other broker falls back to the
    default local Redis, db 1.
    """
    parts = urlsplit(broker_url)
    if parts.scheme not in ("redis", "rediss"):
        parts = urlsplit(DEFAULT_BROKER_URL)
    return urlunsplit(parts._replace(path=f"/{DEFAULT_RESULT_DB}"))
