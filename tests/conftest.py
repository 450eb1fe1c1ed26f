"""Shared fixtures: databases (SQLite and PostgreSQL), stand-ins, and the real app on a port.

PostgreSQL tests run against CHAPERONE_TEST_POSTGRES_URL (default: the machine's local
server). They fail, not skip, when it is unreachable: both stores are part of the product.
Set CHAPERONE_SKIP_POSTGRES=1 to leave them out deliberately on a machine without one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from app import Services
from config.startup import read_policy, read_settings
from demo.harness import serve_in_process
from standins.connector import ConnectorStandIn
from standins.graph import GraphStandIn
from standins.teams import TeamsSimulator

POSTGRES_ADMIN_URL = os.environ.get("CHAPERONE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SKIP_POSTGRES = os.environ.get("CHAPERONE_SKIP_POSTGRES") == "1"
BACKENDS = ["sqlite"] + ([] if SKIP_POSTGRES else ["postgresql"])
POLICY = Path(__file__).parent.parent / "policy.example.toml"


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A scratch PostgreSQL database for this test run (dropped at the end)."""
    name = f"chaperone_test_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def admin(sql: str) -> None:
        # Its own thread: this fixture may be first requested from inside a running loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run(sql)).result()

    try:
        admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({exc}); start it "
            "(see .ci/run) or set CHAPERONE_SKIP_POSTGRES=1 to leave the PostgreSQL tests out"
        )
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
async def database_url(request, tmp_path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/chaperone.sqlite3"
        return
    plain = request.getfixturevalue("postgres_database")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    yield plain.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/chaperone.sqlite3"


@pytest.fixture
def connector() -> ConnectorStandIn:
    with ConnectorStandIn() as standin:
        yield standin


@pytest.fixture
def graph() -> GraphStandIn:
    with GraphStandIn() as standin:
        yield standin


@dataclass
class RunningApp:
    url: str
    services: Services
    teams: TeamsSimulator

    async def post_all(self, activities: list[dict]) -> None:
        """POST each activity (each must be accepted), then let the queued jobs finish."""
        for activity in activities:
            status, body = await self.teams.post(activity)
            assert status == 200, body
        await self.idle()

    async def idle(self) -> None:
        await self.services.worker.wait_idle()


AppStarter = Callable[..., "asynccontextmanager[RunningApp]"]


def dev_env(database_url: str, graph_url: str = "http://127.0.0.1:9/v1.0", **extra: str) -> dict[str, str]:
    env = {
        "CHAPERONE_DEV_MODE": "1",
        "CHAPERONE_DATABASE_URL": database_url,
        "CHAPERONE_POLICY_FILE": str(POLICY),
        "CHAPERONE_GRAPH_BASE_URL": graph_url,
        "CHAPERONE_GRAPH_TIMEOUT_SECONDS": "5",
        "CHAPERONE_ATTENDANCE_REPORT_DELAYS": "0,60",  # first look at once; the next is after the test
        "CHAPERONE_JOB_POLL_SECONDS": "0.2",
        "CHAPERONE_ROSTER_SETTLE_SECONDS": "0",
        "CHAPERONE_RETRY_BASE_SECONDS": "0.2",
    }
    env.update(extra)
    return env


@asynccontextmanager
async def run_app(env: dict[str, str], service_url: str, token: Callable[[str], str] | None = None) -> AsyncIterator[RunningApp]:
    """The real aiohttp application, on a free loopback port, configured by `env` alone."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = read_settings()
        policy = read_policy(settings)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    async with serve_in_process(settings, policy) as served:
        yield RunningApp(served.url, served.services, TeamsSimulator(served.url, service_url, token=token))


@pytest.fixture
async def dev_app(database_url, connector, graph) -> AsyncIterator[RunningApp]:
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as running:
        yield running
