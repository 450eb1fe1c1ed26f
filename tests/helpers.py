"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from standins.teams import Meeting, Person

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in London

TEACHER = Person("Ms Amara Okafor", "aad-teacher-0001", role="Organizer")
TA = Person("Mr Tom Hale", "aad-ta-0002", role="Presenter")
PUPIL_A = Person("Pupil Alex", "aad-pupil-0001")
PUPIL_B = Person("Pupil Bea", "aad-pupil-0002")
GUEST = Person("Guest Visitor", "aad-guest-0001", tenant_id="other-tenant-0000")
SLT = Person("Roland Gooding", "00000000-0000-4000-8000-00000000a001")

MATHS = Meeting("19:meeting_maths7b@thread.v2", "Year 7 Maths", TEACHER)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def row_counts(services) -> dict[str, int]:
    counts = {}
    async with services.engine.connect() as conn:
        for table in ("lessons", "attendance", "processed_activities", "conversations", "alert_destinations"):
            counts[table] = (await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one()
    return counts


async def eventually(probe, timeout: float = 15.0, interval: float = 0.05):
    """Poll the async `probe` until it returns something truthy; return that."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)


async def rows(engine, table: str) -> list[dict]:
    """Every row of `table`, oldest first, read with SQL through the table definitions (JSON
    and times decoded): for registers with no reading path of their own yet (the audit log,
    concerns, the job queue), so the tests need no store method of their own."""
    from sqlalchemy import select

    from store.tables import Base

    table_ = Base.metadata.tables[table]
    async with engine.connect() as conn:
        result = await conn.execute(select(table_).order_by(*table_.primary_key.columns))
        return [dict(row) for row in result.mappings()]
