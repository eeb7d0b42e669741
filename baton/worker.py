"""``baton worker``: a Celery worker bound to region queues, configured from flags and env."""

from __future__ import annotations

import os
import tempfile

from envelope import queue_for


def start_worker(
    *,
    regions: tuple[str, ...],
    pool: str,
    concurrency: int | None,
    debug: bool,
    loglevel: str,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Configure the worker app from the environment plus flags, check keys, and run it."""
    if metrics_port is not None:
        # Must precede the first prometheus_client import, so pool children share the files.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="baton-metrics-"))
    from workers import WorkerSettings, app, configure
    from workers.metrics import serve as serve_metrics

    overrides: dict[str, object] = {"debug": debug}
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    settings = WorkerSettings(**overrides)  # type: ignore[arg-type]
    settings.keyring()  # fail now, with the key error's message, not inside Celery
    configure(app, settings)
    argv = [
        "worker",
        "--queues",
        ",".join(queue_for(region) for region in regions),
        "--pool",
        pool,
        "--loglevel",
        loglevel,
        "--hostname",
        f"baton-{'+'.join(regions)}.{os.getpid()}@%h",
    ]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    if metrics_port is not None:
        serve_metrics(metrics_port, host=metrics_host)
    app.worker_main(argv)
