"""Machinery of the fault, security and identity tests: crafted envelopes, results read straight
from the backend, and the figures they print; the emulator and worker processes are the suite's
own fixtures (``tests/conftest.py``).

Nothing here mocks a broker, a worker or Bedrock: the emulator and the workers are real
processes, the broker is the session's private Redis, and every process is stopped by its pid.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from emulator import (
    OTHER_ACCESS_KEY_ID,
    OTHER_SECRET_ACCESS_KEY,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
)
from envelope import HEADER_KEY, TASK_NAME, Keyring, Lineage, encode
from tests.conftest import EmulatorProc, Worker
from tests.factories import make_envelope
from tests.support.processes import sigkill

REGION = "eu-west-1"
MODEL = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
QUEUE = f"baton.{REGION}"
#: The emulator's documented test key pairs: the worker's ambient identity, and another one.
AMBIENT = {"AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY}
OTHER = {"AWS_ACCESS_KEY_ID": OTHER_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": OTHER_SECRET_ACCESS_KEY}


#: The emulator process the fault, security and identity tests drive (the suite's own).
Bedrock = EmulatorProc


@pytest.fixture()
def emulator_proc(start_emulator: Callable[..., Bedrock]) -> Callable[..., Bedrock]:
    """Factory: ``python -m emulator`` with any of its options (``throttle_rate=0.2``...)."""
    return start_emulator


def kill_whole_worker(worker: Worker) -> int:
    """SIGKILL the worker's main process and every pool child; return how many died."""
    pids = [worker.pid, *worker.children()]
    sigkill(*pids)
    worker.proc.popen.wait(timeout=10)
    return len(pids)


def crafted(endpoint: str | None, *, keyring: Keyring, **overrides: Any) -> str:
    """Sign an envelope for ``endpoint`` with ``keyring``; ``overrides`` replace any field."""
    fields: dict[str, Any] = {
        "endpoint_url": endpoint,
        "lineage": Lineage(root_id=f"crafted-{secrets.token_hex(4)}"),
        "kid": keyring.active,
    }
    return encode(make_envelope(**{**fields, **overrides}), keyring=keyring)


def publish(app: Any, token: object, *, prompt: str = "hello", queue: str = QUEUE) -> Any:
    """Publish one job straight onto ``queue`` with ``token`` as its envelope header."""
    headers = {} if token is None else {HEADER_KEY: token}
    return app.send_task(TASK_NAME, kwargs={"prompt": prompt}, headers=headers, queue=queue)


@dataclass
class Outcome:
    """Where every job of a run ended, read from the result backend."""

    states: dict[str, str]
    results: dict[str, Any]

    @property
    def lost(self) -> list[str]:
        return [job for job, state in self.states.items() if state != "SUCCESS"]


def settle(
    app: Any,
    job_ids: list[str],
    *,
    timeout: float,
    poll: float = 0.25,
    idle: Callable[[], bool] | None = None,
    idle_for: float = 5.0,
) -> Outcome:
    """Wait until every job has a final state (or ``timeout``); read them without pub/sub.

    ``idle`` says nothing is left in flight; once it has said so at every poll for ``idle_for``
    seconds, the jobs still pending are lost and waiting longer is pointless.
    """
    client = app.backend.client
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    while True:
        if idle is not None:
            idle_since = (idle_since or time.monotonic()) if idle() else None
            if idle_since is not None and time.monotonic() - idle_since > idle_for:
                deadline = 0.0
        raw = client.mget([app.backend.get_key_for_task(job) for job in job_ids])
        metas = [json.loads(item) if item else {} for item in raw]
        states = {
            job: meta.get("status", "PENDING") for job, meta in zip(job_ids, metas, strict=True)
        }
        done = all(state in ("SUCCESS", "FAILURE") for state in states.values())
        if done or time.monotonic() > deadline:
            results = {job: meta.get("result") for job, meta in zip(job_ids, metas, strict=True)}
            return Outcome(states=states, results=results)
        time.sleep(poll)


def finished(app: Any, job_ids: list[str]) -> int:
    """How many of ``job_ids`` have a final state right now."""
    return sum(state != "PENDING" for state in settle(app, job_ids, timeout=0).states.values())


def wait_until(predicate: Callable[[], bool], *, timeout: float, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(poll)


def figures(title: str, **numbers: object) -> None:
    """Print a test's figures on one line, for ``pytest -s`` and the closing note."""
    print(f"\n[figures] {title}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))
