"""Group commits side by side (issue 14): on PostgreSQL the event log writes on each of its
connections at once, so a burst is not held behind a commit that is waiting on the database."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import text

from domain.events import EventKind
from store.db import create_engine, migrate
from store.event_log import SHED_FROM, EventLog, InboundEvent, Overloaded
from store.jobs import Priority

from .helpers import T0


def event(key: str, meeting: str) -> InboundEvent:
    return InboundEvent(activity_key=key, meeting_id=meeting, kind=EventKind.join, event_at=T0, activity="{}")


@asynccontextmanager
async def two_writers(postgres_database: str):
    """The event log with two group commits side by side, on the run's PostgreSQL database."""
    engine = create_engine(postgres_database.replace("postgresql://", "postgresql+asyncpg://", 1))
    await migrate(engine)
    log = EventLog(engine, writers=2)
    try:
        yield engine, log
    finally:
        await log.close()
        await engine.dispose()


async def hold_key(blocker, key: str, meeting: str = "elsewhere") -> None:
    """Another transaction (`blocker`, left open) inserts an event with `key`, uncommitted: a
    group commit holding the same key waits on it until that transaction ends."""
    await blocker.execute(text("INSERT INTO inbound_events (activity_key, meeting_id, kind, event_at, received_at, activity) "
                               "VALUES (:key, :meeting, 'join', now(), now(), '{}')"), {"key": key, "meeting": meeting})


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
            await hold_key(blocker, "held", "m-held")
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


async def test_a_few_events_held_behind_another_instances_lock_wait_and_a_backlog_is_turned_away(sqlite_url):
    """Another instance holding SQLite's write lock for a moment is waited out by a class's
    few joins (no 503 for them, however long the oldest waits); a real backlog behind it is
    turned away at once (Teams retries), and every event acknowledged is written."""
    engine = create_engine(sqlite_url)
    await migrate(engine)
    log = EventLog(engine, max_wait_seconds=0.2, linger_seconds=0)
    other_instance = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None)
    try:
        other_instance.execute("BEGIN IMMEDIATE")  # its write lock: the group commit waits on it
        few = [asyncio.create_task(log.append(event(f"few-{n}", "m-1"))) for n in range(SHED_FROM // 2)]
        await asyncio.sleep(0.3)  # longer than max_wait
        few.append(asyncio.create_task(log.append(event("few-late", "m-1"))))
        await asyncio.sleep(0.3)
        assert not [t for t in few if t.done()]  # all still waiting for the lock, none refused

        # Up to a backlog: each is taken, it waits behind the lock with the rest.
        backlog = [asyncio.create_task(log.append(event(f"many-{n}", "m-2"))) for n in range(SHED_FROM - log.waiting)]
        await asyncio.sleep(0.3)
        with pytest.raises(Overloaded, match="waited over"):
            await log.append(event("turned-away", "m-2"))

        other_instance.execute("COMMIT")
        await asyncio.gather(*few, *backlog)
        async with engine.connect() as conn:
            keys = set((await conn.execute(text("SELECT activity_key FROM inbound_events"))).scalars())
        assert len(keys) == len(few) + len(backlog) and "turned-away" not in keys
    finally:
        other_instance.close()
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


@pytest.mark.e2e
async def test_group_commits_starting_each_others_meetings_neither_deadlock_nor_miss_the_urgent_raise(postgres_database):
    """Two group commits at once, each holding one meeting's start and the other meeting's join,
    both meetings' derive jobs already waiting, one of them held up by a row another transaction
    holds: each makes the job of the meeting it started urgent. Were the jobs locked in opposite
    orders, the two would wait on each other and PostgreSQL would fail one whole batch; the
    insert raises them itself, in key order."""
    async with two_writers(postgres_database) as (engine, log):
        await log._write([event("one-j0", "one"), event("two-j0", "two")])  # both meetings' joins wait

        def start(meeting: str) -> InboundEvent:
            return InboundEvent(activity_key=f"{meeting}-s", meeting_id=meeting, kind=EventKind.start, event_at=T0, activity="{}")

        async with engine.connect() as blocker:
            # Another transaction holds an activity key of the first batch, uncommitted: that
            # batch waits there, after taking the locks it takes first.
            await hold_key(blocker, "held-order")
            first = asyncio.create_task(log._write([start("one"), event("two-j1", "two"), event("held-order", "elsewhere")]))
            await asyncio.sleep(0.3)
            second = asyncio.create_task(log._write([start("two"), event("one-j1", "one")]))
            await asyncio.sleep(0.3)
            await blocker.rollback()
        await asyncio.wait_for(asyncio.gather(first, second), 10)  # a deadlock fails one of them
        async with engine.connect() as conn:
            priorities = (await conn.execute(text("SELECT lane, priority FROM jobs WHERE lane IN ('one', 'two') ORDER BY lane"))).all()
        assert priorities == [("one", Priority.lesson_events), ("two", Priority.lesson_events)]


@pytest.mark.e2e
async def test_a_start_makes_urgent_the_derive_job_another_writer_queued_while_it_was_written(postgres_database):
    """A meeting's start is written while another group commit queues that meeting's first
    derive job (for a join): whichever commits first, the job ends urgent (an UPDATE in the
    start's statement would not see a job another transaction committed after it began)."""
    async with two_writers(postgres_database) as (engine, log):
        async with engine.connect() as blocker:
            await hold_key(blocker, "held-raise")
            start = InboundEvent(activity_key="raised-s", meeting_id="raised", kind=EventKind.start, event_at=T0, activity="{}")
            first = asyncio.create_task(log._write([start, event("held-raise", "elsewhere")]))  # waits on 'held-raise'
            await asyncio.sleep(0.3)
            second = asyncio.create_task(log._write([event("raised-j", "raised")]))  # the join's job, meanwhile
            await asyncio.sleep(0.3)
            await blocker.rollback()
        await asyncio.wait_for(asyncio.gather(first, second), 10)
        async with engine.connect() as conn:
            [(priority,)] = (await conn.execute(text("SELECT priority FROM jobs WHERE lane = 'raised'"))).all()
        assert priority == Priority.lesson_events
