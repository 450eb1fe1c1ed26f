"""Engine creation and schema migration.

SQLite is the embedded default (one instance, WAL). PostgreSQL is the store for production
and for more than one instance: migrations take an advisory lock so instances starting
together do not race each other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x43484150  # "CHAP": any constant shared by every instance


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        # One connection: SQLite has one writer at a time anyway, and queueing on the pool
        # (asyncio-friendly) beats several connections polling SQLite's busy handler.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60,
                                     hide_parameters=True)
        _sqlite_pragmas(engine)
        return engine
    # No pre-ping: it is a round trip on every checkout; a connection the server closed fails
    # its statement, and the transaction is retried (in_transaction) or the job is.
    # hide_parameters: a database error's text (logged, and kept in jobs.last_error) never
    # carries the values bound to it, which are people's names and ids.
    # Each connection keeps 500 prepared statements, not the driver adapter's 100: the hot
    # paths use more distinct statements than that (a multi-row insert is one per row count),
    # and a statement prepared again is an extra round trip.
    cache = {} if "prepared_statement_cache_size" in parsed.query else {"prepared_statement_cache_size": 500}
    # Every connection, once opened, is kept (no overflow): an overflow connection is closed
    # when it comes back, and at a 09:00 peak that meant a thousand connections opened in five
    # minutes, each a TLS attempt, a login and every hot statement prepared again.
    return create_async_engine(url, pool_size=2 * pool_size, max_overflow=0, pool_recycle=1800, hide_parameters=True,
                               connect_args=cache)


def _private_sqlite_file(path: Path) -> None:
    """The database holds concerns and pupils' attendance: its folder (when Chaperone makes it)
    is 0700 and the file 0600, created so before SQLite opens it. SQLite gives its -wal and
    -shm files the database file's permissions. An existing file is tightened to 0600 too."""
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=0o700, exist_ok=True)
        os.chmod(created, 0o700)  # mkdir's mode is filtered by the umask
    if not path.exists():
        # Only when missing: closing any descriptor of a file drops every POSIX lock this process
        # holds on it, so opening the database of a live engine (a second engine for the event
        # log) would pull SQLite's locks from under it.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            try:
                os.chmod(file, 0o600)
            except OSError as exc:  # another user's file: say so, and go on
                log.warning("could not make %s private to this user: %s", file.name, exc.strerror)


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver callback
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")  # wait for a lock rather than fail at once
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver callback
        # Take the write lock up front: a deferred transaction that reads then writes can
        # fail with "database is locked" instead of waiting its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _use_wal(cursor) -> None:
    """WAL is a property of the file, set once; SQLite refuses the switch (without waiting)
    while another connection is writing, so try again for a while."""
    for _ in range(300):
        try:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # noqa: BLE001 - the driver's OperationalError, whichever wrapper
            if "locked" not in str(exc):
                raise
            time.sleep(0.1)  # only while two connections race to create a fresh file
    raise RuntimeError("could not switch the SQLite database to WAL mode: it stayed locked")


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (run at start-up), or to `revision`."""

    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        command.upgrade(_alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
    log.info("database schema is up to date (%s)", engine.url.get_backend_name())


async def schema_revisions(engine: AsyncEngine) -> tuple[str | None, str]:
    """(the database's migration revision, None if never migrated; the newest this code has),
    read without changing anything: for `doctor`."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        revision = await conn.run_sync(current)
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    return revision, head


async def ping(engine: AsyncEngine) -> str | None:
    """None when the database answers, else why not."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - the health endpoint reports any failure
        return f"{type(exc).__name__}: {exc}"[:300]


async def in_transaction(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]], retries: int = 4
) -> T:
    """Run `work` in one transaction, again from the start if a concurrent writer won a
    unique-key race (two instances opening the same lesson, one activity delivered twice)."""
    for attempt in range(1, retries + 1):
        try:
            async with sessions() as session, session.begin():
                return await work(session)
        except IntegrityError:
            if attempt == retries:
                raise
            log.info("write conflict, retrying (attempt %d)", attempt)
    raise AssertionError("unreachable")


def insert_for(session: AsyncSession):
    """The session's database's INSERT, the one with ON CONFLICT."""
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


def read_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read. On PostgreSQL each statement commits by itself, so a read costs
    no BEGIN and ROLLBACK round trips: at PostgreSQL's READ COMMITTED each statement of a read
    transaction sees its own snapshot anyway. (A session from here must never write, but
    through `one_statement`: each statement commits by itself.) SQLite keeps its read
    transaction: in-process, and a snapshot there."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def one_statement(sessions: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    """A session (from a read_sessions maker) for a write that is ONE statement, atomic by
    itself: on PostgreSQL it commits as it runs, without the BEGIN and COMMIT round trips (a
    finished job, a sent card: several in every lesson start at 09:00); on SQLite in a
    transaction of its own."""
    async with sessions() as session:
        if session.bind.dialect.name == "postgresql":
            yield session
        else:
            async with session.begin():
                yield session


@asynccontextmanager
async def reading(sessions: async_sessionmaker, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
    """The caller's session when it reads several registers at once (one connection: an
    assessment's facts), else a session of its own from `sessions` (a read_sessions maker)."""
    if session is not None:
        yield session
        return
    async with sessions() as own:
        yield own


class Together:
    """Writes that may wait a few milliseconds, done together: each `add` returns once `write`
    has done its item with the others that came within `window` seconds (at most `most` at
    once), or raises what `write` raised (it is tried twice: `write` must be safe to repeat). At
    a 09:00 peak each round trip to the database is CPU on both sides; a finished job's DELETE
    or a sent card's UPDATE need not go alone."""

    def __init__(self, write: Callable[[list], Awaitable[None]], window: float, most: int) -> None:
        self._write = write
        self._window = window
        self._most = most
        self._waiting: list[tuple[object, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task] = set()

    async def add(self, item: object) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append((item, done))
        if len(self._waiting) >= self._most:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        await done

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._writing.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._writing.discard)

    async def drain(self) -> None:
        """Write what waits now, and wait for every write under way (at shutdown)."""
        self._flush()
        await asyncio.gather(*self._writing, return_exceptions=True)

    async def _run(self, batch: list[tuple[object, asyncio.Future]]) -> None:
        items = [item for item, _ in batch]
        try:
            try:
                await self._write(items)
            except Exception as exc:  # noqa: BLE001 - a connection the database had closed, say: once more, on another
                log.info("a write of %d held together failed (%s); trying once more", len(items), type(exc).__name__)
                await self._write(items)
        except BaseException as exc:  # noqa: BLE001 - each waiter gets it
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
