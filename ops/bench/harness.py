"""What every section of a run shares: the plan, the private services, parents and publishers."""

from __future__ import annotations

import itertools
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from drain import timed_drain
from names import (
    BATON_NOOP_TASK,
    PLAIN_CONVERSE_LATE_TASK,
    PLAIN_CONVERSE_TASK,
    PLAIN_NOOP_TASK,
    PLAIN_QUEUE,
    PLAIN_SETTINGS_VARIABLE,
    PLAIN_SLEEP_TASK,
    REGION,
)
from plan import Plan
from services import BENCH_DIR, TEST_CREDENTIALS, RedisServer, Services, clean_env
from workerfleet import Fleet, WorkerSpec

from envelope import HEADER_KEY, Keyring, encode, queue_for
from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app

#: Emulator latency of the I/O-bound measurements (c, e and the plot), in seconds.
LATENCY_SECONDS = 0.2

#: Publishes ``n`` jobs and returns their ids.
Publish = Callable[[int], list[str]]

#: Slowest rate any warm-up is expected to reach; it only bounds the wait.
WARM_RATE_FLOOR = 20.0

#: The longest any in-process measurement subprocess may take.
SUBPROCESS_TIMEOUT_SECONDS = 180.0


@dataclass
class Bench:
    """The run's services and the clients the harness talks to them with.

    Built once the services are up; it reads the Baton app's worker settings then (in a fresh
    process, see ``appsettings.py``) so every plain worker of the run copies them.
    """

    services: Services
    redis: RedisServer
    key: str
    slow_url: str
    fast_url: str
    out_dir: Path
    plan: Plan

    def __post_init__(self) -> None:
        self.results = redis.Redis.from_url(self.redis.url(1))
        self.producer = Celery(
            "bench-producer", broker=self.redis.url(0), backend=None, set_as_current=False
        )
        self.producer.conf.update(task_serializer="json", accept_content=["json"])
        self.keyring = Keyring.from_env_values(key=self.key, keys=None)
        self._noop_serial = itertools.count()
        self.plain_settings: dict[str, Any] = self.run_script("appsettings.py")

    def close(self) -> None:
        """Release the harness's own connections (the services are stopped separately)."""
        self.producer.close()
        self.results.close()

    @property
    def worker_env(self) -> dict[str, str]:
        """Return what every benchmark worker is started with, beyond its spec."""
        return {
            "BATON_BROKER_URL": self.redis.url(0),
            "BATON_RESULT_BACKEND": self.redis.url(1),
            "BATON_ENVELOPE_KEY": self.key,
            "BATON_ALLOWED_ENDPOINTS": "loopback",  # the emulator, on whatever port it took
            PLAIN_SETTINGS_VARIABLE: json.dumps(self.plain_settings),
        }

    def fleet(self, specs: Iterable[WorkerSpec]) -> Fleet:
        """Start ``specs`` together; the caller stops them with ``with`` or ``stop()``."""
        return Fleet(self.services, specs, control=self.producer, env=self.worker_env)

    def parent(self, endpoint_url: str, **options: Any) -> Orchestrator:
        """Return a parent whose captured configuration is eu-west-1 at ``endpoint_url``;
        ``options`` are more of its settings (``max_jobs=...``)."""
        settings = ProducerSettings(
            broker_url=self.redis.url(0),
            result_backend=self.redis.url(1),
            envelope_key=self.key,  # type: ignore[arg-type]
            discovery=False,
            **options,
        )
        environ = {"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": endpoint_url}
        config = capture(environ=environ)
        return Orchestrator(config=config, settings=settings, app=producer_app(settings))

    def publish_baton_noops(
        self, parent: Orchestrator, count: int, *, per_token: int = 1
    ) -> list[str]:
        """Publish ``count`` gated no-ops, a signed child envelope for every ``per_token``.

        With ``per_token=1`` every token of a run is distinct, as if each no-op had its own
        parent: the worker pays the full verification for each, whatever it may remember of
        tokens it has seen. A larger ``per_token`` is how a turn's children arrive: siblings
        share their parent's child envelope. They go out through the parent's app, a Baton
        publisher, which binds each message to its token as any Baton publisher does.
        """
        root = parent.envelope
        ids = []
        token = ""
        for index in range(count):
            if index % per_token == 0:
                serial = next(self._noop_serial)
                token = encode(root.child(parent_id=f"bench-{serial}"), keyring=self.keyring)
            sent = parent.app.send_task(
                BATON_NOOP_TASK, headers={HEADER_KEY: token}, queue=queue_for(REGION)
            )
            ids.append(str(sent.id))
        return ids

    @staticmethod
    def publish_propagated_noops(parent: Orchestrator, count: int) -> list[str]:
        """Publish ``count`` gated no-ops as a Baton parent publishes its own tasks.

        Inside ``Orchestrator.propagating()`` the parent's publish hook attaches its signed
        envelope and its router picks the region's queue: every job of the block carries the same
        token, as every job a parent spawns in the same second does.
        """
        with parent.propagating():
            return [str(parent.app.send_task(BATON_NOOP_TASK).id) for _ in range(count)]

    def publish_plain_noops(self, count: int, *, carrying: Orchestrator | None = None) -> list[str]:
        """Publish ``count`` plain no-ops; with ``carrying``, each with a signed envelope header.

        The plain worker never reads the header: those no-ops price carrying the envelope
        apart from checking it.
        """
        ids = []
        for _ in range(count):
            headers = {}
            if carrying is not None:
                serial = next(self._noop_serial)
                child = carrying.envelope.child(parent_id=f"bench-{serial}")
                headers[HEADER_KEY] = encode(child, keyring=self.keyring)
            sent = self.producer.send_task(PLAIN_NOOP_TASK, headers=headers, queue=PLAIN_QUEUE)
            ids.append(str(sent.id))
        return ids

    def publish_plain_sleeps(self, count: int) -> list[str]:
        """Publish ``count`` plain tasks that sleep for the emulator's latency."""
        return [
            str(
                self.producer.send_task(
                    PLAIN_SLEEP_TASK, args=(LATENCY_SECONDS,), queue=PLAIN_QUEUE
                ).id
            )
            for _ in range(count)
        ]

    def publish_plain_converses(self, count: int, *, late: bool = False) -> list[str]:
        """Publish ``count`` plain tasks that make a subagent's Converse call, unguarded.

        With ``late``, the task is acknowledged only when it is done, as a subagent job is.
        """
        model_id = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
        return [
            str(
                self.producer.send_task(
                    PLAIN_CONVERSE_LATE_TASK if late else PLAIN_CONVERSE_TASK,
                    args=(self.slow_url, REGION, model_id, f"plain job {index}"),
                    queue=PLAIN_QUEUE,
                ).id
            )
            for index in range(count)
        ]

    def run_script(self, script: str, *args: str) -> dict[str, Any]:
        """Run ``ops/bench/<script>`` in a fresh interpreter; return the JSON it printed last.

        In-process measurements run in their own process so that neither the harness's imports
        nor Baton's hooks (a Baton app's first publish installs one) colour the figures.
        """
        env = clean_env(
            BATON_ENVELOPE_KEY=self.key,
            BATON_ALLOWED_REGIONS=REGION,
            BATON_ALLOWED_ENDPOINTS="loopback",  # inproc's http://127.0.0.1:8750, and the emulator
            BATON_BROKER_URL=self.redis.url(0),
            BATON_RESULT_BACKEND=self.redis.url(1),
            **TEST_CREDENTIALS,  # the emulator's test identity, for scripts that call it
        )
        argv = [sys.executable, str(BENCH_DIR / script), *args]
        done = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{script} exited {done.returncode}:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def start_warm(bench: Bench, publishers: Mapping[WorkerSpec, Publish], *, warm: int) -> Fleet:
    """Start the workers of ``publishers``, pause them, and warm each alone.

    Each worker runs at least one job per slot before any clock starts, so its client,
    connections and lazy imports exist; every worker is left paused.
    """
    specs = list(publishers)
    fleet = bench.fleet(specs)
    try:
        fleet.pause(specs)
        for spec, publish in publishers.items():
            count = max(warm, spec.concurrency)
            drain = timed_drain(
                fleet,
                [spec],
                results=bench.results,
                publish=lambda publish=publish, count=count: publish(count),
                timeout=drain_timeout(count, WARM_RATE_FLOOR),
            )
            if drain.failures:
                raise RuntimeError(f"{spec.name}: {drain.failures} of {count} warm-up jobs failed")
    except BaseException:
        fleet.stop()
        raise
    return fleet


def spawn_jobs(parent: Orchestrator, count: int, *, label: str) -> list[str]:
    """Enqueue ``count`` real subagent jobs through the parent; return their ids."""
    return [str(parent.spawn(prompt=f"{label} job {index}").id) for index in range(count)]


def close_parent(parent: Orchestrator) -> None:
    """Close a parent's broker and result-backend connections."""
    close_producer(parent.app)


def new_key() -> str:
    """Return a fresh envelope key for this run."""
    return secrets.token_urlsafe(32)


def drain_timeout(jobs: int, rate: float) -> float:
    """Return a generous bound for ``jobs`` at an expected ``rate`` per second."""
    return 30.0 + 5.0 * jobs / rate


def elapsed(since: float) -> float:
    """Return seconds since ``since`` (a ``time.monotonic()`` reading), rounded."""
    return round(time.monotonic() - since, 2)
