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
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable, Mapping
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import String, bindparam, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from domain.events import (
    EventOutcome,
    MeetingDetails,
    MeetingEnded,
    MeetingEvent,
    MeetingRef,
    MeetingStarted,
    Participant,
    ParticipantsChanged,
)
from domain.attendance import ParticipantEvent, intervals_from_events
from domain.lesson import AttendanceSource, DirectoryEntry, Lesson, LessonStatus, PersonClass
from domain.lookups import Lookup
from domain.meeting import AttendanceReport, CalendarEvent, MeetingSettings, OrganizerDevice, Recording, ReportedInterval
from domain.placement import SOLE_SCHOOL_ID, Placement, SchoolPlacement

from .db import in_transaction, read_sessions
from .jobs import Job, JobSpec, Lease, add_held_job_unless_waiting, add_jobs
from .outbox import alert_refreshes
from .tables import AttendanceRow, ConcernRow, LessonRow, MessageRow, ParticipantEventRow, ProcessedActivityRow, SettingsObservationRow, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
# Events stamped this soon after a lesson's end still belong to it.
LATE_WINDOW = timedelta(minutes=5)
# A leave with nothing open this soon after the end is that lesson's too, not a new one.
LEAVE_WINDOW = timedelta(hours=1)
# What a lesson is read with when its register is wanted.
_ATTENDANCE = selectinload(LessonRow.attendance)
_REGISTER = (_ATTENDANCE, selectinload(LessonRow.settings_history))


class LessonStore:
    def __init__(self, engine: AsyncEngine, *, retries: int = 4, sole_school: str | None = SOLE_SCHOOL_ID) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)
        self._retries = retries
        # A single school's lessons are its own from the start; a trust's wait for placement.
        self._sole_school = sole_school

    # ---- transactions -------------------------------------------------------------

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await in_transaction(self._sessions, work, self._retries)

    async def _replayed(self, session: AsyncSession, activity_key: str | None, meeting_id: str) -> LessonRow | None:
        """The lesson, when this activity was applied before (a redelivery); else None."""
        if not activity_key or await session.get(ProcessedActivityRow, activity_key) is None:
            return None
        return await self._latest_lesson(session, meeting_id)

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
    async def _open_or_latest(session: AsyncSession, meeting_id: str) -> tuple[LessonRow | None, LessonRow | None]:
        """The meeting's open lesson, or else its latest, in one query (a new meeting's start
        asked twice): (open, None), (None, latest) or (None, None); locked for the transaction."""
        open_first = (LessonRow.status == LessonStatus.open.value).desc()
        stmt = select(LessonRow).where(LessonRow.meeting_id == meeting_id).order_by(open_first, LessonRow.id.desc()).limit(1).with_for_update()
        row = (await session.execute(stmt)).scalar_one_or_none()
        return (row, None) if row is not None and row.status == LessonStatus.open.value else (None, row)

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

    def _new_lesson(self, ref: MeetingRef, start: datetime | None, *, start_missing: bool) -> LessonRow:
        now = utcnow()
        sole = self._sole_school
        return LessonRow(
            school_id=sole,
            placement=(Placement.only_school if sole else Placement.pending).value,
            placement_reason="the deployment serves one school" if sole else None,
            class_team_id=ref.team_group_id,
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
        self, event: MeetingStarted, activity_key: str | None, jobs: Sequence[JobSpec] = (), end_jobs: Sequence[JobSpec] = ()
    ) -> tuple[Lesson, EventOutcome]:
        """Record one start outside the event log (tools and tests); see `apply`."""
        return await self._record_one(event, activity_key, EventJobs(start=tuple(jobs), end=tuple(end_jobs)))

    async def record_end(
        self, event: MeetingEnded, activity_key: str | None, jobs: Sequence[JobSpec] = ()
    ) -> tuple[Lesson, EventOutcome]:
        return await self._record_one(event, activity_key, EventJobs(end=tuple(jobs)))

    async def record_participants(
        self,
        event: ParticipantsChanged,
        activity_key: str | None,
        school_tenant: str | None,
        jobs: Sequence[JobSpec] = (),
        new_lesson_jobs: Sequence[JobSpec] = (),
    ) -> tuple[Lesson, EventOutcome]:
        return await self._record_one(event, activity_key, EventJobs(roster=tuple(jobs), start=tuple(new_lesson_jobs)), school_tenant)

    async def _record_one(
        self, event: MeetingEvent, activity_key: str | None, jobs: EventJobs, school_tenant: str | None = None
    ) -> tuple[Lesson, EventOutcome]:
        kind = {MeetingStarted: "meetingStart", MeetingEnded: "meetingEnd"}.get(type(event))
        kind = kind or ("meetingParticipantJoin" if event.joined else "meetingParticipantLeave")

        async def work(session: AsyncSession) -> tuple[LessonRow, EventOutcome]:
            if replayed := await self._replayed(session, activity_key, event.meeting.meeting_id):
                return replayed, EventOutcome.duplicate
            batch = _Batch(jobs, school_tenant)
            lesson, outcome = await self._apply_event(session, event, batch)
            await self._finish_batch(session, batch)
            self._mark(session, activity_key, kind, event.meeting.meeting_id, lesson.id, outcome)
            return lesson, outcome

        row, outcome = await self._transaction(work)
        return _without_register(row), outcome

    async def apply(
        self, events: Sequence[MeetingEvent], jobs: EventJobs, school_tenant: str | None,
        then: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> Applied:
        """Apply one meeting's events, in the order given (event time), in ONE transaction:
        each person's intervals are rebuilt once, and each follow-up job is queued once per
        lesson, however many events asked for it. `then` runs in the same transaction (the
        event log marks the events derived)."""

        async def work(session: AsyncSession) -> tuple[list[tuple[LessonRow, EventOutcome]], list[Job]]:
            batch = _Batch(jobs, school_tenant)
            applied = [await self._apply_event(session, event, batch) for event in events]
            held = await self._finish_batch(session, batch)
            if then is not None:
                await then(session)
            return applied, held

        applied, held = await self._transaction(work)
        return Applied(lessons=[(_without_register(row), outcome) for row, outcome in applied], held=held)

    async def _apply_event(self, session: AsyncSession, event: MeetingEvent, batch: "_Batch") -> tuple[LessonRow, EventOutcome]:
        if isinstance(event, ParticipantsChanged):
            return await self._participants(session, event, batch)
        # A start or an end may close a lesson: its intervals must be current first, and the
        # meeting's open lesson is looked up again after it.
        await self._rebuild_pending(session, batch)
        batch.open_lessons.pop(event.meeting.meeting_id, None)
        if isinstance(event, MeetingStarted):
            return await self._start(session, event, batch)
        return await self._end(session, event, batch)

    async def _finish_batch(self, session: AsyncSession, batch: "_Batch") -> list[Job]:
        """The batch's follow-up queued; the starts' jobs leased to the deriving worker, when
        `jobs.start_lease` names it (returned, for it to run once this commits)."""
        await self._rebuild_pending(session, batch)
        await session.flush()
        for lesson_id in batch.named:
            # An alert sent before the organizer's join named them showed only their id.
            batch.queued += await alert_refreshes(session, lesson_id)
        queued = batch.unique_jobs()
        lease = batch.jobs.start_lease
        at_once = [(spec, lesson_id) for spec, lesson_id in queued if lease is not None and spec in batch.jobs.start]
        await add_jobs(session, [job for job in queued if job not in at_once])
        held = [await add_held_job_unless_waiting(session, spec, lesson_id, lease) for spec, lesson_id in at_once]
        return [job for job in held if job is not None]

    async def _rebuild_pending(self, session: AsyncSession, batch: "_Batch") -> None:
        if batch.new_events:
            await session.execute(insert(ParticipantEventRow.__table__), batch.new_events)
            batch.new_events = []
        for lesson, classes in batch.rebuild.values():
            await self._rebuild(session, lesson, classes)
        batch.rebuild.clear()

    async def _start(self, session: AsyncSession, event: MeetingStarted, batch: "_Batch") -> tuple[LessonRow, EventOutcome]:
        """A start; a previous occurrence still open is closed (at its last event) and given
        the end's jobs, so its end is judged and its record sent."""
        ref = event.meeting
        lesson, latest = await self._open_or_latest(session, ref.meeting_id)
        outcome = EventOutcome.applied
        if lesson is not None and lesson.start_event_missing:
            # Participant events got here first: this start belongs to that lesson.
            lesson.actual_start = min(event.at, lesson.actual_start or event.at)
            lesson.start_event_missing = False
        elif lesson is not None and lesson.actual_start == event.at:
            outcome = EventOutcome.duplicate
        elif latest is not None and latest.actual_end is not None and event.at <= latest.actual_end:
            # Delivered after the lesson it started had already ended. A lesson opened by a
            # join stamped at the very instant of the start is still missing its start: this is it.
            lesson = latest
            if latest.start_event_missing:
                outcome = EventOutcome.late
                latest.actual_start = min(event.at, latest.actual_start or event.at)
                latest.start_event_missing = False
            elif latest.actual_start == event.at:
                outcome = EventOutcome.duplicate
            else:
                outcome = EventOutcome.late
        else:
            if lesson is not None:
                # The previous occurrence never told us it ended: it ended by its last event.
                self._close(lesson, await self._last_event_at(session, lesson), end_missing=True)
                await self._rebuild(session, lesson)
                batch.follow_up(lesson, EventOutcome.applied, batch.jobs.end)
                await session.flush()
            lesson = self._new_lesson(ref, event.at, start_missing=False)
            session.add(lesson)
        lesson.title = event.title or lesson.title
        lesson.join_url = event.join_url or lesson.join_url
        lesson.meeting_type = event.meeting_type or lesson.meeting_type
        lesson.updated_at = utcnow()
        await session.flush()
        batch.follow_up(lesson, outcome, batch.jobs.start)
        return lesson, outcome

    async def _end(self, session: AsyncSession, event: MeetingEnded, batch: "_Batch") -> tuple[LessonRow, EventOutcome]:
        ref = event.meeting
        lesson, latest = await self._open_or_latest(session, ref.meeting_id)
        outcome = EventOutcome.applied
        if lesson is None:
            if latest is not None and latest.actual_end == event.at:
                lesson, outcome = latest, EventOutcome.duplicate
            elif latest is not None and latest.end_event_missing and latest.actual_start and event.at >= latest.actual_start:
                # Chaperone closed it (everyone had left, or it ran too long); Teams' own end wins.
                lesson = latest
                self._close(lesson, event.at, end_missing=False)
                await self._rebuild(session, lesson)
            else:
                # An end with no start: keep what we know, the start stays unknown.
                lesson = self._new_lesson(ref, None, start_missing=True)
                session.add(lesson)
                await session.flush()
                self._close(lesson, event.at, end_missing=False)
        else:
            self._close(lesson, event.at, end_missing=False)
            await self._rebuild(session, lesson)
        await session.flush()
        batch.follow_up(lesson, outcome, batch.jobs.end)
        return lesson, outcome

    @staticmethod
    async def _last_event_at(session: AsyncSession, lesson: LessonRow) -> datetime | None:
        stmt = select(func.max(ParticipantEventRow.at)).where(ParticipantEventRow.lesson_id == lesson.id)
        return (await session.execute(stmt)).scalar_one_or_none() or lesson.actual_start

    async def close_inferred(self, lesson_id: int, at: datetime, jobs: Sequence[JobSpec] = ()) -> Lesson | None:
        """Close a lesson Teams never said had ended, at `at`, marked inferred; None when it
        was no longer open."""

        async def work(session: AsyncSession) -> LessonRow | None:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            if lesson is None or lesson.status != LessonStatus.open.value:
                return None
            self._close(lesson, max(at, lesson.actual_start or at), end_missing=True)
            await self._rebuild(session, lesson)
            await add_jobs(session, [(spec, lesson.id) for spec in jobs])
            return lesson

        row = await self._transaction(work)
        return _without_register(row) if row else None

    async def last_event_at(self, lesson_id: int) -> datetime | None:
        async with self._reads() as session:
            return await self._last_event_at(session, await session.get(LessonRow, lesson_id))

    @staticmethod
    def _close(lesson: LessonRow, at: datetime | None, *, end_missing: bool) -> None:
        lesson.status = LessonStatus.closed.value
        lesson.actual_end = at
        lesson.end_event_missing = end_missing
        lesson.updated_at = utcnow()

    async def set_details(self, lesson_id: int, details: MeetingDetails | None, lookup: Lookup) -> Lesson:
        """Store what Bot Framework says about the meeting, or why it could not be asked."""

        async def work(session: AsyncSession) -> LessonRow:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            await _apply_details(session, lesson, details, lookup)
            lesson.updated_at = utcnow()
            return lesson

        return _without_register(await self._transaction(work))

    # ---- what Graph says ------------------------------------------------------------

    async def _update(self, lesson_id: int, **values: object) -> Lesson:
        async def work(session: AsyncSession) -> LessonRow:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            for name, value in values.items():
                setattr(lesson, name, value)
            lesson.updated_at = utcnow()
            return lesson

        return _without_register(await self._transaction(work))

    async def set_meeting_settings(
        self, lesson_id: int, settings: MeetingSettings | None, lookup: Lookup, *, observed_at: datetime | None = None, source: str = "start"
    ) -> Lesson:
        """Store the meeting's settings (or why they could not be read). With `observed_at`
        (the lesson-clock time of the read), a change from the last observation is kept in the
        lesson's settings history, so a setting changed mid-lesson is judged for its time."""

        async def work(session: AsyncSession) -> LessonRow:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            await _observe_settings(session, lesson, SettingsRead(settings=settings, lookup=lookup, observed_at=observed_at, source=source))
            lesson.updated_at = utcnow()
            return lesson

        return _without_register(await self._transaction(work))

    async def set_graph_view(self, lesson_id: int, view: "GraphView") -> Lesson:
        """What Graph said about a lesson at its start (settings, calendar event, the organizer's
        sign-in name and device), and the meeting details it was asked with, in one
        transaction: at a 09:00 peak each transaction is CPU. Returns the lesson as stored,
        with its register (read in that transaction), ready to be judged without reading it again."""

        async def work(session: AsyncSession) -> LessonRow:
            stmt = select(LessonRow).where(LessonRow.id == lesson_id).with_for_update().options(*_REGISTER)
            lesson = (await session.execute(stmt)).scalar_one()
            # Nothing below reads what it changes: one UPDATE at commit, not three.
            with session.no_autoflush:
                return await record(session, lesson)

        async def record(session: AsyncSession, lesson: LessonRow) -> LessonRow:
            if view.details is not None:
                await _apply_details(session, lesson, view.details.details, view.details.lookup, attendance=lesson.attendance)
            await _observe_settings(session, lesson, view.settings, history=lesson.settings_history)
            lesson.calendar_event = view.calendar_event.model_dump(mode="json") if view.calendar_event else None
            lesson.calendar_lookup = view.calendar_lookup.model_dump(mode="json")
            if view.organizer_upn is not None:
                lesson.organizer_upn = view.organizer_upn
            if view.device_lookup is not None:
                lesson.organizer_device = view.device.model_dump(mode="json") if view.device else None
                lesson.organizer_device_lookup = view.device_lookup.model_dump(mode="json")
            if view.placement is not None:
                await _place(session, lesson, view.placement)
            lesson.updated_at = utcnow()
            return lesson

        return _with_register(await self._transaction(work))

    async def set_report_lookup(self, lesson_id: int, lookup: Lookup) -> Lesson:
        return await self._update(lesson_id, report_lookup=lookup.model_dump(mode="json"))

    async def set_recordings(self, lesson_id: int, recordings: list[Recording] | None, lookup: Lookup) -> Lesson:
        return await self._update(
            lesson_id,
            recordings=[r.model_dump(mode="json") for r in recordings] if recordings is not None else None,
            recordings_lookup=lookup.model_dump(mode="json"),
        )

    async def set_roster_lookup(self, lesson_id: int, lookup: Lookup) -> Lesson:
        return await self._update(lesson_id, roster_lookup=lookup.model_dump(mode="json"))

    async def set_placement(self, lesson_id: int, placed: SchoolPlacement) -> Lesson:
        """The lesson's school, and with it the school of what was recorded for it before it was
        placed (its reminder, a concern a pupil raised in its first minutes)."""

        async def work(session: AsyncSession) -> LessonRow:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            await _place(session, lesson, placed)
            lesson.updated_at = utcnow()
            return lesson

        return _without_register(await self._transaction(work))

    async def set_classifications(self, lesson_id: int, entries: Mapping[str, DirectoryEntry], roster: Lookup | None = None) -> None:
        """Record the directory's answer for people in a lesson (external stays external), and
        with it whether everyone could be asked (`roster`), in one transaction."""
        if not entries and roster is None:
            return

        att = AttendanceRow.__table__.c
        # One plain UPDATE for everyone (a class's thirty people at once at 09:00).
        classify = (
            update(AttendanceRow.__table__)
            .where(att.lesson_id == lesson_id, att.person_id == bindparam("b_person", type_=String))
            .values(upn=func.coalesce(bindparam("b_upn", type_=String), att.upn),
                    classification=case((att.classification == PersonClass.external.value, att.classification),
                                        else_=bindparam("b_class", type_=String)))
        )

        async def work(session: AsyncSession) -> None:
            if entries:
                await session.execute(classify, [{"b_person": person, "b_upn": entry.upn or None, "b_class": entry.classification.value}
                                                 for person, entry in entries.items()])
            if roster is not None:
                # A plain UPDATE (it locks the row as reading it for update would): the
                # lesson's other columns are not needed here, and every roster check does this.
                await session.execute(update(LessonRow).where(LessonRow.id == lesson_id)
                                      .values(roster_lookup=roster.model_dump(mode="json"), updated_at=utcnow()))

        await self._transaction(work)

    async def merge_report(self, lesson_id: int, report: AttendanceReport) -> tuple[int, int]:
        """Make Graph's attendance report the register: returns (people added, people corrected).

        After the lesson the report is the authority: each person in it gets the report's
        intervals and role in place of the live ones (the live events stay in
        participant_events, the record of what Teams sent). People the live events saw and the
        report did not are kept. A lesson whose end Chaperone inferred takes the report's end.
        """

        async def work(session: AsyncSession) -> tuple[int, int]:
            lesson = await session.get(LessonRow, lesson_id, with_for_update=True)
            stmt = select(AttendanceRow).where(AttendanceRow.lesson_id == lesson_id)
            register: dict[str, list[AttendanceRow]] = {}
            for row in (await session.execute(stmt)).scalars():
                register.setdefault(row.person_id, []).append(row)
            added = corrected = 0
            # Anonymous joiners have no Entra id: live, they are known by their Teams id; the
            # report knows them only by the name they typed.
            anonymous = {rows_[0].display_name.lower(): pid for pid, rows_ in register.items()
                         if not rows_[0].aad_object_id and rows_[0].display_name}
            for attendee in report.attendees:
                person_id = attendee.aad_object_id or anonymous.get((attendee.display_name or "").lower()) \
                    or attendee.email or attendee.display_name or "anonymous"
                before = register.get(person_id, [])
                intervals = attendee.intervals or (ReportedInterval(joined_at=None, left_at=None),)
                if before and _same(before, intervals, attendee.role):
                    continue
                if before:
                    corrected += 1
                    note = "corrected from Graph's attendance report"
                else:
                    added += 1
                    note = "in Graph's attendance report; no live join event arrived"
                known = before[0] if before else None
                if known is not None:
                    classification = known.classification
                elif attendee.aad_object_id:
                    classification = PersonClass.unknown.value
                else:
                    classification = PersonClass.external.value
                for row in before:
                    await session.delete(row)
                for interval in intervals:
                    session.add(
                        AttendanceRow(
                            lesson_id=lesson_id,
                            person_id=person_id,
                            aad_object_id=attendee.aad_object_id,
                            teams_user_id=known.teams_user_id if known else None,
                            display_name=attendee.display_name or (known.display_name if known else None),
                            upn=known.upn if known else None,
                            tenant_id=attendee.tenant_id or (known.tenant_id if known else None),
                            meeting_role=attendee.role or (known.meeting_role if known else None),
                            classification=classification,
                            joined_at=interval.joined_at,
                            left_at=interval.left_at,
                            source=AttendanceSource.graph_report.value,
                            note=note,
                        )
                    )
            if lesson.end_event_missing and report.meeting_end is not None:
                lesson.actual_end = report.meeting_end
            if lesson.start_event_missing and report.meeting_start is not None:
                lesson.actual_start = report.meeting_start
            summary = f"reconciled with Graph's report: {added} added, {corrected} corrected from it"
            lesson.report_lookup = Lookup.ok(summary).model_dump(mode="json")
            lesson.updated_at = utcnow()
            return added, corrected

        return await self._transaction(work)

    # ---- participants -------------------------------------------------------------

    async def _participants(self, session: AsyncSession, event: ParticipantsChanged, batch: "_Batch") -> tuple[LessonRow, EventOutcome]:
        """A join or leave; those people's intervals are rebuilt from all their events when the
        batch ends (or before a start or end in it). Each person is classified from the event
        alone (external is certain from it; staff and pupils are told apart later, from the
        directory)."""
        lesson = batch.open_lessons.get(event.meeting.meeting_id)
        outcome, new = EventOutcome.applied, False
        if lesson is None:
            lesson, outcome, new = await self._lesson_for(session, event.meeting, event.at, joined=event.joined)
            if outcome is EventOutcome.applied:
                # Open (it was, or it is new): the batch's next events for this meeting go to it.
                batch.open_lessons[event.meeting.meeting_id] = lesson
        classes = batch.rebuild.setdefault(lesson.id, (lesson, {}))[1]
        recorded = await self._recorded_events(session, lesson, batch)
        for person in event.participants:
            if self._record_event(lesson, person, event, recorded, batch):
                classes[person.person_id] = person.class_from_event(batch.school_tenant)
            if (person.role or "").lower() == "organizer" and person.aad_object_id and not lesson.organizer_aad_id:
                # Teams' meeting details were not available: the organizer's own join names them.
                lesson.organizer_aad_id = person.aad_object_id
                lesson.organizer_teams_id = person.teams_user_id
            if person.aad_object_id and person.aad_object_id == lesson.organizer_aad_id and not lesson.organizer_name:
                lesson.organizer_name = person.name  # meeting details give the organizer's id, not name
                if person.name:
                    batch.named.add(lesson.id)
        lesson.updated_at = utcnow()
        # A lesson first seen through a join is started; one seen only through a leave is not
        # (nothing is live in it to remind or check at its start).
        batch.follow_up(lesson, outcome, [*(batch.jobs.start if new and event.joined else ()), *batch.jobs.roster])
        return lesson, outcome

    @staticmethod
    async def _recorded_events(session: AsyncSession, lesson: LessonRow, batch: "_Batch") -> set[tuple[str, datetime, bool]]:
        """The lesson's events already in the live record (who, when, join or leave), read once
        per batch."""
        known = batch.recorded.get(lesson.id)
        if known is None:
            stmt = select(ParticipantEventRow.person_id, ParticipantEventRow.at, ParticipantEventRow.joined).where(
                ParticipantEventRow.lesson_id == lesson.id
            )
            known = batch.recorded[lesson.id] = {(p, at, joined) for p, at, joined in await session.execute(stmt)}
        return known

    @staticmethod
    def _record_event(lesson: LessonRow, person: Participant, event: ParticipantsChanged, recorded: set, batch: "_Batch") -> bool:
        """Keep the event in the live record (written with the batch's others before anything
        reads them); False when it is already there (a redelivery that came without its
        activity id)."""
        key = (person.person_id, event.at, event.joined)
        if key in recorded:
            return False
        recorded.add(key)
        batch.new_events.append(
            dict(
                lesson_id=lesson.id,
                person_id=person.person_id,
                aad_object_id=person.aad_object_id,
                teams_user_id=person.teams_user_id,
                display_name=person.name,
                tenant_id=person.tenant_id,
                role=person.role,
                joined=event.joined,
                in_meeting=person.in_meeting,
                at=event.at,
            )
        )
        return True

    async def _rebuild(self, session: AsyncSession, lesson: LessonRow, classes: Mapping[str, PersonClass] | None = None) -> None:
        """Rebuild the live intervals of the people in `classes` (everyone when None) from their
        events. People whose intervals came from Graph's attendance report keep them: after the
        lesson the report is the authority. Plain statements, not ORM objects: at a 09:00 peak
        this runs for every batch of joins."""
        ev, att = ParticipantEventRow.__table__.c, AttendanceRow.__table__.c
        stmt = select(ev.id, ev.person_id, ev.at, ev.joined, ev.role, ev.in_meeting, ev.aad_object_id, ev.teams_user_id,
                      ev.display_name, ev.tenant_id).where(ev.lesson_id == lesson.id)
        if classes is not None:
            stmt = stmt.where(ev.person_id.in_(list(classes)))
        events: dict[str, list] = {}
        for row in (await session.execute(stmt.order_by(ev.id))).mappings():
            events.setdefault(row["person_id"], []).append(row)
        if not events:
            return
        rows = select(att.id, att.person_id, att.classification, att.upn, att.source).where(
            att.lesson_id == lesson.id, att.person_id.in_(list(events)))
        existing: dict[str, list] = {}
        for row in (await session.execute(rows)).mappings():
            existing.setdefault(row["person_id"], []).append(row)
        end = lesson.actual_end if lesson.status == LessonStatus.closed.value else None
        stale: list[int] = []
        fresh: list[dict] = []
        for person_id, person_events in events.items():
            before = existing.get(person_id, [])
            if any(r["source"] == AttendanceSource.graph_report.value for r in before):
                continue
            known = before[0] if before else None
            latest = person_events[-1]
            kind = (classes or {}).get(person_id, PersonClass.unknown)
            classification = known["classification"] if known and known["classification"] != PersonClass.unknown.value else kind.value
            if kind is PersonClass.external:
                classification = kind.value
            stale += [r["id"] for r in before]
            intervals = intervals_from_events([ParticipantEvent.model_validate(dict(e)) for e in person_events], end=end)
            if end is not None:
                # A leave stamped just after the end: nobody was in a lesson after it ended.
                intervals = [i.model_copy(update={"left_at": min(i.left_at, end) if i.left_at else i.left_at})
                             for i in intervals if i.joined_at is None or i.joined_at <= end]
            fresh += [
                dict(
                    lesson_id=lesson.id,
                    person_id=person_id,
                    aad_object_id=latest["aad_object_id"],
                    teams_user_id=latest["teams_user_id"],
                    display_name=latest["display_name"],
                    upn=known["upn"] if known else None,
                    tenant_id=latest["tenant_id"],
                    meeting_role=interval.role,
                    classification=classification,
                    joined_at=interval.joined_at,
                    left_at=interval.left_at,
                    source=AttendanceSource.live.value,
                    note=interval.note,
                )
                for interval in intervals
            ]
        if stale:
            await session.execute(delete(AttendanceRow.__table__).where(att.id.in_(stale)))
        if fresh:
            await session.execute(insert(AttendanceRow.__table__), fresh)

    async def _lesson_for(
        self, session: AsyncSession, ref: MeetingRef, at: datetime, *, joined: bool
    ) -> tuple[LessonRow, EventOutcome, bool]:
        """The lesson an event at `at` belongs to, its outcome, and whether it is new.

        Teams stamps the leaves of "End meeting for all" a moment after the end itself, and a
        leave is never the start of anything: both belong to the lesson that just ended."""
        lesson, latest = await self._open_or_latest(session, ref.meeting_id)
        if lesson is not None:
            return lesson, EventOutcome.applied, False
        if latest is not None and latest.actual_end is not None:
            after_end = at - latest.actual_end
            if after_end <= LATE_WINDOW or (not joined and after_end <= LEAVE_WINDOW):
                return latest, EventOutcome.late, False
        # No lesson open: the start event is late, lost, or was never subscribed.
        lesson = self._new_lesson(ref, at, start_missing=True)
        session.add(lesson)
        await session.flush()
        return lesson, EventOutcome.applied, True

    # ---- reads --------------------------------------------------------------------

    @staticmethod
    async def organizer_name_now(session: AsyncSession, lesson_id: int) -> str | None:
        """The organizer's name as stored now, the lesson share-locked until `session`'s
        transaction ends: a join naming them meanwhile commits first (and is seen here) or
        waits for this transaction (and sees what it queued)."""
        stmt = select(LessonRow.organizer_name).where(LessonRow.id == lesson_id).with_for_update(read=True)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def get(self, lesson_id: int, *, with_attendance: bool = True, with_settings: bool = True) -> Lesson:
        """The lesson, with its register (attendance and the meeting options as observed) unless
        told not to; `with_settings=False`: the attendance alone (a card shows who was present,
        never the options' history), one query fewer."""
        async with self._reads() as session:
            stmt = select(LessonRow).where(LessonRow.id == lesson_id)
            if with_attendance:
                row = (await session.execute(stmt.options(*(_REGISTER if with_settings else (_ATTENDANCE,))))).scalar_one()
                return Lesson.model_validate(row if with_settings else _columns(row) | {"attendance": row.attendance})
            return _without_register((await session.execute(stmt)).scalar_one())

    async def find(self, lesson_id: int) -> Lesson | None:
        """The lesson without its attendance, or None when there is no such lesson."""
        async with self._reads() as session:
            row = await session.get(LessonRow, lesson_id)
            return _without_register(row) if row else None

    async def list_lessons(self, meeting_id: str | None = None) -> list[Lesson]:
        async with self._reads() as session:
            stmt = select(LessonRow).options(*_REGISTER).order_by(LessonRow.id)
            if meeting_id is not None:
                stmt = stmt.where(LessonRow.meeting_id == meeting_id)
            return [Lesson.model_validate(r) for r in (await session.execute(stmt)).scalars()]


def _columns(row: LessonRow) -> dict:
    """The lesson row's own columns (no relationship is loaded by reading them)."""
    return {c.key: getattr(row, c.key) for c in LessonRow.__table__.columns}


def _without_register(row: LessonRow) -> Lesson:
    """The lesson without its attendance: what the event path needs, at no extra query."""
    return Lesson.model_validate(_columns(row) | {"attendance": []})


def _with_register(row: LessonRow) -> Lesson:
    """The lesson with the register loaded with it (a settings read just added goes in its place)."""
    history = sorted(row.settings_history, key=lambda o: (o.observed_at, o.id))
    return Lesson.model_validate(_columns(row) | {"attendance": row.attendance, "settings_history": history})


def _same(rows: list[AttendanceRow], intervals: Sequence[ReportedInterval], role: str | None) -> bool:
    """The register already says what the report says (to the second, role included)."""
    ours = sorted((r.joined_at, r.left_at) for r in rows if r.joined_at and r.left_at)
    theirs = sorted((i.joined_at, i.left_at) for i in intervals if i.joined_at and i.left_at)
    same_times = len(ours) == len(theirs) == len(rows) and all(
        abs((a[0] - b[0]).total_seconds()) < 60 and abs((a[1] - b[1]).total_seconds()) < 60 for a, b in zip(ours, theirs)
    )
    roles = {(r.meeting_role or "").lower() for r in rows}
    return same_times and (role is None or roles == {role.lower()})


@dataclass(frozen=True)
class EventJobs:
    """The follow-up each kind of event asks for, queued once per lesson per batch."""

    start: tuple[JobSpec, ...] = ()  # a lesson starts (or is first seen through a join)
    end: tuple[JobSpec, ...] = ()  # a lesson ends, however it ended
    roster: tuple[JobSpec, ...] = ()  # someone joined or left
    # The worker deriving the events: a start's jobs are leased to it, to run the moment the
    # derivation commits (at 09:00 a start's alert waits for no claim); None: queued for any.
    start_lease: Lease | None = None


class Applied(BaseModel):
    """A batch of events applied: each event's lesson and outcome, and the start jobs leased
    to the deriving worker (EventJobs.start_lease), to run now."""

    lessons: list[tuple[Lesson, EventOutcome]]
    held: list[Job] = []


@dataclass
class _Batch:
    jobs: EventJobs
    school_tenant: str | None
    queued: list[tuple[JobSpec, int]] = field(default_factory=list)
    # lesson id -> (the lesson, person id -> class from the event) still to rebuild
    rebuild: dict[int, tuple[LessonRow, dict[str, PersonClass]]] = field(default_factory=dict)
    # meeting id -> its open lesson (locked for this transaction), until a start or end
    open_lessons: dict[str, LessonRow] = field(default_factory=dict)
    # lesson id -> its events already recorded (who, when, join or leave)
    recorded: dict[int, set] = field(default_factory=dict)
    # participant events to write (column values), in arrival order
    new_events: list[dict] = field(default_factory=list)
    # lessons whose organizer this batch named (by their join)
    named: set[int] = field(default_factory=set)

    def unique_jobs(self) -> list[tuple[JobSpec, int]]:
        """Each deduplicated job once per lesson (the database would fold them anyway; this
        saves the statements)."""
        seen, unique = set(), []
        for spec, lesson_id in self.queued:
            key = (spec.kind, spec.key, lesson_id)
            if spec.dedupe and key in seen:
                continue
            seen.add(key)
            unique.append((spec, lesson_id))
        return unique

    def follow_up(self, lesson: LessonRow, outcome: EventOutcome, specs: Sequence[JobSpec]) -> None:
        # Queued in the same transaction as the event: recorded means followed up.
        if outcome in (EventOutcome.applied, EventOutcome.late):
            self.queued.extend((spec, lesson.id) for spec in specs)


class SettingsRead(BaseModel):
    """The meeting's settings as read (None: could not be), and when on the lesson's clock."""

    settings: MeetingSettings | None
    lookup: Lookup
    observed_at: datetime | None = None
    source: str = "start"


class DetailsRead(BaseModel):
    """Bot Framework's meeting details as just asked for (None: they could not be, `lookup` says why)."""

    details: MeetingDetails | None
    lookup: Lookup

    def applied_to(self, lesson: Lesson) -> Lesson:
        """The lesson as `set_details` (or `set_graph_view`) will record it, but for the
        organizer's name, which their join may give."""
        named = self.details.model_dump(exclude_none=True) if self.details else {}
        return lesson.model_copy(update=named | {"details_lookup": self.lookup})


class GraphView(BaseModel):
    """Graph's answers at a lesson's start. `organizer_upn` None: not learnt (left as it was,
    also when the directory names no sign-in name: a retried start keeps what it learnt);
    `device_lookup` None: the device was not asked about."""

    settings: SettingsRead
    calendar_event: CalendarEvent | None
    calendar_lookup: Lookup
    organizer_upn: str | None = None
    device: OrganizerDevice | None = None
    device_lookup: Lookup | None = None
    placement: SchoolPlacement | None = None  # None: the lesson's school stays as it is
    # Bot Framework's meeting details that named the organizer Graph was asked about, when they
    # were read in this start (None: stored before, or not asked).
    details: DetailsRead | None = None


async def _apply_details(session: AsyncSession, lesson: LessonRow, details: MeetingDetails | None, lookup: Lookup,
                         attendance: list[AttendanceRow] | None = None) -> None:
    """What Bot Framework says about the meeting (each thing it names), or why it could not be
    asked. `attendance`: the register, when the caller has read it."""
    if details is not None:
        for field, value in details.model_dump(exclude_none=True).items():
            setattr(lesson, field, value)
        if lesson.organizer_aad_id and not lesson.organizer_name:
            # Meeting details name the organizer's id only; their join event has the name.
            if attendance is not None:
                lesson.organizer_name = next((a.display_name for a in attendance if a.aad_object_id == lesson.organizer_aad_id), None)
            else:
                stmt = select(AttendanceRow.display_name).where(
                    AttendanceRow.lesson_id == lesson.id, AttendanceRow.aad_object_id == lesson.organizer_aad_id
                )
                lesson.organizer_name = (await session.execute(stmt.limit(1))).scalar_one_or_none()
            if lesson.organizer_name:
                # Named from the register after the lesson's alerts may have gone out without it.
                await add_jobs(session, await alert_refreshes(session, lesson.id))
    lesson.details_lookup = lookup.model_dump(mode="json")


async def _place(session: AsyncSession, lesson: LessonRow, placed: SchoolPlacement) -> None:
    """The lesson's school, and with it the school of what was recorded for it before it was
    placed (its reminder, a concern a pupil raised in its first minutes)."""
    lesson.school_id, lesson.placement, lesson.placement_reason = placed.school_id, placed.placement.value, placed.reason
    messages, concerns = (update(table).where(table.lesson_id == lesson.id, table.school_id.is_(None)).values(school_id=placed.school_id)
                          for table in (MessageRow, ConcernRow))
    if session.bind.dialect.name == "postgresql":
        # One round trip, not two: every lesson of a trust's 09:00 is placed as it starts.
        await session.execute(concerns.add_cte(messages.cte("placed_messages")))
    else:
        await session.execute(messages)
        await session.execute(concerns)


async def _observe_settings(session: AsyncSession, lesson: LessonRow, read: SettingsRead,
                            history: list[SettingsObservationRow] | None = None) -> None:
    """Keep a read of the settings on the lesson; a change is added to its settings history
    (`history`: that history, when the caller has read it)."""
    if read.observed_at is not None:
        lesson.settings_read_at = read.observed_at
    if read.settings is not None or lesson.meeting_settings is None:
        # A failed re-read keeps what was last known; the look-up says it failed.
        lesson.meeting_settings = read.settings.model_dump(mode="json") if read.settings else None
    lesson.settings_lookup = read.lookup.model_dump(mode="json")
    if read.settings is None or read.observed_at is None:
        return
    if history is not None:
        last = max(history, key=lambda o: (o.observed_at, o.id), default=None)
    else:
        stmt = (
            select(SettingsObservationRow)
            .where(SettingsObservationRow.lesson_id == lesson.id)
            .order_by(SettingsObservationRow.observed_at.desc(), SettingsObservationRow.id.desc())
            .limit(1)
        )
        last = (await session.execute(stmt)).scalar_one_or_none()
    seen = read.settings.model_dump(mode="json")
    if last is None or last.settings != seen:
        observed = SettingsObservationRow(lesson_id=lesson.id, observed_at=read.observed_at, settings=seen, source=read.source)
        session.add(observed)
        if history is not None:
            history.append(observed)
