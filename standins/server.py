"""A small threaded aiohttp server with a record of every request it answered."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict


@dataclass
class Call:
    method: str
    path: str  # decoded
    raw_path: str  # as sent, percent-encoding intact
    query: dict[str, str]
    headers: CIMultiDict  # case-insensitive, as HTTP headers are
    body: object
    fault: int | None = None  # the scripted failure status it was answered with (fail_next)


@dataclass
class Faults:
    """Scripted failures: the next N matching requests get these statuses."""

    pending: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)

    def take(self, method: str, path: str) -> tuple[int, dict[str, str]] | None:
        for index, (m, prefix, status, headers) in enumerate(self.pending):
            # A pattern ending in "$" is the whole path; otherwise a prefix.
            matches = path == prefix[:-1] if prefix.endswith("$") else path.startswith(prefix)
            if m == method and matches:
                del self.pending[index]
                return status, headers
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """Subclasses add routes in `routes()`; `start()` serves them on a free loopback port."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults = Faults()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def fail_next(self, method: str, path_prefix: str, *statuses: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            for status in statuses:
                self.faults.pending.append((method, path_prefix, status, headers or {}))

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[Call]:
        with self._lock:
            return [c for c in self.calls if (method is None or c.method == method) and c.path.startswith(path_prefix)]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    @web.middleware
    async def _record(self, request: web.Request, handler):
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            fault = self.faults.take(request.method, request.path)
            self.calls.append(Call(request.method, request.path, request.raw_path, dict(request.query), CIMultiDict(request.headers), body,
                                   fault[0] if fault else None))
        if fault:
            status, headers = fault
            return web.json_response({"error": {"code": str(status), "message": "stand-in fault"}}, status=status, headers=headers)
        return await handler(request)

    def start(self, port: int | None = None) -> "StandIn":
        ready = threading.Event()
        self.port = port or free_port()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(middlewares=[self._record])
            self.routes(app)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> "StandIn":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
