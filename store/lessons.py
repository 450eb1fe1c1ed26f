"""The lesson register: lessons and their attendance intervals.

Teams may deliver an event twice, late, or out of order, and a service may restart or run
as several instances. Every write here is one transaction that leaves the register correct
whichever of those happened:

- a redelivered activity (same activity key) changes nothing;
- a participant event with no open lesson opens one, marked `start_event_missing`, which a
  late meetingStart then adopts;
- a leave with no join is kept, with the join time unknown;
- an event for a lesson already closed is recorded against it when it happened before the
  end, and opens a new lesson when it happened after.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from domain.events import (
    EventOutcome,
    MeetingDetails,
    MeetingEnded,
    MeetingRef,
    MeetingStarted,
    Participant,
    ParticipantsChanged,
)
from domain.lesson import AttendanceSource, DirectoryEntry, Lesson, LessonStatus, PersonClass
from domain.lookups import Lookup
from domain.meeting import AttendanceReport, CalendarEvent, MeetingSettings, ReportedInterval

from .db import in_transaction
from .jobs import JobSpec, add_job
from .tables import AttendanceRow, LessonRow, ProcessedActivityRow, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")


class LessonStore:
    def __init__(self, engine: AsyncEngine, *, retries: int = 4) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._retries = retries

    # ---- transactions -------------------------------------------------------------

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await in_transaction(self._sessions, work, self._retries)

    async def _replayed(self, session: AsyncSession, activity_key: str | None, meeting_id: str) -> LessonRow | None:
        """The lesson, when this activity was applied before (a redelivery); else None."""
        if not activity_key or await session.get(ProcessedActivityRow, activity_key) is None:
            return None
        return await self._latest_lesson(session, meeting_id)

    @staticmethod
    async def _follow_up(session: AsyncSession, lesson: LessonRow, outcome: EventOutcome, jobs: Sequence[JobSpec]) -> None:
        # Queued in the same transaction as the event: recorded means followed up.
        if outcome in (EventOutcome.applied, EventOutcome.late):
            for spec in jobs:
                await add_job(session, spec, lesson.id)

    def _mark(
        self,
        session: AsyncSession,
        activity_key: str | None,
        kind: str,
        meeting_id: str,
        lesson_id: int | None,
        outcome: EventOutcome,
    ) -> None:
        if activity_key:
            session.add(
                ProcessedActivityRow(
                    activity_key=activity_key,
                    kind=kind,
                    meeting_id=meeting_id,
                    lesson_id=lesson_id,
                    outcome=outcome.value,
                    received_at=utcnow(),
                )
            )

    # ---- lookups ------------------------------------------------------------------

    @staticmethod
    async def _open_lesson(session: AsyncSession, meeting_id: str) -> LessonRow | None:
        stmt = (
            select(LessonRow)
            .where(LessonRow.meeting_id == meeting_id, LessonRow.status == LessonStatus.open.value)
            .with_for_update()
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    @staticmethod
    async def _latest_lesson(session: AsyncSession, meeting_id: str) -> LessonRow | None:
        stmt = (
            select(LessonRow)
            .where(LessonRow.meeting_id == meeting_id)
            .order_by(LessonRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    @staticmethod
    def _new_lesson(ref: MeetingRef, start: datetime | None, *, start_missing: bool) -> LessonRow:
        now = utcnow()
        return LessonRow(
            meeting_id=ref.meeting_id,
            conversation_id=ref.conversation_id,
            tenant_id=ref.tenant_id,
            service_url=ref.service_url,
            actual_start=start,
            status=LessonStatus.open.value,
            start_event_missing=start_missing,
            end_event_missing=False,
            created_at=now,
            updated_at=now,
        )

    # ---- meeting start / end ------------------------------------------------------

    async def record_start(
        self, event: MeetingStarted, activity_key: str | None, jobs: Sequence[JobSpec] = ()
    ) -> tuple[Lesson, EventOutcome]:
        async def work(session: AsyncSession) -> tuple[LessonRow, EventOutcome]:
            ref = event.meeting
            if replayed := await self._replayed(session, activity_key, ref.meeting_id):
                return replayed, EventOutcome.duplicate
            lesson = await self._open_lesson(session, ref.meeting_id)
            latest = await self._latest_lesson(session, ref.meeting_id) if lesson is None else None
            outcome = EventOutcome.applied
            if lesson is not None and lesson.start_event_missing:
                # Participant events got here first: this start belongs to that lesson.
                lesson.actual_start = min(event.at, lesson.actual_start or event.at)
                lesson.start_event_missing = False
            elif lesson is not None and lesson.actual_start == event.at:
                outcome = EventOutcome.duplicate
            elif latest is not None and latest.actual_end is not None and event.at <= latest.actual_end:
                # Delivered after the lesson it started had already ended.
                lesson = latest
                if latest.actual_start == event.at:
                    outcome = EventOutcome.duplicate
                else:
                    outcome = EventOutcome.late
                    if latest.start_event_missing:
                        latest.actual_start, latest.start_event_missing = event.at, False
            else:
                if lesson is not None:
                    # The previous occurrence never told us it ended.
                    self._close(lesson, None, end_missing=True)
                    await session.flush()
                lesson = self._new_lesson(ref, event.at, start_missing=False)
                session.add(lesson)
            lesson.title = event.title or lesson.title
            lesson.join_url = event.join_url or lesson.join_url
            lesson.meeting_type = event.meeting_type or lesson.meeting_type
            lesson.updated_at = utcnow()
            await session.flush()
            self._mark(session, activity_key, "meetingStart", ref.meeting_id, lesson.id, outcome)
            await self._follow_up(session, lesson, outcome, jobs)
            return lesson, outcome

        row, outcome = await self._transaction(work)
        return _without_register(row), outcome

    async def record_end(
        self, event: MeetingEnded, activity_key: str | None, jobs: Sequence[JobSpec] = ()
    ) -> tuple[Lesson, EventOutcome]:
        async def work(session: AsyncSession) -> tuple[LessonRow, EventOutcome]:
            ref = event.meeting
            if replayed := await self._replayed(session, activity_key, ref.meeting_id):
                return replayed, EventOutcome.duplicate
            lesson = await self._open_lesson(session, ref.meeting_id)
            outcome = EventOutcome.applied
            if lesson is None:
                latest = await self._latest_lesson(session, ref.meeting_id)
                if latest is not None and latest.actual_end == event.at:
                    lesson, outcome = latest, EventOutcome.duplicate
                else:
                    # An end with no start: keep what we know, the start stays unknown.
                    lesson = self._new_lesson(ref, None, start_missing=True)
                    session.add(lesson)
                    await session.flush()
                    self._close(lesson, event.at, end_missing=False)
            else:
                await self._close_intervals(session, lesson, event.at)
                self._close(lesson, event.at, end_missing=False)
            await session.flush()
            self._mark(session, activity_key, "meetingEnd", ref.meeting_id, lesson.id, outcome)
            await self._follow_up(session, lesson, outcome, jobs)
            return lesson, outcome

        row, outcome = await self._transaction(work)
        return _without_register(row), outcome

    @staticmethod
    def _close(lesson: LessonRow, at: datetime | None, *, end_missing: bool) -> None:
        lesson.status = LessonStatus.closed.value
        lesson.actual_end = at
        lesson.end_event_missing = end_missing
        lesson.updated_at = utcnow()

    @staticmethod
    async def _close_intervals(session: AsyncSession, lesson: LessonRow, at: datetime) -> None:
        stmt = select(AttendanceRow).where(
            AttendanceRow.lesson_id == lesson.id, AttendanceRow.left_at.is_(None)
        )
        for row in (await session.execute(stmt)).scalars():
            row.left_at = max(at, row.joined_at) if row.joined_at else at
            row.note = _append(row.note, "still present when the meeting ended")

    async def set_details(self, lesson_id: int, details: MeetingDetails | None, lookup: Lookup) -> Lesson:
        """Store what Bot Framework says about the meeting, or why it could not be asked."""

        async def work(session: AsyncSession) -> int:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            if details is not None:
                for field in (
                    "title",
                    "join_url",
                    "meeting_type",
                    "graph_meeting_id",
                    "organizer_aad_id",
                    "organizer_teams_id",
                    "organizer_name",
                    "scheduled_start",
                    "scheduled_end",
                ):
                    value = getattr(details, field)
                    if value is not None:
                        setattr(lesson, field, value)
                if lesson.organizer_aad_id and not lesson.organizer_name:
                    # Meeting details name the organizer's id only; their join event has the name.
                    stmt = select(AttendanceRow.display_name).where(
                        AttendanceRow.lesson_id == lesson.id, AttendanceRow.aad_object_id == lesson.organizer_aad_id
                    )
                    lesson.organizer_name = (await session.execute(stmt.limit(1))).scalar_one_or_none()
            lesson.details_lookup = lookup.model_dump(mode="json")
            lesson.updated_at = utcnow()
            return lesson.id

        return await self.get(await self._transaction(work))

    # ---- what Graph says ------------------------------------------------------------

    async def _update(self, lesson_id: int, **values: object) -> Lesson:
        async def work(session: AsyncSession) -> LessonRow:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            for name, value in values.items():
                setattr(lesson, name, value)
            lesson.updated_at = utcnow()
            return lesson

        return _without_register(await self._transaction(work))

    async def set_meeting_settings(self, lesson_id: int, settings: MeetingSettings | None, lookup: Lookup) -> Lesson:
        return await self._update(
            lesson_id, meeting_settings=settings.model_dump(mode="json") if settings else None, settings_lookup=lookup.model_dump(mode="json")
        )

    async def set_calendar(self, lesson_id: int, event: CalendarEvent | None, lookup: Lookup) -> Lesson:
        return await self._update(
            lesson_id, calendar_event=event.model_dump(mode="json") if event else None, calendar_lookup=lookup.model_dump(mode="json")
        )

    async def set_report_lookup(self, lesson_id: int, lookup: Lookup) -> Lesson:
        return await self._update(lesson_id, report_lookup=lookup.model_dump(mode="json"))

    async def set_roster_lookup(self, lesson_id: int, lookup: Lookup) -> Lesson:
        return await self._update(lesson_id, roster_lookup=lookup.model_dump(mode="json"))

    async def set_organizer_upn(self, lesson_id: int, upn: str | None) -> Lesson:
        return await self._update(lesson_id, organizer_upn=upn)

    async def set_classifications(self, lesson_id: int, entries: Mapping[str, DirectoryEntry]) -> None:
        """Record the directory's answer for people in a lesson (external stays external)."""
        if not entries:
            return

        async def work(session: AsyncSession) -> None:
            stmt = select(AttendanceRow).where(
                AttendanceRow.lesson_id == lesson_id, AttendanceRow.person_id.in_(list(entries))
            )
            for row in (await session.execute(stmt)).scalars():
                entry = entries[row.person_id]
                row.upn = entry.upn or row.upn
                if row.classification != PersonClass.external.value:
                    row.classification = entry.classification.value

        await self._transaction(work)

    async def merge_report(self, lesson_id: int, report: AttendanceReport) -> int:
        """Add the people Graph's report saw and the live events missed; returns how many.

        Live intervals are kept as they are: they are Chaperone's own record. A person the
        report has and the register does not (their join event never arrived) is added with
        source graph-report.
        """

        async def work(session: AsyncSession) -> int:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            stmt = select(AttendanceRow.person_id).where(AttendanceRow.lesson_id == lesson_id)
            present = set((await session.execute(stmt)).scalars())
            added = 0
            for attendee in report.attendees:
                person_id = attendee.aad_object_id or attendee.email or attendee.display_name or "anonymous"
                if person_id in present:
                    continue
                added += 1
                for interval in attendee.intervals or (ReportedInterval(joined_at=None, left_at=None),):
                    session.add(
                        AttendanceRow(
                            lesson_id=lesson_id,
                            person_id=person_id,
                            aad_object_id=attendee.aad_object_id,
                            display_name=attendee.display_name,
                            tenant_id=attendee.tenant_id,
                            meeting_role=attendee.role,
                            classification=PersonClass.unknown.value if attendee.aad_object_id else PersonClass.external.value,
                            joined_at=interval.joined_at,
                            left_at=interval.left_at,
                            source=AttendanceSource.graph_report.value,
                            note="in Graph's attendance report; no live join event arrived",
                        )
                    )
            lesson.report_lookup = Lookup.ok(f"reconciled with Graph's report, {added} added from it").model_dump(mode="json")
            lesson.updated_at = utcnow()
            return added

        return await self._transaction(work)

    # ---- participants -------------------------------------------------------------

    async def record_participants(
        self,
        event: ParticipantsChanged,
        activity_key: str | None,
        school_tenant: str | None,
        jobs: Sequence[JobSpec] = (),
    ) -> tuple[Lesson, EventOutcome]:
        """Record a join or leave. Each person is classified from the event alone (external
        is certain from it; staff and pupils are told apart later, from the directory)."""
        kind = "meetingParticipantJoin" if event.joined else "meetingParticipantLeave"

        async def work(session: AsyncSession) -> tuple[LessonRow, EventOutcome]:
            ref = event.meeting
            if replayed := await self._replayed(session, activity_key, ref.meeting_id):
                return replayed, EventOutcome.duplicate
            lesson, outcome = await self._lesson_for(session, ref, event.at)
            for person in event.participants:
                if event.joined:
                    await self._join(session, lesson, person, event.at, person.class_from_event(school_tenant))
                else:
                    await self._leave(session, lesson, person, event.at, person.class_from_event(school_tenant))
            lesson.updated_at = utcnow()
            await session.flush()
            self._mark(session, activity_key, kind, ref.meeting_id, lesson.id, outcome)
            await self._follow_up(session, lesson, outcome, jobs)
            return lesson, outcome

        row, outcome = await self._transaction(work)
        return _without_register(row), outcome

    async def _lesson_for(
        self, session: AsyncSession, ref: MeetingRef, at: datetime
    ) -> tuple[LessonRow, EventOutcome]:
        lesson = await self._open_lesson(session, ref.meeting_id)
        if lesson is not None:
            return lesson, EventOutcome.applied
        latest = await self._latest_lesson(session, ref.meeting_id)
        if latest is not None and latest.actual_end is not None and at <= latest.actual_end:
            return latest, EventOutcome.late
        # No lesson open: the start event is late, lost, or was never subscribed.
        lesson = self._new_lesson(ref, at, start_missing=True)
        session.add(lesson)
        await session.flush()
        return lesson, EventOutcome.applied

    @staticmethod
    async def _intervals(session: AsyncSession, lesson: LessonRow, person_id: str) -> list[AttendanceRow]:
        stmt = (
            select(AttendanceRow)
            .where(AttendanceRow.lesson_id == lesson.id, AttendanceRow.person_id == person_id)
            .order_by(AttendanceRow.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def _join(
        self, session: AsyncSession, lesson: LessonRow, person: Participant, at: datetime, kind: PersonClass
    ) -> None:
        intervals = await self._intervals(session, lesson, person.person_id)
        if any(i.left_at is None for i in intervals):
            return  # already present: a join we have seen, delivered without its activity id
        if any(i.joined_at == at for i in intervals):
            return
        if person.aad_object_id and person.aad_object_id == lesson.organizer_aad_id and not lesson.organizer_name:
            lesson.organizer_name = person.name  # meeting details give the organizer's id, not name
        closed_lesson = lesson.status == LessonStatus.closed.value
        session.add(
            _interval(
                lesson,
                person,
                kind,
                joined_at=at,
                left_at=lesson.actual_end if closed_lesson else None,
                note="join arrived after the meeting ended" if closed_lesson else None,
            )
        )

    async def _leave(
        self, session: AsyncSession, lesson: LessonRow, person: Participant, at: datetime, kind: PersonClass
    ) -> None:
        intervals = await self._intervals(session, lesson, person.person_id)
        open_rows = [i for i in intervals if i.left_at is None]
        if open_rows:
            row = open_rows[-1]
            row.left_at = max(at, row.joined_at) if row.joined_at else at
            row.meeting_role = person.role or row.meeting_role
            return
        if any(i.left_at == at for i in intervals):
            return  # this leave is already recorded
        closed_by_end = [
            i for i in intervals if lesson.actual_end is not None and i.left_at == lesson.actual_end
        ]
        if closed_by_end and at <= lesson.actual_end:
            # The meeting's end closed the interval; the real leave was earlier.
            closed_by_end[-1].left_at = max(at, closed_by_end[-1].joined_at or at)
            return
        session.add(_interval(lesson, person, kind, joined_at=None, left_at=at, note="leave without a join: join time unknown"))

    # ---- reads --------------------------------------------------------------------

    async def get(self, lesson_id: int, *, with_attendance: bool = True) -> Lesson:
        async with self._sessions() as session:
            stmt = select(LessonRow).where(LessonRow.id == lesson_id)
            if with_attendance:
                return Lesson.model_validate((await session.execute(stmt.options(selectinload(LessonRow.attendance)))).scalar_one())
            return _without_register((await session.execute(stmt)).scalar_one())

    async def find(self, lesson_id: int) -> Lesson | None:
        """The lesson without its attendance, or None when there is no such lesson."""
        async with self._sessions() as session:
            row = await session.get(LessonRow, lesson_id)
            return _without_register(row) if row else None

    async def list_lessons(self, meeting_id: str | None = None) -> list[Lesson]:
        async with self._sessions() as session:
            stmt = select(LessonRow).options(selectinload(LessonRow.attendance)).order_by(LessonRow.id)
            if meeting_id is not None:
                stmt = stmt.where(LessonRow.meeting_id == meeting_id)
            return [Lesson.model_validate(r) for r in (await session.execute(stmt)).scalars()]


def _interval(
    lesson: LessonRow,
    person: Participant,
    kind: PersonClass,
    *,
    joined_at: datetime | None,
    left_at: datetime | None,
    note: str | None,
) -> AttendanceRow:
    return AttendanceRow(
        lesson_id=lesson.id,
        person_id=person.person_id,
        aad_object_id=person.aad_object_id,
        teams_user_id=person.teams_user_id,
        display_name=person.name,
        tenant_id=person.tenant_id,
        meeting_role=person.role,
        classification=kind.value,
        joined_at=joined_at,
        left_at=left_at,
        source=AttendanceSource.live.value,
        note=note,
    )


def _without_register(row: LessonRow) -> Lesson:
    """The lesson without its attendance: what the event path needs, at no extra query."""
    return Lesson.model_validate({c.key: getattr(row, c.key) for c in LessonRow.__table__.columns} | {"attendance": []})


def _append(note: str | None, text: str) -> str:
    return f"{note}; {text}" if note else text
