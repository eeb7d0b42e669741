"""The processes a benchmark run owns: its Redis, its emulators, its workers, each stopped by pid.

Every server binds to 127.0.0.1 on a port picked for this run, so the benchmark never touches a
Redis it did not start (in particular not the one on 6379). A process writes its output to a log
file under the run's ``logs/`` directory; readiness is a marker line in that file, waited for with
a deadline, so a child that dies or hangs fails the run with its last lines instead of blocking.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emulator import READY_PREFIX, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

#: The repository root: workers and the emulator run from here, as the tests run them.
ROOT = Path(__file__).resolve().parents[2]

#: This directory, put on workers' PYTHONPATH so ``-I bench_tasks`` and ``-A bench_plain`` load.
BENCH_DIR = Path(__file__).resolve().parent

#: Environment prefixes stripped from every child so the host's settings cannot leak in.
SCRUBBED_PREFIXES = ("AWS_", "BATON_", "ANTHROPIC_", "PROMETHEUS_", "OTEL_")

#: The emulator's first test identity (README): workers sign with it, the emulator verifies it.
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
}

#: Long enough for a Python process importing Celery and boto3 on a loaded 2-core machine.
READY_TIMEOUT_SECONDS = 60.0

#: How long a process gets to exit on SIGTERM before SIGKILL.
STOP_TIMEOUT_SECONDS = 15.0

_POLL_SECONDS = 0.05


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """Return this environment without AWS/BATON/ANTHROPIC variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


@dataclass
class Service:
    """One child process whose combined output goes to ``log``."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """Return the child's process id."""
        return self.popen.pid

    def tail(self, lines: int = 30) -> str:
        """Return the last ``lines`` lines of the log, for error messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, marker: str, *, timeout: float = READY_TIMEOUT_SECONDS) -> str:
        """Return the first log line containing ``marker``; raise if the child dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            for line in text.splitlines():
                if marker in line:
                    return line
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
            time.sleep(_POLL_SECONDS)
        raise TimeoutError(f"{self.name}: no {marker!r} within {timeout} s:\n{self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM by pid, then SIGKILL after STOP_TIMEOUT_SECONDS; return the exit status."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        return self.popen.returncode


@dataclass
class Services:
    """Everything one run started, stopped in reverse order by :meth:`stop_all`."""

    log_dir: Path
    started: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str]) -> Service:
        """Start ``argv`` from the repository root with its output in ``logs/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        service = Service(name=name, popen=popen, log=log)
        self.started.append(service)
        return service

    def stop(self, service: Service) -> None:
        """Stop one service and forget it."""
        service.stop()
        if service in self.started:
            self.started.remove(service)

    def stop_all(self) -> None:
        """Stop every service still running, newest first; keep going past failures."""
        while self.started:
            service = self.started.pop()
            try:
                service.stop()
            except (OSError, subprocess.SubprocessError) as exc:
                print(f"bench: could not stop {service.name} ({service.pid}): {exc}")


@dataclass(frozen=True)
class RedisServer:
    """The run's private Redis: db 0 is the broker, db 1 the result backend."""

    port: int

    def url(self, db: int) -> str:
        """Return the URL of database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"


def start_redis(services: Services) -> RedisServer:
    """Start ``redis-server`` on a free loopback port, without persistence, and wait for it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed; the benchmark needs a real Redis")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--maxmemory-policy", "noeviction"]
    service = services.start("redis", argv, env=clean_env())
    service.wait_for("Ready to accept connections")
    return RedisServer(port=port)


def start_emulators(
    services: Services, *, region: str, latencies: dict[str, float]
) -> dict[str, str]:
    """Start one ``python -m emulator`` per name in ``latencies``, together; return their URLs."""
    started = {}
    for name, latency in latencies.items():
        argv = [sys.executable, "-m", "emulator", "--port", "0", "--allow-region", region]
        argv += ["--latency", str(latency)]
        started[name] = services.start(f"emulator-{name}", argv, env=clean_env())
    return {name: service.wait_for(READY_PREFIX).split()[-1] for name, service in started.items()}
