"""A job tree's bookkeeping in the result backend's Redis: its size budget and its shape.

A tree is one job a parent program spawned explicitly (``Orchestrator.spawn``, ``baton run``,
a depth-0 job) and every job the model started under it through the Task tool. Each explicit
spawn starts a tree of its own: a parent that asks for 2,000 subagents is the program's decision
and gets them, while a model's recursion under any one of them is bounded by ``max_jobs``
(counted here), ``max_depth`` and ``max_children``. A child learns its tree from the record its
parent left when it spawned it (:data:`TREE_PREFIX`).

Depth and width limits bound a tree's shape; the per-tree counter bounds its size, across every
worker, without any process holding state. The children lists let ``baton status`` draw a tree
while it is still running. The budget fails closed: a backend without a Redis client cannot
count, so it reserves nothing and no job of a tree starts; an in-memory backend (one process,
as in ``baton demo``) counts in that process.

The workers' backend client sends a command again over a dropped connection
(:class:`workers.delivery.backend.BatonRedisBackend`). A reservation is one script, answered
once per job
turn, so a repeat neither counts twice nor undoes a refusal twice; a repeated RPUSH may list a
child twice, and ``baton status`` shows each child once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from envelope import BedrockEnvelope, child_jobs_key
from fleet import run_script
from workers.delivery.backend import backend_redis

logger = logging.getLogger("baton.worker")

#: Prefix of the per-root counters; each expires with the envelope that created it.
KEY_PREFIX = "baton:jobs:"
#: Prefix of the answered reservations, kept as long as the counter.
RESERVATION_PREFIX = "baton:reserved:"
#: Prefix of the record naming the tree (its explicit spawn's job ID) a child job counts against.
TREE_PREFIX = "baton:tree:"


#: Reserve ``ARGV[1]`` jobs against limit ``ARGV[2]`` at most once per reservation ID (KEYS[2]):
#: a repeat, over a dropped connection or from a redelivered turn, gets the first answer back.
_RESERVE = """
local answered = redis.call('get', KEYS[2])
if answered then
  return tonumber(answered)
end
local total = redis.call('incrby', KEYS[1], ARGV[1])
redis.call('expire', KEYS[1], ARGV[3])
local answer = 1
if total > tonumber(ARGV[2]) then
  redis.call('decrby', KEYS[1], ARGV[1])
  answer = 0
end
redis.call('set', KEYS[2], answer, 'EX', ARGV[3])
return answer
"""


class _InProcessBudget:
    """The same answers as ``_RESERVE``, for an in-memory result backend: one process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}
        self._answers: dict[str, bool] = {}
        self.trees: dict[str, str] = {}

    def reserve(self, root_id: str, reservation: str, *, count: int, limit: int) -> bool:
        with self._lock:
            answer = self._answers.get(reservation)
            if answer is None:
                total = self._totals.get(root_id, 0) + count
                answer = total <= limit
                if answer:
                    self._totals[root_id] = total
                self._answers[reservation] = answer
            return answer


_IN_PROCESS = _InProcessBudget()


def reserve(
    backend: Any, *, root_id: str, reservation: str, count: int, limit: int, ttl: int
) -> bool:
    """Reserve ``count`` more jobs under ``root_id``; False, reserving nothing, past ``limit``.

    ``reservation`` names this request (a job's turn): asking again under the same name returns
    the first answer and reserves nothing more.
    """
    if count <= 0:
        return True
    client = backend_redis(backend)
    if client is None:
        if getattr(backend, "backend", None) == "memory":
            return _IN_PROCESS.reserve(root_id, reservation, count=count, limit=limit)
        logger.error("job budget refused: the result backend has no Redis client to count with")
        return False
    keys = [f"{KEY_PREFIX}{root_id}", f"{RESERVATION_PREFIX}{reservation}"]
    return bool(run_script(client, _RESERVE, keys, [count, limit, max(ttl, 1)]))


def tree_of(backend: Any, *, job_id: str, envelope: BedrockEnvelope) -> str:
    """The tree ``job_id`` counts against: itself at depth 0 (an explicit spawn), else the tree
    its parent recorded when it spawned it, kept alive for another envelope lifetime (a job
    that waited long for its children resumes with a fresh window).

    A child with no record (spawned by a worker from before trees were per spawn) counts against
    its parent's root, as every job did then: never against a budget of its own.
    """
    root_id = envelope.lineage.root_id
    if envelope.lineage.depth == 0:
        return job_id
    client = backend_redis(backend)
    if client is None:
        return _IN_PROCESS.trees.get(job_id, root_id)
    found = client.getex(f"{TREE_PREFIX}{job_id}", ex=max(envelope.exp - envelope.iat, 1))
    if found is None:
        return root_id
    return found.decode() if isinstance(found, bytes) else str(found)


def record_children(
    backend: Any, *, job_id: str, child_ids: Sequence[str], ttl: int, tree: str | None = None
) -> None:
    """Remember which children ``job_id`` started, and the tree they count against, for as
    long as its envelope lives."""
    client = backend_redis(backend)
    if not child_ids:
        return
    if client is None:
        if tree is not None:
            _IN_PROCESS.trees.update(dict.fromkeys(child_ids, tree))
        return
    key = child_jobs_key(job_id)
    with client.pipeline(transaction=False) as pipe:
        pipe.rpush(key, *child_ids)
        pipe.expire(key, max(ttl, 1))
        if tree is not None:
            for child_id in child_ids:
                pipe.set(f"{TREE_PREFIX}{child_id}", tree, ex=max(ttl, 1))
        pipe.execute()
