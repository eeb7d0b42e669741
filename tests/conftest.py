"""Shared fixtures: a private Redis, emulator and worker processes, all stopped by pid.

Every server binds to 127.0.0.1. The Redis server is our own, on a free port, so tests may flush
it: they never touch a database they did not create.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Imported before any test starts a thread: a run that uses no hypothesis test otherwise imports
# it in the plugin's terminal summary, through pytest's assertion rewriter, and CPython 3.11.7's
# ast.parse then failed there with "SystemError: AST constructor recursion depth mismatch" while
# worker-output reader threads were still alive, turning a green run into exit 1.
import hypothesis  # noqa: F401
import pytest

from emulator import READY_PREFIX, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from envelope import TASK_NAME
from tests.support.brokers import broker_url
from tests.support.fake_redis import FakeRedisServer
from tests.support.processes import (
    Proc,
    celery_worker_argv,
    descendants,
    free_port,
    python_argv,
)

#: The quick loop's rules: slow runs left to the full suite, no Redis or RabbitMQ reached.
pytest_plugins = ["tests.support.quick_loop"]

#: Environment prefixes stripped from every child so the host's settings cannot leak in.
_SCRUBBED_PREFIXES = ("AWS_", "BATON_", "ANTHROPIC_")


def clean_env(**extra: str) -> dict[str, str]:
    """Return this process's environment without AWS/BATON/ANTHROPIC variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@dataclass
class RedisServer:
    port: int
    proc: Proc

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if _ci():
            pytest.fail("redis-server is not installed; .ci/run must install it")
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = Proc(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ],
        env=clean_env(),
        name="redis-server",
    )
    try:
        proc.wait_for("Ready to accept connections")
        yield RedisServer(port=port, proc=proc)
    finally:
        proc.stop()


@pytest.fixture()
def redis_urls(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    """Broker and backend URLs on the private server, flushed after each test."""
    import redis

    yield redis_server.url(0), redis_server.url(1)
    for db in (0, 1):
        client = redis.Redis.from_url(redis_server.url(db))
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def fake_redis_server() -> FakeRedisServer:
    return FakeRedisServer()


@pytest.fixture()
def fake_redis(
    fake_redis_server: FakeRedisServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeRedisServer]:
    """An in-process Redis (fakeredis, with Lua) behind every Redis URL this test opens, flushed
    after it: the quick loop's Redis, where no redis-server runs (``tests/support/fake_redis.py``).
    """
    fake_redis_server.install(monkeypatch)
    yield fake_redis_server
    fake_redis_server.flush()


@pytest.fixture()
def envelope_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture()
def parent_env(envelope_key: str, redis_urls: tuple[str, str]) -> Callable[..., dict[str, str]]:
    """Factory: the environment of a ``baton run`` parent on the test fleet, calling Bedrock at
    ``endpoint`` from eu-west-1 unless ``extra`` says otherwise."""

    def env(endpoint: str, **extra: str) -> dict[str, str]:
        return clean_env(
            BATON_ENVELOPE_KEY=envelope_key,
            BATON_BROKER_URL=redis_urls[0],
            BATON_RESULT_BACKEND=redis_urls[1],
            **{"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": endpoint, **extra},
        )

    return env


def _http(url: str, *, method: str = "GET", body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@dataclass
class EmulatorProc:
    """An emulator process and its admin endpoints."""

    url: str
    proc: Proc

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        found = _http(f"{self.url}/_baton/calls")
        return [c for c in found if operation is None or c["operation"] == operation]

    def sessions(self) -> list[dict[str, Any]]:
        return list(_http(f"{self.url}/_baton/sessions"))

    def set_faults(self, **changes: float) -> None:
        _http(f"{self.url}/_baton/faults", method="POST", body=changes)


@pytest.fixture()
def start_emulator() -> Iterator[Callable[..., EmulatorProc]]:
    """Factory: ``python -m emulator`` allowing ``regions``, with any of its options
    (``latency=1.5``, ``throttle_rate=0.2``, ...) and roles it refuses to assume."""
    started: list[Proc] = []

    def start(*regions: str, deny_assume: Iterable[str] = (), **options: float) -> EmulatorProc:
        args = ["-m", "emulator", "--port", "0"]
        args += [arg for region in regions for arg in ("--allow-region", region)]
        args += [arg for role in deny_assume for arg in ("--deny-assume", role)]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        proc = Proc(python_argv(*args), env=clean_env(), name="emulator")
        started.append(proc)
        return EmulatorProc(url=proc.wait_for(READY_PREFIX).split()[-1], proc=proc)

    yield start
    for proc in started:
        proc.stop()


@dataclass
class Worker:
    """A ``baton worker`` (or ``celery -A workers worker``) process."""

    proc: Proc
    env: dict[str, str] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def children(self) -> list[int]:
        return descendants(self.pid)

    def received(self) -> list[str]:
        """Job IDs of every delivery this worker logged, repeats included."""
        marker = f"Task {TASK_NAME}["
        return [
            line.split(marker, 1)[1].split("]", 1)[0]
            for line in self.proc.lines
            if marker in line and "] received" in line
        ]


#: The region a worker serves when a test names none.
DEFAULT_WORKER_REGION = "eu-west-1"


@pytest.fixture()
def start_worker(redis_urls: tuple[str, str], envelope_key: str) -> Iterator[Callable[..., Worker]]:
    """Factory: a real ``baton worker`` (or, with ``include``, ``celery -A workers worker``)
    subprocess for ``regions`` (eu-west-1 when none), with any further ``flags``; its ambient
    identity is the emulator's test key. It returns once the worker is ready, or at once with
    ``ready=False`` (``start_workers`` waits for several together). Each is killed with its pool
    children at teardown (``Proc.kill``): its test is over, and the warm shutdown has a test of
    its own."""
    started: list[Proc] = []
    broker, backend = redis_urls

    def start(
        *regions: str,
        pool: str = "threads",
        concurrency: int = 4,
        env: Mapping[str, str] | None = None,
        debug: bool = False,
        include: str | None = None,
        metrics_port: int | None = None,
        flags: Iterable[str] = (),
        ready: bool = True,
    ) -> Worker:
        if pool == "gevent":  # an optional extra, as the anthropic SDK's tests treat theirs
            pytest.importorskip("gevent", reason="install the gevent extra: baton[gevent]")
        regions = regions or (DEFAULT_WORKER_REGION,)
        full_env = clean_env(
            BATON_BROKER_URL=broker,
            BATON_RESULT_BACKEND=backend,
            BATON_ENVELOPE_KEY=envelope_key,
            BATON_ALLOWED_ENDPOINTS="loopback",  # the emulators, on any free port
            AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
        )
        full_env.update(env or {})
        if include is None:
            args = ["-m", "baton", "worker", "--pool", pool, "--concurrency", str(concurrency)]
            args += [arg for region in regions for arg in ("--region", region)]
            args += ["--debug"] if debug else []
            args += ["--metrics-port", str(metrics_port)] if metrics_port else []
            argv = python_argv(*args, *flags)
        else:
            full_env["BATON_DEBUG"] = "true" if debug else "false"
            full_env["BATON_CONCURRENCY"] = str(concurrency)
            argv = celery_worker_argv(
                regions=regions, pool=pool, concurrency=concurrency, include=include
            )
        proc = Proc(argv, env=full_env, name="worker")
        started.append(proc)
        if ready:
            proc.wait_for(" ready.")
        return Worker(proc=proc, env=full_env)

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture()
def start_workers(start_worker: Callable[..., Worker]) -> Callable[..., list[Worker]]:
    """Factory: ``count`` workers with ``start_worker``'s options, started side by side and
    returned once all are ready; one after another, each waited for the last one's start-up."""

    def start(count: int, *regions: str, **options: Any) -> list[Worker]:
        workers = [start_worker(*regions, ready=False, **options) for _ in range(count)]
        for worker in workers:
            worker.proc.wait_for(" ready.")
        return workers

    return start


@pytest.fixture()
def broker(request: Any, redis_urls: tuple[str, str]) -> Iterator[str]:
    """The broker URL: the test Redis, or a throwaway RabbitMQ vhost (indirect ``rabbitmq``)."""
    with broker_url(getattr(request, "param", "redis"), redis_urls[0]) as url:
        yield url


@pytest.fixture()
def producer_settings(broker: str, redis_urls: tuple[str, str], envelope_key: str) -> Any:
    """The parent's settings on ``broker``; results in the test Redis either way."""
    from orchestrator import ProducerSettings

    return ProducerSettings(
        broker_url=broker,
        result_backend=redis_urls[1],
        envelope_key=envelope_key,  # type: ignore[arg-type]
    )


@pytest.fixture()
def make_orchestrator(producer_settings: Any) -> Iterator[Callable[..., Any]]:
    """Factory: an Orchestrator whose parent environment is exactly ``environ``."""
    from orchestrator import Orchestrator, capture, producer_app

    apps: list[Any] = []

    def make(environ: Mapping[str, str], **flags: Any) -> Any:
        app = producer_app(producer_settings)
        apps.append(app)
        config = capture(environ=environ, **flags)
        return Orchestrator(config=config, settings=producer_settings, app=app)

    yield make
    from orchestrator import close_producer

    for app in apps:
        close_producer(app)
