"""``baton worker``: a Celery worker bound to region queues, configured from flags and env."""

from __future__ import annotations

import os

from envelope import queue_for


def start_worker(
    *, regions: tuple[str, ...], pool: str, concurrency: int | None, debug: bool, loglevel: str
) -> None:
    """Configure the worker app from the environment plus flags, check keys, and run it."""
    from workers import WorkerSettings, app, configure

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
    app.worker_main(argv)
