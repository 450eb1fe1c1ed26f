"""The meeting-event log: Teams' meeting events appended in their HTTP turn, derived later.

A meeting event's turn costs one append here and an answer. Appends from concurrent turns
are written together (group commit): one transaction holds every event that arrived while
the previous one was being written, with one `derive-events` job per meeting in it. The
workers then derive the register from the log, per meeting, in event-time order.

The log has its own engine (its own connections), so a busy worker pool never makes Teams
wait, and a bound on what waits to be written: beyond it an append is refused at once
(`Overloaded`, answered 503 with Retry-After; Teams retries) instead of queueing for
seconds. An append is acknowledged only once its transaction has committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.events import EventKind

from .db import read_sessions
from .jobs import JobSpec, Priority, add_jobs, dedupe_key
from .tables import JobRow
from .tables import InboundEventRow, utcnow

log = logging.getLogger(__name__)

DERIVE_EVENTS = "derive-events"
# Events a second beyond which the workers keep to urgent work (see EventLog.busy).
BUSY_RATE = 150


class Overloaded(RuntimeError):
    """More events wait to be written than the log will hold, or a backlog of them has waited
    too long: answer 'retry later'."""


class InboundEvent(BaseModel):
    """One meeting activity as it arrived, with what the log is indexed by."""

    model_config = ConfigDict(frozen=True)

    activity_key: str | None
    meeting_id: str
    kind: EventKind
    event_at: datetime
    activity: str  # the JSON text as Teams sent it


class LoggedEvent(InboundEvent):
    id: int


@dataclass
class _Pending:
    event: InboundEvent
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    since: float = field(default_factory=time.monotonic)


# How long a group commit waits for more turns before writing (well inside Teams' patience).
LINGER_SECONDS = 0.003
LINGER_BELOW = 16  # events waiting: fewer, and the writer waits that moment for more

# Fewer events waiting than this is not a backlog, however long the oldest has waited: a lock
# the other instance holds for a moment (SQLite), or a slow machine's loop still answering the
# burst's own turns, is waited out rather than a class's joins being turned away. A database
# that is really not keeping up has hundreds waiting within the half second.
SHED_FROM = 64

# A lesson's start or end is derived ahead of the joins and leaves of a 09:00 burst: its
# reminder, its start verdicts and SLT's alerts wait on it.
URGENT_KINDS = frozenset({EventKind.start.value, EventKind.end.value})


# On PostgreSQL a group commit is ONE statement, atomic by itself (no BEGIN and COMMIT round
# trips): the events from arrays (one message, not one a row), and a derive job per meeting,
# in key order. A meeting that started or ended makes its waiting derive job urgent in the
# same pass (ON CONFLICT DO UPDATE reads and locks the newest version of each waiting job, in
# key order, so two group commits never wait on each other in opposite orders and a job
# another writer queued a moment ago is raised too). At a 09:00 burst the front's writes to
# PostgreSQL as a transaction were a fifth of its CPU.
_GROUP_COMMIT_PG = text("""
WITH logged AS (
    INSERT INTO inbound_events (activity_key, meeting_id, kind, event_at, received_at, activity)
    SELECT e.activity_key, e.meeting_id, e.kind, e.event_at, CAST(:now AS TIMESTAMPTZ), e.activity
    FROM unnest(CAST(:keys AS VARCHAR[]), CAST(:meetings AS VARCHAR[]), CAST(:kinds AS VARCHAR[]),
                CAST(:event_ats AS TIMESTAMPTZ[]), CAST(:activities AS TEXT[]))
         AS e(activity_key, meeting_id, kind, event_at, activity)
    ON CONFLICT (activity_key) DO NOTHING
)
INSERT INTO jobs (kind, priority, lane, lesson_id, dedupe_key, payload, due_at, attempts, created_at)
SELECT CAST(:job_kind AS VARCHAR), j.priority, j.meeting_id, NULL, j.dedupe_key,
       json_build_object('meeting_id', j.meeting_id), CAST(:now AS TIMESTAMPTZ), 0, CAST(:now AS TIMESTAMPTZ)
FROM unnest(CAST(:job_meetings AS VARCHAR[]), CAST(:job_keys AS VARCHAR[]), CAST(:job_priorities AS INTEGER[]))
     AS j(meeting_id, dedupe_key, priority)
ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL
DO UPDATE SET priority = EXCLUDED.priority WHERE jobs.priority > EXCLUDED.priority
""")


def derive_key(meeting_id: str) -> str:
    """The dedupe key of a meeting's waiting derive job (store/jobs.py's form)."""
    return dedupe_key(derive_job(meeting_id), None)


def derive_job(meeting_id: str, urgent: bool = False) -> JobSpec:
    # One waiting job per meeting (dedupe); its lane keeps a meeting's derivations in order.
    return JobSpec(kind=DERIVE_EVENTS, priority=Priority.lesson_events if urgent else Priority.events, key=meeting_id, lane=meeting_id,
                   payload={"meeting_id": meeting_id})


class EventLog:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_waiting: int = 500,
        max_batch: int = 1000,
        max_wait_seconds: float = 0.5,
        writers: int = 1,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._one_statement = engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else None
        # Group commits under way at once, each on a connection of its own: while one waits
        # for PostgreSQL, the next burst is written beside it. SQLite has one writer anyway.
        self._writers = 1 if engine.dialect.name == "sqlite" else max(1, writers)
        self._max_waiting = max_waiting
        self._max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._linger = linger_seconds
        self._on_written: Callable[[], None] = lambda: None
        self._waiting: list[_Pending] = []
        self._writing = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        # Appends in the current and the previous second: the ingest rate, for `busy`.
        self._second = 0
        self._this_second = 0
        self._last_second = 0

    # ---- the HTTP turn ------------------------------------------------------------

    def on_written(self, callback: Callable[[], None]) -> None:
        """Called after each group commit (the worker wakes to derive what was written)."""
        self._on_written = callback

    async def append(self, event: InboundEvent) -> None:
        """Write the event durably (a redelivery already in the log changes nothing). Raises
        Overloaded without waiting when the log is full, or when a backlog (SHED_FROM or more)
        is waiting and its oldest has waited over max_wait_seconds."""
        if len(self._waiting) + self._writing >= self._max_waiting:
            raise Overloaded(f"{len(self._waiting) + self._writing} meeting events are waiting to be written")
        if self.waiting >= SHED_FROM and self._waiting and time.monotonic() - self._waiting[0].since > self._max_wait:
            # The database is not keeping up: Teams is told to retry now rather than kept waiting.
            raise Overloaded(f"meeting events have waited over {self._max_wait:g} s to be written")
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._writer(), name=f"chaperone-event-log-{n}") for n in range(self._writers)]
        now = int(time.monotonic())
        if now != self._second:
            self._last_second = self._this_second if now == self._second + 1 else 0
            self._second, self._this_second = now, 0
        self._this_second += 1
        pending = _Pending(event)
        self._waiting.append(pending)
        self._wake.set()
        return await asyncio.shield(pending.done)

    @property
    def waiting(self) -> int:
        return len(self._waiting) + self._writing

    def busy(self, rate: int = BUSY_RATE) -> bool:
        """Teams is sending a burst (more than `rate` events in the last second, or a backlog to
        write): the workers leave the CPU to answering it (jobs/worker.py)."""
        now = int(time.monotonic())
        recent = self._this_second if now == self._second else 0
        previous = self._last_second if now == self._second else (self._this_second if now == self._second + 1 else 0)
        return self.waiting > 50 or max(recent, previous) > rate

    async def _writer(self) -> None:
        while not self._stopping or self._waiting:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._linger and len(self._waiting) < LINGER_BELOW:
                # A moment for the turns arriving just behind: at a steady few hundred events a
                # second a commit then carries several, not one or two, and each commit is a
                # transaction's CPU and round trips here and in the database. Not when many
                # wait already: then the wait is only time every one of them waits longer.
                await asyncio.sleep(self._linger)
                if not self._waiting:
                    continue  # the other writer took them meanwhile
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            self._writing += len(batch)
            try:
                await self._write([p.event for p in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting turn gets the failure, none hangs
                log.error("could not write %d meeting events: %s: %s", len(batch), type(exc).__name__, str(exc)[:200])
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(exc)
                        pending.done.exception()  # retrieved: its turn answers 503
            else:
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_result(None)
                self._on_written()
            finally:
                self._writing -= len(batch)

    async def _write(self, events: Sequence[InboundEvent]) -> None:
        """One transaction: the events (a redelivery already logged is skipped by its key), and
        a derive job per meeting."""
        now = utcnow()
        # In key order, as every instance writes them: two group commits never wait on each other
        # in opposite orders (a deadlock on PostgreSQL).
        rows = sorted((dict(activity_key=e.activity_key, meeting_id=e.meeting_id, kind=e.kind.value, event_at=e.event_at,
                            received_at=now, activity=e.activity) for e in events), key=lambda r: r["activity_key"] or "")
        urgent = {r["meeting_id"] for r in rows if r["kind"] in URGENT_KINDS}
        jobs = [derive_job(m, m in urgent) for m in sorted({r["meeting_id"] for r in rows})]
        if self._one_statement is not None:
            await self._write_one_statement(rows, jobs, now)
            return
        async with self._sessions() as session, session.begin():
            # The table, not the mapped class: a plain executemany, without the ORM's bulk machinery.
            await session.execute(sqlite.insert(InboundEventRow.__table__).on_conflict_do_nothing(index_elements=["activity_key"]), rows)
            await add_jobs(session, [(job, None) for job in jobs])
            # A meeting whose joins are already waiting keeps that job: it becomes urgent.
            if raised := [derive_key(m) for m in sorted(urgent)]:
                await session.execute(update(JobRow).where(JobRow.dedupe_key.in_(raised), JobRow.priority > int(Priority.lesson_events))
                                      .values(priority=int(Priority.lesson_events)))

    async def _write_one_statement(self, rows: list[dict], jobs: list[JobSpec], now: datetime) -> None:
        # One job a key, the most urgent (a key is cut to 200 characters: two long meeting ids can
        # share one, and ON CONFLICT DO UPDATE may touch a row only once), in key order.
        by_key: dict[str, JobSpec] = {}
        for job in sorted(jobs, key=lambda j: j.priority):
            by_key.setdefault(dedupe_key(job, None), job)
        keyed = sorted(by_key.items())
        params = dict(
            now=now, keys=[r["activity_key"] for r in rows], meetings=[r["meeting_id"] for r in rows],
            kinds=[r["kind"] for r in rows], event_ats=[r["event_at"] for r in rows], activities=[r["activity"] for r in rows],
            job_kind=DERIVE_EVENTS, job_meetings=[j.payload["meeting_id"] for _, j in keyed], job_keys=[k for k, _ in keyed],
            job_priorities=[int(j.priority) for _, j in keyed],
        )
        async with self._one_statement.connect() as connection:
            await connection.execute(_GROUP_COMMIT_PG, params)

    async def close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
            self._tasks = []


class EventLogReader:
    """The workers' side: a meeting's events not yet derived, and marking them derived."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)

    async def waiting(self, meeting_id: str) -> list[LoggedEvent]:
        """The meeting's events not yet derived, in event-time order (arrival breaks ties)."""
        stmt = (
            select(InboundEventRow)
            .where(InboundEventRow.meeting_id == meeting_id, InboundEventRow.processed_at.is_(None))
            .order_by(InboundEventRow.event_at, InboundEventRow.id)
        )
        async with self._reads() as session:
            return [
                LoggedEvent(id=r.id, activity_key=r.activity_key, meeting_id=r.meeting_id, kind=EventKind(r.kind),
                            event_at=r.event_at, activity=r.activity or "{}")
                for r in (await session.execute(stmt)).scalars()
            ]

    async def behind(self, meeting_id: str, until: datetime | None = None) -> bool:
        """Whether the meeting has events (at or before `until`, Teams' clock) still to derive.
        If so, its derivation is hurried: its waiting job raised to the front of the queue,
        or one queued if none waits or runs (a grace check or an idle close waits for it,
        rather than judge a register the log has already moved past)."""
        stmt = select(InboundEventRow.id).where(InboundEventRow.meeting_id == meeting_id, InboundEventRow.processed_at.is_(None))
        if until is not None:
            stmt = stmt.where(InboundEventRow.event_at <= until)
        # Asked first on its own (every roster check asks; few are behind), then hurried.
        async with self._reads() as session:
            if (await session.execute(stmt.limit(1))).first() is None:
                return False
        async with self._sessions() as session, session.begin():
            raised = await session.execute(update(JobRow).where(JobRow.dedupe_key == derive_key(meeting_id),
                                                                JobRow.priority > int(Priority.grace)).values(priority=int(Priority.grace)))
            if raised.rowcount == 0:
                under_way = select(JobRow.id).where(JobRow.lane == meeting_id, JobRow.kind == DERIVE_EVENTS, JobRow.done_at.is_(None))
                if (await session.execute(under_way.limit(1))).first() is None:
                    # At grace priority: a hurried derivation derives everything (not only up to a start).
                    hurried = derive_job(meeting_id).model_copy(update={"priority": Priority.grace})
                    await add_jobs(session, [(hurried, None)])
            return True

    async def set_aside(self, event_id: int, why: str) -> None:
        """An event that could not be applied: marked derived with why, its activity dropped."""
        async with self._sessions() as session, session.begin():
            stmt = update(InboundEventRow).where(InboundEventRow.id == event_id).values(processed_at=utcnow(), activity=None,
                                                                                        error=why[:500])
            await session.execute(stmt)

    async def unprocessed(self) -> int:
        async with self._reads() as session:
            stmt = select(func.count()).select_from(InboundEventRow).where(InboundEventRow.processed_at.is_(None))
            return (await session.execute(stmt)).scalar_one()


def through_last_start_or_end(waiting: list[LoggedEvent]) -> tuple[list[LoggedEvent], list[LoggedEvent]]:
    """A meeting's waiting events (in event-time order) split after its last start or end, and
    after everything stamped at that same instant (the staff who joined as it started)."""
    starts = [e.event_at for e in waiting if e.kind.value in URGENT_KINDS]
    if not starts:
        return waiting, []
    cut = sum(1 for e in waiting if e.event_at <= max(starts))
    return waiting[:cut], waiting[cut:]


async def mark_derived(session: AsyncSession, event_ids: Sequence[int]) -> None:
    """In the transaction that applied them: derived, and the activity (a person's name and
    ids, now in the register) no longer kept in the log."""
    if event_ids:
        stmt = update(InboundEventRow).where(InboundEventRow.id.in_(list(event_ids))).values(processed_at=utcnow(), activity=None)
        await session.execute(stmt)

