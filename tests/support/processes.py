"""Subprocess fixtures' machinery: start a server, wait for its ready line, stop it by pid."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Upper bound for any server to announce readiness; generous for a loaded CI machine.
READY_TIMEOUT = 60.0

#: How long a stopped process gets to exit on SIGTERM before SIGKILL.
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc:
    """A child process whose combined output is collected line by line in the background."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, needle: str, *, timeout: float = READY_TIMEOUT) -> str:
        """Block until a line containing ``needle`` appears; fail if the process dies first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if self.popen.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(
                        f"{self.name} exited ({self.popen.returncode}):\n"
                        + "\n".join(self.lines[-40:])
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.name}: no {needle!r} within {timeout} s:\n"
                        + "\n".join(self.lines[-40:])
                    )
                self._cond.wait(timeout=min(remaining, 0.5))

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; return the exit code."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT)
        return self._collect()

    def kill(self) -> int:
        """SIGKILL the process and every descendant; return the exit code.

        For a fixture's teardown of a worker, once its test has asserted all it will: a warm
        shutdown there proved nothing (its exit code was never read) and cost 0.3 to 3.5 s a
        worker, 15 s when one hung. ``tests/integration/test_shutdown.py`` checks the warm
        shutdown itself. The process is stopped (SIGSTOP) while its descendants are listed, so
        it cannot fork one more; children a killed main process left behind are not found.
        """
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGSTOP)
            sigkill(*descendants(self.pid), self.pid)
        self.popen.wait(timeout=STOP_TIMEOUT)
        return self._collect()

    def _collect(self) -> int:
        """Wait for the output reader to finish and close the pipe; return the exit code."""
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        return int(self.popen.returncode)


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, read from /proc, children before grandchildren."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop(0)
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                kids = [int(item) for item in handle.read().split()]
        except OSError:
            continue
        found += kids
        queue += kids
    return found


def sigkill(*pids: int) -> None:
    """SIGKILL each pid that is still there."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def python_argv(*args: str) -> list[str]:
    """argv running this interpreter, so subprocesses use the same virtualenv."""
    return [sys.executable, *args]


def celery_worker_argv(
    *, regions: Sequence[str], pool: str, concurrency: int, include: str
) -> list[str]:
    """argv of a plain ``celery -A workers worker`` for ``regions``, loading ``include`` too."""
    return python_argv(
        "-m", "celery", "-A", "workers", "worker", "-P", pool, "-c", str(concurrency),
        "-Q", ",".join(f"baton.{region}" for region in regions), "-I", include,
        "-l", "info", "-n", f"test-{secrets.token_hex(4)}@%h",
    )  # fmt: skip
