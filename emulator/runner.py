"""Running the emulator: in a background thread (:class:`Emulator`) or blocking (:func:`serve`).

Tests and the demo want an endpoint inside their own process that they can start in a few
milliseconds, query and stop; the CLI wants a process that runs until SIGTERM. Both run the same
asyncio server and the same service; only who owns the event loop differs.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

from emulator.errors import StartupError
from emulator.journal import DEFAULT_JOURNAL_SIZE, Call, Journal
from emulator.policy import RegionPolicy
from emulator.server import DEFAULT_HOST, DEFAULT_PORT, HttpServer
from emulator.service import BedrockService

#: No added latency: fast tests; pass a positive value to imitate a model that takes time.
DEFAULT_LATENCY = 0.0
#: Binding a loopback socket takes milliseconds; this bound only guards against a hung thread.
START_TIMEOUT_SECONDS = 10.0
#: How long :meth:`Emulator.stop` waits for the server thread to close its sockets.
STOP_TIMEOUT_SECONDS = 10.0


async def _run_until(
    server: HttpServer, stop: asyncio.Event, on_ready: Callable[[str], None]
) -> None:
    """Serve until ``stop`` is set, then close every socket before returning."""
    try:
        await server.start()
    except OSError as exc:
        raise StartupError(
            f"the emulator could not listen ({exc}); choose another --port, or 0 for a free one"
        ) from exc
    try:
        on_ready(server.url)
        await stop.wait()
    finally:
        await server.close()


def _build_server(
    *, host: str, port: int, allowed_regions: Iterable[str], latency: float, journal: Journal
) -> HttpServer:
    service = BedrockService(
        policy=RegionPolicy.of(allowed_regions), journal=journal, latency=latency
    )
    return HttpServer(service, host=host, port=port, latency=latency)


class Emulator:
    """An emulator running in a daemon thread of this process.

    Usage::

        with Emulator(allowed_regions={"eu-west-1"}) as emulator:
            client = boto3.client("bedrock-runtime", endpoint_url=emulator.url, ...)
            ...
            assert emulator.calls()[0].region == "eu-west-1"

    Args:
        host: the one address to bind; loopback by default.
        port: the port to bind, or 0 for a free one.
        allowed_regions: the regions the IAM policy allows; none by default, so every call 403s.
        latency: seconds added before each answer.
        journal_size: how many calls the journal keeps.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        allowed_regions: Iterable[str] = frozenset(),
        latency: float = DEFAULT_LATENCY,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
    ) -> None:
        self.host = host
        self.allowed_regions = frozenset(allowed_regions)
        self.latency = latency
        self._requested_port = port
        self._journal = Journal(journal_size)
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        state = self._url or "stopped"
        return f"Emulator({state}, allowed_regions={sorted(self.allowed_regions)})"

    @property
    def url(self) -> str:
        """Return ``http://HOST:PORT``, the ``endpoint_url`` for boto3."""
        if self._url is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._url

    @property
    def port(self) -> int:
        """Return the port actually bound."""
        return int(self.url.rsplit(":", 1)[1])

    def calls(self) -> list[Call]:
        """Return a copy of the journal, oldest call first."""
        return self._journal.calls()

    def clear_calls(self) -> int:
        """Empty the journal; return how many calls it held."""
        return self._journal.clear()

    def start(self) -> Emulator:
        """Start serving in a daemon thread; return once listening.

        Raises:
            StartupError: the address could not be bound, or the thread did not come up.
        """
        if self._thread is not None:
            raise RuntimeError("this emulator is already running")
        ready = threading.Event()
        self._failure = None
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="baton-emulator", daemon=True
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            raise StartupError(f"the emulator did not start within {START_TIMEOUT_SECONDS} s")
        if self._failure is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            self._thread = None
            if isinstance(self._failure, StartupError):
                raise self._failure
            raise StartupError(f"the emulator failed to start: {self._failure}") from self._failure
        return self

    def stop(self) -> None:
        """Stop serving and close every socket; a no-op when not running."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(STOP_TIMEOUT_SECONDS)
        self._thread = self._loop = self._stop = None
        self._url = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        """Own an event loop in this thread; report startup failures to :meth:`start`."""
        try:
            asyncio.run(self._main(ready))
        except BaseException as exc:  # handed to start() rather than lost with the thread
            self._failure = exc
        finally:
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = _build_server(
            host=self.host,
            port=self._requested_port,
            allowed_regions=self.allowed_regions,
            latency=self.latency,
            journal=self._journal,
        )

        def on_ready(url: str) -> None:
            self._url = url
            ready.set()

        await _run_until(server, self._stop, on_ready)


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allowed_regions: Iterable[str] = frozenset(),
    latency: float = DEFAULT_LATENCY,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in this thread until SIGTERM or SIGINT (when run in the main thread).

    Args:
        host: the one address to bind.
        port: the port, or 0 for a free one.
        allowed_regions: the regions the IAM policy allows.
        latency: seconds added before each answer.
        on_ready: called with the base URL once the socket is listening.

    Raises:
        StartupError: the address could not be bound.
    """
    asyncio.run(
        _serve_main(
            _build_server(
                host=host,
                port=port,
                allowed_regions=allowed_regions,
                latency=latency,
                journal=Journal(),
            ),
            on_ready or (lambda url: None),
        )
    )


async def _serve_main(server: HttpServer, on_ready: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    if threading.current_thread() is threading.main_thread():
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    await _run_until(server, stop, on_ready)
