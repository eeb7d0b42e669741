"""Running the emulator: in a background thread (:class:`Emulator`) or blocking (:func:`serve`).

Tests and the demo want an endpoint inside their own process that they can start in a few
milliseconds, query and stop; the CLI wants a process that runs until SIGTERM. Both run the same
asyncio server and the same service, built from the same options; only who owns the event loop
differs. The options are validated when the emulator is built, before any socket is opened.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Unpack

from emulator.errors import StartupError
from emulator.faults import FaultSettings
from emulator.journal import Call, Journal
from emulator.quotas import QuotaSettings
from emulator.server import HttpServer
from emulator.settings import EmulatorOptions, EmulatorSettings, build_service

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


class Emulator:
    """An emulator running in a daemon thread of this process.

    Usage::

        with Emulator(allowed_regions={"eu-west-1"}, seed=7) as emulator:
            client = boto3.client("bedrock-runtime", endpoint_url=emulator.url, ...)
            emulator.set_faults(throttle_rate=0.5)
            ...
            assert emulator.calls()[0].region == "eu-west-1"

    Takes the keyword options of :class:`~emulator.settings.EmulatorOptions`: ``host``,
    ``port``, ``allowed_regions``, ``policy``, ``app_profiles``, ``latency``, ``jitter``,
    ``throttle_rate``, ``unavailable_rate``, ``model_error_rate``, ``not_ready_rate``,
    ``drop_rate``, ``seed``, ``journal_size`` and ``deny_assume``. With none, it binds a free
    loopback port and its policy allows nothing, so every Bedrock call gets a 403.

    Raises:
        ConfigurationError: an option cannot be used (a bad policy file, a rate out of range).
    """

    def __init__(self, **options: Unpack[EmulatorOptions]) -> None:
        self.settings = EmulatorSettings.of(**options)
        self._journal = Journal(self.settings.journal_size)
        self._service = build_service(self.settings, self._journal)
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def host(self) -> str:
        """Return the address the emulator binds."""
        return self.settings.host

    @property
    def allowed_regions(self) -> frozenset[str]:
        """Return the regions of the ``--allow-region`` shortcut."""
        return self.settings.allowed_regions

    @property
    def latency(self) -> float:
        """Return the latency in force, in seconds (it can change while serving)."""
        return self.faults.latency

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

    @property
    def faults(self) -> FaultSettings:
        """Return the fault settings in force."""
        return self._service.faults.settings

    def set_faults(self, *, seed: int | None = None, **changes: float) -> FaultSettings:
        """Change some fault settings while serving; ``seed`` restarts the random sequence.

        Raises:
            ConfigurationError: an unknown setting or a value out of range; nothing changes.
        """
        injector = self._service.faults
        injector.configure(injector.settings.updated(changes), seed=seed)
        return injector.settings

    def clear_faults(self) -> None:
        """Switch every fault off, latency included."""
        self._service.faults.configure(FaultSettings())

    @property
    def quotas(self) -> QuotaSettings:
        """Return the per-model quota in force."""
        return self._service.quotas.settings

    def set_quotas(self, **changes: float | None) -> QuotaSettings:
        """Change some quota fields while serving (None lifts a quota); every key restarts full.

        Raises:
            ConfigurationError: an unknown field or a bad value; nothing changes.
        """
        book = self._service.quotas
        book.configure(book.settings.updated(changes))
        return book.settings

    def calls(self) -> list[Call]:
        """Return a copy of the journal, oldest call first."""
        return self._journal.calls()

    def clear_calls(self) -> int:
        """Empty the journal; return how many calls it held."""
        return self._journal.clear()

    def sessions(self) -> list[dict[str, object]]:
        """Return the temporary credentials STS has issued (key, ARN, expiry; no secrets)."""
        return self._service.credentials.issued()

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
        server = HttpServer(self._service, host=self.settings.host, port=self.settings.port)

        def on_ready(url: str) -> None:
            self._url = url
            ready.set()

        await _run_until(server, self._stop, on_ready)


def serve(
    *, on_ready: Callable[[str], None] | None = None, **options: Unpack[EmulatorOptions]
) -> None:
    """Serve in this thread until SIGTERM or SIGINT (when run in the main thread).

    Takes the options of :class:`Emulator`, plus ``on_ready``, called with the base URL once the
    socket is listening.

    Raises:
        ConfigurationError: an option cannot be used (raised before anything is bound).
        StartupError: the address could not be bound.
    """
    settings = EmulatorSettings.of(**options)
    server = HttpServer(build_service(settings), host=settings.host, port=settings.port)
    asyncio.run(_serve_main(server, on_ready or (lambda url: None)))


async def _serve_main(server: HttpServer, on_ready: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    if threading.current_thread() is threading.main_thread():
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    await _run_until(server, stop, on_ready)
