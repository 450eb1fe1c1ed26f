"""Fixtures only (shared helpers are in helpers.py): databases, stand-ins, and the real app on
a port.

End-to-end tests run on one database, SQLite (`database_url`, `dev_app`). The few where the
database itself matters also run on PostgreSQL (`any_database_url`, `any_dev_app`). Those
PostgreSQL variants are marked e2e, so `pytest -m "not e2e"` never needs a server.

PostgreSQL tests run against CHAPERONE_TEST_POSTGRES_URL (default: the machine's local
server). They fail, not skip, when it is unreachable: both stores are part of the product.
Set CHAPERONE_SKIP_POSTGRES=1 to leave them out deliberately on a machine without one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from standins.connector import ConnectorStandIn
from standins.graph import GraphStandIn

from .helpers import RunningApp, dev_env, run_app, script_trust_people, trust_env

POSTGRES_ADMIN_URL = os.environ.get("CHAPERONE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SKIP_POSTGRES = os.environ.get("CHAPERONE_SKIP_POSTGRES") == "1"
BACKENDS = [pytest.param("sqlite", id="sqlite")] + (
    [] if SKIP_POSTGRES else [pytest.param("postgresql", id="postgresql", marks=pytest.mark.e2e)]
)


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


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh, empty SQLite database file."""
    return f"sqlite+aiosqlite:///{tmp_path}/chaperone.sqlite3"


@pytest.fixture
def database_url(sqlite_url) -> str:
    """The database an end-to-end test runs on: SQLite. Where the database matters, use
    `any_database_url` instead."""
    return sqlite_url


# Only for tests where the database itself matters: two instances or a restart on one database,
# concurrency and locking, migrations, the repositories (store/), and delivery retries (once
# failed only on PostgreSQL). Every other test uses `database_url` and runs once, on SQLite.
@pytest.fixture(params=BACKENDS)
async def any_database_url(request, sqlite_url) -> AsyncIterator[str]:
    """A fresh, empty database of each kind: SQLite, and PostgreSQL (unless CHAPERONE_SKIP_POSTGRES=1)."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    plain = request.getfixturevalue("postgres_database")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    yield plain.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
def connector() -> ConnectorStandIn:
    with ConnectorStandIn() as standin:
        yield standin


@pytest.fixture
def graph() -> GraphStandIn:
    with GraphStandIn() as standin:
        yield standin


@pytest.fixture
async def dev_app(database_url, connector, graph) -> AsyncIterator[RunningApp]:
    """The app in dev mode on SQLite, with the connector and Graph stand-ins."""
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as running:
        yield running


@pytest.fixture
async def any_dev_app(any_database_url, connector, graph) -> AsyncIterator[RunningApp]:
    """`dev_app` on each database (see `any_database_url` for which tests should use it)."""
    async with run_app(dev_env(any_database_url, graph.base_url), connector.url) as running:
        yield running


@pytest.fixture
async def trust_app(database_url, connector, graph) -> AsyncIterator[RunningApp]:
    """The app serving the example two-school trust (trust.example/), on SQLite, with its people at Graph."""
    script_trust_people(graph)
    async with run_app(trust_env(database_url, graph.base_url), connector.url) as running:
        yield running


@pytest.fixture
async def any_trust_app(any_database_url, connector, graph) -> AsyncIterator[RunningApp]:
    """`trust_app` on each database."""
    script_trust_people(graph)
    async with run_app(trust_env(any_database_url, graph.base_url), connector.url) as running:
        yield running


@pytest.fixture
def entra():
    """The Entra stand-in that issues the tab's Teams single sign-on tokens."""
    from standins.identity import EntraIdentityStandIn

    with EntraIdentityStandIn() as standin:
        yield standin


@pytest.fixture
async def tab_app(database_url, connector, graph, entra):
    """The app with the tab, after a lobby-off Year 7 Maths lesson that ended (one SLT alert)."""
    from .helpers import END, MATHS, lobby_off_lesson, run_app_with_tab, tab_settings

    async with run_app_with_tab(dev_env(database_url, graph.base_url), connector.url, tab_settings(entra)) as running:
        lesson = await lobby_off_lesson(running, connector, graph)
        await running.post_all([running.teams.meeting_end(MATHS, END)])
        running.lesson_id = lesson.id
        yield running
