"""The Baton side of the no-op benchmark: a task on ``workers.app``, loaded with ``-I``.

Usage::

    PYTHONPATH=ops/bench celery -A workers worker -I bench_tasks -P solo -Q baton.eu-west-1

Like every task on the Baton app, the no-op runs only after the gate has decoded, verified and
policy-checked its envelope, so its throughput against :mod:`bench_plain`'s is the price of the
envelope path. Every benchmark worker loads this module, for its ready line.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready
from names import BATON_NOOP_TASK, READY_MARKER

from workers import app


@app.task(name=BATON_NOOP_TASK)
def baton_noop() -> None:
    """Do nothing, behind the gate."""


@worker_ready.connect(weak=False)
def announce_ready(sender: Any = None, **_: Any) -> None:
    """Tell the harness this worker consumes (Celery's own line is INFO, below our log level)."""
    print(READY_MARKER, flush=True)
