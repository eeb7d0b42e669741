"""How many subagent jobs one root may start: a counter in the result backend's Redis.

Depth and width limits bound a tree's shape; this bounds its size, across every worker, without
any process holding state. Backends without a Redis client fall back to the shape limits alone.
"""

from __future__ import annotations

from typing import Any

#: Prefix of the per-root counters; each expires with the envelope that created it.
KEY_PREFIX = "baton:jobs:"


def reserve(backend: Any, *, root_id: str, count: int, limit: int, ttl: int) -> bool:
    """Reserve ``count`` more jobs under ``root_id``; False, reserving nothing, past ``limit``."""
    client = getattr(backend, "client", None)
    if count <= 0 or client is None or not hasattr(client, "incrby"):
        return True
    key = f"{KEY_PREFIX}{root_id}"
    total = int(client.incrby(key, count))
    client.expire(key, max(ttl, 1))
    if total > limit:
        client.decrby(key, count)
        return False
    return True
