"""The workers' result backend: Celery's Redis backend, with every command surviving a dropped
connection, and Baton's own bookkeeping calls on it.

Celery's Redis backend builds its connections without a retry policy, so a connection dropped in
the middle of a command (a Redis failover, a ``CLIENT KILL``, a restart) raised at once: a
result store, a chord's bookkeeping or Baton's job lock failed, and a job that had already
called Bedrock was lost, or a whole tree waited for good on a chord that never called back.
:class:`BatonRedisBackend` gives its client redis-py's retry policy, so every command (Celery's
and Baton's alike) is sent again on a fresh connection. Each is safe to send twice: reads, SET,
PUBLISH and EXPIRE are; Baton's scripts are written to be (a lock claim finds its own token, a
budget reservation is answered once per turn); a child list may hold an ID twice and is read
once each; and Celery's chord scripts are amended here (a repeat that finds its own claim has
it). Connections time out (:data:`fleet.BACKEND_RETRY_SETTINGS`), so an
unreachable or half-open Redis raises, and is retried, rather than hanging.

A stored success is final. Celery reads a job's state before it writes a new one and skips the
write over a success, but in two round trips: a copy that read the state just before another
copy stored its success overwrote that success with RETRY, and the job was lost after Bedrock
had answered (a throttled turn's retry, run at once by another pool thread, did exactly this in
CI). :class:`BatonRedisBackend` makes the check and the write one script (:data:`STORE_LUA`),
and leaves out Celery's read, which the script makes redundant: one round trip per store, not two.
"""

from __future__ import annotations

import copy
from functools import cached_property
from typing import Any

import redis
from celery.backends.redis import (  # type: ignore[attr-defined]  # not in celery-types
    CHORD_CLAIM_EXTEND_LUA,
    CHORD_CLEANUP_LUA,
    CHORD_PART_RETURN_LUA,
    RedisBackend,
)
from celery.exceptions import BackendStoreError
from kombu.utils.encoding import bytes_to_str
from redis.backoff import FullJitterBackoff
from redis.retry import Retry

from fleet import BACKEND_RETRY_SETTINGS, run_script

#: The same policy as the orchestrator's backend, from the same figures
#: (:data:`fleet.BACKEND_RETRY_SETTINGS`): up to 20 retries, each after a random
#: wait of up to 20 ms, 40 ms ... and at most 2 s; about 14 s in all on average, 29 s at most.
#: Enough for a Redis restart or failover; bounded, so that a Redis that stays away fails a call.
RETRY = Retry(
    FullJitterBackoff(
        cap=BACKEND_RETRY_SETTINGS["result_backend_max_sleep_between_retries_ms"] / 1000,
        base=BACKEND_RETRY_SETTINGS["result_backend_base_sleep_between_retries_ms"] / 1000,
    ),
    retries=BACKEND_RETRY_SETTINGS["result_backend_max_retries"],
)


def backend_redis(backend: Any) -> redis.Redis | None:
    """Return the result backend's Redis client, or None when results live elsewhere."""
    client = getattr(backend, "client", None)
    return client if isinstance(client, redis.Redis) else None


#: Store a job's state unless its stored state is already a success, and announce it; 1 if it
#: was stored. KEYS: the result key; ARGV: the encoded meta, its time to live in seconds (0 for
#: none). A stored value that is not JSON (another serializer) is replaced, as Celery would.
#: It is what Celery's read before a store checks, so a JSON backend's store skips that read.
STORE_LUA = """
local current = redis.call('GET', KEYS[1])
if current then
    local ok, meta = pcall(cjson.decode, current)
    if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
        return 0
    end
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
else
    redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


class BatonRedisBackend(RedisBackend):
    """Celery's Redis result backend, whose every command survives a dropped connection.

    Its client retries (:data:`RETRY`), so Celery's own retry loop around result stores is
    switched off: one level of retries, not twenty times twenty. Celery's chord scripts are
    amended for a repeat: when the last part's script ran but its reply was lost, the repeat
    finds the dispatch claim taken (by itself) and, unamended, nobody would ever send the
    chord's callback. A job's state is stored by :data:`STORE_LUA`, which leaves a stored
    success alone; a repeat of it finds its own write and changes nothing. With JSON results,
    the script is the whole store: Celery's read of the state before it is left out.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.always_retry = False  # the client retries each command already

    def _create_client(self, **params: Any) -> Any:
        return super()._create_client(**params, retry=copy.deepcopy(RETRY))  # type: ignore[misc]

    def _store_result(
        self,
        task_id: Any,
        result: Any,
        state: str,
        traceback: Any = None,
        request: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Store a job's state as Celery 5.7 does, without its read of the stored state first.

        Celery reads the stored meta and skips the write over a success; :data:`STORE_LUA`, which
        :meth:`_set` runs for every task key, makes the same check on the server, atomically. The
        read was a second round trip on every job (about 2 % of a gevent worker's CPU at c1000).
        The script can read only JSON, so with another serializer Celery's own store runs. The
        meta is built by Celery's own code, extended results included.
        """
        if self.content_type != "application/json":  # type: ignore[attr-defined]
            return super()._store_result(  # type: ignore[misc]  # not in celery-types
                task_id, result, state, traceback=traceback, request=request, **kwargs
            )
        meta = self._get_result_meta(  # type: ignore[attr-defined]
            result=result, state=state, traceback=traceback, request=request
        )
        meta["task_id"] = bytes_to_str(task_id)
        try:
            key = self.get_key_for_task(task_id)
            self._set_with_state(key, self.encode(meta), state)  # type: ignore[attr-defined]
        except BackendStoreError as ex:  # as Celery's store re-raises it, naming the job
            raise BackendStoreError(str(ex), state=state, task_id=task_id) from ex  # type: ignore[call-arg]
        return result

    def _set(self, key: Any, value: Any, expires: Any = None) -> None:
        """Store a job's state in one script that leaves a stored success alone."""
        if not key.startswith(self.task_keyprefix):
            super()._set(key, value, expires)  # type: ignore[misc]  # not in celery-types
            return
        ttl = self.expires if expires is None else expires  # type: ignore[attr-defined]
        run_script(self.client, STORE_LUA, [key], [value, int(ttl or 0)])

    @cached_property
    def _chord_part_return_script(self) -> Any:
        return _Amended(self.client.register_script(CHORD_PART_RETURN_LUA), _own_claim)

    @cached_property
    def _chord_cleanup_script(self) -> Any:
        return _Amended(self.client.register_script(CHORD_CLEANUP_LUA), _own_cleanup)

    @cached_property
    def _chord_claim_extend_script(self) -> Any:
        return self.client.register_script(CHORD_CLAIM_EXTEND_LUA)  # a repeat answers the same


class _Amended:
    """A chord script whose answer ``amend`` corrects when a repeat found its own work done."""

    def __init__(self, script: Any, amend: Any) -> None:
        self.script, self.amend = script, amend

    def __call__(self, *, keys: list[Any], args: list[Any], client: redis.Redis) -> Any:
        return self.amend(keys, args, client, self.script(keys=keys, args=args, client=client))


def _own_claim(keys: list[Any], args: list[Any], client: redis.Redis, answer: Any) -> Any:
    """A complete chord whose dispatch claim holds this call's own token is claimed by it."""
    readycount, totaldiff, size, claimed = answer
    complete = size is not None and int(readycount) == int(size) + int(totaldiff or 0)
    if complete and not int(claimed) and client.get(keys[5]) == str(args[7]).encode():
        claimed = 1
    return [readycount, totaldiff, size, claimed]


def _own_cleanup(keys: list[Any], args: list[Any], client: redis.Redis, answer: Any) -> Any:
    """A cleanup that finds the chord already marked done did the cleaning itself."""
    return answer or int(client.get(keys[0]) == b"done")


#: The result backend URL prefix that selects :class:`BatonRedisBackend` (Celery's
#: ``module:Class+url`` form).
BACKEND_PREFIX = f"{__name__}:BatonRedisBackend+"


def chord_safe(url: str | None) -> str | None:
    """Return ``url`` with Baton's backend selected when it is a plain Redis URL."""
    if url is None:
        return None
    scheme = url.partition("://")[0]
    return BACKEND_PREFIX + url if scheme in ("redis", "rediss") else url
