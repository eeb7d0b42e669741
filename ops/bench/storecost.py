"""The CPU of one result store: Celery's (a GET of the stored meta, then the store script) against
Baton's (the script alone), alternating, on a private ``redis-server``.

Usage::

    python ops/bench/storecost.py 3000 6    # stores per run, runs of each

Every job stores its state once; Celery's ``_store_result`` read the stored meta first, to skip
a write over a success that :data:`workers.delivery.backend.STORE_LUA` skips on the server
anyway. This times both in one process, so the difference is the round trip the worker no
longer makes, not the machine's load. Prints one JSON line.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from celery.backends.base import KeyValueStoreBackend
from inproc import emit
from services import Services, start_redis

from workers.delivery.backend import chord_safe


def stores(backend: Any) -> dict[str, Callable[[str], Any]]:
    """The two ways of storing a job's success."""
    return {
        "celery_read_then_script": lambda job: KeyValueStoreBackend._store_result(
            backend, job, None, "SUCCESS"
        ),
        "script_only": lambda job: backend._store_result(job, None, "SUCCESS"),
    }


def cpu_us_per_store(backend: Any, store: Callable[[str], Any], count: int) -> float:
    """Store ``count`` fresh jobs' successes; the process CPU time per store, in µs."""
    backend.client.flushdb()
    started = time.process_time()
    for index in range(count):
        store(f"job-{index}")
    return (time.process_time() - started) / count * 1e6


def measure(url: str, *, count: int, runs: int) -> dict[str, Any]:
    """Alternate the two stores ``runs`` times each against the Redis at ``url``."""
    app = Celery("storecost", broker="memory://", backend=chord_safe(url))
    app.conf.update(result_serializer="json")
    ways = stores(app.backend)
    for store in ways.values():
        store("warm")  # the script is loaded
    figures: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(runs):
        for name, store in ways.items():
            figures[name].append(round(cpu_us_per_store(app.backend, store, count), 1))
    return {
        "cpu_us_per_store": {name: statistics.median(v) for name, v in figures.items()},
        "runs": figures,
    }


def main(argv: list[str]) -> int:
    count, runs = (int(argv[0]), int(argv[1])) if len(argv) > 1 else (3000, 6)
    services = Services(log_dir=Path(tempfile.mkdtemp(prefix="storecost-")))
    try:
        redis_server = start_redis(services)
        emit(measure(redis_server.url(1), count=count, runs=runs))
    finally:
        services.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
