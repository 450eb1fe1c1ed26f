"""What the benchmark reads off the machine and the database: a process's CPU time and RSS from
/proc, the stored events and the job queue through SQL, and percentiles."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def machine_busy_seconds() -> float:
    """CPU time every core of this machine has spent busy since boot (/proc/stat), all processes."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Database:
    """Reads Chaperone's database the way an operator would: plain SQL, no Chaperone code, so
    it keeps working when the ingest path changes. The event log is `inbound_events` (one row
    per accepted meeting activity) where it exists, else `participant_events` (one row per
    person per join or leave)."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(url)
        self.table: str | None = None

    async def event_table(self) -> str | None:
        async with self.engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        self.table = next((t for t in ("inbound_events", "participant_events") if t in names), None)
        return self.table

    async def count(self, table: str) -> int:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()

    async def events(self) -> int:
        table = self.table or await self.event_table()
        return await self.count(table) if table else 0

    async def lessons(self) -> int:
        return await self.count("lessons")

    async def placements(self) -> list[tuple[str | None, str | None, str | None]]:
        """Each lesson's (title, school id, placement): where a trust's lessons were placed."""
        async with self.engine.connect() as connection:
            result = await connection.execute(text("SELECT title, school_id, placement FROM lessons"))
            return [tuple(row) for row in result]

    async def due_jobs(self, horizon: float = 10.0) -> int | None:
        """Jobs not finished and due within `horizon` seconds (a roster check waits a moment for
        more joins; a grace check minutes ahead is not follow-up work of this load); None if
        the queue's table is not one we can read."""
        now = datetime.now(timezone.utc) + timedelta(seconds=horizon)
        try:
            async with self.engine.connect() as connection:
                if self.engine.dialect.name == "sqlite":  # stored as naive UTC text
                    now_param: object = now.strftime("%Y-%m-%d %H:%M:%S.%f")
                else:
                    now_param = now
                result = await connection.execute(
                    text("SELECT count(*) FROM jobs WHERE done_at IS NULL AND due_at <= :now"), {"now": now_param})
                return result.scalar_one()
        except Exception:  # noqa: BLE001 - a changed queue schema: fall back on the CPU going quiet
            return None

    async def transactions(self) -> int | None:
        """PostgreSQL's count of this database's transactions so far (a statement run on its own
        is one), from pg_stat_database; None on SQLite. The counts reach the view within about
        a second of each transaction."""
        if self.engine.dialect.name != "postgresql":
            return None
        async with self.engine.connect() as connection:
            stmt = text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            return (await connection.execute(stmt)).scalar_one()

    async def start_stages(self, since: datetime) -> list[StartStages] | None:
        """Each meetingStart logged since `since`, as the database timed it: logged, derived
        (the lesson opened) and, for a lesson whose start raised an SLT alert, that alert queued
        and sent. None when the event log is not `inbound_events` (no derivation to time)."""
        if (self.table or await self.event_table()) != "inbound_events":
            return None
        stmt = text("SELECT e.received_at, e.processed_at, min(m.created_at), min(m.sent_at) FROM inbound_events e "
                    "LEFT JOIN lessons l ON l.meeting_id = e.meeting_id "
                    "LEFT JOIN messages m ON m.lesson_id = l.id AND m.kind = 'slt-alert' "
                    "WHERE e.kind = 'meetingStart' AND e.received_at >= :since "
                    "GROUP BY e.id, e.received_at, e.processed_at")
        since_param: object = since.strftime("%Y-%m-%d %H:%M:%S.%f") if self.engine.dialect.name == "sqlite" else since
        async with self.engine.connect() as connection:
            rows = (await connection.execute(stmt, {"since": since_param})).all()
        return [StartStages(*map(_instant, row)) for row in rows]

    async def close(self) -> None:
        await self.engine.dispose()


@dataclass(frozen=True)
class StartStages:
    """One lesson start's way to SLT, by the database's clock (None: not reached)."""

    logged: datetime
    derived: datetime | None
    alert_queued: datetime | None
    alert_sent: datetime | None


def _instant(value: object) -> datetime | None:
    """A timestamp as SQLAlchemy's text() returns it: a datetime (PostgreSQL) or naive UTC text (SQLite)."""
    if value is None:
        return None
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)


@dataclass
class Settled:
    seconds: float
    idle: bool
    due_jobs: int | None


async def settle(pids: list[int], db: Database | None, timeout: float, quiet_cpu: float = 0.03) -> Settled:
    """Wait until the server's follow-up work is done: no job due and unfinished, and its
    processes using under `quiet_cpu` of a core each over a second. Bounded by `timeout`."""
    began = time.monotonic()
    due: int | None = None
    while time.monotonic() - began < timeout:
        before = sum(map(cpu_seconds, pids))
        await asyncio.sleep(1.0)
        busy = (sum(map(cpu_seconds, pids)) - before) / len(pids)
        due = await db.due_jobs() if db else 0
        if busy < quiet_cpu and not due:
            return Settled(time.monotonic() - began, True, due)
    return Settled(time.monotonic() - began, False, due)
