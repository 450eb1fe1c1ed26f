"""Jobs: work that happens after the HTTP turn, or later, on whichever instance is free.

Teams expects an answer to each activity within seconds, and the slow parts of a lesson
(Graph lookups, a grace period, an attendance report that appears minutes after the end)
must survive restarts. So a turn records what happened and, in the same transaction,
queues the follow-up as a row here. Instances claim due rows with a lease
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time anyway).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import IntEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Insert, Integer, Select, and_, any_, bindparam, delete, exists, func, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .db import Together, insert_for, one_statement, read_sessions
from .tables import JobRow, utcnow


class Priority(IntEnum):
    """Which due job runs first: a teacher's warning or an SLT alert must not wait behind the
    roster checks of a trust's 09:00 peak."""

    alert = 0  # deliveries: warnings, alerts, card refreshes
    grace = 1  # a grace period that ended: its verdict is due now
    lesson = 2  # a lesson's start or end: reminders, start look-ups and verdicts
    # Deriving a meeting's start or end. After the lesson jobs: a lesson whose start is derived
    # is finished (its look-ups, verdicts and alerts) before the next start is derived, so at a
    # 09:00 peak an alert waits in one queue, not in the derivations' and then the starts'.
    lesson_events = 3
    events = 4  # deriving a meeting's joins and leaves into the register
    roster = 5  # who is staff or pupil, and the verdicts that follow
    later = 7  # after the lesson: reports, recordings, idle and overdue closes
    background = 9  # daily and weekly schedules, retention


class JobSpec(BaseModel):
    """A job to queue when an event is applied to a lesson."""

    model_config = ConfigDict(frozen=True)

    kind: str
    priority: Priority = Priority.roster
    # Jobs of one lane run one at a time, in order (a meeting's event log); lesson jobs are
    # serialised by their lesson already.
    lane: str | None = None
    delay_seconds: float = 0
    # One waiting job of this kind (and key) per lesson: later requests fold into it.
    dedupe: bool = True
    key: str = ""
    payload: dict = {}


class Job(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    lesson_id: int | None
    payload: dict
    attempts: int
    due_at: datetime
    lane: str | None = None
    priority: int = Priority.roster


class Lease(BaseModel):
    """A job queued already claimed, by the worker that will run it at once: `instance` holds
    it for `seconds`, as a claim would."""

    model_config = ConfigDict(frozen=True)

    instance: str
    seconds: float


def dedupe_key(spec: JobSpec, lesson_id: int | None) -> str | None:
    """What makes a waiting job the same as another (None: every one is queued)."""
    return f"{spec.kind}:{lesson_id}:{spec.key}"[:200] if spec.dedupe else None


def _values(spec: JobSpec, lesson_id: int | None) -> dict:
    now = utcnow()
    return dict(
        kind=spec.kind,
        priority=int(spec.priority),
        lane=spec.lane,
        lesson_id=lesson_id,
        dedupe_key=dedupe_key(spec, lesson_id),
        payload=spec.payload,
        due_at=now + timedelta(seconds=spec.delay_seconds),
        attempts=0,
        created_at=now,
    )


async def add_job(session: AsyncSession, spec: JobSpec, lesson_id: int | None) -> None:
    """Queue `spec` inside the caller's transaction (a no-op if the same job already waits)."""
    await add_jobs(session, [(spec, lesson_id)])


def _held(values: dict, lease: Lease | None) -> dict:
    """A job's row, leased to `lease.instance` (which runs it the moment the transaction that
    queued it commits) when there is a lease; should that instance stop first, the lease runs
    out and any instance claims it."""
    if lease is None:
        return values
    return values | dict(dedupe_key=None, attempts=1, leased_by=lease.instance,
                         leased_until=values["created_at"] + timedelta(seconds=lease.seconds))


async def add_held_job(session: AsyncSession, spec: JobSpec, lesson_id: int | None, lease: Lease) -> Job:
    """Queue `spec` inside the caller's transaction, leased to `lease.instance`, which runs it
    at once (a card sent as soon as it is decided, not after the next claim)."""
    values = _held(_values(spec, lesson_id), lease)
    job_id = (await session.execute(insert_for(session)(JobRow.__table__).values(**values).returning(JobRow.__table__.c.id))).scalar_one()
    return Job.model_validate(values | {"id": job_id})


async def add_held_job_unless_waiting(session: AsyncSession, spec: JobSpec, lesson_id: int | None, lease: Lease) -> Job | None:
    """`add_held_job`, unless the same job already waits to be claimed (queued before and not
    taken yet: it runs, this one would repeat it): None then. One statement either way."""
    values = _held(_values(spec, lesson_id), lease)
    table = JobRow.__table__
    waiting = select(table.c.id).where(table.c.dedupe_key == dedupe_key(spec, lesson_id), table.c.done_at.is_(None))
    source = select(*(literal(value, table.c[name].type) for name, value in values.items())).where(~waiting.exists())
    stmt = insert_for(session)(table).from_select(list(values), source).returning(table.c.id)
    job_id = (await session.execute(stmt)).scalar_one_or_none()
    return Job.model_validate(values | {"id": job_id}) if job_id is not None else None


async def add_job_for_row(session: AsyncSession, row: Insert, spec: JobSpec, lesson_id: int | None, lease: Lease | None,
                          payload_key: str) -> tuple[int, Job] | None:
    """PostgreSQL: insert `row` (an INSERT ... RETURNING its id, perhaps ON CONFLICT DO NOTHING)
    and queue `spec` about it, its payload naming the new id under `payload_key`, in ONE
    statement: one round trip, not two (a card and its delivery, three in every lesson start
    at 09:00). (The new row's id, the job); None when `row` inserted nothing."""
    table = JobRow.__table__
    values = _held(_values(spec, lesson_id), lease)
    inserted = row.cte("inserted")
    columns = [name for name in values if name != "payload"]
    source = select(*(literal(values[name], table.c[name].type) for name in columns),
                    func.json_build_object(payload_key, inserted.c.id)).select_from(inserted)
    stmt = postgresql.insert(table).from_select([*columns, "payload"], source).returning(table.c.id, table.c.payload)
    found = (await session.execute(stmt)).one_or_none()
    if found is None:
        return None
    job_id, payload = found
    return payload[payload_key], Job.model_validate(values | {"id": job_id, "payload": payload})


async def add_jobs(session: AsyncSession, jobs: Sequence[tuple[JobSpec, int | None]]) -> None:
    """Queue several jobs in one statement per kind of conflict handling."""
    insert = insert_for(session)
    deduped = [_values(spec, lesson) for spec, lesson in jobs if spec.dedupe]
    plain = [_values(spec, lesson) for spec, lesson in jobs if not spec.dedupe]
    if deduped:
        table = JobRow.__table__  # a plain executemany, without the ORM's bulk machinery
        stmt = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text("dedupe_key IS NOT NULL"))
        await session.execute(stmt, deduped)
    if plain:
        await session.execute(insert(JobRow.__table__), plain)
    # On PostgreSQL a trigger on the insert wakes the workers of other processes at commit
    # (store/job_wakeups.py); SQLite's workers poll.


# Every job ends with this statement: built once (on PostgreSQL one text, whatever the number of
# jobs: an IN list of each length would be prepared anew). A finished job waits this long for
# others to be deleted with it, and no more than this many go in one statement.
_FINISH = delete(JobRow).where(JobRow.id.in_(bindparam("job_ids", expanding=True)))
_FINISH_PG = delete(JobRow).where(JobRow.id == any_(bindparam("job_ids", type_=postgresql.ARRAY(Integer))))
# A claim's jobs leased by one UPDATE of their ids, from plain rows: no ORM objects to load and flush.
_LEASED = dict(leased_until=bindparam("leased_until"), leased_by=bindparam("leased_by"), dedupe_key=bindparam("dedupe_key"),
               attempts=JobRow.attempts + 1)
_LEASE = update(JobRow.__table__).where(JobRow.id.in_(bindparam("job_ids", expanding=True))).values(**_LEASED)
_LEASE_PG = update(JobRow.__table__).where(JobRow.id == any_(bindparam("job_ids", type_=postgresql.ARRAY(Integer)))).values(**_LEASED)
FINISH_WINDOW_SECONDS = 0.003
FINISH_AT_MOST = 100

# A claim looks at this many waiting jobs at the front of the queue (in claim order) before
# checking lessons and lanes; all of them when those are all held up.
CLAIM_WINDOW = 256


@functools.lru_cache(maxsize=16)
def _claim_statements(below: Priority | None, at_least: Priority | None, window: int) -> tuple[Select, Select]:
    """The claim's two queries (the front of the queue, then all of it), built once for each
    priority band and run with the time and the number wanted bound: building them is most of a
    claim's CPU, and a 09:00 backlog claims several times a second.

    A lesson's jobs run one at a time, in the order queued, and none while one of its jobs runs
    elsewhere: its end is never judged while its start's look-ups are still loading.
    Deliveries (alert priority, in a lane) are outside a lesson's order: each sends a card
    composed from stored facts, and its lane keeps one destination's cards in order. (A
    delivery queued before lanes existed keeps the lesson's order.)"""
    now = bindparam("now", type_=JobRow.__table__.c.due_at.type)
    running = aliased(JobRow)
    other_in_order = or_(running.priority != int(Priority.alert), running.lane.is_(None))
    busy_lesson = exists().where(
        running.lesson_id == JobRow.lesson_id,
        running.id != JobRow.id,
        running.done_at.is_(None),
        running.leased_until >= now,
        other_in_order,
    )
    # Priority orders lessons, never one lesson's start, roster check and end.
    earlier = exists().where(
        running.lesson_id == JobRow.lesson_id,
        running.id < JobRow.id,
        running.done_at.is_(None),
        running.due_at <= now,
        other_in_order,
    )
    # A lane's jobs run one at a time in the order queued, even when an earlier one waits to
    # be tried again (a card the Bot Connector refused a moment ago).
    earlier_in_lane = exists().where(
        running.lane == JobRow.lane,
        running.id < JobRow.id,
        running.done_at.is_(None),
    )
    claimable = [
        JobRow.done_at.is_(None),
        JobRow.due_at <= now,
        or_(JobRow.leased_until.is_(None), JobRow.leased_until < now),
        *([JobRow.priority < int(below)] if below is not None else []),
        *([JobRow.priority >= int(at_least)] if at_least is not None else []),
    ]
    free = [
        or_(JobRow.lesson_id.is_(None), and_(JobRow.priority == int(Priority.alert), JobRow.lane.is_not(None)),
            ~busy_lesson & ~earlier),
        or_(JobRow.lane.is_(None), ~earlier_in_lane),
    ]
    order = (JobRow.priority, JobRow.due_at, JobRow.id)
    take = bindparam("take", type_=Integer())

    def claimable_rows(*where) -> Select:
        # Plain rows, not ORM objects: a claim is leased by one UPDATE of their ids.
        return select(JobRow.__table__).where(*where).order_by(*order).limit(take).with_for_update(skip_locked=True)

    front = select(JobRow.id).where(*claimable).order_by(*order).limit(window).scalar_subquery()
    return claimable_rows(JobRow.id.in_(front), *claimable, *free), claimable_rows(*claimable, *free)


class JobStore:
    def __init__(self, engine: AsyncEngine, *, claim_window: int = CLAIM_WINDOW) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._claim_window = claim_window
        self._reads = read_sessions(engine)
        self._finishes = Together(self._delete_finished, FINISH_WINDOW_SECONDS, FINISH_AT_MOST)

    async def counts(self) -> dict[tuple[str, str], int]:
        """(kind, "running" or "queued") -> how many, across every instance: for /metrics."""
        now = utcnow()
        running = JobRow.leased_until.is_not(None) & (JobRow.leased_until >= now)
        async with self._reads() as session:
            stmt = (select(JobRow.kind, running.label("running"), func.count())
                    .where(JobRow.done_at.is_(None)).group_by(JobRow.kind, running))
            return {(kind, "running" if is_running else "queued"): count for kind, is_running, count in await session.execute(stmt)}

    async def enqueue(self, spec: JobSpec, lesson_id: int | None = None) -> None:
        async with one_statement(self._reads) as session:  # one job: one INSERT
            await add_job(session, spec, lesson_id)

    async def claim(self, instance: str, limit: int, lease_seconds: float, *, below: Priority | None = None,
                    at_least: Priority | None = None) -> list[Job]:
        """Lease up to `limit` due jobs, at most one per lesson and none for a lesson whose
        job is still running elsewhere: a lesson's follow-up runs in order, so its end is
        never judged while its start's look-ups are still loading. Deliveries are the
        exception: they run beside their lesson's checks, one per lane (store/outbox.py)."""
        now = utcnow()
        front, whole = _claim_statements(below, at_least, self._claim_window)
        values = {"now": now, "take": limit * 4}
        async with self._sessions() as session, session.begin():
            if session.bind.dialect.name == "postgresql":
                # One claim at a time across instances: a claim is one short query.
                await session.execute(text("SELECT pg_advisory_xact_lock(7311101)"))
            # The front of the queue first (read in order from ix_jobs_claim_order): at a 09:00
            # backlog, checking every due job's lesson and lane is most of a claim's cost.
            found = list((await session.execute(front, values)).mappings())
            if len(found) < limit:
                # The front held fewer free jobs than wanted: look at the whole queue.
                found = list((await session.execute(whole, values)).mappings())
            rows, taken = [], set()
            for row in found:
                lesson = None if row["priority"] == int(Priority.alert) and row["lane"] else row["lesson_id"]
                serial = [key for key in (("lesson", lesson), ("lane", row["lane"])) if key[1] is not None]
                if any(key in taken for key in serial):
                    continue
                taken.update(serial)
                rows.append(row)
                if len(rows) == limit:
                    break
            if rows:
                # Claimed work is under way: a new request for the same work needs a new job.
                lease = dict(leased_until=now + timedelta(seconds=lease_seconds), leased_by=instance, dedupe_key=None)
                await session.execute(_LEASE_PG if session.bind.dialect.name == "postgresql" else _LEASE,
                                      {"job_ids": [row["id"] for row in rows], **lease})
            return [Job.model_validate({**row, "attempts": row["attempts"] + 1}) for row in rows]

    async def extend(self, job_id: int, instance: str, lease_seconds: float) -> None:
        """A job still running keeps its lease, so no other instance starts it again."""
        await self._set_where(job_id, instance, leased_until=utcnow() + timedelta(seconds=lease_seconds))

    async def _set_where(self, job_id: int, instance: str, **values) -> None:
        async with one_statement(self._reads) as session:
            await session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.leased_by == instance).values(**values))

    async def finish(self, job_id: int) -> None:
        """Done is gone: a finished job has nothing left to tell, and the queue's index stays
        the size of the work waiting (failed jobs stay, with their error, until retention).
        Returns once it is deleted, with the jobs that finished within a few milliseconds of
        it: every job ends with a DELETE, and at a 09:00 peak the workers end hundreds a
        second, each DELETE a round trip to the database. Until then it still holds its
        lesson and lane, as a running job does."""
        await self._finishes.add(job_id)

    async def _delete_finished(self, job_ids: list[int]) -> None:
        async with one_statement(self._reads) as session:
            await session.execute(_FINISH_PG if session.bind.dialect.name == "postgresql" else _FINISH, {"job_ids": job_ids})

    async def drain(self) -> None:
        """The finished jobs not yet deleted, deleted now (at shutdown)."""
        await self._finishes.drain()

    async def fail(self, job_id: int, error: str) -> None:
        await self._set(job_id, done_at=utcnow(), outcome="failed", leased_until=None, last_error=error[:2000])

    async def retry(self, job_id: int, error: str, delay_seconds: float) -> None:
        await self._set(job_id, due_at=utcnow() + timedelta(seconds=delay_seconds), leased_until=None, last_error=error[:2000])

    async def _set(self, job_id: int, **values) -> None:
        async with one_statement(self._reads) as session:
            await session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    async def next_due_in(self, at_most: float) -> float:
        """Seconds until the next waiting job falls due (at most `at_most`): the worker sleeps
        that long, so a grace check or a settled roster check runs on time, not at the next poll."""
        now = utcnow()
        async with self._reads() as session:
            stmt = select(func.min(JobRow.due_at)).where(JobRow.done_at.is_(None), JobRow.due_at > now)
            soonest = (await session.execute(stmt)).scalar_one_or_none()
        if soonest is None:
            return at_most
        return max(0.0, min(at_most, (soonest - now).total_seconds()))

    async def due_count(self, horizon_seconds: float = 0) -> int:
        """Jobs due now (or within the horizon) and not finished, running ones included."""
        async with self._reads() as session:
            until = utcnow() + timedelta(seconds=horizon_seconds)
            stmt = select(func.count()).select_from(JobRow).where(JobRow.done_at.is_(None), JobRow.due_at <= until)
            return (await session.execute(stmt)).scalar_one()

