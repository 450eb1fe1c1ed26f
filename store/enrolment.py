"""What the enrolment sweeps did (one row per meeting on a member of staff's calendar), the
call records read, and the unmonitored sessions made from them.

An unmonitored session is a lesson row with origin `call-record`, closed, with the attendance
the call record gives (source `call-record`): the register shows it with the lessons it
followed live, and the rules judge it like any other, on the facts it has.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from domain.enrolment import CallRecord, Enrolment, EnrolmentStatus, LessonOrigin
from domain.lesson import AttendanceSource, DirectoryEntry, LessonStatus, PersonClass
from domain.lookups import Lookup
from domain.placement import SchoolPlacement

from .db import insert_for
from .tables import AttendanceRow, CallRecordRow, EnrolmentRow, LessonRow, utcnow

# A live lesson by the same organizer that overlaps a group call's record is that call.
OVERLAP_SLACK = timedelta(minutes=10)


def thread_of(join_url: str | None) -> str | None:
    """The meeting chat's thread id inside a Teams join URL (/l/meetup-join/<thread>/...)."""
    if not join_url:
        return None
    path = unquote(join_url).split("/l/meetup-join/", 1)
    return path[1].split("/", 1)[0] if len(path) == 2 else None


def _same_url(a: str | None, b: str | None) -> bool:
    return bool(a and b) and unquote(a).strip() == unquote(b).strip()


class EnrolmentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def record(self, enrolment: Enrolment) -> None:
        """Keep what was done about this meeting (the latest sweep's word on it)."""
        values = enrolment.model_dump(mode="python") | {"status": enrolment.status.value, "updated_at": utcnow()}
        async with self._sessions() as session, session.begin():
            insert = insert_for(session)
            stmt = insert(EnrolmentRow).values(**values)
            stmt = stmt.on_conflict_do_update(index_elements=["organizer_id", "event_id"],
                                              set_={k: v for k, v in values.items() if k not in ("organizer_id", "event_id")})
            await session.execute(stmt)

    async def get(self, organizer_id: str, event_id: str) -> Enrolment | None:
        async with self._sessions() as session:
            row = (await session.execute(select(EnrolmentRow).where(
                EnrolmentRow.organizer_id == organizer_id, EnrolmentRow.event_id == event_id))).scalar_one_or_none()
            return Enrolment.model_validate(row) if row else None

    async def between(self, start: datetime, end: datetime) -> list[Enrolment]:
        async with self._sessions() as session:
            stmt = select(EnrolmentRow).where(EnrolmentRow.start >= start, EnrolmentRow.start < end).order_by(EnrolmentRow.start)
            return [Enrolment.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    # ---- call records -------------------------------------------------------------------

    async def call_record_seen(self, record_id: str) -> bool:
        return await self.call_record_outcome(record_id) is not None

    async def call_record_outcome(self, record_id: str) -> tuple[str, int | None] | None:
        """What was made of a call record already read (its outcome and lesson), or None."""
        async with self._sessions() as session:
            row = await session.get(CallRecordRow, record_id)
            return (row.outcome, row.lesson_id) if row is not None else None

    async def note_call_record(self, record: CallRecord, outcome: str, lesson_id: int | None = None) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(CallRecordRow, record.id)
            if row is None:
                session.add(CallRecordRow(id=record.id, kind=record.kind.value, organizer_id=record.organizer_id, start=record.start,
                                          end=record.end, outcome=outcome, lesson_id=lesson_id, read_at=utcnow()))

    async def live_lesson_for(self, record: CallRecord) -> int | None:
        """The lesson Chaperone followed live that this call record is of, if any: by join URL,
        by meeting chat thread, or (a meeting, not a direct call) by organizer and time."""
        thread = thread_of(record.join_url)
        async with self._sessions() as session:
            near = [LessonRow.origin == LessonOrigin.live.value,
                    or_(LessonRow.actual_start.is_(None), LessonRow.actual_start <= record.end + OVERLAP_SLACK),
                    or_(LessonRow.actual_end.is_(None), LessonRow.actual_end >= record.start - OVERLAP_SLACK)]
            rows = (await session.execute(select(LessonRow).where(*near))).scalars().all()
        for row in rows:
            if _same_url(row.join_url, record.join_url) or (thread and row.conversation_id == thread):
                return row.id
        if record.join_url and record.organizer_id:
            # A meeting whose join URL the live lesson never learnt (Teams' details unread): the
            # same organizer, starting at about the same time. Two known, different URLs are two meetings.
            for row in rows:
                if (row.organizer_aad_id == record.organizer_id and row.join_url is None and row.actual_start is not None
                        and abs(row.actual_start - record.start) <= OVERLAP_SLACK):
                    return row.id
        return None

    async def add_unmonitored(self, record: CallRecord, title: str, classes: dict[str, DirectoryEntry], tenant_id: str | None,
                              why: Lookup, roster: Lookup, placed: SchoolPlacement) -> int:
        """The call record as a closed lesson with its attendance, kept under the school it was
        placed in; once per call record."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            seen = await session.get(CallRecordRow, record.id)
            if seen is not None and seen.lesson_id is not None:
                return seen.lesson_id
            not_live = why.model_dump(mode="json")
            lesson = LessonRow(
                meeting_id=f"callrecord:{record.id}"[:512], title=title, organizer_aad_id=record.organizer_id,
                organizer_name=record.organizer_name, join_url=record.join_url, tenant_id=tenant_id,
                meeting_type="PeerToPeer" if record.kind.value == "peerToPeer" else "CallRecord",
                scheduled_start=None, scheduled_end=None, actual_start=record.start, actual_end=record.end,
                status=LessonStatus.closed.value, start_event_missing=False, end_event_missing=False,
                details_lookup=not_live, settings_lookup=not_live, calendar_lookup=not_live, report_lookup=not_live,
                roster_lookup=roster.model_dump(mode="json"),
                origin=LessonOrigin.call_record.value, call_record_id=record.id, created_at=now, updated_at=now,
                school_id=placed.school_id, placement=placed.placement.value, placement_reason=placed.reason,
            )
            session.add(lesson)
            await session.flush()
            for index, person in enumerate(record.participants):
                key = person.aad_object_id or f"call:{index}"
                entry = classes.get(key)
                session.add(AttendanceRow(
                    lesson_id=lesson.id, person_id=person.aad_object_id or f"anonymous:{index}", aad_object_id=person.aad_object_id,
                    display_name=person.display_name, upn=entry.upn if entry else None, tenant_id=person.tenant_id,
                    meeting_role="Organizer" if person.aad_object_id and person.aad_object_id == record.organizer_id else "Attendee",
                    classification=(entry.classification if entry else PersonClass.unknown).value,
                    joined_at=person.joined_at or record.start, left_at=person.left_at or record.end,
                    source=AttendanceSource.call_record.value, note=None,
                ))
            if seen is None:
                session.add(CallRecordRow(id=record.id, kind=record.kind.value, organizer_id=record.organizer_id, start=record.start,
                                          end=record.end, outcome="unmonitored", lesson_id=lesson.id, read_at=now))
            else:
                seen.outcome, seen.lesson_id = "unmonitored", lesson.id
            return lesson.id


def failed_enrolments(enrolments: list[Enrolment]) -> list[Enrolment]:
    return [e for e in enrolments if e.status is EnrolmentStatus.failed]
