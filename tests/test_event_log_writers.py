"""Group commits side by side (issue 14): on PostgreSQL the event log writes on each of its
connections at once, so a burst is not held behind a commit that is waiting on the database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from domain.events import EventKind
from store.db import create_engine, migrate
from store.event_log import EventLog, InboundEvent

from .helpers import T0


def event(key: str, meeting: str) -> InboundEvent:
    return InboundEvent(activity_key=key, meeting_id=meeting, kind=EventKind.join, event_at=T0, activity="{}")


@pytest.mark.e2e
async def test_a_second_group_commit_is_written_while_the_first_waits_on_postgresql(postgres_database):
    conn = await asyncpg.connect(postgres_database)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")  # the run's database, emptied
    finally:
        await conn.close()
    url = postgres_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_engine(url)
    await migrate(engine)
    log = EventLog(engine, writers=2)
    try:
        async with engine.connect() as blocker:
            # Another transaction holds the same activity key, uncommitted: the first group
            # commit waits on its row lock until that transaction ends.
            await blocker.execute(text(
                "INSERT INTO inbound_events (activity_key, meeting_id, kind, event_at, received_at, activity) "
                "VALUES ('held', 'm-held', 'join', now(), now(), '{}')"))
            first = asyncio.create_task(log.append(event("held", "m-held")))
            await asyncio.sleep(0.3)
            assert not first.done()
            # ... and an event arriving meanwhile is written and acknowledged beside it.
            await asyncio.wait_for(log.append(event("free", "m-free")), 10)
            assert not first.done()
            await blocker.rollback()
        await asyncio.wait_for(first, 10)
        async with engine.connect() as conn:
            keys = (await conn.execute(text("SELECT activity_key FROM inbound_events ORDER BY activity_key"))).scalars().all()
        assert keys == ["free", "held"]
    finally:
        await log.close()
        await engine.dispose()


@pytest.mark.parametrize("writers", [1, 2])
async def test_sqlite_has_one_writer_whatever_is_asked(sqlite_url, writers):
    engine = create_engine(sqlite_url)
    await migrate(engine)
    log = EventLog(engine, writers=writers)
    try:
        await asyncio.gather(*(log.append(event(f"k-{n}", f"m-{n % 3}")) for n in range(50)))
        assert len(log._tasks) == 1
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM inbound_events"))).scalar_one() == 50
    finally:
        await log.close()
        await engine.dispose()


@pytest.mark.e2e
async def test_writers_waiting_a_moment_for_more_never_write_an_empty_batch(postgres_database, caplog):
    """Each writer waits a moment for the turns just behind before it commits; when the other
    writer took them meanwhile, it goes back to waiting instead of committing nothing (which
    failed, and logged an error, thousands of times in a 625/s benchmark)."""
    url = postgres_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_engine(url)
    await migrate(engine)
    await engine.dispose()
    engine = create_engine(url)
    log = EventLog(engine, writers=2, linger_seconds=0.01)
    try:
        for burst in range(5):
            await asyncio.gather(*(log.append(event(f"linger-{burst}-{n}", f"m-{n % 3}")) for n in range(10)))
            await asyncio.sleep(0.03)
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT count(*) FROM inbound_events WHERE activity_key LIKE 'linger-%'"))).scalar_one()
        assert stored == 50
        assert not [r for r in caplog.records if "could not write" in r.getMessage()]
    finally:
        await log.close()
        await engine.dispose()
