"""``baton worker``: a Celery worker bound to region queues, configured from flags and env."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Iterable

import click

from baton.errors import CliExit
from envelope import is_region, queue_for


def check_regions(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--region`` values as given, or click's one-line usage error (exit 2) naming the bad."""
    bad = [value for value in values if not is_region(value)]
    if bad:
        raise click.BadParameter(
            f"{', '.join(map(repr, bad))} is not an AWS region name such as eu-west-1"
        )
    return values


def import_tasks(modules: Iterable[str]) -> None:
    """Import the user's task modules, from the working directory as ``celery -I`` would.

    Raises:
        CliExit: one line naming the module and why it did not import (exit 2).
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in modules:
        try:
            importlib.import_module(module)
        # Any error in the user's module, not only ImportError: one line, never a traceback.
        except Exception as exc:
            missing = isinstance(exc, ModuleNotFoundError) and module.startswith(exc.name or "?")
            fix = (
                "check the module path and run baton worker from your project's directory"
                if missing
                else "the module was found but failed while importing; fix it and start again"
            )
            raise CliExit(
                f"cannot import task module {module!r} (--include, BATON_INCLUDE): "
                f"{type(exc).__name__}: {exc}; {fix}"
            ) from exc


def start_worker(
    *,
    regions: tuple[str, ...],
    pool: str,
    concurrency: int | None,
    debug: bool,
    loglevel: str,
    includes: tuple[str, ...] = (),
    remote_control: str | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Configure the worker app from the environment plus flags, check keys, and run it."""
    if metrics_port is not None:
        # Must precede the first prometheus_client import, so pool children share the files.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="baton-metrics-"))
    from workers import WorkerSettings, app, configure, serve_metrics

    overrides: dict[str, object] = {"debug": debug}
    if remote_control:
        overrides["remote_control"] = remote_control
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    settings = WorkerSettings(**overrides)  # type: ignore[arg-type]
    settings.keyring()  # fail now, with the key error's message, not inside Celery
    configure(app, settings)
    import_tasks(dict.fromkeys((*settings.include, *includes)))
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
