"""Run the real Chaperone application in this process, on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from app import SERVICES, Services, create_app, server_options
from config.policy import Policy
from config.trust import Schools
from config.settings import Settings
from standins.server import free_port


@dataclass
class Served:
    url: str
    services: Services


@asynccontextmanager
async def serve_in_process(settings: Settings, policy: Policy | Schools, tab_settings=None, port: int | None = None) -> AsyncIterator[Served]:
    app = create_app(settings, policy, tab_settings)
    runner = web.AppRunner(app, access_log=None, **server_options(settings))
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Served(f"http://127.0.0.1:{port}", app[SERVICES])
    finally:
        await runner.cleanup()
