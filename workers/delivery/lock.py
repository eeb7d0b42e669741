"""The per-job lock in the result backend's Redis, and the one thread that keeps held locks alive.

A lock is ``SET NX`` of a random token with a TTL. Only the holder's token refreshes or deletes
it (one Lua script each), so a copy that took over after an expiry cannot be unlocked by the
first. Taking it reads the guard's two keys in the same script: one round trip per job.
While a lock exists, ``baton status`` shows its job as running. The workers' backend client
sends a script again over a dropped connection
(:class:`workers.delivery.backend.BatonRedisBackend`), and
each of these is safe to send twice.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time

import redis

from envelope import job_lock_key
from fleet import run_script

logger = logging.getLogger("baton.worker")

#: Taking a lock this holder already has counts as taken (and renews it): a claim whose reply was
#: lost with its connection is sent again, and must not find its own lock "held elsewhere".
_CLAIM = """
local holder = redis.call('get', KEYS[1])
local taken = 0
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  taken = 1
elseif holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  taken = 1
end
return {taken, redis.call('get', KEYS[2]), redis.call('get', KEYS[3])}
"""

_REFRESH = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class JobLock:
    """One job's lock: taken with :meth:`take`, kept by :data:`keeper`, given back by the holder."""

    def __init__(self, client: redis.Redis, job_id: str, *, ttl: float) -> None:
        self.client = client
        self.name = job_lock_key(job_id)
        self.ttl_ms = max(int(ttl * 1000), 1)
        self.token = f"{random.getrandbits(128):032x}"  # tells holders apart; not a secret

    def claim(self, first: str, second: str) -> tuple[bool, bytes | None, bytes | None]:
        """Try to take the lock and read two keys, in one round trip (one script call).

        Returns whether the lock was taken, and the two values (None where a key is absent).
        """
        taken, one, two = run_script(
            self.client, _CLAIM, [self.name, first, second], [self.token, self.ttl_ms]
        )
        return bool(taken), one, two

    def refresh(self) -> bool:
        """Extend the TTL if this holder still has the lock; False when it has been lost."""
        return bool(run_script(self.client, _REFRESH, [self.name], [self.token, self.ttl_ms]))

    def release(self) -> bool:
        """Delete the lock if this holder still has it; False when it had expired or moved on."""
        return bool(run_script(self.client, _RELEASE, [self.name], [self.token]))


class LockKeeper:
    """One daemon thread per process that keeps every held job lock alive.

    The locks share one TTL, so one loop refreshing them all every third of it is enough; a
    thread per job would cost a thread start and exit per job. Started lazily, and again after a
    fork.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._locks: dict[int, JobLock] = {}
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._every = 0.0

    def hold(self, lock: JobLock, *, every: float) -> None:
        """Refresh ``lock`` every ``every`` seconds (or sooner) until :meth:`drop`."""
        with self._mutex:
            self._locks[id(lock)] = lock
            self._every = min(self._every, every) if self._every else every
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="baton-job-locks", daemon=True
                )
                self._thread.start()

    def drop(self, lock: JobLock) -> None:
        """Stop refreshing ``lock``."""
        with self._mutex:
            self._locks.pop(id(lock), None)

    def _run(self) -> None:
        while True:
            time.sleep(self._every)
            with self._mutex:
                held = list(self._locks.values())
            for lock in held:
                try:
                    refreshed = lock.refresh()
                except redis.RedisError:
                    refreshed = False
                with self._mutex:
                    still_held = id(lock) in self._locks
                if not refreshed and still_held:  # else it was dropped meanwhile
                    logger.warning("could not refresh the job lock %s", lock.name)


#: The process's keeper.
keeper = LockKeeper()
