"""One NATS connection on its own event-loop thread, shared by the bus, leases, lists and media.

Vigil's workers, pipeline and store are synchronous threads; nats-py is asyncio. The
connection runs an event loop in a daemon thread and offers :meth:`NatsConnection.call` to
run a coroutine there and wait for its result, so the rest of the code stays synchronous.

Credentials come from the settings object (filled from the environment or a file by the
config layer), never from a command line: a URL with a password would show in ``ps``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from vigil.bus.base import BusAuthError, BusUnavailableError
from vigil.bus.headers import install as install_header_parser

log = logging.getLogger(__name__)

T = TypeVar("T")

_open: set[NatsConnection] = set()
_open_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class NatsSettings:
    """Where NATS is and how to log in (all optional but ``servers``)."""

    servers: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    name: str = "vigil"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    credentials_file: str | None = None
    connect_timeout_s: float = 2.0


def _masked(servers: Sequence[str]) -> str:
    out = []
    for url in servers:
        scheme, _, rest = url.partition("://")
        out.append(f"{scheme}://***@{rest.split('@', 1)[1]}" if "@" in rest else url)
    return ", ".join(out)


def _is_auth_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "authorization" in text or "authentication" in text or "permissions" in text


class NatsConnection:
    """A connected NATS client and the loop thread it runs on. ``close()`` when done."""

    def __init__(self, settings: NatsSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nats-loop", daemon=True)
        self._thread.start()
        self._closed = False
        self.closing = False
        """Set when :meth:`close` starts: loops on the connection stop at their next turn."""
        self.reconnects = 0
        self.disconnected_at: float | None = None
        try:
            self.nc: Client = self.call(self._connect(), timeout_s=settings.connect_timeout_s * 3 + 5)
        except TimeoutError:
            # One round of connecting gave no answer in time (seen in CI: nats-py's close of a
            # client that never connected can hang): unreachable, in the same one line.
            self._stop_loop()
            raise BusUnavailableError(
                f"NATS is not reachable at {_masked(settings.servers)}: no answer within "
                f"{settings.connect_timeout_s * 3 + 5:.1f} s"
            ) from None
        except BaseException:
            self._stop_loop()
            raise
        self.js: JetStreamContext = self.nc.jetstream(timeout=5.0)
        with _open_lock:
            _open.add(self)

    @staticmethod
    def open_connections() -> list[NatsConnection]:
        """Connections of this process not closed yet (each keeps a thread and reconnects
        for ever if its servers go away: the test suite checks that none is left behind)."""
        with _open_lock:
            return list(_open)

    @classmethod
    def connect_with_backoff(
        cls, settings: NatsSettings, *, stop: threading.Event | None = None, max_wait_s: float = 30.0
    ) -> NatsConnection:
        """Connect, retrying an unreachable server with backoff; a refused login is not retried.

        Raises:
            BusAuthError: wrong credentials (retrying would not help).
            BusUnavailableError: ``stop`` was set before a server answered.
        """
        delay = 0.5
        while True:
            try:
                return cls(settings)
            except BusUnavailableError as exc:
                if stop is not None and stop.is_set():
                    raise
                log.warning("%s; retrying in %.1f s", exc, delay)
                if stop is not None and stop.wait(delay):
                    raise
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, max_wait_s)

    async def _connect(self) -> Client:
        s = self.settings

        async def on_disconnected() -> None:
            self.disconnected_at = time.monotonic()
            if not self.closing:  # closing disconnects too: nothing to report
                log.warning("NATS: disconnected from %s", _masked(s.servers))

        async def on_reconnected() -> None:
            self.reconnects += 1
            self.disconnected_at = None
            log.warning("NATS: reconnected to %s", self.nc.connected_url.netloc if self.nc.connected_url else "?")

        async def on_error(exc: Exception) -> None:
            log.warning("NATS: %s", exc)

        options: dict[str, Any] = {
            "servers": list(s.servers),
            "name": s.name,
            "connect_timeout": s.connect_timeout_s,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,
            "ping_interval": 2,
            "max_outstanding_pings": 2,
            "disconnected_cb": on_disconnected,
            "reconnected_cb": on_reconnected,
            "error_cb": on_error,
        }
        if s.user is not None:
            options["user"] = s.user
            options["password"] = s.password or ""
        if s.token is not None:
            options["token"] = s.token
        if s.credentials_file is not None:
            options["user_credentials"] = s.credentials_file
        try:
            # nats-py retries the initial connect forever when reconnecting is allowed; one round
            # of attempts here, and the caller decides whether to back off and try again.
            return await _connect_once(options)
        except Exception as exc:
            if _is_auth_error(exc):
                raise BusAuthError(f"NATS at {_masked(s.servers)} refused the credentials: {exc}") from None
            raise BusUnavailableError(
                f"NATS is not reachable at {_masked(s.servers)}: {type(exc).__name__}: {exc}".rstrip(": ")
            ) from None

    # -- running coroutines -------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], *, timeout_s: float | None = 30.0) -> T:
        """Run ``coro`` on the loop thread and return its result (re-raising its exception)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("NatsConnection.call from the loop thread would deadlock")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Start ``coro`` on the loop thread without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[return-value]

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    def close(self) -> None:
        """Drain and close the connection, then stop the loop thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.closing = True
        with _open_lock:
            _open.discard(self)
        try:
            self.call(self.nc.close(), timeout_s=10)
        except Exception as exc:  # closing a dead connection: nothing left to lose
            log.debug("NATS close: %s", exc)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            # Cancel what is left (consumer loops, watchdogs) so nothing warns at exit.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.wait(pending, timeout=2.0))
            self.loop.close()


async def _connect_once(options: dict[str, Any]) -> Client:
    nc = Client()
    install_header_parser(nc)  # every delivered event's headers: bus/headers.py
    connected = asyncio.Event()
    failure: list[BaseException] = []
    user_error_cb = options["error_cb"]

    async def error_cb(exc: Exception) -> None:
        # During the first connect, an auth failure arrives here and nats-py keeps retrying:
        # record it so the caller can stop with one clear line.
        if not connected.is_set():
            if _is_auth_error(exc):
                failure.append(exc)
            log.debug("NATS: first connect: %s", exc)  # the caller reports the outcome in one line
            return
        await user_error_cb(exc)

    opts = dict(options)
    opts["error_cb"] = error_cb
    opts["max_reconnect_attempts"] = -1
    task = asyncio.ensure_future(nc.connect(**opts))
    deadline = time.monotonic() + float(options["connect_timeout"]) * 2 + 1
    while not task.done():
        if failure or time.monotonic() > deadline:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # Closing a client that never connected can wait on nats-py's own retry loop: bounded.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 1.0)
            raise failure[0] if failure else nats.errors.NoServersError()
        await asyncio.sleep(0.02)
    task.result()
    connected.set()
    return nc
