"""A TCP proxy in front of Redis that can lose a reply: the command runs, its answer never arrives.

That is the worst moment for a connection to drop (a failover, ``CLIENT KILL``, a NAT timeout):
the client cannot tell whether its command ran, and a retry sends it a second time. Arm the
proxy with :meth:`DropProxy.lose_replies`; the next reply Redis sends, on any connection, is
swallowed and that connection is closed on both sides. Everything else passes through.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class DropProxy:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._armed = 0
        self.lost = 0
        self._mutex = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="dropproxy", daemon=True).start()

    def url(self, db: int) -> str:
        """A Redis URL for database ``db`` through the proxy."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def lose_replies(self, count: int = 1) -> None:
        """Swallow the next ``count`` replies, closing each one's connection."""
        with self._mutex:
            self._armed += count

    def close(self) -> None:
        """Stop listening (waking the accept thread) and close every proxied connection."""
        _shut(self._listener)
        with self._mutex:
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> DropProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        """Pair each accepted connection with one to Redis, and pump both ways."""
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                _shut(client)  # Redis is gone: the client sees a closed connection, not a hang
                continue
            upstream.settimeout(None)
            with self._mutex:
                self._sockets += [client, upstream]
            for source, sink, replies in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(
                    target=self._pump, args=(source, sink, replies), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        """Copy ``source`` to ``sink``; on the reply side, swallow a reply when armed."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data or (replies and self._take()):
                _shut(source)
                _shut(sink)
                return
            try:
                sink.sendall(data)
            except OSError:
                _shut(source)
                return

    def _take(self) -> bool:
        """Whether to swallow this reply (and count it), as armed by :meth:`lose_replies`."""
        with self._mutex:
            if self._armed <= 0:
                return False
            self._armed -= 1
            self.lost += 1
            return True


def _shut(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways, which wakes a thread blocked on it, and close it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
