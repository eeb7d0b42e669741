"""A job tree's bookkeeping in the result backend's Redis: its size budget and its shape.

Depth and width limits bound a tree's shape; the per-root counter bounds its size, across every
worker, without any process holding state. The children lists let ``baton status`` draw a tree
while it is still running. Backends without a Redis client fall back to the shape limits alone
and report finished results only.

Every call survives a dropped connection (:func:`workers.backend.retried`). A retried INCRBY
whose first reply was lost counts twice, so a tree may stop short of its limit, never past it; a
retried RPUSH may list a child twice, and ``baton status`` shows each child once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envelope import child_jobs_key
from workers.backend import backend_redis, retried

#: Prefix of the per-root counters; each expires with the envelope that created it.
KEY_PREFIX = "baton:jobs:"


def reserve(backend: Any, *, root_id: str, count: int, limit: int, ttl: int) -> bool:
    """Reserve ``count`` more jobs under ``root_id``; False, reserving nothing, past ``limit``."""
    client = backend_redis(backend)
    if count <= 0 or client is None:
        return True
    key = f"{KEY_PREFIX}{root_id}"
    total = int(retried(lambda: client.incrby(key, count)))
    retried(lambda: client.expire(key, max(ttl, 1)))
    if total > limit:
        retried(lambda: client.decrby(key, count))
        return False
    return True


def record_children(backend: Any, *, job_id: str, child_ids: Sequence[str], ttl: int) -> None:
    """Remember which children ``job_id`` started, for as long as its envelope lives."""
    client = backend_redis(backend)
    if not child_ids or client is None:
        return
    key = child_jobs_key(job_id)
    retried(lambda: client.rpush(key, *child_ids))
    retried(lambda: client.expire(key, max(ttl, 1)))
