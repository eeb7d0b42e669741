"""A job tree's bookkeeping in the result backend's Redis: its size budget and its shape.

Depth and width limits bound a tree's shape; the per-root counter bounds its size, across every
worker, without any process holding state. The children lists let ``baton status`` draw a tree
while it is still running. Backends without a Redis client fall back to the shape limits alone
and report finished results only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from envelope import child_jobs_key

#: Prefix of the per-root counters; each expires with the envelope that created it.
KEY_PREFIX = "baton:jobs:"


def backend_redis(backend: Any) -> redis.Redis | None:
    """Return the result backend's Redis client, or None when results live elsewhere."""
    client = getattr(backend, "client", None)
    return client if isinstance(client, redis.Redis) else None


def reserve(backend: Any, *, root_id: str, count: int, limit: int, ttl: int) -> bool:
    """Reserve ``count`` more jobs under ``root_id``; False, reserving nothing, past ``limit``."""
    client = backend_redis(backend)
    if count <= 0 or client is None:
        return True
    key = f"{KEY_PREFIX}{root_id}"
    total = int(client.incrby(key, count))
    client.expire(key, max(ttl, 1))
    if total > limit:
        client.decrby(key, count)
        return False
    return True


def record_children(backend: Any, *, job_id: str, child_ids: Sequence[str], ttl: int) -> None:
    """Remember which children ``job_id`` started, for as long as its envelope lives."""
    client = backend_redis(backend)
    if not child_ids or client is None:
        return
    key = child_jobs_key(job_id)
    client.rpush(key, *child_ids)
    client.expire(key, max(ttl, 1))
