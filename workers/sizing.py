"""Connection pools and the descriptor limit, sized from the worker's concurrency.

Each task slot may hold, at the same moment, a Bedrock connection, a result-backend connection
(its job lock and result) and a broker connection (its acknowledgement, its children's
publishes). Celery's and botocore's defaults hold ten of each, which a threads or gevent pool of
hundreds outruns: acknowledgements failed with ``MaxConnectionsError``, Celery dropped the
consumer connection, and the unacknowledged jobs came back and called Bedrock a second time;
botocore discarded and reopened a connection per call. So a worker sizes every pool from the
concurrency it starts with (``--concurrency``, ``-c``), with :data:`HEADROOM` to spare for its own
connections (consumer, leases, job-lock refresh, remote control), and raises its soft
descriptor limit to the hard one. Nobody tunes any of it.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

from workers.delivery.backend import BACKEND_PREFIX
from workers.green import patched

logger = logging.getLogger("baton.worker")

#: Connections beyond one per task slot: the consumer's, the lease keeper's, the job-lock
#: keeper's, remote control's, a heartbeat's.
HEADROOM = 20

#: Descriptors one task slot may hold at once: Bedrock, the result backend, the broker, and one
#: for what the task itself opens.
DESCRIPTORS_PER_SLOT = 4

#: What a worker asks for when the hard limit is unlimited (Linux refuses "unlimited" itself).
DEFAULT_UNLIMITED_TARGET = 1 << 20


def pool_limit(concurrency: int) -> int:
    """Connections a pool of ``concurrency`` task slots may open: one a slot, plus headroom."""
    return concurrency + HEADROOM


def sized_settings(conf: Any, *, concurrency: int) -> dict[str, Any]:
    """Celery settings for ``concurrency`` slots: the producer pool (``broker_pool_limit``), the
    Redis transport's channel pool (``max_connections``) and the Redis result backend's pool
    (``redis_max_connections``), each above the concurrency. The backend's is twice as large:
    redis-py refuses a command past it rather than waiting, and a slot's result store can meet its
    job lock's refresh. A setting the operator raised higher stays."""
    limit = pool_limit(concurrency)
    options = dict(conf.broker_transport_options or {})
    options["max_connections"] = max(limit, int(options.get("max_connections") or 0))
    return {
        "broker_pool_limit": max(limit, int(conf.broker_pool_limit or 0)),
        "broker_transport_options": options,
        "redis_max_connections": max(limit + concurrency, int(conf.redis_max_connections or 0)),
    }


def raise_open_files(*, needed: int) -> tuple[int, int]:
    """Raise the soft descriptor limit to the hard one when it is below ``needed``.

    Returns the soft and hard limits in force afterwards. Where the OS refuses, the limit stays,
    and a warning says how many descriptors the worker may need.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft, hard
    target = DEFAULT_UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        logger.warning("could not raise the open-file limit from %d (%s)", soft, exc)
        return soft, hard
    soft = target
    if soft < needed:
        logger.warning(
            "open-file limit %d is below the %d descriptors this concurrency may hold; raise "
            "the hard limit (ulimit -Hn) or lower --concurrency",
            soft,
            needed,
        )
    return soft, hard


def size_worker(app: Any, *, concurrency: int) -> None:
    """Size ``app``'s pools, its Bedrock clients and the descriptor limit for ``concurrency``.

    Called as the worker starts, before its consumer connects; Bedrock clients are built at the
    first job, so they get the new size too.
    """
    settings = sized_settings(app.conf, concurrency=concurrency)
    if patched() and str(app.conf.result_backend or "").startswith(BACKEND_PREFIX):
        # Celery keeps its result backend per thread, and under gevent a thread local is per
        # greenlet: every job built a backend, and a connection pool, of its own. Redis's
        # client is safe to share, so the worker keeps one, sized above.
        settings["result_backend_thread_safe"] = True
    if patched():
        # A gevent pool can kill a running job, and Celery does when the consumer's connection
        # drops: a job killed after its Bedrock call went out ran again elsewhere and called
        # Bedrock twice (30 of 200 jobs with every connection dropped nine times). Left running,
        # it stores its result, and the copy redelivered for want of its ack finds the result
        # and does not call Bedrock; the job lock keeps two copies from running at once.
        settings["worker_cancel_long_running_tasks_on_connection_loss"] = False
    app.conf.update(settings)
    clients = app.baton_runtime.clients
    clients.resize(max_pool_connections=concurrency)
    soft, _ = raise_open_files(needed=DESCRIPTORS_PER_SLOT * concurrency + HEADROOM)
    logger.info(
        "Baton worker sized for %d task slots: broker pool %d, broker channel connections %d, "
        "result backend connections %d, Bedrock connections per client %d, open files %s",
        concurrency,
        settings["broker_pool_limit"],
        settings["broker_transport_options"]["max_connections"],
        settings["redis_max_connections"],
        clients.max_pool_connections,
        "unlimited" if soft == resource.RLIM_INFINITY else soft,
    )
