"""A small asyncio HTTP/1.1 server: transport only.

It turns bytes into a frozen :class:`Request`, hands it to a pure ``(Request) -> Response``
handler and writes the answer back. Nothing here knows about AWS. It speaks just enough HTTP for
botocore's urllib3 pool and httpx: keep-alive, ``Content-Length`` bodies and ``Expect:
100-continue``; chunked request bodies are refused. A response may be streamed (chunked transfer
encoding, one chunk per event), delayed, or dropped (the connection closed with no answer): the
handler decides, the transport only carries it out, and a delay never blocks other connections.
Per-request work is kept lean (one header scan, one write) so a zero-latency emulator can answer
thousands of calls a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus

logger = logging.getLogger(__name__)

#: Loopback only: the emulator holds test credentials and must never be reachable from outside.
DEFAULT_HOST = "127.0.0.1"
#: Port 0 lets the OS pick a free port, so parallel test runs never collide.
DEFAULT_PORT = 0
#: Headers larger than this are refused; botocore's requests are a few hundred bytes.
MAX_HEAD_BYTES = 64 * 1024
#: Bodies larger than this are refused rather than buffered.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Pending connections the kernel queues; asyncio's 100 would make a burst of 200 clients wait
#: for SYN retransmits (a second or more) instead of being accepted at once.
BACKLOG = 1024

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class Headers(Mapping[str, str]):
    """Request headers with case-insensitive lookup; repeated headers are joined with commas."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        """Wrap ``items``, whose keys must already be lower case."""
        self._items = items

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed HTTP request, exactly as sent: SigV4 needs the raw path and header values."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    """What a handler answers; the server adds ``Content-Length`` and ``Connection`` itself.

    Attributes:
        status: the HTTP status.
        body: the whole body, sent with ``Content-Length``; ignored when ``chunks`` is set.
        headers: extra response headers, in order.
        chunks: a streamed body, sent with ``Transfer-Encoding: chunked``, one chunk each.
        delay: seconds to wait before answering, without holding up other connections.
        drop: close the connection (after ``delay``) without sending anything.
    """

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    chunks: tuple[bytes, ...] | None = None
    delay: float = 0.0
    drop: bool = False


Handler = Callable[[Request], Response]


class _BadRequest(Exception):
    """Raised when the bytes on the wire are not an HTTP request this server can read."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HttpServer:
    """Serve one handler over HTTP/1.1 on one host and port, inside a running event loop.

    Args:
        handler: the pure function that answers every request.
        host: the one address to bind; nothing else is listened on.
        port: the port, or 0 for a free one (read it back from :attr:`port`).
    """

    def __init__(
        self, handler: Handler, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """Return the bound port; only meaningful once :meth:`start` has returned."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not listening; await start() first")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Return every (host, port) actually bound, so a test can prove nothing else is."""
        if self._server is None:
            return []
        return [tuple(sock.getsockname()[:2]) for sock in self._server.sockets]

    @property
    def url(self) -> str:
        """Return the base URL clients should use as ``endpoint_url``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start accepting connections."""
        self._server = await asyncio.start_server(
            self._serve_connection,
            host=self._host,
            port=self._port,
            limit=MAX_HEAD_BYTES,
            backlog=BACKLOG,
        )

    async def close(self) -> None:
        """Stop accepting, drop every open connection and wait until their sockets are closed."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection stays open for another."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                logger.debug("connection closed mid-request")
            return False
        except asyncio.LimitOverrunError:
            await _write(writer, Response(431), keep_alive=False)
            return False
        try:
            request, keep_alive = await _read_request(head, reader, writer)
        except _BadRequest as exc:
            await _write(writer, Response(exc.status), keep_alive=False)
            return False
        response = self._answer(request)
        if response.delay > 0:
            await asyncio.sleep(response.delay)
        if response.drop:
            return False
        if response.chunks is not None:
            await _write_chunked(writer, response, keep_alive=keep_alive)
        else:
            await _write(writer, response, keep_alive=keep_alive)
        return keep_alive

    def _answer(self, request: Request) -> Response:
        try:
            return self._handler(request)
        except Exception:
            logger.exception("handler failed on %s %s", request.method, request.path)
            return Response(500, b"internal error in the emulator's handler\n")


async def _read_request(
    head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[Request, bool]:
    """Parse the head, read the body it announces, and decide on keep-alive."""
    lines = head[:-4].decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise _BadRequest(400) from None
    headers = _parse_headers(lines[1:])
    if "transfer-encoding" in headers:
        raise _BadRequest(411)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequest(400) from None
    if length < 0 or length > MAX_BODY_BYTES:
        raise _BadRequest(413)
    if length and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, path, query, Headers(headers), body), keep_alive


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(400)
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def _head(response: Response, framing: str, *, keep_alive: bool) -> bytes:
    reason = _REASONS.get(response.status, "Unknown")
    parts = [f"HTTP/1.1 {response.status} {reason}\r\n"]
    parts.extend(f"{name}: {value}\r\n" for name, value in response.headers)
    parts.append(framing)
    parts.append("Connection: keep-alive\r\n\r\n" if keep_alive else "Connection: close\r\n\r\n")
    return "".join(parts).encode("latin-1")


async def _write(writer: asyncio.StreamWriter, response: Response, *, keep_alive: bool) -> None:
    framing = f"Content-Length: {len(response.body)}\r\n"
    writer.write(_head(response, framing, keep_alive=keep_alive) + response.body)
    await writer.drain()


async def _write_chunked(
    writer: asyncio.StreamWriter, response: Response, *, keep_alive: bool
) -> None:
    """Send the head, then each chunk as it would be produced, then the terminating chunk."""
    writer.write(_head(response, "Transfer-Encoding: chunked\r\n", keep_alive=keep_alive))
    for chunk in response.chunks or ():
        if chunk:
            writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
