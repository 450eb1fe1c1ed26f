"""Read queries for the tab: lessons in a date range (the whole school's, or one teacher's),
one lesson's record (cards, SLT actions, exceptions, concerns), the concerns register, and
the facts the annual review counts. Who may see what is decided by tab/access.py; the
`visible_to` filters here make a teacher's view a query, not a loop over everyone's lessons."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import selectinload

from domain.findings import Status, StoredFinding
from domain.lesson import Lesson, PersonClass
from domain.messages import AlertState, Message, MessageKind
from domain.records import AuditEntry, ConcernRecord, ConcernStatus, ReminderSent
from domain.school import ApprovedException, TimetableEntry

from .tables import (
    AlertStateRow,
    AttendanceRow,
    AupReminderRow,
    AuditRow,
    ConcernReviewRow,
    ConcernRow,
    ExceptionRow,
    FindingRow,
    LessonRow,
    MessageRow,
    SignatureRow,
    TimetableEntryRow,
)

# When a lesson happened, for date ranges: its actual start, else its scheduled start, else
# when Chaperone first heard of it (an end without a start).
LESSON_TIME = func.coalesce(LessonRow.actual_start, LessonRow.scheduled_start, LessonRow.created_at)
REGISTER = (selectinload(LessonRow.attendance), selectinload(LessonRow.settings_history))


def visible_to(aad_object_id: str):
    """Lessons a teacher may see: those they organised or attended as staff."""
    return or_(
        LessonRow.organizer_aad_id == aad_object_id,
        exists().where(AttendanceRow.lesson_id == LessonRow.id, AttendanceRow.aad_object_id == aad_object_id,
                       AttendanceRow.classification == PersonClass.staff.value),
    )


def in_range(start: datetime, end: datetime):
    return and_(LESSON_TIME >= start, LESSON_TIME < end)


class Records:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    # ---- lessons ----------------------------------------------------------------------

    async def lessons_page(self, start: datetime, end: datetime, *, viewer: str | None, after_id: int = 0,
                           limit: int = 200, open_too: bool = False) -> list[Lesson]:
        """Up to `limit` lessons in [start, end) with ids above `after_id`, oldest id first
        (keyset pages: a year of lessons is read a page at a time). `viewer`: only the
        lessons that teacher may see; None: the whole school. `open_too`: lessons still
        running are included whenever they started."""
        when = in_range(start, end)
        if open_too:
            when = or_(when, LessonRow.status == "open")
        stmt = select(LessonRow).options(*REGISTER).where(when, LessonRow.id > after_id).order_by(LessonRow.id).limit(limit)
        if viewer is not None:
            stmt = stmt.where(visible_to(viewer))
        async with self._sessions() as session:
            return [Lesson.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def lesson(self, lesson_id: int) -> Lesson | None:
        async with self._sessions() as session:
            row = (await session.execute(select(LessonRow).options(*REGISTER).where(LessonRow.id == lesson_id))).scalar_one_or_none()
            return Lesson.model_validate(row) if row else None

    async def may_see(self, lesson_id: int, aad_object_id: str) -> bool:
        async with self._sessions() as session:
            stmt = select(exists().where(LessonRow.id == lesson_id, visible_to(aad_object_id)))
            return bool((await session.execute(stmt)).scalar())

    async def findings(self, lesson_ids: list[int]) -> dict[int, list[StoredFinding]]:
        found: dict[int, list[StoredFinding]] = {i: [] for i in lesson_ids}
        if not lesson_ids:
            return found
        async with self._sessions() as session:
            stmt = select(FindingRow).where(FindingRow.lesson_id.in_(lesson_ids)).order_by(FindingRow.lesson_id, FindingRow.id)
            for row in (await session.execute(stmt)).scalars():
                found[row.lesson_id].append(StoredFinding.model_validate(row))
        return found

    async def is_staff(self, aad_object_id: str) -> bool:
        """Whether Chaperone knows this person as staff: they organised a lesson, attended one
        as staff, or signed the staff AUP. Pupils are none of these."""
        async with self._sessions() as session:
            stmt = select(or_(
                exists().where(LessonRow.organizer_aad_id == aad_object_id),
                exists().where(AttendanceRow.aad_object_id == aad_object_id, AttendanceRow.classification == PersonClass.staff.value),
                exists().where(SignatureRow.aad_object_id == aad_object_id),
            ))
            return bool((await session.execute(stmt)).scalar())

    async def organizers(self, viewer: str | None) -> list[tuple[str, str]]:
        """(Entra object id, name) of every lesson organizer, for the register's teacher filter."""
        stmt = (select(LessonRow.organizer_aad_id, func.max(LessonRow.organizer_name))
                .where(LessonRow.organizer_aad_id.is_not(None)).group_by(LessonRow.organizer_aad_id))
        if viewer is not None:
            stmt = stmt.where(visible_to(viewer))
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return sorted(((aad, name or aad) for aad, name in rows), key=lambda r: r[1].lower())

    async def timetable(self) -> list[TimetableEntry]:
        async with self._sessions() as session:
            return [TimetableEntry.model_validate(r) for r in (await session.execute(select(TimetableEntryRow))).scalars()]

    # ---- one lesson's record ------------------------------------------------------------

    async def messages(self, lesson_id: int) -> list[tuple[Message, AlertState | None]]:
        """The cards sent about the lesson, oldest first, each SLT alert with what SLT did."""
        async with self._sessions() as session:
            stmt = (select(MessageRow, AlertStateRow).outerjoin(AlertStateRow, AlertStateRow.alert_id == MessageRow.id)
                    .where(MessageRow.lesson_id == lesson_id, MessageRow.kind != MessageKind.concern.value)
                    .order_by(MessageRow.id))
            return [(Message.model_validate(m), AlertState.model_validate(s) if s else None) for m, s in (await session.execute(stmt)).all()]

    async def exceptions_for(self, lesson: Lesson) -> list[ApprovedException]:
        async with self._sessions() as session:
            stmt = select(ExceptionRow).where(or_(ExceptionRow.lesson_id == lesson.id, ExceptionRow.meeting_id == lesson.meeting_id)).order_by(ExceptionRow.id)
            return [ApprovedException.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def actions_on(self, targets: list[str]) -> list[AuditEntry]:
        """Audit entries about these targets ("message:12", "exception:3"), oldest first."""
        if not targets:
            return []
        async with self._sessions() as session:
            stmt = select(AuditRow).where(AuditRow.target.in_(targets)).order_by(AuditRow.at, AuditRow.id)
            return [AuditEntry.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    # ---- concerns -------------------------------------------------------------------------

    async def concerns(self, lesson_id: int | None = None) -> list[ConcernRecord]:
        stmt = (select(ConcernRow, ConcernReviewRow, LessonRow.title)
                .outerjoin(ConcernReviewRow, ConcernReviewRow.concern_id == ConcernRow.id)
                .outerjoin(LessonRow, LessonRow.id == ConcernRow.lesson_id)
                .order_by(ConcernRow.created_at.desc(), ConcernRow.id.desc()))
        if lesson_id is not None:
            stmt = stmt.where(ConcernRow.lesson_id == lesson_id)
        async with self._sessions() as session:
            return [concern_record(c, r, title) for c, r, title in (await session.execute(stmt)).all()]

    # ---- the review -------------------------------------------------------------------------

    async def alerts_between(self, start: datetime, end: datetime) -> list[tuple[Message, AlertState | None]]:
        async with self._sessions() as session:
            stmt = (select(MessageRow, AlertStateRow).outerjoin(AlertStateRow, AlertStateRow.alert_id == MessageRow.id)
                    .where(MessageRow.kind == MessageKind.slt_alert.value, MessageRow.created_at >= start, MessageRow.created_at < end)
                    .order_by(MessageRow.created_at, MessageRow.id))
            return [(Message.model_validate(m), AlertState.model_validate(s) if s else None) for m, s in (await session.execute(stmt)).all()]

    async def unverified_between(self, start: datetime, end: datetime) -> list[tuple[datetime, StoredFinding]]:
        """Each could-not-verify verdict of a lesson in [start, end), with when the lesson was."""
        async with self._sessions() as session:
            stmt = (select(LESSON_TIME, FindingRow).join(LessonRow, LessonRow.id == FindingRow.lesson_id)
                    .where(in_range(start, end), FindingRow.status == Status.could_not_verify.value)
                    .order_by(LESSON_TIME, FindingRow.id))
            return [(_aware(when), StoredFinding.model_validate(f)) for when, f in (await session.execute(stmt)).all()]

    async def lesson_times_between(self, start: datetime, end: datetime) -> list[datetime]:
        async with self._sessions() as session:
            return [_aware(t) for t in (await session.execute(select(LESSON_TIME).where(in_range(start, end)))).scalars()]

    async def reminders(self) -> list[ReminderSent]:
        async with self._sessions() as session:
            stmt = select(AupReminderRow).order_by(AupReminderRow.sent_at)
            return [ReminderSent.model_validate(r) for r in (await session.execute(stmt)).scalars()]


def concern_record(concern: ConcernRow, review: ConcernReviewRow | None, title: str | None) -> ConcernRecord:
    return ConcernRecord(
        id=concern.id, lesson_id=concern.lesson_id, lesson_title=title, reporter_aad_id=concern.reporter_aad_id,
        reporter_name=concern.reporter_name, text=concern.text, created_at=concern.created_at,
        status=ConcernStatus(review.status) if review else ConcernStatus.new,
        status_by=review.by_name or review.by_aad_id if review else None, status_at=review.at if review else None,
        note=review.note if review else None,
    )


def _aware(value) -> datetime:
    """COALESCE hands SQLite's stored text back untyped on some drivers: make it an aware UTC datetime."""
    from datetime import timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
