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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.processes import Proc, celery_worker_argv, free_port, python_argv

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


@pytest.fixture()
def envelope_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class EmulatorProc:
    url: str
    proc: Proc

    def calls(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/_baton/calls", timeout=10) as response:
            return list(json.load(response))


@pytest.fixture()
def start_emulator() -> Iterator[Callable[..., EmulatorProc]]:
    started: list[Proc] = []

    def start(*regions: str, latency: float = 0.0) -> EmulatorProc:
        args = ["-m", "emulator", "--port", "0", "--latency", str(latency)]
        for region in regions:
            args += ["--allow-region", region]
        proc = Proc(python_argv(*args), env=clean_env(), name="emulator")
        started.append(proc)
        line = proc.wait_for("BATON_EMULATOR_READY")
        return EmulatorProc(url=line.split()[-1], proc=proc)

    yield start
    for proc in started:
        proc.stop()


@dataclass
class WorkerProc:
    proc: Proc
    env: dict[str, str] = field(repr=False)


@pytest.fixture()
def start_worker(
    redis_urls: tuple[str, str], envelope_key: str
) -> Iterator[Callable[..., WorkerProc]]:
    """Factory: a real ``baton worker`` (or ``celery -A workers worker``) subprocess."""
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
    ) -> WorkerProc:
        full_env = clean_env(
            BATON_BROKER_URL=broker,
            BATON_RESULT_BACKEND=backend,
            BATON_ENVELOPE_KEY=envelope_key,
            AWS_ACCESS_KEY_ID="AKIDBATONEXAMPLE01",
            AWS_SECRET_ACCESS_KEY="baton-test-secret-access-key-0001",
        )
        full_env.update(env or {})
        if include is None:
            args = ["-m", "baton", "worker", "--pool", pool, "--concurrency", str(concurrency)]
            args += [arg for region in regions for arg in ("--region", region)]
            args += ["--debug"] if debug else []
            args += ["--metrics-port", str(metrics_port)] if metrics_port else []
            argv = python_argv(*args)
        else:
            full_env["BATON_DEBUG"] = "true" if debug else "false"
            full_env["BATON_CONCURRENCY"] = str(concurrency)
            argv = celery_worker_argv(
                regions=regions, pool=pool, concurrency=concurrency, include=include
            )
        proc = Proc(argv, env=full_env, name="worker")
        started.append(proc)
        proc.wait_for(" ready.")
        return WorkerProc(proc=proc, env=full_env)

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture()
def producer_settings(redis_urls: tuple[str, str], envelope_key: str) -> Any:
    from orchestrator import ProducerSettings

    broker, backend = redis_urls
    return ProducerSettings(
        broker_url=broker,
        result_backend=backend,
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
