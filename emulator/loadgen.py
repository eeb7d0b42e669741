"""A raw-socket load generator: one prepared request, replayed over keep-alive connections.

A benchmark of the emulator must measure the emulator, not its client. boto3 spends far more
time per call than the emulator does, so this replays the bytes of one request signed up front
(a SigV4 signature stays valid for five minutes) over many non-blocking sockets from one
selector loop, parsing only the status line and ``Content-Length`` of each answer. Each process
of it pushes several times the rate a single-threaded emulator can serve.
"""

from __future__ import annotations

import multiprocessing
import re
import selectors
import socket
import time
from dataclasses import dataclass
from typing import cast

#: How long one select waits; it bounds how late a run notices its deadline.
_TICK_SECONDS = 0.05
_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Tally:
    """What one run saw: answers by success, and the seconds it took."""

    ok: int
    failed: int
    seconds: float

    def __add__(self, other: Tally) -> Tally:
        """Combine two processes' tallies; the run lasted as long as the slower one."""
        return Tally(
            self.ok + other.ok, self.failed + other.failed, max(self.seconds, other.seconds)
        )

    @property
    def rate(self) -> float:
        """Return answers per second."""
        return (self.ok + self.failed) / self.seconds if self.seconds else 0.0


def response_length(buffer: bytes | bytearray) -> int:
    """Return the size of the complete response at the start of ``buffer``, or 0 if incomplete."""
    end = buffer.find(_HEAD_END)
    if end < 0:
        return 0
    match = _CONTENT_LENGTH.search(buffer, 0, end)
    total = end + len(_HEAD_END) + (int(match[1]) if match else 0)
    return total if len(buffer) >= total else 0


def _connect(host: str, port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def _exchange(
    selector: selectors.BaseSelector, request: bytes, deadline: float, *, again: bool
) -> tuple[int, int]:
    """Read answers until ``deadline`` (or, without ``again``, until every socket had one)."""
    ok = failed = 0
    waiting = len(selector.get_map())
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(_TICK_SECONDS):
            sock, buffer = cast(socket.socket, key.fileobj), cast(bytearray, key.data)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the emulator closed a connection mid-run")
            buffer += chunk
            size = response_length(buffer)
            if not size:
                continue
            if buffer.startswith(b"HTTP/1.1 200 "):
                ok += 1
            else:
                failed += 1
            del buffer[:size]
            if again:
                sock.sendall(request)
            else:
                waiting -= 1
    return ok, failed


def hammer(host: str, port: int, request: bytes, *, connections: int, seconds: float) -> Tally:
    """Keep ``connections`` busy with ``request`` for ``seconds``; count the answers."""
    sockets = _connect(host, port, connections)
    try:
        with selectors.DefaultSelector() as selector:
            start = time.monotonic()
            for sock in sockets:
                selector.register(sock, selectors.EVENT_READ, bytearray())
                sock.sendall(request)
            ok, failed = _exchange(selector, request, start + seconds, again=True)
            return Tally(ok, failed, time.monotonic() - start)
    finally:
        for sock in sockets:
            sock.close()


def burst(
    host: str, port: int, request: bytes, *, connections: int, rounds: int, timeout: float
) -> list[Tally]:
    """Open ``connections`` first, then per round send on all at once and time the last answer."""
    sockets = _connect(host, port, connections)
    tallies = []
    try:
        with selectors.DefaultSelector() as selector:
            for sock in sockets:
                selector.register(sock, selectors.EVENT_READ, bytearray())
            for _ in range(rounds):
                start = time.monotonic()
                for sock in sockets:
                    sock.sendall(request)
                ok, failed = _exchange(selector, request, start + timeout, again=False)
                tallies.append(Tally(ok, failed, time.monotonic() - start))
    finally:
        for sock in sockets:
            sock.close()
    return tallies


@dataclass(frozen=True, slots=True)
class _Job:
    """What one load-generating process does; picklable, for the spawn start method."""

    host: str
    port: int
    request: bytes
    connections: int
    seconds: float


def _worker(queue: multiprocessing.Queue[Tally], job: _Job) -> None:
    tally = hammer(
        job.host, job.port, job.request, connections=job.connections, seconds=job.seconds
    )
    queue.put(tally)


def hammer_in_processes(
    host: str, port: int, request: bytes, *, processes: int, connections: int, seconds: float
) -> Tally:
    """Run :func:`hammer` in ``processes`` processes at once; every process is ended by pid."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[Tally] = context.Queue()
    job = _Job(host, port, request, connections, seconds)
    workers = [context.Process(target=_worker, args=(queue, job)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        total = Tally(0, 0, 0.0)
        for _ in workers:
            total = total + queue.get(timeout=seconds + 30)
        return total
    finally:
        for worker in workers:
            worker.join(5)
            if worker.is_alive():
                worker.kill()
                worker.join(5)
        queue.close()
        queue.join_thread()
