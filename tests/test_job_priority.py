"""The job queue's order (issue 14): the most urgent due job first across lessons, a lesson's own
jobs in the order they were queued, a meeting's derivations one at a time, finished jobs gone."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import EventKind, MeetingRef, MeetingStarted
from domain.messages import Destination, MessageKind
from store.db import create_engine, migrate
from store.event_log import EventLog, EventLogReader, InboundEvent, derive_job
from store.jobs import JobSpec, JobStore, Lease, Priority, add_held_job_unless_waiting, add_jobs
from store.lessons import LessonStore
from store.outbox import Outbox

from .helpers import T0, Statements, migrated


async def lessons(engine, count: int) -> list[int]:
    store = LessonStore(engine)
    return [(await store.record_start(MeetingStarted(meeting=MeetingRef(meeting_id=f"m-{n}"), at=T0), None))[0].id for n in range(count)]


async def test_an_alert_is_claimed_before_roster_checks_queued_earlier(sqlite_url):
    engine = create_engine(sqlite_url)
    await migrate(engine)
    jobs = JobStore(engine)
    try:
        first, second, third = await lessons(engine, 3)
        await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), first)
        await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), second)
        await jobs.enqueue(JobSpec(kind="deliver", priority=Priority.alert, dedupe=False), third)
        [claimed] = await jobs.claim("one", 1, 60)
        assert claimed.kind == "deliver"
        # Below a priority, and from one up: what a worker under ingest pressure asks for.
        assert await jobs.claim("one", 5, 60, at_least=Priority.grace) != []
    finally:
        await engine.dispose()


async def test_a_lessons_own_jobs_run_in_the_order_they_were_queued_whatever_their_priority(sqlite_url):
    engine = create_engine(sqlite_url)
    await migrate(engine)
    jobs = JobStore(engine)
    try:
        [lesson] = await lessons(engine, 1)
        await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), lesson)
        await jobs.enqueue(JobSpec(kind="lesson-ended", priority=Priority.lesson), lesson)
        [claimed] = await jobs.claim("one", 5, 60)
        assert claimed.kind == "roster-changed"  # the end is never judged before the roster is known
        assert await jobs.claim("one", 5, 60) == []  # one job per lesson at a time
        await jobs.finish(claimed.id)
        [then] = await jobs.claim("one", 5, 60)
        assert then.kind == "lesson-ended"
        await jobs.finish(then.id)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM jobs"))).scalar_one() == 0  # finished jobs are deleted
    finally:
        await engine.dispose()


async def test_a_meetings_derivations_run_one_at_a_time(sqlite_url):
    engine = create_engine(sqlite_url)
    await migrate(engine)
    jobs = JobStore(engine)
    try:
        await jobs.enqueue(derive_job("meeting-a"))
        [running] = await jobs.claim("one", 5, 60)
        # Events logged while it runs ask for another derivation: it waits for the first.
        await jobs.enqueue(derive_job("meeting-a"))
        await jobs.enqueue(derive_job("meeting-b"))
        [other] = await jobs.claim("two", 5, 60)
        assert other.payload == {"meeting_id": "meeting-b"}
        await jobs.finish(running.id)
        [next_a] = await jobs.claim("two", 5, 60)
        assert next_a.payload == {"meeting_id": "meeting-a"}
    finally:
        await engine.dispose()


async def test_a_lessons_start_is_derived_ahead_of_the_joins_of_other_meetings(any_database_url):
    """At 09:00 thousands of joins wait to be derived; a meeting's start (and end) is urgent: its
    derivation is claimed first, even when that meeting's joins were already waiting. (On
    PostgreSQL a group commit is one statement, on SQLite a transaction: both are checked.)"""
    engine = create_engine(any_database_url)
    await migrate(engine)
    log, jobs = EventLog(engine), JobStore(engine)

    def event(key: str, meeting: str, kind: EventKind) -> InboundEvent:
        return InboundEvent(activity_key=key, meeting_id=meeting, kind=kind, event_at=T0, activity="{}")

    try:
        await log.append(event("j-1", "busy", EventKind.join))
        await log.append(event("j-2", "early", EventKind.join))  # the joins came first ...
        await log.append(event("s-2", "early", EventKind.start))  # ... then the start
        await log.append(event("s-3", "new", EventKind.start))
        await log.append(event("j-1", "busy", EventKind.join))  # a redelivery: logged once
        async with engine.connect() as conn:
            logged = (await conn.execute(text("SELECT activity_key FROM inbound_events ORDER BY activity_key"))).scalars().all()
        assert logged == ["j-1", "j-2", "s-2", "s-3"]
        claimed = await jobs.claim("one", 1, 60, below=Priority.events)
        claimed += await jobs.claim("one", 1, 60, below=Priority.events)
        assert sorted(j.payload["meeting_id"] for j in claimed) == ["early", "new"]
        assert await jobs.claim("one", 5, 60, below=Priority.events) == []  # the joins-only meeting waits
        [rest] = await jobs.claim("one", 5, 60)
        assert rest.payload["meeting_id"] == "busy" and rest.priority == Priority.events
    finally:
        await log.close()
        await engine.dispose()


async def test_a_derivation_hurried_for_a_timed_check_derives_everything(sqlite_url):
    """A grace check whose meeting has logged events and no derivation waiting queues one at
    grace priority: it derives everything logged, not only up to the meeting's start."""
    engine = create_engine(sqlite_url)
    await migrate(engine)
    log, jobs, reader = EventLog(engine), JobStore(engine), EventLogReader(engine)
    try:
        await log.append(InboundEvent(activity_key="s-1", meeting_id="m", kind=EventKind.start, event_at=T0, activity="{}"))
        [lost] = await jobs.claim("one", 5, 60)
        await jobs.fail(lost.id, "failed for good")  # its events stay logged, not derived
        assert await reader.behind("m") is True
        [hurried] = await jobs.claim("one", 5, 60)
        assert hurried.kind == "derive-events" and hurried.priority == Priority.grace
    finally:
        await log.close()
        await engine.dispose()


async def test_a_derived_start_is_followed_through_before_the_next_start_is_derived(sqlite_url):
    """At a 09:00 peak an SLT alert waited twice, about as long each time: for its meeting's
    start to be derived behind every start logged before it, then for the lesson's start job
    behind every derivation due before that. A lesson start is claimed ahead of the starts
    still to derive, so each lesson goes from logged to judged in one wait."""
    engine = create_engine(sqlite_url)
    await migrate(engine)
    log, jobs = EventLog(engine), JobStore(engine)
    try:
        [lesson] = await lessons(engine, 1)
        for n in range(3):
            await log.append(InboundEvent(activity_key=f"s-{n}", meeting_id=f"later-{n}", kind=EventKind.start, event_at=T0, activity="{}"))
        await jobs.enqueue(JobSpec(kind="lesson-started", priority=Priority.lesson), lesson)  # derived after those were logged
        claimed = await jobs.claim("one", 2, 60, below=Priority.events)
        assert [j.kind for j in claimed] == ["lesson-started", "derive-events"]
        assert claimed[1].priority == Priority.lesson_events
    finally:
        await log.close()
        await engine.dispose()


async def test_slts_alert_goes_out_beside_its_lessons_checks_and_its_meeting_chat_cards(any_database_url):
    """20 lessons starting together measured 0.9 s from breach to SLT alert when a lesson's
    reminder, its teacher warning and then the alert went out one after another."""
    engine = create_engine(any_database_url)
    await migrate(engine)
    jobs = JobStore(engine)
    outbox = Outbox(engine)
    try:
        [lesson] = await lessons(engine, 1)
        await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), lesson)
        [check] = await jobs.claim("one", 5, 60)
        assert check.kind == "roster-changed"

        async def queue(kind: MessageKind, destination: Destination) -> int:
            return await outbox.queue(kind=kind, destination=destination, card={}, summary=kind.value, lesson_id=lesson,
                                      service_url=None)

        reminder = await queue(MessageKind.reminder, Destination.meeting)
        warning = await queue(MessageKind.teacher_warning, Destination.meeting)
        alert = await queue(MessageKind.slt_alert, Destination.slt_channel)
        # With the roster check still running: the reminder and the alert at once, the
        # warning after the reminder (one destination's cards in the order queued).
        first = await jobs.claim("one", 5, 60)
        assert sorted(j.payload["message_id"] for j in first) == sorted([reminder, alert])
        assert await jobs.claim("one", 5, 60) == []
        # The reminder is refused for now: the warning still waits behind it, whatever is due.
        reminder_job = next(j.id for j in first if j.payload["message_id"] == reminder)
        await jobs.retry(reminder_job, "502 from the Bot Connector", 0)
        [again] = await jobs.claim("one", 5, 60)
        assert again.payload["message_id"] == reminder
        await jobs.finish(reminder_job)
        [then] = await jobs.claim("one", 5, 60)
        assert then.payload["message_id"] == warning

        # And a lesson job queued after a delivery does not wait for it.
        await jobs.finish(check.id)
        await jobs.enqueue(JobSpec(kind="lesson-ended", priority=Priority.lesson), lesson)
        [ended] = await jobs.claim("one", 5, 60)
        assert ended.kind == "lesson-ended"
        # A delivery queued before lanes existed keeps its lesson's order.
        await jobs.enqueue(JobSpec(kind="deliver", priority=Priority.alert, dedupe=False, payload={"message_id": 0}), lesson)
        assert await jobs.claim("one", 5, 60) == []
    finally:
        await engine.dispose()


async def test_a_claim_looks_past_the_front_of_the_queue_when_the_front_is_held_up(any_database_url):
    """A claim reads the first few hundred waiting jobs in order and checks those; when every
    one of them waits on its lesson, the job behind them is still found."""
    engine = create_engine(any_database_url)
    await migrate(engine)
    jobs = JobStore(engine, claim_window=2)
    try:
        busy, free = await lessons(engine, 2)
        await jobs.enqueue(JobSpec(kind="lesson-started", priority=Priority.lesson), busy)
        [running] = await jobs.claim("one", 1, 60)
        # Two more of the busy lesson's jobs at the front of the queue, then another lesson's.
        await jobs.enqueue(JobSpec(kind="grace-check", priority=Priority.grace, key="a"), busy)
        await jobs.enqueue(JobSpec(kind="grace-check", priority=Priority.grace, key="b"), busy)
        await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), free)
        claimed = await jobs.claim("one", 4, 60)
        assert [(j.kind, j.lesson_id) for j in claimed] == [("roster-changed", free)]
        await jobs.finish(running.id)
        assert [j.kind for j in await jobs.claim("one", 4, 60)] == ["grace-check"]
    finally:
        await engine.dispose()


async def test_jobs_finished_within_a_few_milliseconds_are_deleted_by_one_statement(any_database_url):
    # A repository: on each database.
    async with migrated(any_database_url) as engine:
        await finished_together(engine)


async def finished_together(engine) -> None:
    jobs = JobStore(engine)
    deletes: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM JOBS"):
            deletes.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for lesson in await lessons(engine, 12):
            await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), lesson)
        claimed = await jobs.claim("one", 12, 60)
        assert len(claimed) == 12
        await asyncio.gather(*(jobs.finish(job.id) for job in claimed))
        assert len(deletes) == 1
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM jobs"))).scalar_one() == 0
        # One finished alone is deleted by itself, and `finish` returns once it is gone.
        [lesson] = await lessons(engine, 1)
        await jobs.enqueue(JobSpec(kind="lesson-ended", priority=Priority.lesson), lesson)
        [last] = await jobs.claim("one", 1, 60)
        await jobs.finish(last.id)
        assert len(deletes) == 2
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM jobs"))).scalar_one() == 0
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_claim_leases_its_jobs_with_one_update_and_a_claimed_job_is_not_claimed_again(any_database_url):
    async with migrated(any_database_url) as engine:
        jobs, other = JobStore(engine), JobStore(engine)
        for lesson in await lessons(engine, 5):
            await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), lesson)
        statements = Statements(engine)
        try:
            claimed = await jobs.claim("one", 4, 60)
        finally:
            statements.close()
        updates = statements.starting("UPDATE JOBS")
        assert len(claimed) == 4 and len(updates) == 1
        assert all(job.attempts == 1 for job in claimed)
        # Leased to "one": another instance gets only the fifth, and nothing after it.
        [fifth] = await other.claim("two", 4, 60)
        assert fifth.id not in {job.id for job in claimed}
        assert await other.claim("two", 4, 60) == []
        async with engine.connect() as conn:
            leased = dict((await conn.execute(text("SELECT leased_by, COUNT(*) FROM jobs WHERE dedupe_key IS NULL AND attempts = 1 "
                                                   "GROUP BY leased_by"))).all())
        assert leased == {"one": 4, "two": 1}


async def test_a_start_held_by_its_deriving_worker_is_not_a_second_copy_of_one_still_waiting(any_database_url):
    """A lesson's start job is leased to the worker that derived the start, which runs it at
    once. When the same job already waits to be claimed (queued for any worker), that one runs
    and no held copy is made; once it is taken, a new one can be held."""
    async with migrated(any_database_url) as engine:
        [lesson] = await lessons(engine, 1)
        jobs, spec, lease = JobStore(engine), JobSpec(kind="lesson-started", priority=Priority.lesson), Lease(instance="me", seconds=60)
        async with engine.begin() as conn:
            session = AsyncSession(bind=conn)
            held = await add_held_job_unless_waiting(session, spec, lesson, lease)
            assert held is not None and held.attempts == 1 and held.kind == "lesson-started"
            await add_jobs(session, [(spec, lesson)])  # queued for any worker: waits
            assert await add_held_job_unless_waiting(session, spec, lesson, lease) is None
        async with engine.connect() as conn:
            rows_ = (await conn.execute(text("SELECT leased_by, dedupe_key FROM jobs WHERE kind = 'lesson-started' ORDER BY id"))).all()
        assert [r[0] for r in rows_] == ["me", None] and rows_[0][1] is None and rows_[1][1]
