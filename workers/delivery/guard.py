"""Nothing lost, nothing run twice: delivery settings and the per-job guard of subagent jobs.

Jobs are acknowledged late and requeued when a pool child dies, so a crash loses nothing; the
price is that a job may be delivered again (a worker that dies holding it, a message that is put
back while its worker is alive but cut off from Redis, a lost message put back that was not lost
after all: ``workers.delivery.recovery``). The guard makes that harmless:

- a job whose final result is already stored is not run again, and Bedrock is not called;
- a job that already handed its next turn to a chord is not run again (the chord carries it on);
- concurrent copies are stopped by a per-job lock (Redis ``SET NX`` with a TTL that a background
  thread keeps refreshing while the job runs); the copy without it retries later, by which time
  the first has finished or died. A job that retries gives its lock back before the retry is
  sent (:func:`give_back`, from the gate's ``retry``): a retry Celery sends with no countdown
  may run at once on another thread, and finding the lock still held it waited half a TTL.

Taking the lock and reading the result and hand-off mark is one script call: one round trip per
job, the guard's whole price on the happy path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery.exceptions import Ignore, Reject

from fleet import PUBLISH_OPTIONS
from workers.delivery.backend import backend_redis
from workers.delivery.leases import lease_timings
from workers.delivery.lock import JobLock, keeper
from workers.errors import BedrockCallRetryable

logger = logging.getLogger("baton.worker")

#: Hard and soft time limits of one subagent turn: a slow model answer, not a whole tree.
TASK_TIME_LIMIT = 900
TASK_SOFT_TIME_LIMIT = 840

#: The per-job lock outlives a frozen worker by at most this long (``BATON_JOB_LOCK_TTL``); it
#: is refreshed every third of that, and a copy that finds it taken looks again after half.
DEFAULT_LOCK_TTL_SECONDS = 60

#: On Redis, the lease window (``BATON_VISIBILITY_TIMEOUT``): a worker renews the lease of every
#: message it holds four times a window, so a live job is never redelivered however long it
#: runs, and a dead worker's messages go back once their lease is a window old. One lock TTL, so
#: that a put-back job mostly finds its dead holder's lock gone (``workers.delivery.recovery``).
VISIBILITY_TIMEOUT = DEFAULT_LOCK_TTL_SECONDS

#: Celery-level retries of a throttled or failed turn, on top of botocore's own attempts: few,
#: spaced out with jitter so a throttled fleet does not retry in lockstep.
MAX_TURN_RETRIES = 4
RETRY_BACKOFF_MAX_SECONDS = 30

#: Per-task options of the guarded subagent tasks.
SUBAGENT_TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": TASK_TIME_LIMIT,
    "soft_time_limit": TASK_SOFT_TIME_LIMIT,
    "autoretry_for": (BedrockCallRetryable,),
    "max_retries": MAX_TURN_RETRIES,
    "retry_backoff": 1,
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    # Celery reprs every result for its success log line, whatever the log level: a whole
    # subagent result took about 80 µs of CPU a job, and it carries model text that has no
    # place in worker logs. The head names the job; the result itself is in the backend.
    "resultrepr_maxsize": 128,
}


def delivery_settings(*, soft_shutdown_timeout: float, visibility_timeout: float) -> dict[str, Any]:
    """Return the worker-wide Celery settings that go with late acknowledgement."""
    every, _ = lease_timings(visibility_timeout)
    return {
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            **PUBLISH_OPTIONS,
            "visibility_timeout": visibility_timeout,
            # kombu asks for a recovery pass every interval x throttle seconds (100 s by
            # default); ask every lease beat. The pass's mutex outlives a holder that died in it
            # by one beat at most.
            "unacked_restore_interval": every,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": max(int(every), 5),
        },
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # Celery lowers the prefetch count after a reconnect and raises it again from the
        # acknowledgement of each job that was running: on the threads pool that is a pool
        # thread sending basic.qos and waiting for its reply on the connection the consumer
        # reads, and two readers of one py-amqp connection wait on each other for good (a
        # RabbitMQ worker stopped taking jobs after a dropped connection while paced jobs were
        # still running). Prefetch is one a slot, and a slot's job that outlived the connection
        # finishes, so the reduction buys nothing here.
        "worker_enable_prefetch_count_reduction": False,
        "worker_soft_shutdown_timeout": soft_shutdown_timeout,
    }


def _handoff_key(job_id: str) -> str:
    return f"baton:handoff:{job_id}"


def mark_handed_on(backend: Any, *, job_id: str, turns: int, ttl: int) -> None:
    """Record that ``job_id`` handed the turn after ``turns`` to a chord."""
    client = backend_redis(backend)
    if client is not None:
        client.set(_handoff_key(job_id), turns, ex=max(ttl, 1))


#: Where the guard keeps a running job's lock on its request, for :func:`give_back`.
LOCK_ATTRIBUTE = "baton_job_lock"


def give_back(request: Any) -> None:
    """Release the job lock ``request`` holds, if it holds one; later calls do nothing."""
    lock = getattr(request, LOCK_ATTRIBUTE, None)
    if lock is None:
        return
    setattr(request, LOCK_ATTRIBUTE, None)
    keeper.drop(lock)
    if not lock.release():
        logger.warning("job lock %s was no longer held at release", lock.name)


def _claim(task: Any, job_id: str, lock: JobLock) -> tuple[dict[str, Any], Any, bool]:
    """Try the job's lock and read its result and hand-off mark, in one round trip."""
    backend = task.app.backend
    taken, raw_meta, handed = lock.claim(backend.get_key_for_task(job_id), _handoff_key(job_id))
    meta = backend.decode_result(raw_meta) if raw_meta else {"status": "PENDING"}
    return meta, handed, taken


@contextmanager
def guarded(task: Any, *, expected_turns: int, lock_ttl: float) -> Iterator[Any]:
    """Run a subagent job at most once at a time, and not at all when it is already done.

    Yields None to run the body, or the stored result to return instead of running; raises
    ``Reject(requeue=True)`` when Redis does not answer the claim at all. A body that
    returns leaves its lock to expire: Celery stores the result only after the body returns, and
    the lock keeps a copy out until then. Any other ending gives the lock back at once, so a
    retry (same job ID) or a chord's resume takes it without waiting; a retry gives it back even
    before its copy is sent (:func:`give_back`).
    """
    client = backend_redis(task.app.backend)
    if client is None:
        yield None
        return
    job_id = str(task.request.id)
    lock = JobLock(client, job_id, ttl=lock_ttl)
    try:
        meta, handed, taken = _claim(task, job_id, lock)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # Redis stayed away through every retry of the client. Nothing has run: back to the queue,
        # rather than a failure that could not even be stored.
        logger.error("job %s: the result backend did not answer (%s); requeued", job_id, exc)
        raise Reject(exc, requeue=True) from exc
    if meta.get("status") == "SUCCESS" or (handed is not None and int(handed) > expected_turns):
        if taken:
            lock.release()
        if meta.get("status") == "SUCCESS":
            logger.info("job %s already has its result; not running it again", job_id)
            yield meta.get("result")
            return
        logger.info("job %s already handed turn %s on; dropping this copy", job_id, int(handed))
        raise Ignore()
    if not taken:
        logger.info("job %s is running elsewhere; this copy looks again later", job_id)
        raise task.retry(countdown=lock_ttl / 2, max_retries=None)
    keeper.hold(lock, every=lock_ttl / 3)
    setattr(task.request, LOCK_ATTRIBUTE, lock)
    returned = False
    try:
        yield None
        returned = True
    finally:
        if returned:
            keeper.drop(lock)
            setattr(task.request, LOCK_ATTRIBUTE, None)
        else:
            give_back(task.request)
